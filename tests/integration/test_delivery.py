# SPDX-License-Identifier: GPL-3.0-or-later
"""Messages arrive with the sender's name as set by the server; non-ASCII
text survives; newlines and terminal control characters in a message are
escaped, never printed raw."""

import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

UNICODE = "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \U0001F600"


class DeliveryTest(harness.IntegrationTest):
    def test_delivery(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob",
                           "carol": "pw-carol"})
        alice = self.cli(srv, "alice")
        carol = self.cli(srv, "carol")
        bob = self.cli(srv, "bob")
        rx = bob.recv(count=5, timeout=60)

        sends = [
            (alice, "hello"),
            (carol, "hi from carol"),
            (alice, UNICODE),
            (alice, "line one\nline two"),
            (alice, "bell\x07 esc\x1b[2J\x1b]0;pwned\x07 cr\rdone"),
        ]
        for cli, text in sends:
            res = cli.send("bob", text)
            self.assertEqual(res.rc, harness.EXIT_OK, res)

        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        raw = rx.out.raw()
        lines = raw.decode("utf-8").split("\n")
        self.assertEqual(lines[-1], "", "output does not end in a newline")
        lines = lines[:-1]
        self.assertEqual(len(lines), 5,
                         "one line per message expected (a newline in a "
                         "message must be escaped): %r" % lines)
        self.assertEqual(lines[0], "alice: hello")
        self.assertEqual(lines[1], "carol: hi from carol")
        self.assertEqual(lines[2], "alice: " + UNICODE)
        self.assertTrue(lines[3].startswith("alice: line one"), lines[3])
        self.assertIn("line two", lines[3])
        self.assertNotEqual(lines[3], "alice: line oneline two",
                            "the newline was dropped, not escaped")
        self.assertTrue(lines[4].startswith("alice: bell"), lines[4])
        self.assertTrue(lines[4].endswith("done"), lines[4])
        for ctl in (b"\x07", b"\x1b", b"\r"):
            self.assertNotIn(ctl, raw,
                             "control character %r printed raw" % ctl)

        # The sender's name comes from the server: a user cannot pose as
        # another by choosing its --user on a different account's password.
        spoof = self.cli(srv, "alice", password="pw-carol")
        res = spoof.send("bob", "spoofed")
        self.assertEqual(res.rc, harness.EXIT_AUTH, res)

        srv.stop()

    def test_large_message(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"})
        bob = self.cli(srv, "bob")
        rx = bob.recv(count=1, timeout=30)
        text = ("0123456789abcdef" * 1024)[:16000]
        res = self.cli(srv, "alice").send("bob", text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "alice: %s\n" % text)
        srv.stop()


if __name__ == "__main__":
    harness.main()
