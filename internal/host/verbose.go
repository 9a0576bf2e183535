package host

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Verbose returns a Host that does what h does and writes one line to w for
// each call that reaches the kernel: every sysfs attribute write, every
// rtnetlink call, every ethtool ioctl (features, channels, the RSS table,
// ntuple rules) and every module load or unload, with its result. File
// reads are not shown. It is what `vfbypass -v` prints on stderr.
func Verbose(h *Host, w io.Writer) *Host {
	l := &callLog{w: w}
	v := *h
	if h.FS != nil {
		v.FS = verboseFS{FS: h.FS, l: l}
	}
	if h.Links != nil {
		v.Links = verboseLinks{Links: h.Links, l: l}
	}
	if h.Ethtool != nil {
		v.Ethtool = verboseEthtool{Ethtool: h.Ethtool, l: l}
	}
	if h.Modules != nil {
		v.Modules = verboseModules{Modules: h.Modules, l: l}
	}
	if h.Rules != nil {
		open := h.Rules
		v.Rules = func(ifname string) (flows.Device, error) {
			d, err := open(ifname)
			l.log(err, "ethtool %s: open the ntuple rule table", ifname)
			if err != nil {
				return nil, err
			}
			return verboseDevice{Device: d, l: l}, nil
		}
	}
	return &v
}

// callLog writes the lines; calls may come from more than one goroutine.
type callLog struct {
	mu sync.Mutex
	w  io.Writer
}

// log writes "what: ok" or "what: error: ...".
func (l *callLog) log(err error, format string, args ...any) {
	l.read(err, "ok", format, args...)
}

// read writes "what: value" or "what: error: ...".
func (l *callLog) read(err error, value string, format string, args ...any) {
	result := value
	if err != nil {
		result = "error: " + err.Error()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "  %s: %s\n", fmt.Sprintf(format, args...), result)
}

type verboseFS struct {
	FS
	l *callLog
}

func (f verboseFS) WriteAttr(p, value string) error {
	err := f.FS.WriteAttr(p, value)
	f.l.log(err, "write %q to %s", value, p)
	return err
}

type verboseLinks struct {
	Links
	l *callLog
}

func (n verboseLinks) VFs(pf string) ([]VFInfo, error) {
	vfs, err := n.Links.VFs(pf)
	n.l.log(err, "netlink %s: read the VFs (RTM_GETLINK, IFLA_VFINFO_LIST)", pf)
	return vfs, err
}

func (n verboseLinks) SetVFMAC(pf string, vf int, mac net.HardwareAddr) error {
	err := n.Links.SetVFMAC(pf, vf, mac)
	n.l.log(err, "netlink %s: vf %d mac %s (IFLA_VF_MAC)", pf, vf, mac)
	return err
}

func (n verboseLinks) SetVFVLAN(pf string, vf, vlan, qos int) error {
	err := n.Links.SetVFVLAN(pf, vf, vlan, qos)
	n.l.log(err, "netlink %s: vf %d vlan %d qos %d (IFLA_VF_VLAN)", pf, vf, vlan, qos)
	return err
}

func (n verboseLinks) SetVFTrust(pf string, vf int, on bool) error {
	err := n.Links.SetVFTrust(pf, vf, on)
	n.l.log(err, "netlink %s: vf %d trust %s (IFLA_VF_TRUST)", pf, vf, onOff(on))
	return err
}

func (n verboseLinks) SetVFSpoofchk(pf string, vf int, on bool) error {
	err := n.Links.SetVFSpoofchk(pf, vf, on)
	n.l.log(err, "netlink %s: vf %d spoofchk %s (IFLA_VF_SPOOFCHK)", pf, vf, onOff(on))
	return err
}

type verboseEthtool struct {
	Ethtool
	l *callLog
}

func (e verboseEthtool) Feature(ifname, name string) (bool, bool, error) {
	on, fixed, err := e.Ethtool.Feature(ifname, name)
	e.l.read(err, onOff(on), "ethtool %s: read feature %s (ETHTOOL_GFEATURES)", ifname, name)
	return on, fixed, err
}

func (e verboseEthtool) SetFeature(ifname, name string, on bool) error {
	err := e.Ethtool.SetFeature(ifname, name, on)
	e.l.log(err, "ethtool %s: %s %s (ETHTOOL_SFEATURES)", ifname, name, onOff(on))
	return err
}

