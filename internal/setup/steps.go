package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// env is what steps act on.
type env struct {
	h       *host.Host
	pf      sriov.PF
	timeout time.Duration
}

// step is one reversible change. Its JSON form is its journal record: the
// wanted state and the state it replaced, so that a journal alone is enough
// to verify and undo it in a later process.
type step interface {
	id() string
	kind() string
	describe(e *env) string
	// changes lists the managed fields in which the kernel differs from
	// the wanted state (Before: the kernel's, After: wanted); none means
	// the step is done.
	changes(e *env) ([]report.Change, error)
	// record captures the state the step is about to replace.
	record(e *env) error
	// keep takes the recorded state from old, the same step's record of an
	// earlier run, so that undo restores the value before the first up
	// rather than an intermediate one; it records what old did not cover.
	keep(old step, e *env) error
	apply(ctx context.Context, e *env) error
	// undo restores the recorded state; it is idempotent and reports
	// whether it changed anything.
	undo(ctx context.Context, e *env) (bool, error)
	// restores lists the fields undo would change (Before: the kernel's,
	// After: the recorded original), for down's diff.
	restores(e *env) []report.Change
}

// decodeStep rebuilds a step from its journal record and refuses values no
// vfbypass writes (see validate.go). totalVFs is the PF's sriov_totalvfs;
// a negative one (unknown: the PF is gone or shows no SR-IOV) bounds VF
// indexes at 255.
func decodeStep(kind string, rec json.RawMessage, totalVFs int) (step, error) {
	var s step
	switch kind {
	case "numvfs":
		s = &numVFsStep{}
	case "probe-vfs":
		s = &probeVFsStep{}
	case "vf-config":
		s = &vfConfigStep{}
	case "module":
		s = &moduleStep{}
	case "noiommu":
		s = &noIOMMUStep{}
	case "bind":
		s = &bindStep{}
	case "ntuple":
		s = &ntupleStep{}
	case "rss-indir":
		s = &rssIndirStep{}
	case "lro":
		s = &lroStep{}
	default:
		return nil, fmt.Errorf("journal step kind %q is not known to this vfbypass", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("journal step %s: %w", kind, err)
	}
	if totalVFs < 0 {
		totalVFs = maxVFsUnknown
	}
	v, ok := s.(validator)
	if !ok {
		return nil, fmt.Errorf("journal step %s: no check for its record", kind)
	}
	if err := v.validate(totalVFs); err != nil {
		return nil, fmt.Errorf("journal step %s: %w", kind, err)
	}
	return s, nil
}

// decodeEntry rebuilds the step of a journal entry (decodeStep) and
// refuses an entry whose id is not its record's: an entry "vf0-config" of
// kind "module" is not one vfbypass wrote, and every reader of the
// journal finds a step by its id and takes its type from its kind.
func decodeEntry(ent *journal.Entry, totalVFs int) (step, error) {
	s, err := decodeStep(ent.Kind, ent.Undo, totalVFs)
	if err != nil {
		return nil, err
	}
	if s.id() != ent.ID {
		return nil, fmt.Errorf("journal step %s: its record (kind %s) is that of step %s", ent.ID, ent.Kind, s.id())
	}
	return s, nil
}

// earlier is old, the same step's record of an earlier run, as the type
// of the step keeping it; decodeEntry makes another type impossible, and
// this makes it an error rather than a panic.
func earlier[T step](old step) (T, error) {
	o, ok := old.(T)
	if !ok {
		var s T
		return o, fmt.Errorf("journal step %s: the earlier record is of kind %s, not %s", old.id(), old.kind(), s.kind())
	}
	return o, nil
}

// done reports whether the kernel is already in s's wanted state.
func done(s step, e *env) (bool, error) {
	c, err := s.changes(e)
	return err == nil && len(c) == 0, err
}

// change is one field's difference, for the steps' changes methods.
func change(field, have, want string) []report.Change {
	if have == want {
		return nil
	}
	return []report.Change{{Field: field, Before: have, After: want}}
}

// refresh re-reads the PF (its VF count changes as steps run).
func (e *env) refresh() error {
	p, err := sriov.LookupPF(e.h.FS, e.pf.Name)
	if err != nil {
		return err
	}
	e.pf = p
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// --- sriov_numvfs ---

type numVFsStep struct {
	Want int `json:"want"`
	Old  int `json:"old"`
	// Unbound: create the VFs with sriov_drivers_autoprobe off, so no VF
	// driver binds them (the chosen VFs go to vfio-pci without flapping
	// through ixgbevf), then put autoprobe back.
	Unbound      bool `json:"unbound,omitempty"`
	OldAutoprobe bool `json:"old_autoprobe"`
}

func (s *numVFsStep) id() string   { return "numvfs" }
func (s *numVFsStep) kind() string { return "numvfs" }
func (s *numVFsStep) describe(e *env) string {
	d := fmt.Sprintf("write %d to %s/sriov_numvfs (the PF resets: its link drops for a moment)", s.Want, e.pf.DevDir())
	if e.pf.NumVFs != 0 && e.pf.NumVFs != s.Want {
		d = fmt.Sprintf("write 0 then %d to %s/sriov_numvfs, replacing %s (the PF resets twice)", s.Want, e.pf.DevDir(), report.Count(e.pf.NumVFs, "VF"))
	}
	if s.Unbound && e.pf.Autoprobe {
		d += ", with sriov_drivers_autoprobe 0 meanwhile so no driver binds the new VFs"
	}
	return d
}
func (s *numVFsStep) changes(e *env) ([]report.Change, error) {
	if err := e.refresh(); err != nil {
		return nil, err
	}
	have := strconv.Itoa(e.pf.NumVFs)
	if e.pf.NumVFs == s.Want && sriov.WaitVFs(context.Background(), e.h.FS, e.pf.Name, s.Want, 0) != nil {
		have += " (VF devices incomplete)"
	}
	return change("numvfs", have, strconv.Itoa(s.Want)), nil
}
func (s *numVFsStep) record(e *env) error {
	s.Old, s.OldAutoprobe = e.pf.NumVFs, e.pf.Autoprobe
	return nil
}
func (s *numVFsStep) keep(old step, _ *env) error {
	o, err := earlier[*numVFsStep](old)
	if err != nil {
		return err
	}
	s.Old, s.OldAutoprobe = o.Old, o.OldAutoprobe
	return nil
}
func (s *numVFsStep) apply(ctx context.Context, e *env) error {
	if s.Unbound && s.OldAutoprobe {
		if err := sriov.SetAutoprobe(e.h.FS, e.pf, false); err != nil {
			return err
		}
	}
	err := setNumVFs(ctx, e, s.Want)
	if s.Unbound && s.OldAutoprobe {
		if rerr := restoreAutoprobe(e, s.OldAutoprobe); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}
func (s *numVFsStep) undo(ctx context.Context, e *env) (bool, error) {
	changed := false
	if err := e.refresh(); err != nil {
		return false, err
	}
	if e.pf.NumVFs != s.Old {
		changed = true
		if err := setNumVFs(ctx, e, s.Old); err != nil {
			return changed, err
		}
	}
	if e.pf.Autoprobe != s.OldAutoprobe {
		changed = true
		return changed, restoreAutoprobe(e, s.OldAutoprobe)
	}
	return changed, nil
}

func restoreAutoprobe(e *env, on bool) error {
	if err := e.refresh(); err != nil {
		return err
	}
	if e.pf.Autoprobe == on {
		return nil
	}
	return sriov.SetAutoprobe(e.h.FS, e.pf, on)
}

// setNumVFs moves the PF to n VFs, through 0 when the count changes, as the
// kernel requires, and waits for the VF devices.
func setNumVFs(ctx context.Context, e *env, n int) error {
	if err := e.refresh(); err != nil {
		return err
	}
	if e.pf.NumVFs == n {
		return nil
	}
	if e.pf.NumVFs != 0 {
		if err := sriov.SetNumVFs(e.h.FS, e.pf, 0); err != nil {
			return err
		}
	}
	if n > 0 {
		if err := sriov.SetNumVFs(e.h.FS, e.pf, n); err != nil {
			return err
		}
	}
	return sriov.WaitVFs(ctx, e.h.FS, e.pf.Name, n, e.timeout)
}

// --- probe the VFs left to the kernel ---

type probeVFsStep struct {
	VFs []int `json:"vfs"`
}

func (s *probeVFsStep) id() string   { return "probe-vfs" }
func (s *probeVFsStep) kind() string { return "probe-vfs" }
func (s *probeVFsStep) describe(e *env) string {
	return fmt.Sprintf("bind VFs %v to their kernel driver (drivers_probe), as autoprobe would have", s.VFs)
}
func (s *probeVFsStep) changes(e *env) ([]report.Change, error) {
	var c []report.Change
	for _, k := range s.VFs {
		have := "none"
		if v, err := sriov.LookupVF(e.h.FS, e.pf.Name, k); err == nil && v.Driver != "" {
			continue
		} else if err != nil {
			have = ""
		}
		c = append(c, change(vfField(k, "driver"), have, kernelDriver)...)
	}
	return c, nil
}
func (s *probeVFsStep) record(*env) error     { return nil }
func (s *probeVFsStep) keep(step, *env) error { return nil }
func (s *probeVFsStep) apply(_ context.Context, e *env) error {
	for _, k := range s.VFs {
		v, err := sriov.LookupVF(e.h.FS, e.pf.Name, k)
		if err != nil {
			return err
		}
		if v.Driver != "" {
			continue
		}
		if err := vfio.Probe(e.h.FS, v.Address); err != nil {
			return fmt.Errorf("VF %d of %s: %w", k, e.pf.Name, err)
		}
	}
	return nil
}

// undo: the VFs go with the numvfs step's undo; a kernel driver on them is
// what the PF had before autoprobe was switched off.
func (s *probeVFsStep) undo(context.Context, *env) (bool, error) { return false, nil }

// --- VF settings over rtnetlink ---

type vfSettings struct {
	MAC      string `json:"mac,omitempty"`
	VLAN     *int   `json:"vlan,omitempty"`
	QoS      int    `json:"qos,omitempty"`
	Trust    *bool  `json:"trust,omitempty"`
	Spoofchk *bool  `json:"spoofchk,omitempty"`
}

type vfConfigStep struct {
	Index int        `json:"index"`
	Want  vfSettings `json:"want"`
	Old   vfSettings `json:"old"`
	// Created: the VF did not exist before this run, so undo leaves its
	// settings to vanish with it.
	Created bool `json:"created"`
}

func (s *vfConfigStep) id() string   { return "vf" + strconv.Itoa(s.Index) + "-config" }
func (s *vfConfigStep) kind() string { return "vf-config" }
func (s *vfConfigStep) describe(e *env) string {
	d := fmt.Sprintf("configure VF %d on %s:", s.Index, e.pf.Name)
	if s.Want.MAC != "" {
		d += " mac " + s.Want.MAC
	}
	if s.Want.VLAN != nil {
		d += fmt.Sprintf(" vlan %d", *s.Want.VLAN)
		if s.Want.QoS != 0 {
			d += fmt.Sprintf(" qos %d", s.Want.QoS)
		}
	}
	if s.Want.Trust != nil {
		d += " trust " + onOff(*s.Want.Trust)
	}
	if s.Want.Spoofchk != nil {
		d += " spoofchk " + onOff(*s.Want.Spoofchk)
	}
	return d
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (s *vfConfigStep) current(e *env) (host.VFInfo, bool, error) {
	vfs, err := e.h.Links.VFs(e.pf.Name)
	if err != nil {
		return host.VFInfo{}, false, err
	}
	for _, v := range vfs {
		if v.Index == s.Index {
			return v, true, nil
		}
	}
	return host.VFInfo{}, false, nil
}

func (s *vfConfigStep) changes(e *env) ([]report.Change, error) {
	cur, ok, err := s.current(e)
	if err != nil {
		// The VF is not there (yet): every wanted field is missing.
		ok = false
	}
	have := vfSettings{}
	if ok {
		have = settingsOf(cur, s.Want)
	}
	return s.Want.changes(s.Index, have, ok), nil
}

// keep takes the original of each field the old record covers; a field
// that record did not manage gets its value from now. Created stays as the
// first run found it.
func (s *vfConfigStep) keep(old step, e *env) error {
	o, err := earlier[*vfConfigStep](old)
	if err != nil {
		return err
	}
	if err := s.record(e); err != nil && !o.Created {
		return err
	}
	s.Created = o.Created
	if o.Old.MAC != "" {
		s.Old.MAC = o.Old.MAC
	}
	if o.Old.VLAN != nil {
		s.Old.VLAN, s.Old.QoS = o.Old.VLAN, o.Old.QoS
	}
	if o.Old.Trust != nil {
		s.Old.Trust = o.Old.Trust
	}
	if o.Old.Spoofchk != nil {
		s.Old.Spoofchk = o.Old.Spoofchk
	}
	return nil
}

func (s *vfConfigStep) record(e *env) error {
	cur, ok, err := s.current(e)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("VF %d of %s is not listed by rtnetlink", s.Index, e.pf.Name)
	}
	s.Old = settingsOf(cur, s.Want)
	return nil
}

// settingsOf is cur's value of each field w sets.
func settingsOf(cur host.VFInfo, w vfSettings) vfSettings {
	mac := cur.MAC.String()
	if mac == "" {
		mac = "00:00:00:00:00:00"
	}
	vlan, trust, spoof := cur.VLAN, cur.Trust, cur.Spoofchk
	var out vfSettings
	if w.MAC != "" {
		out.MAC = mac
	}
	if w.VLAN != nil {
		out.VLAN, out.QoS = &vlan, cur.QoS
	}
	if w.Trust != nil {
		out.Trust = &trust
	}
	if w.Spoofchk != nil {
		out.Spoofchk = &spoof
	}
	return out
}

// changes lists the fields w sets in which have differs; present is false
// when the VF does not exist, so every field is missing.
func (w vfSettings) changes(k int, have vfSettings, present bool) []report.Change {
	val := func(set bool, v string) string {
		if !present || !set {
			return ""
		}
		return v
	}
	var c []report.Change
	if w.MAC != "" {
		c = append(c, change(vfField(k, "mac"), val(true, have.MAC), w.MAC)...)
	}
	if w.VLAN != nil {
		c = append(c, change(vfField(k, "vlan"), val(have.VLAN != nil, strconv.Itoa(deref(have.VLAN))), strconv.Itoa(*w.VLAN))...)
		c = append(c, change(vfField(k, "qos"), val(have.VLAN != nil, strconv.Itoa(have.QoS)), strconv.Itoa(w.QoS))...)
	}
	if w.Trust != nil {
		c = append(c, change(vfField(k, "trust"), val(have.Trust != nil, onOff(derefB(have.Trust))), onOff(*w.Trust))...)
	}
	if w.Spoofchk != nil {
		c = append(c, change(vfField(k, "spoofchk"), val(have.Spoofchk != nil, onOff(derefB(have.Spoofchk))), onOff(*w.Spoofchk))...)
	}
	return c
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func derefB(p *bool) bool { return p != nil && *p }

// vfField names a VF's managed field in diffs: vf0.mac.
func vfField(k int, name string) string { return "vf" + strconv.Itoa(k) + "." + name }

// kernelDriver is the wanted driver of a VF left to the kernel, in diffs.
const kernelDriver = "kernel driver"

func (s *vfConfigStep) set(e *env, w vfSettings) error {
	l := e.h.Links
	if w.MAC != "" {
		hw, err := net.ParseMAC(w.MAC)
		if err != nil {
			return fmt.Errorf("VF %d MAC %q: %w", s.Index, w.MAC, err)
		}
		if err := l.SetVFMAC(e.pf.Name, s.Index, hw); err != nil {
			return err
		}
	}
	if w.VLAN != nil {
		if err := l.SetVFVLAN(e.pf.Name, s.Index, *w.VLAN, w.QoS); err != nil {
			return err
		}
	}
	if w.Spoofchk != nil {
		if err := l.SetVFSpoofchk(e.pf.Name, s.Index, *w.Spoofchk); err != nil {
			return err
		}
	}
	if w.Trust != nil {
		if err := l.SetVFTrust(e.pf.Name, s.Index, *w.Trust); err != nil {
			return err
		}
	}
	return nil
}

func (s *vfConfigStep) apply(_ context.Context, e *env) error { return s.set(e, s.Want) }

func (s *vfConfigStep) undo(_ context.Context, e *env) (bool, error) {
	if s.Created {
		return false, nil
	}
	cur, ok, err := s.current(e)
	if err != nil || !ok {
		return false, err
	}
	if len(s.Old.changes(s.Index, settingsOf(cur, s.Old), true)) == 0 {
		return false, nil
	}
	return true, s.set(e, s.Old)
}

// --- the vfio-pci module ---

type moduleStep struct {
	Name      string `json:"name"`
	WasLoaded bool   `json:"was_loaded"`
}

func (s *moduleStep) id() string             { return "module-" + s.Name }
func (s *moduleStep) kind() string           { return "module" }
func (s *moduleStep) describe(e *env) string { return "load kernel module " + s.Name }
func (s *moduleStep) changes(e *env) ([]report.Change, error) {
	return change("module."+s.Name, loaded(e.h.Modules.Loaded(s.Name)), loaded(true)), nil
}

func loaded(on bool) string {
	if on {
		return "loaded"
	}
	return "not loaded"
}
func (s *moduleStep) record(e *env) error {
	s.WasLoaded = e.h.Modules.Loaded(s.Name)
	return nil
}
func (s *moduleStep) keep(old step, _ *env) error {
	o, err := earlier[*moduleStep](old)
	if err != nil {
		return err
	}
	s.WasLoaded = o.WasLoaded
	return nil
}
func (s *moduleStep) apply(_ context.Context, e *env) error {
	if err := e.h.Modules.Load(s.Name); err != nil {
		return err
	}
	if !e.h.Modules.Loaded(s.Name) {
		return fmt.Errorf("module %s: loaded, but /sys/module shows no such module", s.Name)
	}
	return nil
}

// undo unloads the module only when this run loaded it and no device is
// bound to it any more.
func (s *moduleStep) undo(_ context.Context, e *env) (bool, error) {
	if s.WasLoaded || !e.h.Modules.Loaded(s.Name) {
		return false, nil
	}
	bound, err := vfio.BoundDevices(e.h.FS, s.Name)
	if err != nil || len(bound) > 0 {
		return false, err // still in use by another device: leave it loaded
	}
	return true, e.h.Modules.Unload(s.Name)
}

// --- vfio no-IOMMU mode ---

type noIOMMUStep struct {
	Old string `json:"old"`
}

func (s *noIOMMUStep) id() string   { return "noiommu" }
func (s *noIOMMUStep) kind() string { return "noiommu" }
func (s *noIOMMUStep) describe(e *env) string {
	return "switch vfio's unsafe no-IOMMU mode on (" + vfio.NoIOMMUParam + " = Y): the VF can DMA anywhere in memory"
}
func (s *noIOMMUStep) changes(e *env) ([]report.Change, error) {
	return change("noiommu", yn(vfio.NoIOMMUEnabled(e.h.FS)), "Y"), nil
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}
func (s *noIOMMUStep) keep(old step, _ *env) error {
	o, err := earlier[*noIOMMUStep](old)
	if err != nil {
		return err
	}
	s.Old = o.Old
	return nil
}
func (s *noIOMMUStep) record(e *env) error {
	v, err := host.ReadString(e.h.FS, vfio.NoIOMMUParam)
	if err != nil {
		return fmt.Errorf("read %s: %w", e.h.FS.Path(vfio.NoIOMMUParam), err)
	}
	s.Old = v
	return nil
}
func (s *noIOMMUStep) apply(_ context.Context, e *env) error {
	if err := e.h.FS.WriteAttr(vfio.NoIOMMUParam, "Y"); err != nil {
		return fmt.Errorf("enable vfio no-IOMMU mode: write %s: %w", e.h.FS.Path(vfio.NoIOMMUParam), err)
	}
	return nil
}
func (s *noIOMMUStep) undo(_ context.Context, e *env) (bool, error) {
	cur, err := host.ReadString(e.h.FS, vfio.NoIOMMUParam)
	if err != nil || cur == s.Old {
		return false, nil
	}
	if err := e.h.FS.WriteAttr(vfio.NoIOMMUParam, s.Old); err != nil {
		return false, fmt.Errorf("restore vfio no-IOMMU mode: write %s: %w", e.h.FS.Path(vfio.NoIOMMUParam), err)
	}
	return true, nil
}

// --- bind a VF to vfio-pci ---

type bindStep struct {
	Index  int          `json:"index"`
	Driver string       `json:"driver"`
	Old    vfio.Binding `json:"old"`
}

func (s *bindStep) id() string   { return "vf" + strconv.Itoa(s.Index) + "-bind" }
func (s *bindStep) kind() string { return "bind" }
func (s *bindStep) describe(e *env) string {
	addr := "(its PCI address once enabled)"
	if v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index); err == nil {
		addr = v.Address
	}
	return fmt.Sprintf("bind VF %d %s to %s (driver_override, unbind, drivers_probe)", s.Index, addr, s.Driver)
}
func (s *bindStep) changes(e *env) ([]report.Change, error) {
	field := vfField(s.Index, "driver")
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index)
	if err != nil {
		return change(field, "", s.Driver), nil
	}
	have := orNone(v.Driver)
	if v.Driver == s.Driver && s.Driver == vfio.Driver && v.IOMMUGroup != "" && vfio.DeviceNode(e.h.FS, v.IOMMUGroup) == "" {
		have += " (no /dev/vfio/" + v.IOMMUGroup + ")"
	}
	return change(field, have, s.Driver), nil
}
func (s *bindStep) keep(old step, _ *env) error {
	o, err := earlier[*bindStep](old)
	if err != nil {
		return err
	}
	s.Old = o.Old
	return nil
}
func (s *bindStep) record(e *env) error {
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index)
	if err != nil {
		return err
	}
	s.Old, err = vfio.Current(e.h.FS, v.Address)
	return err
}
func (s *bindStep) apply(ctx context.Context, e *env) error {
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index)
	if err != nil {
		return err
	}
	if s.Driver == vfio.Driver {
		if v.IOMMUGroup == "" && !vfio.NoIOMMUEnabled(e.h.FS) {
			return fmt.Errorf("VF %d (%s) has no IOMMU group: %w", s.Index, v.Address, vfio.ErrNoIOMMU)
		}
		if err := vfio.CheckViable(e.h.FS, v.Address); err != nil {
			return fmt.Errorf("VF %d of %s: %w", s.Index, e.pf.Name, err)
		}
	}
	if err := vfio.Bind(e.h.FS, v.Address, s.Driver); err != nil {
		return fmt.Errorf("VF %d of %s: %w", s.Index, e.pf.Name, err)
	}
	if s.Driver == vfio.Driver {
		g, err := vfio.Group(e.h.FS, v.Address)
		if err != nil {
			return err
		}
		if g != "" {
			if _, err := vfio.WaitDeviceNode(ctx, e.h.FS, g, e.timeout); err != nil {
				return fmt.Errorf("VF %d (%s) on vfio-pci: %w", s.Index, v.Address, err)
			}
		}
	}
	return nil
}
func (s *bindStep) undo(_ context.Context, e *env) (bool, error) {
	if s.Old.Address == "" {
		return false, nil
	}
	cur, err := vfio.Current(e.h.FS, s.Old.Address)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil && cur == s.Old {
		return false, nil
	}
	return true, vfio.Restore(e.h.FS, s.Old)
}

