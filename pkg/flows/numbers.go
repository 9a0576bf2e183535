package flows

import (
	"net/netip"
	"strings"
)

// isCSpace reports whether c is a C isspace() character in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func hexDigit(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// parseCUint reads s the way ethtool does (strtoull with base 0, the whole
// word consumed, no ERANGE, at most bits wide): leading C white space, an
// optional sign (a minus negates modulo 2^64, so "-1" is all ones), 0x/0X
// for hex, a leading 0 for octal. Like strtoull, the empty word reads as 0.
func parseCUint(s string, bits uint) (uint64, bool) {
	if s == "" {
		return 0, true
	}
	i, neg := cSign(s)
	base, i := cBase(s, i)
	v, ok := cDigits(s[i:], base)
	if !ok {
		return 0, false
	}
	if neg {
		v = -v
	}
	if bits < 64 && v > (uint64(1)<<bits)-1 {
		return 0, false
	}
	return v, true
}

// cSign skips strtoull's leading C white space and sign: it returns the
// index after them and whether the sign was a minus.
func cSign(s string) (i int, neg bool) {
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	return i, neg
}

// cBase is strtoull's base 0 for the number at s[i:]: 16 after 0x or 0X
// followed by a hex digit (returning the index after the prefix), 8 after
// a leading 0, else 10.
func cBase(s string, i int) (uint64, int) {
	if i >= len(s) || s[i] != '0' {
		return 10, i
	}
	if i+2 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
		if _, ok := hexDigit(s[i+2]); ok {
			return 16, i + 2
		}
	}
	return 8, i
}

// cDigits reads all of s as digits in base: false for no digit, a
// character that is not one, or a value over 64 bits.
func cDigits(s string, base uint64) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d, ok := hexDigit(s[i])
		if !ok || d >= base {
			return 0, false
		}
		if v > (^uint64(0)-d)/base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}

// parseIPv4 reads a dotted quad as inet_pton(AF_INET) does: four decimal
// parts, no leading zeros, no white space.
func parseIPv4(s string) ([4]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return [4]byte{}, false
	}
	return a.As4(), true
}

// parseIPv6 reads an IPv6 address as inet_pton(AF_INET6) does: no zone, no
// prefix length; an embedded dotted quad (::ffff:1.2.3.4) is fine.
func parseIPv6(s string) ([16]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" || strings.Contains(s, "%") {
		return [16]byte{}, false
	}
	return a.As16(), true
}

// parseMAC reads a MAC address as ethtool does with sscanf("%2x:%2x:..."):
// six hex numbers of at most two characters each (a sign or a 0x prefix
// counts against the two), each after optional white space, separated by
// single colons; anything after the sixth number is ignored.
func parseMAC(s string) ([6]byte, bool) {
	var mac [6]byte
	i := 0
	for n := 0; n < 6; n++ {
		if n > 0 {
			if i >= len(s) || s[i] != ':' {
				return mac, false
			}
			i++
		}
		v, next, ok := scanHex2(s, i)
		if !ok {
			return mac, false
		}
		mac[n] = byte(v)
		i = next
	}
	return mac, true
}

// scanHex2 is one "%2x" conversion of glibc's scanf starting at s[i]; it
// returns the value (as unsigned int, a minus sign negating it) and where the
// conversion stopped.
func scanHex2(s string, i int) (uint32, int, bool) {
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	width := 2
	neg := false
	digits := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
		width--
	}
	var v uint32
	if width > 0 && i < len(s) && s[i] == '0' {
		i++
		width--
		digits++
		if width > 0 && i < len(s) && (s[i] == 'x' || s[i] == 'X') {
			i++
			width--
		}
	}
	for width > 0 && i < len(s) {
		d, ok := hexDigit(s[i])
		if !ok {
			break
		}
		v = v*16 + uint32(d)
		i++
		width--
		digits++
	}
	if digits == 0 {
		return 0, i, false
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// octalNumber reports whether ethtool reads s as an octal number (strtoull
// with base 0 after a leading 0 and more digits: "0100" is 64), and its
// value when the digits are octal ones.
func octalNumber(s string) (v uint64, octal, valid bool) {
	i, _ := cSign(s)
	base, j := cBase(s, i)
	if base != 8 || len(s) <= j+1 || s[j+1] < '0' || s[j+1] > '9' {
		return 0, false, false
	}
	v, valid = cDigits(s[j:], 8)
	return v, true, valid
}
