package config

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeFile sets what the YAML document in data says over app. It walks
// the document against App before decoding, so that every problem is
// reported at once, each on its line.
func decodeFile(path string, data []byte, app *App) error {
	prefix := "config " + path
	doc, second, err := oneDocument(prefix, data)
	switch {
	case err != nil:
		return err
	case second > 0:
		return fmt.Errorf("%s: holds more than one YAML document", prefix)
	case doc == nil:
		return nil // an empty file sets nothing
	}
	w := newWalker(prefix)
	w.walk(doc, reflect.TypeFor[App](), "")
	if err := w.err(); err != nil {
		return err
	}
	if err := doc.Decode(app); err != nil {
		// The walk found nothing wrong, so this is a case it does not know.
		return yamlError(prefix, data, err)
	}
	return nil
}

// walker checks a YAML document against the type it decodes into, before
// it is decoded, because the yaml package's strict mode names neither the
// path of an unknown key nor the setting a bad value was meant for ("field
// listn not found in type config.Server"), and stops at the first wrong
// value. It reports, by line and key, every key the type has no field
// for, every key given twice and every value that does not decode into
// its field. It also remembers the line of every key, so that a value
// found invalid after decoding can be reported on its line.
type walker struct {
	prefix   string         // starts every message, naming the file
	lines    map[string]int // by key: "fix_rounds", "verify[1].run"
	bad      map[string]bool
	problems []fileProblem
	visits   int // values walked, aliases' counted each time
	bytes    int // the text of the scalars walked, counted the same way
}

// maxVisits bounds the values a file may expand to. Aliases are followed
// where they are used, so a few lines of anchors, each merging the one
// before ten times, would take the walk hours: a repository's file is in
// anyone's hands who can push to its default branch.
const maxVisits = 10_000

// maxExpandedBytes bounds the text a file may expand to: a long value
// repeated through aliases stays under maxVisits and still makes
// megabytes of commands out of kilobytes.
const maxExpandedBytes = 1 << 20

// expanded says whether the walk stopped at maxVisits or maxExpandedBytes.
func (w *walker) expanded() bool { return w.visits > maxVisits || w.bytes > maxExpandedBytes }

// maxProblems is how many problems an error lists.
const maxProblems = 50

type fileProblem struct {
	line int
	msg  string
}

func newWalker(prefix string) *walker {
	return &walker{prefix: prefix, lines: map[string]int{}, bad: map[string]bool{}}
}

// walk checks n, meant for a value of type t at key, "" for the file.
func (w *walker) walk(n *yaml.Node, t reflect.Type, key string) {
	if w.visits++; w.visits == maxVisits+1 {
		w.add(n.Line, key, fmt.Sprintf("the file expands to more than %d values through its aliases", maxVisits))
	}
	if w.expanded() {
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			w.walk(n.Content[0], t, key)
		}
		return
	}
	// A value's problem is said on the line of its key: an alias's, not
	// the anchor's, whose value may be right where it stands.
	line := n.Line
	aliased := n.Kind == yaml.AliasNode
	if aliased {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		if w.bytes += len(n.Value); w.bytes > maxExpandedBytes {
			w.add(n.Line, key, fmt.Sprintf("the file expands to more than %d MB of text through its aliases", maxExpandedBytes>>20))
			return
		}
	}
	switch {
	case isNull(n):
		return // null leaves the default
	case t == reflect.TypeFor[Check]() && n.Kind == yaml.ScalarNode:
		return // the command alone
	case t == reflect.TypeFor[Check]() && n.Kind != yaml.MappingNode:
		w.wrongKind(n, line, key, fmt.Sprintf("%s is %s, not a command or a mapping of name and run", key, describeNode(n)))
	case t.Kind() == reflect.Struct && n.Kind != yaml.MappingNode:
		w.wrongKind(n, line, key, fmt.Sprintf("%s is %s, not a mapping", describePath(key), describeNode(n)))
	case t.Kind() == reflect.Struct:
		w.mapping(n, t, key)
	case t == reflect.TypeFor[List]() && n.Kind == yaml.SequenceNode:
		w.walk(n, reflect.TypeFor[[]string](), key) // each item is checked as a string
	case t.Kind() == reflect.Slice && n.Kind != yaml.SequenceNode:
		w.wrongKind(n, line, key, fmt.Sprintf("%s is %s, not a list", key, describeNode(n)))
	case t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			k := index(key, i)
			// As in a mapping: a list merged in after one set here
			// leaves the line it has here.
			if _, set := w.lines[k]; !set {
				w.lines[k] = item.Line
			}
			if isNull(item) {
				// The yaml package would drop it without a word.
				w.undecodable(item.Line, k, k+" is empty")
				continue
			}
			w.walk(item, t.Elem(), k)
		}
	case n.Kind != yaml.ScalarNode:
		w.wrongKind(n, line, key, fmt.Sprintf("%s is %s, not %s", key, describeNode(n), describeType(t)))
	default:
		if t == reflect.TypeFor[time.Duration]() && !aliased && n.ShortTag() == "!!int" && n.Value == "0" {
			// The yaml package takes durations from text only, and 0,
			// which the docs and the errors advise, is no text to it.
			n.Tag, n.Value = "!!str", "0s"
		}
		if msg := valueProblem(n, t, key); msg != "" {
			w.undecodable(line, key, msg)
		}
	}
}

