# SPDX-License-Identifier: GPL-3.0-or-later
"""An idle interactive client keeps its session with pings (a third of
the server's idle_timeout), while a silent raw connection is dropped."""

import re
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

IDLE = 3


class KeepaliveTest(harness.IntegrationTest):
    def test_idle_interactive_client_stays(self):
        srv = self.server({"alice": "pw-alice", "probe": "pw-probe"},
                          config={"idle_timeout": IDLE})
        probe = self.cli(srv, "probe")
        alice = self.cli(srv, "alice").interactive()
        harness.wait_online(probe, "alice")
        mark = srv.mark()
        time.sleep(2 * IDLE + 0.5)
        self.assertNotRegex(srv.log_since(mark),
                            re.compile(r"user=alice \S*.*idle", re.I),
                            "the idle client was dropped")
        alice.assert_absent(r"(?i)(?<!not )reconnecting")
        res = probe.send("alice", "still there?")
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        alice.wait_for(r"\[\d\d:\d\d\] probe: still there\?")
        alice.command("/quit")
        self.assertEqual(alice.wait_exit().rc, harness.EXIT_OK)
        srv.stop()


if __name__ == "__main__":
    harness.main()
