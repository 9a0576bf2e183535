// Command testsum reads `go test -json` output on stdin and prints failed
// tests with their output, skipped tests with their reasons, and a closing
// line "tests: N passed, N failed, N skipped". It exits 1 when a test or a
// package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	outputs := map[string]*strings.Builder{}
	var passed, failed, skipped int
	var skips, fails []string
	pkgFailed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Println(sc.Text())
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			b.WriteString(e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			}
		case "fail":
			if e.Test != "" {
				failed++
				fails = append(fails, key)
			} else {
				pkgFailed = true
				fails = append(fails, key)
			}
		case "skip":
			if e.Test != "" {
				skipped++
				reason := ""
				if b := outputs[key]; b != nil {
					for _, l := range strings.Split(b.String(), "\n") {
						l = strings.TrimSpace(l)
						if l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- SKIP") {
							reason = l
						}
					}
				}
				skips = append(skips, fmt.Sprintf("%s: %s", key, reason))
			}
		}
	}
	sort.Strings(skips)
	if len(skips) > 0 {
		fmt.Println("skipped tests and why:")
		for _, s := range skips {
			fmt.Println("  " + s)
		}
	}
	for _, f := range fails {
		fmt.Printf("FAILED %s\n", f)
		if b := outputs[f]; b != nil {
			fmt.Print(b.String())
		}
	}
	fmt.Printf("tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || pkgFailed {
		os.Exit(1)
	}
}
