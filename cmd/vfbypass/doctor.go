package main

import (
	"github.com/spf13/cobra"
	"github.com/vfbypass/vfbypass/internal/host"

	"github.com/vfbypass/vfbypass/internal/inspect"
)

func init() { register(newDoctorCmd) }

func newDoctorCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor [PF]",
		Short: "Preflight checks: SR-IOV, driver, IOMMU, vfio-pci, hugepages, ntuple, management interface",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOptionalPF(args); err != nil {
				return err
			}
			return g.withHost(func(h *host.Host) error {
				res, err := inspect.Doctor(h, optionalPF(args))
				return g.emit(res, err)
			})
		},
	}
}
