package flows

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary words (one per line of the input). Parse
// must not panic; a refusal must be a *SyntaxError naming a word of the
// input; an accepted rule must marshal to 168 bytes, Format, and come back
// byte for byte through Words and Parse.
func FuzzParse(f *testing.F) {
	for _, row := range readFixture(f) {
		f.Add(strings.Join(row.words, "\n"))
	}
	for _, words := range cornerCases {
		f.Add(strings.Join(words, "\n"))
	}
	for _, s := range []string{"", "flow-type", "flow-type\nether\ndst\n", "flow-type\ntcp4\nsrc-ip\n10.0.0.0/8", "flow-type\nip6\nl4data\n1\nspi\n2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		var words []string
		if input != "" {
			words = strings.Split(input, "\n")
		}
		r, err := Parse(words)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %T %v, want *SyntaxError", words, err, err)
			}
			if se.Pos < 0 || se.Pos > len(words) || (se.Pos < len(words) && se.Word != words[se.Pos]) || se.Reason == "" {
				t.Fatalf("Parse(%q): error names word %d %q: %v", words, se.Pos, se.Word, err)
			}
			return
		}
		if !reflect.DeepEqual(r.Words, words) {
			t.Fatalf("Rule.Words %q, given %q", r.Words, words)
		}
		b1, err := r.Spec.MarshalBinary()
		if err != nil || len(b1) != FlowSpecSize {
			t.Fatalf("MarshalBinary: %d bytes, %v", len(b1), err)
		}
		_ = Format(r.Spec, r.RSSContext)
		canon := Words(r.Spec, r.RSSContext)
		r2, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, its Words %q refused: %v", words, canon, err)
		}
		b2, _ := r2.Spec.MarshalBinary()
		if !bytes.Equal(b1, b2) || r.RSSContext != r2.RSSContext {
			t.Fatalf("Parse(%q) and Parse(Words = %q) differ:\n%s", words, canon, hexDiff(b2, b1))
		}
	})
}

// FuzzDecodeCookie: DecodeCookie never panics, and for every cookie that is
// not the drop cookie and has nothing above the 8-bit VF field, encoding
// the decoded target gives the cookie back.
func FuzzDecodeCookie(f *testing.F) {
	for _, c := range []uint64{0, 1, 1 << 32, 1<<32 | 3, 2<<32 | 3, 0xff_ffff_ffff, 1 << 40, RingDrop, RingWake, 0x100_0000_0001} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c uint64) {
		tg := DecodeCookie(c)
		if tg.String() == "" {
			t.Fatal("empty String")
		}
		if c == RingDrop {
			if !tg.Drop || tg.Cookie() != RingDrop {
				t.Fatalf("drop cookie decoded as %+v", tg)
			}
			return
		}
		if tg.Drop || tg.VF < -1 || tg.VF > 254 {
			t.Fatalf("DecodeCookie(%#x) = %+v", c, tg)
		}
		if c>>40 == 0 {
			if got := Cookie(tg.VF, tg.Queue); got != c || tg.Cookie() != c {
				t.Fatalf("DecodeCookie(%#x) = %+v, Cookie gives %#x", c, tg, got)
			}
		}
	})
}
