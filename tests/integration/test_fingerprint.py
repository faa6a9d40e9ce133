# SPDX-License-Identifier: GPL-3.0-or-later
"""Server authentication: a pinned fingerprint that does not match stops
the client before it sends the password; trust on first use remembers a
key and refuses a changed one loudly."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402


def quiet_log_since(srv, mark, wait=0.5):
    time.sleep(wait)
    return srv.log_since(mark)


class FingerprintTest(harness.IntegrationTest):
    def test_pinned_mismatch(self):
        a = self.server({"alice": "pw-alice-secret", "bob": "pw-bob"},
                        name="a")
        b = self.server({}, name="b", start=False)
        self.assertNotEqual(a.fingerprint, b.fingerprint)

        mark = a.mark()
        cli = self.cli(a, "alice", fingerprint=b.fingerprint)
        res = cli.send("bob", "secret text")
        self.assertEqual(res.rc, harness.EXIT_KEY_MISMATCH, res)
        self.assertTrue(res.err.strip(), res)
        seg = quiet_log_since(a, mark)
        self.assertNotIn("alice", seg,
                         "the server saw a login attempt although the "
                         "client had refused the key:\n" + seg)
        self.assertNotIn("pw-alice-secret", a.log())
        # Nothing was remembered for a refused key.
        if os.path.exists(cli.known_servers):
            with open(cli.known_servers) as f:
                self.assertNotIn(a.fingerprint, f.read())

        # The right pin logs in (bob offline: the login itself succeeded).
        good = self.cli(a, "alice").send("bob", "hi")
        self.assertEqual(good.rc, harness.EXIT_NOT_DELIVERED, good)

        # A malformed pin is a usage error; nothing is sent.
        mark = a.mark()
        bad = self.cli(a, "alice", fingerprint="SHA256:not-a-fingerprint")
        res = bad.send("bob", "hi")
        self.assertNotIn(res.rc, (harness.EXIT_OK, harness.EXIT_NOT_DELIVERED),
                         res)
        self.assertNotIn("alice", quiet_log_since(a, mark))
        a.stop()

    def test_trust_on_first_use(self):
        a = self.server({"alice": "pw-alice", "bob": "pw-bob"}, name="a")
        cli = self.cli(a, "alice", pin=False)
        self.assertFalse(os.path.exists(cli.known_servers))

        res = cli.send("bob", "first contact")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        self.assertTrue(os.path.exists(cli.known_servers),
                        "first use did not create %s" % cli.known_servers)
        with open(cli.known_servers) as f:
            known = f.read()
        self.assertIn(a.fingerprint, known)
        self.assertIn("127.0.0.1", known)
        self.assertEqual(os.stat(cli.known_servers).st_mode & 0o022, 0,
                         "known_servers is writable by others")

        # Second contact: the remembered key matches.
        res = cli.send("bob", "second contact")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)

        # Same HOST:PORT, new key (a different data dir).
        port = a.port
        a.stop()
        c = self.server({"alice": "pw-alice", "bob": "pw-bob"}, name="c",
                        port=port)
        self.assertNotEqual(a.fingerprint, c.fingerprint)
        mark = c.mark()
        res = cli.send("bob", "after the key changed")
        self.assertEqual(res.rc, harness.EXIT_KEY_MISMATCH, res)
        both = res.out + res.err
        self.assertRegex(both, re.compile(r"warning", re.I),
                         "no warning about the changed key")
        self.assertIn(c.fingerprint, both,
                      "the warning does not show the new fingerprint")
        self.assertNotIn("alice", quiet_log_since(c, mark),
                         "the password was sent to the changed key")
        with open(cli.known_servers) as f:
            self.assertEqual(f.read(), known,
                             "a refused key changed known_servers")

        c.stop()


if __name__ == "__main__":
    harness.main()
