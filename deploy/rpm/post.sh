# SPDX-License-Identifier: Apache-2.0
# %post of vfbypass and vfbypass-rx: systemd reads the new template unit.
# Nothing is restarted on upgrade: restarting vfbypass@PF would run down
# and up (a PF reset); running receive loops keep their binary until they
# are restarted.
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null 2>&1 || :
fi
