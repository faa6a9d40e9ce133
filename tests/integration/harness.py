# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end test harness: real securechatd and securechat-cli processes
on 127.0.0.1.

Rules every helper here follows:
- every subprocess runs with a timeout;
- every process a test starts is recorded in its Scope and, if still
  running when the test ends, stopped by its PID (SIGTERM, then SIGKILL);
  nothing else is ever signalled;
- every socket and thread a test opens is closed and joined by the Scope;
- servers and clients run under ASan/UBSan in the test build, so every
  captured stderr is checked for sanitizer reports.

Program paths come from the environment: SECURECHATD and SECURECHAT_CLI
(tests/meson.build sets both), and SECURECHATD_TESTING for the server built
with the test hooks (server/route.c: SC_TEST_ROUTE_DUMP).
"""

import base64
import binascii
import hashlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

sys.dont_write_bytecode = True

SANITIZER_MARKERS = (
    "AddressSanitizer",
    "LeakSanitizer",
    "UndefinedBehaviorSanitizer",
    "runtime error:",
)
FINGERPRINT_RE = re.compile(r"SHA256:[A-Za-z0-9+/]{43}(?![A-Za-z0-9+/=])")
LOG_LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN|INFO|DEBUG) ")

# Generous bounds: the test build runs under ASan on small machines.
PROC_TIMEOUT = 30.0     # one CLI send / admin command
START_TIMEOUT = 20.0    # server start until "listening on"
STOP_TIMEOUT = 15.0     # SIGTERM until exit
WAIT_TIMEOUT = 15.0     # waiting for a line of interactive output

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_AUTH = 4
EXIT_KEY_MISMATCH = 5
EXIT_NOT_DELIVERED = 6
EXIT_TIMEOUT = 7


def program(var):
    path = os.environ.get(var)
    if not path:
        raise RuntimeError(
            "%s is not set; run through `meson test` or export it" % var)
    if not os.access(path, os.X_OK):
        raise RuntimeError("%s=%s is not an executable file" % (var, path))
    return path


def sanitizer_report(text):
    """The first sanitizer marker found in text, or None."""
    for marker in SANITIZER_MARKERS:
        if marker in text:
            return marker
    return None


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decode(data):
    return data.decode("utf-8", errors="replace")


def describe(cmd, rc, out, err):
    return "command: %s\nexit: %s\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(repr(a) if (" " in a or not a) else a for a in cmd),
        rc, out, err)


def fail(msg):
    raise AssertionError(msg)


class Result:
    """The outcome of a finished process."""

    def __init__(self, cmd, rc, out, err):
        self.cmd = cmd
        self.rc = rc
        self.out = out
        self.err = err

    def __repr__(self):
        return describe(self.cmd, self.rc, self.out, self.err)


def _run_checked(scope, cmd, env, stdin_data=None, timeout=PROC_TIMEOUT):
    """Runs cmd to completion within timeout; returns a Result. A process
    that outlives its timeout is stopped by PID and the test fails."""
    proc = scope.spawn(cmd, env=env,
                       stdin=subprocess.PIPE if stdin_data is not None
                       else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(
            input=stdin_data.encode() if stdin_data is not None else None,
            timeout=timeout)
    except subprocess.TimeoutExpired:
        scope.stop_process(proc)
        out, err = proc.communicate()
        fail("timed out after %.0f s\n%s" % (
            timeout, describe(cmd, None, decode(out), decode(err))))
    res = Result(cmd, proc.returncode, decode(out), decode(err))
    marker = sanitizer_report(res.err)
    if marker:
        fail("sanitizer report (%s)\n%r" % (marker, res))
    return res


class Scope:
    """Everything one test started: temp dir, processes, sockets, proxies.
    close() stops and frees all of it."""

    def __init__(self, name):
        base = os.environ.get("TMPDIR", "/tmp")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[-60:]
        self.dir = tempfile.mkdtemp(prefix="sc-integ-%s-" % safe, dir=base)
        self._procs = []      # subprocess.Popen we started
        self._closers = []    # callables, run in reverse order
        self._servers = []
        self._ttys = []       # Interactive / Stream wrappers with logs
        self._lock = threading.Lock()
        self._n = 0

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def new_dir(self, prefix):
        with self._lock:
            self._n += 1
            n = self._n
        d = self.path("%s-%d" % (prefix, n))
        os.mkdir(d, 0o700)
        return d

    def spawn(self, cmd, **kwargs):
        kwargs.setdefault("close_fds", True)
        proc = subprocess.Popen(cmd, **kwargs)
        with self._lock:
            self._procs.append(proc)
        return proc

    def stop_process(self, proc, sig=signal.SIGTERM, grace=5.0):
        """Stops one of our own processes by PID; returns its exit status."""
        if proc.poll() is not None:
            return proc.returncode
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.wait(timeout=grace)

    def on_close(self, fn):
        self._closers.append(fn)

    def socket(self, addr, timeout=5.0):
        s = socket.create_connection(addr, timeout=timeout)
        self.on_close(s.close)
        return s

    def close(self):
        """Returns a list of problems (strings) found while closing."""
        problems = []
        for server in list(self._servers):
            if server.running():
                try:
                    server.stop()
                except AssertionError as e:
                    problems.append(str(e))
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:  # cleanup must go on
                problems.append("cleanup: " + traceback.format_exc())
        for proc in self._procs:
            if proc.poll() is None:
                self.stop_process(proc)
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass
        return problems

    def dump(self):
        """Writes every server log and client transcript to stderr."""
        for server in self._servers:
            for path in server._logs:
                sys.stderr.write("---- server %s log (%s) ----\n%s\n" % (
                    server.name, path, server.read_log(path)))
        for t in self._ttys:
            sys.stderr.write("---- %s ----\n%s\n" % (t.label, t.dump()))

    def remove(self):
        if os.environ.get("SC_INTEG_KEEP"):
            sys.stderr.write("kept %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """A securechatd with its own data dir and port."""

    def __init__(self, scope, users=None, config=None, name="server",
                 data_dir=None, port=None, verbose=False, init=True,
                 bin=None, env=None):
        """bin: another server executable (e.g. SECURECHATD_TESTING);
        env: extra environment variables for `run` (not the admin
        commands)."""
        self.scope = scope
        self.name = name
        self.bin = bin or program("SECURECHATD")
        self.run_env = dict(env or {})
        self.dir = data_dir or os.path.join(scope.new_dir(name), "data")
        self.port = port
        self.fixed_port = port is not None
        self.verbose = verbose
        self.proc = None
        self.log_path = None
        self.config_path = None
        self.fingerprint = None
        self._logs = []
        self.users = dict(users or {})
        scope._servers.append(self)
        if init and not os.path.exists(os.path.join(self.dir, "server.key")):
            self.init()
            for user, password in self.users.items():
                self.useradd(user, password)
        elif os.path.exists(os.path.join(self.dir, "server.key")):
            self.fingerprint = self.read_fingerprint()
        if config is not None:
            self.set_config(config)

    # -- admin commands -------------------------------------------------
    def admin(self, subcmd, *args, stdin=None, timeout=PROC_TIMEOUT):
        cmd = [self.bin, subcmd, "--data-dir", self.dir] + list(args)
        return _run_checked(self.scope, cmd, os.environ.copy(),
                            stdin_data=stdin, timeout=timeout)

    def init(self):
        res = self.admin("init")
        if res.rc != 0:
            fail("securechatd init failed\n%r" % res)
        m = FINGERPRINT_RE.search(res.out)
        if not m:
            fail("securechatd init printed no fingerprint\n%r" % res)
        self.fingerprint = m.group(0)
        return res

    def read_fingerprint(self):
        res = self.admin("fingerprint")
        if res.rc != 0:
            fail("securechatd fingerprint failed\n%r" % res)
        m = FINGERPRINT_RE.search(res.out)
        if not m:
            fail("securechatd fingerprint printed none\n%r" % res)
        return m.group(0)

    def useradd(self, user, password):
        res = self.admin("useradd", user, stdin=password + "\n")
        if res.rc != 0:
            fail("securechatd useradd %s failed\n%r" % (user, res))
        self.users[user] = password
        return res

    def credentials(self):
        with open(os.path.join(self.dir, "credentials.json"), "rb") as f:
            return json.loads(f.read().decode("utf-8"))

    def set_config(self, config):
        self.config_path = os.path.join(os.path.dirname(self.dir),
                                        "%s.conf" % self.name)
        with open(self.config_path, "w") as f:
            f.write("# written by tests/integration/harness.py\n")
            for key, value in config.items():
                f.write("%s = %s\n" % (key, value))

    # -- run ------------------------------------------------------------
    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        attempts = 1 if self.fixed_port else 4
        for attempt in range(attempts):
            if not self.fixed_port:
                self.port = free_port()
            if self._start_once(last=attempt == attempts - 1):
                return self
        fail("unreachable")

    def _start_once(self, last):
        n = len(self._logs)
        self.log_path = os.path.join(os.path.dirname(self.dir),
                                     "%s-stderr-%d.log" % (self.name, n))
        self._logs.append(self.log_path)
        cmd = [self.bin, "run", "--data-dir", self.dir,
               "--listen", self.hostport]
        if self.config_path:
            cmd += ["--config", self.config_path]
        if self.verbose:
            cmd.append("--verbose")
        with open(self.log_path, "wb") as logf:
            env = None
            if self.run_env:
                env = os.environ.copy()
                env.update(self.run_env)
            self.proc = self.scope.spawn(cmd, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf, env=env)
        ready = re.compile(r"listening on %s(?!\d)" % re.escape(self.hostport))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log()
            if ready.search(text):
                return True
            rc = self.proc.poll()
            if rc is not None:
                if not last and "in use" in text:
                    return False   # lost a port race with another test
                fail("securechatd exited with %d before listening\n"
                     "command: %s\nlog:\n%s" % (rc, " ".join(cmd), text))
            time.sleep(0.02)
        self.scope.stop_process(self.proc, signal.SIGKILL)
        fail("securechatd did not log 'listening on %s' within %.0f s\n"
             "log:\n%s" % (self.hostport, START_TIMEOUT, self.log()))

    def stop(self, expect_rc=0, sig=signal.SIGTERM):
        """SIGTERM (or sig) by PID; asserts the exit status and a clean
        log. Returns the log of this run."""
        if self.proc is None:
            fail("server %s was never started" % self.name)
        proc = self.proc
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.scope.stop_process(proc, signal.SIGKILL)
                fail("securechatd did not exit within %.0f s of signal %d\n"
                     "log:\n%s" % (STOP_TIMEOUT, sig, self.log()))
        text = self.log()
        marker = sanitizer_report(text)
        if marker:
            fail("securechatd log has a sanitizer report (%s):\n%s" % (
                marker, text))
        if proc.returncode != expect_rc:
            fail("securechatd exited with %s after signal %d, expected %d\n"
                 "log:\n%s" % (proc.returncode, sig, expect_rc, text))
        return text

    def kill_hard(self):
        """SIGKILL by PID (for tests that restart without a clean stop)."""
        if self.proc is not None:
            self.scope.stop_process(self.proc, signal.SIGKILL)

    @staticmethod
    def read_log(path):
        if not path or not os.path.exists(path):
            return ""
        with open(path, "rb") as f:
            return decode(f.read())

    def log(self):
        """The stderr of the current (or last) run."""
        return self.read_log(self.log_path)

    def mark(self):
        """A position in the current log, for log_since()."""
        return len(self.log())

    def log_since(self, mark):
        return self.log()[mark:]

    def wait_log(self, pattern, timeout=WAIT_TIMEOUT, since=0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[since:]
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() >= deadline:
                fail("server log has no %r after %.0f s:\n%s" % (
                    pattern, timeout, text))
            time.sleep(0.02)


class Stream:
    """Collects a pipe on a thread; lets a test wait for text in it."""

    def __init__(self, f):
        self._f = f
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        try:
            while True:
                chunk = os.read(self._f.fileno(), 65536)
                if not chunk:
                    break
                with self._cond:
                    self._buf += chunk
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def text(self):
        with self._cond:
            return decode(bytes(self._buf))

    def raw(self):
        with self._cond:
            return bytes(self._buf)

    def join(self, timeout):
        self._t.join(timeout)

    def wait(self, rx, timeout, since=0):
        """Waits for rx (compiled) in the text after offset since; returns
        the match or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(decode(bytes(self._buf)), since)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return None
                self._cond.wait(min(left, 0.2))


