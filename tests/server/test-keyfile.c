/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/keyfile.c: create/load round trip, refusal to overwrite, loose
 * permissions, and files that are not an X25519 key. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keyfile.h"
#include "securechat/crypto.h"

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static void
write_file (const char *path, const void *data, size_t len, mode_t mode)
{
  g_unlink (path);
  g_assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

/* Loads path and expects failure with an error containing needle. */
static void
expect_load_error (const char *path, const char *needle)
{
  uint8_t priv[32], pub[32];
  char err[512] = "";

  memset (priv, 0xaa, sizeof priv);
  memset (pub, 0xaa, sizeof pub);
  g_assert_cmpint (keyfile_load (path, priv, pub, err, sizeof err), ==, -1);
  if (strstr (err, needle) == NULL)
    g_error ("error \"%s\" does not contain \"%s\"", err, needle);
  /* Nothing is left in the outputs. */
  for (size_t i = 0; i < 32; i++)
    {
      g_assert_cmpuint (priv[i], ==, 0);
      g_assert_cmpuint (pub[i], ==, 0);
    }
}

static void
test_round_trip (void)
{
  char *path = tmp_path ("rt.key");
  uint8_t pub[32], pub2[32], priv[32], derived[32], zero[32] = { 0 };
  char err[256] = "";
  struct stat st;
  mode_t old;
  char *pem = NULL;

  /* Exactly 0600 even under a permissive umask. */
  old = umask (0);
  g_assert_cmpint (keyfile_create (path, pub, err, sizeof err), ==, 0);
  umask (old);
  g_assert_cmpstr (err, ==, "");
  g_assert_false (memcmp (pub, zero, 32) == 0);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
  g_assert_true (S_ISREG (st.st_mode));

  g_assert_true (g_file_get_contents (path, &pem, NULL, NULL));
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN PRIVATE KEY-----\n"));
  g_assert_true (g_str_has_suffix (pem, "-----END PRIVATE KEY-----\n"));
  g_free (pem);

  g_assert_cmpint (keyfile_load (path, priv, pub2, err, sizeof err), ==, 0);
  g_assert_cmpmem (pub, 32, pub2, 32);
  g_assert_cmpint (sc_x25519_public (priv, derived), ==, 0);
  g_assert_cmpmem (pub, 32, derived, 32);
  sc_wipe (priv, sizeof priv);

  /* Two keys are different keys. */
  {
    char *path2 = tmp_path ("rt2.key");
    g_assert_cmpint (keyfile_create (path2, pub2, err, sizeof err), ==, 0);
    g_assert_false (memcmp (pub, pub2, 32) == 0);
    g_unlink (path2);
    g_free (path2);
  }
  g_unlink (path);
  g_free (path);
}

static void
test_no_overwrite (void)
{
  char *path = tmp_path ("excl.key");
  char *before = NULL, *after = NULL;
  uint8_t pub[32], pub2[32];
  char err[512] = "";

  g_assert_cmpint (keyfile_create (path, pub, err, sizeof err), ==, 0);
  g_assert_true (g_file_get_contents (path, &before, NULL, NULL));
  memset (pub2, 0xaa, sizeof pub2);
  g_assert_cmpint (keyfile_create (path, pub2, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "already exists"));
  g_assert_nonnull (strstr (err, path));
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
  for (size_t i = 0; i < 32; i++)
    g_assert_cmpuint (pub2[i], ==, 0);

  /* Not through a symlink either, even a dangling one. */
  {
    char *link = tmp_path ("link.key");
    char *target = tmp_path ("target.key");

    g_assert_cmpint (symlink (target, link), ==, 0);
    g_assert_cmpint (keyfile_create (link, pub2, err, sizeof err), ==, -1);
    g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
    g_unlink (link);
    g_free (link);
    g_free (target);
  }

  /* A folder that does not exist. */
  {
    char *bad = tmp_path ("nope/server.key");
    g_assert_cmpint (keyfile_create (bad, pub2, err, sizeof err), ==, -1);
    g_assert_nonnull (strstr (err, "No such file"));
    g_free (bad);
  }

  g_free (before);
  g_free (after);
  g_unlink (path);
  g_free (path);
}

static void
test_loose_permissions (void)
{
  char *path = tmp_path ("loose.key");
  uint8_t pub[32], priv[32], pub2[32];
  char err[512];

  g_assert_cmpint (keyfile_create (path, pub, err, sizeof err), ==, 0);
  g_assert_cmpint (chmod (path, 0644), ==, 0);
  expect_load_error (path, "accessible by group or others (mode 0644)");
  expect_load_error (path, "chmod 600");
  g_assert_cmpint (chmod (path, 0640), ==, 0);
  expect_load_error (path, "mode 0640");
  g_assert_cmpint (chmod (path, 0601), ==, 0);
  expect_load_error (path, "mode 0601");
  /* Stricter than 0600 is fine. */
  g_assert_cmpint (chmod (path, 0400), ==, 0);
  g_assert_cmpint (keyfile_load (path, priv, pub2, err, sizeof err), ==, 0);
  g_assert_cmpmem (pub, 32, pub2, 32);
  sc_wipe (priv, sizeof priv);
  g_unlink (path);
  g_free (path);
}

static void
test_garbage (void)
{
  static const char garbage[] = "this is not a key\n";
  static const char truncated[] =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VuBCIEIHcHbQpzGKV9PBbBclGyZkXf\n";
  char *path = tmp_path ("garbage.key");

  write_file (path, garbage, sizeof garbage - 1, 0600);
  expect_load_error (path, "not an unencrypted PEM private key");
  write_file (path, "", 0, 0600);
  expect_load_error (path, "not an unencrypted PEM private key");
  write_file (path, truncated, sizeof truncated - 1, 0600);
  expect_load_error (path, "not an unencrypted PEM private key");
  g_unlink (path);
  g_free (path);
}

static void
test_known_key (void)
{
  /* RFC 7748 section 6.1, Alice's key pair, as PKCS#8. */
  static const uint8_t der_prefix[] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
                                        0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e,
                                        0x04, 0x22, 0x04, 0x20 };
  static const uint8_t alice_priv[32] = {
    0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1,
    0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0,
    0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a
  };
  static const uint8_t alice_pub[32] = {
    0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d,
    0xdc, 0xb4, 0x3e, 0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38,
    0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a
  };
  uint8_t der[sizeof der_prefix + 32], priv[32], pub[32];
  char *b64, *pem, *path = tmp_path ("alice.key");
  char err[256];

  memcpy (der, der_prefix, sizeof der_prefix);
  memcpy (der + sizeof der_prefix, alice_priv, 32);
  b64 = g_base64_encode (der, sizeof der);
  pem = g_strdup_printf ("-----BEGIN PRIVATE KEY-----\n%s\n"
                         "-----END PRIVATE KEY-----\n",
                         b64);
  write_file (path, pem, strlen (pem), 0600);
  g_assert_cmpint (keyfile_load (path, priv, pub, err, sizeof err), ==, 0);
  g_assert_cmpmem (priv, 32, alice_priv, 32);
  g_assert_cmpmem (pub, 32, alice_pub, 32);
  g_unlink (path);
  g_free (path);
  g_free (pem);
  g_free (b64);
}

