# SPDX-License-Identifier: GPL-3.0-or-later
"""Every kind of malformed input, end to end, against PROTOCOL.md.

A table of inputs, each with the answer PROTOCOL.md documents for it:
wrong frame lengths (zero, over max_frame, truncated, shorter than a tag),
garbage, replayed and degenerate handshake messages, malformed
client_hello payloads, messages before login, a second login, and after
login every client message type with every member missing, doubled, of
every wrong JSON type or out of its range, unknown and server-only types,
invalid UTF-8, huge numbers, deep nesting, oversized bodies and invalid
user names. Each answer is checked for its code, its message (the default
text of PROTOCOL.md section 7, read from the document itself), its ref,
and whether the connection stays open, and nothing else may come back.
Meanwhile two real securechat-cli clients keep exchanging messages, and
every one must arrive. Prints how many malformed inputs were tried."""

import base64
import json
import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = {"alice": "alice-pw-bad", "bob": "bob-pw-bad", "carol": "carol-pw-bad",
      "dave": "dave-pw-bad", "erin": "erin-pw-bad",
      "frank": "frank-pw-bad"}     # frank never logs in
MAX_FRAME = 60000
HANDSHAKE_TIMEOUT = 4
IDLE_TIMEOUT = 5
TAG = 16
BATCH = 20
SIGNATURE_TEXT = "signed prekey signature does not verify"
PROTOCOL_MD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "PROTOCOL.md")


def default_messages():
    """code -> default message, from the table in PROTOCOL.md section 7."""
    rx = re.compile(r"^\| `([a-z_]+)` \| (error|bye) \| ([^|]+?) \|")
    table = {}
    with open(PROTOCOL_MD, encoding="utf-8") as f:
        for line in f:
            m = rx.match(line)
            if m:
                table[m.group(1)] = m.group(3)
    if "bad_request" not in table or "no_prekeys" not in table:
        raise RuntimeError("no error table in %s" % PROTOCOL_MD)
    return table


def b64(data):
    return base64.b64encode(data).decode("ascii")


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# Wrong values by name; some are valid for some members, see valid().
WRONG = {
    "null": None, "true": True, "false": False, "zero": 0, "negative": -1,
    "fraction": 1.5, "huge": 2 ** 64, "string": "x", "empty string": "",
    # Not a multiple of 4: no base64 either.
    "array": [], "object": {}, "long string": "y" * 4999,
}
USER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
ID_MAX = 2 ** 53 - 1


def valid(kind, value):
    """Whether value is acceptable for a member of this kind
    (PROTOCOL.md 5.1, 5.5, 5.11-5.14)."""
    if isinstance(value, bool):
        return False
    if kind == "id":
        return isinstance(value, int) and 1 <= value <= ID_MAX
    if kind == "key_id":
        return isinstance(value, int) and 1 <= value < 2 ** 32
    if kind == "user":
        return isinstance(value, str) and USER_RE.match(value) is not None
    if kind == "password":
        return isinstance(value, str) and 1 <= len(value.encode()) <= 1024
    if kind == "body":
        return value == ""
    if kind == "text":
        return isinstance(value, str) and len(value.encode()) <= 256
    if kind == "opks":
        return value == []
    return False    # code, fixed-size keys: none of WRONG fits


def over_limit(kind, value):
    """Whether value is a string over its member's size limit: answered
    too_large rather than bad_request (PROTOCOL.md 5.1)."""
    limits = {"password": 1024, "text": 256, "body": 43692}
    return kind in limits and isinstance(value, str) and \
        len(value.encode()) > limits[kind]


# Every client message type: a well-formed instance, and each member's kind.
KEY32 = b64(bytes(range(32)))
KEY64 = b64(bytes(range(64)))
TEMPLATES = {
    "send": ({"type": "send", "id": 41, "to": "frank", "body": "aGk="},
             {"id": "id", "to": "user", "body": "body"}),
    "bundle_request": ({"type": "bundle_request", "id": 42,
                        "user": "frank"},
                       {"id": "id", "user": "user"}),
    "prekeys_upload": ({"type": "prekeys_upload", "identity": KEY64,
                        "spk_id": 7, "spk": KEY32, "spk_sig": KEY64,
                        "opks": [{"id": 1, "key": KEY32}]},
                       {"identity": "key64", "spk_id": "key_id",
                        "spk": "key32", "spk_sig": "key64", "opks": "opks"}),
    "bye": ({"type": "bye", "code": "client_quit", "message": ""},
            {"code": "code", "message": "text"}),
    "login": ({"type": "login", "user": "alice", "password": "x"},
              {"user": "user", "password": "password"}),
    "who": ({"type": "who"}, {}),
    "ping": ({"type": "ping"}, {}),
    "pong": ({"type": "pong"}, {}),
}
SERVER_ONLY = [
    {"type": "client_hello", "versions": [1]},
    {"type": "server_hello", "version": 1, "agent": "x", "max_frame": 4096,
     "idle_timeout": 60},
    {"type": "login_ok", "user": "alice"},
    {"type": "sent", "ref": 1, "id": 1, "ts": 1},
    {"type": "message", "id": 1, "from": "bob", "ts": 1, "body": ""},
    {"type": "presence_list", "users": [], "more": False},
    {"type": "presence", "user": "bob", "status": "online"},
    {"type": "error", "code": "bad_request", "message": ""},
    {"type": "prekey_status", "identity": "", "spk_id": 0, "opks": 0},
    {"type": "bundle", "ref": 1, "user": "bob", "identity": KEY64,
     "spk_id": 1, "spk": KEY32, "spk_sig": KEY64},
]
BAD_USERNAMES = ["", "Bob", "-bob", ".bob", "_bob", "bob smith", "bob/x",
                 "b\u00e9b", "b" * 33, "bob\t", "\u0430lice"]
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88"
            b"\x80\x80\x80", b"\xf4\x90\x80\x80", b"\x80"]


