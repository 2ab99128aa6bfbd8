package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseRepo reads a repository's .github/oneshot.yml over DefaultRepo. It
// is strict: an unknown key, a value of the wrong type and an invalid value
// are all errors, every one reported at once, one a line, each naming its
// line and key. A key with no value keeps its default; an empty file is
// the defaults. A check without a name is named after its command.
func ParseRepo(data []byte) (Repo, error) {
	repo := DefaultRepo()
	doc, err := repoDocument(data)
	if err != nil || doc == nil {
		return repo, err
	}
	w := repoWalk{lines: map[string]int{}, bad: map[string]bool{}}
	w.walk(doc, reflect.TypeFor[Repo](), "")
	if err := doc.Decode(&repo); err != nil && len(w.problems) == 0 {
		// The walk found nothing wrong, so this is a case it does not know.
		return Repo{}, fmt.Errorf("%s: %s", RepoPath, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	for i, c := range repo.Verify {
		if c.Name == "" {
			repo.Verify[i].Name = checkName(c.Run)
		}
	}
	repo.validate(func(key, format string, args ...any) {
		if !w.reported(key) {
			w.add(w.lineOf(key), key, key+" "+fmt.Sprintf(format, args...))
		}
	})
	if err := w.err(); err != nil {
		return Repo{}, err
	}
	return repo, nil
}

// UnmarshalYAML reads a check written as its command alone, or as a
// mapping of name and run.
func (c *Check) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = Check{Run: n.Value}
		return nil
	}
	type plain Check // without this method, to decode the mapping
	return n.Decode((*plain)(c))
}

// repoDocument is the one YAML document in data, or nil for none.
func repoDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("%s: %s", RepoPath, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("%s: %s", RepoPath, strings.TrimPrefix(err.Error(), "yaml: "))
	case len(more.Content) > 0 && more.Content[0].ShortTag() != "!!null":
		// Only the first would count, and the rest be silently ignored.
		return nil, fmt.Errorf("%s: line %d: a second YAML document; the file holds one", RepoPath, more.Line)
	}
	return &doc, nil
}

// repoWalk checks a repository's file against Repo before it is decoded,
// as check does for the bot's own file, and also walks lists (a check is a
// mapping in a list) and remembers the line of every key, so that a value
// found invalid after decoding is reported on its line.
type repoWalk struct {
	lines    map[string]int // by key: "fix_rounds", "verify[1].run"
	bad      map[string]bool
	problems []repoProblem
}

type repoProblem struct {
	line int
	msg  string
}

func (w *repoWalk) walk(n *yaml.Node, t reflect.Type, key string) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			w.walk(n.Content[0], t, key)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case isNull(n):
		return
	case t == reflect.TypeFor[Check]() && n.Kind == yaml.ScalarNode:
		return // the command alone
	case t == reflect.TypeFor[Check]() && n.Kind != yaml.MappingNode:
		w.undecodable(n.Line, key, fmt.Sprintf("%s is %s, not a command or a mapping of name and run", key, describeNode(n)))
	case t.Kind() == reflect.Struct && n.Kind != yaml.MappingNode:
		w.undecodable(n.Line, key, fmt.Sprintf("%s is %s, not a mapping", describePath(key), describeNode(n)))
	case t.Kind() == reflect.Struct:
		w.mapping(n, t, key)
	case t.Kind() == reflect.Slice && n.Kind != yaml.SequenceNode:
		w.undecodable(n.Line, key, fmt.Sprintf("%s is %s, not a list", key, describeNode(n)))
	case t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			k := index(key, i)
			w.lines[k] = item.Line
			if isNull(item) {
				// The yaml package would drop it without a word.
				w.undecodable(item.Line, k, k+" is empty")
				continue
			}
			w.walk(item, t.Elem(), k)
		}
	default:
		w.value(n, t, key)
	}
}

