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

// waitsOf is what ends ctx's waits early; without one, nothing does.
func waitsOf(ctx context.Context) context.Context {
	if waits, ok := ctx.Value(waitsKey{}).(context.Context); ok {
		return waits
	}
	return context.Background()
}
