package main

import (
	"encoding/binary"
	"net"
	"testing"
)

func TestPFFrame(t *testing.T) {
	pf, err := parsePF("52:54:00:12:34:56", "10.99.0.2:5001", 3)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := net.ParseMAC("02:00:00:00:00:fe")
	b := pfFrame(pf, src, 7, 64)
	if len(b) != 64 || net.HardwareAddr(b[0:6]).String() != "52:54:00:12:34:56" || binary.BigEndian.Uint16(b[12:]) != 0x0800 {
		t.Fatalf("Ethernet header % x", b[:14])
	}
	ip := b[14:34]
	if checksum(ip) != 0 {
		t.Errorf("IPv4 header checksum does not verify: % x", ip)
	}
	if net.IP(ip[12:16]).String() != "10.99.0.1" || net.IP(ip[16:20]).String() != "10.99.0.2" || ip[9] != 17 {
		t.Errorf("addresses %v -> %v, proto %d", net.IP(ip[12:16]), net.IP(ip[16:20]), ip[9])
	}
	if port := binary.BigEndian.Uint16(b[36:]); port != 5001 {
		t.Errorf("UDP destination port %d", port)
	}
	if _, err := parsePF("", "10.99.0.2:5001", 1); err == nil {
		t.Error("-pf-count without -pf-mac accepted")
	}
	if _, err := parsePF("52:54:00:12:34:56", "fe80::1", 1); err == nil {
		t.Error("an IPv6 -pf-addr accepted")
	}
	if p, err := parsePF("", "", 0); err != nil || p.count != 0 {
		t.Errorf("no PF datagrams: %+v, %v", p, err)
	}
}

func TestParsePhase(t *testing.T) {
	p, err := parsePhase("LAB: queue ready=500")
	if err != nil || p.marker != "LAB: queue ready" || p.count != 500 {
		t.Fatalf("%+v, %v", p, err)
	}
	for _, bad := range []string{"=5", "LAB: x", "LAB: x=0", "LAB: x=y"} {
		if _, err := parsePhase(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
