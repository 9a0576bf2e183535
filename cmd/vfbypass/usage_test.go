package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonError is the error part of the JSON every command prints.
type jsonError struct {
	Schema  *int  `json:"schema"`
	Changed bool  `json:"changed"`
	VFs     []any `json:"vfs"`
	Error   *struct {
		Message  string `json:"message"`
		Fix      string `json:"fix"`
		ExitCode int    `json:"exit_code"`
	} `json:"error"`
}

// With -o json anywhere on the line, every usage error cobra or pflag finds
// is the JSON error object on stdout, exit 2, in the user's words.
func TestUsageErrorsAreJSONWherever(t *testing.T) {
	root, state := simHost(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "eth3", "--bogus", "-o", "json"}, "unknown flag: --bogus"},
		{[]string{"-ojson", "stauts"}, `unknown command "stauts"`},
		{[]string{"steer", "bogus", "--output=json"}, `unknown command "bogus" for "vfbypass steer"`},
		{[]string{"up", "eth3", "--vfs", "x", "--output", "json"}, `--vfs "x" is not a whole number`},
		{[]string{"up", "eth3", "--vfs", "2", "--timeout", "soon", "-vo", "json"}, `--timeout "soon" is not a duration`},
		{[]string{"status", "a", "b", "-o=json"}, "at most 1 argument"},
		{[]string{"steer", "del", "eth3", "-1", "-o", "json"}, "location -1 is invalid"},
		{[]string{"down", "-o", "json"}, "needs the PF interface name"},
	} {
		code, out, stderr := vfb(append([]string{"--host-root", root, "--state-dir", state}, c.args...)...)
		var r jsonError
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Errorf("%v: stdout is not one JSON object: %v\n%s", c.args, err, out)
			continue
		}
		if code != 2 || r.Error == nil || r.Error.ExitCode != 2 || r.Schema == nil || *r.Schema != 1 || r.VFs == nil || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q, JSON %s", c.args, code, stderr, out)
			continue
		}
		if !strings.Contains(r.Error.Message, c.want) || r.Error.Fix == "" || strings.Contains(r.Error.Message, "strconv") {
			t.Errorf("%v: message %q (fix %q), want %q and a fix", c.args, r.Error.Message, r.Error.Fix, c.want)
		}
	}
}

func TestOutputFromArgs(t *testing.T) {
	for _, c := range []struct {
		args  []string
		want  string
		found bool
	}{
		{[]string{"status"}, "", false},
		{[]string{"-o", "json", "status"}, "json", true},
		{[]string{"status", "-ojson"}, "json", true},
		{[]string{"status", "-o=json"}, "json", true},
		{[]string{"status", "--output", "json"}, "json", true},
		{[]string{"status", "--output=json", "-o", "text"}, "text", true},
		{[]string{"status", "-vo", "json"}, "json", true},
		{[]string{"status", "-o"}, "", false},
		{[]string{"rx", "--", "-o", "json"}, "", false},
		{[]string{"status", "--out", "json"}, "", false},
	} {
		if got, found := outputFromArgs(c.args); got != c.want || found != c.found {
			t.Errorf("outputFromArgs(%q) = %q, %v; want %q, %v", c.args, got, found, c.want, c.found)
		}
	}
}
