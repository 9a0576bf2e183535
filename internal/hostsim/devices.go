package hostsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// --- rtnetlink VF settings ---

type simLinks struct{ s *Sim }

// linkErr is what vishvananda/netlink returns for a missing link.
func linkErr(pf string) error {
	return fmt.Errorf("netlink: find interface %s: Link not found", pf)
}

func (l *simLinks) check(st *state, pf string, vf int) error {
	if err := l.s.netdev(pf, linkErr(pf)); err != nil {
		return err
	}
	if pf != st.PF || st.NoSRIOV {
		return fmt.Errorf("netlink: %s: %w (%w: %s has no SR-IOV VFs, its driver takes no VF settings)", pf, unix.EOPNOTSUPP, flows.ErrNotSupported, pf)
	}
	if _, ok := st.VFs[vf]; !ok || vf < 0 {
		return fmt.Errorf("netlink: VF %d of %s: %w", vf, pf, unix.EINVAL)
	}
	return nil
}

// VFs implements host.Links.
func (l *simLinks) VFs(pf string) ([]host.VFInfo, error) {
	if err := l.s.fault("netlink", pf+"/vfs"); err != nil {
		return nil, err
	}
	var out []host.VFInfo
	err := l.s.locked(func(st *state) error {
		if err := l.s.netdev(pf, linkErr(pf)); err != nil {
			return err
		}
		if pf != st.PF {
			return nil
		}
		for k := 0; k < len(st.VFs); k++ {
			v := st.VFs[k]
			mac, _ := net.ParseMAC(v.MAC)
			out = append(out, host.VFInfo{Index: k, MAC: mac, VLAN: v.VLAN, QoS: v.QoS, Spoofchk: v.Spoofchk, Trust: v.Trust})
		}
		return nil
	})
	return out, err
}

func (l *simLinks) set(pf string, vf int, what string, f func(v *vfSettings) error) error {
	if err := l.s.fault("netlink", fmt.Sprintf("%s/vf%d/%s", pf, vf, what)); err != nil {
		return err
	}
	return l.s.locked(func(st *state) error {
		if err := l.check(st, pf, vf); err != nil {
			return fmt.Errorf("netlink: set %s of VF %d on %s: %w", what, vf, pf, err)
		}
		if err := f(st.VFs[vf]); err != nil {
			return fmt.Errorf("netlink: set %s of VF %d on %s: %w", what, vf, pf, err)
		}
		return nil
	})
}

// SetVFMAC implements host.Links (ixgbe_ndo_set_vf_mac: a valid unicast or
// the zero address, else EINVAL).
func (l *simLinks) SetVFMAC(pf string, vf int, mac net.HardwareAddr) error {
	return l.set(pf, vf, "mac", func(v *vfSettings) error {
		if len(mac) != 6 || mac[0]&1 != 0 {
			return unix.EINVAL
		}
		v.MAC = mac.String()
		return nil
	})
}

// SetVFVLAN implements host.Links (ixgbe_ndo_set_vf_vlan: vlan > 4095 or
// qos > 7 is EINVAL).
func (l *simLinks) SetVFVLAN(pf string, vf, vlan, qos int) error {
	return l.set(pf, vf, "vlan", func(v *vfSettings) error {
		if vlan < 0 || vlan > 4095 || qos < 0 || qos > 7 {
			return unix.EINVAL
		}
		v.VLAN, v.QoS = vlan, qos
		return nil
	})
}

// SetVFTrust implements host.Links.
func (l *simLinks) SetVFTrust(pf string, vf int, on bool) error {
	return l.set(pf, vf, "trust", func(v *vfSettings) error { v.Trust = on; return nil })
}

// SetVFSpoofchk implements host.Links.
func (l *simLinks) SetVFSpoofchk(pf string, vf int, on bool) error {
	return l.set(pf, vf, "spoofchk", func(v *vfSettings) error { v.Spoofchk = on; return nil })
}

// --- ethtool ---

type simEthtool struct{ s *Sim }

