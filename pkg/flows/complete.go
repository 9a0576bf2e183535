package flows

import "sort"

// NextWords returns the words that may follow done, the words of a rule so
// far, for shell completion: flow-type first, then a flow type, then the
// type's fields, the action words (queue once vf is given) and context
// not given yet. It returns
// nil where a value comes next (after a field, an action word, context,
// m or NAME-mask) and for a flow type it does not know. The words come
// from the tables Parse reads.
func NextWords(done []string) []string {
	switch {
	case len(done) == 0:
		return []string{"flow-type"}
	case done[0] != "flow-type":
		return nil
	case len(done) == 1:
		return FlowTypeNames()
	}
	ft, ok := flowTypeByName(done[1])
	if !ok {
		return nil
	}
	used := map[string]bool{}
	for i := 2; i < len(done); i += 2 {
		if i+1 == len(done) {
			return nil // done[i] waits for its value
		}
		used[done[i]] = true
	}
	var out []string
	for _, f := range ft.fields {
		if !used[f.name] {
			out = append(out, f.name)
		}
	}
	var rest []string
	for w := range actionWords {
		// queue only with vf (Parse refuses a queue without vf).
		if !used[w] && (w != "queue" || used["vf"]) {
			rest = append(rest, w)
		}
	}
	if !used["context"] {
		rest = append(rest, "context")
	}
	sort.Strings(rest)
	return append(out, rest...)
}
