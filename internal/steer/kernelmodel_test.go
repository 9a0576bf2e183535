package steer_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// modelCase is one line of docs/kernel-model.tsv.
type modelCase struct {
	line                         int
	row, model                   string
	cpus, vfs                    int
	setup, act, kernel, precheck string
}

func readModelCases(t *testing.T) []modelCase {
	t.Helper()
	f, err := os.Open("../../docs/kernel-model.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []modelCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasPrefix(sc.Text(), "#") || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 8 {
			t.Fatalf("kernel-model.tsv:%d: %d fields, want 8", n, len(c))
		}
		cpus, err1 := strconv.Atoi(c[2])
		vfs, err2 := strconv.Atoi(c[3])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("kernel-model.tsv:%d: %v", n, err)
		}
		cases = append(cases, modelCase{n, c[0], c[1], cpus, vfs, c[4], c[5], c[6], c[7]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// readModelRows is the row column of docs/kernel-model.md's table, each
// row checked to name a kernel function in code and the versions read.
func readModelRows(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../docs/kernel-model.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		c := strings.Split(l, " | ")
		if !strings.HasPrefix(l, "| ") || len(c) != 6 || c[0] == "| row" || strings.HasPrefix(c[0], "| ---") {
			continue
		}
		id := strings.TrimPrefix(c[0], "| ")
		if !strings.Contains(c[2], "`") || !strings.Contains(c[2], "_") || !strings.Contains(c[3], "6.1") {
			t.Errorf("kernel-model.md row %s: the kernel function (%q) and the versions read (%q) must be named", id, c[2], c[3])
		}
		rows[id] = true
	}
	if len(rows) < 10 {
		t.Fatalf("read %d rows of docs/kernel-model.md; the parse lost them", len(rows))
	}
	return rows
}

// TestKernelModel runs every case of docs/kernel-model.tsv against the
// simulator (what the kernel answers and leaves) and, for a rule, against
// the precheck (steer add --dry-run); every row of docs/kernel-model.md
// has a case and every case a row.
func TestKernelModel(t *testing.T) {
	t.Parallel()
	rows := readModelRows(t)
	cased := map[string]bool{}
	for _, c := range readModelCases(t) {
		if !rows[c.row] {
			t.Errorf("kernel-model.tsv:%d: row %q is not in docs/kernel-model.md", c.line, c.row)
		}
		cased[c.row] = true
		t.Run(fmt.Sprintf("%d_%s", c.line, c.row), func(t *testing.T) { runModelCase(t, c) })
	}
	for r := range rows {
		if !cased[r] {
			t.Errorf("docs/kernel-model.md row %s has no case in kernel-model.tsv", r)
		}
	}
}

// modelHost is a simulated host with a case's model, CPUs, VFs and ntuple on.
type modelHost struct {
	t    *testing.T
	root string
	h    *host.Host
	dev  flows.Device
	user []uint32 // the last table the case wrote
}

func runModelCase(t *testing.T, c modelCase) {
	root, h := simtest.Host(t, hostsim.Options{Model: c.model, CPUs: c.cpus, Ntuple: true})
	m := &modelHost{t: t, root: root, h: h}
	if c.vfs > 0 {
		if err := h.FS.WriteAttr("/sys/class/net/eth3/device/sriov_numvfs", strconv.Itoa(c.vfs)); err != nil {
			t.Fatal(err)
		}
	}
	if c.setup != "-" {
		for _, s := range strings.Split(c.setup, "; ") {
			if err := m.do(s); err != nil {
				t.Fatalf("set-up %q: %v", s, err)
			}
		}
	}
	if c.precheck != "-" {
		m.precheck(c)
	}
	want := strings.Fields(c.kernel)
	var err error
	for _, s := range strings.Split(c.act, "; ") {
		if err = m.do(s); err != nil {
			break
		}
	}
	switch {
	case want[0] == "ok" && err != nil:
		t.Fatalf("%s: %v; the kernel takes it", c.act, err)
	case want[0] != "ok" && !errors.Is(err, errnoNamed(t, want[0])):
		t.Fatalf("%s: %v; want %s", c.act, err, want[0])
	}
	for _, w := range want[1:] {
		if got := m.after(w); got != w {
			t.Errorf("after %s: %s; want %s", c.act, got, w)
		}
	}
}

func errnoNamed(t *testing.T, name string) unix.Errno {
	t.Helper()
	e, err := hostsim.ParseErrno(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// precheck runs the act's rule through steer add --dry-run: refuse is a
// bad-input error, warn a warning about the drop queue.
func (m *modelHost) precheck(c modelCase) {
	words, ok := strings.CutPrefix(c.act, "rule ")
	if !ok {
		m.t.Fatalf("precheck %q for %q: only a rule has one", c.precheck, c.act)
	}
	res, err := steer.Add(m.h, journal.Store{Dir: simtest.StateDir(m.t)}, "eth3", steer.Request{Words: strings.Fields(words)}, steer.Options{DryRun: true, StateDir: simtest.StateDir(m.t)})
	got := "ok"
	switch {
	case err != nil && outcome.Is[*outcome.BadInput](err):
		got = "refuse"
	case err != nil:
		m.t.Fatalf("precheck of %q failed: %v", words, err)
	case slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "IXGBE_FDIR_DROP_QUEUE") }):
		got = "warn" // other warnings (VF drivers, RSS sharing) are not the model's
	}
	if got != c.precheck {
		m.t.Errorf("precheck of %q: %s (%v %q); want %s", words, got, err, res.Warnings, c.precheck)
	}
}

