package journal

import "fmt"

// State is where a journaled record, a step or a rule, is in its
// write-ahead life. Both move through the same transitions: Begin before
// the change touches the kernel (the record is saved pending), Confirm
// once the change completed, and Undo once it was undone. A rolled-back
// record goes back to the record it replaced (an entry's earlier record,
// a rule's Replaces), or is undone when it replaced none.
type State string

// Record states.
const (
	// Pending: the record is durable; its change may have started.
	Pending State = "pending"
	// Applied: the change completed.
	Applied State = "applied"
	// Undone: the change was undone. A rule record is not kept undone:
	// its location may take another rule's record, so an undone rule's
	// record is dropped (Journal.DropRule).
	Undone State = "undone"
)

// Begin marks the record pending: the caller saves it before the change
// starts.
func (s *State) Begin() { *s = Pending }

// Confirm marks the record applied: its change completed.
func (s *State) Confirm() { *s = Applied }

// Undo marks the record undone: its change was undone.
func (s *State) Undo() { *s = Undone }

// Live reports whether the record's change may stand on the host: it is
// pending or applied.
func (s State) Live() bool { return s == Pending || s == Applied }

// check refuses a state no vfbypass writes for a record of this kind: a
// step may be pending, applied or undone; a rule pending or applied.
func (s State) check(rule bool) error {
	switch {
	case s == Pending || s == Applied:
		return nil
	case s == Undone && !rule:
		return nil
	case rule:
		return fmt.Errorf("state %q (want %s or %s)", s, Pending, Applied)
	}
	return fmt.Errorf("state %q (want %s, %s or %s)", s, Pending, Applied, Undone)
}

// RollBack puts a step's entry back to was, its record, state and text
// before the run that changed it, as Rule.RollBack puts back the record a
// rule replaces.
func (e *Entry) RollBack(was Entry) {
	e.Undo, e.State, e.Desc = was.Undo, was.State, was.Desc
}
