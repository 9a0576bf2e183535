//go:build cgo && !nodpdk

package rx_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/netnstest"
	"github.com/vfbypass/vfbypass/pkg/rx"
	"github.com/vfbypass/vfbypass/pkg/rx/internal/ringfeed"
)

// EAL can be initialised once per process, so each scenario runs in a child:
// the test binary re-executed with childEnv naming the scenario. The child
// prints one "RESULT {json}" line.
const childEnv = "VFBYPASS_RX_CHILD"

// pmdDir is where Debian's DPDK 22.11 keeps its PMD plugins, which EAL loads
// from its default plugin path.
const pmdDir = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"

type result struct {
	Queues  []rx.QueueCounters `json:"queues"`
	Port    rx.PortStats       `json:"port"`
	Seconds float64            `json:"seconds"`
	Driver  string             `json:"driver"`
	Err     string             `json:"err"`
	Ports   []string           `json:"ports"`
	XSK     *rx.XSKMode        `json:"xsk"`
}

func needDPDK(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("DPDK tests need root (EAL maps memory and opens /dev and AF_PACKET)")
	}
	if _, err := os.Stat(pmdDir); err != nil {
		t.Skipf("DPDK PMD plugins not installed (%v): apt-get install dpdk libdpdk-dev", err)
	}
}

// ealArgs are the EAL arguments of the tests: no hugepages, no PCI, no
// files shared with other DPDK processes.
// (--in-memory does not combine with --no-huge; a per-process
// --file-prefix does the same, and cleanup removes its runtime directory.)
func ealArgs(t *testing.T, vdev string) []string {
	prefix := "vfbt" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	return []string{"-l", "0,1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix, "--log-level", "*:warning", "--vdev", vdev}
}

// runChild runs scenario in a child process (optionally through a prefix
// command such as `ip netns exec NS`) and returns its result.
func runChild(t *testing.T, test, scenario string, prefix ...string) result {
	t.Helper()
	args := append(prefix, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+scenario)
	out, err := cmd.CombinedOutput()
	return parseChild(t, string(out), err)
}

// parseChild returns the child's RESULT line; a child that printed one and
// then failed (a panic or a fatal error after the count) fails the test.
func parseChild(t *testing.T, out string, err error) result {
	t.Helper()
	var res result
	found := false
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(line, "RESULT "); ok && !found {
			if jerr := json.Unmarshal([]byte(s), &res); jerr != nil {
				t.Fatalf("child result %q: %v", s, jerr)
			}
			found = true
		}
	}
	switch {
	case !found:
		t.Fatalf("child printed no result (err %v):\n%s", err, out)
	case err != nil:
		t.Fatalf("child printed its result but then failed: %v\n%s", err, out)
	}
	return res
}

func report(t *testing.T, p *rx.Port, secs float64) {
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(result{Queues: p.Counters(), Port: st, Seconds: secs, Driver: p.Driver})
	fmt.Printf("RESULT %s\n", b)
}

