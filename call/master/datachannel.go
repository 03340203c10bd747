package master

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// The demo master's side of the data channel a viewer opens: it echoes the
// viewer's round-trip pings, keeps the other messages (Messages), and sends
// its own greeting every few seconds, as a person at the camera might.

// pingPrefix starts a viewer's round-trip ping (see call's data channel):
// the master sends it straight back.
const pingPrefix = "kvsviewer-ping "

// greetInterval spaces the master's own messages.
const greetInterval = 2 * time.Second

// dataLog is what a viewer said on its data channels.
type dataLog struct {
	mu   sync.Mutex
	msgs []string
}

func (d *dataLog) add(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.msgs) < 1000 {
		d.msgs = append(d.msgs, text)
	}
}

func (d *dataLog) all() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.msgs...)
}

// onDataChannel answers the data channels the viewer opens, unless the
// master runs without (Options.NoDataChannel: it then never replies on one).
func (v *viewer) onDataChannel(log *slog.Logger) {
	if v.m.o.NoDataChannel {
		return
	}
	v.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(msg webrtc.DataChannelMessage) {
			text := string(msg.Data)
			if strings.HasPrefix(text, pingPrefix) {
				_ = dc.SendText(text) // a closed channel has no one to answer
				return
			}
			v.data.add(text)
			log.Debug("data channel message", "bytes", len(text))
		})
		dc.OnOpen(func() {
			v.goFunc(func() { v.greet(dc) })
		})
	})
}

// greet sends the master's own message every greetInterval until the
// viewer's connection ends.
func (v *viewer) greet(dc *webrtc.DataChannel) {
	tick := time.NewTicker(greetInterval)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-v.ctx.Done():
			return
		case now := <-tick.C:
			if dc.ReadyState() != webrtc.DataChannelStateOpen {
				return
			}
			if err := dc.SendText(fmt.Sprintf("hello from the demo master #%d at %s", n, now.Format("15:04:05"))); err != nil {
				return
			}
		}
	}
}

// Messages returns what the viewer with clientID sent on the data channels
// of its current connection (the pings aside), oldest first.
func (m *Master) Messages(clientID string) []string {
	m.mu.Lock()
	v := m.viewers[clientID]
	m.mu.Unlock()
	if v == nil {
		return nil
	}
	return v.data.all()
}
