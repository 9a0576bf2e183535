package host

import (
	"fmt"

	"github.com/safchain/ethtool"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// EthtoolClient implements Ethtool with the SIOCETHTOOL ioctls of
// safchain/ethtool. It opens a socket per call, so it holds no state.
type EthtoolClient struct{}

// Feature implements Ethtool.
func (EthtoolClient) Feature(ifname, name string) (bool, bool, error) {
	e, err := ethtool.NewEthtool()
	if err != nil {
		return false, false, fmt.Errorf("ethtool: open socket: %w", err)
	}
	defer e.Close()
	feats, err := e.FeaturesWithState(ifname)
	if err != nil {
		return false, false, fmt.Errorf("ethtool: read features of %s: %w", ifname, err)
	}
	st, ok := feats[name]
	if !ok {
		return false, true, fmt.Errorf("ethtool: %s has %w %q", ifname, ErrNoFeature, name)
	}
	return st.Active, !st.Available || st.NeverChanged, nil
}

// SetFeature implements Ethtool.
func (EthtoolClient) SetFeature(ifname, name string, on bool) error {
	e, err := ethtool.NewEthtool()
	if err != nil {
		return fmt.Errorf("ethtool: open socket: %w", err)
	}
	defer e.Close()
	if err := e.Change(ifname, map[string]bool{name: on}); err != nil {
		return fmt.Errorf("ethtool: set %s %v on %s: %w", name, on, ifname, err)
	}
	return nil
}

// RxQueues implements Ethtool: the combined plus RX-only channel count.
func (EthtoolClient) RxQueues(ifname string) (int, error) {
	e, err := ethtool.NewEthtool()
	if err != nil {
		return 0, fmt.Errorf("ethtool: open socket: %w", err)
	}
	defer e.Close()
	ch, err := e.GetChannels(ifname)
	if err != nil {
		return 0, fmt.Errorf("ethtool: read channels of %s: %w", ifname, err)
	}
	return int(ch.CombinedCount + ch.RxCount), nil
}

// rss runs f on the interface's RSS commands through our own SIOCETHTOOL
// client (pkg/flows), on a socket opened for the call.
func rss(ifname, what string, f func(d flows.RSS) error) error {
	d, err := flows.OpenRSS(ifname)
	if err != nil {
		return fmt.Errorf("ethtool: %s of %s: %w", what, ifname, err)
	}
	defer d.Close()
	if err := f(d); err != nil {
		return EthtoolError(what, ifname, err)
	}
	return nil
}

// RxRings implements Ethtool.
func (EthtoolClient) RxRings(ifname string) (int, error) {
	var n uint64
	err := rss(ifname, "read the RX ring count", func(d flows.RSS) (err error) {
		n, err = d.RxRings()
		return err
	})
	return int(n), err
}

// Channels implements Ethtool.
func (EthtoolClient) Channels(ifname string) (flows.Channels, error) {
	var ch flows.Channels
	err := rss(ifname, "read the channels", func(d flows.RSS) (err error) {
		ch, err = d.Channels()
		return err
	})
	return ch, err
}

// Indir implements Ethtool.
func (EthtoolClient) Indir(ifname string) ([]uint32, error) {
	var t []uint32
	err := rss(ifname, "read the RSS indirection table", func(d flows.RSS) (err error) {
		t, err = d.Indir()
		return err
	})
	return t, err
}

// SetIndir implements Ethtool.
func (EthtoolClient) SetIndir(ifname string, table []uint32) error {
	if len(table) == 0 {
		return rss(ifname, "reset the RSS indirection table", func(d flows.RSS) error { return d.ResetIndir() })
	}
	return rss(ifname, "write the RSS indirection table", func(d flows.RSS) error { return d.SetIndir(table) })
}

// XDPChanged implements Ethtool: the kernel saw the receiver's change
// itself, there is nothing to tell it.
func (EthtoolClient) XDPChanged(string, int, bool) error { return nil }
