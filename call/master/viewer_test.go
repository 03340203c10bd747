package master

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestGoFuncNeverOutlivesTeardown: pion calls OnTrack and OnOpen on
// goroutines of their own, so a receive loop may be started while the
// viewer is torn down. Once teardown has waited for the loops, none may
// start any more, and (under -race) the starts must not race with the wait.
func TestGoFuncNeverOutlivesTeardown(t *testing.T) {
	var late, ran atomic.Int32
	for range 300 {
		v := &viewer{}
		var waited atomic.Bool
		var callers sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			callers.Add(1)
			go func() {
				defer callers.Done()
				<-start
				v.goFunc(func() {
					ran.Add(1)
					if waited.Load() {
						late.Add(1)
					}
				})
			}()
		}
		close(start)
		v.markEnded()
		v.wg.Wait()
		waited.Store(true)
		callers.Wait()
		// Every goFunc has returned: wait for any loop started after the
		// first wait too, so that it has run before it is counted.
		v.wg.Wait()
	}
	if n := late.Load(); n > 0 {
		t.Fatalf("%d receive loops started after teardown had waited for them", n)
	}
	t.Logf("%d of 1200 loops started before their viewer ended", ran.Load())
}
