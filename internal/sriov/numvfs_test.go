package sriov_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// EBUSY means two things: a count change without 0 first (the kernel's
// sriov_numvfs_store), and a driver refusing to remove VFs in use (a write
// of 0). Each is explained as itself.
func TestSetNumVFsExplainsEBUSY(t *testing.T) {
	t.Parallel()
	root, h := simtest.Host(t, hostsim.Options{})
	pf, err := sriov.LookupPF(h.FS, "eth3")
	if err != nil {
		t.Fatal(err)
	}
	if err := sriov.SetNumVFs(h.FS, pf, 2); err != nil {
		t.Fatal(err)
	}
	err = sriov.SetNumVFs(h.FS, pf, 4)
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "needs 0 first") {
		t.Errorf("2 -> 4: %v, want EBUSY explained as 0 first", err)
	}
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", Errno: unix.EBUSY}); err != nil {
		t.Fatal(err)
	}
	err = sriov.SetNumVFs(h.FS, pf, 0)
	if !errors.Is(err, syscall.EBUSY) || strings.Contains(err.Error(), "0 first") || !strings.Contains(err.Error(), "in use") {
		t.Errorf("write of 0 refused: %v, want EBUSY explained as VFs in use", err)
	}
}

// EINVAL while a native XDP program is attached (__ixgbe_enable_sriov) and
// EPERM (ixgbe_disable_sriov with VFs assigned; ixgbe_pci_sriov_enable
// beyond its pools) are each explained.
func TestSetNumVFsExplainsEINVALAndEPERM(t *testing.T) {
	t.Parallel()
	root, h := simtest.Host(t, hostsim.Options{})
	pf, err := sriov.LookupPF(h.FS, "eth3")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Ethtool.SetFeature("eth3", "rx-lro", false); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); err != nil {
		t.Fatal(err)
	}
	err = sriov.SetNumVFs(h.FS, pf, 2)
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "XDP program is attached") {
		t.Errorf("with native XDP: %v, want EINVAL explained", err)
	}
	if err := hostsim.DetachXDP(root, "eth3"); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", Errno: unix.EPERM}); err != nil {
		t.Fatal(err)
	}
	if err := sriov.SetNumVFs(h.FS, pf, 2); !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "traffic class") {
		t.Errorf("EPERM enabling: %v", err)
	}
	if err := sriov.SetNumVFs(h.FS, pf, 2); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", Errno: unix.EPERM}); err != nil {
		t.Fatal(err)
	}
	if err := sriov.SetNumVFs(h.FS, pf, 0); !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "assigned to a guest") {
		t.Errorf("EPERM disabling: %v", err)
	}
}
