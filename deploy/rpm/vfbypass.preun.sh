# SPDX-License-Identifier: Apache-2.0
# %preun of vfbypass: on erase ($1 = 0, not an upgrade) stop every watcher
# (vfbypass-watch@PF), whose binary goes away. Its PF stays as it is:
# vfbypass@PF is not stopped. An upgrade restarts no watcher (harmless,
# but the package changes nothing that runs, as for vfbypass@PF).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
	systemctl stop 'vfbypass-watch@*.service' >/dev/null 2>&1 || :
fi
