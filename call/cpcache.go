package call

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// ICE servers with less than iceMinValid left are never used: a session
// fetches new ones on its critical path. While a call is up the controller
// fetches new ones in the background iceRefreshAhead before they expire, so
// that a Reconnect finds valid ones.
const (
	iceMinValid     = time.Minute
	iceRefreshAhead = 2 * time.Minute
	// iceRefreshTimeout bounds one background fetch.
	iceRefreshTimeout = 10 * time.Second
	// iceDefaultTTL is how long ICE servers without TURN credentials (nothing
	// that expires) are kept.
	iceDefaultTTL = 5 * time.Minute
)

// cpCache keeps what outlives a call: the controller's one AWS configuration
// (its credentials cache and its HTTP client with keep-alive connections and
// TLS sessions), and the control-plane answers: the channel ARN and endpoints
// (stable) and the ICE servers (until shortly before they expire). A session
// whose answers are all here makes no control-plane request.
type cpCache struct {
	mu      sync.Mutex // guards key, res and the refresh below
	key     string
	res     *controlPlaneResult // never changed once stored: replaced whole
	refresh *time.Timer         // the background ICE refresh armed, nil when none
	closed  bool                // close was called: nothing is armed any more
	bg      sync.WaitGroup      // the refresh armed or running

	load  sync.Mutex // held while the AWS configuration loads: one load for concurrent sessions
	cfgMu sync.Mutex // guards cfg only, never held long (the loop takes it)
	cfg   *kvs.Config

	// inUse says a call is under way (set by the loop): the background
	// refresh runs only then, not for a controller left idle for hours.
	inUse atomic.Bool
}

// controlPlaneResult are the control-plane answers a session uses.
type controlPlaneResult struct {
	channel   kvs.Channel
	endpoints kvs.Endpoints
	ice       kvs.ICEConfig
	loopback  bool
}

// lookup returns a copy of the cached answers for channel.
func (p *cpCache) lookup(channel string) (controlPlaneResult, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.res == nil || p.key != channel {
		return controlPlaneResult{}, false
	}
	return *p.res, true
}

// store keeps a copy of res as the answers for channel.
func (p *cpCache) store(channel string, res controlPlaneResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key, p.res = channel, &res
}

// invalidateICE makes the next session fetch new ICE servers (the service
// asked for it).
func (p *cpCache) invalidateICE() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.res != nil {
		r := *p.res
		r.ice.Expires = time.Time{}
		p.res = &r
	}
}

// fetchICE gets the channel's ICE servers (with an expiry even when nothing
// in them expires).
func fetchICE(ctx context.Context, cp *kvs.ControlPlane, res controlPlaneResult, clientID string) (kvs.ICEConfig, error) {
	ice, err := cp.GetICEServers(ctx, res.endpoints, res.channel.ARN, clientID)
	if err != nil {
		return kvs.ICEConfig{}, err
	}
	if ice.Expires.IsZero() {
		ice.Expires = time.Now().Add(iceDefaultTTL)
	}
	return ice, nil
}

// scheduleICERefresh arms the background refresh of channel's ICE servers,
// unless one is armed: it fires iceRefreshAhead before they expire (at the
// latest half-way to expiry) and, if a call is still under way then, fetches
// new ones and arms the next. A failed refresh is only logged: the next
// session then fetches them on its critical path.
func (p *cpCache) scheduleICERefresh(cfg kvs.Config, channel, clientID string, log *slog.Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.refresh != nil || p.res == nil || p.key != channel {
		return
	}
	left := time.Until(p.res.ice.Expires)
	wait := max(left-iceRefreshAhead, left/2)
	p.bg.Add(1)
	p.refresh = time.AfterFunc(wait, func() {
		defer p.bg.Done()
		if !p.refreshICE(cfg, channel, clientID, log) {
			return
		}
		p.scheduleICERefresh(cfg, channel, clientID, log)
	})
}

// refreshICE is the background refresh; it reports whether new ICE servers
// were stored (and the next refresh is to be armed).
func (p *cpCache) refreshICE(cfg kvs.Config, channel, clientID string, log *slog.Logger) bool {
	p.mu.Lock()
	p.refresh = nil
	res, ok := p.res, p.res != nil && p.key == channel && !p.closed
	p.mu.Unlock()
	if !ok || !p.inUse.Load() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), iceRefreshTimeout)
	defer cancel()
	ice, err := fetchICE(ctx, kvs.NewControlPlane(cfg), *res, clientID)
	if err != nil {
		log.Info("background refresh of the ICE servers failed; the next call fetches them", "error", err)
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.res == nil || p.key != channel {
		return false
	}
	r := *p.res
	r.ice = ice
	p.res = &r
	return true
}

// awsConfig returns the controller's AWS configuration, loading it on first
// use. A load that failed is not kept: the next session tries again.
func (p *cpCache) awsConfig(ctx context.Context, o kvs.AWSOptions) (kvs.Config, error) {
	p.load.Lock()
	defer p.load.Unlock()
	if cfg := p.loaded(); cfg != nil {
		return *cfg, nil
	}
	cfg, err := kvs.LoadAWSConfig(ctx, o)
	if err != nil {
		return kvs.Config{}, err
	}
	p.cfgMu.Lock()
	p.cfg = &cfg
	p.cfgMu.Unlock()
	return cfg, nil
}

// loaded is the AWS configuration, nil before the first load.
func (p *cpCache) loaded() *kvs.Config {
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	return p.cfg
}

// closeIdle closes the HTTP client's idle keep-alive connections (when no call
// is up nothing should be left open; a new connection resumes its TLS session).
func (p *cpCache) closeIdle() {
	if cfg := p.loaded(); cfg != nil {
		cfg.CloseIdleConnections()
	}
}

// forget drops the AWS configuration (after closing its idle connections) and
// the control-plane answers, so that the next session loads everything anew
// (for credentials that were refused: the user may fix them on disk). A
// refresh armed is stopped; one running finds nothing to update.
func (p *cpCache) forget() {
	p.mu.Lock()
	p.key, p.res = "", nil
	if p.refresh != nil && p.refresh.Stop() {
		p.bg.Done()
	}
	p.refresh = nil
	p.mu.Unlock()
	p.cfgMu.Lock()
	if p.cfg != nil {
		p.cfg.CloseIdleConnections()
		p.cfg = nil
	}
	p.cfgMu.Unlock()
}

// close forgets everything, arms nothing any more and waits for a refresh
// that is running (bounded by iceRefreshTimeout): the controller's end.
func (p *cpCache) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	cfg := p.loaded()
	p.forget()
	p.bg.Wait()
	if cfg != nil {
		cfg.CloseIdleConnections() // the connection of a refresh that was running
	}
}
