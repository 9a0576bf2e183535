package setup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// maxVFsUnknown bounds VF indexes and counts in a journal when the PF's
// sriov_totalvfs cannot be read (the PF is gone or shows no SR-IOV): VF
// indexes are 0..255.
const maxVFsUnknown = 256

// driverName is a kernel driver or module name: it becomes a path
// component under /sys/bus/pci/drivers or /sys/module, so no '/', no "."
// or "..", no space or control characters.
var driverName = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,64}$`)

// validator is implemented by every journaled step: it refuses a record with values
// that no vfbypass writes, before anything acts on it. totalVFs is the PF's
// sriov_totalvfs, or maxVFsUnknown when that cannot be read.
type validator interface {
	validate(totalVFs int) error
}

func fieldErr(field string, format string, args ...any) error {
	return fmt.Errorf("field %s: %s", field, fmt.Sprintf(format, args...))
}

func checkVFIndex(field string, k, total int) error {
	if k < 0 || k >= total {
		return fieldErr(field, "VF index %d is out of range 0..%d%s", k, total-1, totalNote(total))
	}
	return nil
}

func checkCount(field string, n, total int) error {
	if n < 0 || n > total {
		return fieldErr(field, "VF count %d is out of range 0..%d%s", n, total, totalNote(total))
	}
	return nil
}

func totalNote(total int) string {
	if total == maxVFsUnknown {
		return " (the PF's sriov_totalvfs cannot be read)"
	}
	return fmt.Sprintf(" (the PF's sriov_totalvfs is %d)", total)
}

func checkDriver(field, name string, emptyOK bool) error {
	if name == "" && emptyOK {
		return nil
	}
	if !driverName.MatchString(name) || name == "." || name == ".." || strings.Contains(name, "..") {
		return fieldErr(field, "driver name %q is not a kernel driver name (1-64 of A-Z a-z 0-9 _ . + -, no '/' or '..')", name)
	}
	return nil
}

func checkPCI(field, addr string, emptyOK bool) error {
	if addr == "" && emptyOK {
		return nil
	}
	if !sriov.ValidPCIAddress(addr) {
		return fieldErr(field, "PCI address %q is not of the form DDDD:BB:DD.F (e.g. 0000:04:10.1)", addr)
	}
	return nil
}

// totalVFsOf is the bound decodeStep takes for pf as LookupPF returned it:
// its sriov_totalvfs, or -1 (unknown) when the lookup failed.
func totalVFsOf(pf sriov.PF, err error) int {
	if err != nil {
		return -1
	}
	return pf.TotalVFs
}

// decodeOriginal reads a journal's original record (the PF before the
// first up), refusing one no vfbypass writes: missing while the journal
// holds a request, not an object of Original's fields, a VF count beyond
// totalVFs, a driver that is not a driver name, a negative queue count.
// A journal that holds only rules added with steer has no original.
func decodeOriginal(j *journal.Journal, totalVFs int) (orig Original, ok bool, err error) {
	if j.Request == nil {
		return orig, false, nil
	}
	if len(j.Original) == 0 || string(j.Original) == "null" {
		return orig, false, fmt.Errorf("the original record is missing (the journal holds a request)")
	}
	dec := json.NewDecoder(bytes.NewReader(j.Original))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&orig); err != nil {
		return orig, false, fmt.Errorf("original record: %w", err)
	}
	if dec.More() {
		return orig, false, fmt.Errorf("original record: more than one value")
	}
	if totalVFs < 0 {
		totalVFs = maxVFsUnknown
	}
	if err := checkCount("num_vfs", orig.NumVFs, totalVFs); err != nil {
		return orig, false, fmt.Errorf("original record: %w", err)
	}
	if err := checkDriver("driver", orig.Driver, true); err != nil {
		return orig, false, fmt.Errorf("original record: %w", err)
	}
	if orig.RxQueues < 0 {
		return orig, false, fmt.Errorf("original record: %w", fieldErr("rx_queues", "%d is negative", orig.RxQueues))
	}
	if err := checkOriginal(orig); err != nil {
		return orig, false, err
	}
	var req Request
	if err := json.Unmarshal(j.Request, &req); err != nil {
		return orig, false, fmt.Errorf("request record: %w", err)
	}
	return orig, true, nil
}