// --- ntuple ---

type ntupleStep struct {
	Old bool `json:"old"`
}

func (s *ntupleStep) id() string   { return "ntuple" }
func (s *ntupleStep) kind() string { return "ntuple" }
func (s *ntupleStep) describe(e *env) string {
	d := fmt.Sprintf("switch ntuple filters on (ethtool -K %s ntuple on)", e.pf.Name)
	if e.pf.Driver == "ixgbe" {
		// ixgbe_set_features: a change of NETIF_F_NTUPLE means ixgbe_do_reset.
		d += "; ixgbe resets the PF for it: its link drops for a moment"
	}
	return d
}
func (s *ntupleStep) changes(e *env) ([]report.Change, error) {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
	if err != nil {
		return nil, err
	}
	return change("ntuple", onOff(on), "on"), nil
}
func (s *ntupleStep) keep(old step, _ *env) error {
	o, err := earlier[*ntupleStep](old)
	if err != nil {
		return err
	}
	s.Old = o.Old
	return nil
}
func (s *ntupleStep) record(e *env) error {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
	s.Old = on
	return err
}
func (s *ntupleStep) apply(_ context.Context, e *env) error {
	return e.h.Ethtool.SetFeature(e.pf.Name, host.NtupleFeature, true)
}
func (s *ntupleStep) undo(_ context.Context, e *env) (bool, error) {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
	if err != nil {
		return false, err
	}
	if on == s.Old {
		return false, nil
	}
	return true, e.h.Ethtool.SetFeature(e.pf.Name, host.NtupleFeature, s.Old)
}