// mapping checks the keys of n against struct t, then drops those whose
// value is null, "<<" among them: the yaml package would set a list to nil
// for them and refuse to merge null, where null keeps the default. It
// drops the keys it reported too: the yaml package compares every key of
// a mapping with every other and keeps an error for each pair alike, so a
// file of one key repeated ten thousand times would take it minutes and
// gigabytes.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, key string) {
	fields := yamlFields(t)
	seen := map[string]int{}
	var merges []*yaml.Node
	drop := map[int]bool{} // by the key's index in n.Content
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, value := n.Content[i], n.Content[i+1]
		// A merge as the yaml package takes one: "<<", untagged or
		// tagged !!merge, and nothing else tagged so.
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, value)
			continue
		}
		f, ok := fields[k.Value]
		sub := join(key, k.Value)
		switch {
		case k.Kind == yaml.AliasNode:
			// Read by its anchor's name here and by its value in the
			// decoding: a setting could hide behind another's name.
			w.add(k.Line, key, fmt.Sprintf("a key%s is an alias (*%s), not a name", inPath(key), k.Value))
			drop[i] = true
		case k.Kind != yaml.ScalarNode:
			w.add(k.Line, key, fmt.Sprintf("a key%s is %s, not a name", inPath(key), describeNode(k)))
			drop[i] = true
		case k.Style&yaml.TaggedStyle != 0:
			// As "!!merge x", which is no merge to the decoding, and no
			// setting either.
			w.add(k.Line, sub, fmt.Sprintf("key %q%s is tagged %s: a key is a plain name", k.Value, inPath(key), k.Tag))
			drop[i] = true
		case !ok:
			w.add(k.Line, sub, fmt.Sprintf("unknown key %q%s (known: %s)", k.Value, inPath(key), strings.Join(fieldNames(t), ", ")))
			drop[i] = true
		case seen[k.Value] != 0:
			w.add(k.Line, sub, fmt.Sprintf("key %q%s is already set on line %d", k.Value, inPath(key), seen[k.Value]))
			drop[i] = true
		default:
			seen[k.Value] = k.Line
			// Merges are walked after the keys set here, which win
			// over them: a key a merge brings in again keeps the line
			// it has here.
			if _, set := w.lines[sub]; !set {
				w.lines[sub] = k.Line
			}
			w.walk(value, f.Type, sub)
		}
	}
	for _, m := range merges {
		w.merge(m, t, key)
	}
	if len(merges) > 0 {
		// Dropped as below, an empty key would let the merge set what
		// it was written here to keep at its default.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !drop[i] && k.Value != "<<" && isNull(n.Content[i+1]) {
				w.add(k.Line, join(key, k.Value), fmt.Sprintf("%s is empty beside a merge (<<), which would set it: give it a value, or leave it out", join(key, k.Value)))
			}
		}
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !drop[i] && !isNull(n.Content[i+1]) {
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = kept
}

