package queue

import (
	"context"
	"testing"
	"time"
)

func TestTheQueuePrunesOldDeliveryAndReplyRecords(t *testing.T) {
	Databases(t, func(t *testing.T, url string) {
		q, _, _ := recordingQueue(t, url)
		ctx := context.Background()
		now, day := time.Now(), 24*time.Hour
		for id, age := range map[string]time.Duration{"old": 31 * day, "recent": 2 * day} {
			execSQL(t, q, `INSERT INTO oneshot_deliveries (delivery_id, event, received_at) VALUES ($1, 'issues', $2)`,
				id, now.Add(-age).UnixMilli())
		}
		for actor, age := range map[string]time.Duration{"old": 8 * day, "recent": time.Hour} {
			execSQL(t, q, `INSERT INTO oneshot_replies (repo, issue, actor, kind, delivery_id, at) VALUES ('o/r', 1, $1, 'refusal', 'd', $2)`,
				actor, now.Add(-age).UnixMilli())
		}
		count := func(query string) int {
			var n int
			if err := q.DB.sql.QueryRowContext(ctx, query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		left := func() (old, recent int) {
			return count(`SELECT (SELECT COUNT(*) FROM oneshot_deliveries WHERE delivery_id = 'old') + (SELECT COUNT(*) FROM oneshot_replies WHERE actor = 'old')`),
				count(`SELECT (SELECT COUNT(*) FROM oneshot_deliveries WHERE delivery_id = 'recent') + (SELECT COUNT(*) FROM oneshot_replies WHERE actor = 'recent')`)
		}

		// The queue prunes as it starts, then every hour.
		startQueue(t, q)
		deadline := time.Now().Add(30 * time.Second)
		for old, _ := left(); old > 0; old, _ = left() {
			if time.Now().After(deadline) {
				t.Fatalf("%d old records are still there", old)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, recent := left(); recent != 2 {
			t.Fatalf("%d of the 2 recent records are left", recent)
		}
	})
}
