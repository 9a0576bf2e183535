# pkg/flows: the cgo ABI test (pkg/flows/abi_test.go, internal/abi) compiles
# against <linux/ethtool.h>, so it needs gcc and the kernel's uapi headers;
# the ethtool differential test needs ethtool (in the Makefile's list).
# fuzz-flows runs each fuzz target for a bounded number of executions: a
# duration (-fuzztime 15s) races Go 1.26's fuzz coordinator at its deadline
# and fails now and then with a bare "context deadline exceeded"
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
APT_PACKAGES += linux-libc-dev gcc
# make test runs the fuzz targets' seed corpora as tests; make faults fuzzes.
faults: fuzz-flows
FLOWS_FUZZTIME ?= 500000x

.PHONY: fuzz-flows
fuzz-flows: deps
	$(GO) test ./pkg/flows -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FLOWS_FUZZTIME) -timeout 10m
	$(GO) test ./pkg/flows -run '^$$' -fuzz '^FuzzDecodeCookie$$' -fuzztime $(FLOWS_FUZZTIME) -timeout 10m

# faults-flows: all 600 random rules of the ethtool differential test
# (make test runs 150 of them).
faults: faults-flows
.PHONY: faults-flows
faults-flows: deps
	VFBYPASS_FAULTS=full $(GO) test ./pkg/flows -run '^TestEthtoolRandomDifferential$$' -count=1 -v
