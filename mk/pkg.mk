# Debian packages (deploy/debian, docs/packaging.md). make deb builds, from
# a make install tree, DEBOUT/vfbypass_V_ARCH.deb (the static control plane,
# units, completions, man pages) and vfbypass-rx_V_ARCH.deb (the DPDK loop,
# depending on DPDK's runtime libraries). test-deb runs lintian on them
# (errors fail) and, as root, installs, runs and purges them.
APT_PACKAGES += dpkg-dev lintian binutils
TEST_TARGETS += test-deb
DEBOUT ?= bin/deb
# Debian versions: git describe's 0.0.0-N-gHASH becomes 0.0.0+N+gHASH.
DEB_VERSION ?= $(subst -,+,$(VERSION))
.PHONY: deb test-deb
deb:
	rm -rf bin/deb-stage $(DEBOUT)
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/bin/deb-stage PREFIX=/usr UNITDIR=/lib/systemd/system
	COMMIT=$(COMMIT) ./deploy/debian/mkdeb.sh bin/deb-stage $(DEBOUT) $(DEB_VERSION)
test-deb: deb
	./deploy/debian/test.sh $(DEBOUT)
