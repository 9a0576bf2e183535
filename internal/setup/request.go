package setup

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/vfbypass/vfbypass/internal/config"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/internal/vfio"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// VFRequest is what the operator wants for one VF.
type VFRequest struct {
	Index    int    `json:"index" yaml:"index"`
	MAC      string `json:"mac,omitempty" yaml:"mac,omitempty"`
	VLAN     *int   `json:"vlan,omitempty" yaml:"vlan,omitempty"`
	QoS      int    `json:"qos,omitempty" yaml:"qos,omitempty"`
	Trust    *bool  `json:"trust,omitempty" yaml:"trust,omitempty"`
	Spoofchk *bool  `json:"spoofchk,omitempty" yaml:"spoofchk,omitempty"`
}

// configures reports whether the request sets anything over netlink.
func (v VFRequest) configures() bool {
	return v.MAC != "" || v.VLAN != nil || v.Trust != nil || v.Spoofchk != nil
}

// RuleRequest is an ntuple rule to install at `up`, as the plan's last
// step (journaled with source "up", so down removes it).
type RuleRequest struct {
	// VF is the target VF index (virtfnK); nil when Flow carries its own
	// action.
	VF    *int   `json:"vf,omitempty" yaml:"vf,omitempty"`
	Queue int    `json:"queue,omitempty" yaml:"queue,omitempty"`
	Flow  string `json:"flow" yaml:"flow"`
}

// Request is a PF's desired bypass setup: from the command line or a config file.
type Request struct {
	PF     string      `json:"pf" yaml:"pf"`
	NumVFs int         `json:"vfs" yaml:"vfs"`
	VFs    []VFRequest `json:"vf" yaml:"vf"`
	// Driver is the driver for the chosen VFs: vfio-pci, or none to leave
	// them with the kernel.
	Driver  string        `json:"driver" yaml:"driver"`
	NoIOMMU bool          `json:"noiommu,omitempty" yaml:"noiommu,omitempty"`
	Rules   []RuleRequest `json:"rules,omitempty" yaml:"rules,omitempty"`
	// Mode is vf (the default, "") or queue: the hidden RX queue Queue,
	// received through XDP of XDPMode (native, the default, or generic);
	// see queue.go.
	Mode    string `json:"mode,omitempty" yaml:"mode,omitempty"`
	Queue   int    `json:"queue,omitempty" yaml:"queue,omitempty"`
	XDPMode string `json:"xdp_mode,omitempty" yaml:"xdp_mode,omitempty"`
}

// LoadConfig reads a request from a config file (YAML or JSON, one
// document, at most 1 MiB; "-" or /dev/stdin is standard input, given as
// stdin): see docs/config.md. Errors are bad input naming the config, the
// line and the key path.
func LoadConfig(path string, stdin *os.File) (Request, error) {
	var r Request
	b, err := config.Read(path, stdin)
	if err != nil {
		return r, err
	}
	name := path
	if path == config.Stdin {
		name = "on standard input"
	}
	lines, err := config.Decode(b, &r)
	var ce *config.Error
	switch {
	case errors.Is(err, config.ErrEmpty):
		return r, outcome.Invalid("write at least pf: and vfs: (see docs/config.md)", "config %s is empty", name)
	case errors.As(err, &ce):
		fix := ce.Fix
		if fix == "" {
			fix = "see docs/config.md for the format"
		}
		return r, outcome.Invalid(fix, "config %s: %v", name, ce)
	case err != nil:
		return r, outcome.Invalid("see docs/config.md for the format", "config %s: %v", name, err)
	}
	return r, checkConfig(r, name, lines)
}

// checkConfig is Check on a config as written (before Normalize sorts the
// VFs), with a refusal placed at its key and line and said in the config's
// words (vlan, not --vlan).
func checkConfig(r Request, name string, lines config.Lines) error {
	if r.Driver == "" && !r.queueMode() {
		r.Driver = vfio.Driver
	}
	var ke *keyError
	if err := r.check(); !errors.As(err, &ke) {
		return err
	}
	msg := ke.err.Error()
	if oe := outcome.Of(ke.err); oe != nil {
		msg = oe.Unwrap().Error()
	}
	where := ke.path
	if n := lines.Line(ke.path); n > 0 {
		where = fmt.Sprintf("line %d: %s", n, ke.path)
	}
	words := strings.NewReplacer("--", "")
	return outcome.Invalid(words.Replace(outcome.FixOf(ke.err)), "config %s: %s: %s", name, where, words.Replace(msg))
}

