# SPDX-License-Identifier: GPL-3.0-or-later
"""Interactive sessions over pipes: presence events, /who, /msg, /quit."""

import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

TS = r"\[\d\d:\d\d\] "


class PresenceTest(harness.IntegrationTest):
    def test_presence_and_chat(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob",
                           "probe": "pw-probe"})
        probe = self.cli(srv, "probe")
        alice = self.cli(srv, "alice").interactive()
        n = harness.wait_online(probe, "alice")
        alice.wait_for(TS + r"probe: probe %d" % n)

        mark = alice.offsets()
        bob = self.cli(srv, "bob").interactive()
        alice.wait_for(r"\* bob is online", since=mark)
        # bob is logged in now; probe's own comings and goings are events
        # too, but nobody else's.

        mark_b = bob.offsets()
        bob.command("/who")
        bob.wait_for(r"\balice\b", since=mark_b)

        mark = alice.offsets()
        bob.command("/msg alice hi there, alice")
        alice.wait_for(TS + r"bob: hi there, alice", since=mark)

        mark_b = bob.offsets()
        alice.command("/msg bob caf\u00e9 \u2615")
        bob.wait_for(TS + "alice: caf\u00e9 \u2615", since=mark_b)

        mark = alice.offsets()
        alice.command("/msg nobody hello")
        alice.wait_for(r"no such user", since=mark)
        mark = alice.offsets()
        alice.command("/msg alice me")
        alice.wait_for(r"You cannot message yourself", since=mark)

        mark = alice.offsets()
        bob.command("/quit")
        res = bob.wait_exit()
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        alice.wait_for(r"\* bob went offline", since=mark)

        mark = alice.offsets()
        alice.command("/msg bob still there?")
        alice.wait_for(r"Recipient not online", since=mark)

        mark = alice.offsets()
        alice.command("/who")
        alice.wait_for(r"\balice\b", since=mark)

        alice.command("/quit")
        res = alice.wait_exit()
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        # The password went in on stdin; it must not be echoed back.
        self.assertNotIn("pw-alice", res.out + res.err)

        log = srv.stop()
        self.assertNotIn("hi there", log)


if __name__ == "__main__":
    harness.main()
