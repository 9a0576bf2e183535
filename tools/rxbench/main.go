// Command rxbench measures vfbypass rx against references on this machine
// (make bench-rx; docs/performance.md):
//
//  1. net_null: dpdk-testpmd --forward-mode=rxonly and vfbypass rx on the
//     same vdev, lcores and memory, alternately, best of -rounds each; it
//     prints both rates, the ratio and PASS/FAIL against -min-ratio (0.97).
//  2. a veth pair in namespaces of its own, fed by a sendmmsg sender: the
//     kernel's UDP path read with recvmmsg, DPDK's net_af_packet PMD, and
//     DPDK's net_af_xdp on the veth's queue 0 (vfbypass rx --queue, the
//     queue mode); it prints the three rates, each as a ratio to the
//     kernel's, and the AF_XDP mode (copy on a veth).
//
// It needs root, dpdk-testpmd (package dpdk-dev) and a vfbypass built with
// DPDK. The -role flag runs the sender and the receiver (internal).
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	var (
		bin      = flag.String("bin", "bin/vfbypass", "vfbypass binary built with DPDK")
		testpmd  = flag.String("testpmd", "dpdk-testpmd", "dpdk-testpmd binary")
		duration = flag.Duration("duration", 4*time.Second, "length of each run")
		rounds   = flag.Int("rounds", 3, "runs of each program (the best counts: other load on the machine only slows a run down)")
		lcores   = flag.String("lcores", "0,1", "EAL lcores of both programs (main, then the polling lcore)")
		mem      = flag.Int("mem", 1024, "EAL memory in MiB (--no-huge -m)")
		mbufs    = flag.Int("mbufs", 16384, "mbufs for both programs")
		minRatio = flag.Float64("min-ratio", 0.97, "vfbypass/testpmd ratio to PASS")
		skipVeth = flag.Bool("no-veth", false, "skip the veth comparison")
		role     = flag.String("role", "", "internal: send or recv")
		addr     = flag.String("addr", "10.78.0.2:9999", "internal: UDP address to send to or receive on")
		cpu      = flag.Int("cpu", -1, "internal: CPU to pin to")
	)
	flag.Parse()
	switch *role {
	case "send":
		exitOn(pin(*cpu))
		exitOn(send(*addr, *duration))
		return
	case "recv":
		exitOn(pin(*cpu))
		exitOn(recv(*addr, *duration))
		return
	case "":
	default:
		exitOn(fmt.Errorf("unknown -role %q", *role))
	}
	if os.Geteuid() != 0 {
		exitOn(fmt.Errorf("rxbench needs root (DPDK, network namespaces)"))
	}
	fmt.Printf("rxbench: %s runs of %v, lcores %s, --no-huge -m %d, %d mbufs\n", strconv.Itoa(*rounds), *duration, *lcores, *mem, *mbufs)
	var best struct{ tp, us float64 }
	for r := 1; r <= *rounds; r++ {
		tp, err := runTestpmd(*testpmd, *lcores, *mem, *mbufs, *duration)
		exitOn(err)
		us, err := runVfbypass(*bin, nil, []string{"--vdev", "net_null0", "--lcores", *lcores, "--no-huge", "-m", strconv.Itoa(*mem), "--mbufs", strconv.Itoa(*mbufs)}, *duration)
		exitOn(err)
		fmt.Printf("  round %d: testpmd rxonly %.2f Mpps, vfbypass rx %.2f Mpps\n", r, tp/1e6, us.PPS/1e6)
		best.tp = max(best.tp, tp)
		best.us = max(best.us, us.PPS)
	}
	ratio := best.us / best.tp
	verdict := "PASS"
	if ratio < *minRatio {
		verdict = "FAIL"
	}
	fmt.Printf("net_null: testpmd rxonly %.2f Mpps, vfbypass rx %.2f Mpps, ratio %.3f: %s (>= %.2f)\n", best.tp/1e6, best.us/1e6, ratio, verdict, *minRatio)
	if !*skipVeth {
		exitOn(vethBench(*bin, *lcores, *duration, *rounds))
	}
	if verdict == "FAIL" {
		os.Exit(1)
	}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rxbench:", err)
		os.Exit(1)
	}
}

