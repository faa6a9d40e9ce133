# SPDX-License-Identifier: GPL-3.0-or-later
"""What a passive observer of the TCP stream sees: frames, the
client_hello and random-looking bytes; never a password, a message, a
username or the base64 of any of them."""

import base64
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

PASSWORD_A = "Tr0ub4dor&3-wire-alice"
PASSWORD_B = "correct horse battery staple wire"
TEXT_1 = "Attack at dawn: the eagle has landed"
TEXT_2 = "r\u00e9ponse: l'aigle est pos\u00e9 \u2708"
USERS = ("wirealice", "wirebob")


def needles(text):
    """text in UTF-8, UTF-16 and base64 at every alignment (the middle part
    of the encoding that does not depend on what precedes or follows)."""
    raw = text.encode("utf-8")
    out = {raw, text.encode("utf-16-le")}
    for shift in range(3):
        enc = base64.b64encode(raw[shift:]).rstrip(b"=")
        if len(enc) > 8:
            out.add(enc[:-4])
    out.add(base64.b64encode(raw))
    return out


class WireTest(harness.IntegrationTest):
    def test_nothing_readable_on_the_wire(self):
        srv = self.server({USERS[0]: PASSWORD_A, USERS[1]: PASSWORD_B})
        proxy = harness.RecordingProxy(self.scope, srv.addr)

        bob = self.cli(srv, USERS[1], addr=proxy.hostport)
        alice = self.cli(srv, USERS[0], addr=proxy.hostport)
        rx = bob.recv(count=2, timeout=30)
        for text in (TEXT_1, TEXT_2):
            res = alice.send(USERS[1], text)
            self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: %s\n%s: %s\n" % (
            USERS[0], TEXT_1, USERS[0], TEXT_2))
        proxy.close()

        self.assertGreaterEqual(len(proxy.connections), 3)
        c2s = proxy.recorded("c2s")
        s2c = proxy.recorded("s2c")
        self.assertGreater(len(c2s), 0, "nothing recorded client->server")
        self.assertGreater(len(s2c), 0, "nothing recorded server->client")

        secrets = {}
        for name, value in (("password A", PASSWORD_A),
                            ("password B", PASSWORD_B),
                            ("text 1", TEXT_1), ("text 2", TEXT_2),
                            ("username A", USERS[0]),
                            ("username B", USERS[1])):
            for n in needles(value):
                secrets[n] = name
        for direction, data in (("client->server", c2s),
                                ("server->client", s2c)):
            for needle, name in secrets.items():
                at = data.find(needle)
                self.assertEqual(at, -1, "%s visible %s at byte %d: %r" % (
                    name, direction, at, data[max(0, at - 40):at + 80]))

        # Every connection is a clean sequence of frames; the first frame
        # of each is handshake message 1: 32 bytes of ephemeral key, then
        # the client_hello in the clear (and nothing secret in it).
        for i, conn in enumerate(proxy.connections):
            up = harness.parse_frames(bytes(conn["c2s"]))
            down = harness.parse_frames(bytes(conn["s2c"]))
            self.assertGreaterEqual(len(up), 2, "connection %d" % i)
            self.assertGreaterEqual(len(down), 2, "connection %d" % i)
            msg1 = up[0]
            self.assertIn(b'"client_hello"', msg1[32:])
            # Message 2: e (32) + encrypted s (48) + encrypted payload
            # (at least the 16-byte tag); nothing in it is plaintext JSON.
            self.assertGreaterEqual(len(down[0]), 32 + 48 + 16)
            self.assertNotIn(b"server_hello", down[0])
            for body in up[1:] + down:
                self.assertNotIn(b'"type"', body)
        srv.stop()


if __name__ == "__main__":
    harness.main()