class Expect:
    """What one input must get: an error (code, ref) on an open
    connection, one message of a given type, nothing, or a close."""

    def __init__(self, code=None, ref=None, answer=None, message=None,
                 close=False, malformed=True):
        self.code = code
        self.ref = ref
        self.answer = answer
        self.message = message
        self.close = close
        self.malformed = malformed


def error(code, ref=None, message=None):
    return Expect(code=code, ref=ref, message=message)


def ready_cases():
    """(name, plaintext bytes, Expect) for a logged-in connection (alice)."""
    cases = []

    def add(name, payload, expect):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        elif not isinstance(payload, bytes):
            payload = dumps(payload).encode("utf-8")
        cases.append((name, payload, expect))

    # Every member of every client message type: missing, doubled, of
    # each wrong type, plus one member too many.
    for mtype, (tmpl, members) in TEMPLATES.items():
        ref = tmpl.get("id") if mtype in ("send", "bundle_request") else None
        for member, kind in members.items():
            for wname, value in WRONG.items():
                if valid(kind, value):
                    continue
                msg = dict(tmpl)
                msg[member] = value
                code = "too_large" if over_limit(kind, value) \
                    else "bad_request"
                # 2^64 is no JSON integer jansson reads: no object, no ref.
                r = ref if member != "id" and wname != "huge" else None
                add("%s.%s %s" % (mtype, member, wname), msg,
                    error(code, r))
            msg = dict(tmpl)
            del msg[member]
            add("%s without %s" % (mtype, member), msg,
                error("bad_request", ref if member != "id" else None))
            text = dumps(tmpl)
            dup = '%s,"%s":%s}' % (text[:-1], member, json.dumps(tmpl[member]))
            # A duplicate member makes the text no object at all: no ref.
            add("%s with %s twice" % (mtype, member), dup,
                error("bad_request"))
        msg = dict(tmpl)
        msg["extra"] = 1
        add("%s with an unknown member" % mtype, msg,
            error("bad_request", ref))
        msg = dict(tmpl)
        msg["from"] = "carol"
        add("%s naming a sender" % mtype, msg, error("bad_request", ref))
        add("%s with type twice" % mtype,
            dumps(tmpl)[:-1] + ',"type":"%s"}' % mtype, error("bad_request"))

    # Members with the right JSON type but out of range.
    for name, value in (("zero", 0), ("2^53", 2 ** 53), ("negative", -5),
                        ("exponent", "1e2"), ("1.0", "1.0"),
                        ("-0", "-0"), ("1e400", "1e400"),
                        ("30 digits", "1" * 30)):
        text = '{"type":"send","id":%s,"to":"frank","body":""}' % (
            value if isinstance(value, str) else json.dumps(value))
        add("send.id %s" % name, text, error("bad_request"))
        text = '{"type":"bundle_request","id":%s,"user":"frank"}' % (
            value if isinstance(value, str) else json.dumps(value))
        add("bundle_request.id %s" % name, text, error("bad_request"))
    for name, value in (("zero", 0), ("2^32", 2 ** 32), ("2^63", 2 ** 63 - 1)):
        msg = dict(TEMPLATES["prekeys_upload"][0])
        msg["spk_id"] = value
        add("prekeys_upload.spk_id %s" % name, msg, error("bad_request"))
    for field, size in (("identity", 63), ("identity", 65), ("spk", 31),
                        ("spk", 33), ("spk_sig", 65)):
        msg = dict(TEMPLATES["prekeys_upload"][0])
        msg[field] = b64(bytes(size))
        add("prekeys_upload.%s of %d bytes" % (field, size), msg,
            error("bad_request"))
    msg = dict(TEMPLATES["prekeys_upload"][0])
    msg["spk"] = KEY32[:-1] + "\n"
    add("prekeys_upload.spk not canonical", msg, error("bad_request"))
    for name, opks in (("a number", [1]), ("without key", [{"id": 1}]),
                       ("without id", [{"key": KEY32}]),
                       ("with a third member",
                        [{"id": 1, "key": KEY32, "x": 0}]),
                       ("id 0", [{"id": 0, "key": KEY32}]),
                       ("id 2^32", [{"id": 2 ** 32, "key": KEY32}]),
                       ("short key", [{"id": 1, "key": b64(bytes(16))}]),
                       ("key of 33 bytes", [{"id": 1, "key": b64(bytes(33))}]),
                       ("nested list", [[{"id": 1, "key": KEY32}]])):
        msg = dict(TEMPLATES["prekeys_upload"][0])
        msg["opks"] = opks
        add("prekeys_upload.opks %s" % name, msg, error("bad_request"))
    msg = dict(TEMPLATES["prekeys_upload"][0])
    msg["opks"] = [{"id": i, "key": KEY32} for i in range(1, 102)]
    add("prekeys_upload with 101 one-time prekeys", msg, error("too_large"))
    for code in ("bad_request", "nonsense", "CLIENT_QUIT"):
        add("bye with code %s" % code,
            {"type": "bye", "code": code, "message": ""},
            error("bad_request"))
    add("bye with a 257-byte message",
        {"type": "bye", "code": "client_quit", "message": "m" * 257},
        error("too_large"))

    # Bodies: not canonical base64, and over the limit.
    for name, body in (("unpadded", "aGk"), ("pad bits set", "aGl="),
                       ("whitespace", "aGk=\n"), ("space inside", "aG k="),
                       ("url alphabet", "-_-_"), ("padding only", "===="),
                       ("too much padding", "aGk=="), ("one char", "a")):
        add("send.body %s" % name,
            {"type": "send", "id": 43, "to": "frank", "body": body},
            error("bad_request", 43))
    over = b64(bytes(32769))
    add("send.body of 32769 bytes", {"type": "send", "id": 44, "to": "frank",
                                     "body": over}, error("too_large", 44))
    add("send.body of 43696 characters",
        {"type": "send", "id": 45, "to": "frank", "body": b64(bytes(32770))},
        error("too_large", 45))
    add("send.body of 43696 non-base64 characters",
        {"type": "send", "id": 46, "to": "frank", "body": "!" * 43696},
        error("too_large", 46))

    # User names.
    for name in BAD_USERNAMES:
        add("send.to %r" % name,
            {"type": "send", "id": 47, "to": name, "body": ""},
            error("bad_request", 47))
        add("bundle_request.user %r" % name,
            {"type": "bundle_request", "id": 48, "user": name},
            error("bad_request", 48))
    add("send.to of 40000 characters",
        {"type": "send", "id": 49, "to": "a" * 40000, "body": ""},
        error("bad_request", 49))
    add("login.user 'Alice'",
        {"type": "login", "user": "Alice", "password": "x"},
        error("bad_request"))

    # Not one JSON object.
    for name, text in (
            ("empty plaintext", ""), ("whitespace only", "  \n"),
            ("not JSON", "hello"), ("a number", "42"),
            ("a string", '"ping"'), ("null", "null"),
            ("an array", '[{"type":"ping"}]'),
            ("two objects", '{"type":"ping"}{"type":"ping"}'),
            ("trailing garbage", '{"type":"ping"} x'),
            ("trailing comma", '{"type":"ping",}'),
            ("single quotes", "{'type':'ping'}"),
            ("unquoted key", '{type:"ping"}'),
            ("comment", '{"type":"ping"/* */}'),
            ("truncated", '{"type":"pi'), ("unclosed", '{"type":"ping"'),
            ("NUL escape", '{"type":"ping\\u0000"}'),
            ("NUL escape in a body", '{"type":"send","id":50,"to":"frank",'
             '"body":"\\u0000"}'),
            ("lone surrogate", '{"type":"ping","x":"\\ud800"}'),
            ("bad escape", '{"type":"ping","x":"\\q"}'),
            ("control character", '{"type":"ping","x":"a\x01b"}'),
            ("NaN", '{"type":"send","id":NaN,"to":"frank","body":""}'),
            ("Infinity", '{"type":"send","id":Infinity,"to":"frank",'
             '"body":""}'),
            ("hex number", '{"type":"send","id":0x10,"to":"frank","body":""}'),
            ("leading zero", '{"type":"send","id":01,"to":"frank","body":""}'),
            ("plus sign", '{"type":"send","id":+1,"to":"frank","body":""}'),
            ("byte order mark", '\ufeff{"type":"ping"}')):
        add(name, text, error("bad_request"))
    add("raw NUL byte", b'{"type":"ping"}\x00', error("bad_request"))
    for i, seq in enumerate(BAD_UTF8):
        add("invalid UTF-8 #%d %r" % (i, seq),
            b'{"type":"ping","x":"a' + seq + b'"}', error("bad_request"))
        add("invalid UTF-8 #%d in send.to" % i,
            b'{"type":"send","id":51,"to":"b' + seq + b'","body":""}',
            error("bad_request"))
    add("UTF-16", '{"type":"ping"}'.encode("utf-16"), error("bad_request"))

    # Nesting.
    for depth in (100, 2000, 20000):
        add("arrays nested %d deep" % depth,
            '{"type":"ping","x":%s%s}' % ("[" * depth, "]" * depth),
            error("bad_request"))
    add("objects nested 10000 deep",
        '{"type":"ping","x":%s1%s}' % ('{"a":' * 5000, "}" * 5000),
        error("bad_request"))
    add("top-level nesting", "[" * 25000 + "]" * 25000, error("bad_request"))
    add("a member with a huge array",
        '{"type":"ping","x":[%s]}' % ",".join(["1"] * 15000),
        error("bad_request"))

    # Types.
    for t in ("dance", "", "PING", "ping ", "pin", "send\u0000",
              "x" * 1000):
        if "\u0000" in t:
            add("type %r" % t, dumps({"type": t}), error("bad_request"))
        else:
            add("type %r" % t, {"type": t}, error("unknown_type"))
    for name, t in (("a number", 1), ("null", None), ("an array", ["ping"]),
                    ("an object", {"type": "ping"}), ("true", True)):
        add("type %s" % name, {"type": t}, error("bad_request"))
    add("no type", {"id": 1}, error("bad_request"))
    add("empty object", {}, error("bad_request"))
    for msg in SERVER_ONLY:
        add("server-only type %s" % msg["type"], msg, error("bad_request"))

    # A second login, right or wrong.
    add("second login", {"type": "login", "user": "alice",
                         "password": PW["alice"]},
        error("already_logged_in"))
    add("second login as another user",
        {"type": "login", "user": "bob", "password": PW["bob"]},
        error("already_logged_in"))
    add("second login with a wrong password",
        {"type": "login", "user": "alice", "password": "wrong"},
        error("already_logged_in"))

    # Well-formed requests the server refuses (not counted as malformed),
    # and well-formed ones it answers: the checks of the table itself.
    fine = [
        ("upload with a signature that does not verify",
         TEMPLATES["prekeys_upload"][0],
         error("bad_request", message=SIGNATURE_TEXT)),
        ("bundle of oneself", {"type": "bundle_request", "id": 60,
                               "user": "alice"},
         error("self_message", 60)),
        ("bundle of an unknown user", {"type": "bundle_request", "id": 61,
                                       "user": "zed"},
         error("unknown_user", 61)),
        ("bundle of a user without keys", {"type": "bundle_request",
                                           "id": 62, "user": "bob"},
         error("no_prekeys", 62)),
        ("send to an offline user", {"type": "send", "id": ID_MAX,
                                     "to": "frank",
                                     "body": b64(bytes(32768))},
         error("recipient_offline", ID_MAX)),
        ("send to oneself", {"type": "send", "id": 63, "to": "alice",
                             "body": ""}, error("self_message", 63)),
        ("send to an unknown user", {"type": "send", "id": 64, "to": "zed",
                                     "body": ""}, error("unknown_user", 64)),
        ("who", {"type": "who"}, Expect(answer="presence_list",
                                        malformed=False)),
        ("whitespace around", ' \t\n{"type":"who"}\r\n ',
         Expect(answer="presence_list", malformed=False)),
        ("pong", {"type": "pong"}, Expect(malformed=False)),
    ]
    for name, payload, expect in fine:
        expect.malformed = False
        add(name, payload, expect)
    return cases


