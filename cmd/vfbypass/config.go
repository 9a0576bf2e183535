package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/setup"
)

func init() { register(newConfigCmd) }

// configResult is what 'config validate' reports.
type configResult struct {
	report.Common
	Config  string         `json:"config"`
	Request *setup.Request `json:"request,omitempty"`
	Message string         `json:"message"`
}

func (r *configResult) Text(w io.Writer) {
	if r.Error == nil {
		fmt.Fprintln(w, r.Message)
	}
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check config files (docs/config.md) without a host",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a config file offline: syntax, keys, values and rules, as 'up --config' would before it looks at the host",
		Long: `validate reads FILE (- for standard input) as 'up --config' does and checks
everything that needs no host: one YAML document of at most 1 MiB, known keys,
values of the right kind, the PF name, the driver, VF counts and indexes, MACs,
VLANs and the rules' syntax and targets. What only the host can say (the PF
exists, its sriov_totalvfs, the IOMMU, the rule table) is checked by 'up'
('up --dry-run' shows it without changing anything).`,
		Example: `  vfbypass config validate /etc/vfbypass/eth3.yaml
  generate-config | vfbypass config validate - -o json`,
		Args: exactArgs(1, "the config file (- for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &configResult{Config: args[0]}
			req, err := setup.LoadConfig(args[0], g.stdin)
			if err == nil {
				req.Normalize()
				err = req.Check()
			}
			if err != nil {
				return g.emit(res, err)
			}
			res.PF, res.Request = req.PF, &req
			pf := req.PF
			if pf == "" {
				pf = "the PF given on the command line"
			}
			res.Message = fmt.Sprintf("config %s is valid: %s, %s, %s", args[0], pf, configSummary(req), report.Count(len(req.Rules), "rule"))
			return g.emit(res, nil)
		},
	})
	return cmd
}

// configSummary says what a valid request bypasses: the hidden queue in
// queue mode, else the VFs and their driver.
func configSummary(req setup.Request) string {
	if req.Mode == setup.ModeQueue {
		xdp := req.XDPMode
		if xdp == "" {
			xdp = setup.XDPNative
		}
		return fmt.Sprintf("queue mode: RX queue %d hidden from RSS, %s XDP", req.Queue, xdp)
	}
	return fmt.Sprintf("%s, %s to %s", report.Count(req.NumVFs, "VF"), report.Count(len(req.VFs), "chosen VF"), req.Driver)
}
