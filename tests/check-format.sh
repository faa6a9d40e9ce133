#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when a C file in the tree does not match .clang-format.
set -eu
cd "$1"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find common server client-cli client-gtk tests -name '*.[ch]')
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run clang-format -i $f)"
    bad=1
  fi
done
exit $bad
