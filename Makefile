# vfbypass build, test and lab entry points. Every target installs what it
# needs on a fresh Debian 12 machine (as root), so a clean clone works.
SHELL := /bin/bash
GO ?= go
# bin/vfbypass is the static control plane (no cgo, runs without DPDK);
# bin/vfbypass-rx the DPDK receive loop (cgo), which 'vfbypass rx' runs.
# Both are built without the simulator (-tags nosim); bin/vfbypass-sim is
# the control plane with it, which vfbypass runs for 'vfbypass sim' and for
# a --host-root that is a simulated host (installed in PREFIX/lib/vfbypass).
BIN := bin/vfbypass
RXBIN := bin/vfbypass-rx
SIMBIN := bin/vfbypass-sim
# VERSION: git describe of the last v* tag without its v, else
# 0.0.0-N-gHASH (N commits in all), as git describe would write it.
VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) && echo "$${v#v}" || \
	echo "0.0.0-$$(git rev-list --count HEAD 2>/dev/null || echo 0)-g$$(git describe --always --dirty 2>/dev/null || echo unknown)")
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
GO_LDFLAGS := -X github.com/vfbypass/vfbypass/internal/buildinfo.version=$(VERSION) \
	-X github.com/vfbypass/vfbypass/internal/buildinfo.commit=$(COMMIT)
GOBIN := $(CURDIR)/bin
STATICCHECK_VERSION := v0.8.2
DEADCODE_VERSION := v0.52.0
# apt packages the build and tests need; fragments in mk/ add theirs.
APT_PACKAGES := gcc pkg-config iproute2 ethtool pci.ids kmod file
BENCH_TARGETS :=
TEST_TARGETS := test-demo-sim
# integration: what drives the built tool from outside, slower than make
# test's budget allows: the Ansible play, the deb and rpm lifecycles.
INTEGRATION_TARGETS :=

