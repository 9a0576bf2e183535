package hostsim

// The simulated ntuple rule tables.
//
// The 82599 model imitates ixgbe's flow-director perfect filters as
// drivers/net/ethernet/intel/ixgbe/ixgbe_ethtool.c implements them
// (ixgbe_get_rxnfc, ixgbe_set_rxnfc, ixgbe_get_ethtool_fdir_entry,
// ixgbe_get_ethtool_fdir_all, ixgbe_flowspec_to_flow_type,
// ixgbe_add_ethtool_fdir_entry, ixgbe_update_ethtool_fdir_entry,
// ixgbe_del_ethtool_fdir_entry), with the queue layout of ixgbe_lib.c
// (ixgbe_set_sriov_queues). The 82576 model imitates igb
// (drivers/net/ethernet/intel/igb/igb_ethtool.c: igb_get_rxnfc,
// igb_add_ethtool_nfc_entry), whose 82576 has no NETIF_F_NTUPLE in
// hw_features. Any other interface (virtio-net, veth) has no rule
// table at all: every rule ioctl answers EOPNOTSUPP.
//
// The table of each interface persists in DIR/.vfbypass-sim/fdir-IF.tbl
// (removed when the table empties, as ixgbe forgets the port mask then), so
// separate processes see one table. Each write stores a fresh random
// generation in the first line; an open Device re-reads the rest of the file
// only when the generation changed, which keeps a loop of Rule calls cheap.

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Values from drivers/net/ethernet/intel/ixgbe/ixgbe_type.h.
const (
	atrFlowTypeIPv4   = 0x0 // IXGBE_ATR_FLOW_TYPE_IPV4
	atrFlowTypeUDPv4  = 0x1 // IXGBE_ATR_FLOW_TYPE_UDPV4
	atrFlowTypeTCPv4  = 0x2 // IXGBE_ATR_FLOW_TYPE_TCPV4
	atrFlowTypeSCTPv4 = 0x3 // IXGBE_ATR_FLOW_TYPE_SCTPV4
	atrL4TypeMask     = 0x3 // IXGBE_ATR_L4TYPE_MASK
	atrL4TypeIPv6Mask = 0x4 // IXGBE_ATR_L4TYPE_IPV6_MASK
	// igbMaxRxnfcFilters is IGB_MAX_RXNFC_FILTERS (igb.h).
	igbMaxRxnfcFilters = 16
	// ixgbeFdirPballoc64K is ixgbe's default adapter->fdir_pballoc
	// (IXGBE_FDIR_PBALLOC_64K).
	ixgbeFdirPballoc64K = 1
)

// atrInput is the part of ixgbe's union ixgbe_atr_input (ixgbe_type.h,
// "formatted") that ethtool rules fill. Byte fields keep network order, as
// the driver copies the __be fields across unchanged.
type atrInput struct {
	VMPool    uint8
	FlowType  uint8
	VlanID    [2]byte
	DstIP     [4]byte
	SrcIP     [4]byte
	SrcPort   [2]byte
	DstPort   [2]byte
	FlexBytes [2]byte
}

func (a atrInput) and(m atrInput) atrInput {
	a.VMPool &= m.VMPool
	a.FlowType &= m.FlowType
	for i := range a.VlanID {
		a.VlanID[i] &= m.VlanID[i]
		a.SrcPort[i] &= m.SrcPort[i]
		a.DstPort[i] &= m.DstPort[i]
		a.FlexBytes[i] &= m.FlexBytes[i]
	}
	for i := range a.DstIP {
		a.DstIP[i] &= m.DstIP[i]
		a.SrcIP[i] &= m.SrcIP[i]
	}
	return a
}

func (a atrInput) encode() string {
	b := []byte{a.VMPool, a.FlowType}
	b = append(b, a.VlanID[:]...)
	b = append(b, a.DstIP[:]...)
	b = append(b, a.SrcIP[:]...)
	b = append(b, a.SrcPort[:]...)
	b = append(b, a.DstPort[:]...)
	b = append(b, a.FlexBytes[:]...)
	return hex.EncodeToString(b)
}

