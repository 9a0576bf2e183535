#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# pkg-version.sh VERSION: the package version (Debian and RPM) of a
# git describe VERSION, so that both package managers sort builds as they
# were made:
#   1.2.0               1.2.0
#   1.2.0-rc1           1.2.0~rc1            (a pre-release: below 1.2.0)
#   1.2.0-5-gabc1234    1.2.0+5.gabc1234     (5 commits after 1.2.0)
#   1.2.0-dirty         1.2.0~dirty          (uncommitted changes: below the clean build)
#   0.0.0-149-gabc1234  0.0.0+149.gabc1234   (no tag yet)
# A pre-release's other "-" become ".". deploy/debian/test.sh checks the
# order of the pairs in deploy/version-order.txt (lower, higher) with
# dpkg --compare-versions and rpm's vercmp.
set -eu
v=${1#v}
case $v in
  [0-9]*) ;;
  *) echo "pkg-version: $1 is not a version (git describe of a v1.2.3 tag)" >&2; exit 2 ;;
esac
printf '%s\n' "$v" | sed -E 's/-dirty$/~dirty/; s/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/; s/^([0-9]+(\.[0-9]+)*)-/\1~/; s/-/./g'
