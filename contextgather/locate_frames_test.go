package contextgather

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/fstest"
)

// Stack frames and paths an issue mentions, and how they rank files.

// Go's and the JVM's traces list the innermost frame first, where the
// crash is; a JVM frame names its file without the package's directories.
// The files are alike but for their names, so that the frames alone
// decide, and the innermost is none that would come first by its name.
func TestTheInnermostFrameOfATraceCountsMostWhateverItsLanguage(t *testing.T) {
	body := []byte("step()\n")
	cases := []struct {
		name  string
		files fstest.MapFS
		issue string
		want  string
	}{
		{"a Go panic", fstest.MapFS{
			"internal/alpha/alpha.go": {Data: body}, "internal/beta/beta.go": {Data: body}, "internal/zeta/zeta.go": {Data: body},
		}, "Crash at start\n\n```\npanic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 1 [running]:\n" +
			"example.com/app/internal/zeta.Step(...)\n\t/home/u/app/internal/zeta/zeta.go:1 +0x1d\n" +
			"example.com/app/internal/beta.Step(...)\n\t/home/u/app/internal/beta/beta.go:1 +0x55\n" +
			"example.com/app/internal/alpha.Step()\n\t/home/u/app/internal/alpha/alpha.go:1 +0x25\n```\n",
			"internal/zeta/zeta.go"},
		{"a JVM trace", fstest.MapFS{
			"src/main/java/com/acme/alpha/Alpha.java": {Data: body}, "src/main/java/com/acme/beta/Beta.java": {Data: body},
			"src/main/java/com/acme/zeta/Zeta.java": {Data: body},
		}, "Crash when totalling\n\n```\njava.lang.NullPointerException\n\tat com.acme.zeta.Zeta.step(Zeta.java:1)\n" +
			"\tat com.acme.beta.Beta$Inner.step(Beta.java:1)\n\tat com.acme.alpha.Alpha.step(Alpha.java:1)\n```\n",
			"src/main/java/com/acme/zeta/Zeta.java"},
		{"a Groovy trace", fstest.MapFS{
			"src/main/groovy/com/acme/alpha/Alpha.groovy": {Data: body}, "src/main/groovy/com/acme/beta/Beta.groovy": {Data: body},
			"src/main/groovy/com/acme/zeta/Zeta.groovy": {Data: body},
		}, "Crash when totalling\n\n```\njava.lang.NullPointerException\n\tat com.acme.zeta.Zeta.step(Zeta.groovy:1)\n" +
			"\tat com.acme.beta.Beta.step(Beta.groovy:1)\n\tat com.acme.alpha.Alpha.step(Alpha.groovy:1)\n```\n",
			"src/main/groovy/com/acme/zeta/Zeta.groovy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ranked, err := locate(t.Context(), tc.files, tc.issue, signalWeights)
			if err != nil || len(ranked) == 0 || ranked[0].Path != tc.want {
				t.Fatalf("ranking %v, %v; want %s first", paths(ranked), err, tc.want)
			}
			without := signalWeights
			without.frames = 0
			if ranked, _ := locate(t.Context(), tc.files, tc.issue, without); len(ranked) > 0 && ranked[0].Path == tc.want {
				t.Errorf("%s is first without the frames too: the case does not test them", tc.want)
			}
		})
	}
}

// Prose after a blank line that starts like a frame ("at least (...)") is
// no JVM trace: pytest's frames keep their order, the innermost last.
func TestProseIsNotTakenForATraceListingTheInnermostFrameFirst(t *testing.T) {
	c := readClues("Fails\n\n```\ntests/test_a.py:3: in test_a\nsrc/a.py:9: in f\nE   ValueError\n```\n\nat least (sometimes) it does")
	if want := []string{"tests/test_a.py", "src/a.py"}; len(c.paths) < 2 || !slices.Equal(c.paths[:2], want) {
		t.Fatalf("paths %q, want %q", c.paths, want)
	}
}

// scoreFrames looks each mentioned path up by its tails; it must score as
// matching every file against every path with pathsMatch would.
func TestFramesScoreAsEveryPathMatchedAgainstEveryFile(t *testing.T) {
	files := []string{"a.py", "pkg/a.py", "src/pkg/a.py", "pkg/b.py", "b.py", "pkg/sub/a.py", "x/pkg/a.py"}
	mentions := []string{"a.py", "/usr/lib/python3/site-packages/pkg/a.py", "pkg/a.py", "./b.py", "src\\pkg\\a.py",
		"sub/a.py", "kg/a.py", "c.py", "pkg/a.py", "/pkg/b.py", "x/pkg/a.py"}
	var docs []*doc
	for _, f := range files {
		docs = append(docs, &doc{path: f})
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var c clues
		for range rng.IntN(6) {
			c.paths = append(c.paths, mentions[rng.IntN(len(mentions))])
		}
		want := make([]float64, len(docs))
		for k, m := range c.paths {
			for i, d := range docs {
				if pathsMatch(d.path, m) {
					want[i] = math.Max(want[i], 0.5+0.5*float64(k+1)/float64(len(c.paths)))
				}
			}
		}
		if got := scoreFrames(docs, c); !slices.Equal(got, want) {
			t.Fatalf("paths %q: scores %v, want %v", c.paths, got, want)
		}
	}
}
