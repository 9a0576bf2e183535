package host

import "github.com/vfbypass/vfbypass/pkg/flows"

// Real returns the Host of the running kernel, with sysfs, procfs and /dev
// found under root ("/" normally).
func Real(root string) *Host {
	fs := NewRootFS(root)
	return &Host{
		FS:      fs,
		Links:   NewNetlinkLinks(nil),
		Ethtool: EthtoolClient{},
		Modules: Modprobe{FS: fs},
		Rules:   flows.Open,
		Events:  NewKernelEvents(nil),
		Close:   func() error { return nil },
	}
}
