package host

import (
	"fmt"
	"os/exec"
	"strings"
)

// Modprobe implements Modules with modprobe(8), checking /sys/module under
// the FS root to see what is loaded.
type Modprobe struct {
	FS FS
}

// Loaded implements Modules.
func (m Modprobe) Loaded(name string) bool {
	_, err := m.FS.Stat("/sys/module/" + strings.ReplaceAll(name, "-", "_"))
	return err == nil
}

// Load implements Modules.
func (m Modprobe) Load(name string) error {
	out, err := exec.Command("modprobe", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("modprobe %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Unload implements Modules.
func (m Modprobe) Unload(name string) error {
	out, err := exec.Command("modprobe", "-r", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("modprobe -r %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
