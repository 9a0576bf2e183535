// Package buildinfo says which build of vfbypass is running: the version
// the Makefile stamps in (git describe), the commit and the Go version.
package buildinfo

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/vfbypass/vfbypass/internal/report"
)

// version and commit are set at link time, e.g.
// go build -ldflags "-X github.com/vfbypass/vfbypass/internal/buildinfo.version=V"
// (make build stamps git describe's answer and git rev-parse HEAD; the
// commit otherwise comes from Go's own VCS stamp when it made one). They
// are variables only because the linker can set nothing else; nothing
// writes them at run time.
var version, commit string

// Info is one binary's build.
type Info struct {
	Program string `json:"program"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Modified is true when the tree the binary was built from had
	// uncommitted changes.
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
	// DPDK is the DPDK the receive loop runs with ("" for the control
	// plane, which has none).
	DPDK string `json:"dpdk,omitempty"`
}

// Read returns the build of the running binary, named program.
func Read(program string) Info {
	in := Info{Program: program, Version: version, Commit: commit, Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version // go install module@version
		}
	}
	if in.Version == "" {
		in.Version = "unknown (built without make: go build -ldflags '-X github.com/vfbypass/vfbypass/internal/buildinfo.version=V')"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}

// String is the one-line form: "vfbypass 1.2.0 (commit 0123abc, go1.26.0)".
func (in Info) String() string {
	c := in.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if in.Modified {
		c += ", modified"
	}
	s := fmt.Sprintf("%s %s (commit %s, %s", in.Program, in.Version, c, in.Go)
	if in.DPDK != "" {
		s += ", " + in.DPDK
	}
	return s + ")"
}

// Result is what `version` reports: this binary's build and, for the
// control plane, the receive loop's (nil when it is not installed).
type Result struct {
	report.Common
	Info
	RX *Info `json:"rx"`
}

// Text prints the builds one per line.
func (r *Result) Text(w io.Writer) {
	fmt.Fprintln(w, r.Info.String())
	if r.RX != nil {
		fmt.Fprintln(w, r.RX.String())
	}
}
