# The full fault matrix (cmd/vfbypass/matrix_test.go): up, steer add (plain,
# masked, replacing a location), steer del and down under strace, EIO and
# SIGKILL at every write, renameat, fsync, unlinkat and linkat call (openat
# every FAULTS_OPENAT_STRIDE-th), each followed by down, which must restore
# the simulated host byte for byte and leave no file behind. Beside it, the
# exit-code contract's matrices (cmd/vfbypass/eio_test.go, signals_test.go):
# up (VF and queue mode, in place, a config change, --recreate), steer
# add/del/clear and down with EIO at every simulated kernel call in turn,
# and with SIGTERM, SIGINT, SIGHUP and SIGPIPE at random instants, each run
# held against the contract (exit 1/2: host as before; 0: as a clean run;
# 3: something left, named). make test runs a sample of each.
APT_PACKAGES += strace
FAULTS_OPENAT_STRIDE ?= 10

.PHONY: faults
faults: deps
	VFBYPASS_FAULTS=full FAULTS_OPENAT_STRIDE=$(FAULTS_OPENAT_STRIDE) $(GO) test ./cmd/vfbypass -run '^(TestFaultMatrix|TestEIOMatrix|TestSignalMatrix)$$' -count=1 -timeout 30m -v 2>&1 | grep -v '^=== RUN\|^    --- PASS\|^--- PASS'; exit $${PIPESTATUS[0]}
	$(MAKE) --no-print-directory fuzz-journal JOURNAL_FUZZTIME=3000x
