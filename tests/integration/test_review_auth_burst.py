# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_fail_limit (PROTOCOL.md §6, §8) holds for guesses made at the same
time: password checks still running count against the user, so a burst
of parallel logins gets no more verdicts than the limit allows."""

import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"alice": "alice-right-pw", "bob": "bob-right-pw"}
LIMIT = 3
BURST = 10


class AuthBurstTest(harness.IntegrationTest):
    def test_parallel_guesses_stay_within_the_limit(self):
        srv = self.server(PW, config={"auth_fail_limit": LIMIT,
                                      "hash_workers": 1,
                                      "auth_backoff_ms": 30000,
                                      "auth_backoff_max_ms": 60000})
        guesses = []
        for i in range(BURST):
            c = harness.RawClient(self.scope, srv, label="guess%d" % i)
            c.handshake()
            guesses.append(c)
        for i, c in enumerate(guesses):
            c.send({"type": "login", "user": "alice",
                    "password": "wrong-%d" % i})
        codes = []
        for c in guesses:
            seen = c.expect_closed(timeout=60)
            self.assertEqual(len(seen), 1, seen)
            self.assertEqual(seen[0]["type"], "error", seen)
            codes.append(seen[0]["code"])
            if seen[0]["code"] == "rate_limited":
                self.assertGreater(seen[0].get("retry_after", 0), 0, seen)
        self.assertEqual(set(codes) - {"auth_failed", "rate_limited"}, set(),
                         codes)
        self.assertLessEqual(codes.count("auth_failed"), LIMIT,
                             "%d parallel guesses checked with a limit of "
                             "%d: %r" % (codes.count("auth_failed"), LIMIT,
                                         codes))
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_review_auth_burst.py SC_RAWCLIENT "
                 "[unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
