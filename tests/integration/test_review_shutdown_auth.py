# SPDX-License-Identifier: GPL-3.0-or-later
"""SIGTERM while password checks are queued and running (PROTOCOL.md §6
Shutdown): every connection that has a channel is told server_shutdown,
the server exits 0 within its grace period, and the hashing jobs it
drops leave nothing behind (ASan/LSan check the exit)."""

import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"alice": "alice-pw-shutdown", "bob": "bob-pw-shutdown"}


class ShutdownAuthTest(harness.IntegrationTest):
    def test_sigterm_during_authentication(self):
        srv = self.server(PW, config={"hash_workers": 1,
                                      "hash_queue_max": 64,
                                      "auth_fail_limit": 100})
        ready = harness.RawClient(self.scope, srv, label="raw(bob)")
        ready.login("bob", PW["bob"])
        waiting = []
        for i in range(12):
            c = harness.RawClient(self.scope, srv, label="auth%d" % i)
            c.handshake()
            waiting.append(c)
        for i, c in enumerate(waiting):
            c.send({"type": "login", "user": "alice",
                    "password": PW["alice"] if i % 2 else "wrong-%d" % i})
        time.sleep(0.05)
        t0 = time.monotonic()
        srv.stop()
        self.assertLess(time.monotonic() - t0, 10.0)
        seen = ready.expect_closed()
        self.assertIn({"type": "bye", "code": "server_shutdown",
                       "message": "server is shutting down"}, seen)
        for c in waiting:
            seen = c.expect_closed(allow=("presence", "login_ok",
                                          "presence_list", "prekey_status"))
            last = seen[-1] if seen else None
            self.assertIsNotNone(last, "%s: closed without a word" % c.label)
            self.assertIn(last.get("type"), ("bye", "error"), seen)
            # Half the logins are right: when one is checked before the
            # signal, the next right one replaces it (session_replaced).
            if last.get("type") == "bye":
                self.assertIn(last.get("code"),
                              ("server_shutdown", "session_replaced"), seen)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_review_shutdown_auth.py SC_RAWCLIENT "
                 "[unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
