# SPDX-License-Identifier: GPL-3.0-or-later
"""securechat-cli's local inputs are untrusted too: a damaged known_servers
file, odd password files, a message over the size limit. None of them may
crash the client or leak the password; each ends in a bounded time."""

import os
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

ALLOWED = set(range(0, 8))


class CliInputTest(harness.IntegrationTest):
    def test_damaged_known_servers(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"})
        contents = [
            os.urandom(4096),
            b"\x00" * 100,
            b"127.0.0.1:%d SHA256:short\n" % srv.port,
            b"x" * 200000 + b"\n",
            ("127.0.0.1:%d %s\n" % (srv.port, srv.fingerprint)).encode()
            * 3,
            b"# comment only\n\n\n",
            b"[127.0.0.1]:%d\n" % srv.port,
        ]
        for data in contents:
            cli = self.cli(srv, "alice", pin=False)
            os.makedirs(os.path.dirname(cli.known_servers), mode=0o700)
            with open(cli.known_servers, "wb") as f:
                f.write(data)
            res = cli.send("bob", "x")
            self.assertIn(res.rc, ALLOWED, res)
            self.assertNotEqual(res.rc, harness.EXIT_OK,
                                "bob is offline; %r" % res)
            self.assertNotIn("pw-alice", res.out + res.err)
        # The file the client writes itself, with the key swapped for
        # another one: the server's real key is then refused.
        cli = self.cli(srv, "alice", pin=False)
        res = cli.send("bob", "x")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        with open(cli.known_servers) as f:
            text = f.read()
        self.assertIn(srv.fingerprint, text)
        other = harness.Server(self.scope, name="other")
        with open(cli.known_servers, "w") as f:
            f.write(text.replace(srv.fingerprint, other.fingerprint))
        res = cli.send("bob", "x")
        self.assertEqual(res.rc, harness.EXIT_KEY_MISMATCH, res)
        srv.stop()

    def test_password_files(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"})
        cli = self.cli(srv, "alice")
        base = cli.base_cmd(password_file=False)

        def run(pwfile):
            cmd = base + ["--password-file", pwfile, "send", "bob", "x"]
            return harness._run_checked(self.scope, cmd, cli.env())

        res = run(self.scope.path("missing-password-file"))
        self.assertNotIn(res.rc, (harness.EXIT_OK,
                                  harness.EXIT_NOT_DELIVERED), res)
        self.assertTrue(res.err.strip(), res)

        cases = {
            "empty": b"",
            "huge": b"p" * 100000 + b"\n",
            "nul": b"pw-al\x00ice\n",
            "bad-utf8": b"pw-\xff\xfe\n",
        }
        mark = srv.mark()
        for name, data in cases.items():
            path = self.scope.path("pw-" + name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            res = run(path)
            self.assertIn(res.rc, ALLOWED, "%s: %r" % (name, res))
            self.assertNotIn(res.rc, (harness.EXIT_OK,
                                      harness.EXIT_NOT_DELIVERED),
                             "%s password file logged in: %r" % (name, res))
        # The right password without a trailing newline works too.
        path = self.scope.path("pw-no-newline")
        with open(path, "w") as f:
            f.write("pw-alice")
        res = run(path)
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        self.assertNotIn("pw-alice", srv.stop())
        self.assertNotIn("p" * 64, srv.log_since(mark))

    def test_message_over_limit(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"})
        rx = self.cli(srv, "bob").recv(count=1, timeout=30)
        alice = self.cli(srv, "alice")
        res = alice.send("bob", "y" * 40000)
        self.assertNotEqual(res.rc, harness.EXIT_OK, res)
        self.assertIn(res.rc, ALLOWED, res)
        self.assertTrue(res.err.strip(), res)
        # The session is not poisoned: a normal message still arrives, and
        # it is the first one bob sees.
        res = alice.send("bob", "small")
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        self.assertEqual(rx.wait_exit().out, "alice: small\n")
        srv.stop()


if __name__ == "__main__":
    harness.main()
