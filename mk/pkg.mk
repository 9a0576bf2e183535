# Packages (deploy/debian, deploy/rpm, docs/packaging.md). make deb builds,
# from a make install tree (PKGSTAGE), DEBOUT/vfbypass_V_ARCH.deb (the static
# control plane, units, completions, man pages) and vfbypass-rx_V_ARCH.deb
# (the DPDK loop, depending on DPDK's runtime libraries); make rpm builds the
# same two packages as RPMs with nfpm. test-deb runs lintian, checks the
# version order and that a second build is the same bytes, and, as root,
# installs, upgrades, removes and purges them; test-rpm checks the RPMs'
# requirements and scripts with rpm -qp.
APT_PACKAGES += dpkg-dev lintian binutils rpm
INTEGRATION_TARGETS += test-deb test-rpm
PKGSTAGE ?= bin/pkg-stage
DEBOUT ?= bin/deb
RPMOUT ?= bin/rpm
# The package version: git describe's form in the order dpkg and rpm sort
# (deploy/pkg-version.sh: 1.0.0-rc1 becomes 1.0.0~rc1, -dirty ~dirty).
PKG_VERSION ?= $(shell ./deploy/pkg-version.sh '$(VERSION)')
# Reproducible packages: every time they hold is the last commit's.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
NFPM_VERSION := v2.48.0
.PHONY: pkg-stage deb rpm test-deb test-rpm
pkg-stage:
	rm -rf $(PKGSTAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(PKGSTAGE) PREFIX=/usr UNITDIR=/lib/systemd/system
deb: pkg-stage
	rm -rf $(DEBOUT)
	COMMIT=$(COMMIT) ./deploy/debian/mkdeb.sh $(PKGSTAGE) $(DEBOUT) $(PKG_VERSION)
$(GOBIN)/nfpm:
	GOBIN=$(GOBIN) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
rpm: pkg-stage $(GOBIN)/nfpm
	rm -rf $(RPMOUT)
	NFPM=$(GOBIN)/nfpm ./deploy/rpm/mkrpm.sh $(PKGSTAGE) $(RPMOUT) $(PKG_VERSION)
test-deb: deb
	COMMIT=$(COMMIT) ./deploy/debian/test.sh $(DEBOUT) $(PKG_VERSION)
test-rpm: rpm
	./deploy/rpm/test.sh $(RPMOUT) $(PKG_VERSION)
