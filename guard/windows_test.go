package guard

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// A file embedded as one long base64 line is read in windows that start
// within the line: a key deep in it is found wherever the line starts, as
// it is when the line starts where the text does.
func TestAKeyDeepInALongBase64LineIsFound(t *testing.T) {
	s := mustScanner(t)
	filler := strings.Repeat("the quick brown fox jumps over the lazy dog\n", 5_000)
	raw := filler + "AWS_ACCESS_KEY_ID=AKIAZ7VRSQ4TLWXJ3KPD\n" + filler[:1_000]
	line := base64.StdEncoding.EncodeToString([]byte(raw))
	for _, before := range []string{"", "a", "ab", "abc"} {
		lines := []string{line}
		if before != "" {
			lines = []string{before, line}
		}
		if found := secrets(t, s, addition("blob.txt", lines...)); len(found) == 0 {
			t.Errorf("after a line of %q: no finding", before)
		}
	}
}

// A line too long for one window may hold an encoded file after a prefix,
// as a data: address or a string literal does: a key in it is found
// wherever the prefix ends it, early in the line or deep in it.
func TestAKeyInAnEncodedFileAfterAPrefixInALongLineIsFound(t *testing.T) {
	s := mustScanner(t)
	embedded := func(size, keyAt int) string {
		var b strings.Builder
		for b.Len() < size {
			fmt.Fprintf(&b, "# configuration line %d, to fill the embedded file\n", b.Len())
			if b.Len() > keyAt && !strings.Contains(b.String(), "AKIA") {
				b.WriteString("aws_access_key_id = AKIAZ7VRSQ4TLWXJ3KPD\n")
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"base64 after a data: prefix", []string{`export default "data:text/plain;base64,` + base64.StdEncoding.EncodeToString([]byte(embedded(200_000, 70_000))) + `";`}},
		{"base64 after a 3-byte prefix", []string{`x="` + base64.StdEncoding.EncodeToString([]byte(embedded(200_000, 70_000))) + `"`}},
		{"hex after a 3-byte prefix", []string{`k="` + hex.EncodeToString([]byte(embedded(100_000, 35_000))) + `"`}},
		{"base64 filling a line after a short one, the key early", []string{"ab", base64.StdEncoding.EncodeToString([]byte(embedded(200_000, 20_000)))}},
	} {
		if found := secrets(t, s, addition("bundle.js", tc.lines...)); len(found) == 0 {
			t.Errorf("%s: no finding", tc.name)
		}
	}
}