// Normalize fills defaults: driver vfio-pci, VF 0 chosen, VFs sorted.
func (r *Request) Normalize() {
	if r.Mode == ModeVF {
		r.Mode = "" // the default, as journals before queue mode have it
	}
	if r.queueMode() {
		return // no VFs
	}
	if r.Driver == "" {
		r.Driver = vfio.Driver
	}
	if len(r.VFs) == 0 {
		r.VFs = []VFRequest{{Index: 0}}
	}
	sort.SliceStable(r.VFs, func(i, j int) bool { return r.VFs[i].Index < r.VFs[j].Index })
	for i := range r.VFs {
		if r.VFs[i].MAC != "" {
			if hw, err := net.ParseMAC(r.VFs[i].MAC); err == nil {
				r.VFs[i].MAC = hw.String()
			}
		}
	}
}

// DriverNone, as a request's Driver, leaves the chosen VFs with their kernel
// driver.
const DriverNone = "none"

// Drivers lists the drivers a request may name (--driver).
func Drivers() []string { return []string{vfio.Driver, DriverNone} }

// Validate checks the request against itself and the PF, before anything is
// touched. Every error is a bad-input error naming the value and the fix.
func (r *Request) Validate(pf sriov.PF) error {
	if err := r.Check(); err != nil {
		return err
	}
	if !r.queueMode() && r.NumVFs > pf.TotalVFs {
		return outcome.Invalid(fmt.Sprintf("pass --vfs N with 1 <= N <= %d", pf.TotalVFs), "--vfs %d: %s (%s) supports at most %d VFs (sriov_totalvfs)", r.NumVFs, pf.Name, pf.Address, pf.TotalVFs)
	}
	return nil
}

// Check validates what needs no host: the PF name when given, the driver,
// the counts and indexes, MACs, VLANs, and the rules' syntax and targets
// (`vfbypass config validate` runs it alone).
func (r *Request) Check() error {
	err := r.check()
	var fe *keyError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
}

