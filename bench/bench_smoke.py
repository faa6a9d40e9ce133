# SPDX-License-Identifier: GPL-3.0-or-later
"""securechat-bench against a real securechatd and against sc-relay, for
about two seconds each: the output parses, messages were delivered, and
nothing broke. Correctness only; speed has no pass/fail here."""

import csv
import io
import os
import re
import selectors
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import harness  # noqa: E402

BENCH = None
RELAY = None
PASSWORD = "bench-smoke-password"
RUN_TIMEOUT = 60


def parse(out):
    """The CSV header and row after the table, as a dict."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("mode,proto,") and i + 1 < len(lines):
            rows = list(csv.DictReader(io.StringIO(
                line + "\n" + lines[i + 1] + "\n")))
            if len(rows) == 1:
                return rows[0]
    raise AssertionError("securechat-bench printed no CSV:\n%s" % out)


def table(out, name):
    m = re.search(r"^%s\s+([0-9.]+)\s*$" % re.escape(name), out, re.M)
    if not m:
        raise AssertionError("securechat-bench printed no %r:\n%s" % (
            name, out))
    return float(m.group(1))


class Relay:
    """sc-relay on a free port, stopped by its PID."""

    def __init__(self, scope):
        self.scope = scope
        self.err_path = scope.path("sc-relay.err")
        self.err = open(self.err_path, "wb")
        self.proc = scope.spawn([RELAY, "--listen", "127.0.0.1:0"],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=self.err)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + harness.START_TIMEOUT
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                sel.close()
                harness.fail("sc-relay printed no address in time")
            chunk = os.read(self.proc.stdout.fileno(), 256)
            if not chunk:
                sel.close()
                harness.fail("sc-relay exited before listening")
            line += chunk
        sel.close()
        m = re.match(rb"listening on 127\.0\.0\.1:(\d+)\n", line)
        if not m:
            harness.fail("sc-relay printed %r" % line)
        self.hostport = "127.0.0.1:%d" % int(m.group(1))

    def stop(self):
        rc = self.scope.stop_process(self.proc, signal.SIGTERM)
        self.err.close()
        with open(self.err_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        marker = harness.sanitizer_report(text)
        if marker:
            harness.fail("sc-relay: sanitizer report (%s):\n%s" % (
                marker, text))
        self.proc.stdout.close()
        return rc


def sizes(text_len):
    """securechat-bench --sizes: (end-to-end message, base64 body)."""
    res = subprocess.run([BENCH, "--sizes", "--text", str(text_len)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=RUN_TIMEOUT, check=False)
    m = re.match(rb"text (\d+) bytes: end-to-end message (\d+) bytes, "
                 rb"body (\d+) bytes \(base64\)\n$", res.stdout)
    if res.returncode != 0 or not m or int(m.group(1)) != text_len:
        harness.fail("securechat-bench --sizes printed %r" % res.stdout)
    return int(m.group(2)), int(m.group(3))


class BenchSmokeTest(harness.IntegrationTest):
    def run_bench(self, args):
        res = harness._run_checked(self.scope, [BENCH] + args,
                                   os.environ.copy(), timeout=RUN_TIMEOUT)
        marker = harness.sanitizer_report(res.err)
        self.assertIsNone(marker, res)
        return res

    def check_relay(self, res, pairs):
        self.assertEqual(res.rc, 0, res)
        row = parse(res.out)
        self.assertEqual(row["mode"], "relay", res.out)
        self.assertEqual(int(row["pairs"]), pairs, res.out)
        self.assertEqual(row["ok"], "1", res.out)
        self.assertEqual(int(row["errors"]), 0, res.out)
        self.assertGreater(int(row["delivered"]), 0, res.out)
        self.assertGreater(float(row["msgs_per_s"]), 0, res.out)
        p50 = float(row["lat_p50_ms"])
        p99 = float(row["lat_p99_ms"])
        self.assertGreater(p50, 0, res.out)
        self.assertGreaterEqual(p99, p50, res.out)
        self.assertGreaterEqual(float(row["lat_p999_ms"]), p99, res.out)
        # The server's own figures, read from /proc by PID.
        self.assertNotEqual(row["server_cpu_s"], "", res.out)
        self.assertNotEqual(row["cpu_us_per_msg"], "", res.out)
        self.assertGreater(int(row["server_rss_kib"]), 0, res.out)
        self.assertGreaterEqual(int(row["server_peak_rss_kib"]),
                                int(row["server_rss_kib"]), res.out)
        # A 100-byte text is a 170-byte end-to-end message, 228 in base64.
        self.assertEqual(int(row["payload"]), 228, res.out)
        self.assertEqual(table(res.out, "delivered"), int(row["delivered"]))
        return row

    def test_securechatd(self):
        users = {"b%d" % i: PASSWORD for i in range(4)}
        # A benchmark sends as fast as it can: lift the per-user rate.
        srv = self.server(users, config={"message_rate": 1000000,
                                         "message_burst": 1000000})
        pw = self.scope.path("password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        common = ["--proto", "securechat", "--server", srv.hostport,
                  "--fingerprint", srv.fingerprint, "--password-file", pw,
                  "--server-pid", str(srv.proc.pid)]
        res = self.run_bench(common + ["--pairs", "2", "--window", "8",
                                       "--warmup", "0.5", "--duration", "2"])
        self.check_relay(res, 2)

        res = self.run_bench(common + ["--mode", "idle", "--conns", "4",
                                       "--warmup", "0.2", "--duration", "0.5"])
        self.assertEqual(res.rc, 0, res)
        row = parse(res.out)
        self.assertEqual(row["mode"], "idle", res.out)
        self.assertEqual(int(row["conns"]), 4, res.out)
        self.assertNotEqual(row["kib_per_conn"], "", res.out)

        # A wrong pin stops at the handshake, before any password leaves.
        other = harness.Server(self.scope, name="other")
        res = self.run_bench(
            ["--proto", "securechat", "--server", srv.hostport,
             "--fingerprint", other.fingerprint, "--password-file", pw,
             "--pairs", "1", "--duration", "1", "--setup-timeout", "10"])
        self.assertEqual(res.rc, 1, res)
        self.assertIn("not the pinned one", res.err)
        self.assertNotIn(PASSWORD, srv.stop())

    def test_payload_is_a_real_e2e_message(self):
        """The payload size the generator models is what the real client
        sends: NORMAL messages of several text lengths, around a padding
        boundary, seen by the server's routing code."""
        users = {"alice": PASSWORD, "bob": PASSWORD + "-b"}
        srv = harness.testing_server(self.scope, users)
        srv.start()
        alice = self.cli(srv, "alice")
        bob = self.cli(srv, "bob")
        # alice's messages are PREKEY ones until she has read a reply.
        rx = bob.recv(count=1, timeout=60)
        self.assertEqual(alice.send("bob", "hello").rc, harness.EXIT_OK)
        self.assertEqual(rx.wait_exit(timeout=60).rc, harness.EXIT_OK)
        rx = alice.recv(count=1, timeout=60)
        self.assertEqual(bob.send("alice", "hi").rc, harness.EXIT_OK)
        self.assertEqual(rx.wait_exit(timeout=60).rc, harness.EXIT_OK)
        texts = [c * n for c, n in (("a", 14), ("b", 15), ("c", 16),
                                    ("d", 100), ("e", 200))]
        rx = bob.recv(count=len(texts), timeout=60)
        for text in texts:
            self.assertEqual(alice.send("bob", text).rc, harness.EXIT_OK)
        got = rx.wait_exit(timeout=60)
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        srv.stop()
        dump = harness.read_route_dump(srv.route_dump)
        msgs = harness.route_dump_messages(srv.route_dump)
        self.assertEqual(len(dump), 2 + len(texts), dump)
        for text, (_, body), (_, m) in zip(texts, dump[2:], msgs[2:]):
            self.assertEqual(m["kind"], harness.E2E_NORMAL, m)
            binary, b64 = sizes(len(text))
            self.assertEqual(len(harness.b64decode_strict(body)), binary,
                             "text of %d bytes" % len(text))
            self.assertEqual(len(body), b64, "text of %d bytes" % len(text))

    def test_sc_relay(self):
        relay = Relay(self.scope)
        try:
            common = ["--proto", "line", "--server", relay.hostport,
                      "--server-pid", str(relay.proc.pid)]
            res = self.run_bench(common + ["--pairs", "2", "--window", "8",
                                           "--warmup", "0.5",
                                           "--duration", "2"])
            self.check_relay(res, 2)

            res = self.run_bench(common + ["--mode", "connect",
                                           "--concurrency", "2",
                                           "--warmup", "0.2",
                                           "--duration", "1"])
            self.assertEqual(res.rc, 0, res)
            row = parse(res.out)
            self.assertEqual(row["mode"], "connect", res.out)
            self.assertGreater(int(row["ops"]), 0, res.out)
            self.assertEqual(int(row["errors"]), 0, res.out)
        finally:
            rc = relay.stop()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: bench_smoke.py SECURECHAT_BENCH SC_RELAY "
                 "[unittest args]")
    BENCH = sys.argv.pop(1)
    RELAY = sys.argv.pop(1)
    harness.main()
