package config

import (
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// MaxRepoFileSize is the largest .github/oneshot.yml read; a real one is a
// few hundred bytes.
const MaxRepoFileSize = 64 << 10

// TooLarge is the error of a settings file, name, of size bytes, more
// than MaxRepoFileSize.
func TooLarge(name string, size int64) error {
	return fmt.Errorf("%s: %d bytes; it may take at most %d (64 KB)", name, size, MaxRepoFileSize)
}

// ParseRepo reads a repository's .github/oneshot.yml over DefaultRepo. It
// is strict: an unknown key, a value of the wrong type and an invalid value
// are all errors, every one reported at once, one a line, each naming its
// line and key. A key with no value keeps its default; an empty file is
// the defaults. A check without a name is named after its command.
func ParseRepo(data []byte) (Repo, error) { return ParseRepoFile(RepoPath, data) }

// ParseRepoFile is ParseRepo for settings read from another file, which
// its messages name.
func ParseRepoFile(name string, data []byte) (Repo, error) {
	repo := DefaultRepo()
	if len(data) > MaxRepoFileSize {
		return repo, TooLarge(name, int64(len(data)))
	}
	doc, second, err := oneDocument(name, data)
	switch {
	case err != nil:
		return repo, err
	case second > 0:
		return repo, fmt.Errorf("%s: line %d: another YAML document; the file holds one", name, second)
	case doc == nil:
		return repo, nil
	}
	w := newWalker(name)
	w.walk(doc, reflect.TypeFor[Repo](), "")
	if w.expanded() {
		return Repo{}, w.err() // decoding would expand it again
	}
	if err := doc.Decode(&repo); err != nil && len(w.problems) == 0 {
		// The walk found nothing wrong, so this is a case it does not know.
		return Repo{}, yamlError(name, data, err)
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
