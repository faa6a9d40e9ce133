# SPDX-License-Identifier: GPL-3.0-or-later
"""The order of the system calls behind every write of the data folder,
seen with strace: the temporary file is written and fsync'd before it is
renamed over the real one, and the folder is fsync'd after the rename (or
after creating the prekeys folder), so that a power failure cannot lose a
change that was reported done. SIGKILL (test_crash_consistency.py) cannot
show this: the kernel keeps what a killed process wrote. Checked for the
admin commands (credentials.json), the server's hash upgrade
(credentials.json) and its prekey store (prekeys/USER.json). Skipped (exit
status 77) when strace is missing or cannot attach to a process."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
import warnings

sys.dont_write_bytecode = True
import harness  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402

STRACE = shutil.which("strace")
CALLS = "openat,write,fsync,fdatasync,rename,renameat,renameat2,close,mkdir"
LINE_RE = re.compile(r"^(\d+) +(\w+)\((.*)\) += (-?\d+)")
UNFINISHED_RE = re.compile(r"^(\d+) +(.*) <unfinished \.\.\.>$")
RESUMED_RE = re.compile(r"^(\d+) +<\.\.\. (\w+) resumed>(.*)$")
STR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_trace(path):
    """strace -f -o output as a list of (call, args, ret), in order."""
    events = []
    partial = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            m = UNFINISHED_RE.match(line)
            if m:
                partial[m.group(1)] = m.group(2)
                continue
            m = RESUMED_RE.match(line)
            if m and m.group(1) in partial:
                line = "%s %s%s" % (m.group(1), partial.pop(m.group(1)),
                                    m.group(3))
            m = LINE_RE.match(line)
            if m:
                events.append((m.group(2), m.group(3), int(m.group(4))))
    return events


def strings(args):
    return [bytes(s, "utf-8").decode("unicode_escape")
            for s in STR_RE.findall(args)]


def check_order(events, tmp_re):
    """For every rename of a temporary file matching tmp_re: its fd was
    fsync'd after its last write and before the rename; afterwards the
    folder of the target was opened and fsync'd. Returns the number of
    renames checked; raises AssertionError on a violation."""
    fds = {}          # fd -> path, as opened
    history = []      # (index, call, path)
    for i, (call, args, ret) in enumerate(events):
        if call == "openat" and ret >= 0:
            names = strings(args)
            if names:
                fds[ret] = (names[0], "O_DIRECTORY" in args)
                history.append((i, "open", names[0], "O_DIRECTORY" in args))
        elif call in ("write", "fsync", "fdatasync", "close"):
            fd = int(args.split(",")[0])
            if fd in fds:
                history.append((i, call, fds[fd][0], fds[fd][1]))
                if call == "close":
                    del fds[fd]
        elif call in ("rename", "renameat", "renameat2") and ret == 0:
            names = strings(args)
            history.append((i, "rename", names[0], names[-1]))
        elif call == "mkdir" and ret == 0:
            history.append((i, "mkdir", strings(args)[0], True))
    checked = 0
    for n, (i, call, a, b) in enumerate(history):
        if call != "rename" or not tmp_re.search(a):
            continue
        before = [h for h in history[:n] if h[2] == a]
        writes = [k for k, h in enumerate(before) if h[1] == "write"]
        syncs = [k for k, h in enumerate(before) if h[1] in ("fsync",
                                                              "fdatasync")]
        if not writes:
            harness.fail("rename of %s, which was never written" % a)
        if not syncs or syncs[-1] < writes[-1]:
            harness.fail("%s renamed over %s without an fsync after its "
                         "last write:\n%s" % (a, b, "\n".join(
                             repr(h) for h in before)))
        folder = os.path.dirname(b)
        opened = False
        synced = False
        for h in history[n + 1:]:
            if h[2] != folder:
                continue
            if h[1] == "open" and h[3]:
                opened = True
            elif h[1] == "fsync" and opened:
                synced = True
                break
        if not synced:
            harness.fail("the folder %s was not fsync'd after %s was "
                         "renamed over %s" % (folder, a, b))
        checked += 1
    for n, (i, call, a, _) in enumerate(history):
        if call != "mkdir":
            continue
        parent = os.path.dirname(a)
        if not any(h[1] == "fsync" and h[2] == parent
                   for h in history[n + 1:]):
            harness.fail("%s was created but its parent %s was not fsync'd"
                         % (a, parent))
    return checked


@unittest.skipIf(STRACE is None, "strace is not installed")
class WriteOrderTest(harness.IntegrationTest):
    def traced_env(self):
        env = os.environ.copy()
        # LeakSanitizer cannot run under ptrace.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        return env

    def test_admin_commands(self):
        srv = self.server({"alice": "pw-alice"}, start=False)
        for args, stdin in ((["useradd", "bob"], "pw-bob\n"),
                            (["passwd", "alice"], "pw-alice-2\n"),
                            (["userdel", "bob"], None)):
            trace = self.scope.path("admin-%s.trace" % args[0])
            cmd = [STRACE, "-f", "-qq", "-e", "trace=" + CALLS, "-o", trace,
                   srv.bin, args[0], "--data-dir", srv.dir] + args[1:]
            res = harness._run_checked(self.scope, cmd, self.traced_env(),
                                       stdin_data=stdin)
            self.assertEqual(res.rc, 0, res)
            n = check_order(parse_trace(trace),
                            re.compile(r"/credentials\.json\.tmp\.\d+$"))
            self.assertEqual(n, 1, "%s: %d renames of credentials.json" % (
                args[0], n))

    def test_server_writes(self):
        pw = "bcrypt-pw"
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"},
                          start=False)
        creds = srv.credentials()
        creds["kitty"] = crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                                      rounds=16))
        path = os.path.join(srv.dir, "credentials.json")
        with open(path, "w") as f:
            json.dump(creds, f)
        srv.run_env = {"ASAN_OPTIONS": self.traced_env()["ASAN_OPTIONS"]}
        srv.start()
        # Attached to the running server (all its threads): strace
        # detaches, and leaves it running, when it is itself stopped.
        trace = self.scope.path("server.trace")
        tracer = self.scope.spawn([STRACE, "-f", "-e", "trace=" + CALLS,
                                   "-o", trace, "-p", str(srv.proc.pid)],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        err = harness.Stream(tracer.stderr)
        if err.wait(re.compile(r"attached"), harness.WAIT_TIMEOUT) is None:
            self.skipTest("strace cannot attach here: %s" % err.text())
        time.sleep(0.3)     # one "attached" line per thread
        # A bcrypt login: the hash is upgraded before login_ok.
        res = self.cli(srv, "kitty", password=pw).send("bob", "x")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        # A first login publishes prekeys (the folder is created), a fetch
        # takes one out.
        rx = self.cli(srv, "bob").recv(count=1, timeout=30)
        res = self.cli(srv, "alice").send("bob", "hello")
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        self.assertEqual(rx.wait_exit().out, "alice: hello\n")
        srv.stop()
        try:
            tracer.wait(timeout=harness.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("strace did not end with the server")
        events = parse_trace(trace)
        creds_n = check_order(events, re.compile(
            r"/credentials\.json\.tmp\.\d+$"))
        pk_n = check_order(events,
                           re.compile(r"/prekeys/\.[a-z0-9._-]+\.tmp$"))
        self.assertEqual(creds_n, 1, "hash upgrades written: %d" % creds_n)
        # bob and alice publish, alice fetches bob's bundle (one one-time
        # prekey taken out).
        self.assertGreaterEqual(pk_n, 3, "prekey writes: %d" % pk_n)
        print("write order checked with strace: %d credentials.json "
              "rename(s) by the server, %d prekey file renames" % (creds_n,
                                                                   pk_n))


if __name__ == "__main__":
    # A skip is exit status 77, so that meson (and scripts/test) report it
    # instead of a pass.
    if STRACE is None:
        print("skipped: strace is not installed")
        sys.exit(77)
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if result.skipped else 0)