func TestNullVdevCountsAndRate(t *testing.T) {
	if os.Getenv(childEnv) == "null" {
		e, p, l := startLoop(t, "net_null0", rx.PortConfig{}, rx.LoopConfig{})
		defer e.Close()
		if _, err := rx.InitEAL(nil); err != rx.ErrEALUsed {
			t.Fatalf("second InitEAL: %v, want ErrEALUsed", err)
		}
		// The loop runs at least 200 ms, and until it has counted packets
		// (a polling lcore starved on a loaded machine counts late), at
		// most 5 s.
		start := time.Now()
		time.Sleep(200 * time.Millisecond)
		for rx.Sum(p.Counters()).Packets == 0 && time.Since(start) < 5*time.Second {
			time.Sleep(50 * time.Millisecond)
		}
		if rx.Sum(p.Counters()).Packets == 0 {
			t.Errorf("no packets counted in 5 s while the loop runs")
		}
		if _, err := p.Stats(); err != nil {
			t.Errorf("stats while running: %v", err)
		}
		if err := l.Stop(); err != nil {
			t.Fatal(err)
		}
		report(t, p, time.Since(start).Seconds())
		return
	}
	needDPDK(t)
	r := runChild(t, "TestNullVdevCountsAndRate", "null")
	tot := rx.Sum(r.Queues)
	if tot.Packets == 0 || tot.Bursts == 0 {
		t.Fatalf("net_null: nothing counted: %+v", r)
	}
	if r.Driver != "net_null" {
		t.Errorf("driver %q, want net_null", r.Driver)
	}
	if r.Port.IPackets != tot.Packets {
		t.Errorf("port ipackets %d, loop counted %d", r.Port.IPackets, tot.Packets)
	}
	if tot.Bytes != 64*tot.Packets {
		t.Errorf("bytes %d for %d packets of 64 bytes", tot.Bytes, tot.Packets)
	}
	t.Logf("net_null: %d packets in %.2fs: %.1f Mpps (lcore %d)", tot.Packets, r.Seconds, float64(tot.Packets)/r.Seconds/1e6, r.Queues[0].Lcore)
}

func TestRingVdevExactCount(t *testing.T) {
	const n = 100000
	if os.Getenv(childEnv) == "ring" {
		e, p, l := startLoop(t, "net_ring0", rx.PortConfig{Mbufs: 2047}, rx.LoopConfig{})
		defer e.Close()
		start := time.Now()
		if err := ringfeed.Feed("ETH_RXTX0_net_ring0", n, 100, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		stopAt(t, p, l, n, 10*time.Second, 50*time.Millisecond)
		report(t, p, time.Since(start).Seconds())
		return
	}
	needDPDK(t)
	r := runChild(t, "TestRingVdevExactCount", "ring")
	tot := rx.Sum(r.Queues)
	if tot.Packets != n || tot.Bytes != 100*n || r.Port.IPackets != n {
		t.Fatalf("net_ring: counted %d packets %d bytes (port %d), want exactly %d and %d", tot.Packets, tot.Bytes, r.Port.IPackets, n, 100*n)
	}
	t.Logf("net_ring: exactly %d packets in %d bursts, %d empty polls", tot.Packets, tot.Bursts, tot.EmptyPolls)
}

// TestSetupRefusalNamesQueues asks net_ring0 (16 RX queues) for 20: the
// refusal comes back with the counts and the PMD's name, written by the C
// set-up through its error buffer.
func TestSetupRefusalNamesQueues(t *testing.T) {
	if os.Getenv(childEnv) == "queues" {
		e, err := rx.InitEAL(ealArgs(t, "net_ring0"))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		_, err = e.OpenPort("net_ring0", rx.PortConfig{RxQueues: 20})
		if err == nil {
			t.Fatal("20 RX queues on net_ring0 accepted")
		}
		b, _ := json.Marshal(result{Err: err.Error(), Ports: e.Ports()})
		fmt.Printf("RESULT %s\n", b)
		return
	}
	needDPDK(t)
	r := runChild(t, "TestSetupRefusalNamesQueues", "queues")
	if want := "20 RX queues asked, the PMD net_ring offers 16"; !strings.Contains(r.Err, want) {
		t.Fatalf("error %q, want it to contain %q", r.Err, want)
	}
}

// TestFailedSetupClosesPort makes net_af_packet refuse its RX queue (frames
// of 4096 bytes do not fit the pool's 2048-byte mbufs) after the port was
// configured: the port is stopped and closed (DPDK then releases it, so EAL
// lists it no more) before its mempool is freed, and EAL shuts down cleanly.
func TestFailedSetupClosesPort(t *testing.T) {
	if os.Getenv(childEnv) == "failedsetup" {
		e, err := rx.InitEAL(ealArgs(t, "net_af_packet0,iface=lo,framesz=4096,framecnt=64"))
		if err != nil {
			t.Fatal(err)
		}
		before := e.Ports()
		_, err = e.OpenPort("net_af_packet0", rx.PortConfig{Mbufs: 1023})
		if err == nil {
			t.Fatal("4096-byte frames in 2048-byte mbufs accepted")
		}
		after := e.Ports()
		if cerr := e.Close(); cerr != nil {
			t.Fatalf("EAL close after the failed set-up: %v", cerr)
		}
		b, _ := json.Marshal(result{Err: err.Error(), Ports: append(before, append([]string{"|"}, after...)...)})
		fmt.Printf("RESULT %s\n", b)
		return
	}
	needDPDK(t)
	if _, err := os.Stat(pmdDir + "/librte_net_af_packet.so"); err != nil {
		t.Skipf("no net_af_packet PMD: %v", err)
	}
	ns := netnstest.New(t)
	r := runChild(t, "TestFailedSetupClosesPort", "failedsetup", "ip", "netns", "exec", ns.Name)
	if !strings.Contains(r.Err, "rte_eth_rx_queue_setup") {
		t.Fatalf("error %q does not name rte_eth_rx_queue_setup", r.Err)
	}
	if got := strings.Join(r.Ports, " "); got != "net_af_packet0 |" {
		t.Fatalf("ports before | after the failed set-up: %q, want the port gone after it (closed)", got)
	}
}

// waitLine reads a child's output up to a line starting with prefix (for
// children that must signal readiness before the parent acts).
func waitLine(t *testing.T, sc *bufio.Scanner, prefix string, all *strings.Builder) {
	t.Helper()
	for sc.Scan() {
		all.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), prefix) {
			return
		}
	}
	t.Fatalf("child ended before %q:\n%s", prefix, all.String())
}

