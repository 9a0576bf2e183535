package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// WriteMan writes section-1 man pages for cmd and its subcommands into dir
// (vfbypass.1, vfbypass-up.1, ...), for make docs.
func WriteMan(cmd *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	cmd.DisableAutoGenTag = true // the same page from the same source, whenever it is built
	h := &doc.GenManHeader{Title: "", Section: "1", Source: "vfbypass", Manual: "vfbypass manual"}
	if err := doc.GenManTree(cmd, h, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}
