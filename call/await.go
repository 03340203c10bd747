package call

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrEventsClosed is returned by Await when the event stream ends first
// (the controller was closed or the subscription ended).
var ErrEventsClosed = errors.New("event stream closed")

// Await reads events until match returns true for one and returns that
// event. Every event read, the matching one included, is first handed to
// each (when not nil), so a caller can log or forward the stream while it
// waits. It returns ctx's error (wrapped) when ctx ends first, and
// ErrEventsClosed when the stream does.
func Await(ctx context.Context, events <-chan Event, match func(Event) bool, each func(Event)) (Event, error) {
	for {
		select {
		case <-ctx.Done():
			return Event{}, fmt.Errorf("waiting for an event: %w", ctx.Err())
		case e, ok := <-events:
			if !ok {
				return Event{}, ErrEventsClosed
			}
			if each != nil {
				each(e)
			}
			if match(e) {
				return e, nil
			}
		}
	}
}

// AwaitState waits until the controller is in one of states: at once when
// it already is, else at the next state event that says so. events must be
// a subscription of c taken before the action whose outcome is awaited.
func AwaitState(ctx context.Context, c *Controller, events <-chan Event, each func(Event), states ...State) (Event, error) {
	if slices.Contains(states, c.State()) {
		return Event{Kind: EventState, State: c.State()}, nil
	}
	return Await(ctx, events, IsState(states...), each)
}

// IsState matches a state event for one of states.
func IsState(states ...State) func(Event) bool {
	return func(e Event) bool { return e.Kind == EventState && slices.Contains(states, e.State) }
}

// IsPhase matches the event of phase p.
func IsPhase(p Phase) func(Event) bool {
	return func(e Event) bool { return e.Kind == EventPhase && e.Phase == p }
}

// IsKind matches any event of kind k.
func IsKind(k EventKind) func(Event) bool {
	return func(e Event) bool { return e.Kind == k }
}