def before_login_cases():
    """(name, plaintext, Expect) each on a new connection that has done
    the handshake and not logged in: one error, then the close."""
    cases = []

    def add(name, payload, code, malformed=True):
        if not isinstance(payload, (str, bytes)):
            payload = dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        e = Expect(code=code, close=True, malformed=malformed)
        cases.append((name, payload, e))

    for mtype in ("send", "who", "ping", "pong", "prekeys_upload",
                  "bundle_request", "bye"):
        add("%s before login" % mtype, TEMPLATES[mtype][0], "not_logged_in")
    for msg in SERVER_ONLY[2:5]:
        add("server-only %s before login" % msg["type"], msg,
            "not_logged_in")
    add("unknown type before login", {"type": "dance"}, "unknown_type")
    add("not JSON before login", "login please", "bad_request")
    add("invalid UTF-8 before login", b'{"type":"login","user":"alice",'
        b'"password":"\xff"}', "bad_request")
    add("deep nesting before login", "[" * 20000 + "]" * 20000,
        "bad_request")
    add("login twice in one object", '{"type":"login","user":"alice",'
        '"password":"x","user":"bob"}', "bad_request")
    login = TEMPLATES["login"][0]
    for member, kind in TEMPLATES["login"][1].items():
        for wname in ("null", "zero", "array", "empty string"):
            value = WRONG[wname]
            if valid(kind, value):
                continue
            msg = dict(login)
            msg[member] = value
            add("login.%s %s" % (member, wname), msg, "bad_request")
        msg = dict(login)
        del msg[member]
        add("login without %s" % member, msg, "bad_request")
    add("login with an unknown member", dict(login, agent="x"),
        "bad_request")
    for name in BAD_USERNAMES[:6]:
        add("login as %r" % name, dict(login, user=name), "bad_request")
    add("login with a 1025-byte password",
        dict(login, password="p" * 1025), "too_large")
    add("login with a NUL in the password",
        '{"type":"login","user":"alice","password":"a\\u0000b"}',
        "bad_request")
    # Longer than libxcrypt hashes (511 bytes), within the protocol's
    # limit: the ordinary failure (PROTOCOL.md 5.1).
    add("login with a 600-byte password", dict(login, password="p" * 600),
        "auth_failed", malformed=False)
    return cases


