# The systemd units (deploy/systemd): their Go test runs make install into
# a temporary tree, systemd-analyze verify --root on it (systemd provides
# systemd-analyze without running as PID 1; man-db's man checks the units'
# Documentation= pages), their command lines against the simulator, and the
# installed bash completion (cobra's script needs bash-completion).
APT_PACKAGES += systemd man-db bash-completion