// TestAFPacketVethExactCount receives UDP packets the kernel sends over a
// veth pair in a namespace of the test's own, on net_af_packet bound to the
// peer.
func TestAFPacketVethExactCount(t *testing.T) {
	r := vethExactCount(t, "TestAFPacketVethExactCount", "afpacket", "net_af_packet0,iface=vfbrx1", 2000)
	t.Logf("net_af_packet on a veth: exactly %d packets, port ipackets %d", rx.Sum(r.Queues).Packets, r.Port.IPackets)
}

// TestAFXDPVethExactCount does the same through net_af_xdp on queue 0 of
// the peer (the testpmd check counted 20000 of 20000), and reads
// the socket's mode from the kernel: a veth has no zero-copy AF_XDP, so the
// socket runs in copy mode, its XDP program attached natively.
func TestAFXDPVethExactCount(t *testing.T) {
	vdev, err := rx.AFXDPVdev("vfbrx1", 0)
	if err != nil {
		t.Fatal(err)
	}
	r := vethExactCount(t, "TestAFXDPVethExactCount", "afxdp", vdev, 20000)
	if r.XSK == nil || r.XSK.Sockets != 1 || r.XSK.ZeroCopy || r.XSK.XDPMode != "native" {
		t.Fatalf("AF_XDP mode %+v, want 1 socket in copy mode, XDP native (veth)", r.XSK)
	}
	t.Logf("net_af_xdp on a veth: exactly %d packets, %s", rx.Sum(r.Queues).Packets, r.XSK)
}

