package main

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vfbypass/vfbypass/internal/config"
)

// decimal is a number flag read by config.ParseInt, as the config reads
// its numbers: pflag's own IntVar reads "0100" as octal 64.
type decimal struct {
	set  func(int) error
	val  *string
	list bool
}

func (d *decimal) String() string { return *d.val }

func (d *decimal) Type() string {
	if d.list {
		return "intSlice"
	}
	return "int"
}

func (d *decimal) Set(s string) error {
	words := []string{s}
	if d.list {
		words = strings.Split(s, ",")
	}
	for _, w := range words {
		n, err := config.ParseInt(w)
		if err == nil {
			err = d.set(n)
		}
		if err != nil {
			return err
		}
	}
	*d.val = s
	return nil
}

// intVar is pflag's IntVar reading decimal only.
func intVar(f *pflag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	s := strconv.Itoa(value)
	f.Var(&decimal{set: func(n int) error { *p = n; return nil }, val: &s}, name, usage)
}

// intsVar is pflag's IntSliceVar (repeatable, or a comma list) reading
// decimal only.
func intsVar(f *pflag.FlagSet, p *[]int, name, usage string) {
	s := ""
	f.Var(&decimal{set: func(n int) error { *p = append(*p, n); return nil }, val: &s, list: true}, name, usage)
}

// uint32Var is pflag's Uint32Var reading decimal only.
func uint32Var(f *pflag.FlagSet, p *uint32, name, usage string) {
	s := "0"
	f.Var(&decimal{set: func(n int) error {
		if n < 0 || uint64(n) > math.MaxUint32 {
			return errNegative
		}
		*p = uint32(n)
		return nil
	}, val: &s}, name, usage)
}

var errNegative = errors.New("is not a whole number from 0 up")