def hello_cases():
    """(name, client_hello text, what happens): "close" (no message 2),
    "ok" or "unsupported"."""
    agent = '"agent":"x"'
    cases = [
        ("no versions", '{"type":"client_hello"}', "close"),
        ("empty versions", '{"type":"client_hello","versions":[]}', "close"),
        ("version 0", '{"type":"client_hello","versions":[0]}', "close"),
        ("version 65536", '{"type":"client_hello","versions":[65536]}',
         "close"),
        ("version as a string", '{"type":"client_hello","versions":["1"]}',
         "close"),
        ("version 1.0", '{"type":"client_hello","versions":[1.0]}', "close"),
        ("nine versions", '{"type":"client_hello","versions":[%s]}' % ",".join(
            ["1"] * 9), "close"),
        ("versions an object", '{"type":"client_hello","versions":{"1":1}}',
         "close"),
        ("agent of 65 characters",
         '{"type":"client_hello","versions":[1],"agent":"%s"}' % ("a" * 65),
         "close"),
        ("agent with a control character",
         '{"type":"client_hello","versions":[1],"agent":"a\\u0001"}', "close"),
        ("agent not ASCII",
         '{"type":"client_hello","versions":[1],"agent":"\u00e9"}', "close"),
        ("agent a number", '{"type":"client_hello","versions":[1],"agent":1}',
         "close"),
        ("unknown member", '{"type":"client_hello","versions":[1],"x":1}',
         "close"),
        ("versions twice",
         '{"type":"client_hello","versions":[1],"versions":[1]}', "close"),
        ("wrong type", '{"type":"login","user":"alice","password":"x"}',
         "close"),
        ("no type", '{"versions":[1],%s}' % agent, "close"),
        ("not JSON", "hello", "close"),
        ("an array", "[1]", "close"),
        ("deep nesting", "[" * 3000 + "]" * 3000, "close"),
        ("invalid UTF-8",
         '{"type":"client_hello","versions":[1],"agent":"\udcff"}', "close"),
        ("trailing garbage", '{"type":"client_hello","versions":[1]} x',
         "close"),
        # Well-formed: the checks of the table itself.
        ("versions 7 and 1", '{"type":"client_hello","versions":[7,1]}',
         "ok"),
        ("versions 2 and 9 only", '{"type":"client_hello","versions":[2,9]}',
         "unsupported"),
    ]
    return cases


