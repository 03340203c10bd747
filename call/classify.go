package call

import (
	"context"
	"errors"
	"net"
	"net/url"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/rtc"
	"github.com/kvsviewer/kvsviewer/internal/redact"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/decode"
)

// classify maps an error of the setup path to a failure class; errors it
// cannot place get the class of the step that failed.
func classify(err error, step Class) Class {
	var tooLarge *decode.SizeError
	switch {
	case errors.Is(err, kvs.ErrCredentials), errors.Is(err, kvs.ErrAccessDenied), errors.Is(err, kvs.ErrClockSkew), errors.Is(err, kvs.ErrURLExpired):
		return ClassAuth
	case errors.Is(err, kvs.ErrViewerLimit):
		return ClassViewerLimit
	case errors.As(err, &tooLarge):
		return ClassMedia
	case errors.Is(err, rtc.ErrOptions):
		return ClassSettings
	case errors.Is(err, capture.ErrNoCamera), errors.Is(err, capture.ErrNoMicrophone):
		return ClassLocalMedia
	case errors.Is(err, kvs.ErrSignalingClosed), errors.Is(err, kvs.ErrNotConnected):
		return ClassSignalingClosed
	}
	return step
}

// retryable says whether a failure is worth another attempt.
func retryable(class Class, err error) bool {
	switch class {
	case ClassAuth, ClassLocalMedia, ClassMedia, ClassSettings:
		return false // the same again on every attempt
	case ClassControlPlane:
		return !errors.Is(err, kvs.ErrChannelNotFound)
	}
	return !errors.Is(err, context.Canceled)
}

// maxDescription bounds a failure's words: a service or library can put
// anything in an error, of any length.
const maxDescription = 400

// describe is the failure in words for logs, the UI and reports, without
// secrets and of bounded length.
func describe(class Class, err error) string {
	if err == nil {
		return string(class)
	}
	return redact.Truncate(redact.Error(err), maxDescription)
}

// isLoopbackURL reports whether u's host is a loopback address or localhost.
func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := p.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
