# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash consistency of the server's data folder.

securechatd is killed with SIGKILL at random moments while accounts and
prekeys are being written, many times over (SC_CRASH_ITERATIONS, default
200, or SC_CRASH_SECONDS, default 60, whichever comes first), and some of
the admin commands writing next to it are killed too. Each iteration
starts the server, runs a random mix of

- admin commands on the data folder: useradd, passwd, userdel;
- logins of users with the original project's bcrypt hashes, which the
  server upgrades to yescrypt (a write of credentials.json) before it
  answers login_ok;
- securechat-cli logins from fresh installations, each publishing a new
  identity and prekeys (a write of prekeys/USER.json) before the client
  says "logged in as";
- a burst of bundle requests, each taking a one-time prekey out of the
  store (a write) before the bundle is answered;

then kills the server. Before anything else touches the folder, every file
in it must parse with the expected schema (credentials.json, prekeys/*.json,
server.key), and nothing that was reported done may be lost: every account
change an admin command reported, every upgrade answered by login_ok, every
upload acknowledged to a client is on disk, every one-time prekey handed out
is gone from the store; an operation in flight may have happened or not,
but never half. Temporary files a kill left behind are counted ("writes
killed mid-way") and must be gone once the server has started again and
written once. The seed is printed; SC_CRASH_SEED=N repeats a run."""

import base64
import glob
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import warnings

sys.dont_write_bytecode = True
import harness  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (stdlib, deprecated in 3.11, still present)

MAX_ITERATIONS = int(os.environ.get("SC_CRASH_ITERATIONS", "200"))
MAX_SECONDS = float(os.environ.get("SC_CRASH_SECONDS", "60"))
PK_USERS = ["pk%d" % i for i in range(4)]
REQUESTER = "req"
REQUESTER_PW = "pw-requester"
BCRYPT_USERS = 400
BURST = 50                 # bundle requests per iteration (limit: 60)
KILL_WINDOW = (0.03, 0.5)  # seconds after the workload starts
AIM_TIMEOUT = 3.0
ANSWER_RE = re.compile(r'^(RECV \{"type":"(bundle|error)"|CLOSED|ERR )',
                       re.M)
ADMIN_KILL_CHANCE = 0.3
SETTLE_TIMEOUT = 20.0

USER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
HASH_RE = re.compile(r"^\$(y|2b)\$[\x21-\x7e]+$")
CRED_TMP_RE = re.compile(r"^credentials\.json\.tmp\.(\d+)$")
PK_TMP_RE = re.compile(r"^\.([a-z0-9][a-z0-9._-]{0,31})\.tmp$")
PK_FILE_RE = re.compile(r"^([a-z0-9][a-z0-9._-]{0,31})\.json$")
DATA_FILES = {"server.key", "credentials.json", "credentials.json.lock",
              "prekeys"}


def b64_exact(value, size, what):
    if not isinstance(value, str):
        harness.fail("%s is not a string: %r" % (what, value))
    try:
        data = harness.b64decode_strict(value)
    except ValueError as e:
        harness.fail("%s: %s" % (what, e))
    if len(data) != size:
        harness.fail("%s: %d bytes, expected %d" % (what, len(data), size))
    return data


def strict_json(data, what):
    """Parses data as UTF-8 JSON, refusing duplicate keys anywhere."""
    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            harness.fail("%s: duplicate keys in %r" % (what, keys))
        return dict(items)
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, ValueError) as e:
        harness.fail("%s does not parse (%s): %r" % (what, e, data[:200]))


def check_credentials(data):
    """credentials.json: an object of username -> crypt hash."""
    creds = strict_json(data, "credentials.json")
    if not isinstance(creds, dict):
        harness.fail("credentials.json is not an object: %r" % data[:200])
    for user, h in creds.items():
        if not USER_RE.match(user):
            harness.fail("credentials.json: bad user name %r" % user)
        if not isinstance(h, str) or not HASH_RE.match(h):
            harness.fail("credentials.json: %s has no crypt hash: %r" % (
                user, h))
    return creds


def check_bundle(user, data):
    """prekeys/USER.json (server/prekeys.h)."""
    what = "prekeys/%s.json" % user
    b = strict_json(data, what)
    if not isinstance(b, dict) or set(b) != {"identity", "spk_id", "spk",
                                              "spk_sig", "opks"}:
        harness.fail("%s: unexpected members %r" % (what, b))
    b64_exact(b["identity"], 64, what + " identity")
    b64_exact(b["spk"], 32, what + " spk")
    b64_exact(b["spk_sig"], 64, what + " spk_sig")
    if not isinstance(b["spk_id"], int) or not 1 <= b["spk_id"] < 2 ** 32:
        harness.fail("%s: spk_id %r" % (what, b["spk_id"]))
    if not isinstance(b["opks"], list) or len(b["opks"]) > 200:
        harness.fail("%s: opks is not a list of at most 200" % what)
    ids = set()
    for o in b["opks"]:
        if not isinstance(o, dict) or set(o) != {"id", "key"}:
            harness.fail("%s: bad one-time prekey %r" % (what, o))
        if not isinstance(o["id"], int) or not 1 <= o["id"] < 2 ** 32 \
                or o["id"] in ids:
            harness.fail("%s: bad or repeated one-time prekey id %r" % (
                what, o["id"]))
        ids.add(o["id"])
        b64_exact(o["key"], 32, what + " opk key")
    return b


def check_server_key(data):
    text = data.decode("ascii", errors="replace")
    m = re.fullmatch(r"-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=\n]+)"
                     r"-----END PRIVATE KEY-----\n", text)
    if not m:
        harness.fail("server.key is not a PEM private key: %r" % text)
    der = base64.b64decode(m.group(1).replace("\n", ""), validate=True)
    # PKCS#8 of an X25519 key: 48 bytes, ending in the 32-byte key.
    if len(der) != 48:
        harness.fail("server.key: %d bytes of DER, expected 48" % len(der))


def cli_spk(home):
    """(spk_id, spk_sig) of the current signed prekey that the CLI
    installation in home keeps (common/e2e.c, the "prekeys" record:
    version, BE32 next spk id, BE32 next opk id, u8 has_current, then
    BE32 id, 32 private, 64 signature), or None before it wrote one."""
    paths = glob.glob(os.path.join(home, ".local", "share", "securechat",
                                   "*", "*", "prekeys"))
    if len(paths) != 1:
        return None
    with open(paths[0], "rb") as f:
        rec = f.read()
    if len(rec) < 110 or rec[0] != 1 or rec[9] != 1:
        return None
    return (int.from_bytes(rec[10:14], "big"),
            base64.b64encode(rec[46:110]).decode("ascii"))


def release(p):
    """Closes the pipes of a finished ClientProcess: hundreds of them run
    in one test."""
    for f in (p.proc.stdin, p.proc.stdout, p.proc.stderr):
        try:
            f.close()
        except OSError:
            pass


class BurstDriver(threading.Thread):
    """Logs in as the requester and asks for the bundles one at a time,
    each request once the previous one is answered, so that the store's
    writes are spread over time and a kill can land between or inside
    them (pipelined, the server would answer them all in one flush)."""

    def __init__(self, raw, asked):
        super().__init__(daemon=True)
        self.raw = raw
        self.asked = asked
        self.answered = 0

    def run(self):
        try:
            self.drive()
        except AssertionError:
            pass    # sc-rawclient ended with the server: nothing to ask

    def drive(self):
        out = self.raw.p.out
        pos = 0
        self.raw.send({"type": "login", "user": REQUESTER,
                       "password": REQUESTER_PW})
        for i in sorted(self.asked):
            self.raw.send({"type": "bundle_request", "id": i,
                           "user": self.asked[i]})
            m = out.wait(ANSWER_RE, harness.WAIT_TIMEOUT, since=pos)
            if m is None or not m.group(0).startswith("RECV"):
                return
            pos = m.end()
            self.answered += 1


class Verifier:
    """Checks passwords against crypt hashes, remembering what verified."""

    def __init__(self):
        self.ok = set()

    def verifies(self, password, h):
        if (h, password) in self.ok:
            return True
        if crypt.crypt(password, h) == h:
            self.ok.add((h, password))
            return True
        return False


class Account:
    """What the test knows of one account: present or not, and with which
    password (definite between iterations; ops note what may have
    happened)."""

    def __init__(self, present, password, kind):
        self.present = present
        self.password = password
        self.kind = kind
        self.may = None      # (present, password) alternatives after an op

    def expectations(self):
        return self.may or [(self.present, self.password)]


class Op:
    """One admin command in flight."""

    def __init__(self, scope, srv, kind, user, password, log_dir, n):
        self.kind = kind
        self.user = user
        self.password = password
        self.out_path = os.path.join(log_dir, "admin-%d.out" % n)
        self.err_path = os.path.join(log_dir, "admin-%d.err" % n)
        cmd = [srv.bin, kind, "--data-dir", srv.dir, user]
        with open(self.out_path, "wb") as out, \
                open(self.err_path, "wb") as err:
            self.proc = scope.spawn(
                cmd, stdin=subprocess.PIPE if password else
                subprocess.DEVNULL, stdout=out, stderr=err)
        if password:
            self.proc.stdin.write((password + "\n").encode())
            self.proc.stdin.close()
        self.killed = False
        self.kill_at = None

    def result(self):
        with open(self.out_path, "rb") as f:
            out = harness.decode(f.read())
        with open(self.err_path, "rb") as f:
            err = harness.decode(f.read())
        return self.proc.returncode, out, err


class CrashConsistencyTest(harness.IntegrationTest):
    def setUp(self):
        seed = os.environ.get("SC_CRASH_SEED")
        self.seed = int(seed) if seed else int.from_bytes(os.urandom(4),
                                                          "big")
        print("seed %d (repeat with SC_CRASH_SEED=%d)" % (self.seed,
                                                          self.seed),
              flush=True)
        self.rnd = random.Random(self.seed)
        self.verifier = Verifier()

    def fail_with_seed(self, msg):
        harness.fail("seed %d: %s" % (self.seed, msg))

    # -- the data folder ------------------------------------------------
    def scan(self, srv):
        """Every file of the data folder parsed; returns (creds, bundles,
        temporary files)."""
        temps = []
        names = set(os.listdir(srv.dir))
        for name in names - DATA_FILES:
            if CRED_TMP_RE.match(name):
                temps.append(name)
            elif name != "securechatd.conf":
                self.fail_with_seed("unexpected file %s in the data folder"
                                    % name)
        with open(os.path.join(srv.dir, "server.key"), "rb") as f:
            key = f.read()
        check_server_key(key)
        if key != self.server_key:
            self.fail_with_seed("server.key changed")
        with open(os.path.join(srv.dir, "credentials.json"), "rb") as f:
            creds = check_credentials(f.read())
        bundles = {}
        pk_dir = os.path.join(srv.dir, "prekeys")
        if os.path.isdir(pk_dir):
            for name in os.listdir(pk_dir):
                m = PK_FILE_RE.match(name)
                if m:
                    with open(os.path.join(pk_dir, name), "rb") as f:
                        bundles[m.group(1)] = check_bundle(m.group(1),
                                                           f.read())
                elif PK_TMP_RE.match(name):
                    temps.append("prekeys/" + name)
                else:
                    self.fail_with_seed("unexpected file prekeys/%s" % name)
        return creds, bundles, temps

    # -- the model ------------------------------------------------------
    def check_accounts(self, creds):
        """Every account as the model allows, then the model follows what
        is on disk."""
        for user in creds:
            if user not in self.accounts:
                self.fail_with_seed("unknown account %s appeared" % user)
        for user, acct in self.accounts.items():
            h = creds.get(user)
            choices = acct.expectations()
            match = None
            for present, password in choices:
                if not present and h is None:
                    match = (False, None)
                    break
                if present and h is not None and \
                        self.verifier.verifies(password, h):
                    match = (True, password)
                    break
            if match is None:
                self.fail_with_seed(
                    "account %s (%s) is %s, expected one of %r" % (
                        user, acct.kind,
                        "missing" if h is None else "hash %r" % h,
                        [("present, password %r" % p) if pr else "absent"
                         for pr, p in choices]))
            acct.present, acct.password = match
            acct.may = None
            if acct.kind == "bcrypt" and user in self.upgraded and \
                    not h.startswith("$y$"):
                self.fail_with_seed("%s got login_ok but its hash was not "
                                    "upgraded: %r" % (user, h))

    def check_bundles(self, bundles):
        for user in bundles:
            if user not in PK_USERS:
                self.fail_with_seed("prekeys of %s, who never published"
                                    % user)
        for user in PK_USERS:
            b = bundles.get(user)
            allowed = self.pk_allowed[user]
            if b is None:
                if self.pk_acked[user]:
                    self.fail_with_seed(
                        "prekeys of %s are gone after an acknowledged "
                        "upload" % user)
                self.pk_allowed[user] = set()
                continue
            sig = (b["spk_id"], b["spk_sig"])
            if sig not in allowed:
                self.fail_with_seed(
                    "prekeys of %s hold signed prekey %d, which no recent "
                    "upload sent (expected one of %r)" % (
                        user, b["spk_id"], sorted(i for i, _ in allowed)))
            self.pk_acked[user] = True
            again = {o["id"] for o in b["opks"]} & self.handed_out[user]
            if again:
                self.fail_with_seed(
                    "one-time prekeys %r of %s were handed out and are "
                    "still stored" % (sorted(again), user))
            self.pk_allowed[user] = {sig}
            self.pk_home[user] = self.sig_home.get(sig, self.pk_home[user])

    # -- one iteration --------------------------------------------------
    def start_admin_ops(self, srv, log_dir):
        ops = []
        used = set()
        for _ in range(self.rnd.randint(1, 3)):
            present = sorted(u for u, a in self.accounts.items()
                             if a.kind == "admin" and a.present
                             and u not in used)
            choice = self.rnd.random()
            if choice < 0.45 or len(present) < 3:
                self.next_admin += 1
                user = "ad%d" % self.next_admin
                kind, pw = "useradd", "pw-%d-%d" % (self.seed,
                                                    self.rnd.getrandbits(40))
                self.accounts[user] = Account(False, None, "admin")
            elif choice < 0.8:
                user = self.rnd.choice(present)
                kind, pw = "passwd", "pw-%d-%d" % (self.seed,
                                                   self.rnd.getrandbits(40))
            else:
                user = self.rnd.choice(present)
                kind, pw = "userdel", None
            used.add(user)
            self.n_ops += 1
            op = Op(self.scope, srv, kind, user, pw, log_dir, self.n_ops)
            if self.rnd.random() < ADMIN_KILL_CHANCE:
                op.kill_at = self.rnd.uniform(0.0, 0.25)
            ops.append(op)
        return ops

    def settle_admin_op(self, op):
        acct = self.accounts[op.user]
        old = (acct.present, acct.password)
        new = {"useradd": (True, op.password), "passwd": (True, op.password),
               "userdel": (False, None)}[op.kind]
        rc, out, err = op.result()
        marker = harness.sanitizer_report(err)
        if marker:
            self.fail_with_seed("%s %s: sanitizer report (%s)\n%s" % (
                op.kind, op.user, marker, err))
        if op.killed and rc == -signal.SIGKILL:
            acct.may = [new, old]
            self.stats["admin_killed"] += 1
            return
        if rc != 0:
            self.fail_with_seed("%s %s failed (%s):\n%s%s" % (
                op.kind, op.user, rc, out, err))
        acct.may = [new]
        self.stats["admin_done"] += 1

    def start_clients(self, srv):
        """CLI uploads, bcrypt logins and the bundle burst; returns a list
        of (kind, user, process, extra)."""
        clients = []
        for user in self.rnd.sample(PK_USERS, self.rnd.randint(1, 2)):
            cli = harness.Cli(self.scope, srv, user,
                              password=self.accounts[user].password)
            p = cli.recv(count=1, timeout=20, wait_ready=False)
            clients.append(("upload", user, p, cli.home))
        for _ in range(self.rnd.randint(1, 2)):
            if self.next_bcrypt >= BCRYPT_USERS:
                break
            user = "bc%d" % self.next_bcrypt
            self.next_bcrypt += 1
            raw = harness.RawClient(self.scope, srv, label="raw(%s)" % user)
            raw.send({"type": "login", "user": user,
                      "password": self.accounts[user].password})
            clients.append(("bcrypt", user, raw, None))
        targets = [u for u in PK_USERS if self.pk_acked[u]]
        if targets:
            raw = harness.RawClient(self.scope, srv, label="raw(req)")
            asked = {i: self.rnd.choice(targets)
                     for i in range(1, BURST + 1)}
            driver = BurstDriver(raw, asked)
            driver.start()
            clients.append(("burst", REQUESTER, driver, asked))
        return clients

    def settle_client(self, kind, user, p, extra):
        if kind == "upload":
            res = p.stop()
            release(p)
            confirmed = re.search(r"(?m)^logged in as %s$" % user, res.err) \
                and "could not publish" not in res.err
            spk = cli_spk(extra)
            if spk is not None:
                self.sig_home[spk] = extra
            if confirmed:
                if spk is None:
                    self.fail_with_seed("%s logged in without keys:\n%r" % (
                        user, res))
                self.pk_allowed[user] = {spk}
                self.pk_acked[user] = True
                self.stats["uploads_acked"] += 1
            elif spk is not None:
                # In flight at the kill: stored or not, but whole.
                self.pk_allowed[user].add(spk)
            return
        if kind == "burst":
            p.join(SETTLE_TIMEOUT)
            if p.is_alive():
                self.fail_with_seed("the bundle burst did not end")
            p = p.raw
        # sc-rawclient exits by itself once the server is gone.
        res = p.p.wait_exit(timeout=SETTLE_TIMEOUT)
        release(p.p)
        msgs = []
        for line in res.out.splitlines():
            if line.startswith("RECV "):
                msgs.append(json.loads(line[5:]))
            elif line.startswith("ERR cannot connect"):
                return      # started after the kill: nothing happened
            elif line.startswith("ERR "):
                self.fail_with_seed("%s: %s" % (p.label, line))
        if kind == "bcrypt":
            if any(m.get("type") == "login_ok" for m in msgs):
                self.upgraded.add(user)
                self.stats["upgrades_acked"] += 1
            bad = [m for m in msgs if m.get("type") == "error"]
            if bad:
                self.fail_with_seed("login of %s: %r" % (user, bad))
            return
        answered = sum(1 for m in msgs if m.get("type") == "bundle")
        if 0 < answered < len(extra):
            self.stats["burst_cut"] += 1
        for m in msgs:
            if m.get("type") == "bundle":
                if extra.get(m["ref"]) != m["user"]:
                    self.fail_with_seed("bundle %r answers no request" % m)
                if "opk_id" in m:
                    self.handed_out[m["user"]].add(m["opk_id"])
                    self.stats["opks_handed_out"] += 1
            elif m.get("type") == "error":
                # A target that lost its keys to a replaced bundle still
                # has some; nothing else is expected.
                self.fail_with_seed("bundle burst: %r" % m)

    def iteration(self, srv, n):
        srv.start()
        if srv.proc.poll() is not None:
            self.fail_with_seed("the server did not start")
        # Stale temporary files of the prekey store are gone at start.
        _, _, temps = self.scan(srv)
        left = [t for t in temps if t.startswith("prekeys/")]
        if left:
            self.fail_with_seed("temporary files left after a restart: %r"
                                % left)
        # A real login of an account whose state is known proves the
        # server reads what is on disk.
        present = sorted(u for u, a in self.accounts.items()
                         if a.kind == "admin" and a.present)
        if present and n % 4 == 0:
            user = self.rnd.choice(present)
            raw = harness.RawClient(self.scope, srv, label="raw(%s)" % user)
            raw.login(user, self.accounts[user].password)
            raw.quit()
            release(raw.p)
            self.stats["logins_checked"] += 1

        log_dir = self.scope.new_dir("iter")
        t0 = time.monotonic()
        ops = self.start_admin_ops(srv, log_dir)
        clients = self.start_clients(srv)
        # Half of the kills land at a random moment of the whole workload,
        # the other half once a random number of the burst's bundles came
        # back, while its writes follow each other.
        burst = next((c[2] for c in clients if c[0] == "burst"), None)
        aim = burst is not None and self.rnd.random() < 0.5
        if aim:
            self.stats["aimed"] += 1
            aim_at = self.rnd.randint(1, BURST - 1)
        kill_at = self.rnd.uniform(*KILL_WINDOW)
        admin_kills = sorted(((op.kill_at, n, op) for n, op in enumerate(ops)
                              if op.kill_at is not None), key=lambda e: e[0])
        while True:
            now = time.monotonic() - t0
            while admin_kills and admin_kills[0][0] <= now:
                op = admin_kills.pop(0)[2]
                if op.proc.poll() is None:
                    os.kill(op.proc.pid, signal.SIGKILL)
                    op.killed = True
            if aim:
                if burst.answered >= aim_at or now >= AIM_TIMEOUT:
                    break
            elif now >= kill_at:
                break
            time.sleep(0.002)
        srv.kill_hard()
        if srv.proc.returncode != -signal.SIGKILL:
            self.fail_with_seed("the server exited by itself (%s):\n%s" % (
                srv.proc.returncode, srv.log()))
        for _, _, op in admin_kills:
            if op.proc.poll() is None:
                os.kill(op.proc.pid, signal.SIGKILL)
                op.killed = True
        marker = harness.sanitizer_report(srv.log())
        if marker:
            self.fail_with_seed("server sanitizer report (%s):\n%s" % (
                marker, srv.log()))
        for op in ops:
            try:
                op.proc.wait(timeout=SETTLE_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.fail_with_seed("%s %s did not finish" % (op.kind,
                                                              op.user))
        for c in clients:
            self.settle_client(*c)
        for op in ops:
            self.settle_admin_op(op)

        creds, bundles, temps = self.scan(srv)
        for t in temps:
            self.stats["temp_files"] += 1
            m = CRED_TMP_RE.match(t)
            if m and int(m.group(1)) == srv.proc.pid:
                self.stats["server_creds_killed"] += 1
            elif m:
                self.stats["admin_creds_killed"] += 1
            else:
                self.stats["prekeys_killed"] += 1
        self.check_accounts(creds)
        self.check_bundles(bundles)

    # -- the test -------------------------------------------------------
    def test_kill_loop(self):
        users = {REQUESTER: REQUESTER_PW}
        for u in PK_USERS:
            users[u] = "pw-%s" % u
        srv = harness.Server(self.scope, users=users)
        srv.port = harness.free_port()
        srv.fixed_port = True   # the clients' key folders are per HOST:PORT
        with open(os.path.join(srv.dir, "server.key"), "rb") as f:
            self.server_key = f.read()

        # The original project's hashes, cheap ones ($2b$04$), to upgrade.
        creds = srv.credentials()
        self.accounts = {u: Account(True, p, "seed") for u, p in
                         users.items()}
        for i in range(BCRYPT_USERS):
            user, pw = "bc%d" % i, "bcrypt-pw-%d" % i
            creds[user] = crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH,
                                                       rounds=16))
            self.accounts[user] = Account(True, pw, "bcrypt")
        path = os.path.join(srv.dir, "credentials.json")
        with open(path + ".new", "w") as f:
            json.dump(creds, f)
        os.chmod(path + ".new", 0o600)
        os.rename(path + ".new", path)

        self.next_admin = 0
        self.next_bcrypt = 0
        self.n_ops = 0
        self.upgraded = set()
        # Signed prekeys (id, signature) the store may hold for each user,
        # and whether an upload of theirs was ever acknowledged.
        self.pk_allowed = {u: set() for u in PK_USERS}
        self.pk_acked = {u: False for u in PK_USERS}
        self.pk_home = {u: None for u in PK_USERS}
        self.sig_home = {}
        self.handed_out = {u: set() for u in PK_USERS}
        self.stats = {k: 0 for k in (
            "admin_done", "admin_killed", "uploads_acked", "upgrades_acked",
            "opks_handed_out", "temp_files", "server_creds_killed",
            "admin_creds_killed", "prekeys_killed", "logins_checked",
            "aimed", "burst_cut")}

        start = time.monotonic()
        n = 0
        while n < MAX_ITERATIONS and time.monotonic() - start < MAX_SECONDS:
            self.iteration(srv, n)
            n += 1
        elapsed = time.monotonic() - start

        # After the last kill: the server starts, a write of
        # credentials.json sweeps the temporary files, every account logs
        # in as the model says, and the published keys still work end to
        # end.
        srv.start()
        res = srv.admin("useradd", "final", stdin="final-pw\n")
        self.assertEqual(res.rc, 0, res)
        self.accounts["final"] = Account(True, "final-pw", "admin")
        creds, bundles, temps = self.scan(srv)
        self.assertEqual(temps, [], "temporary files left after a restart "
                         "and a write (seed %d)" % self.seed)
        self.check_accounts(creds)
        self.check_bundles(bundles)
        checked = 0
        for user, acct in sorted(self.accounts.items()):
            if acct.present and acct.kind in ("admin", "seed"):
                raw = harness.RawClient(self.scope, srv,
                                        label="raw(%s)" % user)
                raw.login(user, acct.password)
                raw.quit()
                release(raw.p)
                checked += 1
        for user in self.rnd.sample(sorted(self.upgraded),
                                    min(10, len(self.upgraded))):
            raw = harness.RawClient(self.scope, srv, label="raw(%s)" % user)
            raw.login(user, self.accounts[user].password)
            raw.quit()
            release(raw.p)
            checked += 1

        with_keys = [u for u in PK_USERS if self.pk_home[u]]
        if len(with_keys) >= 2:
            a, b = with_keys[:2]
            rx = harness.Cli(self.scope, srv, b, home=self.pk_home[b],
                             password=self.accounts[b].password).recv(
                                 count=1, timeout=30)
            sender = harness.Cli(self.scope, srv, a, home=self.pk_home[a],
                                 password=self.accounts[a].password)
            text = "after %d crashes" % n
            res = sender.send(b, text)
            self.assertEqual(res.rc, harness.EXIT_OK, res)
            got = rx.wait_exit()
            self.assertEqual(got.out, "%s: %s\n" % (a, text), got)
            self.assertNotIn(harness.IDENTITY_CHANGED, got.err + res.err)
        srv.stop()

        s = self.stats
        print("crash consistency: %d iterations in %.1f s (seed %d)" % (
            n, elapsed, self.seed))
        print("  server killed %d times (%d aimed at a bundle burst); admin "
              "commands: %d completed, %d killed" % (
                  n, s["aimed"], s["admin_done"], s["admin_killed"]))
        print("  kills in the middle of a bundle burst (each answer one "
              "write): %d" % s["burst_cut"])
        print("  writes killed mid-way (temporary file left): %d "
              "(credentials.json by the server %d, by admin commands %d, "
              "prekeys %d)" % (s["temp_files"], s["server_creds_killed"],
                               s["admin_creds_killed"], s["prekeys_killed"]))
        print("  acknowledged before a kill: %d prekey uploads, %d hash "
              "upgrades, %d one-time prekeys handed out" % (
                  s["uploads_acked"], s["upgrades_acked"],
                  s["opks_handed_out"]))
        print("  logins checked against the server: %d during the loop, %d "
              "at the end; nothing acknowledged was lost" % (
                  s["logins_checked"], checked))
        self.assertGreater(n, 0)
        self.assertGreater(s["uploads_acked"] + s["upgrades_acked"]
                           + s["admin_done"], 0, "nothing was written")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_crash_consistency.py SC_RAWCLIENT "
                 "[unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
