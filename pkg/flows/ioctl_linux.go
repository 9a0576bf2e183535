package flows

import "errors"

// Open opens the ntuple rule table of a real interface through SIOCETHTOOL.
func Open(ifname string) (Device, error) {
	return nil, errors.New("flows: SIOCETHTOOL client not built yet")
}