-include mk/*.mk

.PHONY: all deps build docs install test integration unit lint demo demo-sim test-demo-sim bench clean
all: build

# deps: install missing apt packages (one apt-get call, non-interactive).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all apt packages present"; fi

build: deps
	@mkdir -p $(dir $(BIN)) $(dir $(RXBIN)) $(dir $(SIMBIN))
	CGO_ENABLED=0 $(GO) build -tags nosim -ldflags '$(GO_LDFLAGS)' -o $(BIN) ./cmd/vfbypass
	CGO_ENABLED=0 $(GO) build -ldflags '$(GO_LDFLAGS)' -o $(SIMBIN) ./cmd/vfbypass
	$(GO) build -tags nosim -buildmode=pie -ldflags '$(GO_LDFLAGS)' -o $(RXBIN) ./cmd/vfbypass-rx

# docs: man pages generated from the commands (MANBUILD) and the shell
# completions (COMPBUILD), both from the binaries just built (the control
# plane's from the simulator build, whose 'sim' subcommands vfbypass runs
# through it). The loop's page comes last: vfbypass-rx.1 is its own, not
# the page of 'vfbypass rx'.
MANBUILD ?= bin/man
COMPBUILD ?= bin/completion
docs: build
	rm -rf $(MANBUILD) $(COMPBUILD) && mkdir -p $(COMPBUILD)
	$(SIMBIN) gen-man $(MANBUILD)
	$(RXBIN) --gen-man $(MANBUILD)
	$(SIMBIN) completion bash > $(COMPBUILD)/vfbypass
	$(SIMBIN) completion zsh > $(COMPBUILD)/_vfbypass
	$(SIMBIN) completion fish > $(COMPBUILD)/vfbypass.fish

# install: both binaries, the systemd units (with BINDIR in their command
# lines), completions, man pages and the example configs. PREFIX=/usr and
# UNITDIR=/lib/systemd/system for a distribution package; DESTDIR stages.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/vfbypass
SYSCONFDIR ?= /etc
LIBEXECDIR ?= $(PREFIX)/lib/vfbypass
install: docs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/vendor-completions \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/vfbypass
	install -m 0755 $(BIN) $(RXBIN) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(SIMBIN) $(DESTDIR)$(LIBEXECDIR)/vfbypass-sim
	for u in deploy/systemd/*.service; do \
		sed 's|/usr/bin/|$(BINDIR)/|g; s|/etc/vfbypass/|$(SYSCONFDIR)/vfbypass/|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; done
	install -m 0644 $(MANBUILD)/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(COMPBUILD)/vfbypass $(DESTDIR)$(DATADIR)/bash-completion/completions/vfbypass
	install -m 0644 $(COMPBUILD)/_vfbypass $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_vfbypass
	install -m 0644 $(COMPBUILD)/vfbypass.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/vfbypass.fish
	install -m 0644 deploy/examples/* $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 docs/systemd.md docs/config.md $(DESTDIR)$(DOCDIR)/

$(GOBIN)/staticcheck:
	GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(GOBIN)/deadcode:
	GOBIN=$(GOBIN) $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)

# lint: gofmt, vet, staticcheck; go.mod and go.sum as 'go mod tidy' leaves
# them (direct dependencies not marked indirect); no function that neither
# a program nor a test reaches (deadcode -test); no tracked file over
# MAX_TRACKED_BYTES (build outputs and data stay out of git); no non-test
# function over MAX_FUNC_LINES lines or of cyclomatic complexity over
# MAX_FUNC_CYCLO (tools/funclint).
MAX_TRACKED_BYTES := 1048576
MAX_FUNC_LINES := 80
MAX_FUNC_CYCLO := 20
lint: deps $(GOBIN)/staticcheck $(GOBIN)/deadcode
	@big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk -v max=$(MAX_TRACKED_BYTES) '$$1 > max {print $$2 " (" $$1 " bytes)"}'); \
	if [ -n "$$big" ]; then echo "lint: tracked files over $(MAX_TRACKED_BYTES) bytes: $$big; git rm --cached them"; exit 1; fi
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "lint: go.mod/go.sum are not tidy: run 'go mod tidy'"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags nosim ./cmd/... ./internal/cli
	$(GOBIN)/staticcheck ./...
	$(GOBIN)/staticcheck -tags nosim ./cmd/... ./internal/cli
	@if $(GO) list -deps -tags nosim ./cmd/vfbypass ./cmd/vfbypass-rx | grep -q internal/hostsim; then \
		echo "lint: a production binary (-tags nosim) links the simulator"; exit 1; fi
	@out=$$($(GOBIN)/deadcode -test ./...); if [ -n "$$out" ]; then echo "$$out"; echo "lint: dead code (deadcode -test): remove it"; exit 1; fi
	$(GO) run ./tools/funclint -lines $(MAX_FUNC_LINES) -cyclo $(MAX_FUNC_CYCLO) $$(git ls-files '*.go')

# test: lint, then every Go test (root-only tests run when root, and say why
# when they skip), then the extra test targets of mk/ fragments; the last
# line counts passed, failed and skipped tests.
# The tests' temporary trees (simulated hosts, state directories) live on
# tmpfs when there is one: they fsync every journal and simulated write,
# which on a disk makes the tests wait on I/O rather than run.
TEST_TMP_PARENT := $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp)

test: lint build $(TEST_TARGETS)
	@set -o pipefail; tmp=$$(mktemp -d $(TEST_TMP_PARENT)/vfbypass-test.XXXXXX); \
	TMPDIR=$$tmp $(GO) test -count=1 -json ./... > .test-output.json; rc=$$?; rm -rf $$tmp; \
	$(GO) run ./tools/testsum < .test-output.json; rc2=$$?; \
	[ $$rc -eq 0 ] && [ $$rc2 -eq 0 ]

unit:
	$(GO) test -count=1 ./...

demo-sim: build
	./scripts/demo-sim.sh

# test-demo-sim: the README's demo-sim, quiet unless it fails.
test-demo-sim: build
	@out=$$(./scripts/demo-sim.sh 2>&1) || { echo "$$out"; echo "test-demo-sim: scripts/demo-sim.sh failed"; exit 1; }; \
	echo "test-demo-sim: passed (the simulated host is back where it started)"

bench: build $(BENCH_TARGETS)

integration: build $(INTEGRATION_TARGETS)

clean:
	rm -rf bin .test-output.json

# demo: the lab on a real kernel when it is available (mk/lab.mk defines
# LAB_DEMO), else the simulator.
demo: build
	@if [ -n "$(LAB_DEMO)" ]; then $(MAKE) --no-print-directory $(LAB_DEMO); else ./scripts/demo-sim.sh; fi