func (e verboseEthtool) RxQueues(ifname string) (int, error) {
	n, err := e.Ethtool.RxQueues(ifname)
	e.l.read(err, fmt.Sprintf("%d", n), "ethtool %s: read the RX queue count", ifname)
	return n, err
}

func (e verboseEthtool) RxRings(ifname string) (int, error) {
	n, err := e.Ethtool.RxRings(ifname)
	e.l.read(err, fmt.Sprintf("%d", n), "ethtool %s: read the RX rings (ETHTOOL_GRXRINGS)", ifname)
	return n, err
}

func (e verboseEthtool) Channels(ifname string) (flows.Channels, error) {
	c, err := e.Ethtool.Channels(ifname)
	e.l.log(err, "ethtool %s: read the channels (ETHTOOL_GCHANNELS)", ifname)
	return c, err
}

func (e verboseEthtool) Indir(ifname string) ([]uint32, error) {
	t, err := e.Ethtool.Indir(ifname)
	e.l.read(err, fmt.Sprintf("%d entries", len(t)), "ethtool %s: read the RSS indirection table (ETHTOOL_GRXFHINDIR)", ifname)
	return t, err
}

func (e verboseEthtool) SetIndir(ifname string, table []uint32) error {
	err := e.Ethtool.SetIndir(ifname, table)
	what := fmt.Sprintf("%d entries", len(table))
	if len(table) == 0 {
		what = "reset to the driver's default"
	}
	e.l.log(err, "ethtool %s: write the RSS indirection table (ETHTOOL_SRXFHINDIR), %s", ifname, what)
	return err
}

func (e verboseEthtool) XDPChanged(ifname string, queue int, attached bool) error {
	err := e.Ethtool.XDPChanged(ifname, queue, attached)
	what := "detached"
	if attached {
		what = "attached"
	}
	e.l.log(err, "xdp %s: the receiver's program %s (AF_XDP socket on queue %d)", ifname, what, queue)
	return err
}

type verboseModules struct {
	Modules
	l *callLog
}

func (m verboseModules) Load(name string) error {
	err := m.Modules.Load(name)
	m.l.log(err, "modprobe %s", name)
	return err
}

func (m verboseModules) Unload(name string) error {
	err := m.Modules.Unload(name)
	m.l.log(err, "modprobe -r %s", name)
	return err
}

type verboseDevice struct {
	flows.Device
	l *callLog
}

func (d verboseDevice) RxRings() (uint64, error) {
	n, err := d.Device.RxRings()
	d.l.read(err, fmt.Sprintf("%d", n), "ethtool %s: read the RX rings (ETHTOOL_GRXRINGS)", d.Name())
	return n, err
}

func (d verboseDevice) RuleCount() (uint32, bool, error) {
	n, special, err := d.Device.RuleCount()
	d.l.read(err, fmt.Sprintf("%d", n), "ethtool %s: count the rules (ETHTOOL_GRXCLSRLCNT)", d.Name())
	return n, special, err
}

func (d verboseDevice) RuleLocations() ([]uint32, uint32, error) {
	locs, size, err := d.Device.RuleLocations()
	d.l.read(err, fmt.Sprintf("%d of %d locations", len(locs), size), "ethtool %s: list the rules (ETHTOOL_GRXCLSRLALL)", d.Name())
	return locs, size, err
}

func (d verboseDevice) Rule(loc uint32) (flows.FlowSpec, uint32, error) {
	fs, ctx, err := d.Device.Rule(loc)
	d.l.log(err, "ethtool %s: read the rule at %d (ETHTOOL_GRXCLSRULE)", d.Name(), loc)
	return fs, ctx, err
}

func (d verboseDevice) Insert(fs flows.FlowSpec, rssContext uint32) (uint32, error) {
	loc, err := d.Device.Insert(fs, rssContext)
	d.l.read(err, fmt.Sprintf("at %d", loc), "ethtool %s: insert %s (ETHTOOL_SRXCLSRLINS)", d.Name(), strings.Join(flows.Words(fs, rssContext), " "))
	return loc, err
}

func (d verboseDevice) Delete(loc uint32) error {
	err := d.Device.Delete(loc)
	d.l.log(err, "ethtool %s: delete the rule at %d (ETHTOOL_SRXCLSRLDEL)", d.Name(), loc)
	return err
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
