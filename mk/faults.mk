# The full fault matrix (cmd/vfbypass/matrix_test.go): up, steer add (plain,
# masked, replacing a location), steer del and down under strace, EIO and
# SIGKILL at every write, renameat, fsync, unlinkat and linkat call (openat
# every FAULTS_OPENAT_STRIDE-th), each followed by down, which must restore
# the simulated host byte for byte and leave no file behind. make test runs
# a sample of the same matrix.
APT_PACKAGES += strace
FAULTS_OPENAT_STRIDE ?= 10

.PHONY: faults
faults: deps
	VFBYPASS_FAULTS=full FAULTS_OPENAT_STRIDE=$(FAULTS_OPENAT_STRIDE) $(GO) test ./cmd/vfbypass -run '^TestFaultMatrix$$' -count=1 -timeout 30m -v 2>&1 | grep -v '^=== RUN\|^    --- PASS\|^--- PASS'; exit $${PIPESTATUS[0]}
