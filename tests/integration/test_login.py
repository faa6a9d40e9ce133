# SPDX-License-Identifier: GPL-3.0-or-later
"""A user logs in with recv; a message sent to it arrives; both exit 0."""

import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402


class LoginTest(harness.IntegrationTest):
    def test_recv_logs_in_and_receives(self):
        srv = self.server({"alice": "alice-pw-1", "bob": "bob-pw-2"})
        bob = self.cli(srv, "bob")
        alice = self.cli(srv, "alice")

        rx = bob.recv(count=1, timeout=30)
        res = alice.send("bob", "hello")
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "alice: hello\n", got)

        log = srv.stop()
        for pw in ("alice-pw-1", "bob-pw-2"):
            self.assertNotIn(pw, log)
        self.assertNotIn("hello", log, "the message text reached the log")
        for line in log.splitlines():
            self.assertRegex(line, harness.LOG_LINE_RE,
                             "log line is not 'TIMESTAMP LEVEL message'")

    def test_recv_times_out(self):
        srv = self.server({"carol": "carol-pw"})
        carol = self.cli(srv, "carol")
        rx = carol.recv(count=1, timeout=1)
        res = rx.wait_exit(timeout=20)
        self.assertEqual(res.rc, harness.EXIT_TIMEOUT, res)
        self.assertEqual(res.out, "", res)


if __name__ == "__main__":
    harness.main()
