package contextgather_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	"github.com/oneshot-dev/oneshot/contextgather"
)

// TestSanitizeKeepsOnlyWhatGitHubShows renders texts with cmark-gfm, the
// library GitHub renders Markdown with, with and without its tag filter,
// reads the HTML as a browser does, and checks that each marker word
// Sanitize keeps is shown on both pages. The texts are a few written to
// trick a parser and three thousand put together, from a fixed seed, of
// pieces of Markdown and HTML around the markers. The pieces leave out
// SVG and MathML, whose contents a browser reads by other rules, which
// Sanitize does not follow. Without cmark-gfm the test is skipped, but
// not under scripts/test, which sets ONESHOT_REQUIRE_CMARK_GFM (.ci/run
// installs Debian's cmark-gfm, 0.29.0.gfm.6 on bookworm).
func TestSanitizeKeepsOnlyWhatGitHubShows(t *testing.T) {
	t.Parallel()
	cmark, err := exec.LookPath("cmark-gfm")
	if err != nil {
		if os.Getenv("ONESHOT_REQUIRE_CMARK_GFM") != "" {
			t.Fatalf("cmark-gfm, which this test checks Sanitize against, is not installed (apt-get install cmark-gfm): %v", err)
		}
		t.Skipf("cmark-gfm is not installed (apt-get install cmark-gfm): %v", err)
	}
	texts := append(trickyTexts(), generatedTexts(3000)...)
	leaks := make([]string, len(texts))
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				l, err := leak(cmark, texts[i])
				if err != nil {
					t.Error(err)
				}
				leaks[i] = l
			}
		})
	}
	for i := range texts {
		work <- i
	}
	close(work)
	wg.Wait()
	n := 0
	for _, l := range leaks {
		if l != "" {
			if n < 10 {
				t.Error(l)
			}
			n++
		}
	}
	if n > 10 {
		t.Errorf("and %d more of the %d texts", n-10, len(texts))
	}
}

// leak describes a marker in text that Sanitize keeps and GitHub does not
// show, or returns "".
func leak(cmark, text string) (string, error) {
	var shown []string
	for _, ext := range [][]string{nil, {"-e", "tagfilter"}} {
		s, err := shownByGitHub(cmark, text, ext)
		if err != nil {
			return "", err
		}
		shown = append(shown, s)
	}
	// The language of fenced code, which GitHub shows nowhere, is kept.
	language := map[string]bool{}
	for _, m := range fenceLanguage.FindAllStringSubmatch(text, -1) {
		language[m[2]] = true
	}
	clean := contextgather.Sanitize(text)
	for _, m := range marker.FindAllString(clean, -1) {
		for _, s := range shown {
			if !language[m] && !strings.Contains(s, m) {
				return fmt.Sprintf("Sanitize(%q)\n = %q\nkeeps %s, which GitHub does not show: %q", text, clean, m, s), nil
			}
		}
	}
	return "", nil
}

var (
	// marker is how the texts mark words: Sanitize must not keep them
	// unless GitHub shows them.
	marker        = regexp.MustCompile(`Q[0-9]+Z`)
	fenceLanguage = regexp.MustCompile("(```|~~~)[ \t]*(Q[0-9]+Z)")
)

