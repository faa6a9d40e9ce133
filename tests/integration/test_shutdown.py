# SPDX-License-Identifier: GPL-3.0-or-later
"""SIGTERM with clients connected: the server says goodbye and exits 0;
interactive clients report the shutdown, try to reconnect, and get back
in once a server listens again."""

import re
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

TS = r"\[\d\d:\d\d\] "
SHUTDOWN = r"(?i)shut(ting)?[ _-]?down"
RECONNECT = r"(?i)(?<!not )reconnecting"


class ShutdownTest(harness.IntegrationTest):
    def test_sigterm_with_clients(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob",
                           "carol": "pw-carol", "probe": "pw-probe"})
        probe = self.cli(srv, "probe")
        alice = self.cli(srv, "alice").interactive()
        harness.wait_online(probe, "alice")
        bob = self.cli(srv, "bob").interactive()
        harness.wait_online(probe, "bob")
        # A recv in progress sees the shutdown too, and ends.
        carol_rx = self.cli(srv, "carol").recv(count=5, timeout=60)

        marks = [alice.offsets(), bob.offsets()]
        log = srv.stop()    # SIGTERM; asserts exit 0 and a clean log
        self.assertNotIn("pw-", log)

        for client, mark in zip((alice, bob), marks):
            client.wait_for(SHUTDOWN, since=mark)
            client.wait_for(RECONNECT, since=mark)

        res = carol_rx.wait_exit()
        self.assertNotEqual(res.rc, harness.EXIT_OK, res)
        self.assertRegex(res.err, re.compile(SHUTDOWN))

        # Same data dir, same port: the clients come back by themselves.
        srv2 = harness.Server(self.scope, users=srv.users, data_dir=srv.dir,
                              name="again", port=srv.port, init=False)
        self.assertEqual(srv2.fingerprint, srv.fingerprint)
        srv2.start()
        probe2 = self.cli(srv2, "probe")
        harness.wait_online(probe2, "alice", timeout=40)
        harness.wait_online(probe2, "bob", timeout=40)
        mark = bob.offsets()
        alice.command("/msg bob welcome back")
        bob.wait_for(TS + "alice: welcome back", since=mark)

        alice.command("/quit")
        bob.command("/quit")
        self.assertEqual(alice.wait_exit().rc, harness.EXIT_OK)
        self.assertEqual(bob.wait_exit().rc, harness.EXIT_OK)
        srv2.stop()


if __name__ == "__main__":
    harness.main()