func pin(cpu int) error {
	if cpu < 0 {
		return nil
	}
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

var ppsLine = regexp.MustCompile(`Rx-pps:\s+(\d+)`)

// runTestpmd runs testpmd rxonly on net_null0 for d and returns the median
// of its per-second Rx-pps lines (the first, partial second left out).
func runTestpmd(testpmd, lcores string, mem, mbufs int, d time.Duration) (float64, error) {
	prefix := "rxbench-tp" + strconv.Itoa(os.Getpid())
	defer os.RemoveAll("/var/run/dpdk/" + prefix)
	cmd := exec.Command(testpmd, "-l", lcores, "--no-huge", "-m", strconv.Itoa(mem), "--no-pci", "--vdev", "net_null0", "--file-prefix", prefix,
		"--", "--forward-mode=rxonly", "--nb-cores", "1", "--total-num-mbufs="+strconv.Itoa(mbufs), "--stats-period", "1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w (install dpdk-dev)", testpmd, err)
	}
	timer := time.AfterFunc(d+time.Second, func() { _ = cmd.Process.Signal(syscall.SIGINT) })
	defer timer.Stop()
	var rates []float64
	var tail []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		tail = append(tail, sc.Text())
		if len(tail) > 20 {
			tail = tail[1:]
		}
		if m := ppsLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			rates = append(rates, v)
		}
	}
	if err := cmd.Wait(); err != nil && len(rates) == 0 {
		return 0, fmt.Errorf("testpmd: %w\n%s", err, strings.Join(tail, "\n"))
	}
	if len(rates) > 1 {
		rates = rates[1:]
	}
	if len(rates) == 0 {
		return 0, fmt.Errorf("testpmd printed no Rx-pps:\n%s", strings.Join(tail, "\n"))
	}
	sort.Float64s(rates)
	return rates[len(rates)/2], nil
}

// rxRun is what the bench reads from a `vfbypass rx` run.
type rxRun struct {
	// PPS is the median of the per-second live lines (the first left out),
	// the statistic taken from testpmd too; Avg is packets over the run.
	PPS, Avg float64
	Missed   uint64
	// Mode is the receive mode the start line names (AF_XDP's copy or
	// zero-copy mode), if any.
	Mode string
}

var (
	modeLine    = regexp.MustCompile(`AF_XDP (\S+ mode \(XDP program \w+\))`)
	liveLine    = regexp.MustCompile(`^rx \S+\s+\d+s\s+([\d.]+) (M|k|)pps .* missed (\d+)`)
	summaryLine = regexp.MustCompile(`: \d+ packets, \d+ bytes in [\d.]+s: ([\d.]+) (M|k|)pps`)
)

func scaled(v, unit string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "M":
		return f * 1e6
	case "k":
		return f * 1e3
	}
	return f
}

// runVfbypass runs `vfbypass rx` for d (through prefix, e.g. ip netns exec)
// and reads its live lines, which go to stdout when it is not a terminal.
func runVfbypass(bin string, prefix, args []string, d time.Duration) (rxRun, error) {
	fp := "rxbench-vfb" + strconv.Itoa(os.Getpid())
	defer os.RemoveAll("/var/run/dpdk/" + fp)
	full := append(append(append([]string{}, prefix...), bin, "rx", "--duration", d.String(), "--file-prefix", fp), args...)
	full = append(full, "--", "--log-level", "*:warning")
	cmd := exec.Command(full[0], full[1:]...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	var r rxRun
	var rates []float64
	for _, line := range strings.Split(string(out), "\n") {
		if m := liveLine.FindStringSubmatch(line); m != nil {
			rates = append(rates, scaled(m[1], m[2]))
			n, _ := strconv.ParseUint(m[3], 10, 64)
			r.Missed += n
		} else if m := summaryLine.FindStringSubmatch(line); m != nil {
			r.Avg = scaled(m[1], m[2])
		}
	}
	if m := modeLine.FindStringSubmatch(errb.String()); m != nil {
		r.Mode = "AF_XDP " + m[1]
	}
	if err != nil || r.Avg == 0 {
		return r, fmt.Errorf("%s: %v\n%s%s", strings.Join(full, " "), err, out, errb.String())
	}
	if len(rates) > 1 {
		rates = rates[1:]
	}
	r.PPS = r.Avg
	if len(rates) > 0 {
		sort.Float64s(rates)
		r.PPS = rates[len(rates)/2]
	}
	return r, nil
}

// vethRig is a veth pair across two namespaces: the sender's (rxb0,
// 10.78.0.1) and the receiver's (rxb1), so that the kernel's receive path
// is the real one (in one namespace it would drop packets whose source
// address is its own).
type vethRig struct {
	tx, rx      string // namespaces
	self        string // this program, for -role send/recv
	bin, lcores string
	d           time.Duration
	sentOut     strings.Builder
}

func (v *vethRig) in(ns, cmdline string) error {
	out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", cmdline).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", cmdline, err, out)
	}
	return nil
}

