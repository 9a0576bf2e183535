package flows

import (
	"slices"
	"strings"
	"testing"
)

func TestNextWords(t *testing.T) {
	for _, c := range []struct {
		done     string
		has, not []string
		none     bool
	}{
		{done: "", has: []string{"flow-type"}},
		{done: "flow-type", has: []string{"tcp4", "udp4", "ether", "ip6"}},
		{done: "flow-type tcp4", has: []string{"src-ip", "dst-port", "vf", "action", "loc", "context", "vlan"}, not: []string{"tclass", "l4proto", "queue"}},
		{done: "flow-type tcp4 dst-port", none: true},
		{done: "flow-type tcp4 dst-port 80", has: []string{"src-ip", "vf"}, not: []string{"dst-port"}},
		{done: "flow-type tcp4 dst-port 80 m", none: true},
		{done: "flow-type tcp4 dst-port 80 m 0xff vf 0", has: []string{"queue"}, not: []string{"vf", "dst-port"}},
		{done: "flow-type ip6", has: []string{"tclass", "l4proto"}, not: []string{"tos"}},
		{done: "flow-type bogus", none: true},
		{done: "dst-port", none: true},
	} {
		got := NextWords(strings.Fields(c.done))
		if c.none != (got == nil) {
			t.Errorf("%q: %v", c.done, got)
			continue
		}
		for _, w := range c.has {
			if !slices.Contains(got, w) {
				t.Errorf("%q: %v lacks %s", c.done, got, w)
			}
		}
		for _, w := range c.not {
			if slices.Contains(got, w) {
				t.Errorf("%q: %v has %s", c.done, got, w)
			}
		}
	}
	// Every word offered after a flow type is one Parse takes there.
	for _, ft := range FlowTypeNames() {
		for _, w := range NextWords([]string{"flow-type", ft}) {
			value := "1"
			if _, err := Parse([]string{"flow-type", ft, w, value}); err != nil {
				if se, ok := err.(*SyntaxError); ok && se.Pos == 2 {
					t.Errorf("flow-type %s: offered %q, which Parse refuses: %v", ft, w, err)
				}
			}
		}
	}
}
