# SPDX-License-Identifier: GPL-3.0-or-later
"""The wire contract (PROTOCOL.md) seen from a scriptable client that does
the real handshake and then sends whatever the test wants: hello fields,
version negotiation, message schema enforcement, error codes and refs,
what closes a connection and what does not, limits and timeouts."""

import base64
import json
import os
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"alice": "alice-pw-proto", "bob": "bob-pw-proto",
      "carol": "carol-pw-proto"}


def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class ProtocolTest(harness.IntegrationTest):
    def raw(self, srv, **kw):
        return harness.RawClient(self.scope, srv, **kw)

    def logged_in(self, srv, user, **kw):
        c = self.raw(srv, label="raw(%s)" % user, **kw)
        c.login(user, PW[user])
        return c

    def test_hello_and_login(self):
        srv = self.server(PW, config={"max_frame": 8192,
                                      "idle_timeout": 77})
        c = self.raw(srv)
        hello = c.handshake()
        self.assertEqual(c.key, srv.fingerprint)
        self.assertEqual(set(hello), {"type", "version", "agent",
                                      "max_frame", "idle_timeout"}, hello)
        self.assertEqual(hello["type"], "server_hello")
        self.assertEqual(hello["version"], 1)
        self.assertEqual(hello["max_frame"], 8192)
        self.assertEqual(hello["idle_timeout"], 77)
        self.assertTrue(0 < len(hello["agent"]) <= 64
                        and hello["agent"].isprintable(), hello)
        self.assertEqual(c.login("alice", PW["alice"]), ["alice"])

        b = self.raw(srv, label="raw(bob)")
        self.assertEqual(b.login("bob", PW["bob"]), ["alice", "bob"])
        c.expect("presence", skip=(), user="bob", status="online")
        b.ping()
        c.ping()
        b.send({"type": "who"})
        m = b.expect("presence_list")
        self.assertEqual((m["users"], m["more"]), (["alice", "bob"], False))
        b.send({"type": "bye", "code": "client_quit", "message": ""})
        b.expect_closed()
        c.expect("presence", skip=(), user="bob", status="offline")
        srv.stop()

    def test_version_negotiation(self):
        srv = self.server(PW)
        # Offered 1 and 7: the server picks the highest it speaks, 1.
        c = self.raw(srv, hello={"type": "client_hello",
                                 "versions": [7, 1]})
        self.assertEqual(c.handshake()["version"], 1)
        c.login("alice", PW["alice"])
        # Only versions the server does not speak: error, then close.
        c = self.raw(srv, hello={"type": "client_hello", "versions": [2, 9]})
        hello = c.handshake()
        self.assertEqual(hello.get("type"), "error", hello)
        self.assertEqual(hello.get("code"), "unsupported_version", hello)
        c.expect_closed()
        # A malformed client_hello ends the connection.
        for bad in ('{"type":"client_hello"}',
                    '{"type":"client_hello","versions":[]}',
                    '{"type":"client_hello","versions":[1],"x":1}',
                    '{"type":"login","user":"alice","password":"x"}',
                    '[1]', 'not json'):
            c = self.raw(srv, hello=bad)
            line = c._next_line(harness.WAIT_TIMEOUT)
            self.assertTrue(line is not None and line.startswith("CLOSED"),
                            "client_hello %r: got %r" % (bad, line))
        srv.stop()

    def test_before_login(self):
        srv = self.server(PW)
        for first in ({"type": "who"}, {"type": "ping"},
                      {"type": "send", "id": 1, "to": "bob", "body": ""}):
            c = self.raw(srv)
            c.handshake()
            c.send(first)
            seen = c.expect_closed()
            self.assertTrue(any(m.get("code") == "not_logged_in"
                                for m in seen),
                            "%r before login: %r" % (first, seen))
        srv.stop()

    def test_failed_logins_are_identical(self):
        srv = self.server(PW)
        answers = []
        for user, pw in (("alice", "wrong-password"),
                         ("nosuchuser", "wrong-password")):
            c = self.raw(srv)
            c.handshake()
            c.send({"type": "login", "user": user, "password": pw})
            answers.append(c.expect_closed())
        self.assertEqual(answers[0], answers[1],
                         "wrong password and unknown user answered "
                         "differently")
        self.assertEqual(len(answers[0]), 1, answers[0])
        err = answers[0][0]
        self.assertEqual(err["code"], "auth_failed")
        self.assertEqual(err["message"], "invalid username or password")
        srv.stop()

    def test_rate_limited_has_retry_after(self):
        srv = self.server(PW, config={"auth_fail_limit": 1,
                                      "auth_backoff_ms": 5000})
        c = self.raw(srv)
        c.handshake()
        c.send({"type": "login", "user": "carol", "password": "nope"})
        self.assertEqual(c.expect_closed()[0]["code"], "auth_failed")
        c = self.raw(srv)
        c.handshake()
        c.send({"type": "login", "user": "carol", "password": PW["carol"]})
        seen = c.expect_closed()
        self.assertEqual(len(seen), 1, seen)
        self.assertEqual(seen[0]["code"], "rate_limited", seen)
        self.assertIsInstance(seen[0].get("retry_after"), int, seen)
        self.assertTrue(1 <= seen[0]["retry_after"] <= 86400000, seen)
        srv.stop()

    def test_send_answers(self):
        srv = self.server(PW)
        a = self.logged_in(srv, "alice")
        b = self.logged_in(srv, "bob")
        a.expect("presence", skip=(), user="bob", status="online")

        # Errors carry the ref and come in order.
        a.send({"type": "send", "id": 11, "to": "carol", "body": b64("x")})
        a.send({"type": "send", "id": 12, "to": "alice", "body": b64("x")})
        a.send({"type": "send", "id": 13, "to": "zed", "body": b64("x")})
        a.send({"type": "send", "id": 14, "to": "bob", "body": b64("hi")})
        for ref, code, text in ((11, "recipient_offline",
                                 "Recipient not online"),
                                (12, "self_message",
                                 "You cannot message yourself"),
                                (13, "unknown_user", "no such user")):
            a.expect("error", ref=ref, code=code, message=text)
        sent = a.expect("sent", ref=14)
        msg = b.expect("message", skip=("presence",))
        self.assertEqual(set(msg), {"type", "id", "from", "ts", "body"})
        self.assertEqual(msg["from"], "alice")
        self.assertEqual(msg["body"], b64("hi"))
        self.assertEqual(msg["id"], sent["id"])
        self.assertLess(abs(msg["ts"] - time.time() * 1000), 60000)

        # Ids increase; an empty body and the largest body go through; the
        # server does not touch the body.
        big = base64.b64encode(os.urandom(32768)).decode()
        self.assertEqual(len(big), 43692)
        a.send({"type": "send", "id": 15, "to": "bob", "body": ""})
        a.send({"type": "send", "id": 16, "to": "bob", "body": big})
        s15 = a.expect("sent", ref=15)
        s16 = a.expect("sent", ref=16)
        self.assertLess(sent["id"], s15["id"])
        self.assertLess(s15["id"], s16["id"])
        self.assertEqual(b.expect("message")["body"], "")
        self.assertEqual(b.expect("message")["body"], big)

        # Over the body limit: refused, the session stays. 32769 bytes
        # encode to as many characters as 32768 (43692): the limit is on
        # the bytes (PROTOCOL.md 5.1), and the recipient's client cannot
        # take more (it would drop the session).
        for ref, n in ((17, 32770), (18, 32769)):
            over = base64.b64encode(os.urandom(n)).decode()
            a.send({"type": "send", "id": ref, "to": "bob", "body": over})
            e = a.expect("error")
            self.assertIn(e["code"], ("too_large", "bad_request"),
                          "a %d-byte body: %r" % (n, e))
            a.ping()
        b.expect_quiet()
        srv.stop()

    def test_bad_input_after_login_keeps_session(self):
        srv = self.server(PW)
        a = self.logged_in(srv, "alice")
        b = self.logged_in(srv, "bob")
        a.expect("presence", skip=(), user="bob", status="online")

        bad_bad_request = [
            "not json",
            "{\"type\":\"ping\"} trailing",
            "[\"type\",\"ping\"]",
            "{\"type\":\"ping\",\"type\":\"ping\"}",        # duplicate key
            "{\"type\":1}",
            "{}",
            # from cannot be chosen by the client
            json.dumps({"type": "send", "id": 1, "to": "bob",
                        "body": b64("x"), "from": "carol"}),
            json.dumps({"type": "send", "id": 2, "to": "bob"}),
            json.dumps({"type": "send", "id": 0, "to": "bob", "body": ""}),
            json.dumps({"type": "send", "id": 2 ** 53, "to": "bob",
                        "body": ""}),
            json.dumps({"type": "send", "id": 1.5, "to": "bob",
                        "body": ""}),
            json.dumps({"type": "send", "id": "3", "to": "bob",
                        "body": ""}),
            json.dumps({"type": "send", "id": 4, "to": "Bob",
                        "body": ""}),
            json.dumps({"type": "send", "id": 5, "to": "bob",
                        "body": "aGk"}),                   # no padding
            json.dumps({"type": "send", "id": 6, "to": "bob",
                        "body": "aGk=\n"}),
            json.dumps({"type": "send", "id": 7, "to": "bob",
                        "body": "aGl="}),                  # pad bits set
            json.dumps({"type": "who", "x": 1}),
            json.dumps({"type": "bye", "code": "client_quit",
                        "message": "a\u0000b"}),         # NUL in a string
        ]
        for text in bad_bad_request:
            a.send_text(text)
            e = a.expect("error")
            self.assertIn(e["code"], ("bad_request", "unknown_type"),
                          "%r -> %r" % (text, e))
            a.ping()
        # Not UTF-8 at all.
        a.send_bytes(b'{"type":"ping","x":"\xff\xfe"}')
        self.assertEqual(a.expect("error")["code"], "bad_request")
        a.ping()
        # Unknown types.
        for t in ("dance", "message", "login_ok"):
            a.send({"type": t})
            e = a.expect("error")
            self.assertIn(e["code"], ("unknown_type", "bad_request"), e)
        a.ping()
        # A second login.
        a.send({"type": "login", "user": "alice", "password": PW["alice"]})
        self.assertEqual(a.expect("error")["code"], "already_logged_in")
        a.ping()

        # Nothing of that reached bob, and alice still sends normally.
        b.expect_quiet()
        a.send({"type": "send", "id": 99, "to": "bob", "body": b64("ok")})
        a.expect("sent", ref=99)
        m = b.expect("message")
        self.assertEqual((m["from"], m["body"]), ("alice", b64("ok")))
        srv.stop()

    def test_fatal_frames_after_login(self):
        srv = self.server(PW, config={"max_frame": 4096})
        watcher = self.logged_in(srv, "carol")
        cases = [
            ("undecryptable frame", lambda c: c.raw(
                harness.frame(os.urandom(60)))),
            ("over-limit frame", lambda c: c.raw(
                (4097).to_bytes(2, "big") + b"\0" * 4097)),
            ("zero-length frame", lambda c: c.raw(b"\0\0")),
            ("sealed frame over max_frame", lambda c: c.send_text(
                "x" * 4100)),
        ]
        for name, act in cases:
            c = self.logged_in(srv, "alice")
            act(c)
            c.expect_closed(allow=("presence", "pong"))
            watcher.expect("presence", skip=(), user="alice",
                           status="online")
            watcher.expect("presence", skip=(), user="alice",
                           status="offline")
        watcher.ping()
        srv.stop()

    def test_idle_timeout(self):
        srv = self.server(PW, config={"idle_timeout": 2})
        a = self.logged_in(srv, "alice")
        time.sleep(1.0)
        a.ping()            # a frame resets the clock
        t0 = time.monotonic()
        seen = a.expect_closed(timeout=8)
        elapsed = time.monotonic() - t0
        self.assertTrue(any(m.get("type") == "bye"
                            and m.get("code") == "idle_timeout"
                            for m in seen), seen)
        self.assertGreater(elapsed, 1.0, "dropped before idle_timeout")
        self.assertLess(elapsed, 5.0, "not dropped after idle_timeout")
        srv.stop()

    def test_login_deadline(self):
        """handshake_timeout runs from accept to login_ok: a client that
        finishes the handshake and then never logs in is dropped."""
        srv = self.server(PW, config={"handshake_timeout": 2})
        c = self.raw(srv)
        t0 = time.monotonic()
        c.handshake()
        c.expect_closed(timeout=6)
        self.assertLess(time.monotonic() - t0, 4.5)
        # A login in time is not affected.
        self.logged_in(srv, "alice").ping()
        srv.stop()

    def test_shutdown_says_bye(self):
        srv = self.server(PW)
        a = self.logged_in(srv, "alice")
        half = self.raw(srv)
        half.handshake()
        srv.stop()
        seen = a.expect_closed()
        self.assertEqual(seen, [{"type": "bye", "code": "server_shutdown",
                                 "message": "server is shutting down"}])
        half.expect_closed(allow=("bye",))

    def test_server_full(self):
        srv = self.server(PW, config={"max_connections": 2})
        a = self.logged_in(srv, "alice")
        b = self.logged_in(srv, "bob")
        c = self.raw(srv)
        c.handshake()
        seen = c.expect_closed()
        self.assertEqual([m.get("code") for m in seen], ["server_full"],
                         seen)
        a.ping()
        b.send({"type": "bye", "code": "client_quit", "message": ""})
        b.expect_closed()
        a.expect("presence", skip=(), user="bob", status="offline")
        # A slot is free again.
        self.logged_in(srv, "carol")
        srv.stop()

    def test_slow_reader_is_dropped(self):
        # The server writes all the kernel takes (megabytes on loopback)
        # before its own cap fills: lift message_rate, which would answer
        # first.
        srv = self.server(PW, config={"output_buffer_max": 65536,
                                      "max_frame": 8192,
                                      "message_rate": 1000000,
                                      "message_burst": 1000000})
        b = self.logged_in(srv, "bob", rcvbuf=4096)
        a = self.logged_in(srv, "alice")
        b.pause()               # bob stops reading; the server must not
        body = base64.b64encode(os.urandom(4096)).decode()
        mark = srv.mark()
        dropped = False
        next_id = 1
        # The kernel buffers a few MB; far more than that must not pile up
        # in the server for one client.
        for batch in range(100):
            for _ in range(32):
                a.send({"type": "send", "id": next_id, "to": "bob",
                        "body": body})
                next_id += 1
            for _ in range(32):
                m = a.next()
                while m is not None and m.get("type") == "presence":
                    m = a.next()
                self.assertIsNotNone(m, "alice lost her connection")
                if m["type"] == "error":
                    self.assertEqual(m["code"], "recipient_offline", m)
                    dropped = True
                else:
                    self.assertEqual(m["type"], "sent", m)
            if dropped:
                break
        self.assertTrue(dropped, "bob was never dropped although he reads "
                        "nothing (%d MB sent)" % (next_id * 4 // 1024))
        srv.wait_log(r"outbuf-limit", since=mark, timeout=5)
        a.ping()
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_protocol.py SC_RAWCLIENT [unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
