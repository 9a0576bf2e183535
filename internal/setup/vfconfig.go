package setup

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/report"
)

var _ journaled = (*vfConfigStep)(nil)

// vfConfigStep sets a VF's MAC, VLAN/QoS, trust and spoofchk over
// rtnetlink, recording the values of the fields it sets.
type vfConfigStep struct {
	Index int        `json:"index"`
	Want  vfSettings `json:"want"`
	Old   vfSettings `json:"old"`
	// Created: the VF did not exist before this run, so undo leaves its
	// settings to vanish with it.
	Created bool `json:"created"`
}

func (s *vfConfigStep) id() string { return "vf" + strconv.Itoa(s.Index) + "-config" }

func (s *vfConfigStep) kind() StepKind { return KindVFConfig }

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
		d += " trust " + report.OnOff(*s.Want.Trust)
	}
	if s.Want.Spoofchk != nil {
		d += " spoofchk " + report.OnOff(*s.Want.Spoofchk)
	}
	return d
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

// keep takes the original of each field the old record covers; a field
// that record did not manage gets its value from now. Created stays as the
// first run found it.
func (s *vfConfigStep) keep(old journaled, e *env) error {
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

func (s *vfConfigStep) apply(_ context.Context, e *env) error { return s.set(e, s.Want) }

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

// back is the VF's settings before the first up; those of a VF up created
// vanish with it (numvfs says so).
func (s *vfConfigStep) back() target {
	if s.Created {
		return leave(fmt.Sprintf("leave VF %d's settings: they go with the VF", s.Index))
	}
	return vfConfigBack{s}
}

// vfConfigBack is the recorded settings (Old) of the VF of s.
type vfConfigBack struct{ s *vfConfigStep }

func (b vfConfigBack) describe(e *env) string {
	return fmt.Sprintf("set VF %d on %s back to%s", b.s.Index, e.pf.Name, b.s.Old.words())
}

// changes: a VF that is gone took its settings with it.
func (b vfConfigBack) changes(e *env) ([]report.Change, error) {
	cur, ok, err := b.s.current(e)
	if err != nil || !ok {
		return nil, err
	}
	return b.s.Old.changes(b.s.Index, settingsOf(cur, b.s.Old), true), nil
}

func (b vfConfigBack) apply(_ context.Context, e *env) error { return b.s.set(e, b.s.Old) }

func (s *vfConfigStep) validate(total int) error {
	if err := checkVFIndex("index", s.Index, total); err != nil {
		return err
	}
	if err := s.Want.validate("want"); err != nil {
		return err
	}
	return s.Old.validate("old")
}

// vfSettings are the VF fields set over rtnetlink; a field left empty
// (nil) is not managed.
type vfSettings struct {
	MAC      string `json:"mac,omitempty"`
	VLAN     *int   `json:"vlan,omitempty"`
	QoS      int    `json:"qos,omitempty"`
	Trust    *bool  `json:"trust,omitempty"`
	Spoofchk *bool  `json:"spoofchk,omitempty"`
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
		c = append(c, change(vfField(k, "trust"), val(have.Trust != nil, report.OnOff(derefB(have.Trust))), report.OnOff(*w.Trust))...)
	}
	if w.Spoofchk != nil {
		c = append(c, change(vfField(k, "spoofchk"), val(have.Spoofchk != nil, report.OnOff(derefB(have.Spoofchk))), report.OnOff(*w.Spoofchk))...)
	}
	return c
}

func (v vfSettings) validate(prefix string) error {
	if v.MAC != "" {
		hw, err := net.ParseMAC(v.MAC)
		if err != nil || len(hw) != 6 {
			return fieldErr(prefix+".mac", "MAC %q is not a 6-byte Ethernet address", v.MAC)
		}
	}
	if v.VLAN != nil && (*v.VLAN < 0 || *v.VLAN > 4095) {
		return fieldErr(prefix+".vlan", "VLAN %d is out of range 0..4095", *v.VLAN)
	}
	if v.QoS < 0 || v.QoS > 7 {
		return fieldErr(prefix+".qos", "QoS %d is out of range 0..7", v.QoS)
	}
	return nil
}

// words lists the settings as " mac M vlan V qos Q trust on spoofchk off".
func (v vfSettings) words() string {
	var b strings.Builder
	if v.MAC != "" {
		b.WriteString(" mac " + v.MAC)
	}
	if v.VLAN != nil {
		fmt.Fprintf(&b, " vlan %d qos %d", *v.VLAN, v.QoS)
	}
	if v.Trust != nil {
		b.WriteString(" trust " + report.OnOff(*v.Trust))
	}
	if v.Spoofchk != nil {
		b.WriteString(" spoofchk " + report.OnOff(*v.Spoofchk))
	}
	if b.Len() == 0 {
		return " its settings"
	}
	return b.String()
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

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func derefB(p *bool) bool { return p != nil && *p }
