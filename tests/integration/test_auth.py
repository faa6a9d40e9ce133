# SPDX-License-Identifier: GPL-3.0-or-later
"""Failed logins: a wrong password and an unknown user look the same to the
client but not in the server log; neither password is ever logged; repeated
failures are rate limited."""

import re
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

AUTH_FAILED = "authentication failed: invalid username or password"
WRONG_PW_1 = "Wr0ng-Pa55word-Xyzzy-1"
WRONG_PW_2 = "Wr0ng-Pa55word-Xyzzy-2"


def settle(srv, mark, quiet=0.3, limit=5.0):
    """Waits until the log has grown past mark and then stopped growing
    for `quiet` seconds; returns the new part."""
    deadline = time.monotonic() + limit
    last = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        text = srv.log_since(mark)
        if text != last:
            last = text
            since = time.monotonic()
        elif text and time.monotonic() - since >= quiet:
            break
        time.sleep(0.05)
    return last or ""


def normalise(segment, names):
    """Log lines without timestamps, numbers and the user names, so lines
    that differ only in those compare equal."""
    out = set()
    for line in segment.splitlines():
        line = harness.LOG_LINE_RE.sub("", line)
        for n in names:
            line = line.replace(n, "USER")
        out.add(re.sub(r"\d+", "N", line))
    return out


class AuthTest(harness.IntegrationTest):
    def test_wrong_password_and_unknown_user(self):
        srv = self.server({"alice": "alice-right-pw", "bob": "bob-right-pw"})

        m0 = srv.mark()
        wrong = self.cli(srv, "alice", password=WRONG_PW_1)
        r1 = wrong.send("bob", "never delivered")
        seg_a = settle(srv, m0)

        m1 = srv.mark()
        unknown = self.cli(srv, "mallory", password=WRONG_PW_2)
        r2 = unknown.send("bob", "never delivered")
        seg_b = settle(srv, m1)

        self.assertEqual(r1.rc, harness.EXIT_AUTH, r1)
        self.assertEqual(r2.rc, harness.EXIT_AUTH, r2)
        line1 = self.assertOneLine(r1.err)
        line2 = self.assertOneLine(r2.err)
        self.assertIn(AUTH_FAILED, line1)
        self.assertEqual(line1, line2,
                         "wrong password and unknown user must look the "
                         "same to the client")
        self.assertEqual(r1.out, r2.out)

        self.assertTrue(seg_a.strip(), "nothing logged for a bad password")
        self.assertTrue(seg_b.strip(), "nothing logged for an unknown user")
        self.assertNotEqual(
            normalise(seg_a, ["alice"]), normalise(seg_b, ["mallory"]),
            "the server log does not tell a wrong password from an unknown "
            "user:\n--- wrong password ---\n%s--- unknown user ---\n%s" % (
                seg_a, seg_b))

        # The right password still works (two failures are under the limit).
        ok = self.cli(srv, "alice").send("bob", "x")
        self.assertEqual(ok.rc, harness.EXIT_NOT_DELIVERED, ok)
        self.assertIn("Recipient not online", ok.err)

        log = srv.stop()
        for pw in (WRONG_PW_1, WRONG_PW_2, "alice-right-pw", "bob-right-pw"):
            self.assertNotIn(pw, log, "a password reached the server log")
        self.assertNotIn("never delivered", log)

    def test_repeated_failures_are_rate_limited(self):
        srv = self.server({"dave": "dave-right-pw", "erin": "erin-pw"},
                          config={"auth_fail_limit": 2,
                                  "auth_backoff_ms": 20000,
                                  "auth_backoff_max_ms": 60000})
        bad = self.cli(srv, "dave", password=WRONG_PW_1)
        for _ in range(2):
            r = bad.send("erin", "x")
            self.assertEqual(r.rc, harness.EXIT_AUTH, r)
            self.assertIn(AUTH_FAILED, self.assertOneLine(r.err))
        # Over the limit even the right password is refused for a while.
        good = self.cli(srv, "dave")
        r = good.send("erin", "x")
        self.assertEqual(r.rc, harness.EXIT_AUTH, r)
        line = self.assertOneLine(r.err)
        self.assertRegex(line, re.compile(r"too many|rate|retry|later",
                                          re.I),
                         "the client does not say it was rate limited")
        log = srv.stop()
        self.assertNotIn(WRONG_PW_1, log)
        self.assertNotIn("dave-right-pw", log)


if __name__ == "__main__":
    harness.main()
