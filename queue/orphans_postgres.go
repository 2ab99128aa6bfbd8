package queue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
	"time"
)

// On Postgres several processes may work the queue, so no one lock can say
// that the others are gone, as the SQLite queue's does. Each process holds
// a lock of its own instead: a session-level advisory lock, on a
// connection kept for it alone, whose key is part of the River client ID
// the process works under and so of every job it takes (River appends that
// ID to river_job.attempted_by). Postgres lets the lock go when the
// session ends, which a process's end, however it ends, does. A job still
// running whose last taker's lock is free was left by a process that is
// gone: it is made ready to run again within a minute, not an hour later
// at River's rescue.
//
// The same connection holds a second lock, on the name of the process's
// sandbox owner (Config.Owner), which says that this process may have
// sandboxes of that owner running: another process of the owner started
// on the same database (a second bot serve on one host, or an overlapping
// restart) leaves them alone rather than remove them as left behind.
//
// A connection can also drop while its process lives (a network blip, a
// restarted pooler). The process takes its lock again at its next check,
// and a lock must be seen free for livenessGrace, several checks, before
// its jobs are taken for a gone process's. Jobs taken by clients of any
// other form (an older bot's) are left to River's rescue.

const (
	// livenessClass is the first key of every liveness lock ("ones" in
	// ASCII), which keeps them apart from other users of advisory locks in
	// the same database.
	livenessClass = 0x6f6e6573
	// livenessIDPrefix starts the River client ID of a process that holds
	// a liveness lock; River's own IDs never contain a colon.
	livenessIDPrefix = "oneshot:"
	// livenessCheck is how often a process checks it still holds its lock
	// and looks for jobs of processes that are gone.
	livenessCheck = 5 * time.Second
	// livenessGrace is how long a lock must be seen free before its jobs
	// are taken for a gone process's: several checks of its owner.
	livenessGrace = 30 * time.Second
	// ownerClass is the first key of every sandbox owner's lock ("onsb").
	ownerClass = 0x6f6e7362
	// livenessTimeout bounds each of the watch's queries: a connection
	// stuck on a server that went away (a failover) is given up and the
	// lock taken again, well within the grace others give it.
	livenessTimeout = 5 * time.Second
)

// liveness is a Postgres queue's lock (see above) and its watch.
type liveness struct {
	key int32
	// id is the River client ID, which names the key.
	id string
	// check and grace are livenessCheck and livenessGrace, shorter in tests.
	check, grace time.Duration

	conn *sql.Conn // holds the lock; nil until taken
	// ownerHeld says conn holds the sandbox owner's lock too.
	ownerHeld bool
	stop      context.CancelFunc
	done      chan struct{}
}

// newLiveness picks a random key and the client ID that names it.
func newLiveness() *liveness {
	var b [4]byte
	_, _ = rand.Read(b[:])
	key := int32(binary.BigEndian.Uint32(b[:]) & 0x7fffffff)
	host, _ := os.Hostname()
	if len(host) > 60 {
		host = host[:60] // River's IDs are at most 100 bytes
	}
	return &liveness{key: key, id: livenessIDPrefix + host + ":" + strconv.Itoa(int(key)),
		check: livenessCheck, grace: livenessGrace}
}

// livenessKey is the key of the lock a River client ID names, if it names one.
func livenessKey(clientID string) (int32, bool) {
	if !strings.HasPrefix(clientID, livenessIDPrefix) {
		return 0, false
	}
	key, err := strconv.ParseInt(clientID[strings.LastIndexByte(clientID, ':')+1:], 10, 32)
	return int32(key), err == nil
}

// takeLiveness takes the process's lock and starts watching: keeping the
// lock, and readying the jobs of processes that are gone. It reports
// whether the process holds its sandbox owner's lock too; when another
// holds it, the watch takes it once that one ends.
func (q *Queue) takeLiveness(ctx context.Context) (ownerHeld bool, err error) {
	if err := q.holdLiveness(ctx); err != nil {
		return false, err
	}
	l := q.liveness
	q.holdOwner(ctx)
	if ownerHeld = l.ownerHeld; !ownerHeld && q.cfg.Owner != "" {
		q.cfg.Logger.Warn().Str("owner", q.cfg.Owner).
			Msg("Another process of this sandbox owner works this queue; this one leaves the sandboxes it finds alone.")
	}
	watch, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop, l.done = stop, make(chan struct{})
	go func() {
		defer close(l.done)
		q.watchLiveness(watch)
	}()
	return ownerHeld, nil
}

// holdOwner takes the sandbox owner's lock on the liveness lock's
// connection, unless it holds it already or there is no owner.
func (q *Queue) holdOwner(parent context.Context) {
	l := q.liveness
	if q.cfg.Owner == "" || l.conn == nil || l.ownerHeld {
		return
	}
	ctx, cancel := context.WithTimeout(parent, livenessTimeout)
	defer cancel()
	// A lock taken whose answer was lost is held by the session all the
	// same, and taken again at the next check: a session may stack them.
	if err := l.conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, ownerClass, ownerKey(q.cfg.Owner)).Scan(&l.ownerHeld); err != nil {
		q.cfg.Logger.Warn().Err(err).Msg("Could not take the sandbox owner's lock; trying again at the next check.")
	}
}

