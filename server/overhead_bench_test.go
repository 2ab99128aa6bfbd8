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
// The tests' own time, which varies by a second from run to run on a
// small machine, is printed beside, and the time outside them compared
// too: that is what orchestration costs.
//
//	go test -run '^$' -bench PipelineOverhead -benchtime 1x ./server
func BenchmarkPipelineOverhead(b *testing.B) {
	const reps = 9
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
	var final pipeline.Report
	progress := &forge.Progress{Clients: clients, Throttle: throttle, Comments: nopComments{}, Logger: zerolog.Nop(), BotLogin: bundle.gh.BotLogin()}
	p := &pipeline.Pipeline{
		Forge: &forge.GitHub{Clients: clients, App: cfg.GitHub, BotLogin: bundle.gh.BotLogin(), Throttle: throttle,
			Cache: &workspace.Cache{Dir: cfg.Git.CacheDir}},
		Sandbox:  engine,
		Agent:    agent.Factory(agent.Defaults{}),
		Reporter: func(t *tasks.Task) pipeline.Reporter { return &keepFinal{Reporter: progress.For(t), final: &final} },
	}
	repo, err := githubapi.ForRepo(clients, installationID, bundle.repo.FullName)
	if err != nil {
		b.Fatal(err)
	}
	token := installationToken(b, bundle.gh)
	clone := strings.Replace(bundle.gh.CloneURL(bundle.repo), "http://", "http://x-access-token:"+token+"@", 1)

	var toPR, total, script, ownTests, scriptTests []time.Duration
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
		ownTests = append(ownTests, final.Checks[0].Duration)
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
started=$(date +%%s%%N)
%s
echo "tests took $(( ($(date +%%s%%N) - started) / 1000 ))us"
git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm bench
git push -q origin HEAD`, clone, issue, instant, uuidTests)
		cmd := exec.Command("docker", "run", "--rm", "--network", "host", "--tmpfs", "/sandbox:exec,uid=1000,gid=1000",
			"-e", "HOME=/sandbox", pipelineImage(), "bash", "-c", baseline)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("baseline %d: %v\n%s", i, err, out)
		}
		script = append(script, time.Since(started))
		took, ok := scriptTestsTime(string(out))
		if !ok {
			b.Fatalf("baseline %d did not say how long its tests took:\n%s", i, out)
		}
		scriptTests = append(scriptTests, took)
	}
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	rest := func(all, tests []time.Duration) []time.Duration {
		out := make([]time.Duration, len(all))
		for i := range all {
			out[i] = all[i] - tests[i]
		}
		return out
	}
	scriptRest, ownRest := median(rest(script, scriptTests)), median(rest(toPR, ownTests))
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Printf("orchestration overhead: instant agent on github.com/google/uuid, go test in the sandbox, %d runs each, interleaved\n", reps)
	fmt.Printf("  %-52s median %8s   its tests %8s   the rest %8s\n", "one container by a shell script: clone, test, push",
		ms(median(script)), ms(median(scriptTests)), ms(scriptRest))
	fmt.Printf("  %-52s median %8s   its tests %8s   the rest %8s   ratio %.2fx (target <= 1.15x), the rest alone %.2fx\n",
		"oneshot, start until the pull request exists", ms(median(toPR)), ms(median(ownTests)), ms(ownRest),
		float64(median(toPR))/float64(median(script)), float64(ownRest)/float64(scriptRest))
	fmt.Printf("  %-52s median %8s   ratio %.2fx\n", "oneshot, start until every report is written",
		ms(median(total)), float64(median(total))/float64(median(script)))
}

// scriptTestsTime reads the time the baseline script says its tests took.
func scriptTestsTime(out string) (time.Duration, bool) {
	for line := range strings.Lines(out) {
		if took, ok := strings.CutPrefix(strings.TrimSpace(line), "tests took "); ok {
			d, err := time.ParseDuration(took)
			return d, err == nil
		}
	}
	return 0, false
}

// keepFinal keeps the final report of the attempts it reports, which say
// how long their checks took.
type keepFinal struct {
	pipeline.Reporter
	final *pipeline.Report
}

func (k *keepFinal) Finish(ctx context.Context, r pipeline.Report) {
	*k.final = r
	k.Reporter.Finish(ctx, r)
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
