package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oneshot-dev/oneshot/contextgather"
)

// benchLocate measures file localization on real issues with their real
// fixes: for each, the repository at the issue's base commit is ranked from
// the issue's text, and Acc@k is the share of issues whose changed files
// are all in the top k.
//
//	go run ./cmd/bench locate --repos DIR
//
// --ranks FILE writes each instance's top ten, with scores and hit lines,
// for diffing the rankings of two versions.
//
// --repos holds one bare git repository per project, named owner+name/repo
// (as fetched) or owner+name.git.
func benchLocate(args []string) error {
	fs := newFlagSet("locate")
	data := fs.String("data", "cmd/bench/testdata/swebench-lite-dev.jsonl", "instances, one JSON object a line (see cmd/bench/testdata/README.md)")
	repos := fs.String("repos", "", "directory of bare repositories (required)")
	verbose := fs.Bool("v", false, "print each instance")
	ranksFile := fs.String("ranks", "", "write each instance's top ten, with scores and hit lines, to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repos == "" {
		return fmt.Errorf("locate needs --repos")
	}
	f, err := os.Open(*data)
	if err != nil {
		return err
	}
	defer f.Close()
	var instances []instance
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var in instance
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			return err
		}
		instances = append(instances, in)
	}
	if err := sc.Err(); err != nil {
		return err
	}

	var ranks *os.File
	if *ranksFile != "" {
		if ranks, err = os.Create(*ranksFile); err != nil {
			return err
		}
		defer ranks.Close()
	}

	hits := map[int]int{1: 0, 3: 0, 5: 0}
	var times samples
	for _, in := range instances {
		dir, err := checkout(*repos, in.Repo, in.BaseCommit)
		if err != nil {
			return fmt.Errorf("%s: %w", in.ID, err)
		}
		issue := contextgather.Sanitize(in.ProblemStatement) // as the pipeline's material is
		started := time.Now()
		ranked, err := contextgather.Locate(context.Background(), os.DirFS(dir), issue)
		elapsed := time.Since(started)
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", in.ID, err)
		}
		times = append(times, elapsed)
		if ranks != nil {
			writeRanks(ranks, in.ID, ranked)
		}
		rank := 0 // the worst rank of a gold file; 1<<30 when one is missing
		for _, gold := range in.GoldFiles {
			i := slices.IndexFunc(ranked, func(r contextgather.Ranked) bool { return r.Path == gold })
			if i < 0 {
				rank = 1 << 30
				break
			}
			rank = max(rank, i+1)
		}
		for k := range hits {
			if rank <= k {
				hits[k]++
			}
		}
		if *verbose {
			var top []string
			for _, r := range ranked[:min(5, len(ranked))] {
				top = append(top, r.Path)
			}
			fmt.Printf("%-28s rank %-4s %6.0fms  gold %v  top %v\n", in.ID, rankString(rank), float64(elapsed.Microseconds())/1000, in.GoldFiles, top)
		}
	}
	n := float64(len(instances))
	fmt.Printf("file localization on %d issues (%s), no model\n", len(instances), filepath.Base(*data))
	fmt.Printf("  Acc@1 %.1f   Acc@3 %.1f   Acc@5 %.1f   median %.3fs per instance (target: Acc@5 >= 85, median < 1s)\n",
		100*float64(hits[1])/n, 100*float64(hits[3])/n, 100*float64(hits[5])/n, times.median().Seconds())
	fmt.Println("  for scale, on SWE-bench Lite at 5: BM25 61.7, CodeRankEmbed 84.7, LocAgent with Claude 3.5 94.2; plain BM25 on the 26 dev issues: about 69")
	return nil
}

// writeRanks writes an instance's top ten in full, so that two versions of
// Locate can be diffed for any change in ranking, not only in Acc.
func writeRanks(w io.Writer, id string, ranked []contextgather.Ranked) {
	fmt.Fprintf(w, "%s\n", id)
	for i, r := range ranked[:min(10, len(ranked))] {
		fmt.Fprintf(w, "  %2d %-60s %.12g %v\n", i+1, r.Path, r.Score, r.Hits)
	}
}

// instance is one issue with its real fix, as the data file has it.
type instance struct {
	ID               string   `json:"instance_id"`
	Repo             string   `json:"repo"`
	BaseCommit       string   `json:"base_commit"`
	ProblemStatement string   `json:"problem_statement"`
	GoldFiles        []string `json:"gold_files"`
}

func rankString(r int) string {
	if r >= 1<<30 {
		return "-"
	}
	return fmt.Sprint(r)
}

// checkout writes a commit's tree to a temporary directory.
func checkout(repos, name, commit string) (string, error) {
	owner, repo, _ := strings.Cut(name, "/")
	gitDir := filepath.Join(repos, owner+"+"+repo, "repo")
	if _, err := os.Stat(gitDir); err != nil {
		gitDir = filepath.Join(repos, owner+"+"+repo+".git")
	}
	dir, err := os.MkdirTemp("", "locate-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("sh", "-c", `git --git-dir "$1" archive "$2" | tar -x -C "$3"`, "sh", gitDir, commit, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("check out %s at %s: %v: %s", name, commit, err, out)
	}
	return dir, nil
}