func newVethRig(bin, lcores string, d time.Duration) (*vethRig, func(), error) {
	pid := strconv.Itoa(os.Getpid())
	v := &vethRig{tx: "rxbench-tx-" + pid, rx: "rxbench-rx-" + pid, bin: bin, lcores: lcores, d: d}
	var made []string
	cleanup := func() {
		for _, ns := range made {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	}
	for _, ns := range []string{v.tx, v.rx} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("ip netns add: %v: %s", err, out)
		}
		made = append(made, ns)
	}
	self, err := os.Executable()
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	v.self = self
	err = v.in(v.tx, "ip link add rxb0 type veth peer name rxb1 netns "+v.rx+" && sysctl -qw net.ipv6.conf.rxb0.disable_ipv6=1 && ip addr add 10.78.0.1/24 dev rxb0 && ip link set rxb0 up")
	if err == nil {
		err = v.in(v.rx, "sysctl -qw net.ipv6.conf.rxb1.disable_ipv6=1 && ip link set rxb1 up")
	}
	if err == nil {
		err = v.in(v.tx, "ip neigh replace 10.78.0.2 lladdr $(ip netns exec "+v.rx+" cat /sys/class/net/rxb1/address) dev rxb0 nud permanent")
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return v, cleanup, nil
}

// withSender runs receive while the sender (sendmmsg, pinned to the main
// lcore's CPU 0; receivers poll on CPU 1) floods 10.78.0.2, and returns
// the sender's rate.
func (v *vethRig) withSender(receive func() error) (float64, error) {
	v.sentOut.Reset()
	c := exec.Command("ip", "netns", "exec", v.tx, v.self, "-role", "send", "-cpu", "0", "-duration", (v.d + time.Second).String())
	c.Stdout, c.Stderr = &v.sentOut, &v.sentOut
	if err := c.Start(); err != nil {
		return 0, err
	}
	time.Sleep(500 * time.Millisecond)
	rerr := receive()
	if err := c.Wait(); err != nil {
		return 0, fmt.Errorf("sender: %v: %s", err, v.sentOut.String())
	}
	if rerr != nil {
		return 0, rerr
	}
	var s struct{ PPS float64 }
	if err := json.Unmarshal([]byte(v.sentOut.String()), &s); err != nil {
		return 0, fmt.Errorf("sender said %q: %v", v.sentOut.String(), err)
	}
	return s.PPS, nil
}

// kernel: rxb1 has the address, a UDP socket read with recvmmsg.
func (v *vethRig) kernel() (pps, sent float64, err error) {
	if err := v.in(v.rx, "ip addr replace 10.78.0.2/24 dev rxb1"); err != nil {
		return 0, 0, err
	}
	defer func() { _ = v.in(v.rx, "ip addr flush dev rxb1") }()
	sent, err = v.withSender(func() error {
		out, err := exec.Command("ip", "netns", "exec", v.rx, v.self, "-role", "recv", "-cpu", "1", "-duration", v.d.String()).Output()
		if err != nil {
			return fmt.Errorf("recvmmsg receiver: %v: %s", err, out)
		}
		var k struct{ PPS float64 }
		if err := json.Unmarshal(out, &k); err != nil {
			return fmt.Errorf("receiver said %q: %v", out, err)
		}
		pps = k.PPS
		return nil
	})
	return pps, sent, err
}

// dpdk: vfbypass rx with args in the receiver's namespace, rxb1 without
// an address (the kernel drops what DPDK does not take, early).
func (v *vethRig) dpdk(args ...string) (r rxRun, sent float64, err error) {
	sent, err = v.withSender(func() (err error) {
		r, err = runVfbypass(v.bin, []string{"ip", "netns", "exec", v.rx}, append(args, "--lcores", v.lcores, "--no-huge"), v.d)
		return err
	})
	return r, sent, err
}