class EofWatcher(threading.Thread):
    """harness.watch_eof on a thread; closed holds absolute times."""

    def __init__(self, socks, timeout):
        super().__init__(daemon=True)
        self.socks = socks
        self.timeout = timeout
        self.start_time = time.monotonic()
        self.closed = {}

    def run(self):
        rel = harness.watch_eof(self.socks, self.timeout)
        self.closed = {s: self.start_time + t for s, t in rel.items()}


class ClosedWatcher(threading.Thread):
    """Waits on a thread for an sc-rawclient connection to be closed."""

    def __init__(self, client, timeout):
        super().__init__(daemon=True)
        self.client = client
        self.timeout = timeout
        self.seen = None
        self.at = None
        self.error = None

    def run(self):
        try:
            self.seen = self.client.expect_closed(timeout=self.timeout,
                                                  allow=("presence",))
            self.at = time.monotonic()
        except AssertionError as e:
            self.error = e


class Pair(threading.Thread):
    """Two interactive securechat-cli clients sending each other messages
    until told to stop; every message must arrive."""

    def __init__(self, a, b):
        super().__init__(daemon=True)
        self.a = a
        self.b = b
        self.stop_event = threading.Event()
        self.exchanged = 0
        self.worst = 0.0
        self.error = None

    def run(self):
        try:
            n = 0
            while not self.stop_event.is_set():
                n += 1
                for frm, to in ((self.a, self.b), (self.b, self.a)):
                    text = "well-behaved %d from %s" % (n, frm.user)
                    mark = to.mark()
                    t0 = time.monotonic()
                    frm.say(to.user, text)
                    to.expect(frm.user, text, since=mark)
                    self.worst = max(self.worst, time.monotonic() - t0)
                    self.exchanged += 1
                time.sleep(0.05)
        except BaseException as e:  # reported by the main thread
            self.error = e


