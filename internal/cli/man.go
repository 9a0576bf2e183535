package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// ManEntry is one tagged paragraph of a man page section: a term (an exit
// code, a path, a variable) and what it means.
type ManEntry struct{ Term, Text string }

// ManSections are the sections a binary's pages carry besides cobra's:
// EXIT STATUS, FILES and ENVIRONMENT, as man-pages(7) orders them.
type ManSections struct {
	ExitStatus  []ManEntry
	Files       []ManEntry
	Environment []ManEntry
}

// roff writes a section of tagged paragraphs.
func (s ManSections) roff() []byte {
	var b bytes.Buffer
	for _, sec := range []struct {
		title   string
		entries []ManEntry
	}{{"EXIT STATUS", s.ExitStatus}, {"FILES", s.Files}, {"ENVIRONMENT", s.Environment}} {
		if len(sec.entries) == 0 {
			continue
		}
		fmt.Fprintf(&b, ".SH %s\n", sec.title)
		for _, e := range sec.entries {
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fP\n%s\n", roffEscape(e.Term), roffEscape(e.Text))
		}
	}
	return b.Bytes()
}

// roffEscape keeps a text line from being read as a roff request.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// WriteMan writes section-1 man pages for cmd and its subcommands into dir
// (vfbypass.1, vfbypass-up.1, ...), for make docs, each with secs before
// SEE ALSO.
func WriteMan(cmd *cobra.Command, dir string, secs ManSections) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	cmd.DisableAutoGenTag = true // the same page from the same source, whenever it is built
	return writeManTree(cmd, dir, secs)
}

func writeManTree(cmd *cobra.Command, dir string, secs ManSections) error {
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := writeManTree(c, dir, secs); err != nil {
			return err
		}
	}
	h := &doc.GenManHeader{Title: "", Section: "1", Source: "vfbypass", Manual: "vfbypass manual"}
	var page bytes.Buffer
	if err := doc.GenMan(cmd, h, &page); err != nil {
		return fmt.Errorf("man page of %s: %w", cmd.CommandPath(), err)
	}
	out := page.Bytes()
	extra := secs.roff()
	if i := bytes.Index(out, []byte(".SH SEE ALSO")); i >= 0 {
		out = append(out[:i:i], append(extra, out[i:]...)...)
	} else {
		out = append(out, extra...)
	}
	p := filepath.Join(dir, strings.ReplaceAll(cmd.CommandPath(), " ", "-")+".1")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		return fmt.Errorf("man page: %w", err)
	}
	return nil
}