// vethBench compares, on one veth pair fed by the same sender, the
// kernel's UDP receive path (recvmmsg), DPDK's net_af_packet, and DPDK's
// net_af_xdp on queue 0 (vfbypass rx --pf rxb1 --queue 0), each as a ratio
// to the kernel; best of rounds each.
func vethBench(bin, lcores string, d time.Duration, rounds int) error {
	v, cleanup, err := newVethRig(bin, lcores, d)
	if err != nil {
		return err
	}
	defer cleanup()
	var bestK, bestP, bestX float64
	mode := ""
	for r := 1; r <= rounds; r++ {
		k, sk, err := v.kernel()
		if err != nil {
			return err
		}
		p, sp, err := v.dpdk("--vdev", "net_af_packet0,iface=rxb1,framecnt=4096")
		if err != nil {
			return err
		}
		x, sx, err := v.dpdk("--pf", "rxb1", "--queue", "0")
		if err != nil {
			return err
		}
		mode = x.Mode
		fmt.Printf("  round %d: kernel recvmmsg %.3f Mpps (sender %.3f), net_af_packet %.3f Mpps (sender %.3f, missed %d), net_af_xdp %.3f Mpps (sender %.3f, missed %d)\n",
			r, k/1e6, sk/1e6, p.Avg/1e6, sp/1e6, p.Missed, x.Avg/1e6, sx/1e6, x.Missed)
		bestK, bestP, bestX = max(bestK, k), max(bestP, p.Avg), max(bestX, x.Avg)
	}
	fmt.Printf("veth: kernel recvmmsg %.3f Mpps (1.00), DPDK net_af_packet %.3f Mpps (%.2f), DPDK net_af_xdp %.3f Mpps (%.2f; %s)\n",
		bestK/1e6, bestP/1e6, bestP/bestK, bestX/1e6, bestX/bestK, mode)
	return nil
}

// send floods addr with 18-byte UDP payloads (64-byte frames) using
// sendmmsg in batches of 64 until d passes.
func send(addr string, d time.Duration) error {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := c.(*net.UDPConn).SyscallConn()
	if err != nil {
		return err
	}
	const batch = 64
	payload := make([]byte, 18)
	var iov unix.Iovec
	iov.Base = &payload[0]
	iov.SetLen(len(payload))
	msgs := make([]unix.Mmsghdr, batch)
	for i := range msgs {
		msgs[i].Hdr.Iov = &iov
		msgs[i].Hdr.SetIovlen(1)
	}
	deadline := time.Now().Add(d)
	var sent uint64
	var serr error
	err = raw.Write(func(fd uintptr) bool {
		for i := 0; time.Now().Before(deadline); i++ {
			binary.BigEndian.PutUint64(payload[:8], sent)
			n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), batch, 0, 0, 0)
			// ECONNREFUSED: an ICMP port unreachable from before the
			// receiver bound its socket; keep sending.
			if e != 0 && e != unix.EAGAIN && e != unix.ENOBUFS && e != unix.ECONNREFUSED {
				serr = e
				return true
			}
			if e == 0 {
				sent += uint64(n)
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	fmt.Printf("{\"packets\":%d,\"pps\":%g}\n", sent, float64(sent)/d.Seconds())
	return serr
}

// recv counts UDP datagrams on addr with recvmmsg for d and prints
// {"packets":N,"pps":R}.
func recv(addr string, d time.Duration) error {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadBuffer(4 << 20)
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	const batch = 64
	bufs := make([][2048]byte, batch)
	iovs := make([]unix.Iovec, batch)
	msgs := make([]unix.Mmsghdr, batch)
	for i := range msgs {
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(len(bufs[i]))
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	start := time.Now()
	deadline := start.Add(d)
	var got uint64
	err = raw.Read(func(fd uintptr) bool {
		for time.Now().Before(deadline) {
			n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), batch, unix.MSG_DONTWAIT, 0, 0)
			if e == 0 {
				got += uint64(n)
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	b, _ := json.Marshal(map[string]float64{"packets": float64(got), "pps": float64(got) / el})
	fmt.Println(string(b))
	return nil
}
