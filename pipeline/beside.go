package pipeline

import (
	"context"
	"fmt"
	"runtime/debug"
)

// beside is work an attempt does on a goroutine of its own, beside its
// steps, for a later step to take: starting the sandbox while setup
// fetches the task's branch, asking GitHub and ranking the files while the
// setup commands run.
type beside[T any] struct {
	what   string
	done   chan struct{}
	cancel context.CancelFunc
	value  T
	err    error
	// panicked is what the work panicked with, and where: a panic on its
	// own goroutine would end the bot, and every task it runs.
	panicked any
	stack    []byte
}

// begin begins work beside the steps; what names it in a panic passed on.
func begin[T any](ctx context.Context, what string, work func(context.Context) (T, error)) *beside[T] {
	ctx, cancel := context.WithCancel(ctx)
	b := &beside[T]{what: what, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(b.done)
		defer func() {
			if v := recover(); v != nil {
				b.panicked, b.stack = v, debug.Stack()
			}
		}()
		b.value, b.err = work(ctx)
	}()
	return b
}

// take waits for the work to end and returns what it made, and passes on
// a panic in it as this goroutine's, where the attempt's end is shown.
func (b *beside[T]) take(ctx context.Context) (T, error) {
	select {
	case <-b.done:
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
	if b.panicked != nil {
		panic(fmt.Sprintf("%s panicked: %v\n\n%s", b.what, b.panicked, b.stack))
	}
	return b.value, b.err
}

// stop ends the work, if it is still going, and waits for it: nothing of
// an attempt may outlive it. It returns what the work made, for the caller
// to release when no step took it. A panic in work whose result no step
// took, after an earlier step ended the attempt, is not passed on: that
// step's end is the attempt's.
func (b *beside[T]) stop() (T, error) {
	b.cancel()
	<-b.done
	if b.panicked != nil {
		var zero T
		return zero, fmt.Errorf("%s panicked: %v", b.what, b.panicked)
	}
	return b.value, b.err
}
