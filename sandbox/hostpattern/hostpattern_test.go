package hostpattern

import (
	"strings"
	"testing"
)

func TestAPatternMayNameAPort(t *testing.T) {
	for p, problem := range map[string]string{
		"proxy.golang.org":          "",
		"*.npmjs.org":               "",
		"Proxy.Golang.org":          "",
		"registry.example.com:8443": "",
		"cache.example.com:*":       "",
		"":                          "names no host",
		":443":                      "names no host",
		"x.org:0":                   "neither a number from 1 to 65535 nor *",
		"x.org:65536":               "neither a number",
		"x.org:https":               "neither a number",
		"https://x.org":             "not a host name pattern",
		"x.org :443":                "not a host name pattern",
		"a:b:443":                   "not a host name pattern",
		"`x`.org":                   "not a host name pattern",
		"[x.org":                    "does not compile",
		"pastebin.com.":             "",
		".evil.example":             "write *.evil.example for the names under it, and evil.example for itself",
		"evil..example":             "two dots in a row",
		"evil.example..":            "two dots in a row",
	} {
		_, err := Parse(p)
		if problem == "" && err != nil || problem != "" && (err == nil || !strings.Contains(err.Error(), problem)) {
			t.Errorf("Parse(%q) = %v, want %q", p, err, problem)
		}
	}
}

func TestAPatternWithoutAPortCoversTheWebsPortsOrEveryPort(t *testing.T) {
	bare, _ := Parse("*.example.com")
	named, _ := Parse("registry.example.com:8443")
	every, _ := Parse("cache.example.com:*")
	for _, tc := range []struct {
		p       Pattern
		host    string
		port    int
		unnamed []int
		want    bool
	}{
		{bare, "a.example.com", 443, WebPorts, true},
		{bare, "a.example.com", 22, WebPorts, false},
		{bare, "a.example.com", 22, nil, true},
		{bare, "example.com", 443, WebPorts, false},
		{named, "registry.example.com", 8443, WebPorts, true},
		{named, "registry.example.com", 443, WebPorts, false},
		{named, "registry.example.com", 443, nil, false},
		{every, "cache.example.com", 6379, WebPorts, true},
	} {
		if got := tc.p.Matches(tc.host, tc.port, tc.unnamed); got != tc.want {
			t.Errorf("%s matches %s:%d (unnamed %v) = %v", tc.p.Text, tc.host, tc.port, tc.unnamed, got)
		}
	}
	if got := bare.AllowedPorts(); got != "ports 80 and 443" {
		t.Errorf("AllowedPorts() = %q", got)
	}
}

// A name written with the root's dot, as DNS zones write it, is the name.
func TestAPatternEndingInADotMatchesTheName(t *testing.T) {
	p, err := Parse("pastebin.com.")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Matches("pastebin.com", 443, WebPorts) {
		t.Error("pastebin.com. does not match pastebin.com")
	}
}
