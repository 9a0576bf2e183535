package setup

import (
	"fmt"
	"strings"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// undoDescriber is a step that says what its undo does, in the words of
// that action ("switch ntuple filters off"), for down's progress and
// result; the journal's Desc says what the step did.
type undoDescriber interface {
	describeUndo(e *env) string
}

// undoDesc describes the undo of the journal entry ent, decoded as s.
func undoDesc(s step, e *env, ent *journal.Entry) string {
	if u, ok := s.(undoDescriber); ok {
		return u.describeUndo(e)
	}
	return "undo: " + ent.Desc
}

func (s *numVFsStep) describeUndo(e *env) string {
	if s.Old == 0 {
		return fmt.Sprintf("write 0 to %s/sriov_numvfs: the VFs go (the PF resets: its link drops for a moment)", e.pf.DevDir())
	}
	return fmt.Sprintf("write %d to %s/sriov_numvfs, the count before up (through 0: the PF resets)", s.Old, e.pf.DevDir())
}

func (s *probeVFsStep) describeUndo(*env) string {
	return fmt.Sprintf("leave VFs %v with their kernel driver (they go with the VFs)", s.VFs)
}

func (s *vfConfigStep) describeUndo(e *env) string {
	if s.Created {
		return fmt.Sprintf("leave VF %d's settings: they go with the VF", s.Index)
	}
	return fmt.Sprintf("set VF %d on %s back to%s", s.Index, e.pf.Name, s.Old.words())
}

// words lists the settings as " mac M vlan V qos Q trust on spoofchk off".
func (v vfSettings) words() string {
	var b strings.Builder
	if v.MAC != "" {
		b.WriteString(" mac " + v.MAC)
	}
	if v.VLAN != nil {
		fmt.Fprintf(&b, " vlan %d qos %d", *v.VLAN, v.QoS)
	}
	if v.Trust != nil {
		b.WriteString(" trust " + onOff(*v.Trust))
	}
	if v.Spoofchk != nil {
		b.WriteString(" spoofchk " + onOff(*v.Spoofchk))
	}
	if b.Len() == 0 {
		return " its settings"
	}
	return b.String()
}

func (s *moduleStep) describeUndo(*env) string {
	if s.WasLoaded {
		return "leave kernel module " + s.Name + " loaded (it was before up)"
	}
	return "unload kernel module " + s.Name + " (unless another device is bound to it)"
}

func (s *noIOMMUStep) describeUndo(*env) string {
	if s.Old == "" || s.Old == "N" {
		return "switch vfio's no-IOMMU mode off (" + vfio.NoIOMMUParam + " = N)"
	}
	return "write " + s.Old + " to " + vfio.NoIOMMUParam + " again"
}

func (s *bindStep) describeUndo(*env) string {
	if s.Old.Driver == "" {
		return fmt.Sprintf("unbind VF %d %s from %s: no driver, as before up", s.Index, s.Old.Address, s.Driver)
	}
	return fmt.Sprintf("bind VF %d %s back to %s", s.Index, s.Old.Address, s.Old.Driver)
}

func (s *ntupleStep) describeUndo(e *env) string {
	return fmt.Sprintf("switch ntuple filters %[1]s (ethtool -K %[2]s ntuple %[1]s)", onOff(s.Old), e.pf.Name)
}

func (s *rssIndirStep) describeUndo(e *env) string {
	if !s.Configured {
		return fmt.Sprintf("reset the RSS indirection table of %s to the driver's default", e.pf.Name)
	}
	return fmt.Sprintf("write the RSS indirection table of %s back (%s)", e.pf.Name, indirWords(s.Old))
}

func (s *lroStep) describeUndo(e *env) string {
	return fmt.Sprintf("switch LRO %[1]s (ethtool -K %[2]s lro %[1]s)", onOff(s.Old), e.pf.Name)
}

func (s *releaseStep) describeUndo(*env) string {
	return fmt.Sprintf("bind VF %d to %s again", s.bind.Index, s.bind.Driver)
}
