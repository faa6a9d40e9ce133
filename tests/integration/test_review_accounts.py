# SPDX-License-Identifier: GPL-3.0-or-later
"""Accounts added or deleted while securechatd runs (PROTOCOL.md §6
Routing, §5.14): a send to a name answers recipient_offline exactly when
the account exists, and unknown_user when it does not, without a restart
or a SIGHUP in between; bundle_request follows the same accounts."""

import base64
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"alice": "alice-pw-accounts", "bob": "bob-pw-accounts"}


class AccountsTest(harness.IntegrationTest):
    def test_accounts_changed_while_running(self):
        srv = self.server(PW)
        a = harness.RawClient(self.scope, srv, label="raw(alice)")
        a.login("alice", PW["alice"])
        body = base64.b64encode(b"hi").decode()

        a.send({"type": "send", "id": 1, "to": "carol", "body": body})
        a.expect("error", ref=1, code="unknown_user")
        srv.useradd("carol", "carol-pw-accounts")
        a.send({"type": "send", "id": 2, "to": "carol", "body": body})
        a.expect("error", ref=2, code="recipient_offline")
        a.send({"type": "bundle_request", "id": 3, "user": "carol"})
        a.expect("error", ref=3, code="no_prekeys")

        res = srv.admin("userdel", "bob")
        self.assertEqual(res.rc, 0, res)
        a.send({"type": "send", "id": 4, "to": "bob", "body": body})
        a.expect("error", ref=4, code="unknown_user")
        a.send({"type": "bundle_request", "id": 5, "user": "bob"})
        a.expect("error", ref=5, code="unknown_user")
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_review_accounts.py SC_RAWCLIENT "
                 "[unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
