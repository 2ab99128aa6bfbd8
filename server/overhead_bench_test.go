package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/agent"
	"github.com/oneshot-dev/oneshot/forge"
	"github.com/oneshot-dev/oneshot/githubapi"
	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/pipeline"
	"github.com/oneshot-dev/oneshot/sandbox"
	"github.com/oneshot-dev/oneshot/tasks"
	"github.com/oneshot-dev/oneshot/workspace"
)

// BenchmarkPipelineOverhead compares a task with an instant scripted agent
// on the test library against the least that does the same work: one
// container that clones, changes, runs the tests, commits and pushes, by a
// shell script. They run interleaved, and the medians are compared twice:
// until the pull request exists, and until the pipeline returned, which
// includes its last reports to GitHub (spaced by the write throttle).
//
//	go test -run '^$' -bench PipelineOverhead -benchtime 1x ./server
func BenchmarkPipelineOverhead(b *testing.B) {
	const reps = 5
	instant := "printf 'package uuid\\n\\n// Bench is a change.\\nvar Bench = 1\\n' > bench.go\n"
	files := libraryFiles(b)
	files[agentPath] = instant
	files[".github/oneshot.yml"] = testConfig(0)
	bundle := newBundleWithRepo(b, "acme/uuid", files)
	cfg := bundle.config(b)
	ctx := context.Background()

	clients, err := githubapi.NewClientCreator(cfg.GitHub, "bench", githubapi.RetryPolicy{})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := sandbox.NewEngine(sandbox.Options{Owner: "bench-" + tasks.NewID()})
	if err != nil {
		b.Fatal(err)
	}
	throttle := &githubapi.Throttle{}
	progress := &forge.Progress{Clients: clients, Throttle: throttle, Comments: nopComments{}, Logger: zerolog.Nop(), BotLogin: bundle.gh.BotLogin()}
	p := &pipeline.Pipeline{
		Forge: &forge.GitHub{Clients: clients, App: cfg.GitHub, BotLogin: bundle.gh.BotLogin(), Throttle: throttle,
			Cache: &workspace.Cache{Dir: cfg.Git.CacheDir}},
		Sandbox:  engine,
		Agent:    agent.Factory(agent.Defaults{}),
		Reporter: progress.For,
	}
	repo, err := githubapi.ForRepo(clients, installationID, bundle.repo.FullName)
	if err != nil {
		b.Fatal(err)
	}
	token := installationToken(b, bundle.gh)
	clone := strings.Replace(bundle.gh.CloneURL(bundle.repo), "http://", "http://x-access-token:"+token+"@", 1)

	var toPR, total, script []time.Duration
	for i := range reps {
		issue := 1000 + 10*i // clear of the numbers pull requests take
		bundle.gh.AddIssue(bundle.repo, githubtest.Issue{Number: issue, Title: "Add Bench", Body: "Add a Bench variable.", User: "writer"})
		_, head, err := repo.DefaultBranchHead(ctx)
		if err != nil {
			b.Fatal(err)
		}
		task := &tasks.Task{ID: tasks.NewID(), Repo: bundle.repo.FullName, RepoID: bundle.repo.ID, InstallationID: installationID,
			Issue: issue, Kind: tasks.KindIssue, Requester: "writer", Attempt: 1, State: tasks.Running, HeadSHA: head}
		if task.CheckRunID, err = repo.QueueCheckRun(ctx, head, githubapi.QueuedRun{TaskID: task.ID, Attempt: 1, DetailsURL: "http://oneshot.test"}); err != nil {
			b.Fatal(err)
		}
		started := time.Now()
		state, reason, err := p.Run(ctx, task)
		if err != nil || state != tasks.Succeeded {
			b.Fatalf("run %d: %s %s %v", i, state, reason, err)
		}
		total = append(total, time.Since(started))
		// The request's time, not the pull request's created_at, which
		// has GitHub's whole seconds.
		for _, req := range bundle.gh.Requests() {
			if req.Method == http.MethodPost && req.Path == "/repos/"+bundle.repo.FullName+"/pulls" && req.Time.After(started) {
				toPR = append(toPR, req.Time.Sub(started))
				break
			}
		}

		started = time.Now()
		baseline := fmt.Sprintf(`set -e
git clone -q %s /sandbox/repo && cd /sandbox/repo
git checkout -q -b bench/baseline-%d
%s
%s
git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm bench
git push -q origin HEAD`, clone, issue, instant, uuidTests)
		cmd := exec.Command("docker", "run", "--rm", "--network", "host", "--tmpfs", "/sandbox:exec,uid=1000,gid=1000",
			"-e", "HOME=/sandbox", pipelineImage(), "bash", "-c", baseline)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("baseline %d: %v\n%s", i, err, out)
		}
		script = append(script, time.Since(started))
	}
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	fmt.Printf("orchestration overhead: instant agent on github.com/google/uuid, go test in the sandbox, %d runs each, interleaved\n", reps)
	fmt.Printf("  %-52s median %8s\n", "one container by a shell script: clone, test, push", median(script).Round(time.Millisecond))
	fmt.Printf("  %-52s median %8s   ratio %.2fx (target <= 1.15x)\n", "oneshot, start until the pull request exists",
		median(toPR).Round(time.Millisecond), float64(median(toPR))/float64(median(script)))
	fmt.Printf("  %-52s median %8s   ratio %.2fx\n", "oneshot, start until every report is written",
		median(total).Round(time.Millisecond), float64(median(total))/float64(median(script)))
}

type nopComments struct{}

func (nopComments) SetStatusComment(context.Context, string, int64) error { return nil }

// installationToken asks the fake for a token, as git on a host would use.
func installationToken(tb testing.TB, gh *githubtest.Server) string {
	tb.Helper()
	tr, err := ghinstallation.New(http.DefaultTransport, gh.AppID, installationID, gh.PrivateKeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	tr.BaseURL = strings.TrimSuffix(gh.APIURL(), "/")
	token, err := tr.Token(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return token
}
