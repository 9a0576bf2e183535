package main

import (
	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/pkg/setup"
)

func init() { register(newDoctorCmd) }

func newDoctorCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor [PF]",
		Short: "Preflight checks: SR-IOV, driver, IOMMU, vfio-pci, hugepages, ntuple, management interface",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := g.openHost()
			if err != nil {
				return err
			}
			defer h.Close()
			pf := ""
			if len(args) == 1 {
				pf = args[0]
			}
			res, err := setup.Doctor(h, pf)
			return g.emit(res, err)
		},
	}
}
