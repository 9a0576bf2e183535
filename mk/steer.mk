# steer: 1000 ntuple rules in one 'steer add --from-file' against 1000
# separate 'steer add' processes on the simulator (tools/steerbench). The
# separate run stops after STEERBENCH_BUDGET and extrapolates the rest (the
# output says how many it measured).
STEERBENCH_RULES ?= 1000
STEERBENCH_BUDGET ?= 45s
BENCH_TARGETS += bench-steer
.PHONY: bench-steer
bench-steer: build
	$(GO) run ./tools/steerbench -bin $(SIMBIN) -n $(STEERBENCH_RULES) -budget $(STEERBENCH_BUDGET)

# bench-scale: up, a no-op up, status and down of a config with
# STEERBENCH_VFS VFs and each rule count of STEERBENCH_SCALE (2046 fills the
# simulated 82599's table), each with the journal writes it made; down
# should stay within 2x of up.
STEERBENCH_SCALE ?= 1,100,2046
STEERBENCH_VFS ?= 63
BENCH_TARGETS += bench-scale
.PHONY: bench-scale
bench-scale: build
	$(GO) run ./tools/steerbench -bin $(SIMBIN) -scale $(STEERBENCH_SCALE) -vfs $(STEERBENCH_VFS)