// ownerKey is the second key of a sandbox owner's lock.
func ownerKey(owner string) int32 {
	h := fnv.New32a()
	h.Write([]byte(owner))
	return int32(h.Sum32() & 0x7fffffff)
}

// holdLiveness makes sure the process holds its lock, on a connection of
// its own, taking it again when its connection was lost.
func (q *Queue) holdLiveness(parent context.Context) error {
	l := q.liveness
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(parent, livenessTimeout)
		defer cancel()
		var held bool
		err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted
				AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2)`,
			livenessClass, l.key).Scan(&held)
		if err == nil && held {
			return nil
		}
		if parent.Err() != nil {
			return parent.Err() // the watch ends: the lock is let go after it
		}
		q.cfg.Logger.Warn().Err(err).Msg("This process's liveness lock was lost with its connection; taking it again.")
		discard(l.conn)
		l.conn, l.ownerHeld = nil, false
	}
	ctx, cancel := context.WithTimeout(parent, livenessTimeout)
	defer cancel()
	conn, err := q.DB.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("the liveness lock: %w", err)
	}
	var took bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, livenessClass, l.key).Scan(&took); err != nil {
		discard(conn) // it may hold the lock, its answer lost
		return fmt.Errorf("the liveness lock: %w", err)
	}
	if !took {
		conn.Close()
		return fmt.Errorf("the liveness lock %d is held by another process; start this one again to draw another", l.key)
	}
	l.conn = conn
	return nil
}

// watchLiveness keeps the lock and readies gone processes' jobs until ctx ends.
func (q *Queue) watchLiveness(ctx context.Context) {
	l := q.liveness
	freeSince := map[int32]time.Time{} // the locks of running jobs' takers seen free, since when
	tick := time.NewTicker(l.check)
	defer tick.Stop()
	for {
		if err := q.holdLiveness(ctx); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Error().Err(err).Msg("Could not take this process's liveness lock again; other processes may run its jobs again.")
		}
		if !l.ownerHeld {
			q.holdOwner(ctx)
			if l.ownerHeld {
				q.cfg.Logger.Info().Str("owner", q.cfg.Owner).Msg("Took the sandbox owner's lock: no other process of the owner holds it now.")
				// The process that held it may have died: its sandboxes go,
				// this process's own left alone.
				if q.cfg.LeftBehind != nil {
					q.cfg.LeftBehind(ctx)
				}
			}
		}
		scan, cancel := context.WithTimeout(ctx, livenessTimeout)
		err := q.readyGoneProcessesJobs(scan, freeSince, time.Now())
		cancel()
		if err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn().Err(err).Msg("Could not look for jobs left running by processes that are gone.")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readyGoneProcessesJobs makes ready again the running jobs whose takers'
// locks have been free for the grace period, as River's rescue would, and
// updates freeSince. Like readyGoneWorkersJobs on SQLite, it gives an attempt's
// job on its last try one more, so that its last try ends it visibly.
func (q *Queue) readyGoneProcessesJobs(ctx context.Context, freeSince map[int32]time.Time, now time.Time) error {
	l := q.liveness
	takers, err := q.runningJobsTakers(ctx)
	if err != nil {
		return err
	}
	held, err := q.heldLivenessKeys(ctx)
	if err != nil {
		return err
	}
	free := map[int32]bool{}
	for _, taker := range takers {
		key, ok := livenessKey(taker)
		if !ok || key == l.key || held[key] {
			continue
		}
		free[key] = true
		since, seen := freeSince[key]
		if !seen {
			freeSince[key] = now
			continue
		}
		if now.Sub(since) < l.grace {
			continue
		}
		n, err := q.DB.readyTakersJobs(ctx, taker)
		if err != nil {
			return err
		}
		q.cfg.Logger.Info().Str("process", taker).Int64("jobs", n).
			Msg("Running again the jobs of a process that is gone.")
	}
	for key := range freeSince {
		if !free[key] {
			delete(freeSince, key)
		}
	}
	return nil
}

// heldLivenessKeys is the set of liveness locks held in this database.
func (q *Queue) heldLivenessKeys(ctx context.Context) (map[int32]bool, error) {
	rows, err := q.DB.sql.QueryContext(ctx, `SELECT objid::bigint FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objsubid = 2
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, livenessClass)
	if err != nil {
		return nil, fmt.Errorf("list liveness locks: %w", err)
	}
	defer rows.Close()
	held := map[int32]bool{}
	for rows.Next() {
		var key int64
		if err := rows.Scan(&key); err != nil {
			return nil, err
		}
		held[int32(key)] = true
	}
	return held, rows.Err()
}

// release stops the watch and lets the lock go.
func (l *liveness) release() {
	if l == nil {
		return
	}
	if l.stop != nil {
		l.stop()
		<-l.done
		l.stop = nil
	}
	if l.conn != nil {
		discard(l.conn)
		l.conn = nil
	}
}

// discard closes conn's session rather than return it to the pool, which
// lets go of the lock it may hold, with no query to wait on.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
