# The systemd units (deploy/systemd): their Go test runs make install into
# a temporary tree, systemd-analyze verify --root on it (systemd provides
# systemd-analyze without running as PID 1; man-db's man checks the units'
# Documentation= pages), and their command lines against the simulator.
APT_PACKAGES += systemd man-db
