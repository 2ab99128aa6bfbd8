// Package pgtest gives tests a real, empty Postgres database.
//
// With ONESHOT_TEST_POSTGRES_URL set (a URL whose user may create
// databases), it uses that server. Otherwise it starts a private server from
// the installed PostgreSQL binaries, once per test binary, listening only on
// 127.0.0.1, and stops it when the binary exits through Main.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// EnvURL names a Postgres server to use instead of a private one.
const EnvURL = "ONESHOT_TEST_POSTGRES_URL"

var (
	once      sync.Once
	serverURL string
	serverErr error
	stop      func()
)

// Main runs the tests and then stops the private server, if one started.
// Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if stop != nil {
		stop()
	}
	return code
}

// URL returns the URL of a new, empty database that lives as long as the
// server.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if env := os.Getenv(EnvURL); env != "" {
			serverURL = env
			return
		}
		serverURL, stop, serverErr = startServer()
	})
	if serverErr != nil {
		t.Fatalf("these tests need PostgreSQL (apt-get install postgresql, or set %s): %v", EnvURL, serverErr)
	}
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "oneshot_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// startServer runs initdb and postgres in a temporary directory. Postgres
// refuses to run as root, so as root it runs as the postgres user.
func startServer() (_ string, _ func(), err error) {
	bin, err := findBinaries()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "oneshot-pgtest-")
	if err != nil {
		return "", nil, err
	}
	// Until the server is up, any failure leaves nothing behind.
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	runAs := func(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			return "", nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", nil, err
		}
		runAs = func(name string, args ...string) *exec.Cmd {
			cmd := exec.Command(name, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			cmd.Env = append(os.Environ(), "HOME="+dir)
			return cmd
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := runAs(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	server := runAs(filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-k", dir, "-c", "fsync=off", "-c", "max_connections=200")
	if err := server.Start(); err != nil {
		return "", nil, fmt.Errorf("start postgres: %w", err)
	}
	halt := func() {
		// SIGINT is Postgres's fast shutdown; a server that ignores it
		// for long is killed.
		_ = server.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() {
			_ = server.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = server.Process.Kill()
			<-done
		}
	}
	u := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := waitReady(u, 30*time.Second); err != nil {
		halt()
		return "", nil, err
	}
	return u, func() { halt(); os.RemoveAll(dir) }, nil
}

func findBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no initdb found")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until the server accepts a query.
func waitReady(u string, timeout time.Duration) error {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for {
		err := db.PingContext(context.Background())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %v: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
