// Command labsend feeds the lab guest's NIC from outside: it waits until the
// guest's serial log shows a marker line, then sends a known number of
// Ethernet frames to a QEMU "-netdev dgram" backend over UDP on loopback.
// Each datagram is one frame; QEMU hands it to the emulated NIC as if it came
// from the wire. The frames are IPv4/UDP addressed to one MAC (the VF's), so
// the receiver can count them exactly. With -pf-mac and -pf-count it also
// sends, interleaved with those, datagrams addressed to the PF's own MAC
// and an address on it (10.99.0.2 by default), for the kernel's UDP stack.
//
//	labsend -to 127.0.0.1:47001 -bind 127.0.0.1:47002 -dst-mac 02:00:00:00:00:01 \
//	        -count 1000 -pps 2000 -wait-file serial.log -wait-for 'LAB: rx ready' \
//	        -pf-mac 52:54:00:12:34:56 -pf-count 1000
//
// Each -then 'MARKER=N' is a later phase: once MARKER shows in -wait-file,
// N more datagrams go to the PF, from source addresses that vary (igb
// hashes UDP on addresses only, so they spread over its RSS queues). A
// -then-vf MARKER phase sends the first phase again once MARKER shows:
// -count frames to -dst-mac interleaved with -pf-count datagrams to the PF.
// Phases run in the order given, each after the one before.
//
// Inside the guest, -listen ADDR counts the UDP datagrams a kernel socket
// bound to ADDR receives until SIGTERM or SIGINT (or -expect are in), then
// prints the count.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	var (
		to       = flag.String("to", "127.0.0.1:47001", "address of QEMU's dgram netdev (its local address)")
		bind     = flag.String("bind", "127.0.0.1:47002", "address to send from (QEMU's remote address)")
		dstMAC   = flag.String("dst-mac", "02:00:00:00:00:01", "destination MAC of the frames")
		srcMAC   = flag.String("src-mac", "02:00:00:00:00:fe", "source MAC of the frames")
		count    = flag.Int("count", 1000, "frames to send")
		pps      = flag.Int("pps", 2000, "frames per second (0: as fast as possible)")
		size     = flag.Int("size", 64, "frame size in bytes without FCS (60..1514)")
		waitFile = flag.String("wait-file", "", "file to watch for the marker before sending")
		waitFor  = flag.String("wait-for", "", "marker line to wait for in -wait-file")
		timeout  = flag.Duration("timeout", 10*time.Minute, "give up waiting for the marker after this long")
		pfMAC    = flag.String("pf-mac", "", "also send -pf-count datagrams to this MAC (the PF's), interleaved")
		pfCount  = flag.Int("pf-count", 0, "datagrams to the PF")
		pfAddr   = flag.String("pf-addr", "10.99.0.2:5001", "IPv4 address and UDP port of the PF's datagrams")
		listen   = flag.String("listen", "", "count UDP datagrams received on this address until SIGTERM (in the guest)")
		expect   = flag.Int("expect", 0, "with -listen: stop once this many have arrived")
		phases   []phase
	)
	flag.Func("then", "later phase MARKER=N: once MARKER is in -wait-file, send N datagrams to the PF from varied sources (repeatable)", func(v string) error {
		p, err := parsePhase(v)
		phases = append(phases, p)
		return err
	})
	flag.Func("then-vf", "later phase MARKER: once MARKER is in -wait-file, send -count frames to -dst-mac and -pf-count datagrams to the PF again (repeatable)", func(v string) error {
		if v == "" {
			return errors.New("-then-vf needs a marker")
		}
		phases = append(phases, phase{marker: v, vf: true})
		return nil
	})
	flag.Parse()
	if *listen != "" {
		if err := countUDP(*listen, *expect); err != nil {
			fmt.Fprintf(os.Stderr, "labsend: %v\n", err)
			os.Exit(1)
		}
		return
	}
	pf, err := parsePF(*pfMAC, *pfAddr, *pfCount)
	if err != nil {
		fmt.Fprintf(os.Stderr, "labsend: %v\n", err)
		os.Exit(2)
	}
	if len(phases) > 0 && (pf.count == 0 || *waitFile == "") {
		fmt.Fprintln(os.Stderr, "labsend: -then needs -pf-mac, -pf-count and -wait-file")
		os.Exit(2)
	}
	if err := run(*to, *bind, *dstMAC, *srcMAC, *count, *pps, *size, *waitFile, *waitFor, *timeout, pf, phases); err != nil {
		fmt.Fprintf(os.Stderr, "labsend: %v\n", err)
		os.Exit(1)
	}
}

