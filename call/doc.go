// Package call is the call controller: one session per connection attempt,
// a single event loop that owns every state change through one transition
// table (state.go), an ordered and bounded teardown, the answer watchdog,
// failure classes and retry with backoff, the ClientId policy, and
// per-session phase timings and stats.
//
// Reading order: controller.go (the API) -> loop.go (the event loop) ->
// attempt.go (watchdogs of the current attempt) -> session*.go (one attempt:
// setup, negotiate, repair, media, teardown) -> call/kvs, call/rtc, media/.
// docs/architecture.md has the picture.
package call
