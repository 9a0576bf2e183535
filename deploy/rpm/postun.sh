# SPDX-License-Identifier: Apache-2.0
# %postun of vfbypass and vfbypass-rx (UNITS, the package's template units,
# is set above this line): systemd forgets the removed units; on erase
# ($1 = 0) the links that "systemctl enable UNIT@PF" made go too (systemd
# cannot disable an instance whose unit file is gone). Edited files in
# /etc/vfbypass stay, as RPM keeps edited config files.
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ]; then
	for u in $UNITS; do
		find /etc/systemd/system -mindepth 2 -maxdepth 2 -type l -name "$u@?*.service" \
			\( -path '*.wants/*' -o -path '*.requires/*' \) -delete 2>/dev/null || :
	done
fi
