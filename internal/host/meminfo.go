package host

import (
	"fmt"
	"strconv"
	"strings"
)

// Hugepages is the hugepage part of /proc/meminfo (fs/proc/meminfo.c,
// hugetlb_report_meminfo): the default size's pool.
type Hugepages struct {
	Total int    // HugePages_Total
	Free  int    // HugePages_Free
	Size  string // Hugepagesize, e.g. "2048 kB"; "" when absent
}

// ReserveHugepages is the command that gives DPDK (vfbypass rx) its
// hugepages: 1024 pages of 2 MiB, as docs/runbook.md reserves them at boot,
// and hugetlbfs mounted where EAL looks for it.
const ReserveHugepages = "echo 1024 > /proc/sys/vm/nr_hugepages && mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages"

// ReadHugepages reads the hugepage counts from /proc/meminfo. A count
// missing from the file reads as 0 (a kernel without CONFIG_HUGETLBFS
// prints none).
func ReadHugepages(f FS) (Hugepages, error) {
	var hp Hugepages
	b, err := f.ReadFile("/proc/meminfo")
	if err != nil {
		return hp, fmt.Errorf("read /proc/meminfo: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "HugePages_Total":
			hp.Total, _ = strconv.Atoi(v)
		case "HugePages_Free":
			hp.Free, _ = strconv.Atoi(v)
		case "Hugepagesize":
			hp.Size = v
		}
	}
	return hp, nil
}
