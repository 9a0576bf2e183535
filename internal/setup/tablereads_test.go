package setup_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// tableReads counts, in a -v log, the reads of the whole rule table
// (ETHTOOL_GRXCLSRLALL) and of single rules (ETHTOOL_GRXCLSRULE).
func tableReads(log string) (lists, rules int) {
	for _, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, "(ETHTOOL_GRXCLSRLALL)"):
			lists++
		case strings.Contains(l, "(ETHTOOL_GRXCLSRULE)"):
			rules++
		}
	}
	return lists, rules
}

// upLogged runs up on the lab's host, logging each kernel call as -v does.
func (l *lab) upLogged(r setup.Request, o setup.Options) (*setup.UpResult, string, error) {
	var log bytes.Buffer
	res, err := setup.Up(context.Background(), host.Verbose(l.h, &log), r, o)
	return res, log.String(), err
}

// TestNoOpUpReadsTheTableOnce: an up that changes nothing reads the rule
// table once (the check of the config's rules, the plan and the rules
// phase share it); an up that changes the rules reads it again after its
// change, and leaves the table as the config says.
func TestNoOpUpReadsTheTableOnce(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	r := base()
	for i := 0; i < 5; i++ {
		r.Rules = append(r.Rules, rule(i%2, fmt.Sprintf("flow-type udp4 dst-port %d", 5000+i)))
	}
	l.up(r, l.opts())
	for _, dry := range []bool{false, true} {
		o := l.opts()
		o.DryRun = dry
		res, log, err := l.upLogged(r, o)
		if err != nil || res.Changed {
			t.Fatalf("no-op up (dry run %v): changed %v, %v", dry, res.Changed, err)
		}
		if lists, rules := tableReads(log); lists != 1 || rules != len(r.Rules) {
			t.Fatalf("no-op up (dry run %v) listed the table %d times and read %d rules; want once and %d:\n%s", dry, lists, rules, len(r.Rules), log)
		}
	}

	// A change: one rule goes, one comes.
	r.Rules = append(r.Rules[1:], rule(1, "flow-type tcp4 dst-port 80"))
	res, log, err := l.upLogged(r, l.opts())
	if err != nil || !res.Changed {
		t.Fatalf("up with a new rule: changed %v, %v", res.Changed, err)
	}
	if lists, _ := tableReads(log); lists < 2 {
		t.Fatalf("up that deleted a rule listed the table %d times: the insert must not use the table from before the delete", lists)
	}
	got := strings.Join(installed(t, l), "|")
	if strings.Contains(got, "dst-port 5000 ") || !strings.Contains(got, "dst-port 80 ") || len(installed(t, l)) != len(r.Rules) {
		t.Fatalf("rules after the change: %q", got)
	}
	res, log, err = l.upLogged(r, l.opts())
	if lists, _ := tableReads(log); err != nil || res.Changed || lists != 1 {
		t.Fatalf("no-op up after the change: changed %v, %v, %d table reads", res.Changed, err, lists)
	}
}

// TestRefusedRuleTouchesNothing: a rule the table refuses, checked under
// the lock, is bad input before the state directory is made.
func TestRefusedRuleTouchesNothing(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	r := base()
	r.Rules = []setup.RuleRequest{{VF: ip(0), Queue: 9, Flow: "flow-type udp4 dst-port 4789"}}
	_, err := setup.Up(context.Background(), l.h, r, l.opts())
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "queue 9") {
		t.Fatalf("up with a rule to queue 9: %v; want exit 2 naming the queue", err)
	}
	if after := l.snap(); after != before {
		t.Fatalf("a refused rule changed the host:\n%s", diff(before, after))
	}
	if _, err := os.Stat(l.state); !os.IsNotExist(err) {
		t.Fatalf("a refused rule left the state directory %s (stat: %v)", l.state, err)
	}
}