class BadInputTest(harness.IntegrationTest):
    def setUp(self):
        self.defaults = default_messages()
        self.tried = 0
        self.problems = []

    def raw(self, srv, **kw):
        return harness.RawClient(self.scope, srv, **kw)

    def check_error(self, name, m, expect):
        if m is None or m.get("type") != "error":
            return "%s: expected error %s, got %r" % (name, expect.code, m)
        want = {"type", "code", "message"}
        if expect.ref is not None:
            want.add("ref")
        if set(m) != want:
            return "%s: members %r, expected %r (%r)" % (
                name, sorted(m), sorted(want), m)
        if m["code"] != expect.code:
            return "%s: code %s, expected %s (%r)" % (name, m["code"],
                                                      expect.code, m)
        text = expect.message or self.defaults[expect.code]
        if m["message"] != text:
            return "%s: message %r, expected %r" % (name, m["message"], text)
        if expect.ref is not None and m["ref"] != expect.ref:
            return "%s: ref %r, expected %r" % (name, m["ref"], expect.ref)
        return None

    # -- after login ----------------------------------------------------
    def run_ready(self, srv, cases):
        """Runs cases in pipelined batches on logged-in connections; after
        each input a ping, so that exactly the expected answer and then
        the pong must come back."""
        c = None
        for start in range(0, len(cases), BATCH):
            if c is None:
                c = self.raw(srv, label="raw(alice)")
                c.login("alice", PW["alice"])
            batch = cases[start:start + BATCH]
            for name, payload, expect in batch:
                c.send_bytes(payload)
                c.send({"type": "ping"})
            for name, payload, expect in batch:
                if expect.malformed:
                    self.tried += 1
                got = []
                while True:
                    m = c.next(timeout=harness.WAIT_TIMEOUT)
                    if m is None:
                        break
                    if m.get("type") in ("presence", "prekey_status"):
                        continue
                    if m.get("type") == "pong":
                        break
                    got.append(m)
                if m is None:
                    self.problems.append(
                        "%s: the connection closed (%s) after %r" % (
                            name, c.closed, got))
                    c = None
                    break
                if expect.code is not None:
                    problem = self.check_error(name, got[0] if got else None,
                                               expect)
                    if problem is None and len(got) != 1:
                        problem = "%s: more than one answer: %r" % (name, got)
                elif expect.answer is not None:
                    problem = None if [g.get("type") for g in got] == [
                        expect.answer] else "%s: expected one %s, got %r" % (
                            name, expect.answer, got)
                else:
                    problem = None if not got else \
                        "%s: expected no answer, got %r" % (name, got)
                if problem:
                    self.problems.append(problem)
            if c is not None and start // BATCH % 8 == 7:
                c.quit()
                c = None
        if c is not None:
            c.quit()

    # -- before login ---------------------------------------------------
    def run_before_login(self, srv, cases):
        for start in range(0, len(cases), 8):
            batch = []
            for name, payload, expect in cases[start:start + 8]:
                c = self.raw(srv, label="raw(%s)" % name)
                c.send_bytes(payload)
                batch.append((name, expect, c))
            for name, expect, c in batch:
                if expect.malformed:
                    self.tried += 1
                try:
                    c.handshake()
                    seen = c.expect_closed(allow=())
                except AssertionError as e:
                    self.problems.append("%s: %s" % (name, e))
                    continue
                problem = self.check_error(name, seen[0] if seen else None,
                                           expect)
                if problem is None and len(seen) != 1:
                    problem = "%s: answers %r" % (name, seen)
                if problem:
                    self.problems.append(problem)
                c.p.wait_exit()

    def run_hellos(self, srv):
        cases = hello_cases()
        clients = [(name, what, self.raw(srv, hello=text,
                                         label="hello(%s)" % name))
                   for name, text, what in cases]
        for name, what, c in clients:
            if what == "close":
                self.tried += 1
            line = c._next_line(harness.WAIT_TIMEOUT)
            if what == "close":
                if line is None or not line.startswith("CLOSED"):
                    self.problems.append("client_hello %s: got %r, expected "
                                         "the close" % (name, line))
                c.p.wait_exit()
                continue
            hello = None
            if line and line.startswith("KEY "):
                line = c._next_line(harness.WAIT_TIMEOUT)
                if line and line.startswith("HELLO "):
                    hello = json.loads(line[6:])
            if what == "ok":
                if not hello or hello.get("type") != "server_hello":
                    self.problems.append("client_hello %s: %r" % (name,
                                                                  hello))
            else:
                err = Expect(code="unsupported_version")
                problem = self.check_error("client_hello " + name, hello, err)
                if problem:
                    self.problems.append(problem)
                c.expect_closed(allow=())
                c.p.wait_exit()
                continue
            c.quit()

    # -- the handshake and framing, on plain sockets --------------------
    def run_wire(self, srv):
        """Inputs below the Noise layer; returns the slow ones to check at
        the end (their timeouts run meanwhile)."""
        hello = dumps({"type": "client_hello", "versions": [1]}).encode()
        prompt = []     # (name, socket): must close at once
        slow = []       # (name, socket, t0, limit): closed by a timeout

        def sock(payload):
            s = self.scope.socket(srv.addr)
            if payload:
                s.sendall(payload)
            return s

        prompt.append(("zero-length frame first", sock(b"\0\0")))
        prompt.append(("frame over max_frame first",
                       sock((MAX_FRAME + 1).to_bytes(2, "big") + b"A" * 64)))
        prompt.append(("frame of 65535 first",
                       sock(b"\xff\xff" + b"A" * 100)))
        prompt.append(("message 1 shorter than a key",
                       sock(harness.frame(os.urandom(10)))))
        prompt.append(("message 1 of a key and garbage",
                       sock(harness.frame(os.urandom(32) + b"{garbage"))))
        prompt.append(("message 1 of a key only",
                       sock(harness.frame(os.urandom(32)))))
        prompt.append(("all-zero ephemeral key",
                       sock(harness.frame(bytes(32) + hello))))
        prompt.append(("ephemeral key of order 1 (u = 1)",
                       sock(harness.frame(b"\x01" + bytes(31) + hello))))
        t0 = time.monotonic()
        # "GE" announces 18245 bytes, within max_frame: they never come.
        slow.append(("HTTP request",
                     sock(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), t0,
                     HANDSHAKE_TIMEOUT))
        slow.append(("truncated message 1",
                     sock((100).to_bytes(2, "big") + os.urandom(10)), t0,
                     HANDSHAKE_TIMEOUT))
        slow.append(("silence", sock(b""), t0, HANDSHAKE_TIMEOUT))
        slow.append(("TLS client hello",
                     sock(bytes.fromhex("160301020001") + os.urandom(40)), t0,
                     HANDSHAKE_TIMEOUT))
        self.tried += len(prompt) + len(slow)
        watcher = EofWatcher([s for _, s, _, _ in slow],
                             HANDSHAKE_TIMEOUT + 4)
        watcher.start()

        # Message 1 replayed: on a new connection it gets a fresh server
        # ephemeral key; on the same connection it is no transport message.
        msg1 = harness.frame(os.urandom(32) + hello)
        answers = []
        for _ in range(2):
            s = sock(msg1)
            s.settimeout(harness.WAIT_TIMEOUT)
            head = b""
            while len(head) < 34:
                chunk = s.recv(34 - len(head))
                if not chunk:
                    break
                head += chunk
            answers.append(head)
            if len(head) == 34:
                s.sendall(msg1)     # the replay, on the same connection
                prompt.append(("message 1 replayed on its connection", s))
        self.tried += 2
        if len(answers[0]) != 34 or len(answers[1]) != 34:
            self.problems.append("message 1 replayed on a new connection: "
                                 "no message 2 (%r)" % answers)
        elif answers[0][2:] == answers[1][2:]:
            self.problems.append("message 1 replayed: the same server "
                                 "ephemeral key twice")

        closed = harness.watch_eof([s for _, s in prompt], 1.5)
        for name, s in prompt:
            if s not in closed:
                self.problems.append("%s: not closed within 1.5 s" % name)
        return slow, watcher

    def check_slow(self, slow, watcher):
        """Closed by handshake_timeout: not before it, and not long
        after."""
        watcher.join(HANDSHAKE_TIMEOUT + 10)
        for name, s, t0, limit in slow:
            at = watcher.closed.get(s)
            if at is None:
                self.problems.append("%s: still open after %.0f s" % (
                    name, HANDSHAKE_TIMEOUT + 4))
            elif not limit - 1.0 <= at - t0 <= limit + 3.0:
                self.problems.append("%s: closed after %.1f s, expected "
                                     "about %d" % (name, at - t0, limit))

    def run_frames_after_handshake(self, srv):
        """Frame-level faults on encrypted connections: each closes the
        connection, before and after login, with no answer."""
        cases = [
            ("zero-length frame", lambda c: c.raw(b"\0\0")),
            ("frame over max_frame", lambda c: c.raw(
                (MAX_FRAME + 1).to_bytes(2, "big") + b"\0" * 100)),
            ("frame that does not decrypt",
             lambda c: c.raw(harness.frame(os.urandom(60)))),
            ("frame shorter than a tag",
             lambda c: c.raw(harness.frame(os.urandom(TAG - 1)))),
            ("sealed plaintext over max_frame",
             lambda c: c.send_text("x" * (MAX_FRAME - TAG + 1))),
            ("message 1 again", lambda c: c.raw(harness.frame(
                os.urandom(32) + b'{"type":"client_hello","versions":[1]}'))),
        ]
        # Not malformed: a client's bye is not answered either.
        bye = ("bye from the client", lambda c: c.send(
            {"type": "bye", "code": "client_quit", "message": ""}))
        for logged_in in (False, True):
            for name, act in cases + ([bye] if logged_in else []):
                c = self.raw(srv, label="raw(%s)" % name)
                if logged_in:
                    c.login("carol", PW["carol"])
                else:
                    c.handshake()
                act(c)
                if name != bye[0]:
                    self.tried += 1
                try:
                    seen = c.expect_closed(allow=("presence",
                                                  "prekey_status"))
                except AssertionError as e:
                    self.problems.append("%s: %s" % (name, e))
                    continue
                errors = [m for m in seen if m.get("type") in ("error",
                                                               "bye")]
                if errors:
                    self.problems.append("%s%s: answered %r before the "
                                         "close" % (name, " after login"
                                                    if logged_in else "",
                                                    errors))
                c.p.wait_exit()

    def run_truncated_after_login(self, srv):
        """A frame that never completes does not count as activity: the
        idle timeout ends the session with bye idle_timeout."""
        c = self.raw(srv, label="raw(truncated)")
        c.login("bob", PW["bob"])
        t0 = time.monotonic()
        c.raw((200).to_bytes(2, "big") + os.urandom(50))
        self.tried += 1
        w = ClosedWatcher(c, IDLE_TIMEOUT + 5)
        w.start()
        return w, t0

    def check_truncated(self, w, t0):
        w.join(IDLE_TIMEOUT + 10)
        if w.error is not None or w.seen is None:
            self.problems.append("truncated frame after login: %s" % w.error)
            return
        byes = [m for m in w.seen if m.get("type") == "bye"]
        if [b.get("code") for b in byes] != ["idle_timeout"]:
            self.problems.append("truncated frame after login: %r" % w.seen)
        elif not IDLE_TIMEOUT - 1.0 <= w.at - t0 <= IDLE_TIMEOUT + 3.0:
            self.problems.append("truncated frame after login: closed after "
                                 "%.1f s, expected about %d" % (
                                     w.at - t0, IDLE_TIMEOUT))

    def test_bad_input(self):
        srv = self.server(PW, config={
            "max_frame": MAX_FRAME, "handshake_timeout": HANDSHAKE_TIMEOUT,
            "idle_timeout": IDLE_TIMEOUT, "auth_fail_limit": 1000,
            "max_pending_per_ip": 200})
        t_start = time.monotonic()
        dave = harness.Chat(self.cli(srv, "dave"))
        erin = harness.Chat(self.cli(srv, "erin"))
        pair = Pair(dave, erin)
        pair.start()
        try:
            slow = self.run_wire(srv)
            truncated = self.run_truncated_after_login(srv)
            self.run_hellos(srv)
            self.run_before_login(srv, before_login_cases())
            self.run_frames_after_handshake(srv)
            self.run_ready(srv, ready_cases())
            self.check_slow(*slow)
            self.check_truncated(*truncated)
        finally:
            pair.stop_event.set()
            pair.join(harness.WAIT_TIMEOUT * 2 + 5)
        elapsed = time.monotonic() - t_start
        if pair.error is not None:
            raise pair.error
        self.assertFalse(pair.is_alive(), "the well-behaved pair hangs")
        dave.quit()
        erin.quit()
        log = srv.stop()
        for pw in PW.values():
            self.assertNotIn(pw, log)
        print("malformed inputs tried: %d in %.1f s; %d messages between "
              "two well-behaved clients meanwhile, slowest %.0f ms" % (
                  self.tried, elapsed, pair.exchanged, pair.worst * 1000))
        self.assertEqual(self.problems, [], "\n" + "\n".join(self.problems))
        self.assertGreater(pair.exchanged, 0)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_bad_input.py SC_RAWCLIENT [unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
