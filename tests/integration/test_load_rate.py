# SPDX-License-Identifier: GPL-3.0-or-later
"""A user sending faster than message_rate (PROTOCOL.md §5.5, §8) gets
"rate_limited" with the send's ref and a retry_after for every send over
the limit: nothing is dropped silently, what was accepted is delivered in
order, and another pair chatting at the same time is not affected. After
a refusal the server reads nothing more from the flooder until its next
send would be accepted, so refusals cannot outnumber accepted sends. The
budget belongs to the user name, so logging in again does not refill it.
The CLI says so in plain words."""

import json
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"flood": "flood-pw-rate", "sink": "sink-pw-rate",
      "alice": "alice-pw-rate", "bob": "bob-pw-rate"}
RATE = 10     # sends a second, per user
BURST = 20    # sends at once
FLOOD = 60    # sends the flooder writes back to back
CALM = 10     # sends of the other pair, one at a time


def send_line(msg_id, to, body="aGk="):
    return json.dumps({"type": "send", "id": msg_id, "to": to,
                       "body": body}, separators=(",", ":"))


class RateLimitTest(harness.IntegrationTest):
    def logged_in(self, srv, user):
        c = harness.RawClient(self.scope, srv, label="raw(%s)" % user)
        c.login(user, PW[user])
        return c

    def answers(self, client, ids):
        """The answer to each id in ids, {id: message}; each must be one
        sent or one error carrying the id as ref, in the order sent."""
        got = {}
        for want in ids:
            m = self.next_answer(client)
            ref = m.get("ref")
            self.assertEqual(ref, want, "answers out of order: %r" % m)
            got[ref] = m
        return got

    def next_answer(self, client):
        while True:
            m = client.next(timeout=harness.WAIT_TIMEOUT)
            if m is None:
                self.fail("%s: no answer (closed: %r)\n%s" % (
                    client.label, client.closed, client.p.dump()))
            if m.get("type") in ("sent", "error"):
                return m
            self.assertEqual(m.get("type"), "presence", m)

    def test_flood_is_refused_with_refs_and_others_go_on(self):
        srv = self.server(PW, config={"message_rate": RATE,
                                      "message_burst": BURST})
        flood = self.logged_in(srv, "flood")
        sink = self.logged_in(srv, "sink")
        alice = self.logged_in(srv, "alice")
        bob = self.logged_in(srv, "bob")

        # The flood goes out in one go; the calm pair talks meanwhile,
        # one message at a time, each answered before the next.
        t_flood = time.monotonic()
        flood.p.write("".join("send %s\n" % send_line(i, "sink")
                              for i in range(1, FLOOD + 1)))
        for i in range(1, CALM + 1):
            alice.send({"type": "send", "id": i, "to": "bob",
                        "body": "Y2FsbQ=="})
            alice.expect("sent", ref=i)
            m = bob.expect("message")
            self.assertEqual((m["from"], m["body"]), ("alice", "Y2FsbQ=="))

        got = self.answers(flood, range(1, FLOOD + 1))
        t_flood_end = time.monotonic()
        elapsed = t_flood_end - t_flood
        sent = [i for i in sorted(got) if got[i]["type"] == "sent"]
        refused = [i for i in sorted(got) if got[i]["type"] == "error"]
        for i in refused:
            e = got[i]
            self.assertEqual(e["code"], "rate_limited", e)
            self.assertEqual(e["message"], "sending too fast, slow down", e)
            self.assertGreaterEqual(e.get("retry_after", 0), 1, e)
            self.assertLessEqual(e["retry_after"], 1000 // RATE, e)
        # The burst goes through, then RATE a second at most.
        self.assertEqual(sent[:BURST], list(range(1, BURST + 1)))
        self.assertLessEqual(len(sent), BURST + RATE * elapsed + 1,
                             "%d accepted in %.1f s" % (len(sent), elapsed))
        self.assertGreater(len(refused), 0)
        # Each refusal paused reading until a send would be accepted: after
        # the burst, refused and accepted sends alternate.
        self.assertLessEqual(len(refused), len(sent) - BURST + 2,
                             "%d refused, %d accepted" % (len(refused),
                                                          len(sent)))
        # What was accepted is delivered, in order, and nothing else.
        ids = [got[i]["id"] for i in sent]
        for mid in ids:
            m = sink.expect("message")
            self.assertEqual((m["from"], m["id"]), ("flood", mid), m)
        sink.expect_quiet(0.5)

        # Logging in again does not refill the budget: of BURST sends just
        # after, no more are accepted than the time since the flood allows.
        flood.quit()
        flood = self.logged_in(srv, "flood")
        flood.p.write("".join("send %s\n" % send_line(1000 + i, "sink")
                              for i in range(BURST)))
        again = self.answers(flood, range(1000, 1000 + BURST))
        accepted = sum(1 for m in again.values() if m["type"] == "sent")
        waited = time.monotonic() - t_flood_end
        self.assertLessEqual(accepted, 2 + RATE * waited,
                             "%d accepted within %.1f s of the flood" % (
                                 accepted, waited))
        if 2 + RATE * waited < BURST:
            self.assertLess(accepted, BURST, again)
        for ref in sorted(again):
            if again[ref]["type"] == "sent":
                m = sink.expect("message")
                self.assertEqual(m["id"], again[ref]["id"], m)

        # Everyone is still connected and in sync.
        for c in (flood, sink, alice, bob):
            c.ping()
        log = srv.stop()
        # One line when the flooder starts being refused, not one a send.
        self.assertLessEqual(log.count("sends refused reason=rate-limited"), 2,
                             log)
        self.assertIn("user=flood sends refused reason=rate-limited", log)
        self.assertNotIn("user=alice sends refused", log)

    def test_cli_says_slow_down(self):
        srv = self.server(PW, config={"message_rate": RATE,
                                      "message_burst": 3})
        rx = self.cli(srv, "bob").recv(count=3, timeout=60)
        chat = harness.Chat(self.cli(srv, "alice"))
        mark = chat.mark()
        for i in range(8):
            chat.say("bob", "quick %d" % i)
        chat.p.wait_for(
            r"(?m)^! message to bob failed: sending too fast, slow down "
            r"\(it can be sent again in \d+ m?s\)$", since=mark)
        res = rx.wait_exit(timeout=60)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        self.assertEqual(res.out.count("alice: quick "), 3, res)
        chat.quit()
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_load_rate.py SC_RAWCLIENT [unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