class ClientProcess:
    """A running securechat-cli (recv or interactive)."""

    def __init__(self, scope, cmd, env, label, stdin_text=None):
        self.scope = scope
        self.cmd = cmd
        self.label = label
        self.proc = scope.spawn(cmd, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.out = Stream(self.proc.stdout)
        self.err = Stream(self.proc.stderr)
        scope._ttys.append(self)
        if stdin_text is not None:
            self.write(stdin_text)

    def write(self, text):
        try:
            self.proc.stdin.write(text.encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            fail("%s: stdin closed while writing %r\n%s" % (
                self.label, text, self.dump()))

    def command(self, line):
        self.write(line + "\n")

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def output(self):
        """stdout and stderr text (separately captured)."""
        return self.out.text() + self.err.text()

    def dump(self):
        rc = self.proc.poll()
        return describe(self.cmd, rc, self.out.text(), self.err.text())

    def offsets(self):
        return (len(self.out.text()), len(self.err.text()))

    def wait_for(self, pattern, timeout=WAIT_TIMEOUT, stream="any",
                 since=(0, 0), flags=0):
        """Waits for pattern on stdout, stderr or either (from the offsets
        in since); fails the test with the captured output when it does not
        come in time or the process exits without it."""
        rx = re.compile(pattern, flags)
        streams = []
        if stream in ("out", "any"):
            streams.append((self.out, since[0]))
        if stream in ("err", "any"):
            streams.append((self.err, since[1]))
        deadline = time.monotonic() + timeout
        while True:
            exited = self.proc.poll() is not None
            if exited:
                # Let the pump threads drain the pipes before the last look.
                self.out.join(2.0)
                self.err.join(2.0)
            for s, off in streams:
                m = rx.search(s.text(), off)
                if m:
                    return m
            if exited:
                fail("%s: exited without printing %r\n%s" % (
                    self.label, pattern, self.dump()))
            if time.monotonic() >= deadline:
                fail("%s: no %r within %.0f s\n%s" % (
                    self.label, pattern, timeout, self.dump()))
            time.sleep(0.02)

    def assert_absent(self, pattern, since=(0, 0), flags=0):
        rx = re.compile(pattern, flags)
        for text, off in ((self.out.text(), since[0]),
                          (self.err.text(), since[1])):
            if rx.search(text, off):
                fail("%s: unexpected %r\n%s" % (self.label, pattern,
                                                self.dump()))

    def wait_exit(self, timeout=WAIT_TIMEOUT):
        """Waits for the process to exit by itself; returns a Result."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.scope.stop_process(self.proc)
            fail("%s did not exit within %.0f s\n%s" % (
                self.label, timeout, self.dump()))
        self.out.join(5.0)
        self.err.join(5.0)
        res = Result(self.cmd, self.proc.returncode, self.out.text(),
                     self.err.text())
        marker = sanitizer_report(res.err)
        if marker:
            fail("%s: sanitizer report (%s)\n%r" % (self.label, marker, res))
        return res

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        """Stops it by PID if still running; returns a Result."""
        self.scope.stop_process(self.proc)
        self.out.join(5.0)
        self.err.join(5.0)
        res = Result(self.cmd, self.proc.returncode, self.out.text(),
                     self.err.text())
        marker = sanitizer_report(res.err)
        if marker:
            fail("%s: sanitizer report (%s)\n%r" % (self.label, marker, res))
        return res


class Cli:
    """securechat-cli for one user against one server address, with its own
    XDG_CONFIG_HOME (so its known_servers file is private to the test) and
    XDG_DATA_HOME (its identity and sessions; data_home=... to give a
    second Cli the same data, or a fresh one to "reinstall")."""

    def __init__(self, scope, server, user, password=None, pin=True,
                 home=None, addr=None, fingerprint=None, data_home=None):
        self.scope = scope
        self.bin = program("SECURECHAT_CLI")
        self.server = server
        self.user = user
        self.password = (password if password is not None
                         else server.users.get(user, "x"))
        self.hostport = addr or server.hostport
        if fingerprint is not None:
            self.fingerprint = fingerprint
        else:
            self.fingerprint = server.fingerprint if pin else None
        self.home = home or scope.new_dir("home")
        self.config_home = os.path.join(self.home, ".config")
        os.makedirs(self.config_home, mode=0o700, exist_ok=True)
        self.data_home = data_home or os.path.join(self.home, ".local",
                                                   "share")
        os.makedirs(self.data_home, mode=0o700, exist_ok=True)
        self.password_file = os.path.join(
            scope.new_dir("pw"), "password")
        fd = os.open(self.password_file,
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.password + "\n")

    @property
    def known_servers(self):
        return os.path.join(self.config_home, "securechat", "known_servers")

    def env(self):
        env = os.environ.copy()
        env["XDG_CONFIG_HOME"] = self.config_home
        env["XDG_DATA_HOME"] = self.data_home
        env["HOME"] = self.home
        env["LC_ALL"] = "C.UTF-8"
        env.pop("LANGUAGE", None)
        return env

    def base_cmd(self, password_file=True):
        cmd = [self.bin, "--server", self.hostport, "--user", self.user]
        if password_file:
            cmd += ["--password-file", self.password_file]
        if self.fingerprint:
            cmd += ["--fingerprint", self.fingerprint]
        return cmd

    def send(self, to, text, timeout=PROC_TIMEOUT):
        cmd = self.base_cmd() + ["send", to, text]
        return _run_checked(self.scope, cmd, self.env(), timeout=timeout)

    def run(self, *args, stdin=None, timeout=PROC_TIMEOUT,
            password_file=True):
        cmd = self.base_cmd(password_file) + list(args)
        return _run_checked(self.scope, cmd, self.env(), stdin_data=stdin,
                            timeout=timeout)

    def verify(self, name, timeout=PROC_TIMEOUT):
        """`verify NAME`: the safety number with NAME on stdout."""
        return self.run("verify", name, timeout=timeout)

    def accept(self, name, timeout=PROC_TIMEOUT):
        """`accept NAME`: trust NAME's new identity key."""
        return self.run("accept", name, timeout=timeout)

    def recv(self, count=1, timeout=30, wait_ready=True):
        cmd = self.base_cmd() + ["recv", "--count", str(count),
                                 "--timeout", str(timeout)]
        p = ClientProcess(self.scope, cmd, self.env(),
                          "recv(%s)" % self.user)
        if wait_ready:
            p.wait_for(r"logged in as %s\b" % re.escape(self.user),
                       timeout=WAIT_TIMEOUT, stream="err")
        return p

    def interactive(self, password=None):
        cmd = self.base_cmd(password_file=False)
        pw = self.password if password is None else password
        return ClientProcess(self.scope, cmd, self.env(),
                             "interactive(%s)" % self.user,
                             stdin_text=pw + "\n")


def wait_online(probe, user, timeout=WAIT_TIMEOUT, text="probe"):
    """Sends from probe (a Cli) to user until the server accepts it, i.e.
    until user is logged in. Returns the number of messages sent."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        res = probe.send(user, "%s %d" % (text, n))
        if res.rc == EXIT_OK:
            return n
        if res.rc != EXIT_NOT_DELIVERED or "not online" not in res.err:
            fail("probe send to %s failed unexpectedly\n%r" % (user, res))
        if time.monotonic() >= deadline:
            fail("%s did not come online within %.0f s" % (user, timeout))
        time.sleep(0.2)


# -- raw sockets ----------------------------------------------------------

def frame(body):
    """One SecureChat frame: 2-byte big-endian length, then body."""
    if not 0 <= len(body) <= 0xFFFF:
        raise ValueError("frame body of %d bytes" % len(body))
    return struct.pack(">H", len(body)) + body


def send_frame(sock, body):
    sock.sendall(frame(body))


def parse_frames(data):
    """Splits a recorded byte stream into frame bodies. Raises ValueError
    for a zero length or a stream that stops inside a frame."""
    bodies = []
    i = 0
    while i < len(data):
        if len(data) - i < 2:
            raise ValueError("stream ends inside a frame header at %d" % i)
        (n,) = struct.unpack(">H", data[i:i + 2])
        if n == 0:
            raise ValueError("zero-length frame at %d" % i)
        if len(data) - i - 2 < n:
            raise ValueError("stream ends inside a %d-byte frame at %d" % (
                n, i))
        bodies.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return bodies


def watch_eof(socks, timeout):
    """Reads (and discards) from every socket until the peer closes it.
    Returns {sock: seconds until EOF (or reset)} for those that closed within
    timeout; the others are missing from the result."""
    start = time.monotonic()
    closed = {}
    sel = selectors.DefaultSelector()
    try:
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        while len(closed) < len(socks):
            left = start + timeout - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except (ConnectionResetError, ConnectionAbortedError,
                        BrokenPipeError):
                    data = b""
                if not data:
                    closed[s] = time.monotonic() - start
                    sel.unregister(s)
    finally:
        sel.close()
    return closed


class RecordingProxy:
    """A loopback TCP proxy that records every byte in both directions.
    connections is a list of {"c2s": bytearray, "s2c": bytearray}."""

    def __init__(self, scope, upstream):
        if upstream[0] != "127.0.0.1":
            raise ValueError("the proxy only forwards to 127.0.0.1")
        self.upstream = upstream
        self.connections = []
        self._lock = threading.Lock()
        self._socks = []
        self._threads = []
        self._closed = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.addr = self.listener.getsockname()
        self.hostport = "127.0.0.1:%d" % self.addr[1]
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        scope.on_close(self.close)

    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            rec = {"c2s": bytearray(), "s2c": bytearray()}
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self.connections.append(rec)
                self._socks += [client, upstream]
                for src, dst, key in ((client, upstream, "c2s"),
                                      (upstream, client, "s2c")):
                    t = threading.Thread(target=self._pump,
                                         args=(src, dst, rec[key]),
                                         daemon=True)
                    t.start()
                    self._threads.append(t)

    def _pump(self, src, dst, buf):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    buf += data
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def recorded(self, direction):
        with self._lock:
            return b"".join(bytes(c[direction]) for c in self.connections)

    def close(self):
        with self._lock:
            self._closed = True
            socks = list(self._socks)
        try:
            self.listener.close()
        except OSError:
            pass
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in list(self._threads):
            t.join(5.0)


# -- test cases -----------------------------------------------------------

class IntegrationTest(unittest.TestCase):
    """Gives each test a Scope (self.scope) that is closed after it, also
    when it fails; logs are dumped to stderr for failed tests."""

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        self.scope = Scope(self.id())
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            problems = self.scope.close()
            if problems:
                msg = "while stopping the test's processes:\n" + \
                    "\n".join(problems)
                result.addFailure(self, (AssertionError,
                                         AssertionError(msg), None))
            if (len(result.failures) + len(result.errors) > before
                    or os.environ.get("SC_INTEG_DUMP")):
                self.scope.dump()
            self.scope.remove()

    # Helpers used by most tests.
    def server(self, users=None, config=None, start=True, **kw):
        s = Server(self.scope, users=users, config=config, **kw)
        if start:
            s.start()
        return s

    def cli(self, server, user, **kw):
        return Cli(self.scope, server, user, **kw)

    def assertOneLine(self, text, msg=None):
        lines = [l for l in text.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, msg or "expected exactly one line, "
                         "got %r" % text)
        return lines[0]


def main():
    unittest.main(verbosity=2)


# -- scriptable protocol peer (sc-rawclient) ------------------------------

RAWCLIENT = os.environ.get("SC_RAWCLIENT")


class RawClient:
    """sc-rawclient: the real handshake, then any plaintext a test wants
    to send; every server message comes back parsed. See sc-rawclient.c
    for its line protocol."""

    def __init__(self, scope, server, hello=None, rcvbuf=None, addr=None,
                 label="raw"):
        if not RAWCLIENT:
            raise RuntimeError("sc-rawclient path not set (SC_RAWCLIENT)")
        cmd = [RAWCLIENT, "--server", addr or server.hostport]
        if hello is not None:
            cmd += ["--hello", hello if isinstance(hello, str)
                    else json.dumps(hello, separators=(",", ":"))]
        if rcvbuf is not None:
            cmd += ["--rcvbuf", str(rcvbuf)]
        self.p = ClientProcess(scope, cmd, os.environ.copy(), label)
        self.label = label
        self._pos = 0           # offset in stdout of the next unread line
        self.key = None
        self.hello = None
        self.closed = None      # reason once CLOSED was seen

    # Lines from the tool.
    def _next_line(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            text = self.p.out.text()
            nl = text.find("\n", self._pos)
            if nl >= 0:
                line = text[self._pos:nl]
                self._pos = nl + 1
                if line.startswith("ERR "):
                    fail("%s: %s\n%s" % (self.label, line, self.p.dump()))
                if line.startswith("CLOSED"):
                    self.closed = line[7:]
                return line
            if not self.p.running() and self.p.out.text().find(
                    "\n", self._pos) < 0:
                self.p.out.join(2.0)
                if self.p.out.text().find("\n", self._pos) < 0:
                    return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def handshake(self, timeout=WAIT_TIMEOUT):
        """Waits for message 2; returns the hello payload (parsed)."""
        line = self._next_line(timeout)
        if line is None or not line.startswith("KEY "):
            fail("%s: no handshake (got %r)\n%s" % (self.label, line,
                                                   self.p.dump()))
        self.key = line[4:]
        line = self._next_line(timeout)
        if line is None or not line.startswith("HELLO "):
            fail("%s: no hello payload (got %r)" % (self.label, line))
        self.hello = json.loads(line[6:])
        return self.hello

    def next(self, timeout=WAIT_TIMEOUT):
        """The next server message (parsed), or None when the connection
        closed (self.closed says why) or nothing came in time."""
        line = self._next_line(timeout)
        if line is None or line.startswith("CLOSED"):
            return None
        if not line.startswith("RECV "):
            fail("%s: unexpected line %r" % (self.label, line))
        text = line[5:]
        try:
            return json.loads(text)
        except ValueError:
            fail("%s: the server sent something that is not JSON: %r" % (
                self.label, text))

    def expect(self, mtype, timeout=WAIT_TIMEOUT, skip=("presence",),
               **fields):
        """The next message that is not of a type in skip; it must be of
        type mtype and have the given field values."""
        while True:
            m = self.next(timeout)
            if m is None:
                fail("%s: expected %s %r, got %s\n%s" % (
                    self.label, mtype, fields,
                    "close (%s)" % self.closed if self.closed is not None
                    else "nothing", self.p.dump()))
            if m.get("type") in skip and mtype not in skip:
                continue
            if m.get("type") != mtype:
                fail("%s: expected %s %r, got %r" % (self.label, mtype,
                                                     fields, m))
            for k, v in fields.items():
                if m.get(k) != v:
                    fail("%s: expected %s=%r in %r" % (self.label, k, v, m))
            return m

    def expect_closed(self, timeout=WAIT_TIMEOUT, allow=("presence",)):
        """Reads until the server closes; returns the messages seen before
        (only types in allow, plus error/bye, are accepted)."""
        seen = []
        while True:
            line = self._next_line(timeout)
            if line is None:
                fail("%s: still open after %.1f s (seen %r)\n%s" % (
                    self.label, timeout, seen, self.p.dump()))
            if line.startswith("CLOSED"):
                return seen
            if not line.startswith("RECV "):
                fail("%s: unexpected line %r" % (self.label, line))
            m = json.loads(line[5:])
            if m.get("type") not in tuple(allow) + ("error", "bye"):
                fail("%s: unexpected %r before the close" % (self.label, m))
            seen.append(m)

    def expect_quiet(self, wait=0.3):
        """Nothing arrives within wait seconds (and the link stays up)."""
        line = self._next_line(wait)
        if line is not None:
            fail("%s: unexpected %r" % (self.label, line))

    # Sending.
    def send(self, obj):
        self.send_text(json.dumps(obj, separators=(",", ":"),
                                  ensure_ascii=False))

    def send_text(self, text):
        if "\n" in text:
            raise ValueError("send_text: one line only; use send_bytes")
        self.p.command("send " + text)

    def send_bytes(self, data):
        self.p.command("sendhex " + data.hex())

    def raw(self, data):
        self.p.command("raw " + data.hex())

    def pause(self):
        self.p.command("pause")

    def resume(self):
        self.p.command("resume")

    def quit(self):
        self.p.command("quit")
        return self.p.wait_exit()

    # Sessions.
    def login(self, user, password, timeout=WAIT_TIMEOUT):
        """Handshake, login, login_ok, the whole presence list and the
        prekey_status that follows it (PROTOCOL.md 5.4, 5.13); returns the
        sorted list of online users."""
        if self.hello is None:
            self.handshake(timeout)
        self.send({"type": "login", "user": user, "password": password})
        self.expect("login_ok", timeout=timeout, user=user)
        users = []
        while True:
            m = self.expect("presence_list", timeout=timeout)
            users += m["users"]
            if not m["more"]:
                break
        self.expect("prekey_status", timeout=timeout)
        return users

    def ping(self, timeout=WAIT_TIMEOUT):
        """Round trip: proves the connection is still open and in sync."""
        self.send({"type": "ping"})
        self.expect("pong", timeout=timeout)


# -- end-to-end encryption (PROTOCOL.md §12) ------------------------------

E2E_VERSION = 1
E2E_PREKEY = 1
E2E_NORMAL = 2
E2E_RESET = 3
E2E_PREKEY_HEADER = 2 + 32 + 32 + 32 + 4 + 4 + 32 + 4 + 4
E2E_NORMAL_HEADER = 2 + 32 + 4 + 4
E2E_TAG = 16
# "12 groups of 5 digits" (§12.7): 60 digits and 11 spaces.
SAFETY_NUMBER_RE = re.compile(r"\d{5}(?: \d{5}){11}")
IDENTITY_CHANGED = "identity key changed"
UNDECRYPTABLE = "could not decrypt a message from"


def testing_server(scope, users=None, **kw):
    """A securechatd-testing (SECURECHATD_TESTING) whose routing code
    appends "TO BODY" for every send it receives to server.route_dump."""
    path = os.path.join(scope.new_dir("route"), "dump")
    env = dict(kw.pop("env", None) or {})
    env["SC_TEST_ROUTE_DUMP"] = path
    srv = Server(scope, users=users, bin=program("SECURECHATD_TESTING"),
                 env=env, **kw)
    srv.route_dump = path
    return srv


def read_route_dump(path):
    """The route dump as a list of (to, body) strings, in order; an absent
    file is an empty list."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        fail("route dump %s does not end in a newline: %r" % (
            path, data[-80:]))
    out = []
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        parts = line.split(b" ")
        if len(parts) != 2:
            fail("route dump line %d is not 'TO BODY': %r" % (n, line[:200]))
        try:
            out.append((parts[0].decode("ascii"), parts[1].decode("ascii")))
        except UnicodeDecodeError:
            fail("route dump line %d is not ASCII: %r" % (n, line[:200]))
    return out


