package server

import (
	"net/http"
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
