# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end encryption seen from the server (PROTOCOL.md §12): A and B
chat both ways, scripted and interactive, through securechatd-testing and a
recording proxy. The texts arrive; neither the wire (both directions), nor
the bodies the server's routing code receives (SC_TEST_ROUTE_DUMP), nor
the server's --verbose log contain any text in any encoding, and every body
routed is a well-formed §12.5 message whose ratchet headers advance as the
Double Ratchet says."""

import os
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

A, B = "alice", "bob"
PASSWORDS = {A: "pw-e2e-alice-Tr0ub4dor", B: "pw-e2e-bob-staple"}

# Distinctive texts (ASCII, Latin-1, Cyrillic, CJK, emoji); A_TEXTS[3] and
# A_TEXTS[4] are the same on purpose.
A_TEXTS = [
    "Attack at dawn: the eagle has landed (e2e one)",
    "r\u00e9ponse: l'aigle est pos\u00e9 \u2708 Gr\u00fc\u00dfe aus K\u00f6ln",
    "\u65e5\u672c\u8a9e\u306e\u79d8\u5bc6\u306e\u6587\u7ae0 \U0001F510 "
    "kanji secret",
    "identical twice: correct horse battery",
    "identical twice: correct horse battery",
]
B_TEXTS = [
    "Meet me at the old mill at 23:45 sharp",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u0441\u0435\u043a\u0440\u0435"
    "\u0442\u043d\u044b\u0439 \u043f\u043b\u0430\u043d \u2014 no.7",
    "The vault code is 4711-0815-2342, burn after reading",
    "\U0001F60E\U0001F680 emoji-only reply \u00bfqu\u00e9 tal?",
]


class E2EWireTest(harness.IntegrationTest):
    def test_server_handles_only_ciphertext(self):
        srv = harness.testing_server(self.scope, PASSWORDS, verbose=True)
        srv.start()
        proxy = harness.RecordingProxy(self.scope, srv.addr)
        alice = self.cli(srv, A, addr=proxy.hostport)
        bob = self.cli(srv, B, addr=proxy.hostport)
        sent = []   # (sender, recipient, text) in routing order

        # Scripted: alice -> bob twice (bob's first login publishes his
        # prekeys; alice's first message starts the session).
        rx = bob.recv(count=2, timeout=60)
        for text in A_TEXTS[:2]:
            res = alice.send(B, text)
            self.assertEqual(res.rc, harness.EXIT_OK, res)
            sent.append((A, B, text))
        got = rx.wait_exit(timeout=60)
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "".join("%s: %s\n" % (A, t)
                                          for t in A_TEXTS[:2]))

        # Scripted: bob -> alice twice.
        rx = alice.recv(count=2, timeout=60)
        for text in B_TEXTS[:2]:
            res = bob.send(A, text)
            self.assertEqual(res.rc, harness.EXIT_OK, res)
            sent.append((B, A, text))
        got = rx.wait_exit(timeout=60)
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "".join("%s: %s\n" % (B, t)
                                          for t in B_TEXTS[:2]))

        # Interactive, turn by turn; each text is awaited before the next
        # is typed, so the routing order is known.
        chats = {A: harness.Chat(alice), B: harness.Chat(bob)}
        turns = [(A, B, A_TEXTS[2]), (B, A, B_TEXTS[2]),
                 (A, B, A_TEXTS[3]), (A, B, A_TEXTS[4]),
                 (B, A, B_TEXTS[3])]
        for frm, to, text in turns:
            since = chats[to].mark()
            chats[frm].say(to, text)
            chats[to].expect(frm, text, since=since)
            sent.append((frm, to, text))
        for chat in chats.values():
            res = chat.quit()
            for marker in (harness.IDENTITY_CHANGED, harness.UNDECRYPTABLE):
                self.assertNotIn(marker, res.out + res.err, res)
        # The identical texts were shown twice.
        self.assertEqual(chats[B].p.out.text().count(
            "%s: %s\n" % (A, A_TEXTS[3])), 2, chats[B].p.dump())

        log = srv.stop()
        proxy.close()

        # Routing saw exactly the messages sent, in order, and each is a
        # version 1 PREKEY or NORMAL message.
        dump = harness.read_route_dump(srv.route_dump)
        self.assertGreater(len(dump), 0, "the route dump is empty")
        self.assertEqual([to for to, _ in dump], [to for _, to, _ in sent],
                         "route dump recipients %r" % dump)
        msgs = harness.route_dump_messages(srv.route_dump)
        for (frm, to, text), (_, m) in zip(sent, msgs):
            self.assertEqual(m["version"], harness.E2E_VERSION)
            self.assertIn(m["kind"], (harness.E2E_PREKEY, harness.E2E_NORMAL),
                          "%s -> %s: %r" % (frm, to, m))
            # PKCS#7 over content type (1 byte) + UTF-8 text.
            size = 1 + len(text.encode("utf-8"))
            self.assertEqual(len(m["ciphertext"]), 16 * (size // 16 + 1),
                             "%s -> %s %r: ciphertext of %d bytes" % (
                                 frm, to, text, len(m["ciphertext"])))
        harness.check_ratchet_headers(sent, msgs, initiator=A)

        # The two identical texts are different ciphertexts.
        self.assertEqual((sent[6][2], sent[7][2]), (A_TEXTS[3], A_TEXTS[4]))
        self.assertNotEqual(dump[6][1], dump[7][1])
        self.assertNotEqual(msgs[6][1]["ciphertext"], msgs[7][1]["ciphertext"])
        self.assertNotEqual(msgs[6][1]["tag"], msgs[7][1]["tag"])

        # No text, in any encoding, in what the server handled or logged.
        c2s = proxy.recorded("c2s")
        s2c = proxy.recorded("s2c")
        self.assertGreater(len(c2s), 0, "nothing recorded client->server")
        self.assertGreater(len(s2c), 0, "nothing recorded server->client")
        with open(srv.route_dump, "rb") as f:
            dump_raw = f.read()
        decoded = b"".join(
            harness.b64decode_strict(body) for _, body in dump)
        self.assertGreater(len(log), 0)
        self.assertEqual(log.count("message forwarded"), len(sent), log)
        places = (("wire client->server", c2s),
                  ("wire server->client", s2c),
                  ("route dump", dump_raw),
                  ("route dump, decoded", decoded),
                  ("server log", log.encode("utf-8")))
        for text in set(A_TEXTS + B_TEXTS):
            needles = harness.text_needles(text)
            for where, data in places:
                hit = harness.find_needles(data, needles)
                self.assertIsNone(hit, "%r visible in the %s: %r" % (
                    text, where, hit and data[max(0, hit[1] - 40):
                                              hit[1] + 80]))
        # The end-to-end ciphertext itself is inside the Noise transport.
        for _, body in dump:
            for where, data in places[:2]:
                self.assertNotIn(body.encode("ascii")[:40], data,
                                 "a routed body is visible on the %s" % where)

    def test_shipped_server_has_no_hook(self):
        shipped = harness.program("SECURECHATD")
        testing = harness.program("SECURECHATD_TESTING")
        with open(shipped, "rb") as f:
            self.assertNotIn(b"SC_TEST_ROUTE_DUMP", f.read(),
                             "%s contains the test hook" % shipped)
        with open(testing, "rb") as f:
            self.assertIn(b"SC_TEST_ROUTE_DUMP", f.read(),
                          "%s lacks the test hook" % testing)

        # And the shipped server ignores the variable.
        dump = self.scope.path("dump-shipped")
        srv = self.server(PASSWORDS, env={"SC_TEST_ROUTE_DUMP": dump})
        rx = self.cli(srv, B).recv(count=1)
        res = self.cli(srv, A).send(B, A_TEXTS[0])
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.out, "%s: %s\n" % (A, A_TEXTS[0]), got)
        srv.stop()
        self.assertFalse(os.path.exists(dump),
                         "the shipped securechatd wrote %s" % dump)


if __name__ == "__main__":
    harness.main()
