# watch: the repair latency of 'vfbypass watch' on the simulator after a
# flush of 1, 100 and 2046 rules and a table rewrite, median and worst of
# WATCHBENCH_N repairs, beside a full up on the same drifted state
# (tools/watchbench). promlint, the linter 'promtool check metrics' runs,
# checks the watcher's metrics in its tests.
WATCHBENCH_N ?= 20
WATCHBENCH_UPS ?= 3
APT_PACKAGES += prometheus
BENCH_TARGETS += bench-watch
.PHONY: bench-watch
bench-watch: build
	$(GO) run ./tools/watchbench -n $(WATCHBENCH_N) -ups $(WATCHBENCH_UPS)
