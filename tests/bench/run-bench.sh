#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs sc-bench against a fresh securechatd on a free loopback port.
# Builds nothing. Usage:
#   run-bench.sh SC_BENCH [sc-bench options...]
# Programs: $SECURECHATD (securechatd) and the SC_BENCH argument.
# Environment: BENCH_USERS (default 32) accounts bench0..bench{N-1} are
# created, all with the same password; BENCH_CONFIG, if set, is passed to
# the server as --config. Without it the server runs with its defaults
# except the per-user message limit (message_rate, message_burst), which
# is lifted: the relay figures measure what the server can carry, and a
# sender that keeps its window full goes far over 200 messages a second.
# The server's pid goes to sc-bench (--server-pid) so that it can sample
# its memory; after the run the reasons the server gave for closing or
# refusing connections are counted from its log; BENCH_LOG, if set, names
# a file to copy the whole log to.
set -eu

die () { echo "run-bench.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: run-bench.sh SC_BENCH [options...]"
bench=$1
shift
daemon=${SECURECHATD:?SECURECHATD must name the securechatd binary}
[ -x "$bench" ] || die "$bench is not executable"
[ -x "$daemon" ] || die "$daemon is not executable"
users=${BENCH_USERS:-32}
case $users in ''|*[!0-9]*) die "BENCH_USERS must be a number";; esac
[ "$users" -ge 2 ] && [ "$users" -le 8192 ] || die "BENCH_USERS in 2..8192"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sc-bench.XXXXXX")
pid=
cleanup () {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || :
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
      sleep 0.1; i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null || :
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

data=$tmp/data
password="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$password" > "$tmp/password"
chmod 600 "$tmp/password"

fp=$("$daemon" init --data-dir "$data" | grep -o 'SHA256:[A-Za-z0-9+/]\{43\}' | head -n 1)
[ -n "$fp" ] || die "securechatd init printed no fingerprint"
printf '%s\n' "$password" | "$daemon" useradd --data-dir "$data" bench0 >/dev/null \
  || die "useradd bench0 failed"
# The other accounts share bench0's hash: one useradd each would hash the
# password thousands of times.
python3 - "$data/credentials.json" "$users" <<'EOF' || die "cannot write the accounts"
import json, os, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    digest = json.load(f)["bench0"]
with open(path + ".new", "w") as f:
    json.dump({"bench%d" % i: digest for i in range(n)}, f)
os.chmod(path + ".new", 0o600)
os.replace(path + ".new", path)
EOF

config=${BENCH_CONFIG:-}
if [ -z "$config" ]; then
  config=$tmp/bench.conf
  printf 'message_rate = 1000000\nmessage_burst = 1000000\n' > "$config"
fi
# Thousands of connections: as many descriptors as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || :

# A free port: let the kernel pick one, then hand it to the server; retry
# if another process takes it in between.
attempt=0
while :; do
  attempt=$((attempt + 1))
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$daemon" run --data-dir "$data" --listen "127.0.0.1:$port" \
    --config "$config" 2>"$tmp/server.log" &
  pid=$!
  i=0
  while [ $i -lt 200 ]; do
    grep -qs "listening on 127.0.0.1:$port" "$tmp/server.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1; i=$((i + 1))
  done
  grep -qs "listening on 127.0.0.1:$port" "$tmp/server.log" && break
  kill -TERM "$pid" 2>/dev/null || :
  wait "$pid" 2>/dev/null || :
  pid=
  [ $attempt -lt 3 ] || { cat "$tmp/server.log" >&2; die "the server did not start"; }
done

status=0
"$bench" --server "127.0.0.1:$port" --fingerprint "$fp" \
  --user-prefix bench --password-file "$tmp/password" --users "$users" \
  --server-pid "$pid" "$@" || status=$?

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
if [ $rc -ne 0 ]; then
  cat "$tmp/server.log" >&2
  die "securechatd exited with $rc"
fi
if [ -n "${BENCH_LOG:-}" ]; then
  cp "$tmp/server.log" "$BENCH_LOG" || die "cannot copy the log to $BENCH_LOG"
fi
echo "server log, closes and refusals by reason:"
grep -o 'reason=[a-z-]*' "$tmp/server.log" | sort | uniq -c | sort -rn \
  | sed 's/^/  /' || :
exit $status
