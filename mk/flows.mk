# pkg/flows: the cgo ABI test (pkg/flows/abi_test.go, internal/abi) compiles
# against <linux/ethtool.h>, so it needs gcc and the kernel's uapi headers;
# the ethtool differential test needs ethtool (in the Makefile's list).
# fuzz-flows runs each fuzz target for a bounded time.
APT_PACKAGES += linux-libc-dev gcc
TEST_TARGETS += fuzz-flows
FLOWS_FUZZTIME ?= 15s

.PHONY: fuzz-flows
fuzz-flows: deps
	$(GO) test ./pkg/flows -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FLOWS_FUZZTIME)
	$(GO) test ./pkg/flows -run '^$$' -fuzz '^FuzzDecodeCookie$$' -fuzztime $(FLOWS_FUZZTIME)
