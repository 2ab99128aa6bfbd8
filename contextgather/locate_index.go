package contextgather

import (
	"bytes"
	"context"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"
)

// doc is one candidate file, indexed for one issue: of its terms and
// symbols it keeps only the issue's, since no others are scored.
type doc struct {
	path      string
	pathTerms map[string]bool
	tf        map[string]int  // how often each of the terms occurs
	length    int             // how many terms the file has, the or not
	passages  []passage       // the file in runs of passageTerms terms
	defs      map[string]bool // the identifiers the file defines
	content   []byte
	prior     float64 // how likely fixes land in this kind of file
}

// readDocs reads the candidate files and indexes them for the issue.
// Indexing is most of the locator's time, so the walk hands the files to
// one indexer per processor, up to maxIndexers; each fills in the doc the
// walk appended, so the order is the walk's whatever the indexers' speeds.
func readDocs(ctx context.Context, fsys fs.FS, c clues) ([]*doc, error) {
	files := make(chan *doc, 64)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), maxIndexers) {
		wg.Go(func() {
			x := newIndexer(c)
			for d := range files {
				if ctx.Err() == nil {
					x.index(d)
				}
			}
		})
	}
	var docs []*doc
	err := walkSources(ctx, fsys, func(p string, data []byte) bool {
		docs = append(docs, &doc{path: p, content: data})
		files <- docs[len(docs)-1]
		return len(docs) < maxFiles
	})
	close(files)
	wg.Wait()
	if err == nil {
		err = ctx.Err() // the walk may have ended before the indexers saw ctx done
	}
	if err != nil {
		return nil, err
	}
	return docs, nil
}

// walkSources calls found with the path and contents of each file Locate
// reads, in path order, until found returns false: a regular file named
// as source (sourceExt), outside the directories never entered, of at most
// maxFileSize and with no NUL byte in its first 8,000. It stops with
// ctx's error when ctx is done.
func walkSources(ctx context.Context, fsys fs.FS, found func(p string, data []byte) bool) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return nil // an unreadable corner is skipped, not fatal
		}
		if d.IsDir() {
			if p != "." && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return fs.SkipDir
			}
			return nil
		}
		// Regular files only: a link's size is not its target's, and
		// opening a pipe waits for a writer.
		if !d.Type().IsRegular() || !sourceExt[strings.ToLower(path.Ext(p))] {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > maxFileSize {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil || bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			return nil
		}
		if !found(p, data) {
			return fs.SkipAll
		}
		return nil
	})
}

// HasSourceFiles says whether fsys holds a file Locate reads. When Locate
// ranks none, it tells an issue that points at nothing from a checkout
// with nothing to rank: a language whose files it does not read, or the
// wrong directory.
func HasSourceFiles(ctx context.Context, fsys fs.FS) (bool, error) {
	some := false
	err := walkSources(ctx, fsys, func(string, []byte) bool {
		some = true
		return false
	})
	return some, err
}

// Bounds of the indexers' memory on a huge checkout: each remembers the
// terms of up to maxRemembered distinct tokens (sympy has about 100,000),
// some tens of megabytes, and a large machine runs no more than
// maxIndexers, which the walk could hardly keep busy anyway.
const (
	maxRemembered = 1 << 18
	maxIndexers   = 8
)

// indexer indexes files for one issue. It works out a token's terms once,
// not at each of its uses: a project's names recur in file after file.
type indexer struct {
	c      clues
	tokens map[string]tokenTerms
}

// tokenTerms are what indexing needs of a token's terms.
type tokenTerms struct {
	count int      // how many it has
	asked []string // those the issue has, repeated as terms repeats them
}

func newIndexer(c clues) *indexer {
	return &indexer{c: c, tokens: map[string]tokenTerms{}}
}

// index fills in the index of d, which has its path and content.
func (x *indexer) index(d *doc) {
	d.tf, d.defs, d.pathTerms, d.prior = map[string]int{}, map[string]bool{}, map[string]bool{}, prior(d.path)
	var p passage
	eachIdentifier(d.content, func(tok []byte) {
		tt := x.terms(tok)
		d.length += tt.count
		p.length += tt.count
		for _, t := range tt.asked {
			d.tf[t]++
			p.add(t)
		}
		if p.length >= passageTerms {
			d.passages = append(d.passages, p)
			p = passage{}
		}
	})
	switch last := len(d.passages) - 1; {
	case p.length == 0:
	case last >= 0 && p.length < passageTerms/2:
		// A file's few last terms join the passage before them: scored
		// alone, so short a passage would outscore any function-sized one
		// for a single word.
		d.passages[last].merge(p)
	default:
		d.passages = append(d.passages, p)
	}
	eachDefinition(d.content, func(name []byte) {
		if x.c.identifiers[string(name)] {
			d.defs[string(name)] = true
		}
	})
	stem := strings.TrimSuffix(d.path, path.Ext(d.path))
	for _, seg := range strings.Split(stem, "/") {
		for _, t := range terms(seg) {
			d.pathTerms[t] = true
		}
	}
}

// passageTerms is how many terms a passage has, some tens of lines of
// code: about one function.
const passageTerms = 400

// passage is a run of a file's terms, indexed as the file is: of its
// terms it keeps counts of the only.
type passage struct {
	tf     map[string]int // nil while it has none of the terms
	length int
}

func (p *passage) merge(q passage) {
	p.length += q.length
	for t, n := range q.tf {
		if p.tf == nil {
			p.tf = map[string]int{}
		}
		p.tf[t] += n
	}
}

func (p *passage) add(term string) {
	if p.tf == nil {
		p.tf = map[string]int{}
	}
	p.tf[term]++
}

// terms are a token's terms, as the terms function has them.
func (x *indexer) terms(tok []byte) tokenTerms {
	if tt, ok := x.tokens[string(tok)]; ok {
		return tt
	}
	all := terms(string(tok))
	tt := tokenTerms{count: len(all)}
	for _, t := range all {
		if _, ok := x.c.words[t]; ok {
			tt.asked = append(tt.asked, t)
		}
	}
	if len(x.tokens) < maxRemembered {
		x.tokens[string(tok)] = tt
	}
	return tt
}