// do runs one step of a case's set-up or act.
func (m *modelHost) do(s string) error {
	verb, arg, _ := strings.Cut(s, " ")
	n, _ := strconv.Atoi(arg)
	switch verb {
	case "rule":
		return m.insert(arg)
	case "indir":
		var qs []uint32
		for _, q := range strings.Split(arg, ",") {
			v, err := strconv.Atoi(q)
			if err != nil {
				m.t.Fatal(err)
			}
			qs = append(qs, uint32(v))
		}
		m.user = make([]uint32, 128)
		for i := range m.user {
			m.user[i] = qs[i%len(qs)]
		}
		return m.h.Ethtool.SetIndir("eth3", m.user)
	case "link":
		return hostsim.SetLink(m.root, "eth3", arg == "up")
	case "channels":
		return hostsim.SetChannels(m.root, "eth3", n)
	case "mtu":
		return hostsim.SetMTU(m.root, "eth3", n)
	case "rings":
		return hostsim.SetRxRing(m.root, "eth3", n)
	case "dcb":
		return hostsim.SetDCB(m.root, "eth3", arg == "on")
	case "numvfs":
		return m.h.FS.WriteAttr("/sys/class/net/eth3/device/sriov_numvfs", arg)
	case "lro":
		return m.h.Ethtool.SetFeature("eth3", host.LROFeature, arg == "on")
	case "ntuple":
		return m.h.Ethtool.SetFeature("eth3", host.NtupleFeature, arg == "on")
	case "xsk":
		return hostsim.AttachXSK(m.root, "eth3", hostsim.XDPNative, n)
	case "xdp":
		switch arg {
		case "replace":
			return hostsim.ReplaceXDP(m.root, "eth3", hostsim.XDPNative)
		case "detach":
			return hostsim.DetachXDP(m.root, "eth3")
		}
		return hostsim.AttachXDP(m.root, "eth3", arg)
	}
	m.t.Fatalf("unknown step %q", s)
	return nil
}

// insert puts a rule in as ethtool -N would: at its loc, else at the
// highest free location.
func (m *modelHost) insert(words string) error {
	r, err := flows.Parse(strings.Fields(words))
	if err != nil {
		m.t.Fatalf("rule %q: %v", words, err)
	}
	if m.dev == nil {
		if m.dev, err = m.h.Rules("eth3"); err != nil {
			m.t.Fatal(err)
		}
		m.t.Cleanup(func() { m.dev.Close() })
	}
	if r.NeedsLocation() {
		if r.Spec.Location, err = flows.PickLocation(m.dev); err != nil {
			return err
		}
	}
	_, err = m.dev.Insert(r.Spec, r.RSSContext)
	return err
}

// after reports what a want of the kernel column (rules=N, table=...,
// lro=...) finds on the host now, in the same words.
func (m *modelHost) after(want string) string {
	key, _, _ := strings.Cut(want, "=")
	switch key {
	case "rules":
		dev, err := m.h.Rules("eth3")
		if err != nil {
			m.t.Fatal(err)
		}
		defer dev.Close()
		n, _, err := dev.RuleCount()
		if err != nil {
			m.t.Fatal(err)
		}
		return fmt.Sprintf("rules=%d", n)
	case "table":
		tbl, err := m.h.Ethtool.Indir("eth3")
		if err != nil {
			m.t.Fatal(err)
		}
		rings, err := m.h.Ethtool.RxRings("eth3")
		if err != nil {
			m.t.Fatal(err)
		}
		switch {
		case slices.Equal(tbl, m.user):
			return "table=kept"
		case slices.Equal(tbl, flows.DefaultIndir(len(tbl), rings)):
			return "table=default"
		}
		return fmt.Sprintf("table=%v", tbl)
	case "lro":
		on, _, err := m.h.Ethtool.Feature("eth3", host.LROFeature)
		if err != nil {
			m.t.Fatal(err)
		}
		return map[bool]string{true: "lro=on", false: "lro=off"}[on]
	}
	m.t.Fatalf("unknown check %q", want)
	return ""
}
