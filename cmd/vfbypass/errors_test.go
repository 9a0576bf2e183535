package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// errorRow is one row of docs/errors.md.
type errorRow struct {
	line    int
	command string
	setup   string
	args    string
	words   []string
	exit    int
	fix     string
}

// readErrorTable parses the table of docs/errors.md: | command | set-up |
// input | message (key words) | exit | fix |, each cell's code spans (`...`)
// holding what the test uses.
func readErrorTable(t *testing.T) []errorRow {
	t.Helper()
	f, err := os.Open("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []errorRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "| command") || strings.HasPrefix(l, "| ---") {
			continue
		}
		cells := splitRow(l)
		if len(cells) != 6 {
			t.Fatalf("docs/errors.md:%d: %d cells, want 6 (command, set-up, input, message, exit, fix)", n, len(cells))
		}
		exit, err := strconv.Atoi(cells[4])
		if err != nil {
			t.Fatalf("docs/errors.md:%d: exit code %q", n, cells[4])
		}
		r := errorRow{line: n, command: cells[0], setup: strings.Join(codeSpans(cells[1]), "\n"), exit: exit, fix: cells[5]}
		args := codeSpans(cells[2])
		if len(args) != 1 {
			t.Fatalf("docs/errors.md:%d: the input cell needs one `vfbypass ...` span", n)
		}
		r.args = args[0]
		r.words = codeSpans(cells[3])
		if len(r.words) == 0 || r.fix == "" {
			t.Fatalf("docs/errors.md:%d: a row needs key words (`...`) and a fix", n)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// splitRow splits a table row on the | that are not inside a code span
// ("\|" is a | inside one, as GitHub's tables have it).
func splitRow(l string) []string {
	l = strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|")
	var cells []string
	var cur strings.Builder
	code := false
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case c == '\\' && i+1 < len(l) && l[i+1] == '|':
			cur.WriteByte('|')
			i++
		case c == '`':
			code = !code
			cur.WriteByte(c)
		case c == '|' && !code:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func codeSpans(cell string) []string {
	parts := strings.Split(cell, "`")
	var out []string
	for i := 1; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	return out
}

// Every row of docs/errors.md, run against a fresh simulated host: the exit
// code, the message's key words, and the host and the state directory as
// they were before the command.
func TestErrorTable(t *testing.T) {
	rows := readErrorTable(t)
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.command] = true
	}
	if len(rows) < 40 {
		t.Errorf("docs/errors.md has %d rows, want at least 40", len(rows))
	}
	for _, c := range []string{"up", "down", "steer", "rx", "status", "doctor", "sim", "config", "watch"} {
		if !seen[c] {
			t.Errorf("docs/errors.md has no row for %s", c)
		}
	}
	// No helper program is found (vfbypass rx looks for vfbypass-rx)
	// unless a row's set-up says rx.
	env := &errorEnv{path: t.TempDir()}
	// Both binaries are built before PATH loses go.
	env.rx, env.rxSkip, env.rxErr = rxBuilt()
	if env.rxSkip == "" && env.rxErr == nil {
		env.bin = buildBinary(t)
	}
	t.Setenv("PATH", env.path)
	for _, r := range rows {
		t.Run(fmt.Sprintf("line %d %s", r.line, r.args), func(t *testing.T) { r.check(t, env) })
	}
}

// errorEnv is what the rows share: the directory on PATH, the vfbypass
// binary for rows run as a process, and vfbypass-rx (built once), or why
// it could not be built.
type errorEnv struct {
	path   string
	bin    string
	rx     string
	rxSkip string
	rxErr  error
}

// withRx puts vfbypass-rx on PATH for a row, and returns the vfbypass
// binary to run it with: vfbypass rx execs vfbypass-rx, which must not
// replace the test process.
func (e *errorEnv) withRx(t *testing.T) string {
	if e.rxSkip != "" {
		t.Skip(e.rxSkip)
	}
	if e.rxErr != nil {
		t.Fatal(e.rxErr)
	}
	link := filepath.Join(e.path, rxBinary)
	if err := os.Symlink(e.rx, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(link) })
	return e.bin
}

