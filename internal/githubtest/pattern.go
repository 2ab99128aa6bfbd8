package githubtest

import (
	"fmt"
	"net/url"
	"strings"
)

// pattern is a path pattern in the style of Go 1.22's ServeMux: literal
// segments, {name} for one non-empty segment, and a final {name...} for
// the rest of the path. The fake routes with its own matcher instead of
// ServeMux because GitHub's routes overlap in ways ServeMux refuses
// (/issues/comments/{id} and /issues/{number}/comments); the first route
// that matches wins.
type pattern struct {
	segs []segment
}

type segment struct {
	literal string
	name    string // set for a wildcard
	rest    bool   // {name...}
}

func parsePattern(text string) (pattern, error) {
	var p pattern
	trimmed := strings.TrimPrefix(text, apiPrefix)
	if !strings.HasPrefix(trimmed, "/") {
		return p, fmt.Errorf("pattern %q: must start with /", text)
	}
	parts := strings.Split(trimmed[1:], "/")
	for i, part := range parts {
		if !strings.HasPrefix(part, "{") || !strings.HasSuffix(part, "}") {
			p.segs = append(p.segs, segment{literal: part})
			continue
		}
		name := part[1 : len(part)-1]
		seg := segment{name: strings.TrimSuffix(name, "...")}
		seg.rest = seg.name != name
		if seg.name == "" || strings.ContainsAny(seg.name, "{}") {
			return p, fmt.Errorf("pattern %q: bad wildcard %q", text, part)
		}
		if seg.rest && i != len(parts)-1 {
			return p, fmt.Errorf("pattern %q: %q must come last", text, part)
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

// mustPattern is parsePattern for patterns written in code, where a bad
// one is a bug in the test.
func mustPattern(text string) pattern {
	p, err := parsePattern(text)
	if err != nil {
		panic("githubtest: " + err.Error())
	}
	return p
}

// match reports whether the escaped path matches, and the unescaped
// values of its wildcards. Matching is segment by segment on the escaped
// path, so a branch name sent as a%2Fb stays one segment.
func (p pattern) match(path string) (map[string]string, bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var values map[string]string
	set := func(name, v string) {
		if values == nil {
			values = map[string]string{}
		}
		values[name] = v
	}
	for i, seg := range p.segs {
		if i >= len(parts) {
			return nil, false // as in ServeMux, /a/{x...} matches /a/ but not /a
		}
		if seg.rest {
			v, err := url.PathUnescape(strings.Join(parts[i:], "/"))
			if err != nil {
				return nil, false
			}
			set(seg.name, v)
			return values, true
		}
		v, err := url.PathUnescape(parts[i])
		if err != nil {
			return nil, false
		}
		switch {
		case seg.name == "" && v != seg.literal:
			return nil, false
		case seg.name != "" && v == "":
			return nil, false
		case seg.name != "":
			set(seg.name, v)
		}
	}
	return values, len(parts) == len(p.segs)
}

// matches is match for a method too; an empty method matches any.
func (p pattern) matches(method, wantMethod, path string) bool {
	if wantMethod != "" && !strings.EqualFold(method, wantMethod) {
		return false
	}
	_, ok := p.match(path)
	return ok
}
