# Ansible drives the CLI against the simulator (idempotence, changed flag, rc).
APT_PACKAGES += ansible-core
TEST_TARGETS += test-ansible
.PHONY: test-ansible
test-ansible: build
	./tests/ansible/run.sh
