# SPDX-License-Identifier: GPL-3.0-or-later
"""Key material on disk (PROTOCOL.md §12.6, §5.12): the client keeps its
identity and sessions under $XDG_DATA_HOME/securechat in 0600 files in
0700 folders; the server's DIR/prekeys holds 0600 files with only the
public fields of a bundle, and none of the private keys the clients hold
(each X25519 key the server stores is the public half of a private key
found in the client's files)."""

import base64
import json
import os
import stat
import struct
import sys

sys.dont_write_bytecode = True
import harness  # noqa: E402

A, B = "alice", "bob"
PASSWORDS = {A: "pw-files-alice", B: "pw-files-bob"}
# The members of prekeys_upload (§5.12) a stored bundle may hold.
PUBLIC_FIELDS = {"identity", "spk_id", "spk", "spk_sig", "opks", "id", "key"}

P25519 = 2 ** 255 - 19


def x25519_base(k):
    """X25519(k, 9), RFC 7748 §5 (a Montgomery ladder on Python ints)."""
    e = bytearray(k)
    e[0] &= 248
    e[31] &= 127
    e[31] |= 64
    e = int.from_bytes(e, "little")
    x1, x2, z2, x3, z3, swap = 9, 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        bit = (e >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P25519, (x2 - z2) % P25519
        aa, bb = a * a % P25519, b * b % P25519
        c, d = (x3 + z3) % P25519, (x3 - z3) % P25519
        da, cb = d * a % P25519, c * b % P25519
        x3 = (da + cb) ** 2 % P25519
        z3 = x1 * (da - cb) ** 2 % P25519
        x2 = aa * bb % P25519
        ee = (aa - bb) % P25519
        z2 = ee * (aa + 121665 * ee) % P25519
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P25519 - 2, P25519) % P25519).to_bytes(32, "little")


def windows(data, size=32):
    """Every size-byte substring of data."""
    return {data[i:i + size] for i in range(len(data) - size + 1)}


def encodings(value):
    return (value, value.hex().encode(), value.hex().upper().encode(),
            base64.b64encode(value).rstrip(b"="),
            base64.urlsafe_b64encode(value).rstrip(b"="))


