# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs sc-bench for about two seconds against a real server and checks
that it logged in, relayed messages and printed figures above zero."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import harness  # noqa: E402

BENCH = None
PASSWORD = "bench-smoke-password"


def figure(out, name):
    m = re.search(r"^%s\s+([0-9.]+)\s*$" % re.escape(name), out, re.M)
    if not m:
        raise AssertionError("sc-bench printed no %r:\n%s" % (name, out))
    return float(m.group(1))


class BenchSmokeTest(harness.IntegrationTest):
    def test_bench_runs(self):
        users = {"smoke%d" % i: PASSWORD for i in range(4)}
        # The senders keep their windows full: far over the per-user
        # message limit, which is not what this measures.
        srv = self.server(users, config={"message_rate": 1000000,
                                         "message_burst": 1000000})
        pw = self.scope.path("password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        cmd = [BENCH, "--server", srv.hostport,
               "--fingerprint", srv.fingerprint,
               "--user-prefix", "smoke", "--password-file", pw,
               "--users", "4", "--logins", "20", "--concurrency", "4",
               "--pairs", "2", "--window", "8", "--duration", "2"]
        res = harness._run_checked(self.scope, cmd, os.environ.copy(),
                                   timeout=60)
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(figure(res.out, "logins"), 20, res.out)
        self.assertEqual(figure(res.out, "logins failed"), 0, res.out)
        self.assertGreater(figure(res.out, "logins/s"), 0, res.out)
        self.assertGreater(figure(res.out, "messages"), 0, res.out)
        self.assertEqual(figure(res.out, "messages"),
                         figure(res.out, "delivered"), res.out)
        self.assertGreater(figure(res.out, "msgs/s"), 0, res.out)
        p50 = figure(res.out, "latency p50 ms")
        p99 = figure(res.out, "latency p99 ms")
        self.assertGreater(p50, 0, res.out)
        self.assertGreaterEqual(p99, p50, res.out)
        self.assertNotIn(PASSWORD, srv.stop())

    def test_bad_fingerprint_refused(self):
        srv = self.server({"smoke0": PASSWORD})
        other = harness.Server(self.scope, name="other")
        cmd = [BENCH, "--server", srv.hostport,
               "--fingerprint", other.fingerprint,
               "--user-prefix", "smoke", "--password", PASSWORD,
               "--users", "1", "--logins", "1", "--concurrency", "1",
               "--pairs", "0"]
        res = harness._run_checked(self.scope, cmd, os.environ.copy(),
                                   timeout=30)
        self.assertEqual(res.rc, 1, res)
        self.assertIn("does not match", res.err)
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench_smoke.py SC_BENCH [unittest args]")
    BENCH = sys.argv.pop(1)
    harness.main()
