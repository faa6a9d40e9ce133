# SPDX-License-Identifier: GPL-3.0-or-later
"""Safety numbers (PROTOCOL.md §12.7): `verify NAME` prints 12 groups of 5
digits, the same on both sides of a conversation, equal to the number
computed here from the identity keys the routed PREKEY messages carry, and
different for another pair of users; interactive /verify shows it too."""

import re
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

A, B, C = "alice", "bob", "carol"
PASSWORDS = {A: "pw-safety-alice", B: "pw-safety-bob", C: "pw-safety-carol"}


class SafetyNumberTest(harness.IntegrationTest):
    def deliver(self, frm, to, text):
        rx = to.recv(count=1, timeout=30)
        res = frm.send(to.user, text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: %s\n" % (frm.user, text))

    def verify(self, cli, peer):
        res = cli.verify(peer)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        self.assertTrue(res.out.endswith("\n"), res)
        number = res.out[:-1]
        self.assertEqual(len(number), 71, res)
        self.assertRegex(number, r"\A%s\Z" % harness.SAFETY_NUMBER_RE.pattern,
                         res)
        return number

    def identity_of(self, srv, sender, recipient):
        """The identity (ik_dh, ik_sig, name) in sender's PREKEY message to
        recipient in the route dump."""
        for to, m in harness.route_dump_messages(srv.route_dump):
            if to == recipient and m["kind"] == harness.E2E_PREKEY:
                return (m["ik_dh"], m["ik_sig"], sender)
        self.fail("no PREKEY message to %s in the route dump" % recipient)

    def test_safety_numbers(self):
        srv = harness.testing_server(self.scope, PASSWORDS)
        srv.start()
        alice = self.cli(srv, A)
        bob = self.cli(srv, B)
        carol = self.cli(srv, C)

        # alice starts a session with bob, bob one with carol: the PREKEY
        # messages show alice's and bob's identity keys.
        self.deliver(alice, bob, "hello bob, this is alice")
        self.deliver(bob, alice, "hello alice")
        self.deliver(bob, carol, "hello carol, this is bob")
        id_a = self.identity_of(srv, A, B)
        id_b = self.identity_of(srv, B, C)
        self.assertNotEqual(id_a[:2], id_b[:2])

        ab = self.verify(alice, B)
        ba = self.verify(bob, A)
        self.assertEqual(ab, ba, "alice and bob see different numbers")
        self.assertEqual(ab, harness.safety_number(id_a, id_b),
                         "not the §12.7 number of the routed identity keys")

        bc = self.verify(bob, C)
        cb = self.verify(carol, B)
        self.assertEqual(bc, cb, "bob and carol see different numbers")
        self.assertNotEqual(bc, ab)
        # bob's half (30 digits) is the same in both numbers.
        half_b = harness.safety_digits(*id_b)
        grouped = " ".join(half_b[i:i + 5] for i in range(0, 30, 5))
        self.assertIn(grouped, ab)
        self.assertIn(grouped, bc)

        # The same number again (nothing changes by asking), and
        # interactively; then mark bob verified.
        self.assertEqual(self.verify(alice, B), ab)
        chat = harness.Chat(alice)
        mark = chat.mark()
        chat.p.command("/verify %s" % B)
        chat.p.wait_for(re.escape(ab), since=mark)
        mark = chat.mark()
        chat.p.command("/verify %s confirm" % B)
        chat.p.command("/verify %s" % B)
        chat.p.wait_for(re.escape(ab), since=mark)
        res = chat.quit()
        self.assertNotIn("Unknown command", res.out, res)
        self.assertEqual(self.verify(alice, B), ab)

        # Verifying changes nothing in the conversation.
        self.deliver(alice, bob, "still talking after /verify")
        srv.stop()


if __name__ == "__main__":
    harness.main()
