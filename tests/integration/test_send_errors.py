# SPDX-License-Identifier: GPL-3.0-or-later
"""`send` failures: offline recipient, unknown user, oneself."""

import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402


class SendErrorsTest(harness.IntegrationTest):
    def test_send_errors(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"})
        alice = self.cli(srv, "alice")

        res = alice.send("bob", "are you there?")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        self.assertIn("Recipient not online", self.assertOneLine(res.err))
        self.assertEqual(res.out, "")

        res = alice.send("nobody", "hello?")
        self.assertNotEqual(res.rc, harness.EXIT_OK, res)
        self.assertNotIn(res.rc, (harness.EXIT_AUTH, harness.EXIT_CONNECT,
                                  harness.EXIT_KEY_MISMATCH), res)
        self.assertIn("no such user", self.assertOneLine(res.err))

        res = alice.send("alice", "note to self")
        self.assertNotEqual(res.rc, harness.EXIT_OK, res)
        self.assertNotIn(res.rc, (harness.EXIT_AUTH, harness.EXIT_CONNECT,
                                  harness.EXIT_KEY_MISMATCH), res)
        self.assertIn("You cannot message yourself",
                      self.assertOneLine(res.err))

        # A name outside the username charset is a usage error, caught
        # before anything is sent.
        res = alice.send("Not A User", "x")
        self.assertNotEqual(res.rc, harness.EXIT_OK, res)
        self.assertTrue(res.err.strip(), res)

        # The server keeps serving after all of that.
        rx = self.cli(srv, "bob").recv(count=1, timeout=30)
        res = alice.send("bob", "now you are")
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.out, "alice: now you are\n", got)
        srv.stop()


if __name__ == "__main__":
    harness.main()
