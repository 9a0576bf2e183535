# SPDX-License-Identifier: Apache-2.0
# %preun of vfbypass-rx: on erase ($1 = 0, not an upgrade) stop every
# receive loop, whose binary goes away. The PF and its VFs stay as they are.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
	systemctl stop 'vfbypass-rx@*.service' >/dev/null 2>&1 || :
fi
