package call

import (
	"errors"
	"fmt"
)

// State is the controller's user-visible state.
type State int

// The controller states, in the order a healthy call passes through them.
const (
	StateIdle State = iota
	StateConnecting
	StateOffering
	StateConnectingMedia
	StateLive
	StateClosing
	StateRetrying
	StateFailed
	StateWaiting // waiting out a ClientId cooldown before connecting
)

// States lists every state, in declaration order.
var States = []State{StateIdle, StateConnecting, StateOffering, StateConnectingMedia, StateLive, StateClosing, StateRetrying, StateFailed, StateWaiting}

var stateNames = [...]string{"Idle", "Connecting", "Offering", "Connecting media", "Live", "Closing", "Retrying", "Failed", "Waiting"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// Transition is one allowed move of the state machine, with what causes it.
type Transition struct {
	From, To State
	Cause    string
}

// Transitions is the controller's whole life cycle: every allowed move and
// its cause. Nothing else is allowed; docs/architecture.md draws this table
// (a test keeps the two in sync).
var Transitions = []Transition{
	{StateIdle, StateConnecting, "connect"},
	{StateIdle, StateWaiting, "connect, every ClientId cooling down"},

	{StateWaiting, StateConnecting, "a ClientId is free"},
	{StateWaiting, StateWaiting, "still cooling down"},
	{StateWaiting, StateIdle, "disconnect"},
	{StateWaiting, StateClosing, "disconnect, a teardown still runs"},

	{StateConnecting, StateOffering, "offer sent"},
	{StateConnecting, StateClosing, "failure, disconnect or reconnect"},

	{StateOffering, StateConnectingMedia, "answer received"},
	{StateOffering, StateClosing, "failure (no answer), disconnect or reconnect"},

	{StateConnectingMedia, StateLive, "first frame decoded"},
	{StateConnectingMedia, StateClosing, "failure, disconnect or reconnect"},

	{StateLive, StateClosing, "failure, disconnect or reconnect"},

	{StateClosing, StateIdle, "every teardown done"},
	{StateClosing, StateConnecting, "reconnect"},
	{StateClosing, StateWaiting, "reconnect, every ClientId cooling down"},
	{StateClosing, StateRetrying, "failure, retries left"},
	{StateClosing, StateFailed, "failure, not retryable or no retries left"},

	{StateRetrying, StateConnecting, "backoff over, or reconnect"},
	{StateRetrying, StateWaiting, "backoff over, every ClientId cooling down"},
	{StateRetrying, StateIdle, "disconnect"},
	{StateRetrying, StateClosing, "disconnect, a teardown still runs"},

	{StateFailed, StateConnecting, "connect or reconnect"},
	{StateFailed, StateWaiting, "connect, every ClientId cooling down"},
	{StateFailed, StateIdle, "disconnect"},
	{StateFailed, StateClosing, "disconnect, a teardown still runs"},
}

// ErrIllegalTransition is returned for a move the transition table does not
// allow. It is always a bug in the controller.
var ErrIllegalTransition = errors.New("illegal state transition")

var allowed = func() map[State]map[State]bool {
	m := map[State]map[State]bool{}
	for _, t := range Transitions {
		if m[t.From] == nil {
			m[t.From] = map[State]bool{}
		}
		m[t.From][t.To] = true
	}
	return m
}()

// CanMove reports whether the table allows moving from one state to another.
func CanMove(from, to State) bool { return allowed[from][to] }

// machine holds the controller's state; only the event loop changes it.
type machine struct {
	state State
}

// moveTo changes the state when the table allows it, and otherwise leaves
// it as it is and returns ErrIllegalTransition.
func (m *machine) moveTo(to State) error {
	if !CanMove(m.state, to) {
		return fmt.Errorf("%w: %s -> %s", ErrIllegalTransition, m.state, to)
	}
	m.state = to
	return nil
}
