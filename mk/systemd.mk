# The systemd units (deploy/systemd): their Go test runs make install into
# a temporary tree, systemd-analyze verify --root on it (systemd provides
# systemd-analyze and systemd-escape without running as PID 1; man-db's man
# checks the units' Documentation= pages), systemd-analyze security
# --offline against each unit's maximum exposure, their command lines
# against the simulator (start, reload in place, stop; escaped and
# flag-like instance names; two receive loops side by side on vdevs), and
# the installed bash completion (cobra's script needs bash-completion).
APT_PACKAGES += systemd man-db bash-completion