func decodeATR(s string) (atrInput, error) {
	var a atrInput
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 18 {
		return a, fmt.Errorf("bad filter %q", s)
	}
	a.VMPool, a.FlowType = b[0], b[1]
	copy(a.VlanID[:], b[2:4])
	copy(a.DstIP[:], b[4:8])
	copy(a.SrcIP[:], b[8:12])
	copy(a.SrcPort[:], b[12:14])
	copy(a.DstPort[:], b[14:16])
	copy(a.FlexBytes[:], b[16:18])
	return a, nil
}

// fdirRule is one entry of ixgbe's adapter->fdir_filter_list.
type fdirRule struct {
	Loc    uint32   // sw_idx
	Filter atrInput // filter.formatted, masked by the port mask
	Action uint64   // the ring_cookie as given (IXGBE_FDIR_DROP_QUEUE for drop)
}

// fdirTable is a port's perfect-filter state: the rules sorted by
// location and the one input mask (adapter->fdir_mask).
type fdirTable struct {
	Gen   uint64
	Mask  atrInput
	Rules []fdirRule
}

func (t *fdirTable) find(loc uint32) int {
	i := sort.Search(len(t.Rules), func(i int) bool { return t.Rules[i].Loc >= loc })
	if i < len(t.Rules) && t.Rules[i].Loc == loc {
		return i
	}
	return -1
}

const tableMagic = "vfbypass-sim fdir v1"

func (s *Sim) tablePath(ifname string) string {
	return filepath.Join(s.root, MarkerDir, "fdir-"+ifname+".tbl")
}

func (s *Sim) tableSizePath() string {
	return filepath.Join(s.root, MarkerDir, "fdir-size")
}

// readGen reads the generation in the table file's first line; 0 when
// there is no table.
func readGen(r *bufio.Reader) (uint64, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("rule table header: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0]+" "+f[1]+" "+f[2] != tableMagic {
		return 0, fmt.Errorf("rule table header %q is not %q", strings.TrimSpace(line), tableMagic)
	}
	return strconv.ParseUint(f[3], 16, 64)
}

