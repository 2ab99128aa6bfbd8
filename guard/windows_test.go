package guard

import (
	"encoding/base64"
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
