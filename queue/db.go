// Package queue keeps oneshot's work durable: the record of every task with
// the history of its states, the deliveries already seen, and the River job
// queue that runs intake and task attempts. It runs on SQLite by default and
// on Postgres when several replicas share the work.
//
// A webhook's trigger is made durable in the inbox before GitHub gets its
// answer (Accept), and forwarded to River with its delivery recorded in the
// same transaction as its job, so an acknowledged delivery is never lost and
// a redelivered one never runs twice.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/oneshot-dev/oneshot/internal/filelock"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, without cgo
)

// sqlitePragmas make SQLite a safe queue: WAL lets readers run beside the
// writer, FULL synchronous makes a commit survive power loss (a delivery is
// acknowledged only after its commit), and a busy timeout waits for the
// lock instead of failing.
const sqlitePragmas = "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"

// DB is the database behind tasks and the queue.
type DB struct {
	sql     *sql.DB
	driver  riverdriver.Driver[*sql.Tx]
	dialect string // "sqlite" or "postgres"
	// path is the SQLite file, "" on Postgres and in memory.
	path string
	// inbox holds accepted triggers (see inbox.go): a database of its own
	// on SQLite, the same one on Postgres.
	inbox       *sql.DB
	inboxWriter inboxWriter
}

// Open connects to the database named by url and brings its schema up to
// date: River's tables and ours. url is "sqlite:PATH", "sqlite::memory:",
// or "postgres://...". SQLite keeps the inbox beside PATH, in InboxPath.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := open(url)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		// The first use is where a database that cannot be opened
		// shows, in the driver's words, which name neither it nor why.
		if db.path != "" {
			if _, statErr := os.Stat(filepath.Dir(db.path)); errors.Is(statErr, fs.ErrNotExist) {
				return nil, fmt.Errorf("database %s: the directory %s is not there; make it, or name another", redact(url), filepath.Dir(db.path))
			}
		}
		return nil, fmt.Errorf("database %s: %w", redact(url), err)
	}
	return db, nil
}

func open(rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(rawURL, "sqlite:")
		if path == "" {
			return nil, errors.New("database url sqlite: needs a path, as in sqlite:oneshot.db")
		}
		if strings.ContainsAny(path, "?#") {
			// SQLite's settings are oneshot's to choose (see sqlitePragmas),
			// and a query would also end up in the inbox's file name.
			return nil, fmt.Errorf("database url %q: a sqlite: url is a file path and takes no query; oneshot sets SQLite's pragmas itself", redact(rawURL))
		}
		sdb, err := openSQLite(path)
		if err != nil {
			return nil, err
		}
		inbox, err := openSQLite(InboxPath(path))
		if err != nil {
			sdb.Close()
			return nil, err
		}
		db := &DB{sql: sdb, driver: riversqlite.New(sdb), dialect: "sqlite", inbox: inbox}
		if path != ":memory:" {
			db.path = path
		}
		return db, nil
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		sdb, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
		}
		// Bounded: the health check and the task pages answer anyone, and
		// without a bound a burst of them would open a connection each,
		// up to the server's limit, which River and other replicas share.
		sdb.SetMaxOpenConns(maxPostgresConns)
		sdb.SetMaxIdleConns(maxPostgresConns / 2)
		return &DB{sql: sdb, driver: riverdatabasesql.New(sdb), dialect: "postgres", inbox: sdb}, nil
	default:
		return nil, fmt.Errorf("database url %q: want sqlite:PATH or postgres://...", redact(rawURL))
	}
}

// maxPostgresConns is how many connections one bot process opens to
// Postgres at most; each query is short, workers included.
const maxPostgresConns = 20

// openSQLite opens one SQLite database, path or ":memory:".
func openSQLite(path string) (*sql.DB, error) {
	dsn := "file:" + path + "?" + sqlitePragmas
	if path == ":memory:" || path == InboxPath(":memory:") {
		// One shared in-memory database for the one connection.
		dsn = "file:" + path + "?mode=memory&cache=shared&" + sqlitePragmas
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite allows one writer at a time; River's own advice is a pool of
	// one, which turns lock contention into orderly waiting in Go.
	sdb.SetMaxOpenConns(1)
	return sdb, nil
}

// InboxPath is where SQLite keeps the inbox of a database at path:
// oneshot.db's is oneshot.inbox.db.
func InboxPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".inbox" + ext
}

// Close closes the database.
func (db *DB) Close() error {
	err := db.sql.Close()
	if db.inbox != db.sql {
		err = errors.Join(err, db.inbox.Close())
	}
	return err
}

// Ping checks that the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return err
	}
	return db.inbox.PingContext(ctx)
}

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

func (db *DB) migrate(ctx context.Context) error {
	// Processes starting together (replicas, or one that only takes
	// webhooks in beside one that works) would run the same migrations at
	// once, and all but one fail on what another just created.
	switch {
	case db.dialect == "postgres":
		unlock, err := db.lockMigrations(ctx)
		if err != nil {
			return err
		}
		defer unlock()
	case db.path != "":
		lock, err := filelock.Lock(ctx, db.path+".migrate", migrationWait)
		if err != nil {
			return fmt.Errorf("lock the schema for migrations: %w", err)
		}
		defer lock.Close()
	}
	migrator, err := rivermigrate.New(db.driver, nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if err := migrateSchema(ctx, db.sql, "oneshot_migrations", migrations); err != nil {
		return err
	}
	return migrateSchema(ctx, db.inbox, "oneshot_inbox_migrations", inboxMigrations)
}

// migrationLock is the advisory lock that one process at a time holds
// while it brings a Postgres schema up to date: "onmi", then 0.
const migrationLock = 0x6f6e6d69

// migrationWait bounds the wait for another process's migrations on
// SQLite, which take a second or two.
const migrationWait = 2 * time.Minute

// lockMigrations waits for the migration lock, on a connection of its own
// (the lock is the session's), and returns what lets it go.
func (db *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock the schema for migrations: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, 0)`, migrationLock); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock the schema for migrations: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, 0)`, migrationLock)
		conn.Close()
	}, nil
}

// tx runs fn in a transaction, committed when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// redact drops the password from a database URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}
