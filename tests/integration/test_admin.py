# SPDX-License-Identifier: GPL-3.0-or-later
"""securechatd init / fingerprint / useradd / passwd / userdel / users,
file modes, and account changes picked up by a running server."""

import json
import os
import stat
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class AdminTest(harness.IntegrationTest):
    def admin(self, data_dir, subcmd, *args, stdin=None):
        cmd = [harness.program("SECURECHATD"), subcmd, "--data-dir",
               data_dir] + list(args)
        return harness._run_checked(self.scope, cmd, os.environ.copy(),
                                    stdin_data=stdin)

    def users(self, d):
        res = self.admin(d, "users")
        self.assertEqual(res.rc, 0, res)
        return [l.split()[0] for l in res.out.splitlines() if l.strip()]

    def creds(self, d):
        with open(os.path.join(d, "credentials.json"), "rb") as f:
            return json.loads(f.read().decode("utf-8"))

    def test_init_and_accounts(self):
        d = self.scope.path("data")
        key = os.path.join(d, "server.key")
        creds_path = os.path.join(d, "credentials.json")

        res = self.admin(d, "init")
        self.assertEqual(res.rc, 0, res)
        m = harness.FINGERPRINT_RE.search(res.out)
        self.assertIsNotNone(m, res)
        fp = m.group(0)
        self.assertEqual(mode(d), 0o700)
        self.assertEqual(mode(key), 0o600)
        self.assertEqual(mode(creds_path), 0o600)
        self.assertEqual(self.creds(d), {})
        with open(key, "rb") as f:
            key_bytes = f.read()
        self.assertIn(b"PRIVATE KEY", key_bytes)

        res = self.admin(d, "fingerprint")
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(res.out, fp + "\n")

        res = self.admin(d, "init")
        self.assertEqual(res.rc, 1, res)
        self.assertTrue(res.err.strip(), res)
        with open(key, "rb") as f:
            self.assertEqual(f.read(), key_bytes, "init overwrote the key")
        self.assertEqual(self.admin(d, "fingerprint").out, fp + "\n")

        # Accounts.
        res = self.admin(d, "useradd", "alice", stdin="alice-first-pw\n")
        self.assertEqual(res.rc, 0, res)
        res = self.admin(d, "useradd", "carol", stdin="carol-pw\n")
        self.assertEqual(res.rc, 0, res)
        h_alice = self.creds(d)["alice"]
        self.assertTrue(h_alice.startswith("$y$"), h_alice)
        with open(creds_path) as f:
            self.assertNotIn("alice-first-pw", f.read())

        res = self.admin(d, "useradd", "alice", stdin="other-pw\n")
        self.assertNotEqual(res.rc, 0, res)
        self.assertEqual(self.creds(d)["alice"], h_alice,
                         "useradd of an existing user changed its hash")
        for bad in ("Bad Name", "-dash", "x" * 33, ""):
            res = self.admin(d, "useradd", bad, stdin="pw\n")
            self.assertNotEqual(res.rc, 0, "useradd %r: %r" % (bad, res))
            self.assertNotIn(bad, self.creds(d))
        res = self.admin(d, "useradd", "emptypw", stdin="\n")
        self.assertNotEqual(res.rc, 0, "useradd with an empty password: %r"
                            % res)
        self.assertNotIn("emptypw", self.creds(d))

        self.assertEqual(self.users(d), ["alice", "carol"])

        res = self.admin(d, "passwd", "alice", stdin="alice-second-pw\n")
        self.assertEqual(res.rc, 0, res)
        h2 = self.creds(d)["alice"]
        self.assertNotEqual(h2, h_alice)
        self.assertTrue(h2.startswith("$y$"), h2)
        res = self.admin(d, "passwd", "nosuchuser", stdin="pw\n")
        self.assertNotEqual(res.rc, 0, res)
        self.assertNotIn("nosuchuser", self.creds(d))

        self.assertEqual(self.admin(d, "useradd", "bob",
                                    stdin="bob-pw\n").rc, 0)
        self.assertEqual(self.admin(d, "userdel", "bob").rc, 0)
        self.assertNotIn("bob", self.creds(d))
        self.assertNotEqual(self.admin(d, "userdel", "bob").rc, 0)
        self.assertEqual(self.users(d), ["alice", "carol"])

        self.assertEqual(mode(creds_path), 0o600)
        self.assertEqual(mode(d), 0o700)
        leftovers = set(os.listdir(d)) - {"server.key", "credentials.json",
                                          "credentials.json.lock"}
        self.assertEqual(leftovers, set(), "stray files in the data dir")

        # A running server sees account changes without a restart.
        srv = harness.Server(self.scope, users={"alice": "alice-second-pw",
                                                "carol": "carol-pw"},
                             data_dir=d, name="live", init=False)
        self.assertEqual(srv.fingerprint, fp)
        srv.start()
        self.assertIn(fp, srv.log(), "the server does not log its key")
        res = self.cli(srv, "alice").send("carol", "x")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        res = self.cli(srv, "alice", password="alice-first-pw").send(
            "carol", "x")
        self.assertEqual(res.rc, harness.EXIT_AUTH, res)

        self.assertEqual(self.admin(d, "useradd", "dave",
                                    stdin="dave-pw\n").rc, 0)
        res = self.cli(srv, "dave", password="dave-pw").send("carol", "x")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED,
                         "a user added while the server runs cannot log "
                         "in: %r" % res)
        self.assertEqual(self.admin(d, "passwd", "dave",
                                    stdin="dave-new-pw\n").rc, 0)
        res = self.cli(srv, "dave", password="dave-new-pw").send("carol",
                                                                 "x")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        self.assertEqual(self.admin(d, "userdel", "dave").rc, 0)
        res = self.cli(srv, "dave", password="dave-new-pw").send("carol",
                                                                 "x")
        self.assertEqual(res.rc, harness.EXIT_AUTH,
                         "a deleted user can still log in: %r" % res)
        res = self.cli(srv, "alice").send("dave", "x")
        self.assertIn("no such user", res.err)
        log = srv.stop()
        for pw in ("alice-first-pw", "alice-second-pw", "dave-pw",
                   "dave-new-pw"):
            self.assertNotIn(pw, log)

    def test_run_refuses_exposed_key(self):
        d = self.scope.path("data")
        self.assertEqual(self.admin(d, "init").rc, 0)
        os.chmod(os.path.join(d, "server.key"), 0o644)
        port = harness.free_port()
        cmd = [harness.program("SECURECHATD"), "run", "--data-dir", d,
               "--listen", "127.0.0.1:%d" % port]
        res = harness._run_checked(self.scope, cmd, os.environ.copy(),
                                   timeout=15)
        self.assertNotEqual(res.rc, 0, res)
        self.assertIn("server.key", res.err, res)

    def run_fails(self, d, *extra):
        """securechatd run must refuse to start: non-zero exit, an error
        line, and no listening socket left behind."""
        port = harness.free_port()
        cmd = [harness.program("SECURECHATD"), "run", "--data-dir", d,
               "--listen", "127.0.0.1:%d" % port] + list(extra)
        res = harness._run_checked(self.scope, cmd, os.environ.copy(),
                                   timeout=15)
        self.assertNotEqual(res.rc, 0, res)
        self.assertTrue(res.err.strip(), res)
        self.assertNotIn("listening on", res.err, res)
        return res

    def test_run_refuses_bad_config(self):
        d = self.scope.path("data")
        self.assertEqual(self.admin(d, "init").rc, 0)
        for name, text, needle in (
                ("unknown-key", "max_frame = 4096\nbogus_key = 1\n",
                 "bogus_key"),
                ("too-small", "max_frame = 10\n", "max_frame"),
                ("not-a-number", "idle_timeout = soon\n", "idle_timeout"),
                ("no-equals", "handshake_timeout 5\n", ":1"),
                ("overflow", "max_connections = 99999999999999999999\n",
                 "max_connections")):
            conf = self.scope.path(name + ".conf")
            with open(conf, "w") as f:
                f.write(text)
            res = self.run_fails(d, "--config", conf)
            self.assertIn(needle, res.err, "config %r" % text)
        self.run_fails(d, "--config", self.scope.path("missing.conf"))

    def test_run_refuses_busy_port(self):
        srv = self.server({"alice": "pw-alice"})
        other = harness.Server(self.scope, name="other")
        cmd = [harness.program("SECURECHATD"), "run", "--data-dir",
               other.dir, "--listen", srv.hostport]
        res = harness._run_checked(self.scope, cmd, os.environ.copy(),
                                   timeout=15)
        self.assertNotEqual(res.rc, 0, res)
        self.assertIn(str(srv.port), res.err, res)
        # The first server is unharmed.
        res = self.cli(srv, "alice").send("bob", "x")
        self.assertIn("no such user", res.err, res)
        srv.stop()

    def test_sigint_is_clean(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"})
        rx = self.cli(srv, "bob").recv(count=1, timeout=30)
        srv.stop(sig=harness.signal.SIGINT)
        res = rx.wait_exit()
        self.assertNotEqual(res.rc, 0, res)

    def test_foreign_and_damaged_credentials(self):
        srv = self.server({"alice": "pw-alice", "bob": "pw-bob"})
        creds_path = os.path.join(srv.dir, "credentials.json")
        # Entries this version cannot use are kept through changes.
        creds = self.creds(srv.dir)
        creds["Not A Name"] = "$y$whatever"
        creds["numbered"] = 5
        with open(creds_path, "w") as f:
            json.dump(creds, f)
        res = self.admin(srv.dir, "useradd", "carol", stdin="pw-carol\n")
        self.assertEqual(res.rc, 0, res)
        after = self.creds(srv.dir)
        self.assertEqual(after.get("Not A Name"), "$y$whatever")
        self.assertEqual(after.get("numbered"), 5)
        self.assertIn("carol", after)
        self.assertEqual(mode(creds_path), 0o600)
        self.assertEqual(self.users(srv.dir), ["alice", "bob", "carol"])
        res = self.cli(srv, "carol", password="pw-carol").send("bob", "x")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)

        # A damaged file: the running server keeps what it had and says
        # so; the admin commands refuse to work on it.
        with open(creds_path, "rb") as f:
            good = f.read()
        for damage in (b"{\"alice\": ", b"\xff\xfe garbage", b"[]",
                       b"{\"a\": \"x\", \"a\": \"y\"}"):
            with open(creds_path, "wb") as f:
                f.write(damage)
            res = self.cli(srv, "alice").send("bob", "x")
            self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED,
                             "login after %r: %r" % (damage, res))
            res = self.admin(srv.dir, "useradd", "dave", stdin="pw\n")
            self.assertNotEqual(res.rc, 0, "useradd on %r: %r" % (damage,
                                                                 res))
            with open(creds_path, "rb") as f:
                self.assertEqual(f.read(), damage,
                                 "useradd rewrote a damaged file")
        with open(creds_path, "wb") as f:
            f.write(good)
        res = self.cli(srv, "alice").send("bob", "x")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        srv.stop()

    def test_missing_data_dir(self):
        d = self.scope.path("does-not-exist")
        for args in (("fingerprint",), ("users",)):
            res = self.admin(d, *args)
            self.assertNotEqual(res.rc, 0, res)
            self.assertTrue(res.err.strip(), res)
        self.assertFalse(os.path.exists(d))


if __name__ == "__main__":
    harness.main()
