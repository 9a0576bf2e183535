package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docsNotRun lists the commands the docs show that this test does not run,
// by prefix, each with why; every other command in a shell block must be a
// vfbypass command, which the test runs on a simulated host.
var docsNotRun = []struct{ prefix, why string }{
	{"make demo-sim", "make test runs it (test-demo-sim)"},
	{"make demo", "boots the QEMU SR-IOV lab on a real kernel; its simulator half is make demo-sim"},
	{"make test", "is what runs this test"},
	{"make bench-rx", "a benchmark: minutes of DPDK and veth traffic, not a test"},
	{"go run ./tools/rxbench", "a benchmark: minutes of DPDK and veth traffic, not a test"},
	{"vfbypass rx ", "the DPDK loop (vfbypass-rx, cgo) needs DPDK and a VF on vfio-pci or a vdev; internal/rxcmd's tests run it on vdevs"},
	{"bin/vfbypass rx ", "the DPDK loop, as above"},
	{"dpdk-testpmd ", "DPDK's own test application, the benchmark's reference"},
	{"ethtool ", "reads a real NIC's driver; the simulator has no ethtool(8)"},
	{"systemctl ", "needs the installed package and systemd as PID 1"},
	{"vfbypass watch ", "runs until a signal or down; the watch tests of cmd/vfbypass and internal/watch run it on the simulator"},
	{"cp /usr/share/doc/vfbypass/", "needs the installed package"},
	{"GRUB_CMDLINE_LINUX=", "changes the boot loader's kernel command line"},
	{"update-grub", "changes the boot loader and reboots"},
	{"ansible-galaxy collection ", "tests/ansible/run.sh builds and installs the collection the same way"},
	{"vfbypass-rx ", "the DPDK loop, as vfbypass rx"},
	{"systemd-analyze ", "needs the installed units; deploy/systemd's tests run it on the unit files"},
	{"journalctl ", "needs systemd as PID 1"},
	{"apt-get ", "installs packages on the host"},
	{"apt ", "installs packages on the host"},
	{"dpkg ", "installs packages on the host"},
	{"rpm ", "installs packages on the host"},
	{"dnf ", "installs packages on the host"},
	{"ip ", "reads or changes a real host's interfaces"},
}

// docCommand is one command line of a fenced shell block.
type docCommand struct {
	file string
	line int
	text string
}

// shellBlock reports whether a fence's info string is a shell block;
// untagged blocks hold commands too, and output, told apart by the first
// word (docCommandWord).
func shellBlock(info string) bool {
	switch info {
	case "sh", "bash", "console", "shell", "":
		return true
	}
	return false
}

// docCommandWord reports whether a line of an untagged block is a command.
func docCommandWord(line string) bool {
	for _, w := range []string{"vfbypass ", "bin/vfbypass ", "vfbypass-rx ", "make ", "go ", "dpdk-testpmd ", "ethtool ", "systemctl ", "systemd-analyze ", "cp ", "ansible-galaxy ", "update-grub", "GRUB_CMDLINE_LINUX="} {
		if strings.HasPrefix(line, w) {
			return true
		}
	}
	return false
}

// docCommands extracts the commands of a Markdown file's shell blocks:
// comments cut, continuation lines joined, ';' splitting commands.
func docCommands(t *testing.T, file string) []docCommand {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open %s: %v", file, err)
	}
	defer f.Close()
	var out []docCommand
	fenced, in, tagged, cont := false, false, false, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "```") {
			info := strings.TrimPrefix(line, "```")
			fenced = !fenced
			in, tagged = fenced && shellBlock(info), info != ""
			continue
		}
		if !in {
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\")
			continue
		}
		line, cont = strings.TrimSpace(cont+line), ""
		if line == "" || strings.HasPrefix(line, "#") || (!tagged && !docCommandWord(line)) {
			continue
		}
		for _, c := range strings.Split(line, ";") {
			out = append(out, docCommand{file: file, line: n, text: strings.TrimSpace(c)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return out
}

// shellWords splits a command line as sh would for the quoting the docs
// use: single and double quotes, no expansion.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	quote, inWord := rune(0), false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestDocsCommandsRun runs every vfbypass command of the README and docs,
// in each file's order, on a simulated 82599 host (eth3, as the docs
// write it): each must exit 0. A command the test cannot run must be in
// docsNotRun with the reason.
func TestDocsCommandsRun(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../../README.md", "../../deploy/ansible/README.md"}, files...)
	ran := 0
	for _, file := range files {
		root, state := simHost(t, "--pf", "eth3", "--model", "82599", "--total-vfs", "63")
		simRoot, simState := filepath.Join(t.TempDir(), "host"), filepath.Join(t.TempDir(), "state")
		for _, c := range docCommands(t, file) {
			if why := docSkip(c.text); why != "" {
				t.Logf("%s:%d: not run: %s (%s)", c.file, c.line, c.text, why)
				continue
			}
			words := shellWords(c.text)
			if words[0] != "vfbypass" {
				t.Errorf("%s:%d: %q is neither a vfbypass command nor in docsNotRun with a reason", c.file, c.line, c.text)
				continue
			}
			args := []string{"--host-root", root, "--state-dir", state}
			for _, w := range words[1:] {
				// The docs' own simulated host (README: sim init /tmp/host).
				w = strings.NewReplacer("/tmp/host", simRoot, "/tmp/state", simState).Replace(w)
				args = append(args, w)
			}
			if code, stdout, stderr := vfb(args...); code != 0 {
				t.Errorf("%s:%d: %s: exit %d\n%s%s", c.file, c.line, c.text, code, stdout, stderr)
			}
			ran++
		}
	}
	if ran < 10 {
		t.Fatalf("ran %d commands from the docs; the extraction lost them", ran)
	}
}

// docSkip is the reason a docs command is not run, or "".
func docSkip(cmd string) string {
	for _, s := range docsNotRun {
		if strings.HasPrefix(cmd, s.prefix) || cmd == strings.TrimSpace(s.prefix) {
			return s.why
		}
	}
	return ""
}

// TestDocsConfigsValidate checks every YAML example of docs/config.md and
// deploy/examples with 'config validate': each is valid, and the summary
// reads as a sentence in either mode.
func TestDocsConfigsValidate(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var configs []string
	for i, part := range strings.Split(string(b), "```") {
		if i%2 == 1 && strings.HasPrefix(part, "yaml\n") {
			configs = append(configs, strings.TrimPrefix(part, "yaml\n"))
		}
	}
	examples, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range examples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, string(b))
	}
	if len(configs) < 3 {
		t.Fatalf("found %d configs in docs/config.md and deploy/examples", len(configs))
	}
	for _, c := range configs {
		f := filepath.Join(t.TempDir(), "eth3.yaml")
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := vfb("config", "validate", f)
		if code != 0 || strings.Contains(out, " to ,") || strings.Contains(out, "0 chosen") {
			t.Errorf("config validate on\n%s: exit %d: %s%s", c, code, out, stderr)
		}
	}
}
