package testcaddy

import (
	"testing"
	"time"
)

// PollUntil calls cond every 50 ms until it reports true, and fails the
// test if timeout passes first. It goes by the clock, not t.Context(), so
// that it works in a Cleanup too.
func PollUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not the case after %v", what, timeout)
		}
		<-tick.C
	}
}
