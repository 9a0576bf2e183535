package rxcmd

import (
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/cli"
)

// TestGlobalLettersMeanTheSame: -q, -v and -o are vfbypass's quiet,
// verbose and output here too (--queues has no letter), -o's help and
// completion offer jsonl, and -q with -v is refused as in vfbypass.
func TestGlobalLettersMeanTheSame(t *testing.T) {
	cmd := NewCommand(&cli.Globals{}, "vfbypass-rx")
	for short, long := range map[string]string{"q": "quiet", "v": "verbose", "o": "output"} {
		f := cmd.PersistentFlags().ShorthandLookup(short)
		if f == nil || f.Name != long {
			t.Errorf("-%s is %v, want --%s", short, f, long)
		}
	}
	if f := cmd.Flags().Lookup("queues"); f == nil || f.Shorthand != "" {
		t.Errorf("--queues: %+v; want it without a letter", f)
	}
	if u := cmd.PersistentFlags().Lookup("output").Usage; !strings.Contains(u, "jsonl") {
		t.Errorf("-o help %q does not name jsonl", u)
	}
	if _, out, _ := vfb("__complete", "-o", ""); !strings.Contains(out, "jsonl\n") {
		t.Errorf("-o completion lacks jsonl:\n%s", out)
	}
	if code, _, stderr := vfb("-q", "-v", "--vdev", "net_null0"); code != 2 || !strings.Contains(stderr, "give -v or -q") {
		t.Errorf("-q -v: exit %d, %q", code, stderr)
	}
	if code, _, stderr := vfb("-o", "yaml", "--vdev", "net_null0"); code != 2 || !strings.Contains(stderr, "-o jsonl") {
		t.Errorf("-o yaml: exit %d, %q", code, stderr)
	}
}
