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
