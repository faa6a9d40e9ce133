# SPDX-License-Identifier: GPL-3.0-or-later
"""A client that never reads while others send to it (PROTOCOL.md §8,
output_buffer_max) is disconnected once its output reaches the cap
(log: reason=outbuf-limit). Its sender is never stalled: every send is
answered at once, "sent" while the reader's output has room and
"recipient_offline" after it was dropped; another pair chats throughout.
The server's memory is printed (VmRSS, VmHWM), not asserted: the
benchmark's figures are in docs/reliability-load.md."""

import base64
import os
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"slow": "slow-pw-outbuf", "fast": "fast-pw-outbuf",
      "alice": "alice-pw-outbuf", "bob": "bob-pw-outbuf"}
OUTBUF = 131072
BODY = base64.b64encode(os.urandom(8192)).decode("ascii")
MAX_SENDS = 400     # 3 MiB: far more than the cap and the socket buffers
ANSWER_TIMEOUT = 10.0


def memory(pid):
    """VmRSS and VmHWM of pid in KiB, from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


class SlowReaderTest(harness.IntegrationTest):
    def logged_in(self, srv, user, rcvbuf=None):
        c = harness.RawClient(self.scope, srv, rcvbuf=rcvbuf,
                              label="raw(%s)" % user)
        c.login(user, PW[user])
        return c

    def answer(self, client, ref):
        """The answer to send ref: the next sent or error, within
        ANSWER_TIMEOUT (presence events in between are skipped)."""
        while True:
            m = client.next(timeout=ANSWER_TIMEOUT)
            if m is None:
                self.fail("%s: send %d not answered within %.0f s (%r)" % (
                    client.label, ref, ANSWER_TIMEOUT, client.closed))
            if m.get("type") == "presence":
                continue
            self.assertIn(m.get("type"), ("sent", "error"), m)
            self.assertEqual(m.get("ref"), ref, m)
            return m

    def test_slow_reader_dropped_sender_not_stalled(self):
        srv = self.server(PW, config={"output_buffer_max": OUTBUF})
        slow = self.logged_in(srv, "slow", rcvbuf=1024)
        fast = self.logged_in(srv, "fast")
        alice = self.logged_in(srv, "alice")
        bob = self.logged_in(srv, "bob")
        before = memory(srv.proc.pid)
        slow.pause()

        sent = offline = 0
        for i in range(1, MAX_SENDS + 1):
            fast.send({"type": "send", "id": i, "to": "slow", "body": BODY})
            m = self.answer(fast, i)
            if m["type"] == "sent":
                self.assertEqual(offline, 0, "sent after recipient_offline")
                sent += 1
            else:
                self.assertEqual(m["code"], "recipient_offline", m)
                offline += 1
                if offline == 3:
                    break
            # The other pair goes on meanwhile.
            if i % 10 == 0:
                alice.send({"type": "send", "id": i, "to": "bob",
                            "body": "c3RpbGwgaGVyZQ=="})
                alice.expect("sent", ref=i)
                self.assertEqual(bob.expect("message")["from"], "alice")
        during = memory(srv.proc.pid)
        self.assertGreater(offline, 0, "the slow reader was never dropped "
                           "after %d sends" % sent)
        self.assertGreater(sent, 0)
        srv.wait_log(r"conn \d+ user=slow disconnected reason=outbuf-limit")

        # Everyone else is still connected and in sync.
        for c in (fast, alice, bob):
            c.ping()
        time.sleep(0.2)
        after = memory(srv.proc.pid)
        sys.stderr.write(
            "server memory (KiB): before %r, at the drop %r, after %r; "
            "%d sends queued before the drop (%d KiB each)\n" % (
                before, during, after, sent, len(BODY) * 3 // 4 // 1024))
        log = srv.stop()
        self.assertEqual(log.count("reason=outbuf-limit"), 1, log[-3000:])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_load_slow_reader.py SC_RAWCLIENT "
                 "[unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
