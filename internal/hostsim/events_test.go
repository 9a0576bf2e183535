package hostsim

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
)

// TestEventFeedDeliversInOrderForOneLink: a subscription sees the events
// appended after it, for its interface only, in order; a line appended in two
// writes is delivered once complete.
func TestEventFeedDeliversInOrderForOneLink(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := Init(root, Options{PF: "eth3", Model: "82599"}); err != nil {
		t.Fatal(err)
	}
	h, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	s := h.Events.(*simEvents).s
	if err := s.emit(host.Event{Link: "eth3", Kind: host.EventLink, Detail: "before"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := h.Events.Subscribe(ctx, "eth3")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []host.Event{
		{Link: "eth4", Kind: host.EventLink, Detail: "other"},
		{Link: "eth3", Kind: host.EventLink, Detail: "down"},
		{Link: "eth3", Kind: host.EventReset, Detail: "ixgbe_close"},
	} {
		if err := s.emit(ev); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(root, MarkerDir, eventsFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"link":"eth3","kind":"mtu",`); err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.After(5 * time.Second)
	for len(got) < 3 {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("feed closed after %v: %v", got, h.Events.Err())
			}
			got = append(got, string(ev.Kind)+" "+ev.Detail)
			if len(got) == 2 {
				if _, err := f.WriteString(`"detail":"9000"}` + "\n"); err != nil {
					t.Fatal(err)
				}
			}
		case <-deadline:
			t.Fatalf("got %v after 5 s; want 3 events", got)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"link down", "reset ixgbe_close", "mtu 9000"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q (all: %v)", i, got[i], want[i], got)
		}
	}
	cancel()
	for range ch {
	}
	if err := h.Events.Err(); err != nil {
		t.Errorf("Err after cancel = %v, want nil", err)
	}
}
