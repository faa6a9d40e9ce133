# SPDX-License-Identifier: GPL-3.0-or-later
"""A send is answered by exactly one "sent" or one "error" carrying
ref = id, too_large and bad_request included (PROTOCOL.md 5.5, 7); so is
a bundle_request (5.14). The id is known whenever the request names one,
even when another member is invalid."""

import base64
import json
import os
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"alice": "alice-pw-refs", "bob": "bob-pw-refs"}


class RefsTest(harness.IntegrationTest):
    def logged_in(self, srv, user):
        c = harness.RawClient(self.scope, srv, label="raw(%s)" % user)
        c.login(user, PW[user])
        return c

    def test_invalid_send_error_has_ref(self):
        srv = self.server(PW)
        a = self.logged_in(srv, "alice")
        b = self.logged_in(srv, "bob")
        over = base64.b64encode(os.urandom(32769)).decode()
        cases = [
            ({"type": "send", "id": 41, "to": "bob", "body": over},
             ("too_large", "bad_request")),
            ({"type": "send", "id": 42, "to": "bob", "body": "aGk"},
             ("bad_request",)),
            ({"type": "send", "id": 43, "to": "Bob", "body": ""},
             ("bad_request",)),
            ({"type": "send", "id": 44, "to": "bob", "body": "",
              "from": "carol"}, ("bad_request",)),
            ({"type": "bundle_request", "id": 45, "user": "B o b"},
             ("bad_request",)),
        ]
        for req, codes in cases:
            a.send(req)
            e = a.expect("error")
            what = "%s id=%d -> %r" % (req["type"], req["id"], e)
            self.assertIn(e["code"], codes, what)
            self.assertEqual(e.get("ref"), req["id"], what)
        # No usable id: no ref.
        for text in ('{"type":"send","id":0,"to":"bob","body":""}',
                     '{"type":"send","id":1.5,"to":"bob","body":""}',
                     '{"type":"send","id":46,"id":47,"to":"bob","body":""}',
                     '{"type":"who","id":48}',
                     '{"type":"send\\u0000","id":49,"to":"bob","body":""}'):
            a.send_text(text)
            e = a.expect("error")
            self.assertNotIn("ref", e, "%r -> %r" % (text, e))
        a.send({"type": "send", "id": 50, "to": "bob", "body": ""})
        a.expect("sent", ref=50)
        b.expect("message")
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_review_refs.py SC_RAWCLIENT [unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
