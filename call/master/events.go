package master

import "time"

// EventKind names what happened to a viewer of the master.
type EventKind string

// The master's events, in the order a viewer's call passes through them.
const (
	ViewerJoined EventKind = "viewer_joined" // an offer of a new viewer (or a new connection of one)
	Answered     EventKind = "answered"      // the answer went out
	ICEConnected EventKind = "ice_connected" // the viewer's peer connection is up
	FirstFrame   EventKind = "first_frame"   // the first frame of the viewer's video decoded
	ViewerLeft   EventKind = "viewer_left"   // the viewer's peer connection closed or failed
)

// Event is something that happened to one viewer, for Options.OnEvent
// (`kvsviewer master --json` prints them).
type Event struct {
	Time     time.Time
	Kind     EventKind
	ClientID string
	Width    int    // FirstFrame: the viewer's picture
	Height   int    //
	Codec    string // FirstFrame
	Detail   string // words, e.g. why a viewer left
}

// emit hands an event to Options.OnEvent, if set.
func (m *Master) emit(e Event) {
	if m.o.OnEvent == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	m.o.OnEvent(e)
}