static void
test_wrong_type (void)
{
  char *path = tmp_path ("ed.key");
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
  BIO *bio = BIO_new (BIO_s_mem ());
  char *data;
  long len;

  g_assert_nonnull (pkey);
  g_assert_nonnull (bio);
  g_assert_cmpint (
      PEM_write_bio_PrivateKey (bio, pkey, NULL, NULL, 0, NULL, NULL), ==, 1);
  len = BIO_get_mem_data (bio, &data);
  write_file (path, data, (size_t) len, 0600);
  expect_load_error (path, "not an X25519 key");

  /* An encrypted key is refused, never prompted for. */
  BIO_reset (bio);
  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, pkey, EVP_aes_256_cbc (),
                                             NULL, 0, NULL, (void *) "secret"),
                   ==, 1);
  len = BIO_get_mem_data (bio, &data);
  write_file (path, data, (size_t) len, 0600);
  expect_load_error (path, "not an unencrypted PEM private key");

  BIO_free (bio);
  EVP_PKEY_free (pkey);
  g_unlink (path);
  g_free (path);
}

static void
test_not_a_file (void)
{
  char *path = tmp_path ("real.key");
  char *link = tmp_path ("sym.key");
  char *missing = tmp_path ("missing.key");
  char *big = tmp_path ("big.key");
  char *sub = tmp_path ("sub");
  char *blob;
  uint8_t pub[32];
  char err[256];

  g_assert_cmpint (keyfile_create (path, pub, err, sizeof err), ==, 0);
  g_assert_cmpint (symlink (path, link), ==, 0);
  expect_load_error (link, "symbolic link");
  expect_load_error (missing, "No such file");
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  expect_load_error (sub, "not a regular file");

  blob = g_malloc (100000);
  memset (blob, 'A', 100000);
  write_file (big, blob, 100000, 0600);
  expect_load_error (big, "too large");

  g_free (blob);
  g_unlink (path);
  g_unlink (link);
  g_unlink (big);
  g_rmdir (sub);
  g_free (path);
  g_free (link);
  g_free (missing);
  g_free (big);
  g_free (sub);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("test-keyfile-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_test_add_func ("/server/keyfile/round-trip", test_round_trip);
  g_test_add_func ("/server/keyfile/no-overwrite", test_no_overwrite);
  g_test_add_func ("/server/keyfile/loose-permissions", test_loose_permissions);
  g_test_add_func ("/server/keyfile/garbage", test_garbage);
  g_test_add_func ("/server/keyfile/known-key", test_known_key);
  g_test_add_func ("/server/keyfile/wrong-type", test_wrong_type);
  g_test_add_func ("/server/keyfile/not-a-file", test_not_a_file);
  rc = g_test_run ();
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return rc;
}