// pfFlow is where the PF's datagrams go.
type pfFlow struct {
	mac   net.HardwareAddr
	ip    [4]byte
	port  uint16
	count int
}

func parsePF(mac, addr string, count int) (pfFlow, error) {
	var p pfFlow
	if count == 0 {
		return p, nil
	}
	m, err := net.ParseMAC(mac)
	if err != nil {
		return p, fmt.Errorf("-pf-mac %q (needed with -pf-count): %w", mac, err)
	}
	a, err := netip.ParseAddrPort(addr)
	if err != nil || !a.Addr().Is4() {
		return p, fmt.Errorf("-pf-addr %q: want IPv4:PORT", addr)
	}
	return pfFlow{mac: m, ip: a.Addr().As4(), port: a.Port(), count: count}, nil
}

// phase is a later burst of datagrams to the PF (vf: the first phase's
// frames to the VF and datagrams to the PF again).
type phase struct {
	marker string
	count  int
	vf     bool
}

func parsePhase(v string) (phase, error) {
	i := strings.LastIndexByte(v, '=')
	if i <= 0 {
		return phase{}, fmt.Errorf("-then %q: want MARKER=N", v)
	}
	n, err := strconv.Atoi(v[i+1:])
	if err != nil || n < 1 {
		return phase{}, fmt.Errorf("-then %q: N must be a positive count", v)
	}
	return phase{marker: v[:i], count: n}, nil
}

func run(to, bind, dst, src string, count, pps, size int, waitFile, waitFor string, timeout time.Duration, pf pfFlow, phases []phase) error {
	d, err := net.ParseMAC(dst)
	if err != nil {
		return fmt.Errorf("-dst-mac %q: %w", dst, err)
	}
	s, err := net.ParseMAC(src)
	if err != nil {
		return fmt.Errorf("-src-mac %q: %w", src, err)
	}
	if size < 60 || size > 1514 {
		return fmt.Errorf("-size %d: use 60..1514", size)
	}
	raddr, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		return fmt.Errorf("-to %q: %w", to, err)
	}
	laddr, err := net.ResolveUDPAddr("udp4", bind)
	if err != nil {
		return fmt.Errorf("-bind %q: %w", bind, err)
	}
	if waitFile != "" && waitFor != "" {
		if err := waitMarker(waitFile, waitFor, timeout); err != nil {
			return err
		}
	}
	conn, err := net.DialUDP("udp4", laddr, raddr)
	if err != nil {
		return fmt.Errorf("open UDP socket %s -> %s: %w", bind, to, err)
	}
	defer conn.Close()
	sd := &sender{conn: conn, to: to, src: s, size: size}
	if pps > 0 {
		sd.gap = time.Second / time.Duration(pps)
	}
	start := time.Now()
	if err := sd.sendVFAndPF(d, count, pf); err != nil {
		return err
	}
	fmt.Printf("labsend: sent %d frames of %d bytes to %s in %.2fs\n", count, size, dst, time.Since(start).Seconds())
	if pf.count > 0 {
		fmt.Printf("labsend: sent %d datagrams to the PF %s at %s\n", pf.count, pf.mac, netip.AddrPortFrom(netip.AddrFrom4(pf.ip), pf.port))
	}
	for _, ph := range phases {
		if err := waitMarker(waitFile, ph.marker, timeout); err != nil {
			return err
		}
		if ph.vf {
			if err := sd.sendVFAndPF(d, count, pf); err != nil {
				return err
			}
			fmt.Printf("labsend: after %q sent %d frames to %s and %d datagrams to the PF\n", ph.marker, count, dst, pf.count)
			continue
		}
		if err := sd.sendPhase(pf, ph); err != nil {
			return err
		}
		fmt.Printf("labsend: after %q sent %d datagrams to the PF from varied sources\n", ph.marker, ph.count)
	}
	return nil
}

// sender writes frames to the tunnel socket, at most one per gap.
type sender struct {
	conn *net.UDPConn
	to   string
	src  net.HardwareAddr
	size int
	gap  time.Duration
}

// pace waits until frame i (from 0) of a run that began at start is due.
func (sd *sender) pace(start time.Time, i int) {
	if sd.gap > 0 {
		if wait := time.Until(start.Add(time.Duration(i+1) * sd.gap)); wait > 0 {
			time.Sleep(wait)
		}
	}
}

