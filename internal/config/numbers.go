package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrNotWhole and ErrRange are ParseInt's errors for a value that is no
// number at all and for one beyond 32 bits.
var (
	ErrNotWhole = errors.New("is not a whole number")
	ErrRange    = errors.New("is out of range")
)

// ParseInt reads a whole number the one way vfbypass reads them, in flags
// and configs alike: decimal digits with an optional minus sign. A leading
// zero (strtol and YAML 1.1 read "0100" as octal 64), 0x/0o/0b prefixes,
// a plus sign, underscores and white space are refused with the reason;
// numbers beyond 32 bits are out of range. The error says what is wrong
// with the value, without the value itself.
func ParseInt(s string) (int, error) {
	digits := strings.TrimPrefix(s, "-")
	switch {
	case digits == "":
		return 0, ErrNotWhole
	case len(digits) > 1 && digits[0] == '0' && isDigits(digits[1:]):
		return 0, fmt.Errorf("has a leading zero, which some tools read as octal (0100 as 64): write the number in decimal without it (%s)", strings.Replace(s, digits, strings.TrimLeft(digits, "0"), 1)+orZero(digits))
	case len(digits) > 2 && digits[0] == '0' && strings.ContainsRune("xXoObB", rune(digits[1])):
		return 0, fmt.Errorf("is not a decimal number: write it in decimal digits")
	case !isDigits(digits):
		return 0, ErrNotWhole
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
		return 0, ErrRange
	}
	return int(n), nil
}

// orZero is "0" for a number made of zeros only ("00"), which trimming
// its leading zeros empties.
func orZero(digits string) string {
	if strings.TrimLeft(digits, "0") == "" {
		return "0"
	}
	return ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
