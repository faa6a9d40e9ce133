# SPDX-License-Identifier: GPL-3.0-or-later
"""The same user logs in twice: the older session is told it was replaced
and does not come back; the newer one works; others see no presence
change."""

import re
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

TS = r"\[\d\d:\d\d\] "
REPLACED = re.compile(r"replaced|another place|elsewhere", re.I)
# "reconnecting", but not "not reconnecting"
RECONNECTING = r"(?<!not )reconnecting"


class ReplacedTest(harness.IntegrationTest):
    def test_second_login_replaces_first(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob",
                           "probe": "pw-probe"})
        probe = self.cli(srv, "probe")

        bob = self.cli(srv, "bob").interactive()
        harness.wait_online(probe, "bob")
        first = self.cli(srv, "alice").interactive()
        bob.wait_for(r"\* alice is online")

        mark_b = bob.offsets()
        second = self.cli(srv, "alice").interactive()
        first.wait_for(REPLACED.pattern, flags=re.I)
        # The new session publishes its keys before it says who is online:
        # only then can bob's client fetch its bundle.
        second.wait_for(r"Online:")

        # The newer session gets alice's messages, the older one none.
        mark1 = first.offsets()
        mark2 = second.offsets()
        bob.command("/msg alice for the new session")
        second.wait_for(TS + "bob: for the new session", since=mark2)
        time.sleep(0.3)   # would anything reach the old one too?
        first.assert_absent("for the new session", since=mark1)
        first.assert_absent(RECONNECTING, flags=re.I)

        second.command("/msg bob hello from the new session")
        bob.wait_for(TS + "alice: hello from the new session", since=mark_b)
        # A replacement is not a logout: bob saw alice go nowhere.
        bob.assert_absent(r"\* alice went offline", since=mark_b)
        bob.assert_absent(r"\* alice is online", since=mark_b)

        second.command("/quit")
        self.assertEqual(second.wait_exit().rc, harness.EXIT_OK)
        bob.wait_for(r"\* alice went offline", since=mark_b)
        bob.command("/quit")
        self.assertEqual(bob.wait_exit().rc, harness.EXIT_OK)

        # The replaced session does not reconnect by itself.
        if first.running():
            first.close_stdin()
        res = first.wait_exit(timeout=10)
        self.assertNotRegex(res.out + res.err,
                            re.compile(RECONNECTING, re.I))
        srv.stop()


if __name__ == "__main__":
    harness.main()
