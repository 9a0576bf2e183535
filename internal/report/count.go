package report

import "strconv"

// Count writes n things in English: "1 rule", "2 rules", "0 rules". noun
// is the singular; its plural adds s ("VF", "VFs").
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