// loadTable reads ifname's table, reusing cached when its generation is
// current. The caller holds the simulator's lock.
func (s *Sim) loadTable(ifname string, cached *fdirTable) (*fdirTable, error) {
	f, err := os.Open(s.tablePath(ifname))
	if os.IsNotExist(err) {
		return &fdirTable{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	gen, err := readGen(r)
	if err != nil {
		return nil, err
	}
	if cached != nil && cached.Gen == gen && gen != 0 {
		return cached, nil
	}
	t := &fdirTable{Gen: gen}
	first := true
	for {
		line, err := r.ReadString('\n')
		if line = strings.TrimSpace(line); line != "" {
			if first {
				if t.Mask, err = decodeATR(strings.TrimPrefix(line, "mask ")); err != nil {
					return nil, err
				}
				first = false
				continue
			}
			var loc uint32
			var filter string
			var action uint64
			if _, err := fmt.Sscanf(line, "%d %s %x", &loc, &filter, &action); err != nil {
				return nil, fmt.Errorf("rule table line %q: %w", line, err)
			}
			a, err := decodeATR(filter)
			if err != nil {
				return nil, err
			}
			t.Rules = append(t.Rules, fdirRule{Loc: loc, Filter: a, Action: action})
		}
		if err != nil {
			break
		}
	}
	return t, nil
}

// saveTable writes t with a new generation, or removes the file when t is
// empty. The caller holds the simulator's lock.
func (s *Sim) saveTable(ifname string, t *fdirTable) error {
	p := s.tablePath(ifname)
	if len(t.Rules) == 0 {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		t.Gen = 0
		return nil
	}
	var body strings.Builder
	fmt.Fprintf(&body, "mask %s\n", t.Mask.encode())
	for _, r := range t.Rules {
		fmt.Fprintf(&body, "%d %s %x\n", r.Loc, r.Filter.encode(), r.Action)
	}
	// The generation is a hash of the content: readers that cached this
	// content see the same number, and a table put back as it was is the
	// same file byte for byte.
	sum := sha256.Sum256([]byte(body.String()))
	t.Gen = binary.LittleEndian.Uint64(sum[:8]) | 1
	var b strings.Builder
	fmt.Fprintf(&b, "%s %x\n%s", tableMagic, t.Gen, body.String())
	return replaceFile(p, []byte(b.String())) // a failed insert leaves the table as it was
}

// SetRuleTableSize makes the simulated 82599's perfect-filter table hold
// size rules instead of ixgbe's (1024 << fdir_pballoc) - 2 = 2046, so tests
// can fill it. It stands in for the fdir_pballoc module setting; 0 restores
// the default.
func SetRuleTableSize(root string, size uint32) error {
	p := filepath.Join(root, MarkerDir, "fdir-size")
	if size == 0 {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	return os.WriteFile(p, []byte(strconv.FormatUint(uint64(size), 10)+"\n"), 0o644)
}

// fdirSize is ixgbe's perfect-filter table size: (1024 << fdir_pballoc) - 2.
func (s *Sim) fdirSize() uint32 {
	if n, err := strconv.ParseUint(readTrim(s.tableSizePath()), 10, 32); err == nil && n > 0 {
		return uint32(n)
	}
	return (1024 << ixgbeFdirPballoc64K) - 2
}

// rxQueues, queuesPerPool: see rss.go (the queue layout).

// lockSim runs f with the simulator's lock held.
func (s *Sim) lockSim(f func() error) error {
	lf, err := os.OpenFile(filepath.Join(s.root, MarkerDir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("simulator lock: %w", err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("simulator lock: %w", err)
	}
	defer unix.Flock(int(lf.Fd()), unix.LOCK_UN)
	s.removeTemps()
	return f()
}

// removeTemps removes the temporary files (state.json.tmp, a rule table's
// .tmp) that replaceFile left when its process was killed between write
// and rename; under the simulator's lock no replaceFile is under way.
func (s *Sim) removeTemps() {
	dir := filepath.Join(s.root, MarkerDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// loadState reads the simulator's state; the caller holds the lock.
func (s *Sim) loadState() (*state, error) {
	st, _, err := s.readState()
	return st, err
}

// readState reads the simulator's state and the bytes it came from; the
// caller holds the lock.
func (s *Sim) readState() (*state, []byte, error) {
	b, err := os.ReadFile(s.stateFile())
	if err != nil {
		return nil, nil, fmt.Errorf("simulator state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, fmt.Errorf("simulator state %s: %w", s.stateFile(), err)
	}
	if st.VFs == nil {
		st.VFs = map[int]*vfSettings{}
	}
	latched, err := present(filepath.Join(s.root, MarkerDir, rscLatch))
	if err != nil {
		return nil, nil, err
	}
	st.RSS.NoRSC = latched
	return &st, b, nil
}

// rules opens ifname's rule table (host.Host.Rules). The driver behind the
// interface is fixed when the host is made, so it is read once here.
func (s *Sim) rules(ifname string) (flows.Device, error) {
	if err := s.netdev(ifname, fmt.Errorf("ethtool: open rule table of %s: %w", ifname, unix.ENODEV)); err != nil {
		return nil, err
	}
	r := &simRules{s: s, ifname: ifname}
	err := s.lockSim(func() error {
		st, err := s.loadState()
		if err != nil {
			return err
		}
		if ifname == st.PF {
			r.drv, r.model = igb, st.Model.Name
			if st.Model.Ntuple {
				r.drv = ixgbe
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ethtool: open rule table of %s: %w", ifname, err)
	}
	return r, nil
}

// simRules is a simulated interface's rule table, reached as SIOCETHTOOL
// would reach it.
type simRules struct {
	s      *Sim
	ifname string
	drv    driver
	model  string
	cache  *fdirTable
}

// driver names the rule model that answers for the interface.
type driver int

const (
	noRxnfc driver = iota // no get_rxnfc/set_rxnfc: EOPNOTSUPP
	ixgbe
	igb
)

// call checks the fault list, takes the lock, and runs f with the
// interface's table, and with the simulator's state when withState (reads
// of the table do without, which keeps a loop of Rule calls cheap).
func (r *simRules) call(op, cmd string, withState, save bool, f func(st *state, t *fdirTable) error) error {
	// Without a fault list there is nothing to check (and fault would
	// rewrite the state for nothing on every call of a loop).
	// mayExist: an error reading the fault list is left to fault to report.
	if mayExist(filepath.Join(r.s.root, MarkerDir, "faults.json")) {
		if err := r.s.fault("ethtool-rule", r.ifname+"/"+op); err != nil {
			return fmt.Errorf("ethtool: %s on %s: %w", cmd, r.ifname, err)
		}
	}
	err := r.s.lockSim(func() error {
		if err := r.s.netdev(r.ifname, unix.ENODEV); err != nil {
			return err
		}
		if r.drv == noRxnfc {
			// net/ethtool/ioctl.c: no ops->get_rxnfc / set_rxnfc.
			return fmt.Errorf("%w (%w: %s has no ntuple rule table)", unix.EOPNOTSUPP, flows.ErrNotSupported, r.ifname)
		}
		var st *state
		if withState {
			var err error
			if st, err = r.s.loadState(); err != nil {
				return err
			}
		}
		t, err := r.s.loadTable(r.ifname, r.cache)
		if err != nil {
			return err
		}
		if r.drv == igb {
			t = &fdirTable{} // the 82576 can never hold a rule
		}
		r.cache = t
		if err := f(st, t); err != nil {
			return err
		}
		if save {
			if err := r.s.saveTable(r.ifname, t); err != nil {
				r.cache = nil
				return err
			}
			r.cache = t // the file now holds t under its new generation
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ethtool: %s on %s: %w", cmd, r.ifname, err)
	}
	return nil
}

// Name implements flows.Device.
func (r *simRules) Name() string { return r.ifname }

// Close implements flows.Device.
func (r *simRules) Close() error { return nil }

// RxRings implements flows.Device: ETHTOOL_GRXRINGS (ixgbe_get_rxnfc,
// igb_get_rxnfc; see rxRings in rss.go).
func (r *simRules) RxRings() (uint64, error) {
	var n uint64
	err := r.call("rings", "ETHTOOL_GRXRINGS", true, false, func(st *state, _ *fdirTable) error {
		n = uint64(st.rxRings())
		return nil
	})
	return n, err
}

// RuleCount implements flows.Device. ixgbe_get_rxnfc answers
// ETHTOOL_GRXCLSRLCNT with rule_cnt = fdir_filter_count only, and
// RX_CLS_LOC_SPECIAL is never set (the caller picks locations).
func (r *simRules) RuleCount() (count uint32, special bool, err error) {
	err = r.call("count", "ETHTOOL_GRXCLSRLCNT", false, false, func(_ *state, t *fdirTable) error {
		count = uint32(len(t.Rules))
		return nil
	})
	return count, false, err
}

// RuleLocations implements flows.Device (ixgbe_get_ethtool_fdir_all: the
// list is kept sorted by sw_idx, and data is the table size,
// (1024 << fdir_pballoc) - 2). igb answers its filters and
// IGB_MAX_RXNFC_FILTERS.
func (r *simRules) RuleLocations() (locs []uint32, size uint32, err error) {
	err = r.call("list", "ETHTOOL_GRXCLSRLALL", false, false, func(_ *state, t *fdirTable) error {
		locs = make([]uint32, 0, len(t.Rules))
		for _, x := range t.Rules {
			locs = append(locs, x.Loc)
		}
		size = r.s.fdirSize()
		if r.drv == igb {
			size = igbMaxRxnfcFilters
		}
		return nil
	})
	return locs, size, err
}

// Rule implements flows.Device, reporting the rule as
// ixgbe_get_ethtool_fdir_entry does: EINVAL for an empty location; the
// flow type with FLOW_EXT always set (IP_USER_FLOW with ip_ver
// ETH_RX_NFC_IP4 and proto 0 for an IPv4 rule); addresses and ports as
// stored, i.e. already ANDed with the port mask; the port-wide mask, not
// the one inserted; VLAN TCI, flex bytes (in vlan_etype) and the pool (in
// data[1]) in h_ext/m_ext; and ring_cookie as it was inserted (the VF
// field stays 1-based; the driver keeps the absolute queue to itself), or
// RX_CLS_FLOW_DISC for a drop rule. ixgbe fills no RSS context.
func (r *simRules) Rule(loc uint32) (flows.FlowSpec, uint32, error) {
	var fs flows.FlowSpec
	err := r.call("get", "ETHTOOL_GRXCLSRULE", false, false, func(_ *state, t *fdirTable) error {
		i := t.find(loc)
		if i < 0 {
			return unix.EINVAL
		}
		fs = reportRule(t.Rules[i], t.Mask)
		return nil
	})
	return fs, 0, err
}

func reportRule(x fdirRule, mask atrInput) flows.FlowSpec {
	var fs flows.FlowSpec
	f := x.Filter
	switch f.FlowType {
	case atrFlowTypeTCPv4:
		fs.FlowType = flows.FlowTCPv4
	case atrFlowTypeUDPv4:
		fs.FlowType = flows.FlowUDPv4
	case atrFlowTypeSCTPv4:
		fs.FlowType = flows.FlowSCTPv4
	default:
		fs.FlowType = flows.FlowIPv4User
		fs.HU[flows.OffIP4Ver] = flows.EthRxNfcIP4
	}
	copy(fs.HU[flows.OffIP4Psrc:], f.SrcPort[:])
	copy(fs.MU[flows.OffIP4Psrc:], mask.SrcPort[:])
	copy(fs.HU[flows.OffIP4Pdst:], f.DstPort[:])
	copy(fs.MU[flows.OffIP4Pdst:], mask.DstPort[:])
	copy(fs.HU[flows.OffIP4Src:], f.SrcIP[:])
	copy(fs.MU[flows.OffIP4Src:], mask.SrcIP[:])
	copy(fs.HU[flows.OffIP4Dst:], f.DstIP[:])
	copy(fs.MU[flows.OffIP4Dst:], mask.DstIP[:])
	fs.HExt.VlanTCI = f.VlanID
	fs.MExt.VlanTCI = mask.VlanID
	fs.HExt.VlanEtype = f.FlexBytes
	fs.MExt.VlanEtype = mask.FlexBytes
	binary.BigEndian.PutUint32(fs.HExt.Data[4:], uint32(f.VMPool))
	binary.BigEndian.PutUint32(fs.MExt.Data[4:], uint32(mask.VMPool))
	fs.FlowType |= flows.FlowExt
	fs.RingCookie = x.Action
	fs.Location = x.Loc
	return fs
}

// flowspecToFlowType follows ixgbe_flowspec_to_flow_type: only the IPv4
// flow types, with FLOW_EXT the one flag allowed; an IP_USER_FLOW rule
// becomes TCP/UDP/SCTP by its proto, and plain IPv4 only when proto is 0
// and not masked in. ok false is "Unrecognized flow type" (EINVAL).
func flowspecToFlowType(fs flows.FlowSpec) (uint8, bool) {
	switch fs.FlowType &^ flows.FlowExt {
	case flows.FlowTCPv4:
		return atrFlowTypeTCPv4, true
	case flows.FlowUDPv4:
		return atrFlowTypeUDPv4, true
	case flows.FlowSCTPv4:
		return atrFlowTypeSCTPv4, true
	case flows.FlowIPv4User:
		switch fs.HU[flows.OffIP4Proto] {
		case unix.IPPROTO_TCP:
			return atrFlowTypeTCPv4, true
		case unix.IPPROTO_UDP:
			return atrFlowTypeUDPv4, true
		case unix.IPPROTO_SCTP:
			return atrFlowTypeSCTPv4, true
		case 0:
			if fs.MU[flows.OffIP4Proto] == 0 {
				return atrFlowTypeIPv4, true
			}
		}
	}
	return 0, false
}

// Insert implements flows.Device following ixgbe_add_ethtool_fdir_entry,
// in its order of checks:
//   - EOPNOTSUPP unless IXGBE_FLAG_FDIR_PERFECT_CAPABLE, i.e. ntuple on;
//   - the ring_cookie, unless RX_CLS_FLOW_DISC: VF field (bits 32-39,
//     ethtool_get_flow_spec_ring_vf) 0 needs ring < num_rx_queues; VF field
//     v > 0 needs v <= num_vfs and ring < num_rx_queues_per_pool (the
//     driver steers to absolute queue (v-1)*queues_per_pool + ring);
//     EINVAL otherwise;
//   - EINVAL for a location >= (1024 << fdir_pballoc) - 2 (so also for
//     RX_CLS_LOC_ANY);
//   - EINVAL for a flow type ixgbe_flowspec_to_flow_type does not take;
//   - the input mask (flow-type mask, addresses, ports, and with FLOW_EXT
//     pool, VLAN TCI and flex bytes): the first rule of an empty table sets
//     the port mask if the hardware can program it (setInputMask82599, else
//     EINVAL, "Error writing mask"), any other mask is EINVAL ("Only one
//     mask supported per port"), also when replacing the only rule;
//   - the filter is stored ANDed with the mask
//     (ixgbe_atr_compute_perfect_hash_82599), replacing a rule at the same
//     location (ixgbe_update_ethtool_fdir_entry).
//
// Released kernels accept a second rule with the same match at another
// location. igb on an 82576 answers EOPNOTSUPP (no NETIF_F_NTUPLE in
// hw_features).
func (r *simRules) Insert(fs flows.FlowSpec, _ uint32) (uint32, error) {
	err := r.call("insert", "ETHTOOL_SRXCLSRLINS", true, true, func(st *state, t *fdirTable) error {
		if r.drv == igb {
			return fmt.Errorf("%w (%w: igb has no ntuple filters on the %s)", unix.EOPNOTSUPP, flows.ErrNotSupported, st.Model.Name)
		}
		if !st.Ntuple {
			return fmt.Errorf("%w (ntuple filters are off: ethtool -K %s ntuple on)", unix.EOPNOTSUPP, r.ifname)
		}
		if fs.RingCookie != flows.RingDrop {
			// ethtool_get_flow_spec_ring and _ring_vf (the VF field is N+1).
			ring := fs.RingCookie & flows.RingQueueMask
			vf := (fs.RingCookie & flows.RingVFMask) >> flows.RingVFShift
			if vf == 0 && ring >= uint64(st.rxQueues()) {
				return unix.EINVAL
			}
			if vf != 0 && (vf > uint64(len(st.VFs)) || ring >= uint64(st.queuesPerPool())) {
				return unix.EINVAL
			}
		}
		if fs.Location >= r.s.fdirSize() {
			return unix.EINVAL // "Location out of range"
		}
		ft, ok := flowspecToFlowType(fs)
		if !ok {
			return unix.EINVAL // "Unrecognized flow type"
		}
		var in, mask atrInput
		in.FlowType = ft
		mask.FlowType = atrL4TypeIPv6Mask | atrL4TypeMask
		if ft == atrFlowTypeIPv4 {
			mask.FlowType &= atrL4TypeIPv6Mask
		}
		copy(in.SrcIP[:], fs.HU[flows.OffIP4Src:])
		copy(mask.SrcIP[:], fs.MU[flows.OffIP4Src:])
		copy(in.DstIP[:], fs.HU[flows.OffIP4Dst:])
		copy(mask.DstIP[:], fs.MU[flows.OffIP4Dst:])
		copy(in.SrcPort[:], fs.HU[flows.OffIP4Psrc:])
		copy(mask.SrcPort[:], fs.MU[flows.OffIP4Psrc:])
		copy(in.DstPort[:], fs.HU[flows.OffIP4Pdst:])
		copy(mask.DstPort[:], fs.MU[flows.OffIP4Pdst:])
		if fs.FlowType&flows.FlowExt != 0 {
			in.VMPool = uint8(binary.BigEndian.Uint32(fs.HExt.Data[4:]))
			mask.VMPool = uint8(binary.BigEndian.Uint32(fs.MExt.Data[4:]))
			in.VlanID = fs.HExt.VlanTCI
			mask.VlanID = fs.MExt.VlanTCI
			in.FlexBytes = fs.HExt.VlanEtype
			mask.FlexBytes = fs.MExt.VlanEtype
		}
		if len(t.Rules) == 0 {
			if !setInputMask82599(mask) {
				return unix.EINVAL // "Error writing mask"
			}
			t.Mask = mask
		} else if t.Mask != mask {
			return unix.EINVAL // "Only one mask supported per port"
		}
		x := fdirRule{Loc: fs.Location, Filter: in.and(mask), Action: fs.RingCookie}
		if i := t.find(fs.Location); i >= 0 {
			t.Rules[i] = x
			return nil
		}
		t.Rules = append(t.Rules, x)
		sort.Slice(t.Rules, func(i, j int) bool { return t.Rules[i].Loc < t.Rules[j].Loc })
		return nil
	})
	if err != nil {
		return 0, err
	}
	return fs.Location, nil
}

// setInputMask82599 reports whether ixgbe_fdir_set_input_mask_82599
// (ixgbe_82599.c) programs mask into FDIRM, or fails: the pool is compared
// fully (0x7F) or not at all; without the L4 type in the mask (plain IPv4)
// no port may be masked in; the VLAN mask (bit 12, CFI, left out) is
// 0x0000, 0x0FFF, 0xE000 or 0xEFFF; the flex bytes are masked fully or not
// at all.
func setInputMask82599(m atrInput) bool {
	switch m.VMPool & 0x7f {
	case 0x00, 0x7f:
	default:
		return false // "Error on vm pool mask"
	}
	switch m.FlowType & atrL4TypeMask {
	case 0x0:
		if m.DstPort != [2]byte{} || m.SrcPort != [2]byte{} {
			return false // "Error on src/dst port mask"
		}
	case atrL4TypeMask:
	default:
		return false // "Error on flow type mask"
	}
	switch binary.BigEndian.Uint16(m.VlanID[:]) & 0xefff {
	case 0x0000, 0x0fff, 0xe000, 0xefff:
	default:
		return false // "Error on VLAN mask"
	}
	switch binary.BigEndian.Uint16(m.FlexBytes[:]) {
	case 0x0000, 0xffff:
	default:
		return false // "Error on flexible byte mask"
	}
	return true
}

// Delete implements flows.Device (ixgbe_del_ethtool_fdir_entry through
// ixgbe_update_ethtool_fdir_entry with no input: EINVAL when no rule sits
// at loc). It does not need ntuple on. When the last rule goes, the port
// mask is forgotten: the next insert sets a new one.
func (r *simRules) Delete(loc uint32) error {
	return r.call("delete", "ETHTOOL_SRXCLSRLDEL", false, true, func(_ *state, t *fdirTable) error {
		i := t.find(loc)
		if i < 0 {
			return unix.EINVAL
		}
		t.Rules = append(t.Rules[:i], t.Rules[i+1:]...)
		return nil
	})
}