class DataFilesTest(harness.IntegrationTest):
    def deliver(self, frm, to, text):
        rx = to.recv(count=1, timeout=30)
        res = frm.send(to.user, text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "%s: %s\n" % (frm.user, text))

    def walk(self, root, dir_mode, file_mode):
        """{path: bytes} of every file under root; checks every mode."""
        self.assertTrue(os.path.isdir(root), "no folder %s" % root)
        files = {}
        for dirpath, dirnames, names in os.walk(root):
            st = os.lstat(dirpath)
            self.assertEqual(stat.S_IMODE(st.st_mode), dir_mode,
                             "%s is mode %o" % (dirpath, st.st_mode))
            for name in names:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                self.assertTrue(stat.S_ISREG(st.st_mode),
                                "%s is not a regular file" % path)
                self.assertEqual(stat.S_IMODE(st.st_mode), file_mode,
                                 "%s is mode %o" % (path, st.st_mode))
                with open(path, "rb") as f:
                    files[path] = f.read()
        return files

    def test_modes_and_no_private_keys_on_the_server(self):
        # The ladder itself, against RFC 7748 §6.1.
        self.assertEqual(x25519_base(bytes.fromhex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
        )).hex(),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")

        srv = harness.testing_server(self.scope, PASSWORDS)
        srv.start()
        alice = self.cli(srv, A)
        bob = self.cli(srv, B)
        self.deliver(alice, bob, "files test, from alice")
        self.deliver(bob, alice, "files test, from bob")
        srv.stop()

        client_files = {}
        for cli in (alice, bob):
            root = os.path.join(cli.data_home, "securechat")
            files = self.walk(root, 0o700, 0o600)
            rel = [os.path.relpath(p, root) for p in files]
            self.assertTrue(any("identity" in r for r in rel),
                            "%s: no identity file in %r" % (cli.user, rel))
            self.assertTrue(any("session" in r for r in rel),
                            "%s: no session file in %r" % (cli.user, rel))
            client_files[cli.user] = files

        store = self.walk(os.path.join(srv.dir, "prekeys"), 0o700, 0o600)
        self.assertGreaterEqual(len(store), 2, "fewer than 2 stored bundles")

        # Only public fields, of the right sizes; one USER.json each.
        bundles = {}
        public = set()     # every value the store holds
        for path, data in store.items():
            try:
                doc = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self.fail("%s is not JSON (%s): %r" % (path, e, data[:200]))
            self.assertIsInstance(doc, dict, path)
            self.check_public(path, doc, "the bundle", public)
            for name in ("identity", "spk_id", "spk", "spk_sig", "opks"):
                self.assertIn(name, doc, path)
            bundles[os.path.basename(path)] = doc
        self.assertEqual(sorted(bundles), ["%s.json" % A, "%s.json" % B])

        store_blob = b"\n".join(store.values())
        for user, files in client_files.items():
            bundle = bundles["%s.json" % user]
            # Each X25519 key of the user's stored bundle is the public
            # half of a private key in the user's files: the identity
            # (in the identity file) and each prekey (stored after its
            # BE32 id): so the values checked below are the real ones.
            ident = [d for p, d in files.items()
                     if os.path.basename(p) == "identity"]
            self.assertEqual(len(ident), 1, sorted(files))
            ik_dh = harness.b64decode_strict(bundle["identity"])[:32]
            self.assertTrue(any(x25519_base(w) == ik_dh
                                for w in windows(ident[0])),
                            "%s: the stored identity key is not the public "
                            "half of a key in the identity file" % user)
            prekeys = [(bundle["spk_id"], bundle["spk"])] + [
                (o["id"], o["key"]) for o in bundle["opks"]]
            self.assertGreater(len(prekeys), 1, "%s: no one-time prekeys "
                               "stored" % user)
            blob = b"".join(files.values())
            for key_id, pub in prekeys:
                pub = harness.b64decode_strict(pub)
                tag = struct.pack(">I", key_id)
                found = False
                at = blob.find(tag)
                while at >= 0 and not found:
                    found = x25519_base(blob[at + 4:at + 36]) == pub
                    at = blob.find(tag, at + 1)
                self.assertTrue(found, "%s: no private key for the stored "
                                "prekey %d in the client's files" % (
                                    user, key_id))

            # No 32 bytes of the user's files (other than the public
            # values themselves) are in the store, in any encoding.
            longer = [v for v in public if len(v) > 32]
            for data in files.values():
                for w in windows(data) - public:
                    if any(w in v for v in longer):
                        continue
                    for enc in encodings(w):
                        self.assertNotIn(enc, store_blob,
                                         "%s: a value from the client's "
                                         "files is in the server's prekey "
                                         "store" % user)

    def check_public(self, path, obj, where, public):
        for name, value in obj.items():
            self.assertIn(name, PUBLIC_FIELDS,
                          "%s: field %r in %s" % (path, name, where))
            if name == "opks":
                self.assertIsInstance(value, list, path)
                for opk in value:
                    self.assertIsInstance(opk, dict, path)
                    self.assertEqual(set(opk), {"id", "key"}, path)
                    self.check_public(path, opk, "opks[]", public)
            elif name in ("identity", "spk", "spk_sig", "key"):
                raw = harness.b64decode_strict(value)
                size = 64 if name in ("identity", "spk_sig") else 32
                self.assertEqual(len(raw), size, "%s: %s" % (path, name))
                public.update((raw, raw[:32], raw[32:]))
            else:
                self.assertIsInstance(value, int, "%s: %s" % (path, name))
                self.assertGreater(value, 0, "%s: %s" % (path, name))


if __name__ == "__main__":
    harness.main()