// Feature implements host.Ethtool: rx-ntuple-filter is changeable on a
// flow-director NIC (ixgbe) and fixed off elsewhere; rx-lro (ethtool -k: large-receive-offload)
// likewise (ixgbe's RSC, see rss.go).
func (e *simEthtool) Feature(ifname, name string) (bool, bool, error) {
	if err := e.s.fault("ethtool", ifname+"/"+name); err != nil {
		return false, false, err
	}
	var on, fixed bool
	err := e.s.locked(func(st *state) error {
		if err := e.s.netdev(ifname, fmt.Errorf("ethtool: read features of %s: %w", ifname, unix.ENODEV)); err != nil {
			return err
		}
		switch {
		case name == host.LROFeature && ifname == st.PF && st.ixgbe():
			on = st.lroOn() // RSC, on by default (ixgbe_sw_init)
			return nil
		case name == host.LROFeature:
			fixed = true // igb and virtio-net here: no NETIF_F_LRO
			return nil
		case name != host.NtupleFeature:
			return fmt.Errorf("ethtool: %s has %w %q", ifname, host.ErrNoFeature, name)
		case ifname == st.PF && st.Model.Ntuple:
			on = st.Ntuple
			return nil
		}
		fixed = true
		return nil
	})
	return on, fixed, err
}

// SetFeature implements host.Ethtool. On ixgbe an ntuple or LRO change
// resets a running port (ixgbe_set_features → ixgbe_do_reset →
// ixgbe_reinit_locked: rules kept, table refilled); ixgbe_fix_features keeps
// LRO off while an XDP program is attached ("LRO is not supported with
// XDP") or after SR-IOV cleared RSC (no IXGBE_FLAG2_RSC_CAPABLE until the
// driver reloads): the request then changes nothing.
func (e *simEthtool) SetFeature(ifname, name string, on bool) error {
	if err := e.s.fault("ethtool", ifname+"/"+name); err != nil {
		return err
	}
	if err := e.s.fault("ethtool-set", ifname+"/"+name); err != nil {
		return err
	}
	return e.s.locked(func(st *state) error {
		if err := e.s.netdev(ifname, fmt.Errorf("ethtool: set %s on %s: %w", name, ifname, unix.ENODEV)); err != nil {
			return err
		}
		switch {
		case name == host.LROFeature && ifname == st.PF && st.ixgbe() && st.RSS.NoRSC:
			return nil // nothing to change: ixgbe_fix_features keeps NETIF_F_LRO off
		case name == host.LROFeature && ifname == st.PF && st.ixgbe():
			if on && st.RSS.XDP != "" {
				return nil
			}
			if st.RSS.LROOff == !on {
				return nil
			}
			st.RSS.LROOff = !on
		case name != host.NtupleFeature || ifname != st.PF || !st.Model.Ntuple:
			return fmt.Errorf("ethtool: set %s %v on %s: %w (feature fixed)", name, on, ifname, unix.EOPNOTSUPP)
		case st.Ntuple == on:
			return nil
		default:
			st.Ntuple = on
		}
		if err := e.s.emit(host.Event{Link: ifname, Kind: host.EventFeatures, Detail: fmt.Sprintf("%s %s", name, map[bool]string{true: "on", false: "off"}[on])}); err != nil {
			return err
		}
		return e.s.portReset(st, resetReinit, "ixgbe_set_features → ixgbe_do_reset", st.rxQueues())
	})
}

// RxQueues implements host.Ethtool: the PF's num_rx_queues (rxQueues in
// rss.go: up to 63 on ixgbe without VFs, one pool of 4, 2 or 1 with them;
// igb's rss_queues, 2 with VFs).
func (e *simEthtool) RxQueues(ifname string) (int, error) {
	if err := e.s.fault("ethtool", ifname+"/channels"); err != nil {
		return 0, err
	}
	q := 1
	err := e.s.locked(func(st *state) error {
		if err := e.s.netdev(ifname, fmt.Errorf("ethtool: read channels of %s: %w", ifname, unix.ENODEV)); err != nil {
			return err
		}
		if ifname != st.PF {
			return nil
		}
		q = st.rxQueues()
		return nil
	})
	return q, err
}

// --- modules ---

type simModules struct{ s *Sim }

func modDir(name string) string { return "/sys/module/" + strings.ReplaceAll(name, "-", "_") }

// Loaded implements host.Modules.
// An error reading /sys/module is not taken for "not loaded" (so that
// nothing unloads or reloads on it); the interface has no error to return.
func (m *simModules) Loaded(name string) bool { return mayExist(m.s.p(modDir(name))) }

// Load implements host.Modules: only vfio-pci is loadable here.
func (m *simModules) Load(name string) error {
	if err := m.s.fault("module", name); err != nil {
		return err
	}
	if name != "vfio-pci" {
		return fmt.Errorf("modprobe %s: module not found in the simulated host", name)
	}
	return m.s.lockedTx(func(*state) error {
		if err := os.MkdirAll(m.s.p(modDir(name)), 0o755); err != nil {
			return err
		}
		return m.s.makeDriver(name)
	})
}

