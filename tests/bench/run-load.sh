#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The load scenarios of docs/reliability-load.md, one after the other,
# each through run-bench.sh (a fresh server on a free loopback port,
# stopped afterwards). Every run is bounded in time and prints its table.
# Usage:
#   SECURECHATD=BUILD/server/securechatd run-load.sh SC_BENCH [SCENARIO...]
# Scenarios: storm storm-sources storm-defaults half-open half-open-one
# slow-readers slow-readers-small flooders (default: all).
set -eu

die () { echo "run-load.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: run-load.sh SC_BENCH [SCENARIO...]"
bench=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$bench" ] || die "$bench is not executable"
: "${SECURECHATD:?SECURECHATD must name the securechatd binary}"

# 100 pairs, 50 messages a second each (5,000 a second in all), up to 64
# in flight; 5 s alone, then 5 s with the load.
pairs="--logins 0 --pairs 100 --rate 50 --window 64 --duration 5"
defaults=/dev/null

run () {
  name=$1 users=$2 config=$3
  shift 3
  echo "== $name: BENCH_USERS=$users BENCH_CONFIG=$config sc-bench $*"
  BENCH_USERS=$users BENCH_CONFIG=$config "$here/run-bench.sh" "$bench" "$@" \
    || echo "== $name: sc-bench exited with $?"
}

[ $# -gt 0 ] || set -- storm storm-sources storm-defaults half-open \
  half-open-one slow-readers slow-readers-small flooders
for scenario in "$@"; do
  case $scenario in
    storm)
      run "$scenario" 1201 "$here/load-storm.conf" $pairs --storm 1000 ;;
    storm-sources)
      run "$scenario" 1201 "$here/load-storm.conf" $pairs --storm 1000 \
        --storm-sources 250 ;;
    storm-defaults)
      run "$scenario" 1201 $defaults $pairs --storm 1000 --storm-sources 250 ;;
    half-open)
      run "$scenario" 201 $defaults $pairs --half-open 5000 \
        --half-open-sources 10 --half-open-reconnect ;;
    half-open-one)
      run "$scenario" 201 $defaults $pairs --half-open 5000 \
        --half-open-sources 1 ;;
    slow-readers)
      run "$scenario" 240 $defaults $pairs --slow-readers 20 ;;
    slow-readers-small)
      run "$scenario" 240 $defaults $pairs --slow-readers 20 \
        --slow-body 4096 --slow-rate 150 ;;
    flooders)
      run "$scenario" 240 $defaults $pairs --flooders 10 ;;
    *) die "unknown scenario $scenario" ;;
  esac
done
