package flows

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// fixtureRow is one line of testdata/ethtool-rules.tsv (a copy of
// shared/fixtures/ethtool-rules.tsv): ethtool 6.1's bytes for a command line.
type fixtureRow struct {
	line     int
	words    []string
	spec     []byte // nil when ethtool rejects the words
	rejected string
	rss      uint32
	hasRSS   bool
}

func readFixture(t testing.TB) []fixtureRow {
	t.Helper()
	f, err := os.Open("testdata/ethtool-rules.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []fixtureRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("fixture line %d: %d columns", n, len(cols))
		}
		row := fixtureRow{line: n, words: strings.Fields(cols[0])}
		if r, ok := strings.CutPrefix(cols[1], "REJECTED: "); ok {
			row.rejected = r
		} else {
			row.spec, err = hex.DecodeString(cols[1])
			if err != nil || len(row.spec) != FlowSpecSize {
				t.Fatalf("fixture line %d: bad hex (%d bytes): %v", n, len(row.spec), err)
			}
		}
		if cols[2] != "-" {
			v, err := strconv.ParseUint(cols[2], 10, 32)
			if err != nil {
				t.Fatalf("fixture line %d: rss_context %q: %v", n, cols[2], err)
			}
			row.rss, row.hasRSS = uint32(v), true
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 21 {
		t.Fatalf("fixture has %d rows, want at least 21", len(rows))
	}
	return rows
}

func littleEndianHost() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// TestFixtureBytes: for every command line ethtool 6.1 accepted, Parse +
// MarshalBinary give the bytes ethtool sent (rules without loc placed at
// 2047, as ethtool's placement did in the empty 2048-entry table), and the
// rss_context; every line ethtool refused, Parse refuses.
func TestFixtureBytes(t *testing.T) {
	if !littleEndianHost() {
		t.Skip("the fixture holds little-endian bytes")
	}
	accepted, rejected := 0, 0
	for _, row := range readFixture(t) {
		t.Run(strings.Join(row.words, "_"), func(t *testing.T) {
			r, err := Parse(row.words)
			if row.spec == nil {
				rejected++
				var se *SyntaxError
				if err == nil {
					t.Fatalf("line %d: Parse accepted what ethtool refused (%s)", row.line, row.rejected)
				} else if !errorsAs(err, &se) {
					t.Fatalf("line %d: error %T, want *SyntaxError", row.line, err)
				}
				return
			}
			accepted++
			if err != nil {
				t.Fatalf("line %d: %v", row.line, err)
			}
			wantLoc := binary.LittleEndian.Uint32(row.spec[offLocation:])
			if !r.HasLoc {
				if r.Spec.Location != 0 {
					t.Errorf("no loc given but Location = %d", r.Spec.Location)
				}
				r.Spec.Location = 2047
			} else if r.Spec.Location != wantLoc {
				t.Errorf("Location %d, want %d", r.Spec.Location, wantLoc)
			}
			got, err := r.Spec.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, row.spec) {
				t.Errorf("line %d bytes differ\n got %x\nwant %x\n%s", row.line, got, row.spec, hexDiff(got, row.spec))
			}
			if row.hasRSS != (r.Spec.FlowType&FlowRSS != 0) || r.RSSContext != row.rss {
				t.Errorf("rss_context %d (FLOW_RSS %v), want %d (%v)", r.RSSContext, r.Spec.FlowType&FlowRSS != 0, row.rss, row.hasRSS)
			}
			wantAction := false
			for _, w := range row.words {
				wantAction = wantAction || w == "action" || w == "vf"
			}
			if r.HasAction != wantAction {
				t.Errorf("HasAction %v, want %v", r.HasAction, wantAction)
			}
		})
	}
	if accepted == 0 || rejected == 0 {
		t.Fatalf("fixture exercised %d accepted and %d rejected rows", accepted, rejected)
	}
}

func hexDiff(got, want []byte) string {
	var sb strings.Builder
	for i := range want {
		if i < len(got) && got[i] != want[i] {
			sb.WriteString("offset " + strconv.Itoa(i) + ": got " + hex.EncodeToString(got[i:i+1]) + " want " + hex.EncodeToString(want[i:i+1]) + "\n")
		}
	}
	return sb.String()
}
