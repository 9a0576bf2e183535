// Package report holds the result every vfbypass command prints, in text for
// a terminal or as JSON for Ansible and scripts (see docs/json.md).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/vfbypass/vfbypass/internal/outcome"
)

// VF is the state of one VF as commands report it.
type VF struct {
	Index      int    `json:"index"`
	Address    string `json:"address"`
	Driver     string `json:"driver"`
	IOMMUGroup string `json:"iommu_group,omitempty"`
	VFIODevice string `json:"vfio_device,omitempty"`
	Netdev     string `json:"netdev,omitempty"`
	MAC        string `json:"mac,omitempty"`
	VLAN       int    `json:"vlan"`
	QoS        int    `json:"qos,omitempty"`
	Trust      bool   `json:"trust"`
	Spoofchk   bool   `json:"spoofchk"`
}

// ErrorInfo is the JSON form of a failure.
type ErrorInfo struct {
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
	ExitCode int    `json:"exit_code"`
}

// Change is one managed field whose value differs between two states: the
// kernel's now (Before) and the request's (After) for up, the reverse for
// down. Values are the field's words as the commands print them; "" is
// absent (a rule not installed, a VF that does not exist).
type Change struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Common is the part of every command's JSON result that the contract fixes.
type Common struct {
	// Schema is the version of this JSON contract (SchemaVersion); JSON
	// sets it on every result.
	Schema int `json:"schema"`
	// Changed: the run changed the host; with --dry-run, whether the
	// real run would.
	Changed bool `json:"changed"`
	// Diff lists, field by field, what the run changed (would change).
	Diff     []Change   `json:"diff"`
	PF       string     `json:"pf,omitempty"`
	VFs      []VF       `json:"vfs"`
	Warnings []string   `json:"warnings"`
	Error    *ErrorInfo `json:"error,omitempty"`
}

// Warn appends a warning.
func (c *Common) Warn(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// Base returns c, so that results embedding Common satisfy Result.
func (c *Common) Base() *Common { return c }

// Result is what a command prints.
type Result interface {
	Base() *Common
	// Text writes the human-readable form.
	Text(w io.Writer)
}

// SetError records err, which ends the command with exitCode, in the
// result's JSON form.
func SetError(r Result, err error, exitCode int) {
	if err == nil {
		return
	}
	c := r.Base()
	msg := err.Error()
	if oe := outcome.Of(err); oe != nil && outcome.FixOf(oe) != "" && err == error(oe) {
		msg = oe.Unwrap().Error()
	}
	c.Error = &ErrorInfo{Message: msg, Fix: outcome.FixOf(err), ExitCode: exitCode}
}

// SchemaVersion is the version of the JSON results (docs/json.md): it
// changes when a field changes meaning or goes away, not when one is added.
const SchemaVersion = 1

// JSON writes r as indented JSON, with the schema version, and with every
// nil slice of the result (vfs, warnings, rules, steps, ...) shown as [].
func JSON(w io.Writer, r Result) error {
	c := r.Base()
	c.Schema = SchemaVersion
	emptySlices(reflect.ValueOf(r), 0)
	if c.VFs == nil {
		c.VFs = []VF{}
	}
	if c.Warnings == nil {
		c.Warnings = []string{}
	}
	if c.Diff == nil {
		c.Diff = []Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Plain is a Result with nothing beyond Common and a fixed text.
type Plain struct {
	Common
	Message string `json:"message,omitempty"`
}

// Text implements Result.
func (p *Plain) Text(w io.Writer) {
	if p.Message != "" {
		fmt.Fprintln(w, p.Message)
	}
}

// emptySlices replaces the nil slices reachable from v through pointers,
// structs, slices and maps of pointers by empty ones, so that an array in the
// JSON is never null. Only settable values (reached through a pointer)
// change; depth bounds the walk (results are trees, not graphs).
func emptySlices(v reflect.Value, depth int) {
	if depth > 16 {
		return
	}
	depth++
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			emptySlices(v.Elem(), depth)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if t.Field(i).IsExported() {
				emptySlices(v.Field(i), depth)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.CanSet() && v.Type().Elem().Kind() != reflect.Uint8 {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			emptySlices(v.Index(i), depth)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			emptySlices(v.MapIndex(k), depth)
		}
	}
}
