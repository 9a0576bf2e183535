// Command labsend feeds the lab guest's NIC from outside: it waits until the
// guest's serial log shows a marker line, then sends a known number of
// Ethernet frames to a QEMU "-netdev dgram" backend over UDP on loopback.
// Each datagram is one frame; QEMU hands it to the emulated NIC as if it came
// from the wire. The frames are IPv4/UDP addressed to one MAC (the VF's), so
// the receiver can count them exactly.
//
//	labsend -to 127.0.0.1:47001 -bind 127.0.0.1:47002 -dst-mac 02:00:00:00:00:01 \
//	        -count 1000 -pps 2000 -wait-file serial.log -wait-for 'LAB: rx ready'
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
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
	)
	flag.Parse()
	if err := run(*to, *bind, *dstMAC, *srcMAC, *count, *pps, *size, *waitFile, *waitFor, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "labsend: %v\n", err)
		os.Exit(1)
	}
}

func run(to, bind, dst, src string, count, pps, size int, waitFile, waitFor string, timeout time.Duration) error {
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
	var gap time.Duration
	if pps > 0 {
		gap = time.Second / time.Duration(pps)
	}
	start := time.Now()
	for i := 0; i < count; i++ {
		if _, err := conn.Write(frame(d, s, uint32(i), size)); err != nil {
			return fmt.Errorf("send frame %d to %s: %w", i, to, err)
		}
		if gap > 0 {
			if wait := time.Until(start.Add(time.Duration(i+1) * gap)); wait > 0 {
				time.Sleep(wait)
			}
		}
	}
	fmt.Printf("labsend: sent %d frames of %d bytes to %s in %.2fs\n", count, size, dst, time.Since(start).Seconds())
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
