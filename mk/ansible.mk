# The Ansible collection (deploy/ansible: the vfbypass module and role, the
# example fleet play) tested with Debian's ansible-core against simulated
# hosts: check mode, diff, idempotence, down byte-identical, ansible-doc.
APT_PACKAGES += ansible-core ansible-lint
INTEGRATION_TARGETS += test-ansible
.PHONY: test-ansible
test-ansible: build
	./tests/ansible/run.sh
