// Faults on the HTTP request path, of control-plane calls and signaling
// handshakes alike: refused requests (reject-*) and requests left unanswered
// (stall-http, stall-ws).

package emulator

import (
	"io"
	"net"
	"net/http"
)

// takeReject consumes one reject fault (reject-403, then
// reject-unrecognized-client, reject-invalid-signature, reject-expired-token)
// and returns its name and the refusal it injects into request r of action
// ("CONNECT" for a signaling handshake); nil when none applies.
func (e *Emulator) takeReject(r *http.Request, action string) (string, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := &e.faults
	switch {
	case f.Reject403 > 0:
		f.Reject403--
		msg := "User is not authorized to perform: kinesisvideo:" + action + " (emulated fault reject-403)"
		if action == "CONNECT" {
			msg = "Access denied (emulated fault reject-403)"
		}
		return "reject-403", &apiError{http.StatusForbidden, "AccessDeniedException", msg}
	case f.RejectUnrecognizedClient > 0:
		f.RejectUnrecognizedClient--
		return "reject-unrecognized-client", &apiError{http.StatusForbidden, "UnrecognizedClientException", msgInvalidToken}
	case f.RejectInvalidSignature > 0:
		f.RejectInvalidSignature--
		return "reject-invalid-signature", &apiError{http.StatusForbidden, "InvalidSignatureException", msgSignatureMismatch + canonicalEcho(r)}
	case f.RejectExpiredToken > 0:
		f.RejectExpiredToken--
		return "reject-expired-token", &apiError{http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired"}
	}
	return "", nil
}

// canonicalEcho is the part of AWS's signature-mismatch message that echoes
// the request back (its canonical string, session token and credential
// included), so that clients are tested against repeating it.
func canonicalEcho(r *http.Request) string {
	return "\n\nThe Canonical String for this request should have been\n'" + r.Method + "\n" + r.URL.EscapedPath() + "\n" +
		r.URL.RawQuery + "\nhost:" + r.Host + "\nx-amz-date:" + r.Header.Get("X-Amz-Date") +
		"\nx-amz-security-token:" + r.Header.Get("X-Amz-Security-Token") + "\n\nhost;x-amz-date;x-amz-security-token\n" +
		"'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "'\n" +
		"Authorization: " + r.Header.Get("Authorization")
}

// takeStall consumes one stall-ws (for a WebSocket upgrade) or stall-http
// fault and returns its name, or "" when none applies.
func (e *Emulator) takeStall(upgrade bool) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case upgrade && e.faults.StallWS > 0:
		e.faults.StallWS--
		return "stall-ws"
	case !upgrade && e.faults.StallHTTP > 0:
		e.faults.StallHTTP--
		return "stall-http"
	}
	return ""
}

// stall leaves r unanswered, as a black-holed endpoint would: it waits until
// the client gives up or the emulator closes, then drops the connection
// without a response.
func (e *Emulator) stall(w http.ResponseWriter, r *http.Request, fault string) {
	action := "CONNECT"
	if entry, ok := operations[r.URL.Path]; ok && fault == "stall-http" {
		action = entry.name
	}
	e.record(Event{Kind: EventFault, Action: action, Detail: fault + ": request left unanswered"})
	// The server notices a client that hangs up only once the body is read.
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxRequestBody))
	select {
	case <-r.Context().Done():
	case <-e.done:
	}
	if raw, ok := r.Context().Value(rawConnKey{}).(net.Conn); ok {
		_ = raw.Close() // no response at all, not even the empty 200 returning would send
	}
}
