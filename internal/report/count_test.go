package report

import "testing"

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		noun string
		want string
	}{{0, "rule", "0 rules"}, {1, "rule", "1 rule"}, {2, "rule", "2 rules"}, {1, "VF", "1 VF"}, {63, "VF", "63 VFs"}} {
		if got := Count(c.n, c.noun); got != c.want {
			t.Errorf("Count(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}