// sendVFAndPF sends count frames to the VF's MAC d and pf.count datagrams
// to the PF, alternating while both last.
func (sd *sender) sendVFAndPF(d net.HardwareAddr, count int, pf pfFlow) error {
	start := time.Now()
	vf, toPF := 0, 0
	for i := 0; vf < count || toPF < pf.count; i++ {
		var b []byte
		if toPF < pf.count && (vf >= count || i%2 == 1) {
			b = pfFrame(pf, sd.src, uint32(toPF), sd.size)
			toPF++
		} else {
			b = frame(d, sd.src, uint32(vf), sd.size)
			vf++
		}
		if _, err := sd.conn.Write(b); err != nil {
			return fmt.Errorf("send frame %d to %s: %w", i, sd.to, err)
		}
		sd.pace(start, i)
	}
	return nil
}

// sendPhase sends ph.count datagrams to the PF from varied sources.
func (sd *sender) sendPhase(pf pfFlow, ph phase) error {
	start := time.Now()
	for i := 0; i < ph.count; i++ {
		b := pfFrame(pf, sd.src, uint32(i), sd.size)
		// 10.99.0.3 to 10.99.0.252: on the PF's subnet, never its own.
		b[14+15] = byte(3 + i%250)
		binary.BigEndian.PutUint16(b[14+10:], 0)
		binary.BigEndian.PutUint16(b[14+10:], checksum(b[14:34]))
		if _, err := sd.conn.Write(b); err != nil {
			return fmt.Errorf("send datagram %d of %q to %s: %w", i, ph.marker, sd.to, err)
		}
		sd.pace(start, i)
	}
	return nil
}

// pfFrame is a frame to the PF's MAC carrying a UDP datagram to its
// address, from 10.99.0.1 (on the PF's subnet, so rp_filter keeps it).
func pfFrame(pf pfFlow, src net.HardwareAddr, seq uint32, size int) []byte {
	b := frame(pf.mac, src, seq, size)
	ip := b[14:34]
	copy(ip[12:16], []byte{10, 99, 0, 1})
	copy(ip[16:20], pf.ip[:])
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	binary.BigEndian.PutUint16(b[36:], pf.port)
	return b
}

// countUDP counts the datagrams a socket bound to addr receives until
// SIGTERM or SIGINT, or until expect (if not 0) have arrived, then prints
// the count.
func countUDP(addr string, expect int) error {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", addr, err)
	}
	c, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// A receive buffer for every datagram of a run: in the guest, DPDK's
	// polling lcore takes a vCPU and this reader may wait its turn long
	// enough for the default 208 KiB (about 90 small datagrams) to fill.
	// SO_RCVBUFFORCE (root) goes past net.core.rmem_max.
	buf := 32 << 20
	if err := setRcvbufForce(c, buf); err != nil {
		buf = 4 << 20
		_ = c.SetReadBuffer(buf)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("labsend: counting datagrams on %s (receive buffer %d bytes asked)\n", addr, buf)
	var n atomic.Uint64
	all := make(chan struct{})
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFromUDP(buf); err != nil {
				return
			}
			if n.Add(1) == uint64(expect) {
				close(all)
			}
		}
	}()
	select {
	case <-sig:
	case <-all:
	}
	c.Close()
	fmt.Printf("labsend: received %d datagrams on %s\n", n.Load(), addr)
	return nil
}

// waitMarker polls path until it holds a line containing marker.
func waitMarker(path, marker string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if bytes.Contains(b, []byte(marker)) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no %q in %s after %s", marker, path, timeout)
}

// frame builds an Ethernet/IPv4/UDP frame of size bytes carrying seq.
func frame(dst, src net.HardwareAddr, seq uint32, size int) []byte {
	b := make([]byte, size)
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-14))
	binary.BigEndian.PutUint16(ip[4:], uint16(seq))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], []byte{192, 0, 2, 254}) // TEST-NET-1: never routed
	copy(ip[16:20], []byte{192, 0, 2, 1})
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	udp := b[34:]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 4789)
	binary.BigEndian.PutUint16(udp[4:], uint16(size-34))
	binary.BigEndian.PutUint32(udp[8:], seq)
	return b
}

func checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func setRcvbufForce(c *net.UDPConn, n int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) }); err != nil {
		return err
	}
	return serr
}
