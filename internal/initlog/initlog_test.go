package initlog

import (
	"bytes"
	"log"
	"strings"
	"testing"
)

func TestHoldsUntilRelease(t *testing.T) {
	log.Print("during start-up")
	log.Print("second")
	var buf bytes.Buffer
	got := Release(&buf)
	if strings.Join(got, "|") != "during start-up|second" {
		t.Fatalf("held %q", got)
	}
	if buf.Len() != 0 {
		t.Fatalf("held lines reached the new output: %q", buf.String())
	}
	log.Print("after")
	if !strings.HasSuffix(buf.String(), " after\n") || log.Flags() != log.LstdFlags {
		t.Fatalf("after Release: output %q, flags %d", buf.String(), log.Flags())
	}
	if again := Release(&buf); again != nil {
		t.Fatalf("second Release returned %q", again)
	}
}
