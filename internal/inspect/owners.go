package inspect

import (
	"path"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// otherOwners lists the other tools configured to manage pf or its VFs,
// each with how to make them coexist with vfbypass.
//
// Each of them applies its settings when the device or link appears (at
// boot, after a PF reset), so it and vfbypass overwrite each other:
// systemd-networkd with [SR-IOV] sections and SR-IOVVirtualFunctions= in
// .link and .network files (systemd.link(5), systemd.network(5)),
// NetworkManager with a connection's sriov setting (nm-settings-nmcli(5)),
// driverctl with one override file per device.
func otherOwners(h *host.Host, pf sriov.PF) []string {
	networkdDirs := []string{"/etc/systemd/network", "/run/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network"}
	nmDirs := []string{"/etc/NetworkManager/system-connections", "/run/NetworkManager/system-connections"}
	const driverctlDir = "/etc/driverctl.d"
	var out []string
	for _, dir := range networkdDirs {
		for _, f := range confFiles(h, dir, ".link", ".network") {
			if sec := iniSections(readConf(h, f)); sec.sriov() && sec.matches(pf) {
				out = append(out, "systemd-networkd: "+f+" sets SR-IOV for "+pf.Name+" (its [SR-IOV] / SR-IOVVirtualFunctions= is applied whenever the link appears and overrides vfbypass's VF count and settings): remove them there, or leave this PF to networkd")
			}
		}
	}
	for _, dir := range nmDirs {
		for _, f := range confFiles(h, dir, ".nmconnection") {
			sec := iniSections(readConf(h, f))
			if _, ok := sec["sriov"]; ok && sec.value("connection", "interface-name") == pf.Name {
				out = append(out, "NetworkManager: "+f+" has an sriov setting for "+pf.Name+": clear it ('nmcli connection modify ID sriov.total-vfs 0 sriov.vfs \"\"') or leave this PF to NetworkManager")
			}
		}
	}
	addrs := map[string]bool{pf.Address: true}
	if vfs, err := sriov.ListVFs(h.FS, pf.Name); err == nil {
		for _, v := range vfs {
			addrs[v.Address] = true
		}
	}
	for _, f := range confFiles(h, driverctlDir, "") {
		if addr := strings.TrimPrefix(path.Base(f), "pci-"); addrs[addr] {
			out = append(out, "driverctl: "+f+" overrides the driver of "+addr+" (a device of "+pf.Name+"): 'driverctl unset-override "+addr+"', or let vfbypass bind it")
		}
	}
	return out
}

// confFiles lists dir's files ending in one of exts ("" for any).
func confFiles(h *host.Host, dir string, exts ...string) []string {
	ents, err := h.FS.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		for _, x := range exts {
			if !e.IsDir() && strings.HasSuffix(e.Name(), x) {
				out = append(out, path.Join(dir, e.Name()))
				break
			}
		}
	}
	return out
}

func readConf(h *host.Host, p string) string {
	b, err := h.FS.ReadFile(p)
	if err != nil || len(b) > 1<<20 {
		return ""
	}
	return string(b)
}

// sections is an INI-style file: section -> key -> values (a key may
// repeat), keys as written.
type sections map[string]map[string][]string

func iniSections(text string) sections {
	s := sections{}
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			cur = line[1 : len(line)-1]
			if s[cur] == nil {
				s[cur] = map[string][]string{}
			}
		default:
			if k, v, ok := strings.Cut(line, "="); ok && s[cur] != nil {
				s[cur][strings.TrimSpace(k)] = append(s[cur][strings.TrimSpace(k)], strings.TrimSpace(v))
			}
		}
	}
	return s
}

func (s sections) value(sec, key string) string {
	if v := s[sec][key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// sriov: the file configures SR-IOV.
func (s sections) sriov() bool {
	_, ok := s["SR-IOV"]
	return ok || s.value("Link", "SR-IOVVirtualFunctions") != ""
}

// matches: the file's [Match] section selects pf (by name, original name,
// PCI path, driver or MAC; a file without a [Match] matches every link).
func (s sections) matches(pf sriov.PF) bool {
	m, ok := s["Match"]
	if !ok || len(m) == 0 {
		return true
	}
	for key, vals := range m {
		for _, v := range vals {
			for _, pat := range strings.Fields(v) {
				if matchKey(key, pat, pf) {
					return true
				}
			}
		}
	}
	return false
}

func matchKey(key, pat string, pf sriov.PF) bool {
	glob := func(s string) bool { ok, _ := path.Match(pat, s); return ok }
	switch key {
	case "Name", "OriginalName":
		return glob(pf.Name)
	case "Path":
		return glob("pci-" + pf.Address)
	case "Driver":
		return glob(pf.Driver)
	}
	return false
}
