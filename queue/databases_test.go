package queue

import (
	"path/filepath"
	"testing"

	"github.com/oneshot-dev/oneshot/internal/pgtest"
)

// Databases runs a test against SQLite and against Postgres. It is
// exported for the package's outside tests, which share this test binary.
func Databases(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, "sqlite:"+filepath.Join(t.TempDir(), "oneshot.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, pgtest.URL(t))
	})
}
