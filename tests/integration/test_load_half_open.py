# SPDX-License-Identifier: GPL-3.0-or-later
"""Half-open floods (PROTOCOL.md §8: max_pending, max_pending_per_ip,
handshake_timeout): connections that never send a byte, from several
addresses of 127.0.0.0/8, do not lock out a real user. One address holds
at most max_pending_per_ip of them; when many addresses together reach
max_pending, a newcomer from an address holding fewer takes the place of
the oldest connection of the address holding the most, so a real user
still gets in while the flood goes on (and reconnects).

And a burst of handshakes: hundreds of message 1 at once are run a few
per window (server.h, SERVER_HANDSHAKES_PER_WINDOW), the rest waiting
their turn; every one is answered, and a real user logs in meanwhile."""

import json
import os
import resource
import selectors
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"alice": "alice-pw-flood", "bob": "bob-pw-flood"}
MAX_PENDING = 40
PER_IP = 10
ONE_SOURCE = 50          # from 127.0.0.2: only PER_IP may stay
SOURCES = 6              # 127.0.0.3 .. 127.0.0.8
PER_SOURCE = 150         # 900 more connections
SETTLE = 20.0            # seconds for the server to take them all in


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY
                                          or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Flood:
    """Connections that never send anything; a thread notices the ones the
    server closes (and reopens them while reconnect is set)."""

    def __init__(self, scope, addr):
        self.addr = addr
        self.lock = threading.Lock()
        self.open = {}          # socket -> source address
        self.closed = 0
        self.reconnect = False
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        scope.on_close(self.close)

    def connect(self, source, n, chunk=20):
        """n connections from source, chunk at a time: a burst larger than
        the listen backlog would leave some waiting in the kernel for SYN
        retries, neither refused nor held, for many seconds."""
        for i in range(n):
            self._one(source)
            if i % chunk == chunk - 1:
                time.sleep(0.05)

    def _one(self, source):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((source, 0))
        try:
            s.connect(self.addr)
        except BlockingIOError:
            pass
        with self.lock:
            self.open[s] = source
            self.sel.register(s, selectors.EVENT_READ)

    def _watch(self):
        while not self.stop.is_set():
            with self.lock:
                if not self.open:
                    ready = []
                else:
                    ready = self.sel.select(0)
            if not ready:
                time.sleep(0.01)
                continue
            for key, _ in ready:
                s = key.fileobj
                try:
                    data = s.recv(256)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    continue   # the server never speaks first
                with self.lock:
                    source = self.open.pop(s)
                    self.sel.unregister(s)
                    self.closed += 1
                s.close()
                if self.reconnect and not self.stop.is_set():
                    self._one(source)

    def count(self, source=None):
        with self.lock:
            return sum(1 for src in self.open.values()
                       if source is None or src == source)

    def settle(self, most, timeout=SETTLE):
        """Waits until at most `most` connections are open and the number
        holds still for half a second; returns it."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            n = self.count()
            if n != last:
                last, since = n, time.monotonic()
            elif n <= most and time.monotonic() - since >= 0.5:
                return n
            time.sleep(0.05)
        harness.fail("the flood did not settle at <= %d open connections "
                     "within %.0f s (%s open)" % (most, timeout, last))

    def close(self):
        self.stop.set()
        self.thread.join(5.0)
        with self.lock:
            for s in list(self.open):
                self.sel.unregister(s)
                s.close()
            self.open.clear()
        self.sel.close()


def message1():
    """A frame with Noise message 1: an ephemeral public key (any 32 bytes
    are one for X25519; the server does its part of the handshake with
    them) and the client_hello in the clear (PROTOCOL.md §3.2)."""
    hello = json.dumps({"type": "client_hello", "versions": [1],
                        "agent": "test-burst"}, separators=(",", ":"))
    return harness.frame(os.urandom(32) + hello.encode("ascii"))


def read_frame(sock, deadline):
    """One whole frame from sock (blocking, until deadline), or None when
    the connection closed or the time ran out."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, OSError):
            return None
        if not chunk:
            return None
        data += chunk
        if len(data) >= 2 and len(data) >= 2 + int.from_bytes(data[:2],
                                                              "big"):
            return data[2:2 + int.from_bytes(data[:2], "big")]


class HalfOpenFloodTest(harness.IntegrationTest):
    def real_user_chats(self, srv, text):
        rx = self.cli(srv, "bob").recv(count=1, timeout=60)
        res = self.cli(srv, "alice").send("bob", text, timeout=60)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit(timeout=60)
        self.assertEqual(got.out, "alice: %s\n" % text, got)

    def test_flood_does_not_lock_out_real_users(self):
        raise_nofile()
        srv = self.server(PW, config={"max_pending": MAX_PENDING,
                                      "max_pending_per_ip": PER_IP,
                                      "handshake_timeout": 120})
        flood = Flood(self.scope, srv.addr)

        # One address: held up to its own cap, the rest closed at once.
        flood.connect("127.0.0.2", ONE_SOURCE)
        self.assertEqual(flood.settle(PER_IP), PER_IP)
        self.real_user_chats(srv, "through one noisy address")

        # Many addresses: together over max_pending, which the server keeps
        # full, and no more.
        mark = srv.mark()
        for i in range(SOURCES):
            flood.connect("127.0.0.%d" % (3 + i), PER_SOURCE)
        self.assertEqual(flood.settle(MAX_PENDING), MAX_PENDING)
        log = srv.log_since(mark)
        self.assertTrue("reason=pending-evicted" in log,
                        "no pending connection was evicted")
        self.assertTrue("refused reason=too-many-pending" in log,
                        "no connection was refused")
        # No address holds more than its share; none was starved to zero
        # by the others.
        for i in range(SOURCES):
            n = flood.count("127.0.0.%d" % (3 + i))
            self.assertLessEqual(n, PER_IP, n)
            self.assertGreater(n, 0, "127.0.0.%d lost every place" % (3 + i))

        # While the flood holds every place, and reconnects whatever the
        # server closes, real users still log in and chat.
        flood.reconnect = True
        self.real_user_chats(srv, "through the flood")
        self.real_user_chats(srv, "and again")
        flood.reconnect = False
        self.assertLessEqual(flood.count(), MAX_PENDING)

        flood.close()
        log = srv.stop()
        self.assertNotIn("through the flood", log)

    def test_handshake_burst_all_answered(self):
        raise_nofile()
        burst = 300
        srv = self.server(PW, config={"max_pending": 2 * burst,
                                      "max_pending_per_ip": burst})
        socks = []
        for i in range(burst):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.scope.on_close(s.close)
            s.bind(("127.0.0.%d" % (2 + i % 4), 0))
            s.settimeout(10)
            s.connect(srv.addr)
            socks.append(s)
        # All the message 1s at once: far more than one window's worth.
        payload = message1()
        for s in socks:
            s.sendall(payload)
        self.real_user_chats(srv, "during the burst")
        deadline = time.monotonic() + 60
        answered = 0
        for s in socks:
            body = read_frame(s, deadline)
            # e, then s and the server_hello, encrypted (3.2).
            if body is not None and len(body) >= 32 + 48 + 16:
                answered += 1
        self.assertEqual(answered, burst)
        for s in socks:
            s.close()
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_load_half_open.py SC_RAWCLIENT [unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