// --- what undo restores, for down's diff ---

func (s *numVFsStep) restores(e *env) []report.Change {
	if e.refresh() != nil {
		return nil
	}
	c := change("numvfs", strconv.Itoa(e.pf.NumVFs), strconv.Itoa(s.Old))
	return append(c, change("drivers_autoprobe", strconv.Itoa(b2i(e.pf.Autoprobe)), strconv.Itoa(b2i(s.OldAutoprobe)))...)
}

func (s *probeVFsStep) restores(*env) []report.Change { return nil }

// restores: settings of a VF up created vanish with it (numvfs says so).
func (s *vfConfigStep) restores(e *env) []report.Change {
	cur, ok, err := s.current(e)
	if s.Created || err != nil || !ok {
		return nil
	}
	return s.Old.changes(s.Index, settingsOf(cur, s.Old), true)
}

func (s *moduleStep) restores(e *env) []report.Change {
	if s.WasLoaded {
		return nil
	}
	return change("module."+s.Name, loaded(e.h.Modules.Loaded(s.Name)), loaded(false))
}

func (s *noIOMMUStep) restores(e *env) []report.Change {
	return change("noiommu", yn(vfio.NoIOMMUEnabled(e.h.FS)), s.Old)
}

func (s *bindStep) restores(e *env) []report.Change {
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index)
	if err != nil {
		return nil
	}
	return change(vfField(s.Index, "driver"), orNone(v.Driver), orNone(s.Old.Driver))
}

func (s *ntupleStep) restores(e *env) []report.Change {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
	if err != nil {
		return nil
	}
	return change("ntuple", onOff(on), onOff(s.Old))
}
