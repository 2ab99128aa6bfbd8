package contextgather

import "bytes"

// The locator reads every source file of a checkout, so finding its
// identifiers and definitions is most of its time. These scanners find
// exactly what two regular expressions would, kept in locate_scan_test.go
// as their definition, at many times the speed:
//
//	identifier  [A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*
//	definition  (?m)^[ \t]*(?:export\s+)?(?:async\s+)?(?:pub(?:\([a-z]+\))?\s+)?
//	            (?:def|class|func|function|fn|type|struct|interface|enum|trait|module|object)
//	            \s+(?:\([^)\n]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)
//
// Both patterns are ASCII, so bytes are scanned, not runes: no byte of a
// multi-byte character, valid or not, can match them.

// Classes of a byte, by what it may be in the patterns.
const (
	identStart      = 1 << iota // begins an identifier
	identPart                   // continues one
	space                       // \s: tab, newline, form feed, return, space
	definitionStart             // begins a word that can begin a definition
)

var byteClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = identStart | identPart
		t[c-'a'+'A'] = identStart | identPart
	}
	t['_'] = identStart | identPart
	for c := '0'; c <= '9'; c++ {
		t[c] = identPart
	}
	for _, c := range "\t\n\f\r " {
		t[c] = space
	}
	for _, w := range append([][]byte{[]byte("export"), []byte("async"), []byte("pub")}, definitionKeywords...) {
		t[w[0]] |= definitionStart
	}
	return t
}()

// eachIdentifier calls fn with each identifier in data, possibly dotted
// (a.b.c), in order. The slice fn gets is data's.
func eachIdentifier(data []byte, fn func(tok []byte)) {
	for i := 0; i < len(data); {
		if byteClass[data[i]]&identStart == 0 {
			i++
			continue
		}
		j := wordEnd(data, i+1)
		for j+1 < len(data) && data[j] == '.' && byteClass[data[j+1]]&identStart != 0 {
			j = wordEnd(data, j+2)
		}
		fn(data[i:j])
		i = j
	}
}

// identifiers are the identifiers in text, in order.
func identifiers(text string) []string {
	var out []string
	eachIdentifier([]byte(text), func(tok []byte) { out = append(out, string(tok)) })
	return out
}

// wordEnd is where the run of identifier bytes from i ends.
func wordEnd(data []byte, i int) int {
	for i < len(data) && byteClass[data[i]]&identPart != 0 {
		i++
	}
	return i
}

func spaceEnd(data []byte, i int) int {
	for i < len(data) && byteClass[data[i]]&space != 0 {
		i++
	}
	return i
}

// definitionKeywords introduce a definition, in most languages' words.
var definitionKeywords = [][]byte{
	[]byte("def"), []byte("class"), []byte("func"), []byte("function"), []byte("fn"), []byte("type"),
	[]byte("struct"), []byte("interface"), []byte("enum"), []byte("trait"), []byte("module"), []byte("object"),
}

// eachDefinition calls fn with each name data defines: a keyword such as
// def or class at a line's start, then the name. As with the pattern,
// matches do not overlap: lines a definition spans (its keyword and name
// may be lines apart) start no other.
func eachDefinition(data []byte, fn func(name []byte)) {
	for start := 0; start < len(data); {
		next := start
		if name, end := definitionAt(data, start); name != nil {
			fn(name)
			next = end
		}
		nl := bytes.IndexByte(data[next:], '\n')
		if nl < 0 {
			return
		}
		start = next + nl + 1
	}
}

// definitionAt reads a definition at the line starting at i: the name it
// defines and where it ends, or nil. Each optional prefix is taken when it
// is there: none of them is a keyword, so leaving one out never matches.
func definitionAt(data []byte, i int) (name []byte, end int) {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	if i == len(data) || byteClass[data[i]]&definitionStart == 0 {
		return nil, 0 // most lines: no need to try each word
	}
	i = prefix(data, i, "export")
	i = prefix(data, i, "async")
	if bytes.HasPrefix(data[i:], []byte("pub")) {
		j := i + len("pub")
		if j < len(data) && data[j] == '(' {
			k := j + 1
			for k < len(data) && 'a' <= data[k] && data[k] <= 'z' {
				k++
			}
			if k > j+1 && k < len(data) && data[k] == ')' && k+1 < len(data) && byteClass[data[k+1]]&space != 0 {
				j = k + 1
			}
		}
		if j < len(data) && byteClass[data[j]]&space != 0 {
			i = spaceEnd(data, j)
		}
	}
	keyword := false
	for _, kw := range definitionKeywords {
		if j := i + len(kw); j < len(data) && byteClass[data[j]]&space != 0 && bytes.HasPrefix(data[i:], kw) {
			i, keyword = spaceEnd(data, j), true
			break
		}
	}
	if !keyword {
		return nil, 0
	}
	// A receiver or similar in parentheses, as in Go's func (r T) Name,
	// closed within the line: looked for further, a file of lines that
	// open one and never close it would be read once a line.
	if i < len(data) && data[i] == '(' {
		line := data[i+1:]
		if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
			line = line[:nl]
		}
		if close := bytes.IndexByte(line, ')'); close >= 0 {
			if j := spaceEnd(data, i+1+close+1); j < len(data) && byteClass[data[j]]&identStart != 0 {
				i = j
			}
		}
	}
	if i >= len(data) || byteClass[data[i]]&identStart == 0 {
		return nil, 0
	}
	end = wordEnd(data, i+1)
	return data[i:end], end
}

// prefix skips word and the space after it at i, when both are there.
func prefix(data []byte, i int, word string) int {
	j := i + len(word)
	if j < len(data) && byteClass[data[j]]&space != 0 && string(data[i:j]) == word {
		return spaceEnd(data, j)
	}
	return i
}
