package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a config that cannot be decoded: the line, the key path as the
// user wrote it ("vf[0].vlan"), what is wrong and how to fix it.
type Error struct {
	Line    int
	Path    string
	Problem string
	Fix     string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, "%s: ", e.Path)
	}
	b.WriteString(e.Problem)
	return b.String()
}

// ErrEmpty is returned for a config without a document (empty, or comments
// only).
var ErrEmpty = errors.New("the config is empty")

// Lines maps the key paths of a decoded config ("vf[1].mac") to the line
// each was written on, for errors found after decoding.
type Lines map[string]int

// Line returns the line of path, or of the nearest enclosing key written
// (0 when none is).
func (l Lines) Line(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Decode decodes exactly one YAML (or JSON) document from data into v, a
// pointer to a struct, by the fields' yaml tags, and returns the line of
// each key path. Unknown and repeated keys, values of the wrong kind and
// further documents are errors (*Error) naming the key path and line; an
// empty document is ErrEmpty.
func Decode(data []byte, v any) (Lines, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, ErrEmpty
	} else if err != nil {
		return nil, syntaxError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, &Error{Line: next.Line, Problem: "a second YAML document (after ---); a config holds exactly one",
			Fix: "remove the --- line and what follows, or split the documents into one file per PF"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, ErrEmpty
	}
	lines := Lines{}
	return lines, decode(root, reflect.ValueOf(v).Elem(), "", lines)
}

// syntaxError turns yaml's "yaml: line 3: did not find expected key" into an
// *Error with the line.
func syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Problem: msg, Fix: "check the indentation and the \": \" after each key (docs/config.md)"}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				e.Line, e.Problem = line, tail
			}
		}
	}
	return e
}

func decode(n *yaml.Node, v reflect.Value, path string, lines Lines) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if v.Kind() == reflect.Pointer {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := decode(n, p.Elem(), path, lines); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return decodeStruct(n, v, path, lines)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return wrongKind(n, path, "a list (lines starting with \"- \")")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			lines[ip] = item.Line
			if err := decode(item, s.Index(i), ip, lines); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return wrongKind(n, path, "a single value")
	}
	return decodeScalar(n, v, path)
}

// fields maps a struct's yaml keys to field indexes.
func fields(t reflect.Type) (map[string]int, []string) {
	idx := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		idx[name] = i
		names = append(names, name)
	}
	sort.Strings(names)
	return idx, names
}

func decodeStruct(n *yaml.Node, v reflect.Value, path string, lines Lines) error {
	if n.Kind != yaml.MappingNode {
		return wrongKind(n, path, "keys with values (key: value)")
	}
	idx, names := fields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := k.Value
		if path != "" {
			kp = path + "." + k.Value
		}
		fi, ok := idx[k.Value]
		if !ok {
			where := "at the top"
			if path != "" {
				where = "in " + path
			}
			return &Error{Line: k.Line, Path: kp, Problem: fmt.Sprintf("unknown key %q", k.Value),
				Fix: fmt.Sprintf("the keys %s are %s (docs/config.md)", where, strings.Join(names, ", "))}
		}
		if first, dup := seen[k.Value]; dup {
			return &Error{Line: k.Line, Path: kp, Problem: fmt.Sprintf("%q is given twice (first on line %d)", k.Value, first),
				Fix: "give each key once"}
		}
		seen[k.Value] = k.Line
		lines[kp] = k.Line
		if err := decode(val, v.Field(fi), kp, lines); err != nil {
			return err
		}
	}
	return nil
}

func decodeScalar(n *yaml.Node, v reflect.Value, path string) error {
	if n.Tag == "!!null" {
		if v.Kind() == reflect.String {
			return nil
		}
		return &Error{Line: n.Line, Path: path, Problem: "has no value", Fix: "write a value after the colon, or remove the key"}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		// yaml.v3 tags 0100, 0o17, 0x1f and 1_000 as !!int: the value is
		// read by ParseInt, as a flag's is, not by yaml.
		i, err := ParseInt(n.Value)
		switch {
		case n.Tag != "!!int" || errors.Is(err, ErrNotWhole):
			return &Error{Line: n.Line, Path: path, Problem: fmt.Sprintf("%q is not a whole number", n.Value), Fix: "write a number such as 2"}
		case err != nil && !errors.Is(err, ErrRange):
			return &Error{Line: n.Line, Path: path, Problem: fmt.Sprintf("%s %v", n.Value, err), Fix: "write the number in decimal, such as 2"}
		}
		if err != nil || v.OverflowInt(int64(i)) {
			return &Error{Line: n.Line, Path: path, Problem: fmt.Sprintf("%s is out of range", n.Value), Fix: "write a smaller number"}
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		b, ok := boolValue(n)
		if !ok {
			return &Error{Line: n.Line, Path: path, Problem: fmt.Sprintf("%q is not true or false", n.Value), Fix: "write true or false (or on or off)"}
		}
		v.SetBool(b)
	default:
		return &Error{Line: n.Line, Path: path, Problem: fmt.Sprintf("cannot hold %q", n.Value)}
	}
	return nil
}

// boolValue reads true/false and, as ip link writes them, on/off.
func boolValue(n *yaml.Node) (bool, bool) {
	if n.Tag == "!!bool" {
		var b bool
		return b, n.Decode(&b) == nil
	}
	switch strings.ToLower(n.Value) {
	case "on":
		return true, true
	case "off":
		return false, true
	}
	return false, false
}

// wrongKind says that a key holds the wrong shape of value.
func wrongKind(n *yaml.Node, path, want string) error {
	have := map[yaml.Kind]string{yaml.MappingNode: "keys with values", yaml.SequenceNode: "a list", yaml.ScalarNode: fmt.Sprintf("%q", n.Value)}[n.Kind]
	problem := fmt.Sprintf("must be %s, not %s", want, have)
	if path == "" {
		problem = "the config " + problem
	}
	return &Error{Line: n.Line, Path: path, Problem: problem, Fix: "see docs/config.md for the format"}
}
