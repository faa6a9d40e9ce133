# SPDX-License-Identifier: GPL-3.0-or-later
"""A reinstalled client (PROTOCOL.md §12.6): alice loses her data folder
and writes to bob again. Her message starts a fresh X3DH with a new
identity key; bob is warned that alice's identity key changed and still
sees the message; bob sends nothing to alice (send fails with status 6,
interactive /msg is refused) until he accepts the new key; the safety
number changes."""

import re
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

A, B = "alice", "bob"
PASSWORDS = {A: "pw-reinstall-alice", B: "pw-reinstall-bob"}


class ReinstallTest(harness.IntegrationTest):
    def deliver(self, frm, to, text):
        rx = to.recv(count=1, timeout=30)
        res = frm.send(to.user, text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: %s\n" % (frm.user, text))
        for marker in (harness.IDENTITY_CHANGED, harness.UNDECRYPTABLE):
            self.assertNotIn(marker, got.err + res.err)
        return got

    def verify(self, cli, peer):
        res = cli.verify(peer)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        self.assertRegex(res.out, r"\A%s\n\Z" %
                         harness.SAFETY_NUMBER_RE.pattern, res)
        return res.out.strip()

    def setup_conversation(self):
        srv = harness.testing_server(self.scope, PASSWORDS)
        srv.start()
        alice = self.cli(srv, A)
        bob = self.cli(srv, B)
        self.deliver(alice, bob, "before the reinstall, from alice")
        self.deliver(bob, alice, "before the reinstall, from bob")
        return srv, alice, bob

    def identities_to(self, srv, recipient):
        return [(m["ik_dh"], m["ik_sig"])
                for to, m in harness.route_dump_messages(srv.route_dump)
                if to == recipient and m["kind"] == harness.E2E_PREKEY]

    def test_reinstall_scripted(self):
        srv, alice, bob = self.setup_conversation()
        number_before = self.verify(bob, A)
        old_ids = set(self.identities_to(srv, B))
        self.assertEqual(len(old_ids), 1)

        # A new data folder (same account, same server pin).
        alice2 = self.cli(srv, A, data_home=self.scope.new_dir("reinstall"))
        text = "after the reinstall, from alice \u00e9"
        rx = bob.recv(count=1, timeout=30)
        res = alice2.send(B, text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertIn("%s: %s\n" % (A, text), got.out)
        self.assertIn(harness.IDENTITY_CHANGED, got.out + got.err, got)
        warning = [line for line in (got.out + got.err).splitlines()
                   if harness.IDENTITY_CHANGED in line]
        self.assertIn(A, warning[0], got)
        new_ids = set(self.identities_to(srv, B)) - old_ids
        self.assertEqual(len(new_ids), 1, "alice's last message carries "
                         "no new identity key")

        # bob may not send to alice until he accepts her new key: nothing
        # leaves (the route dump does not grow), status 6, one line.
        routed = len(harness.read_route_dump(srv.route_dump))
        rx = alice2.recv(count=1, timeout=30)
        res = bob.send(A, "must not be sent before accept")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        line = self.assertOneLine(res.err)
        self.assertIn(harness.IDENTITY_CHANGED, line, res)
        self.assertEqual(res.out, "", res)
        self.assertEqual(len(harness.read_route_dump(srv.route_dump)), routed,
                         "bob's client sent something before accept")
        # Still refused on a second try.
        res = bob.send(A, "must not be sent before accept either")
        self.assertEqual(res.rc, harness.EXIT_NOT_DELIVERED, res)
        self.assertIn(harness.IDENTITY_CHANGED, res.err, res)

        res = bob.accept(A)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        text = "after accept, from bob"
        res = bob.send(A, text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: %s\n" % (B, text))
        self.assertNotIn("must not be sent", got.out + got.err)

        # The conversation goes on normally, and both see the same, new
        # safety number.
        self.deliver(alice2, bob, "and alice answers")
        self.deliver(bob, alice2, "and bob again")
        number_after = self.verify(bob, A)
        self.assertNotEqual(number_after, number_before)
        self.assertEqual(self.verify(alice2, B), number_after)
        srv.stop()

    def online(self, chat):
        """The users /who lists, as printed ("alice (verified)" for a
        verified contact)."""
        mark = chat.mark()
        chat.p.command("/who")
        m = chat.p.wait_for(r"(?m)^Online: (.*)$", stream="out", since=mark)
        return m.group(1).split(", ")

    def test_reinstall_interactive(self):
        """Also: a verified contact whose key changes is unverified again,
        and stays so after /accept (§12.6)."""
        srv, alice, bob = self.setup_conversation()
        res = bob.run("verify", A, "confirm")
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        rx = alice.recv(count=1, timeout=30)
        chat = harness.Chat(bob)
        self.assertIn("%s (verified)" % A, self.online(chat))
        chat.say(A, "to verified alice")
        got = rx.wait_exit()
        self.assertEqual(got.out, "%s: to verified alice\n" % B, got)

        alice2 = self.cli(srv, A, data_home=self.scope.new_dir("reinstall"))
        text = "after the reinstall, interactive"
        res = alice2.send(B, text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        chat.expect(A, text)
        chat.p.wait_for(re.escape(harness.IDENTITY_CHANGED))

        routed = len(harness.read_route_dump(srv.route_dump))
        rx = alice2.recv(count=1, timeout=30)
        self.assertIn(A, self.online(chat), "alice is no longer verified")
        mark = chat.mark()
        chat.say(A, "must not be sent before /accept")
        chat.p.wait_for(re.escape(harness.IDENTITY_CHANGED), since=mark)
        chat.p.command("/accept %s" % A)
        chat.say(A, "after /accept")
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: after /accept\n" % B)
        dump = harness.read_route_dump(srv.route_dump)
        self.assertEqual(len(dump), routed + 1,
                         "bob's client sent the refused message: %r" % dump)
        rx = alice2.recv(count=1, timeout=30)
        self.assertIn(A, self.online(chat), "accepting a new key verified it")
        chat.say(A, "alice is online again")
        rx.wait_exit()
        res = chat.quit()
        self.assertNotIn(harness.UNDECRYPTABLE, res.out + res.err)
        srv.stop()

    def test_changed_key_rejected(self):
        """A changed key the user rejects (§12.6): the key bob had stays,
        and his messages still reach the alice he knew."""
        srv, alice, bob = self.setup_conversation()
        chat = harness.Chat(bob)
        impostor = self.cli(srv, A, data_home=self.scope.new_dir("impostor"))
        res = impostor.send(B, "I am alice, trust me")
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        chat.expect(A, "I am alice, trust me")
        chat.p.wait_for(re.escape(harness.IDENTITY_CHANGED))
        mark = chat.mark()
        chat.p.command("/reject %s" % A)
        chat.p.wait_for(r"Rejected the new key offered for %s" % A,
                        since=mark)
        rx = alice.recv(count=1, timeout=30)
        chat.say(A, "to the alice I know")
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: to the alice I know\n" % B)
        self.assertNotIn(harness.UNDECRYPTABLE, got.err)
        res = chat.quit()
        self.assertNotIn(harness.UNDECRYPTABLE, res.out + res.err)
        srv.stop()

    def test_reinstall_peer_writes_first(self):
        """bob writes first, on his session with alice's old install: the
        new install cannot decrypt it, says so and asks for a new session
        (RESET, §12.5); bob's next message fetches alice's new bundle and
        is held back as a changed identity until /accept."""
        srv, alice, bob = self.setup_conversation()
        chat = harness.Chat(bob)
        alice2 = self.cli(srv, A, data_home=self.scope.new_dir("reinstall"))
        rx = alice2.recv(count=1, timeout=30)
        routed = len(harness.read_route_dump(srv.route_dump))

        chat.say(A, "to the old install")
        rx.wait_for(r"%s %s\b" % (re.escape(harness.UNDECRYPTABLE),
                                  re.escape(B)), stream="err")
        # The RESET request reaches bob before he writes again.
        deadline = time.monotonic() + harness.WAIT_TIMEOUT
        while len(harness.read_route_dump(srv.route_dump)) < routed + 2:
            self.assertLess(time.monotonic(), deadline,
                            "no RESET request from alice")
            time.sleep(0.05)

        mark = chat.mark()
        chat.say(A, "second try, must be refused")
        chat.p.wait_for(re.escape(harness.IDENTITY_CHANGED), since=mark)
        chat.p.command("/accept %s" % A)
        chat.say(A, "third try, after /accept")
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: third try, after /accept\n" % B)
        chat.quit()

        msgs = harness.route_dump_messages(srv.route_dump)[routed:]
        self.assertEqual([(to, m["kind"]) for to, m in msgs], [
            (A, harness.E2E_NORMAL), (B, harness.E2E_RESET),
            (A, harness.E2E_PREKEY)])
        srv.stop()


if __name__ == "__main__":
    harness.main()