// shownByGitHub returns the text a browser shows of text rendered as
// GitHub does (with its tag filter, which writes <script> and a few
// others as text, or without), a space after each piece.
func shownByGitHub(cmark, text string, extensions []string) (string, error) {
	args := append([]string{"--unsafe", "-e", "table", "-e", "strikethrough", "-e", "autolink", "-e", "tasklist", "-e", "footnotes"}, extensions...)
	cmd := exec.Command(cmark, args...)
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cmark-gfm on %q: %w", text, err)
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		return "", fmt.Errorf("parsing cmark-gfm's HTML for %q: %w", text, err)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.ElementNode && n.Namespace == "" && hiddenByBrowsers[n.Data]:
			return
		case n.Type == html.TextNode:
			b.WriteString(n.Data + " ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return b.String(), nil
}

// hiddenByBrowsers are the elements whose contents a browser does not show.
var hiddenByBrowsers = map[string]bool{"script": true, "style": true, "template": true, "noscript": true,
	"iframe": true, "noembed": true, "noframes": true, "rp": true}

// trickyTexts are texts on which goldmark, which Sanitize parses with,
// and cmark-gfm, which GitHub renders with, have disagreed, or which a
// browser reads in a way Sanitize once did not.
func trickyTexts() []string {
	return []string{
		// An rp, which browsers hide, where a ruby's scope is not what
		// its tags alone say.
		"<ruby>漢\n\n<rp>hidden<rt>Q1Z</rt></rp> after",
		"<div><ruby>漢</div><rp>x<rt>Q3Z</rt>",
		"<ruby>漢<table><tr><td><rp>x<rt>Q4Z</td></tr></table></ruby>",
		"<ruby>a<object><rp>x<rt>Q11Z</object>",
		"a <rp><div>x</div>Q6Z</rp> after",
		"```\n</ruby>\n```\n<ruby>a<rp>x<rt>Q7Z</rt>",
		"Please fix the parser.\n\n<rp><rp></rp>Q8Z</rp>\n\nThanks!",
		"Please fix the parser.\n\n<rp>\n\n</rp>Q9Z\n\nThanks!",
		"Please fix the parser.\n\n<!-- --><rp>\nx</rp> Q1Z also\n\nQ2Z Thanks",
		"Please fix the parser.\n\n<?x?><rp>\n# x </rp> Q1Z",
		"Please fix the parser.\n\n<!-- --><rp>\n- x </rp> Q1Z",
		"Please fix the parser.\n\n<!-- --><rp>\n> x </rp> Q1Z",
		"Please fix the parser. <?><![CDATA[ Q1Z ?>",
		"Please fix the parser. <!-- a -- b <?x > <!-- ?> --> Q1Z",
		"Please fix the parser. <!X<!-- > Q1Z -->",
		"Fix it. <!X Q1Z\n<search>",
		"- item\n</pre>\n<b \"Q1Z\">",
		"Fix it.\n<div\t\"Q1Z\">",
		"> \t<div \"Q1Z\">",
		"<div \"<a title=\"-->--> Q1Z",
		"> <div\n> title=\"Q1Z\">",
		"1. <!-- note --> <!DOCTYPE x\n   Q1Z",
		"<script><!--<script>--!></script>Q1Z</script>",
		"<template><!-- </template> -->Q1Z</template>",
		"<template><xmp></template></xmp>Q1Z</template>",
		"<textarea><!--</textarea><b title=\"--> Q1Z\">",
		"<style><template></style>Q1Z",
		"![a <style>x](<<b>) Q1Z",
		"[a](<<!-- x>) Q1Z -->",
		"[x]: <<!-- a >\nQ1Z -->",
		"See https://example.com/`<!-- Q1Z -->` for details.",
		"\u200b```\n<!X Q1Z >\n```",
		"<!--\u200b>\nQ1Z",
		"| a |\n|---|\n| shown | Q1Z |",
		"| a |\n|---|\n<b>\n<x \"Q1Z\">",
		// Footnotes, which GitHub puts after the text: in a definition,
		// and after HTML that nothing closes.
		"Fix it.\n\n[^1]: [^x]: Q1Z",
		"Fix it.\n\n[^a]:\n    [^b]: Q1Z\n\n    Q2Z\n\nThanks.",
		"See [^1].\n\n[^1]: Q1Z\n\nMore text.\n\n<!-- note",
		"See [^1].\n\n[^1]: Q1Z\n\n<template>",
		"See [^1].\n\n[^1]: Q1Z\n\nMore <b title=\"x>",
		// A label over a line break that only looks like a link's text.
		"Please fix [^\nQ1Z words](x",
		"Please fix [^\nQ1Z words][label]",
		"Please fix [^\nQ1Z words](x \"t\" z)",
		// Brackets inside a label over a line break, nested, escaped.
		"Hello [^abc[]\nQ1Z] world",
		"Please fix [^see\nthe [docs] and Q1Z] now.",
		"Please fix [^see [the\ndocs] Q1Z] now.",
		"Please fix [^see\nthe \\] Q1Z] now.",
		// A code span inside a label over a line break.
		"Please fix [^see\nthe `x]` Q1Z] now.",
		"Fix [^a\n`x]` Q1Z] now",
		// What cmark-gfm reads as a footnote's definition, and what it
		// reads as a link reference definition, though goldmark reads
		// them the other way.
		"Please fix the parser.\n\n[^ x]: /a \"Q1Z\"\n\nThanks!",
		"Please fix the parser.\n\n[^x ]: https://example.com\n  \"Q1Z\"\n\nThanks!",
		"Please fix the parser.\n\n[^ x]: Q1Z\n\nThanks!",
		"Please fix the parser.\n\n[^[]: /a \"Q1Z\"\n\nThanks!",
		"Please fix the parser.\n\n[^a\u00a0b]: Q1Z\n\nThanks!",
		"See [^[] and [^a\\].\n\n[^[]: Q1Z\n\n[^a\\]: Q2Z",
		"See [^" + strings.Repeat("a", 1001) + "].\n\n[^" + strings.Repeat("a", 1001) + "]: Q1Z",
		// A link where goldmark saw a task list's check box, and a
		// definition after one.
		"- [x](Q1Z) done",
		"- [ ] [x]: /a \"Q1Z\"\n- [x] Q2Z done",
		// A link's title holding the "](" past which the text is cut.
		"Please fix the parser, see [the docs](https://example.com \"Q1Z " + strings.Repeat("](", 1001) + "\").",
	}
}

// generatedTexts returns n texts, each a few pieces of Markdown and HTML
// with markers between them, the same ones on every run.
func generatedTexts(n int) []string {
	pieces := []string{
		"<!--", "-->", "--!>", "<!-->", "<!--->", "<!---", "<!-- ", " -->", "\n<!--", "-", "--", "!", "?",
		"<?", "?>", "<!X", "<!x", "<!X ", "<!DOCTYPE ", "<![CDATA[", "]]>", "</", "</ ", "<", ">", "/>", "=",
		"<div>", "</div>", "<div\t", "\n<div\t", "<p>", "</p>", "<span ", "<b", "<a href='", "<a title=\"", "\"", "'",
		"<details>", "<summary>", "<img ", "<pre>", "</pre>", "<meta ", "\n<search>", "<textarea>", "</textarea>",
		"<script>", "</script>", "<style>", "</style>", "<template>", "</template>", "<noscript>",
		"`", "``", "```", "~~~", "\n```\n", "\n", "\n\n", "    ", "\n    ", "\t", "  \n", " ", "\\",
		"> ", "\n> ", "- ", "1. ", "|", "---", "#", "*", "_", ":", "x",
		"[", "]", "(", ")", "![", "](", "](<", ">)", "[x]: ", "[x]", "]:", "[^",
		"&lt;", "&#60;", "&#x2065;", "\u200b", "\u2028", "\u2065", "\U000E0080",
		"<![cdata[", "\n<![CDATA[", "\n<?", "\n<!X", "\n</script>", "<xmp>", "</xmp>", "<title>", "</noscript>",
		"<!-- a -- b -->", "&", "<x-y ", "<http://a.b/", "a@b.c>", "http://a.b/", "www.a.b/", " www.a.b", "(www.a.b`",
		"\n| a | b |\n|---|---|\n", "| --- |",
		"<ruby>", "</ruby>", "<rp>", "</rp>", "<rt>",
		"[^1]", "\n[^1]: ", "[^a]: ", "\n    ",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	texts := make([]string, n)
	for i := range texts {
		var b strings.Builder
		k := 0
		for range 4 + rng.IntN(20) {
			if rng.IntN(5) == 0 {
				k++
				fmt.Fprintf(&b, " Q%dZ ", k)
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		texts[i] = b.String()
	}
	return texts
}
