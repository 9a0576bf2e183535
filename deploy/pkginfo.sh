# SPDX-License-Identifier: Apache-2.0
# pkginfo.sh: what the Debian and the RPM packages say about themselves;
# sourced by debian/mkdeb.sh and rpm/mkrpm.sh. PKG_MAINTAINER overrides the
# maintainer.
# shellcheck shell=bash disable=SC2034
maintainer=${PKG_MAINTAINER:-vfbypass maintainers <vfbypass@users.noreply.github.com>}
homepage=https://github.com/vfbypass/vfbypass
summary_vfbypass="steer chosen flows from a Linux PF to an SR-IOV VF"
description_vfbypass="vfbypass keeps a NIC with the kernel and bypasses it for chosen flows only: it enables SR-IOV VFs on the PF, gives a VF to vfio-pci and steers flows to it with ntuple rules. Every change is journaled, so vfbypass down undoes exactly what vfbypass up did. This package is the static control plane (up, down, steer, status, doctor) with the systemd unit vfbypass@PF.service, which applies /etc/vfbypass/PF.yaml at boot; it needs no DPDK."
summary_vfbypass_rx="DPDK receive loop for vfbypass"
description_vfbypass_rx="vfbypass-rx receives on a VF that vfbypass gave to vfio-pci (or any DPDK device) with a DPDK poll loop and reports its rate per queue; vfbypass rx runs it. The systemd unit vfbypass-rx@PF.service runs it as a service after vfbypass@PF.service."