// Unload implements host.Modules: EBUSY while a device is bound.
func (m *simModules) Unload(name string) error {
	if err := m.s.fault("module", name); err != nil {
		return err
	}
	return m.s.lockedTx(func(*state) error {
		ents, err := os.ReadDir(m.s.p("/sys/bus/pci/drivers/" + name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("simulated host: %w", err) // not "no device bound"
		}
		for _, e := range ents {
			if strings.Count(e.Name(), ":") == 2 {
				return fmt.Errorf("modprobe -r %s: %w (in use by %s)", name, unix.EBUSY, e.Name())
			}
		}
		os.RemoveAll(m.s.p("/sys/bus/pci/drivers/" + name))
		return os.RemoveAll(m.s.p(modDir(name)))
	})
}

// --- ntuple rule tables: see rules.go ---

// --- faults ---

// Fault makes a simulated kernel call fail: the Times calls (default 1)
// after the first After calls whose Op matches and whose key (a host path
// for "write"; "PF/vfK/field" for "netlink"; "IF/feature", "IF/indir",
// "IF/channels", "IF/rings" or "IF/xdp" for "ethtool", reads and writes
// alike; "IF/feature" or "IF/indir" for "ethtool-set", writes only;
// the module for "module"; "IF/OP" for "ethtool-rule") matches the glob
// Match, fail with Errno and change nothing. Op is a glob too: "*" counts
// every simulated kernel call, so After N fails the (N+1)th of the run.
type Fault struct {
	Op    string     `json:"op"`
	Match string     `json:"match"`
	Errno unix.Errno `json:"errno"`
	After int        `json:"after,omitempty"`
	Times int        `json:"times,omitempty"`
	Hits  int        `json:"hits,omitempty"`
	// Delay, with Errno 0, makes the call hang this long and then succeed:
	// a window in which a test can kill the process mid-step.
	Delay time.Duration `json:"delay,omitempty"`
}

// AddFault arms a fault in the simulated host at root.
func AddFault(root string, f Fault) error {
	if f.Times == 0 {
		f.Times = 1
	}
	if _, err := filepath.Match(f.Match, ""); err != nil {
		return fmt.Errorf("fault match %q: %w", f.Match, err)
	}
	fs, _ := readFaults(root)
	fs = append(fs, f)
	return writeFaults(root, fs)
}

// ClearFaults disarms every fault.
func ClearFaults(root string) error {
	return os.RemoveAll(filepath.Join(root, MarkerDir, "faults.json"))
}

func readFaults(root string) ([]Fault, error) {
	b, err := os.ReadFile(filepath.Join(root, MarkerDir, "faults.json"))
	if err != nil {
		return nil, err
	}
	var fs []Fault
	return fs, json.Unmarshal(b, &fs)
}

func writeFaults(root string, fs []Fault) error {
	b, _ := json.Marshal(fs)
	return os.WriteFile(filepath.Join(root, MarkerDir, "faults.json"), b, 0o644)
}

// fault returns the armed fault's error for this call, if any.
func (s *Sim) fault(op, key string) error {
	var hit error
	var delay time.Duration
	_ = s.locked(func(*state) error {
		fs, err := readFaults(s.root)
		if err != nil {
			return nil
		}
		for i := range fs {
			f := &fs[i]
			if !globMatch(f.Op, op) || f.Hits >= f.After+f.Times {
				continue
			}
			if !globMatch(f.Match, key) {
				continue
			}
			f.Hits++
			if f.Hits > f.After {
				if f.Errno == 0 {
					delay = f.Delay
				} else {
					hit = &os.PathError{Op: op, Path: key, Err: f.Errno}
				}
				break
			}
		}
		return writeFaults(s.root, fs)
	})
	time.Sleep(delay)
	return hit
}

// ParseErrno maps a name such as EIO to its errno (EOPNOTSUPP, the
// kernel's name, is ENOTSUP's value on Linux).
func ParseErrno(name string) (unix.Errno, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return unix.Errno(n), nil
	}
	if strings.EqualFold(name, "EOPNOTSUPP") {
		return unix.EOPNOTSUPP, nil
	}
	for e := unix.Errno(1); e < 200; e++ {
		if unix.ErrnoName(e) == strings.ToUpper(name) {
			return e, nil
		}
	}
	return 0, fmt.Errorf("errno %q is not known (use a name such as EIO or a number)", name)
}

// globMatch matches key against a glob whose * and ? also cross '/'.
func globMatch(glob, key string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(glob)) + "$"
	ok, _ := regexp.MatchString(re, key)
	return ok
}
