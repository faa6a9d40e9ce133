#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks on data/securechatd.service (as configured into the build tree).

check-unit.py verify UNIT
    systemd-analyze verify: no error and no warning (it exits 0 on unknown
    keys and bad values, so any output fails).
check-unit.py security UNIT THRESHOLD
    systemd-analyze security --offline=yes: prints the overall exposure
    level and fails above THRESHOLD (0.0 safest .. 10.0).
check-unit.py exec UNIT
    Runs the unit's command lines the way systemd would (without its
    sandbox) in a fresh state directory: ExecStartPre twice (the first
    start creates the key, the second leaves it alone), ExecStart (serves,
    with listen = 127.0.0.1:0 in the folder's securechatd.conf),
    ExecReload (re-reads the user list), then SIGTERM (exit 0).
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
TIMEOUT = 30


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=TIMEOUT, **kw)
    except subprocess.TimeoutExpired:
        fail("timed out: %s" % " ".join(cmd))


def verify(unit):
    res = run([SYSTEMD_ANALYZE, "verify", unit])
    out = (res.stdout + res.stderr).strip()
    if res.returncode != 0 or out:
        fail("systemd-analyze verify %s (exit %d):\n%s" % (unit,
                                                          res.returncode, out))
    print("ok: systemd-analyze verify %s: no error, no warning" % unit)


def security(unit, threshold):
    res = run([SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager",
               unit])
    print(res.stdout)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", res.stdout)
    if not m:
        fail("no exposure level in the output (exit %d):\n%s" % (
            res.returncode, res.stderr))
    score = float(m.group(1))
    if score > threshold:
        fail("exposure level %.1f is above %.1f" % (score, threshold))
    print("ok: exposure level %.1f (threshold %.1f)" % (score, threshold))


def commands(unit):
    """key -> list of command lines of the [Service] section."""
    out = {}
    section = None
    with open(unit, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and line.startswith("Exec"):
                key, value = line.split("=", 1)
                out.setdefault(key, []).append(value)
    return out


def expand(line, env):
    """systemd's command line expansion (systemd.service(5), "Command
    lines"), as far as the unit uses it: "$$" is "$", "${VAR}" anywhere and
    "$VAR" as a whole word are the variable's value."""
    words = []
    for word in shlex.split(line):
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
            words.append(env.get(word[1:], ""))
            continue
        parts = word.split("$$")
        parts = [re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                        lambda m: env.get(m.group(1), ""), p) for p in parts]
        words.append("$".join(parts))
    return words


def execute(unit):
    cmds = commands(unit)
    for key in ("ExecStartPre", "ExecStart", "ExecReload"):
        if len(cmds.get(key, [])) != 1:
            fail("%s: expected one %s, got %r" % (unit, key, cmds.get(key)))
    base = tempfile.mkdtemp(prefix="sc-unit-")
    state = os.path.join(base, "securechat")
    os.mkdir(state, 0o700)     # StateDirectory=, StateDirectoryMode=0700
    env = dict(os.environ, STATE_DIRECTORY=state)
    old_umask = os.umask(0o077)   # UMask=0077
    server = None
    try:
        pre = expand(cmds["ExecStartPre"][0], env)
        res = run(pre, env=env)
        if res.returncode != 0 or not re.search(r"SHA256:\S{43}", res.stdout):
            fail("first ExecStartPre %r: exit %d\n%s%s" % (
                pre, res.returncode, res.stdout, res.stderr))
        with open(os.path.join(state, "server.key"), "rb") as f:
            key = f.read()
        res = run(pre, env=env)
        if res.returncode != 0 or res.stdout or res.stderr:
            fail("second ExecStartPre: exit %d\n%s%s" % (
                res.returncode, res.stdout, res.stderr))
        with open(os.path.join(state, "server.key"), "rb") as f:
            if f.read() != key:
                fail("the second ExecStartPre replaced the server key")
        for name in ("server.key", "credentials.json"):
            mode = os.stat(os.path.join(state, name)).st_mode & 0o777
            if mode != 0o600:
                fail("%s has mode %o" % (name, mode))
        with open(os.path.join(state, "securechatd.conf"), "w") as f:
            f.write("listen = 127.0.0.1:0\n")

        start = expand(cmds["ExecStart"][0], env)
        if state not in start:
            fail("ExecStart %r does not name the state directory" % start)
        log_path = os.path.join(base, "log")
        with open(log_path, "wb") as log:
            server = subprocess.Popen(start, env=env, stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL)

        def wait_log(pattern):
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if re.search(pattern, text):
                    return text
                if server.poll() is not None:
                    break
                time.sleep(0.05)
            fail("no %r in the server log:\n%s" % (pattern, text))

        wait_log(r"listening on 127\.0\.0\.1:\d+")
        env["MAINPID"] = str(server.pid)
        reload_cmd = expand(cmds["ExecReload"][0], env)
        res = run(reload_cmd, env=env)
        if res.returncode != 0:
            fail("ExecReload %r: exit %d %s" % (reload_cmd, res.returncode,
                                                res.stderr))
        wait_log(r"SIGHUP: credentials reloaded: 0 users")
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            fail("the server did not stop on SIGTERM")
        text = wait_log(r"stopped")
        if rc != 0:
            fail("the server exited with %d:\n%s" % (rc, text))
        server = None
    finally:
        os.umask(old_umask)
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        shutil.rmtree(base, ignore_errors=True)
    print("ok: ExecStartPre (twice), ExecStart, ExecReload and SIGTERM of "
          "%s" % unit)


def main(argv):
    if len(argv) < 3:
        fail(__doc__)
    mode, unit = argv[1], argv[2]
    if mode in ("verify", "security") and SYSTEMD_ANALYZE is None:
        print("skipped: systemd-analyze is not installed")
        sys.exit(77)
    if mode == "verify" and len(argv) == 3:
        verify(unit)
    elif mode == "security" and len(argv) == 4:
        security(unit, float(argv[3]))
    elif mode == "exec" and len(argv) == 3:
        execute(unit)
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
