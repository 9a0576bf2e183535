package host

import (
	"fmt"

	"github.com/safchain/ethtool"
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
		return false, true, fmt.Errorf("ethtool: %s has no feature %q", ifname, name)
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