// merge checks what a "<<" key merges in: a mapping or a list of them.
func (w *walker) merge(n *yaml.Node, t reflect.Type, key string) {
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

// wrongKind records a mapping or a list where a value of another kind
// belongs, and empties it, so that the decoding after the walk, which
// goes on to find what is wrong elsewhere, does not read it: the yaml
// package compares every key of a mapping with every other, and keeps an
// error for each pair alike, so a few kilobytes of one key repeated would
// take it seconds and gigabytes, and as long again for each alias of it.
func (w *walker) wrongKind(n *yaml.Node, line int, key, msg string) {
	w.undecodable(line, key, msg)
	n.Content = nil
}

// add records a problem with key, which validation then leaves unsaid.
func (w *walker) add(line int, key, msg string) {
	w.problems = append(w.problems, fileProblem{line, msg})
	w.bad[key] = true
}

// undecodable records a value that cannot be decoded. In a list it also
// marks the whole list, because the yaml package drops an item it cannot
// decode and so shifts the ones after it: validating them by index would
// misname them.
func (w *walker) undecodable(line int, key, msg string) {
	w.add(line, key, msg)
	if list, _, ok := strings.Cut(key, "["); ok {
		w.bad[list] = true
	}
}

// reported reports whether the walk found a problem with key or with a
// setting holding it.
func (w *walker) reported(key string) bool {
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
func (w *walker) lineOf(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if line, ok := w.lines[k]; ok {
			return line
		}
	}
	return 0
}

// err joins the problems in the order of their lines, to read like the
// file, each after the prefix and its line.
// Past maxProblems, the rest are counted: no one reads thousands.
func (w *walker) err() error {
	slices.SortStableFunc(w.problems, func(a, b fileProblem) int { return cmp.Compare(a.line, b.line) })
	shown := w.problems[:min(len(w.problems), maxProblems)]
	errs := make([]error, 0, len(shown)+1)
	for _, p := range shown {
		if p.line == 0 {
			errs = append(errs, fmt.Errorf("%s: %s", w.prefix, p.msg))
		} else {
			errs = append(errs, fmt.Errorf("%s: line %d: %s", w.prefix, p.line, p.msg))
		}
	}
	if more := len(w.problems) - len(shown); more > 0 {
		errs = append(errs, fmt.Errorf("%s: and %d more problems", w.prefix, more))
	}
	return errors.Join(errs...)
}

// valueProblem decodes n into a fresh value of type t, the way the final
// decode will, and says what was expected if that fails, or returns "".
// It never quotes the value: a secret put under the wrong key, or reached
// through an alias, would be shown to whoever reads the error.
func valueProblem(n *yaml.Node, t reflect.Type, key string) string {
	if n.Decode(reflect.New(t).Interface()) == nil && !isFraction(n, t) && !isLooseBool(n, t) {
		return ""
	}
	want := describeType(t)
	if n.Kind != yaml.ScalarNode {
		return fmt.Sprintf("%s is %s, not %s", key, describeNode(n), want)
	}
	return fmt.Sprintf("%s is not %s", key, want)
}

// isLooseBool reports a boolean written other than true or false: the
// yaml package takes yes, on and even "yes" in quotes for true, where the
// environment's variables take only true and false, and a setting such as
// who gets the agent's secrets should read the same in both.
func isLooseBool(n *yaml.Node, t reflect.Type) bool {
	if t.Kind() != reflect.Bool || n.Kind != yaml.ScalarNode {
		return false
	}
	return n.ShortTag() != "!!bool" || (n.Value != "true" && n.Value != "false")
}

// isFraction reports a number with a fraction given for a whole number,
// which the yaml package would silently truncate: concurrency 1.5 is 1.
func isFraction(n *yaml.Node, t reflect.Type) bool {
	if t.Kind() < reflect.Int || t.Kind() > reflect.Int64 {
		return false
	}
	var v any
	_ = n.Decode(&v)
	_, ok := v.(float64)
	return ok
}

func describeType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 30s or 1h"
	case t == reflect.TypeFor[List]():
		return "a list of strings, or one string of them comma-separated"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a string"
	}
	return "a " + t.String()
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a single value"
}

func describePath(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

func inPath(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }

// parentKey is the key holding key: "verify" for "verify[1]", "verify[1]"
// for "verify[1].run", "" for a top-level key.
func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

func isNull(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// yamlFields maps the YAML keys of struct type t to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for f := range t.Fields() {
		if name := yamlName(f); name != "" {
			fields[name] = f
		}
	}
	return fields
}

// fieldNames lists the YAML keys of struct type t in declaration order.
func fieldNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if name := yamlName(f); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// yamlName is the key the yaml package decodes into f, or "" for none.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name)
	}
	return name
}
