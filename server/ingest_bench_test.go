package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/internal/githubtest"
	"github.com/oneshot-dev/oneshot/server"
	"github.com/oneshot-dev/oneshot/tasks"
)

// BenchmarkWebhookIngest sends signed issues.labeled deliveries at rising
// rates, open loop (on a clock, whatever the answers), to a bot with
// durable enqueue on SQLite, and prints the acknowledgement latency per
// rate. One delivery in ten is sent twice, as GitHub's redeliveries are;
// at the end every unique delivery must have made exactly one task.
//
//	go test -run '^$' -bench WebhookIngest -benchtime 1x ./server
func BenchmarkWebhookIngest(b *testing.B) {
	rates := []int{50, 100, 200, 400, 800}
	const seconds = 3
	bundle := newBundle(b, "ONESHOT_TASKS_PER_REPO_PER_HOUR", "0", "ONESHOT_TASKS_PER_ACTOR_PER_HOUR", "0")
	// Attempts hold their worker, as real ones do for minutes; the rest
	// wait queued. Ingest is what is measured.
	srv, err := server.New(context.Background(), bundle.config(b), server.Options{
		Version: "bench", Runner: holdingRunner{}, Logger: zerolog.Nop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	hook := newHookServer(b, srv)
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 0}}

	// Payloads are made before the clock starts, so only ingest is timed.
	issue := 0
	makeBody := func() []byte {
		issue++
		return bundle.payload(b, "issues.labeled", func(p map[string]any) {
			labelled("agent", "writer")(p)
			p["issue"].(map[string]any)["number"] = issue
		})
	}

	fmt.Printf("webhook ingest: signed issues.labeled, open loop, %ds per rate, SQLite (synchronous=FULL)\n", seconds)
	fmt.Printf("%8s %8s %10s %10s %10s\n", "rate/s", "sent", "p50", "p99", "errors")
	unique, best := 0, 0
	for _, rate := range rates {
		n := rate * seconds
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = makeBody()
		}
		latencies := make([]time.Duration, 0, n+n/10)
		var mu sync.Mutex
		var wg sync.WaitGroup
		errors := 0
		send := func(id string, body []byte) {
			defer wg.Done()
			started := time.Now()
			status, err := post(client, hook, id, body)
			d := time.Since(started)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || status != http.StatusOK {
				errors++
				return
			}
			latencies = append(latencies, d)
		}
		interval := time.Second / time.Duration(rate)
		start := time.Now()
		for i, body := range bodies {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
			id := fmt.Sprintf("ingest-%d-%d", rate, i)
			wg.Add(1)
			go send(id, body)
			if i%10 == 0 {
				wg.Add(1)
				go send(id, body) // a redelivery
			}
		}
		wg.Wait()
		unique += n
		slices.Sort(latencies)
		p50, p99 := quantile(latencies, 0.50), quantile(latencies, 0.99)
		fmt.Printf("%8d %8d %10s %10s %10d\n", rate, n+(n+9)/10, ms(p50), ms(p99), errors)
		if p99 < 100*time.Millisecond && errors == 0 {
			best = rate
		}
	}
	fmt.Printf("highest rate with p99 under 100 ms: %d/s (target: p99 < 25 ms at 200/s)\n", best)

	// Every unique delivery must become exactly one task, once the intake
	// has caught up. The poll is slower than waitFor's: listing thousands
	// of tasks every 20ms slows the intake it waits for.
	deadline := time.Now().Add(5 * time.Minute)
	var list []*tasks.Task
	for {
		list, err = srv.Queue().List(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if len(list) >= unique || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]bool{}
	for _, t := range list {
		if seen[t.DeliveryID] {
			b.Fatalf("delivery %s made two tasks", t.DeliveryID)
		}
		seen[t.DeliveryID] = true
	}
	fmt.Printf("unique deliveries sent: %d, tasks created: %d\n", unique, len(list))
	if len(list) != unique {
		b.Fatalf("%d tasks for %d deliveries", len(list), unique)
	}
}

func post(client *http.Client, url, id string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	githubtest.SignDelivery(req, webhookSecret, "issues", id, body)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }

// holdingRunner holds every attempt until the bot stops.
type holdingRunner struct{}

func (holdingRunner) Run(ctx context.Context, _ *tasks.Task) (tasks.State, string, error) {
	<-ctx.Done()
	return tasks.Failed, "stopped", ctx.Err()
}
