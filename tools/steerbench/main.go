// Command steerbench compares installing N ntuple rules on a simulated
// 82599 with one 'vfbypass steer add --from-file' against N separate
// 'vfbypass steer add' processes, and prints both times and the ratio.
// With -scale it instead times up, a no-op up, status and down of a
// config with -vfs VFs and each rule count given, with the journal writes
// each made.
//
// The separate-process run stops after --budget; the rest is extrapolated
// from the processes measured (each process reads the whole table, so the
// later ones are slower: the extrapolation fits time = a + b*k to the
// measured process times and says so in its output).
//
//	go run ./tools/steerbench -bin bin/vfbypass -n 1000 -budget 45s
//	go run ./tools/steerbench -bin bin/vfbypass -scale 1,100,2046 -vfs 63
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/vfbypass", "the vfbypass binary")
	n := flag.Int("n", 1000, "number of rules")
	budget := flag.Duration("budget", 45*time.Second, "time allowed for the separate processes; the rest is extrapolated")
	scale := flag.String("scale", "", "rule counts (1,100,2046): time up, no-op up, status and down of a config with them")
	vfs := flag.Int("vfs", 63, "with -scale: the config's VFs")
	flag.Parse()
	if *scale != "" {
		counts, err := parseCounts(*scale)
		if err == nil {
			err = runScale(*bin, counts, *vfs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "steerbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *n, *budget); err != nil {
		fmt.Fprintln(os.Stderr, "steerbench:", err)
		os.Exit(1)
	}
}

// rule is the i-th rule: same fields (one ixgbe mask), distinct addresses.
func rule(i int) []string {
	return []string{"flow-type", "tcp4", "dst-ip", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "dst-port", "80"}
}

// lab makes a simulated host with VFs up; it returns the global flags.
func lab(bin, dir string) ([]string, error) {
	root, state := filepath.Join(dir, "host"), filepath.Join(dir, "state")
	if out, err := exec.Command(bin, "sim", "init", root).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sim init: %v: %s", err, out)
	}
	g := []string{"--host-root", root, "--state-dir", state}
	if out, err := exec.Command(bin, append(g, "up", "eth3", "--vfs", "2")...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("up: %v: %s", err, out)
	}
	return g, nil
}

func run(bin string, n int, budget time.Duration) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (build it with 'make build')", bin, err)
	}
	tmp, err := os.MkdirTemp("", "steerbench.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// One process, one batch.
	g, err := lab(bin, filepath.Join(tmp, "batch"))
	if err != nil {
		return err
	}
	var file bytes.Buffer
	for i := 0; i < n; i++ {
		for j, w := range rule(i) {
			if j > 0 {
				file.WriteByte(' ')
			}
			file.WriteString(w)
		}
		file.WriteByte('\n')
	}
	rules := filepath.Join(tmp, "rules.txt")
	if err := os.WriteFile(rules, file.Bytes(), 0o644); err != nil {
		return err
	}
	start := time.Now()
	if out, err := exec.Command(bin, append(g, "-o", "json", "steer", "add", "eth3", "--vf", "0", "--from-file", rules)...).CombinedOutput(); err != nil {
		return fmt.Errorf("steer add --from-file: %v: %s", err, out)
	}
	batch := time.Since(start)

	// One process per rule.
	g, err = lab(bin, filepath.Join(tmp, "each"))
	if err != nil {
		return err
	}
	var times []time.Duration
	start = time.Now()
	for i := 0; i < n && time.Since(start) < budget; i++ {
		t0 := time.Now()
		args := append(append(append([]string{}, g...), "-o", "json", "steer", "add", "eth3", "--vf", "0"), rule(i)...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("steer add (process %d): %v: %s", i+1, err, out)
		}
		times = append(times, time.Since(t0))
	}
	measured := time.Since(start)
	each, note := measured, fmt.Sprintf("all %d processes measured", n)
	if m := len(times); m < n {
		a, b := fit(times)
		each = measured
		for k := m; k < n; k++ {
			each += time.Duration(a + b*float64(k))
		}
		note = fmt.Sprintf("%d of %d processes measured in %s, the other %d extrapolated from a linear fit of the per-process time (%.1f ms + %.3f ms per installed rule)",
			m, n, measured.Round(time.Millisecond), n-m, a/1e6, b/1e6)
	}
	fmt.Printf("steer add --from-file, %d rules, 1 process:  %8.2f s (%.2f ms/rule)\n", n, batch.Seconds(), batch.Seconds()*1e3/float64(n))
	fmt.Printf("steer add, %d separate processes:          %8.2f s (%.2f ms/rule; %s)\n", n, each.Seconds(), each.Seconds()*1e3/float64(n), note)
	fmt.Printf("ratio (separate / one batch):                %8.1fx\n", each.Seconds()/batch.Seconds())
	return nil
}

// fit is the least-squares line through (k, times[k]) in nanoseconds.
func fit(times []time.Duration) (a, b float64) {
	var sx, sy, sxx, sxy float64
	m := float64(len(times))
	for k, t := range times {
		x, y := float64(k), float64(t)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if d := m*sxx - sx*sx; d != 0 {
		b = (m*sxy - sx*sy) / d
	}
	return (sy - b*sx) / m, b
}

// parseCounts reads -scale: rule counts, comma-separated.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-scale %q: %q is not a rule count", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}