// keyError is a problem of the request at a config key path
// ("vf[1].mac"), so that a config's error can name the key and line.
type keyError struct {
	path string
	err  error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// at places err at a config key path.
func at(path string, err error) error {
	if err == nil {
		return nil
	}
	return &keyError{path: path, err: err}
}

// check is Check with each error placed at its config key path (VFs and
// rules counted in the order given).
func (r *Request) check() error {
	if r.PF != "" {
		if err := sriov.CheckIfname(r.PF); err != nil {
			return at("pf", err)
		}
	}
	switch {
	case r.queueMode():
		if err := r.validateQueue(); err != nil {
			return err
		}
		return r.checkRules()
	case r.Mode != "" && r.Mode != ModeVF || r.Queue != 0 || r.XDPMode != "":
		return at("mode", outcome.Invalid("use --mode vf (default) or --mode queue --queue Q", "--mode %q with --queue %d, --xdp-mode %q: the queue and XDP mode belong to --mode queue", r.Mode, r.Queue, r.XDPMode))
	}
	if !slices.Contains(Drivers(), r.Driver) {
		return at("driver", outcome.Invalid("use --driver vfio-pci (default) or --driver none", "driver %q is not supported", r.Driver))
	}
	if r.Driver == DriverNone && r.NoIOMMU {
		return at("noiommu", outcome.Invalid("drop --noiommu (in a config: noiommu), or give the VFs to vfio-pci", "--noiommu with --driver none: no VF goes to vfio-pci, so vfio's no-IOMMU mode would only weaken the host"))
	}
	if r.NumVFs < 1 {
		return at("vfs", outcome.Invalid("pass --vfs N with N >= 1 (to remove VFs, run \"vfbypass down PF\")", "--vfs %d: at least one VF is needed", r.NumVFs))
	}
	if err := r.checkVFs(); err != nil {
		return err
	}
	return r.checkRules()
}

func (r *Request) checkVFs() error {
	seen := map[int]bool{}
	macs := map[string]int{}
	for i, v := range r.VFs {
		key := func(k string) string { return fmt.Sprintf("vf[%d].%s", i, k) }
		if v.Index < 0 || v.Index >= r.NumVFs {
			return at(key("index"), outcome.Invalid(fmt.Sprintf("choose --vf between 0 and %d, or raise --vfs", r.NumVFs-1), "--vf %d: VF indexes run from 0 to %d with --vfs %d", v.Index, r.NumVFs-1, r.NumVFs))
		}
		if seen[v.Index] {
			return at(key("index"), outcome.Invalid("name each VF once", "--vf %d is given twice", v.Index))
		}
		seen[v.Index] = true
		if v.MAC != "" {
			hw, err := net.ParseMAC(v.MAC)
			if err != nil || len(hw) != 6 {
				return at(key("mac"), outcome.Invalid("give a MAC as six hex pairs, e.g. 02:00:00:00:00:01", "--mac %q for VF %d is not a MAC address", v.MAC, v.Index))
			}
			if hw[0]&1 != 0 || isZero(hw) {
				return at(key("mac"), outcome.Invalid("use a unicast address (first octet even), e.g. 02:00:00:00:00:01", "--mac %s for VF %d is not a unicast address", v.MAC, v.Index))
			}
			if other, dup := macs[hw.String()]; dup {
				return at(key("mac"), outcome.Invalid("give each VF its own MAC", "--mac %s is given to VF %d and VF %d", hw, other, v.Index))
			}
			macs[hw.String()] = v.Index
		}
		if v.VLAN != nil && (*v.VLAN < 0 || *v.VLAN > 4095) {
			return at(key("vlan"), outcome.Invalid("use a VLAN ID from 0 (none) to 4095", "--vlan %d for VF %d is out of range", *v.VLAN, v.Index))
		}
		if v.QoS < 0 || v.QoS > 7 {
			return at(key("qos"), outcome.Invalid("use a QoS priority from 0 to 7", "--qos %d for VF %d is out of range", v.QoS, v.Index))
		}
	}
	return nil
}

func (r *Request) checkRules() error {
	for i, rr := range r.Rules {
		key := func(k string) string { return fmt.Sprintf("rules[%d].%s", i, k) }
		if strings.TrimSpace(rr.Flow) == "" {
			return at(key("flow"), outcome.Invalid("give each rule a flow, e.g. flow: \"flow-type tcp4 dst-port 80\"", "rule %d has no flow", i+1))
		}
		if rr.VF != nil && (*rr.VF < 0 || *rr.VF >= r.NumVFs) {
			return at(key("vf"), outcome.Invalid(fmt.Sprintf("target a VF between 0 and %d", r.NumVFs-1), "rule %d targets VF %d, which --vfs %d does not create", i+1, *rr.VF, r.NumVFs))
		}
		if rr.Queue < 0 {
			return at(key("queue"), outcome.Invalid("give a queue from 0 up", "rule %d: queue %d", i+1, rr.Queue))
		}
		if rr.VF == nil && rr.Queue != 0 {
			return at(key("queue"), outcome.Invalid("give vf: K with queue: Q, or write 'action Q' in the flow for a PF queue", "rule %d: queue %d without vf", i+1, rr.Queue))
		}
		if _, err := flows.ParseDecimal(strings.Fields(rr.Flow)); err != nil {
			var se *flows.SyntaxError
			if errors.As(err, &se) {
				return at(key("flow"), outcome.Invalid(se.Fix, "rule %d (%s): word %d %q: %s", i+1, rr.Flow, se.Pos+1, se.Word, se.Reason))
			}
			return at(key("flow"), outcome.Invalid("write the flow in ethtool's words, e.g. flow-type tcp4 dst-port 80", "rule %d (%s): %v", i+1, rr.Flow, err))
		}
	}
	return nil
}

func isZero(hw net.HardwareAddr) bool {
	for _, b := range hw {
		if b != 0 {
			return false
		}
	}
	return true
}

// Args renders the request as `vfbypass up` arguments, for messages.
func (r Request) Args() string {
	var b strings.Builder
	if r.queueMode() {
		fmt.Fprintf(&b, "%s --mode queue --queue %d", r.PF, r.Queue)
		if r.XDPMode != "" {
			fmt.Fprintf(&b, " --xdp-mode %s", r.XDPMode)
		}
		if len(r.Rules) > 0 {
			fmt.Fprintf(&b, " (+%s)", report.Count(len(r.Rules), "rule"))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%s --vfs %d", r.PF, r.NumVFs)
	for _, v := range r.VFs {
		fmt.Fprintf(&b, " --vf %d", v.Index)
		if v.MAC != "" {
			fmt.Fprintf(&b, " --mac %s", v.MAC)
		}
		if v.VLAN != nil {
			fmt.Fprintf(&b, " --vlan %d", *v.VLAN)
		}
		if v.Trust != nil {
			fmt.Fprintf(&b, " --trust=%s", report.OnOff(*v.Trust))
		}
		if v.Spoofchk != nil {
			fmt.Fprintf(&b, " --spoofchk=%s", report.OnOff(*v.Spoofchk))
		}
	}
	if r.Driver != vfio.Driver {
		fmt.Fprintf(&b, " --driver %s", r.Driver)
	}
	if len(r.Rules) > 0 {
		fmt.Fprintf(&b, " (+%s)", report.Count(len(r.Rules), "rule"))
	}
	return b.String()
}

// steerRequests turns the config's rules into steer's requests.
func (r Request) steerRequests() []steer.Request {
	out := make([]steer.Request, 0, len(r.Rules))
	for _, rr := range r.Rules {
		if r.queueMode() {
			// To the hidden queue, unless the flow names its own action.
			out = append(out, steer.Request{Words: strings.Fields(rr.Flow), Queue: uint32(r.Queue), PFQueue: true, Default: true})
			continue
		}
		out = append(out, steer.Request{Words: strings.Fields(rr.Flow), VF: rr.VF, Queue: uint32(rr.Queue)})
	}
	return out
}
