package githubtest_test

import (
	"io"
	"maps"
	"strings"
	"testing"
)

func TestLanguagesListsLargestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got, _, err := b.client.Repositories.ListLanguages(b.ctx, "acme", "widgets")
	if err != nil || len(got) != 0 {
		t.Fatalf("languages before SetLanguages = %v (%v), want none", got, err)
	}

	want := map[string]int{"Shell": 300, "Go": 9000, "Makefile": 300}
	b.gh.SetLanguages(b.repo, want)
	got, _, err = b.client.Repositories.ListLanguages(b.ctx, "acme", "widgets")
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("languages = %v (%v), want %v", got, err, want)
	}

	// go-github reads the object into a map, so ask for the raw answer
	// to see the order GitHub uses: most bytes first, ties by name.
	req, err := b.client.NewRequest("GET", "repos/acme/widgets/languages", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.BareDo(b.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if s := strings.TrimSpace(string(raw)); s != `{"Go":9000,"Makefile":300,"Shell":300}` {
		t.Errorf("body = %s", s)
	}
}