// mapping checks the keys of n against struct t, then drops those whose
// value is null: the yaml package would set a list to nil for them, and
// null keeps the default here, as it does in the bot's own file.
func (w *repoWalk) mapping(n *yaml.Node, t reflect.Type, key string) {
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, value := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			w.merge(value, t, key)
			continue
		}
		f, ok := fields[k.Value]
		sub := join(key, k.Value)
		switch {
		case !ok:
			w.add(k.Line, sub, fmt.Sprintf("unknown key %q%s (known: %s)", k.Value, inPath(key), strings.Join(fieldNames(t), ", ")))
		case seen[k.Value] != 0:
			w.add(k.Line, sub, fmt.Sprintf("key %q%s is already set on line %d", k.Value, inPath(key), seen[k.Value]))
		default:
			seen[k.Value] = k.Line
			w.lines[sub] = k.Line
			w.walk(value, f.Type, sub)
		}
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isNull(n.Content[i+1]) {
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = kept
}

// merge checks what a "<<" key merges in: a mapping or a list of them.
func (w *repoWalk) merge(n *yaml.Node, t reflect.Type, key string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		w.walk(n, t, key)
		return
	}
	for _, m := range n.Content {
		w.walk(m, t, key)
	}
}

// value checks a scalar setting, in the words check uses for the bot's
// file, with the two kinds that file does not have.
func (w *repoWalk) value(n *yaml.Node, t reflect.Type, key string) {
	var want string
	switch t.Kind() {
	case reflect.Bool:
		want = "true or false"
	case reflect.Float64:
		want = "a number"
	default:
		checkValue(n, t, key, func(line int, format string, args ...any) {
			w.undecodable(line, key, fmt.Sprintf(format, args...))
		})
		return
	}
	switch {
	case n.Decode(reflect.New(t).Interface()) == nil:
	case n.Kind != yaml.ScalarNode:
		w.undecodable(n.Line, key, fmt.Sprintf("%s is %s, not %s", key, describeNode(n), want))
	default:
		w.undecodable(n.Line, key, fmt.Sprintf("%s %q is not %s", key, n.Value, want))
	}
}

// add records a problem with key, which validation then leaves unsaid.
func (w *repoWalk) add(line int, key, msg string) {
	w.problems = append(w.problems, repoProblem{line, msg})
	w.bad[key] = true
}

// undecodable records a value that cannot be decoded. In a list it also
// marks the whole list, because the yaml package drops an item it cannot
// decode and so shifts the ones after it: validating them by index would
// misname them.
func (w *repoWalk) undecodable(line int, key, msg string) {
	w.add(line, key, msg)
	if list, _, ok := strings.Cut(key, "["); ok {
		w.bad[list] = true
	}
}

// reported reports whether the walk found a problem with key or with a
// setting holding it.
func (w *repoWalk) reported(key string) bool {
	for k := key; k != ""; k = parentKey(k) {
		if w.bad[k] {
			return true
		}
	}
	return false
}

// lineOf is the line of key, or of the nearest setting holding it that the
// file sets: a check's name that the file leaves out is reported on the
// check's line. It is 0 for a key the file does not set at all.
func (w *repoWalk) lineOf(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if line, ok := w.lines[k]; ok {
			return line
		}
	}
	return 0
}

// err joins the problems in the order of their lines, to read like the file.
func (w *repoWalk) err() error {
	slices.SortStableFunc(w.problems, func(a, b repoProblem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, 0, len(w.problems))
	for _, p := range w.problems {
		if p.line == 0 {
			errs = append(errs, fmt.Errorf("%s: %s", RepoPath, p.msg))
		} else {
			errs = append(errs, fmt.Errorf("%s: line %d: %s", RepoPath, p.line, p.msg))
		}
	}
	return errors.Join(errs...)
}

// parentKey is the key holding key: "verify" for "verify[1]", "verify[1]"
// for "verify[1].run", "" for a top-level key.
func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

func index(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }

func isNull(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}
