// Accessors of a running Emulator (endpoint, CA, credentials, environment,
// Stats), its fault setters (SetFaults, ActiveFaults, RelayStats), and the
// ids and ARNs it hands out.

package emulator

import (
	"crypto/x509"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Endpoint is the HTTPS base URL of the control plane and of the signaling endpoints,
// e.g. "https://127.0.0.1:PORT".
func (e *Emulator) Endpoint() string { return e.endpoint }

// Region is the AWS region the emulator answers for.
func (e *Emulator) Region() string { return e.cfg.Region }

// Credentials returns the first accepted credential.
func (e *Emulator) Credentials() aws.Credentials { return e.creds[0] }

// CAPool returns a pool holding only the emulator's CA certificate.
func (e *Emulator) CAPool() *x509.CertPool { return e.pki.caPool.Clone() }

// CAFile is the path of the PEM file holding the emulator's CA certificate.
func (e *Emulator) CAFile() string { return e.caFile }

// TURNAddr is the UDP address ("127.0.0.1:PORT") of the emulator's TURN server.
func (e *Emulator) TURNAddr() string { return e.turn.addr }

// ChannelARN returns the ARN of the named channel, or "" when it does not exist.
func (e *Emulator) ChannelARN(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ch := e.channels[name]; ch != nil {
		return ch.arn
	}
	return ""
}

// Env returns the environment that points an AWS SDK and Go's TLS at the emulator:
// AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_CA_BUNDLE, SSL_CERT_FILE, AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN when the first
// credential has one). It holds a secret: print it for the operator, never log it.
func (e *Emulator) Env() []string {
	c := e.creds[0]
	env := []string{
		"AWS_ENDPOINT_URL_KINESIS_VIDEO=" + e.endpoint,
		"AWS_CA_BUNDLE=" + e.caFile,
		"SSL_CERT_FILE=" + e.caFile,
		"AWS_REGION=" + e.cfg.Region,
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
	}
	if c.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+c.SessionToken)
	}
	return env
}

// lookupCredential finds an accepted credential by access key id.
func (e *Emulator) lookupCredential(id string) (aws.Credentials, bool) {
	for _, c := range e.creds {
		if c.AccessKeyID == id {
			return c, true
		}
	}
	return aws.Credentials{}, false
}

// SetFaults replaces the active faults (and resets their counters). The
// relay faults apply from the next relayed packet on, and a blackout's clock
// starts anew (see Faults.BlackoutFor).
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	e.faults = f
	e.offerCount, e.deliverCount = 0, 0
	e.mu.Unlock()
	e.turn.shaper.set(f)
	e.record(Event{Kind: EventFault, Detail: "set " + f.String()})
}

// RelayStats returns what the TURN server relayed, and dropped or delayed
// under the relay faults, since Start.
func (e *Emulator) RelayStats() RelayStats { return e.turn.shaper.snapshot() }

// ActiveFaults returns the faults in force, with counters as they are now.
func (e *Emulator) ActiveFaults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults
}

// Stats are counters and sizes of what the emulator keeps in memory.
type Stats struct {
	// Events is how many events the in-memory log holds (at most Config.EventLogSize).
	Events int
	// EventsRecorded counts the events recorded since Start, authentication failures excluded.
	EventsRecorded int64
	// AuthFailures counts requests and handshakes that failed authentication (see AuthFailures).
	AuthFailures int64
	// Queued is how many undelivered messages all channels keep.
	Queued int
	// QueueDropped counts undelivered messages dropped because a queue was full.
	QueueDropped int64
}

// Stats returns the emulator's counters and sizes.
func (e *Emulator) Stats() Stats {
	var st Stats
	e.mu.Lock()
	for _, ch := range e.channels {
		st.Queued += len(ch.pending)
	}
	st.QueueDropped = e.queueDropped
	e.mu.Unlock()
	e.evMu.Lock()
	st.Events = len(e.events.buf)
	st.EventsRecorded = e.events.next
	for _, n := range e.authFailures {
		st.AuthFailures += n
	}
	e.evMu.Unlock()
	return st
}

// newRequestID returns a request id for the x-amzn-RequestId header.
func (e *Emulator) newRequestID() string {
	e.mu.Lock()
	e.requestSerial++
	n := e.requestSerial
	e.mu.Unlock()
	return fmt.Sprintf("kvs-emulator-%08d", n)
}

// channelARN builds an ARN shaped like the service's:
// arn:aws:kinesisvideo:REGION:ACCOUNT:channel/NAME/CREATION_MILLIS.
func (e *Emulator) channelARN(name string, created time.Time) string {
	return "arn:aws:kinesisvideo:" + e.cfg.Region + ":" + e.cfg.AccountID + ":channel/" + name + "/" +
		strconv.FormatInt(created.UnixMilli(), 10)
}
