# fuzz-journal feeds arbitrary bytes as a PF's journal through every reader
# of it (load, down's plan, up's resume and plan, status) for a bounded
# number of executions (a count, not a duration: see mk/flows.mk): each one
# runs every reader on a simulated host (10 to 20 a second were measured on a
# busy 2-core machine), so make faults runs 3000 (make test runs the seed
# corpus as a test). Run it longer with JOURNAL_FUZZTIME=100000x. Minimizing is bounded by a count too:
# under load a minimization that runs into its deadline kills the worker,
# which the fuzzer reports as a crash of the input it was minimizing.
JOURNAL_FUZZTIME ?= 300x

.PHONY: fuzz-journal
fuzz-journal: deps
	$(GO) test ./internal/setup -run '^$$' -fuzz '^FuzzJournal$$' -fuzztime $(JOURNAL_FUZZTIME) -fuzzminimizetime 20x -timeout 10m
