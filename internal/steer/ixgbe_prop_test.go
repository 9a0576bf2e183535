package steer_test

import (
	"encoding/binary"
	"errors"
	"math/rand"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// ruleGen draws ethtool_rx_flow_spec values around what ixgbe takes: the
// masks come from a small set per sequence so that rules often share the
// port mask, and every field ixgbe looks at (flow type and flags, ip4
// proto and its mask, addresses, ports, pool, VLAN, flex bytes, target,
// location) is sometimes off by a little.
type ruleGen struct {
	r      *rand.Rand
	masks  []flows.FlowSpec
	size   uint32
	numVFs int
}

func (g *ruleGen) pick(xs ...uint64) uint64 { return xs[g.r.Intn(len(xs))] }

func (g *ruleGen) mask() flows.FlowSpec {
	var m flows.FlowSpec
	binary.BigEndian.PutUint32(m.MU[0:], uint32(g.pick(0, 0xffffffff, 0xffffff00)))
	binary.BigEndian.PutUint32(m.MU[4:], uint32(g.pick(0, 0xffffffff, 0xffff0000)))
	binary.BigEndian.PutUint16(m.MU[8:], uint16(g.pick(0, 0xffff, 0xff00)))
	binary.BigEndian.PutUint16(m.MU[10:], uint16(g.pick(0, 0xffff)))
	binary.BigEndian.PutUint16(m.MExt.VlanTCI[:], uint16(g.pick(0, 0x0fff, 0xe000, 0xefff, 0xffff, 0x00ff)))
	binary.BigEndian.PutUint16(m.MExt.VlanEtype[:], uint16(g.pick(0, 0xffff, 0x00ff)))
	binary.BigEndian.PutUint32(m.MExt.Data[4:], uint32(g.pick(0, 0x7f, 0xff, 0x0f)))
	return m
}

func (g *ruleGen) rule() flows.FlowSpec {
	fs := g.masks[g.r.Intn(len(g.masks))]
	fs.FlowType = uint32(g.pick(uint64(flows.FlowTCPv4), uint64(flows.FlowUDPv4), uint64(flows.FlowSCTPv4),
		uint64(flows.FlowIPv4User), uint64(flows.FlowIPv4User), uint64(flows.FlowTCPv6), uint64(flows.FlowEther)))
	if fs.FlowType == flows.FlowIPv4User {
		fs.HU[13] = flows.EthRxNfcIP4
		fs.HU[14] = byte(g.pick(0, 0, 6, 17, 132, 1))
		fs.MU[14] = byte(g.pick(0, 0xff, 0x0f))
	}
	if g.r.Intn(4) == 0 {
		fs.MU[12] = byte(g.pick(0, 0xff)) // tos: ixgbe ignores it
	}
	switch g.r.Intn(20) {
	case 0:
		fs.FlowType |= flows.FlowMACExt
		fs.MExt.HDest = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	case 1:
		fs.FlowType |= flows.FlowRSS
	}
	if g.r.Intn(3) == 0 {
		fs.FlowType |= flows.FlowExt
	}
	g.r.Read(fs.HU[:12])
	g.r.Read(fs.HExt.VlanTCI[:])
	g.r.Read(fs.HExt.VlanEtype[:])
	g.r.Read(fs.HExt.Data[:])
	switch g.r.Intn(8) {
	case 0:
		fs.RingCookie = flows.RingDrop
	case 1, 2:
		fs.RingCookie = flows.Cookie(-1, uint32(g.r.Intn(6)))
	default:
		fs.RingCookie = flows.Cookie(g.r.Intn(g.numVFs+1), uint32(g.r.Intn(5)))
	}
	fs.Location = uint32(g.r.Intn(int(g.size) + 2))
	return fs
}

// The precheck's model of ixgbe (internal/steer) and the simulator's
// (internal/hostsim), written separately from the driver's source, take exactly
// the same rules: random rules and random sequences of inserts and deletes,
// each checked by the precheck and then inserted into the simulated 82599;
// and a rule taken reads back as the precheck predicts (the form the
// journal records before the insert).
func TestPrecheckAgreesWithSimulatedIxgbe(t *testing.T) {
	t.Parallel()
	seed := int64(1)
	if s := os.Getenv("VFBYPASS_PROP_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	sequences, steps := 40, 25
	if testing.Short() {
		sequences = 10
	}
	l := newLab(t, hostsim.Options{}, 2)
	const size = 6
	if err := hostsim.SetRuleTableSize(l.root, size); err != nil {
		t.Fatal(err)
	}
	dev, err := l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	g := &ruleGen{r: rand.New(rand.NewSource(seed)), size: size, numVFs: 2}
	var accepted, refused int
	for seq := 0; seq < sequences; seq++ {
		g.masks = []flows.FlowSpec{g.mask(), g.mask()}
		for step := 0; step < steps; step++ {
			if locs, _, err := dev.RuleLocations(); err != nil {
				t.Fatal(err)
			} else if len(locs) > 0 && g.r.Intn(5) == 0 {
				if err := dev.Delete(locs[g.r.Intn(len(locs))]); err != nil {
					t.Fatal(err)
				}
				continue
			}
			fs := g.rule()
			verdict, err := steer.DriverRefusal(l.h, "eth3", fs)
			if err != nil {
				t.Fatal(err)
			}
			if verdict != nil && !outcome.Is[*outcome.BadInput](verdict) {
				t.Fatalf("seed %d: the precheck's refusal is not bad input: %v", seed, verdict)
			}
			_, ierr := dev.Insert(fs, 0)
			if ierr != nil && !errors.Is(ierr, unix.EINVAL) {
				t.Fatalf("seed %d: insert: %v", seed, ierr)
			}
			if (verdict == nil) != (ierr == nil) {
				t.Fatalf("seed %d, sequence %d step %d: precheck says %v, the simulated ixgbe says %v\nrule %+v", seed, seq, step, verdict, ierr, fs)
			}
			if ierr == nil {
				got, _, err := dev.Rule(fs.Location)
				if err != nil {
					t.Fatal(err)
				}
				want, err := steer.StoredForm(l.h, "eth3", fs)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("seed %d: rule %+v\nreported back as %+v\nthe precheck predicts %+v", seed, fs, got, want)
				}
				accepted++
			} else {
				refused++
			}
		}
	}
	t.Logf("seed %d: %d rules taken, %d refused by both", seed, accepted, refused)
	if accepted < sequences || refused < sequences {
		t.Fatalf("the draw is lopsided (%d taken, %d refused): it tests too little", accepted, refused)
	}
}
