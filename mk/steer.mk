# steer: 1000 ntuple rules in one 'steer add --from-file' against 1000
# separate 'steer add' processes on the simulator (tools/steerbench). The
# separate run stops after STEERBENCH_BUDGET and extrapolates the rest (the
# output says how many it measured).
STEERBENCH_RULES ?= 1000
STEERBENCH_BUDGET ?= 45s
BENCH_TARGETS += bench-steer
.PHONY: bench-steer
bench-steer: build
	$(GO) run ./tools/steerbench -bin $(BIN) -n $(STEERBENCH_RULES) -budget $(STEERBENCH_BUDGET)