func (r errorRow) check(t *testing.T, env *errorEnv) {
	dir := t.TempDir()
	root, state := filepath.Join(dir, "host"), filepath.Join(dir, "state")
	if code, _, e := vfb("sim", "init", root); code != 0 {
		t.Fatalf("sim init: %s", e)
	}
	expand := func(s string) string {
		return strings.NewReplacer("$ROOT", root, "$STATE", state, "$DIR", dir).Replace(s)
	}
	bin := ""
	for _, step := range strings.Split(r.setup, "\n") {
		if step == "rx" {
			bin = env.withRx(t)
			continue
		}
		if f := strings.Fields(step); len(f) == 2 && f[0] == "lock" {
			holdLock(t, expand(f[1]))
			continue
		}
		if step != "" {
			if err := setupStep(root, state, dir, expand(step)); err != nil {
				t.Fatalf("docs/errors.md:%d: set-up %q: %v", r.line, step, err)
			}
		}
	}
	host0, state0 := snapshot(t, root), snapshot(t, state)
	args := words(expand(r.args))
	if len(args) == 0 || args[0] != "vfbypass" {
		t.Fatalf("docs/errors.md:%d: input %q does not start with vfbypass", r.line, r.args)
	}
	full := append([]string{"--host-root", root, "--state-dir", state}, args[1:]...)
	code, stdout, stderr := 0, "", ""
	if bin != "" {
		cmd := exec.Command(bin, full...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		stdout, stderr = o.String(), e.String()
	} else {
		code, stdout, stderr = vfb(full...)
	}
	msg := strings.ToLower(stdout + stderr)
	if code != r.exit {
		t.Errorf("docs/errors.md:%d: %s: exit %d, the table says %d:\n%s%s", r.line, r.args, code, r.exit, stdout, stderr)
	}
	for _, w := range r.words {
		if !strings.Contains(msg, strings.ToLower(expand(w))) {
			t.Errorf("docs/errors.md:%d: %s: the message lacks %q:\n%s%s", r.line, r.args, w, stdout, stderr)
		}
	}
	if snapshot(t, root) != host0 {
		t.Errorf("docs/errors.md:%d: %s changed the host", r.line, r.args)
	}
	if snapshot(t, state) != state0 {
		t.Errorf("docs/errors.md:%d: %s changed the state directory", r.line, r.args)
	}
}

// holdLock is the set-up step "lock PATH" (the row's own, as "rx"): it
// creates PATH if need be and holds an exclusive flock on it until the
// row ends, as a running watcher holds STATE/PF.watch.lock.
func holdLock(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("set-up lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("set-up lock %s: %v", path, err)
	}
}

// setupStep runs one set-up step of a row ("rx", which puts vfbypass-rx on
// PATH, and "lock PATH" are the row's own): "vfbypass ARGS" (must succeed),
// "file PATH TEXT" (TEXT a Go string literal), "fill PATH BYTES", "mkdir
// PATH", "chmod MODE PATH", "mkfifo PATH", "ln TARGET PATH", "rm PATH".
func setupStep(root, state, dir, step string) error {
	f := strings.Fields(step)
	switch f[0] {
	case "vfbypass":
		if code, out, e := vfb(append([]string{"--host-root", root, "--state-dir", state}, words(step)[1:]...)...); code != 0 {
			return fmt.Errorf("exit %d: %s%s", code, out, e)
		}
		return nil
	case "file":
		text := strings.TrimSpace(strings.TrimPrefix(step, "file "+f[1]))
		s, err := strconv.Unquote(text)
		if err != nil {
			return fmt.Errorf("file text %s: %v", text, err)
		}
		return os.WriteFile(f[1], []byte(s), 0o600)
	case "fill":
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return err
		}
		return os.WriteFile(f[1], []byte(strings.Repeat("a", n)), 0o600)
	case "mkdir":
		return os.MkdirAll(f[1], 0o700)
	case "chmod":
		m, err := strconv.ParseUint(f[1], 8, 32)
		if err != nil {
			return err
		}
		return os.Chmod(f[2], os.FileMode(m))
	case "mkfifo":
		return syscall.Mkfifo(f[1], 0o600)
	case "ln":
		return os.Symlink(f[1], f[2])
	case "rm":
		return os.RemoveAll(f[1])
	}
	return errors.New("unknown set-up step (vfbypass, file, fill, mkdir, chmod, mkfifo, ln, rm)")
}

// words splits a command line on spaces; ” is an empty argument.
func words(s string) []string {
	ws := strings.Fields(s)
	for i, w := range ws {
		if w == "''" {
			ws[i] = ""
		}
	}
	return ws
}
