# SPDX-License-Identifier: GPL-3.0-or-later
"""The server's prekey store (PROTOCOL.md §5.12-5.14) survives restarts,
clean (SIGTERM) or not (SIGKILL): after each, a bundle request returns the
same identity and signed prekey, never a one-time prekey handed out
before, and the conversations go on; a new contact can still start a
session."""

import os
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

A, B, C, D = "alice", "bob", "carol", "dave"
PASSWORDS = {A: "pw-store-alice", B: "pw-store-bob", C: "pw-store-carol",
             D: "pw-store-dave"}
SKIP = ("presence", "prekey_status")


class PrekeyStoreTest(harness.IntegrationTest):
    def deliver(self, frm, to, text):
        rx = to.recv(count=1, timeout=30)
        res = frm.send(to.user, text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: %s\n" % (frm.user, text))
        for marker in (harness.IDENTITY_CHANGED, harness.UNDECRYPTABLE):
            self.assertNotIn(marker, got.err + res.err)

    def fetch_bundle(self, srv, user):
        """A bundle for user, fetched by carol over sc-rawclient."""
        raw = harness.RawClient(self.scope, srv, label="raw(%s)" % C)
        raw.login(C, PASSWORDS[C])
        raw.send({"type": "bundle_request", "id": 7, "user": user})
        m = raw.expect("bundle", skip=SKIP, ref=7, user=user)
        res = raw.quit()
        self.assertEqual(res.rc, 0, res)
        sizes = {"identity": 64, "spk": 32, "spk_sig": 64, "opk": 32}
        for field, size in sizes.items():
            if field == "opk" and "opk" not in m:
                continue
            self.assertEqual(len(harness.b64decode_strict(m[field])), size,
                             "%s in %r" % (field, m))
        self.assertIn("opk", m, "no one-time prekey left: %r" % m)
        self.assertIsInstance(m["opk_id"], int)
        return m

    def store_files(self, srv):
        files = {}
        root = os.path.join(srv.dir, "prekeys")
        self.assertTrue(os.path.isdir(root), "no %s" % root)
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    files[path] = f.read()
        return files

    def test_store_survives_restarts(self):
        srv = harness.testing_server(self.scope, PASSWORDS)
        srv.start()
        alice = self.cli(srv, A)
        bob = self.cli(srv, B)
        self.deliver(alice, bob, "before the restarts, from alice")
        self.deliver(bob, alice, "before the restarts, from bob")

        # The clients' data folders are per HOST:PORT: restart on the same
        # port.
        srv.fixed_port = True
        handed_out = set()
        first = self.fetch_bundle(srv, B)
        handed_out.add(first["opk_id"])
        same = ("identity", "spk_id", "spk", "spk_sig")

        srv.stop()
        before = self.store_files(srv)
        self.assertGreaterEqual(len(before), 1, "the prekey store is empty")
        srv.start()
        self.assertEqual(self.store_files(srv), before,
                         "starting the server changed its prekey store")
        again = self.fetch_bundle(srv, B)
        for field in same:
            self.assertEqual(again[field], first[field], field)
        self.assertNotIn(again["opk_id"], handed_out,
                         "a one-time prekey was handed out twice")
        self.assertNotEqual(again["opk"], first["opk"])
        handed_out.add(again["opk_id"])

        # The hand-out is on disk before the answer: SIGKILL loses none.
        third = self.fetch_bundle(srv, B)
        self.assertNotIn(third["opk_id"], handed_out)
        handed_out.add(third["opk_id"])
        srv.kill_hard()
        srv.start()
        fourth = self.fetch_bundle(srv, B)
        for field in same:
            self.assertEqual(fourth[field], first[field], field)
        self.assertNotIn(fourth["opk_id"], handed_out,
                         "a one-time prekey handed out before SIGKILL was "
                         "handed out again")

        # The conversation goes on, and a new contact starts a session
        # with bob's stored bundle.
        self.deliver(alice, bob, "after the restarts, from alice")
        self.deliver(bob, alice, "after the restarts, from bob")
        dave = self.cli(srv, D)
        self.deliver(dave, bob, "hello bob, dave here")
        self.deliver(bob, dave, "hello dave")
        kinds = [(to, m["kind"]) for to, m in
                 harness.route_dump_messages(srv.route_dump)]
        self.assertEqual(kinds, [
            (B, harness.E2E_PREKEY), (A, harness.E2E_NORMAL),
            (B, harness.E2E_NORMAL), (A, harness.E2E_NORMAL),
            (B, harness.E2E_PREKEY), (D, harness.E2E_NORMAL)])
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_e2e_prekeys.py SC_RAWCLIENT [unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
