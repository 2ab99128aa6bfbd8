package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTheHTTPServerBoundsEveryPartOfARequest checks the timeouts are set
// rather than waiting them out, which would take half a minute each.
func TestTheHTTPServerBoundsEveryPartOfARequest(t *testing.T) {
	s := newHTTPServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": s.ReadHeaderTimeout,
		"ReadTimeout":       s.ReadTimeout,
		"WriteTimeout":      s.WriteTimeout,
		"IdleTimeout":       s.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s is not set", name)
		}
	}
}

// delivery posts a webhook-shaped request to url, with the headers given.
func delivery(t *testing.T, url string, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var deliveryHeaders = map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00", "X-GitHub-Delivery": "d1"}

func TestWhatIsPlainlyNotADeliveryIsRefusedUnread(t *testing.T) {
	var read atomic.Bool
	srv := httptest.NewServer(admitWebhooks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { read.Store(true) })))
	defer srv.Close()
	for name, tc := range map[string]struct {
		headers map[string]string
		status  int
	}{
		"a form":             {map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Hub-Signature-256": "sha256=00"}, http.StatusUnsupportedMediaType},
		"no signature":       {map[string]string{"Content-Type": "application/json"}, http.StatusBadRequest},
		"an SHA-1 signature": {map[string]string{"Content-Type": "application/json", "X-Hub-Signature": "sha1=00"}, http.StatusBadRequest},
		"no delivery ID":     {map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}, http.StatusBadRequest},
	} {
		if status := delivery(t, srv.URL, tc.headers); status != tc.status || read.Load() {
			t.Errorf("%s: status %d, read %v; want %d unread", name, status, read.Load(), tc.status)
		}
	}
}

func TestOnlySoManyWebhookBodiesAreReadAtOnce(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(admitWebhooks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})))
	defer srv.Close()
	done := make(chan int, maxWebhookReads)
	for range maxWebhookReads {
		go func() { done <- delivery(t, srv.URL, deliveryHeaders) }()
		<-entered
	}
	// All are being read: one more waits admitWait, then is refused.
	if status := delivery(t, srv.URL, deliveryHeaders); status != http.StatusServiceUnavailable {
		t.Fatalf("status %d with %d bodies being read, want 503", status, maxWebhookReads)
	}
	close(release)
	for range maxWebhookReads {
		if status := <-done; status != http.StatusOK {
			t.Fatalf("a delivery read in turn got %d", status)
		}
	}
	go func() { <-entered }()
	if status := delivery(t, srv.URL, deliveryHeaders); status != http.StatusOK {
		t.Fatalf("status %d once the others were read", status)
	}
}

// Senders that trickle their bodies hold every reading place: each is
// cut off soon enough that a delivery arriving meanwhile is still read.
func TestSlowSendersCannotKeepADeliveryFromBeingRead(t *testing.T) {
	entered := make(chan struct{}, maxWebhookReads+1)
	srv := httptest.NewServer(admitWebhooks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body not read", http.StatusRequestTimeout)
		}
	})))
	defer srv.Close()
	for range maxWebhookReads {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: oneshot\r\nContent-Type: application/json\r\n"+
			"X-Hub-Signature-256: sha256=00\r\nX-GitHub-Delivery: d1\r\nContent-Length: 100000\r\n\r\n{\"action\":")
		<-entered
	}
	// Every place is taken by a body that will never end.
	if status := delivery(t, srv.URL, deliveryHeaders); status != http.StatusOK {
		t.Fatalf("a delivery behind slow senders got %d", status)
	}
}

func TestEveryAnswerIsKeptFromCachesSearchEnginesAndOtherSites(t *testing.T) {
	rec := httptest.NewRecorder()
	guarded(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/tasks/t0000000000000000", nil))
	for header, want := range map[string]string{
		"Cache-Control":           "no-store",
		"X-Robots-Tag":            "noindex",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := rec.Header().Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
}
