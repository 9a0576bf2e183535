package rxcmd

import (
	"os"
	"path/filepath"
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

// TestManPageSections: the loop's page has EXIT STATUS (0 to 2), FILES
// (EAL's lock) and ENVIRONMENT.
func TestManPageSections(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := vfb("--gen-man", dir); code != 0 {
		t.Fatalf("--gen-man: %d %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "vfbypass-rx.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".SH EXIT STATUS\n", "\\fB2\\fP\n", ".SH FILES\n", "/var/run/dpdk/PREFIX/config", ".SH ENVIRONMENT\n", "XDG_RUNTIME_DIR"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("vfbypass-rx.1 lacks %q", want)
		}
	}
	if strings.Contains(string(b), "\\fB3\\fP") {
		t.Errorf("vfbypass-rx.1 lists exit 3, which the loop does not use")
	}
}
