package githubapi

import "context"

type waitsKey struct{}

// WithWaits returns ctx with waits attached: a write made with it stops
// waiting, for its turn in the Throttle or to retry, once waits ends,
// while a request already sent runs to its end. Ending the request itself
// would not take it back from GitHub, which might apply it after a later
// one.
func WithWaits(ctx, waits context.Context) context.Context {
	return context.WithValue(ctx, waitsKey{}, waits)
}

// waitsDone is the channel that ends ctx's waits early, or nil.
func waitsDone(ctx context.Context) <-chan struct{} {
	if waits, ok := ctx.Value(waitsKey{}).(context.Context); ok {
		return waits.Done()
	}
	return nil
}

// waitsErr is why ctx's waits ended, or nil.
func waitsErr(ctx context.Context) error {
	if waits, ok := ctx.Value(waitsKey{}).(context.Context); ok {
		return waits.Err()
	}
	return nil
}
