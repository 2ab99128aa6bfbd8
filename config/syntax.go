package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Reading a YAML file's text: one document, and its syntax errors put on
// the lines where they are. What the document says is checked by the
// walker (file.go).

// oneDocument reads the YAML document in data, nil for none, and the line
// of a later document that holds something, or 0: only the first would
// count and the rest be silently ignored, so the caller refuses it. A
// syntax error is reported after prefix, which names the file.
func oneDocument(prefix string, data []byte) (doc *yaml.Node, second int, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if err := dec.Decode(&first); errors.Is(err, io.EOF) {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, yamlError(prefix, data, err)
	}
	// Every document after it is read: an empty one ("---" then
	// nothing) must not hide a third.
	for {
		var more yaml.Node
		switch err := dec.Decode(&more); {
		case errors.Is(err, io.EOF):
			return &first, 0, nil
		case err != nil:
			return nil, 0, yamlError(prefix, data, err)
		case len(more.Content) > 0 && more.Content[0].ShortTag() != "!!null":
			return &first, more.Line, nil
		}
	}
}

// yamlError is an error of the yaml package reading data, after prefix,
// without the package's own "yaml: " prefix.
//
// A syntax error is put on the line where it is. The package names that
// line for an error found scanning, but for one found parsing it names the
// line before the block or list the error is in starts ("did not find
// expected key" for a key indented too little is put on the line before the
// block's first key), and none on the first line. The line is found as the
// first, from the one named, that the text cut after it fails on in the same
// words.
func yamlError(prefix string, data []byte, err error) error {
	if typeErr := (*yaml.TypeError)(nil); errors.As(err, &typeErr) {
		return fmt.Errorf("%s: %s", prefix, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	line, msg := yamlMessage(err)
	if at := failingLine(data, line, msg); at > 0 {
		line = at
	}
	if aliasMistaken(data, line, msg) {
		msg += `; a value that starts with * is read as an alias: quote it, as in "*.npmjs.org"`
	}
	if line == 0 {
		return fmt.Errorf("%s: %s", prefix, msg)
	}
	return fmt.Errorf("%s: line %d: %s", prefix, line, msg)
}

// aliasMistaken says whether a syntax error, msg on line, is most likely a
// host pattern such as *.npmjs.org written without quotes, which YAML
// reads as an alias (*name) that is no name or names no anchor.
func aliasMistaken(data []byte, line int, msg string) bool {
	if msg != "did not find expected alphabetic or numeric character" && !strings.HasPrefix(msg, "unknown anchor") {
		return false
	}
	lines := bytes.Split(data, []byte("\n"))
	return line >= 1 && line <= len(lines) && bytes.Contains(lines[line-1], []byte("*"))
}

// yamlMessage splits a syntax error of the yaml package into the line it
// names, 0 for none, and its words.
func yamlMessage(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, words, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return line, words
			}
		}
	}
	return 0, msg
}

// failingLine is the first line from the line named, counted from 1, that
// data cut after it fails on with msg; 0 when none within maxErrorSearch
// lines does.
func failingLine(data []byte, named int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	from := max(named, 1)
	for n := from; n <= len(lines) && n < from+maxErrorSearch; n++ {
		if err := parses(bytes.Join(lines[:n], nil)); err != nil {
			if _, words := yamlMessage(err); words == msg {
				return n
			}
		}
	}
	return 0
}

// maxErrorSearch bounds the lines failingLine tries: each is a parse of the
// text up to it.
const maxErrorSearch = 500

// parses reads every YAML document in data, and returns the first syntax
// error.
func parses(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}
