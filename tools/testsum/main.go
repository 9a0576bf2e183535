// Command testsum reads `go test -json` output on stdin and prints failed
// tests with their output, skipped tests with their reasons, each
// package's time (longest first, marking those over -budget), and a
// closing line "tests: N passed, N failed, N skipped". It exits 1 when a
// test or a package failed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64 // seconds, on pass, fail and skip
}

// summary is what testsum gathers from the events.
type summary struct {
	outputs                 map[string]*strings.Builder
	passed, failed, skipped int
	skips, fails            []string
	pkgFailed               bool
	pkgTime                 map[string]float64
}

func main() {
	budget := flag.Duration("budget", 60*time.Second, "mark packages whose tests took longer")
	flag.Parse()
	s := &summary{outputs: map[string]*strings.Builder{}, pkgTime: map[string]float64{}}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Println(sc.Text())
			continue
		}
		s.add(e)
	}
	s.print(os.Stdout, *budget)
	if s.failed > 0 || s.pkgFailed {
		os.Exit(1)
	}
}

// add takes one event in.
func (s *summary) add(e event) {
	key := e.Package + " " + e.Test
	switch e.Action {
	case "output":
		b := s.outputs[key]
		if b == nil {
			b = &strings.Builder{}
			s.outputs[key] = b
		}
		b.WriteString(e.Output)
	case "pass":
		if e.Test != "" {
			s.passed++
		} else {
			s.pkgTime[e.Package] = e.Elapsed
		}
	case "fail":
		s.fails = append(s.fails, key)
		if e.Test != "" {
			s.failed++
		} else {
			s.pkgFailed = true
			s.pkgTime[e.Package] = e.Elapsed
		}
	case "skip":
		if e.Test != "" {
			s.skipped++
			s.skips = append(s.skips, fmt.Sprintf("%s: %s", key, s.skipReason(key)))
		}
	}
}

// skipReason is the last line a skipped test printed other than go
// test's own.
func (s *summary) skipReason(key string) string {
	reason := ""
	if b := s.outputs[key]; b != nil {
		for _, l := range strings.Split(b.String(), "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- SKIP") {
				reason = l
			}
		}
	}
	return reason
}

func (s *summary) print(w io.Writer, budget time.Duration) {
	sort.Strings(s.skips)
	if len(s.skips) > 0 {
		fmt.Fprintln(w, "skipped tests and why:")
		for _, k := range s.skips {
			fmt.Fprintln(w, "  "+k)
		}
	}
	if len(s.pkgTime) > 0 {
		pkgs := make([]string, 0, len(s.pkgTime))
		for p := range s.pkgTime {
			pkgs = append(pkgs, p)
		}
		sort.Slice(pkgs, func(i, j int) bool { return s.pkgTime[pkgs[i]] > s.pkgTime[pkgs[j]] })
		fmt.Fprintln(w, "time per package (wall clock):")
		for _, p := range pkgs {
			mark := ""
			if time.Duration(s.pkgTime[p]*float64(time.Second)) > budget {
				mark = fmt.Sprintf("  over the %v budget", budget)
			}
			fmt.Fprintf(w, "  %7.1fs %s%s\n", s.pkgTime[p], p, mark)
		}
	}
	for _, f := range s.fails {
		fmt.Fprintf(w, "FAILED %s\n", f)
		if b := s.outputs[f]; b != nil {
			fmt.Fprint(w, b.String())
		}
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}
