// Package config reads vfbypass's config files: bounded input (a regular
// file or standard input, at most MaxSize bytes) holding exactly one YAML
// document, decoded into a struct by its yaml tags with errors that name the
// key path and line as the user wrote them (docs/config.md).
package config

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/outcome"
)

// MaxSize is the largest config read: a larger input is refused after
// reading MaxSize+1 bytes, not read to its end.
const MaxSize = 1 << 20

// Stdin is the name that reads standard input.
const Stdin = "-"

// Read returns the bytes of the config named path: "-" is stdin; a path
// that is stdin itself (/dev/stdin, /proc/self/fd/0, pipes included) reads
// stdin; anything else must be a regular file. A FIFO, device, socket or
// directory other than stdin is refused before it is opened, so that
// reading never blocks on it. Errors are bad input (*outcome.BadInput).
func Read(path string, stdin *os.File) ([]byte, error) {
	if path == Stdin {
		if stdin == nil {
			return nil, outcome.Invalid("pass the config on standard input or as a file", "config on standard input: there is no standard input")
		}
		return readStdin(stdin, "on standard input")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, outcome.Invalid("pass a readable config file with --config, or - for standard input", "config %s: %v", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		if in, ierr := stdinInfo(stdin); ierr == nil && os.SameFile(st, in) {
			return readStdin(stdin, path)
		}
		return nil, outcome.Invalid("pass a regular file, or - (or /dev/stdin) to read standard input",
			"config %s is %s, not a regular file", path, kind(st.Mode()))
	}
	if st.Size() > MaxSize {
		return nil, tooLarge(path)
	}
	// O_NONBLOCK: if path was swapped for a FIFO since the Stat, the open
	// returns at once and the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, outcome.Invalid("pass a readable config file with --config", "config %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	if fst, err := f.Stat(); err != nil || !fst.Mode().IsRegular() || !os.SameFile(st, fst) {
		return nil, outcome.Invalid("pass a regular file that is not being replaced", "config %s changed while it was opened", path)
	}
	if err := checkWriters(path, st); err != nil {
		return nil, err
	}
	return readAll(f, path)
}

// checkWriters refuses a config file that someone other than root (or the
// user running vfbypass) can write, as the state directory is refused: a
// config says which devices vfbypass hands to vfio-pci and where flows go,
// and runs as root at boot.
func checkWriters(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return outcome.Invalid(fmt.Sprintf("'chown root: %s' (or keep the config in /etc/vfbypass)", path),
			"config %s is owned by uid %d, not by root: its owner could make vfbypass act on any device", path, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return outcome.Invalid(fmt.Sprintf("'chmod go-w %s' (nobody but root should write what vfbypass applies)", path),
			"config %s is writable by group or others (mode %04o): whoever can write it could make vfbypass act on another device", path, fi.Mode().Perm())
	}
	return nil
}

// readStdin reads the config from stdin, unless stdin is a terminal (the
// command would wait for typing that nobody meant to do).
func readStdin(stdin *os.File, name string) ([]byte, error) {
	if isTerminal(stdin) {
		return nil, outcome.Invalid("pipe the config in (generate-config | vfbypass up --config -), or name its file",
			"config %s: standard input is a terminal, not a config", name)
	}
	return readAll(stdin, name)
}

// isTerminal reports whether f is a terminal (TCGETS answers).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func stdinInfo(stdin *os.File) (os.FileInfo, error) {
	if stdin == nil {
		return nil, os.ErrNotExist
	}
	return stdin.Stat()
}

// readAll reads r up to MaxSize bytes and refuses more.
func readAll(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, outcome.Invalid("pass a readable config file with --config", "config %s: %v", name, unwrapPath(err))
	}
	if len(b) > MaxSize {
		return nil, tooLarge(name)
	}
	return b, nil
}

func tooLarge(name string) error {
	return outcome.Invalid("a config is a short YAML file (docs/config.md); check that --config names the right file",
		"config %s is larger than %d bytes (1 MiB)", name, MaxSize)
}

// kind names a file mode that is not a regular file, for messages.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return fmt.Sprintf("a special file (%v)", m.Type())
}

// unwrapPath drops the *PathError's op and path, which the message already
// names: "config x.yaml: no such file or directory".
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
