# SPDX-License-Identifier: GPL-3.0-or-later
"""A credentials.json in the seed project's format (bcrypt $2b$ hashes)
still logs in, and the hash is upgraded to yescrypt at that login."""

import json
import os
import sys
import time
import warnings

sys.dont_write_bytecode = True
import harness  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (stdlib, deprecated in 3.11, still present)

# The seed project's own hash for "kitty"; used when it verifies "1234".
SEED_HASH = "$2b$12$tgATAkjitZUr0uo1Kk6H7uEqzwxNd5q7kQHwPMnoHc5Efs2cLFC6y"
PASSWORD = "1234"


def bcrypt_hash():
    if crypt.crypt(PASSWORD, SEED_HASH) == SEED_HASH:
        return SEED_HASH
    # The recorded seed hash is not of "1234": make an equivalent one.
    salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 12)
    h = crypt.crypt(PASSWORD, salt)
    if not h or not h.startswith("$2b$12$") or crypt.crypt(PASSWORD, h) != h:
        raise RuntimeError("cannot make a $2b$ hash with crypt(3): %r" % h)
    return h


class BcryptUpgradeTest(harness.IntegrationTest):
    def login_roundtrip(self, srv, text):
        """kitty logs in with recv and gets a message from bob."""
        kitty = self.cli(srv, "kitty", password=PASSWORD)
        rx = kitty.recv(count=1, timeout=30)
        res = self.cli(srv, "bob").send("kitty", text)
        self.assertEqual(res.rc, harness.EXIT_OK, res)
        got = rx.wait_exit()
        self.assertEqual(got.rc, harness.EXIT_OK, got)
        self.assertEqual(got.out, "bob: %s\n" % text)

    def test_seed_hash_logs_in_and_is_upgraded(self):
        srv = self.server({"bob": "bob-pw"}, start=False)
        creds_path = os.path.join(srv.dir, "credentials.json")
        legacy = bcrypt_hash()
        creds = srv.credentials()
        creds["kitty"] = legacy
        # Written the way the seed wrote it: in place, same mode.
        with open(creds_path, "w") as f:
            json.dump(creds, f)
        os.chmod(creds_path, 0o600)
        srv.start()

        self.login_roundtrip(srv, "meow")

        deadline = time.monotonic() + 10
        while True:
            h = srv.credentials().get("kitty")
            if isinstance(h, str) and h.startswith("$y$"):
                break
            if time.monotonic() > deadline:
                self.fail("kitty's hash was not upgraded to yescrypt: %r" % h)
            time.sleep(0.1)
        self.assertEqual(crypt.crypt(PASSWORD, h), h,
                         "the upgraded hash does not verify the password")
        self.assertTrue(srv.credentials()["bob"].startswith("$y$"))
        self.assertEqual(os.stat(creds_path).st_mode & 0o777, 0o600)

        # The upgraded account still logs in, with the same password.
        self.login_roundtrip(srv, "purr")
        # And the wrong password is still refused.
        bad = self.cli(srv, "kitty", password="12345").send("bob", "x")
        self.assertEqual(bad.rc, harness.EXIT_AUTH, bad)

        log = srv.stop()
        self.assertNotIn(PASSWORD + "\n", log)
        self.assertNotIn("password=1234", log)

        # A restarted server reads the upgraded file.
        srv.start()
        self.login_roundtrip(srv, "again")
        srv.stop()


if __name__ == "__main__":
    harness.main()
