package flows_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// ParseDecimal refuses the numbers ethtool would read as octal, naming the
// word, its octal value and the decimal and hex to write instead, and takes
// decimal, 0x hex and the lone 0 as Parse does.
func TestParseDecimalRefusesOctal(t *testing.T) {
	for _, c := range []struct {
		rule string
		pos  int
		want []string // in the error
	}{
		{"flow-type tcp4 dst-port 0100 action 1", 3, []string{`"0100"`, "octal (64)", "64", "100", "0x40"}},
		{"flow-type udp4 dst-port 53 loc 010 action 1", 5, []string{"octal (8)", "10"}},
		{"flow-type udp4 dst-port 09 action 1", 3, []string{"digit 8 or 9", "(9)"}},
		{"flow-type udp4 dst-port 53 action 00", 5, []string{"octal (0)", "(0,"}},
	} {
		_, err := flows.ParseDecimal(strings.Fields(c.rule))
		var se *flows.SyntaxError
		if !errors.As(err, &se) || se.Pos != c.pos {
			t.Errorf("%s: %v; want a syntax error at word %d", c.rule, err, c.pos+1)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want %q in it", c.rule, err, w)
			}
		}
	}
	for _, rule := range []string{
		"flow-type tcp4 dst-port 80 action 0",
		"flow-type tcp4 dst-ip 10.0.0.1 m 0.0.0.255 dst-port 0x50 action 4294967296",
		"flow-type udp4 src-port 0 dst-port 4789 loc 0 action 1",
	} {
		want, err := flows.Parse(strings.Fields(rule))
		if err != nil {
			t.Fatal(err)
		}
		got, err := flows.ParseDecimal(strings.Fields(rule))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want Parse's %+v", rule, got, err, want)
		}
	}
}
