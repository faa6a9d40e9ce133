# SPDX-License-Identifier: GPL-3.0-or-later
"""No server listening: exit 3 with exactly one line on stderr."""

import os
import socket
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402


class NoServerTest(harness.IntegrationTest):
    def test_connection_refused(self):
        # A data dir only for the fingerprint; the server never runs.
        srv = self.server({"alice": "pw-alice"}, start=False)
        # Hold a bound but not listening socket on the port, so no other
        # test can start listening there while this one runs.
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.scope.on_close(hold.close)
        hold.bind(("127.0.0.1", 0))
        srv.port = hold.getsockname()[1]
        want = "cannot connect to 127.0.0.1:%d: Connection refused" % srv.port

        alice = self.cli(srv, "alice")
        res = alice.send("bob", "hello")
        self.assertEqual(res.rc, harness.EXIT_CONNECT, res)
        self.assertEqual(res.err, want + "\n", res)
        self.assertEqual(res.out, "", res)

        res = alice.recv(count=1, timeout=5, wait_ready=False).wait_exit()
        self.assertEqual(res.rc, harness.EXIT_CONNECT, res)
        self.assertEqual(res.err, want + "\n", res)

        # Without a pin (trust on first use) it is the same failure and
        # nothing is remembered.
        tofu = self.cli(srv, "alice", pin=False)
        res = tofu.send("bob", "hello")
        self.assertEqual(res.rc, harness.EXIT_CONNECT, res)
        self.assertEqual(res.err, want + "\n", res)
        self.assertFalse(os.path.exists(tofu.known_servers))

    def test_usage_errors(self):
        srv = self.server({"alice": "pw-alice"}, start=False)
        srv.port = harness.free_port()
        alice = self.cli(srv, "alice")
        for args in (["send", "bob"],           # missing TEXT
                     ["frobnicate"],            # unknown subcommand
                     ["recv", "--count", "x"]):  # not a number
            res = alice.run(*args)
            self.assertEqual(res.rc, harness.EXIT_USAGE, res)
            self.assertTrue(res.err.strip(), res)


if __name__ == "__main__":
    harness.main()
