package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeFile sets what the YAML document in data says over app. It walks
// the document against App itself before decoding, because the yaml
// package's strict mode names neither the path of an unknown key nor the
// setting a bad value was meant for ("field listn not found in type
// config.Server"), and stops at the first wrong value.
func decodeFile(path string, data []byte, app *App) error {
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config %s: line %d: %s", path, line, fmt.Sprintf(format, args...)))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil // an empty file sets nothing
	} else if err != nil {
		return fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	case len(more.Content) > 0 && more.Content[0].ShortTag() != "!!null":
		// Only the first would count, and the rest be silently ignored.
		return fmt.Errorf("config %s: holds more than one YAML document", path)
	}
	check(&doc, reflect.TypeFor[App](), "", bad)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := doc.Decode(app); err != nil {
		// check found nothing wrong, so this is a case it does not know.
		return fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// check reports, by line and dotted path, every key n holds that t has no
// field for, every key given twice, and every value that does not decode
// into its field.
func check(n *yaml.Node, t reflect.Type, path string, bad func(int, string, ...any)) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			check(n.Content[0], t, path, bad)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null leaves the default
	}
	if t.Kind() != reflect.Struct {
		checkValue(n, t, path, bad)
		return
	}
	if n.Kind != yaml.MappingNode {
		bad(n.Line, "%s is %s, not a mapping", describePath(path), describeNode(n))
		return
	}
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			checkMerge(value, t, path, bad)
			continue
		}
		f, ok := fields[key.Value]
		switch {
		case !ok:
			bad(key.Line, "unknown key %q%s (known: %s)", key.Value, inPath(path), strings.Join(fieldNames(t), ", "))
		case seen[key.Value] != 0:
			bad(key.Line, "key %q%s is already set on line %d", key.Value, inPath(path), seen[key.Value])
		default:
			seen[key.Value] = key.Line
			check(value, f.Type, join(path, key.Value), bad)
		}
	}
}

// checkMerge checks what a "<<" key merges in: a mapping or a list of them.
func checkMerge(n *yaml.Node, t reflect.Type, path string, bad func(int, string, ...any)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		check(n, t, path, bad)
		return
	}
	for _, m := range n.Content {
		check(m, t, path, bad)
	}
}

// checkValue decodes n into a fresh value of type t, the way the final
// decode will, and says what was expected if it fails. It never quotes a
// value meant for a string: that may be a secret.
func checkValue(n *yaml.Node, t reflect.Type, path string, bad func(int, string, ...any)) {
	if n.Decode(reflect.New(t).Interface()) == nil && !isFraction(n, t) {
		return
	}
	want := describeType(t)
	switch {
	case n.Kind != yaml.ScalarNode:
		bad(n.Line, "%s is %s, not %s", path, describeNode(n), want)
	case t.Kind() == reflect.String:
		bad(n.Line, "%s is not %s", path, want)
	default:
		bad(n.Line, "%s %q is not %s", path, n.Value, want)
	}
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
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
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
