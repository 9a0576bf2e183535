# DPDK receive loop (pkg/rx, vfbypass rx): build needs libdpdk-dev and
# pkg-config; the PMD plugins come with dpdk; dpdk-testpmd (dpdk-dev) is the
# reference of the benchmark (docs/performance.md).
APT_PACKAGES += libdpdk-dev dpdk dpdk-dev pkg-config
BENCH_TARGETS += bench-rx
# RXBENCH_FLAGS: e.g. RXBENCH_FLAGS="-duration 5s -rounds 3"
RXBENCH_FLAGS ?=
.PHONY: bench-rx
bench-rx: build
	$(GO) run ./tools/rxbench -bin $(BIN) $(RXBENCH_FLAGS)

# test-rx-race: the cgo package's calls racing Close, under the race
# detector (the children the tests start are the same -race binary). Its
# -race build of the DPDK binding is slow, so make integration runs it.
INTEGRATION_TARGETS += test-rx-race
.PHONY: test-rx-race
test-rx-race:
	$(GO) test -race -count=1 -run 'Racing' ./pkg/rx
