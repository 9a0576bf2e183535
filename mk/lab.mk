# The QEMU SR-IOV lab on a real kernel (lab/lab.sh; docs/lab.md).
.PHONY: lab
LAB_DEMO := lab
lab: build
	./lab/lab.sh all
