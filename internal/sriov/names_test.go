package sriov_test

import (
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

func TestValidIfname(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"eth3": true, "enp4s0f1": true, "a": true, strings.Repeat("x", 15): true, "eth3.100": true, "br-lan@x": true,
		"": false, ".": false, "..": false, strings.Repeat("x", 16): false,
		"eth3%": false, "eth%d": false, "a/b": false, "a:b": false, "a b": false, "a\tb": false, "a\vb": false, "a\fb": false, "a\rb": false, "a\nb": false,
	} {
		if got := sriov.ValidIfname(name); got != want {
			t.Errorf("ValidIfname(%q) = %v, want %v", name, got, want)
		}
		err := sriov.CheckIfname(name)
		if (err == nil) != want || (err != nil && !outcome.Is[*outcome.BadInput](err)) {
			t.Errorf("CheckIfname(%q) = %v", name, err)
		}
	}
}

func TestValidPCIAddress(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"0000:04:00.1": true, "0000:00:1f.7": true, "10000:00:01.0": true, "ffffffff:ff:1f.7": true,
		"04:00.1": false, "0000:04:20.0": false, "0000:04:00.8": false, "0000:04:00.1 ": false, "0000:0G:00.1": false,
		"0000:04:00.A": false, "0000:AB:00.1": false, "000:04:00.1": false, "123456789:04:00.1": false, "../0000:04:00.1": false,
	} {
		if got := sriov.ValidPCIAddress(addr); got != want {
			t.Errorf("ValidPCIAddress(%q) = %v, want %v", addr, got, want)
		}
	}
}