// vethExactCount sends n UDP datagrams (100-byte payload) over a veth pair
// in a namespace of the test's own and has the child scenario receive them
// on vdev, bound to the peer vfbrx1, counting the flow with --match too.
// The receiving veth has no address and IPv6 is off on both ends, so
// nothing but the test's packets crosses the pair (no ARP: a permanent
// neighbour entry; no router or neighbour solicitations). It fails unless
// exactly n packets of the right size were counted.
func vethExactCount(t *testing.T, test, scenario, vdev string, n uint64) result {
	pmd, _, _ := strings.Cut(vdev, ",")
	pmd = strings.TrimRight(pmd, "0123456789")
	if os.Getenv(childEnv) == scenario {
		fl, err := rx.ParseFlow("udp dst-ip 10.77.0.2 dst-port 9999")
		if err != nil {
			t.Fatal(err)
		}
		e, p, l := startLoop(t, vdev, rx.PortConfig{Mbufs: 4095}, rx.LoopConfig{Match: &fl})
		defer e.Close()
		var xsk *rx.XSKMode
		if pmd == "net_af_xdp" {
			m, err := rx.ProbeXSK("vfbrx1")
			if err != nil {
				t.Fatal(err)
			}
			xsk = &m
		}
		start := time.Now()
		fmt.Println("READY")
		// The count, every 10 ms, paces the sender (see sendPaced).
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(10 * time.Millisecond):
					fmt.Printf("COUNT %d\n", rx.Sum(p.Counters()).Packets)
				}
			}
		}()
		stopAt(t, p, l, n, 60*time.Second, 200*time.Millisecond)
		close(done)
		st, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(result{Queues: p.Counters(), Port: st, Seconds: time.Since(start).Seconds(), Driver: p.Driver, XSK: xsk})
		fmt.Printf("RESULT %s\n", b)
		t.SkipNow() // the parent checks; nothing is left to run here
	}
	needDPDK(t)
	if _, err := os.Stat(pmdDir + "/librte_" + pmd + ".so"); err != nil {
		t.Skipf("no %s PMD: %v", pmd, err)
	}
	ns := netnstest.New(t)
	ns.Run(`ip link add vfbrx0 type veth peer name vfbrx1 &&
		sysctl -qw net.ipv6.conf.vfbrx0.disable_ipv6=1 net.ipv6.conf.vfbrx1.disable_ipv6=1 &&
		ip addr add 10.77.0.1/24 dev vfbrx0 && ip link set vfbrx0 up && ip link set vfbrx1 up &&
		ip neigh replace 10.77.0.2 lladdr $(cat /sys/class/net/vfbrx1/address) dev vfbrx0 nud permanent`)

	cmd := exec.Command("ip", "netns", "exec", ns.Name, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+scenario)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var all strings.Builder
	waitLine(t, sc, "READY", &all)
	var counted atomic.Uint64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "COUNT "); ok {
				c, _ := strconv.ParseUint(v, 10, 64)
				counted.Store(c)
				continue
			}
			all.WriteString(sc.Text() + "\n")
		}
	}()
	ns.SendUDP(&net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 9999}, int(n), 100, 512, counted.Load)
	<-readDone
	werr := cmd.Wait()
	r := parseChild(t, all.String()+errb.String(), werr)
	tot := rx.Sum(r.Queues)
	// 100 bytes of payload + UDP 8 + IPv4 20 + Ethernet 14.
	const frame = 142
	if tot.Packets != n || tot.MatchPackets != n || tot.Bytes != n*frame || r.Driver != pmd {
		t.Fatalf("%s (driver %s): counted %d packets (%d of the flow), %d bytes; want exactly %d of %d bytes\n%s", pmd, r.Driver, tot.Packets, tot.MatchPackets, tot.Bytes, n, frame, errb.String())
	}
	return r
}

// startLoop starts EAL with vdev, opens the vdev's port and starts the loop
// on it; the caller closes the EAL.
func startLoop(t *testing.T, vdev string, pc rx.PortConfig, lc rx.LoopConfig) (*rx.EAL, *rx.Port, *rx.Loop) {
	t.Helper()
	e, err := rx.InitEAL(ealArgs(t, vdev))
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(vdev, ",")
	p, err := e.OpenPort(name, pc)
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	l, err := p.Start(lc)
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return e, p, l
}

// stopAt waits until the loop has counted n packets (or wait passed), then
// lets settle pass, so that anything beyond n would show, and stops it.
func stopAt(t *testing.T, p *rx.Port, l *rx.Loop, n uint64, wait, settle time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(wait); rx.Sum(p.Counters()).Packets < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(settle)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
}
