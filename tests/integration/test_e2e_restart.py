# SPDX-License-Identifier: GPL-3.0-or-later
"""Sessions persist (PROTOCOL.md §12.6): a conversation continues, in both
directions, after either client process is restarted mid-conversation
(with /quit, or killed with SIGKILL), with the same data folder: no new
X3DH, no warning, nothing undecryptable, and the ratchet headers go on
where they stopped."""

import signal
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

A, B = "alice", "bob"
PASSWORDS = {A: "pw-restart-alice", B: "pw-restart-bob"}


class RestartTest(harness.IntegrationTest):
    def test_restart_either_side(self):
        srv = harness.testing_server(self.scope, PASSWORDS)
        srv.start()
        clis = {A: self.cli(srv, A), B: self.cli(srv, B)}
        chats = {B: harness.Chat(clis[B]), A: harness.Chat(clis[A])}
        sent = []
        n = [0]

        def turn(frm, to):
            n[0] += 1
            text = "restart test message %d from %s \u2714" % (n[0], frm)
            since = chats[to].mark()
            chats[frm].say(to, text)
            chats[to].expect(frm, text, since=since)
            sent.append((frm, to, text))

        def restart(user, hard=False):
            old = chats[user]
            if hard:
                self.scope.stop_process(old.p.proc, signal.SIGKILL)
            else:
                old.quit()
            outputs.append(old.p.output())
            chats[user] = harness.Chat(clis[user])

        outputs = []
        turn(A, B)
        turn(B, A)
        turn(A, B)
        restart(A)               # the initiator, cleanly
        turn(B, A)
        turn(A, B)
        restart(B, hard=True)    # the responder, killed
        turn(A, B)
        turn(B, A)
        turn(A, B)               # alice: two in one chain ...
        turn(A, B)
        restart(B)               # ... bob restarts between them ...
        turn(A, B)               # ... and the chain goes on
        turn(B, A)
        restart(A, hard=True)
        turn(A, B)
        turn(B, A)
        for chat in chats.values():
            chat.quit()
            outputs.append(chat.p.output())

        # Scripted mode: a new process per message, both directions.
        for frm, to in ((A, B), (B, A), (A, B)):
            n[0] += 1
            text = "scripted message %d from %s" % (n[0], frm)
            rx = clis[to].recv(count=1, timeout=30)
            res = clis[frm].send(to, text)
            self.assertEqual(res.rc, harness.EXIT_OK, res)
            got = rx.wait_exit()
            self.assertEqual(got.rc, harness.EXIT_OK, got)
            self.assertEqual(got.out, "%s: %s\n" % (frm, text))
            outputs.append(got.out + got.err + res.out + res.err)
            sent.append((frm, to, text))

        for text in outputs:
            for marker in (harness.IDENTITY_CHANGED, harness.UNDECRYPTABLE):
                self.assertNotIn(marker, text)
        harness.check_ratchet_headers(
            sent, harness.route_dump_messages(srv.route_dump), initiator=A)
        srv.stop()


if __name__ == "__main__":
    harness.main()