def b64decode_strict(text):
    """Canonical padded base64 (PROTOCOL.md §5.1) or ValueError."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("not base64 (%s): %r" % (e, text[:80]))
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64: %r" % text[:80])
    return data


def parse_e2e_message(data):
    """Splits one end-to-end message (§12.5) into its fields; raises
    ValueError when its layout is not one of the three kinds."""
    if len(data) < 2:
        raise ValueError("%d bytes: no version and kind" % len(data))
    msg = {"version": data[0], "kind": data[1], "size": len(data)}
    if data[0] != E2E_VERSION:
        raise ValueError("version byte %d, expected %d" % (data[0],
                                                           E2E_VERSION))
    kind = data[1]
    if kind == E2E_RESET:
        if len(data) != 2:
            raise ValueError("RESET request of %d bytes" % len(data))
        return msg
    if kind == E2E_PREKEY:
        header = E2E_PREKEY_HEADER
        msg["ik_dh"] = data[2:34]
        msg["ik_sig"] = data[34:66]
        msg["ek"] = data[66:98]
        msg["spk_id"], msg["opk_id"] = struct.unpack(">II", data[98:106])
        at = 106
    elif kind == E2E_NORMAL:
        header = E2E_NORMAL_HEADER
        at = 2
    else:
        raise ValueError("unknown kind %d" % kind)
    rest = len(data) - header - E2E_TAG
    if rest < 16 or rest % 16 != 0:
        raise ValueError("kind %d: %d bytes of ciphertext, not a positive "
                         "multiple of 16" % (kind, rest))
    msg["dh"] = data[at:at + 32]
    msg["pn"], msg["n"] = struct.unpack(">II", data[at + 32:at + 40])
    msg["ciphertext"] = data[header:len(data) - E2E_TAG]
    msg["tag"] = data[len(data) - E2E_TAG:]
    return msg


def route_dump_messages(path):
    """read_route_dump() with every body decoded and parsed:
    a list of (to, fields) as parse_e2e_message() returns them."""
    out = []
    for n, (to, body) in enumerate(read_route_dump(path), 1):
        try:
            out.append((to, parse_e2e_message(b64decode_strict(body))))
        except ValueError as e:
            problem = "route dump line %d (to %s): %s" % (n, to, e)
        else:
            continue
        fail(problem)
    return out


def safety_digits(ik_dh, ik_sig, user):
    """One user's 30 digits of a safety number (§12.7)."""
    key = b"\x05" + ik_dh + ik_sig
    h = struct.pack(">H", 0) + key + user.encode("utf-8")
    for _ in range(5200):
        h = hashlib.sha512(h + key).digest()
    return "".join("%05d" % (int.from_bytes(h[5 * i:5 * i + 5], "big")
                             % 100000) for i in range(6))


