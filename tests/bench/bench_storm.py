# SPDX-License-Identifier: GPL-3.0-or-later
"""A small login storm through sc-bench --storm while pairs chat, against a
server with a tiny hashing pool: every storm login must end in ok,
auth_failed, rate_limited or server_busy (the last two with a
retry_after), the hashing queue never holds more than its bound, and
every message relayed during the storm is delivered. Correctness only:
the timed figures are printed, never asserted (docs/reliability-load.md
has them)."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import harness  # noqa: E402

BENCH = None
PASSWORD = "bench-storm-password"
PAIRS = 4
STORM = 60
STORM_USERS = 20
WORKERS = 1
QUEUE = 2


def figure(out, name):
    m = re.search(r"^%s\s+([0-9.]+)\s*$" % re.escape(name), out, re.M)
    if not m:
        raise AssertionError("sc-bench printed no %r:\n%s" % (name, out))
    return float(m.group(1))


class BenchStormTest(harness.IntegrationTest):
    def test_storm_outcomes(self):
        n_users = PAIRS * 2 + 1 + STORM_USERS
        names = ["storm%d" % i for i in range(n_users)]
        srv = self.server({names[0]: PASSWORD},
                          config={"hash_workers": WORKERS,
                                  "hash_queue_max": QUEUE},
                          start=False)
        # One hash for every account: useradd per user would hash each.
        digest = srv.credentials()[names[0]]
        path = os.path.join(srv.dir, "credentials.json")
        with open(path + ".new", "w") as f:
            json.dump({n: digest for n in names}, f)
        os.replace(path + ".new", path)
        srv.start()

        pw = self.scope.path("password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        cmd = [BENCH, "--server", srv.hostport,
               "--fingerprint", srv.fingerprint,
               "--user-prefix", "storm", "--password-file", pw,
               "--users", str(n_users), "--logins", "0",
               "--pairs", str(PAIRS), "--rate", "20", "--window", "16",
               "--duration", "1", "--storm", str(STORM),
               "--storm-wrong", "30", "--storm-sources", "4",
               "--server-pid", str(srv.proc.pid)]
        res = harness._run_checked(self.scope, cmd, os.environ.copy(),
                                   timeout=150)
        self.assertEqual(res.rc, 0, res)
        out = res.out
        outcomes = {o: figure(out, "storm " + o)
                    for o in ("ok", "auth_failed", "rate_limited",
                              "server_busy", "server_full", "refused",
                              "other")}
        self.assertEqual(outcomes["other"], 0, out)
        self.assertEqual(outcomes["refused"], 0, out)
        self.assertEqual(outcomes["server_full"], 0, out)
        self.assertEqual(figure(out, "storm without retry"), 0, out)
        self.assertEqual(sum(outcomes[o] for o in ("ok", "auth_failed",
                                                   "rate_limited",
                                                   "server_busy")),
                         STORM, out)
        # 60 logins at once against room for 3: the queue said no.
        self.assertGreater(outcomes["server_busy"], 0, out)
        # Relaying went on during the storm, and lost nothing.
        self.assertGreater(figure(out, "load messages"), 0, out)
        self.assertEqual(figure(out, "messages"), figure(out, "delivered"),
                         out)
        self.assertEqual(figure(out, "send errors"), 0, out)
        self.assertEqual(figure(out, "broken sessions"), 0, out)
        self.assertEqual(figure(out, "probe other"), 0, out)

        log = srv.stop()
        self.assertNotIn(PASSWORD, log)
        busy = [int(q) for q in re.findall(
            r"login refused reason=server-busy queue=(\d+)", log)]
        self.assertGreater(len(busy), 0, log)
        self.assertLessEqual(max(busy), WORKERS + QUEUE, busy)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench_storm.py SC_BENCH [unittest args]")
    BENCH = sys.argv.pop(1)
    harness.main()
