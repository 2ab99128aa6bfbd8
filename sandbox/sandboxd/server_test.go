package sandboxd

import "testing"

func TestAnExecOnlyCancelledIsNotRunning(t *testing.T) {
	var s Server
	s.running.Store("ended", cancelled{})
	s.running.Store("live", func(string) {})
	for id, want := range map[string]bool{"ended": false, "live": true, "unknown": false} {
		if got := s.execRunning(id); got != want {
			t.Errorf("execRunning(%q) = %v, want %v", id, got, want)
		}
	}
}
