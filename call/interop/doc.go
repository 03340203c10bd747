// Package interop holds the tests that run this viewer against KVS peers it
// did not write: the official KVS WebRTC JS SDK (npm
// amazon-kinesis-video-streams-webrtc) as the MASTER in headless Chromium,
// signing its own requests, through the emulator. `make interop-deps`
// fetches the SDK (pinned by checksum) and installs Chromium; without them
// the tests are skipped and say why.
package interop