def safety_number(a, b):
    """The safety number of users a and b, each (ik_dh, ik_sig, name), as
    `verify` prints it: 12 groups of 5 digits."""
    da, db = safety_digits(*a), safety_digits(*b)
    digits = min(da, db) + max(da, db)
    return " ".join(digits[i:i + 5] for i in range(0, 60, 5))


def text_needles(text):
    """text as UTF-8, UTF-16 and base64 at every alignment (the middle part
    of the encoding that does not depend on what precedes or follows)."""
    raw = text.encode("utf-8")
    out = {raw, text.encode("utf-16-le"), text.encode("utf-16-be"),
           base64.b64encode(raw)}
    for shift in range(3):
        enc = base64.b64encode(raw[shift:]).rstrip(b"=")
        if len(enc) > 8:
            out.add(enc[:-4])
    return out


def find_needles(data, needles):
    """The first (needle, offset) of needles found in data, or None."""
    for needle in needles:
        at = data.find(needle)
        if at >= 0:
            return needle, at
    return None


def check_ratchet_headers(sent, msgs, initiator):
    """sent: (sender, recipient, text) per routed message, msgs: the route
    dump's parsed messages in the same order, for one conversation between
    two users in which initiator sent the first message, and in which a
    message is sent only after the previous one arrived. Checks, per sender
    (§12.4, Double Ratchet §3.4): the first message is N=0 PN=0; the same
    ratchet key means N+1 and the same PN; a new key means N=0 and PN = the
    length of the previous sending chain, and is never a key used before.
    The initiator sends PREKEY messages with the same identity and X3DH
    fields until it has received a reply, then only NORMAL ones; the
    responder sends only NORMAL ones. So a session that was lost and
    restarted (a second X3DH) fails here too."""
    if len(sent) != len(msgs):
        fail("%d messages sent, %d routed" % (len(sent), len(msgs)))
    last = {}
    keys = {}
    replied = set()
    x3dh = None
    for i, ((frm, to, text), (dest, m)) in enumerate(zip(sent, msgs)):
        what = "message %d %s -> %s %r: %r" % (i, frm, to, text, {
            k: v for k, v in m.items() if k in ("kind", "pn", "n",
                                                "spk_id", "opk_id")})
        if dest != to:
            fail("%s: routed to %s" % (what, dest))
        if frm == initiator and frm not in replied:
            if m["kind"] != E2E_PREKEY:
                fail("%s: expected a PREKEY message" % what)
            fields = (m["ik_dh"], m["ik_sig"], m["ek"], m["spk_id"],
                      m["opk_id"])
            if x3dh is None:
                x3dh = fields
                if m["spk_id"] == 0:
                    fail("%s: signed prekey id 0" % what)
            if fields != x3dh:
                fail("%s: identity or X3DH fields differ from the first "
                     "PREKEY message" % what)
        elif m["kind"] != E2E_NORMAL:
            fail("%s: expected a NORMAL message" % what)
        prev = last.get(frm)
        if prev is None:
            expect = (0, 0)
        elif m["dh"] == prev["dh"]:
            expect = (prev["pn"], prev["n"] + 1)
        else:
            expect = (prev["n"] + 1, 0)
            if m["dh"] in keys.get(frm, ()):
                fail("%s: ratchet key used before" % what)
        if (m["pn"], m["n"]) != expect:
            fail("%s: expected PN=%d N=%d" % ((what,) + expect))
        keys.setdefault(frm, set()).add(m["dh"])
        last[frm] = m
        replied.add(to)
    if x3dh is None:
        fail("%s never sent a PREKEY message" % initiator)


class Chat:
    """An interactive securechat-cli: /msg out, "[HH:MM] NAME: TEXT" in."""

    def __init__(self, cli, ready=True):
        self.cli = cli
        self.user = cli.user
        self.p = cli.interactive()
        if ready:
            self.p.wait_for(r"(?m)^Online: ", stream="out")

    def say(self, to, text):
        self.p.command("/msg %s %s" % (to, text))

    def expect(self, sender, text, timeout=WAIT_TIMEOUT, since=(0, 0)):
        return self.p.wait_for(
            r"(?m)^\[\d\d:\d\d\] %s: %s$" % (re.escape(sender),
                                             re.escape(text)),
            timeout=timeout, stream="out", since=since)

    def mark(self):
        return self.p.offsets()

    def quit(self):
        self.p.command("/quit")
        res = self.p.wait_exit()
        if res.rc != EXIT_OK:
            fail("%s: /quit ended with %s\n%r" % (self.p.label, res.rc, res))
        return res
