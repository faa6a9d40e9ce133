/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The crypto.h wrappers against Project Wycheproof (X25519, AES-256-GCM,
 * ChaCha20-Poly1305, HMAC-SHA256) and RFC known answers. */
#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "securechat/crypto.h"
#include "securechat/error.h"

static json_t *
load_wycheproof (const char *file)
{
  const char *dir = g_getenv ("SC_VECTORS_DIR");
  g_autofree char *path = NULL;
  json_error_t err;
  json_t *root;

  if (dir == NULL)
    g_error ("SC_VECTORS_DIR is not set (run the tests through meson)");
  path = g_build_filename (dir, "wycheproof", file, NULL);
  root = json_load_file (path, 0, &err);
  if (root == NULL)
    g_error ("%s:%d: %s", path, err.line, err.text);
  return root;
}

/* Decodes a hex string; *len receives the byte count. Never NULL. */
static guint8 *
unhex (const char *s, gsize *len)
{
  gsize n = strlen (s);
  guint8 *buf;

  g_assert_cmpuint (n % 2, ==, 0);
  buf = g_malloc (n / 2 + 1);
  for (gsize i = 0; i < n / 2; i++)
    {
      int hi = g_ascii_xdigit_value (s[2 * i]);
      int lo = g_ascii_xdigit_value (s[2 * i + 1]);
      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      buf[i] = (guint8) (hi << 4 | lo);
    }
  *len = n / 2;
  return buf;
}

static guint8 *
member_hex (json_t *obj, const char *key, gsize *len)
{
  json_t *j = json_object_get (obj, key);

  g_assert_true (json_is_string (j));
  return unhex (json_string_value (j), len);
}

static const char *
member_str (json_t *obj, const char *key)
{
  json_t *j = json_object_get (obj, key);

  g_assert_true (json_is_string (j));
  return json_string_value (j);
}

static gboolean
has_flag (json_t *test, const char *flag)
{
  json_t *flags = json_object_get (test, "flags");
  gsize i;
  json_t *f;

  json_array_foreach (flags, i, f)
  {
    if (json_is_string (f) && strcmp (json_string_value (f), flag) == 0)
      return TRUE;
  }
  return FALSE;
}

static gboolean
all_zero (const guint8 *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

/* ---- X25519 ------------------------------------------------------------- */

static void
test_x25519_wycheproof (void)
{
  json_t *root = load_wycheproof ("x25519_test.json");
  json_t *groups = json_object_get (root, "testGroups");
  unsigned total = 0, valid_ok = 0, acceptable_ok = 0, zero_rejected = 0;
  gsize gi, ti;
  json_t *g, *t;

  json_array_foreach (groups, gi, g)
  {
    g_assert_cmpstr (member_str (g, "curve"), ==, "curve25519");
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      gsize pub_len, priv_len, shared_len;
      g_autofree guint8 *pub = member_hex (t, "public", &pub_len);
      g_autofree guint8 *priv = member_hex (t, "private", &priv_len);
      g_autofree guint8 *shared = member_hex (t, "shared", &shared_len);
      const char *result = member_str (t, "result");
      guint8 out[SC_X25519_LEN];
      int rc;

      total++;
      g_assert_cmpuint (pub_len, ==, SC_X25519_LEN);
      g_assert_cmpuint (priv_len, ==, SC_X25519_LEN);
      g_assert_cmpuint (shared_len, ==, SC_X25519_LEN);
      memset (out, 0xa5, sizeof out);
      rc = sc_x25519 (out, priv, pub);
      if (has_flag (t, "ZeroSharedSecret"))
        {
          /* A low-order point: must abort, and leave no output. */
          g_assert_true (all_zero (shared, shared_len));
          g_assert_cmpint (rc, ==, SC_ERR_DH);
          g_assert_true (all_zero (out, sizeof out));
          zero_rejected++;
        }
      else if (strcmp (result, "valid") == 0)
        {
          g_assert_cmpint (rc, ==, SC_OK);
          g_assert_cmpmem (out, sizeof out, shared, shared_len);
          valid_ok++;
        }
      else
        {
          /* "acceptable" (twist, non-canonical points...): we accept them
           * all and must then give exactly the expected result. */
          g_assert_cmpstr (result, ==, "acceptable");
          g_assert_cmpint (rc, ==, SC_OK);
          g_assert_cmpmem (out, sizeof out, shared, shared_len);
          acceptable_ok++;
        }
    }
  }
  g_test_message ("x25519: %u tests: %u valid ok, %u acceptable ok, %u "
                  "zero shared secrets rejected",
                  total, valid_ok, acceptable_ok, zero_rejected);
  g_assert_cmpuint (total, ==, 518);
  g_assert_cmpuint (valid_ok, ==, 264);
  g_assert_cmpuint (acceptable_ok, ==, 223);
  g_assert_cmpuint (zero_rejected, ==, 31);
  json_decref (root);
}

/* RFC 7748 §6.1. */
static void
test_x25519_rfc7748 (void)
{
  gsize l;
  g_autofree guint8 *a_priv = unhex (
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", &l);
  g_autofree guint8 *a_pub = unhex (
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", &l);
  g_autofree guint8 *b_priv = unhex (
      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", &l);
  g_autofree guint8 *b_pub = unhex (
      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", &l);
  g_autofree guint8 *k = unhex (
      "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", &l);
  guint8 pub[SC_X25519_LEN], out[SC_X25519_LEN];

  g_assert_cmpint (sc_x25519_public (a_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, a_pub, SC_X25519_LEN);
  g_assert_cmpint (sc_x25519_public (b_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, b_pub, SC_X25519_LEN);
  g_assert_cmpint (sc_x25519 (out, a_priv, b_pub), ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, k, SC_X25519_LEN);
  g_assert_cmpint (sc_x25519 (out, b_priv, a_pub), ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, k, SC_X25519_LEN);
}

static void
test_x25519_keypair (void)
{
  guint8 a_priv[SC_X25519_LEN], a_pub[SC_X25519_LEN];
  guint8 b_priv[SC_X25519_LEN], b_pub[SC_X25519_LEN];
  guint8 pub[SC_X25519_LEN], k1[SC_X25519_LEN], k2[SC_X25519_LEN];
  guint8 zero[SC_X25519_LEN] = { 0 };

  g_assert_cmpint (sc_x25519_keypair (a_priv, a_pub), ==, SC_OK);
  g_assert_cmpint (sc_x25519_keypair (b_priv, b_pub), ==, SC_OK);
  g_assert_false (sc_memeq (a_priv, b_priv, SC_X25519_LEN));
  g_assert_false (sc_memeq (a_pub, b_pub, SC_X25519_LEN));
  g_assert_cmpint (sc_x25519_public (a_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, a_pub, sizeof a_pub);
  g_assert_cmpint (sc_x25519 (k1, a_priv, b_pub), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (k2, b_priv, a_pub), ==, SC_OK);
  g_assert_cmpmem (k1, sizeof k1, k2, sizeof k2);
  /* The all-zero point is of low order. */
  memset (k1, 0xff, sizeof k1);
  g_assert_cmpint (sc_x25519 (k1, a_priv, zero), ==, SC_ERR_DH);
  g_assert_true (all_zero (k1, sizeof k1));
  sc_wipe (a_priv, sizeof a_priv);
  sc_wipe (b_priv, sizeof b_priv);
  g_assert_true (all_zero (a_priv, sizeof a_priv));
}

/* ---- AEAD --------------------------------------------------------------- */

typedef struct
{
  const char *file;
  enum sc_aead_alg alg;
  unsigned expected_valid;
  unsigned expected_invalid;
} AeadFile;

static void
test_aead_wycheproof (gconstpointer data)
{
  const AeadFile *af = data;
  json_t *root = load_wycheproof (af->file);
  unsigned valid = 0, invalid = 0;
  gsize gi, ti;
  json_t *g, *t;

  json_array_foreach (json_object_get (root, "testGroups"), gi, g)
  {
    if (json_integer_value (json_object_get (g, "ivSize")) != 96 ||
        json_integer_value (json_object_get (g, "keySize")) != 256)
      continue;
    g_assert_cmpint (json_integer_value (json_object_get (g, "tagSize")), ==,
                     128);
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      gsize key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
      g_autofree guint8 *key = member_hex (t, "key", &key_len);
      g_autofree guint8 *iv = member_hex (t, "iv", &iv_len);
      g_autofree guint8 *aad = member_hex (t, "aad", &aad_len);
      g_autofree guint8 *msg = member_hex (t, "msg", &msg_len);
      g_autofree guint8 *ct = member_hex (t, "ct", &ct_len);
      g_autofree guint8 *tag = member_hex (t, "tag", &tag_len);
      const char *result = member_str (t, "result");
      g_autofree guint8 *sealed = NULL;
      g_autofree guint8 *out = NULL;
      int rc;

      g_assert_cmpuint (key_len, ==, SC_AEAD_KEY_LEN);
      g_assert_cmpuint (iv_len, ==, SC_AEAD_NONCE_LEN);
      g_assert_cmpuint (tag_len, ==, SC_AEAD_TAG_LEN);
      g_assert_cmpuint (ct_len, ==, msg_len);
      sealed = g_malloc (ct_len + tag_len);
      memcpy (sealed, ct, ct_len);
      memcpy (sealed + ct_len, tag, tag_len);
      out = g_malloc (msg_len + 1);
      memset (out, 0xa5, msg_len + 1);

      rc = sc_aead_decrypt (af->alg, key, iv, aad, aad_len, sealed,
                            ct_len + tag_len, out);
      if (strcmp (result, "valid") == 0)
        {
          g_autofree guint8 *enc = g_malloc (msg_len + SC_AEAD_TAG_LEN);

          g_assert_cmpint (rc, ==, SC_OK);
          g_assert_cmpmem (out, msg_len, msg, msg_len);
          g_assert_cmpint (sc_aead_encrypt (af->alg, key, iv, aad, aad_len, msg,
                                            msg_len, enc),
                           ==, SC_OK);
          g_assert_cmpmem (enc, msg_len + SC_AEAD_TAG_LEN, sealed,
                           ct_len + tag_len);
          valid++;
        }
      else
        {
          g_assert_cmpstr (result, ==, "invalid");
          g_assert_cmpint (rc, ==, SC_ERR_DECRYPT);
          /* No plaintext may be left behind, and nothing past it touched. */
          g_assert_true (all_zero (out, msg_len));
          g_assert_cmpuint (out[msg_len], ==, 0xa5);
          invalid++;
        }
    }
  }
  g_test_message ("%s (ivSize 96, keySize 256): %u valid ok, %u invalid "
                  "rejected",
                  af->file, valid, invalid);
  g_assert_cmpuint (valid, ==, af->expected_valid);
  g_assert_cmpuint (invalid, ==, af->expected_invalid);
  json_decref (root);
}

static void
test_aead_edge (void)
{
  guint8 key[SC_AEAD_KEY_LEN], nonce[SC_AEAD_NONCE_LEN] = { 0 };
  guint8 pt[64], ct[64 + SC_AEAD_TAG_LEN], out[64];
  const enum sc_aead_alg algs[] = { SC_AEAD_AES256GCM, SC_AEAD_CHACHAPOLY };

  g_assert_cmpint (sc_random (key, sizeof key), ==, SC_OK);
  g_assert_cmpint (sc_random (pt, sizeof pt), ==, SC_OK);
  for (gsize a = 0; a < G_N_ELEMENTS (algs); a++)
    {
      /* Empty plaintext and AD: just a tag. */
      g_assert_cmpint (
          sc_aead_encrypt (algs[a], key, nonce, NULL, 0, NULL, 0, ct), ==,
          SC_OK);
      g_assert_cmpint (sc_aead_decrypt (algs[a], key, nonce, NULL, 0, ct,
                                        SC_AEAD_TAG_LEN, NULL),
                       ==, SC_OK);
      ct[0] ^= 1;
      g_assert_cmpint (sc_aead_decrypt (algs[a], key, nonce, NULL, 0, ct,
                                        SC_AEAD_TAG_LEN, NULL),
                       ==, SC_ERR_DECRYPT);
      /* Shorter than a tag. */
      g_assert_cmpint (sc_aead_decrypt (algs[a], key, nonce, NULL, 0, ct,
                                        SC_AEAD_TAG_LEN - 1, out),
                       ==, SC_ERR_TRUNCATED);
      /* The AD is authenticated. */
      g_assert_cmpint (
          sc_aead_encrypt (algs[a], key, nonce, pt, 3, pt, sizeof pt, ct), ==,
          SC_OK);
      g_assert_cmpint (
          sc_aead_decrypt (algs[a], key, nonce, pt, 3, ct, sizeof ct, out), ==,
          SC_OK);
      g_assert_cmpmem (out, sizeof out, pt, sizeof pt);
      memset (out, 0xa5, sizeof out);
      g_assert_cmpint (
          sc_aead_decrypt (algs[a], key, nonce, pt, 2, ct, sizeof ct, out), ==,
          SC_ERR_DECRYPT);
      g_assert_true (all_zero (out, sizeof out));
      /* In place. */
      g_assert_cmpint (
          sc_aead_decrypt (algs[a], key, nonce, pt, 3, ct, sizeof ct, ct), ==,
          SC_OK);
      g_assert_cmpmem (ct, sizeof pt, pt, sizeof pt);
    }
  /* The two algorithms differ. */
  g_assert_cmpint (sc_aead_encrypt (SC_AEAD_AES256GCM, key, nonce, NULL, 0, pt,
                                    sizeof pt, ct),
                   ==, SC_OK);
  g_assert_cmpint (sc_aead_decrypt (SC_AEAD_CHACHAPOLY, key, nonce, NULL, 0, ct,
                                    sizeof ct, out),
                   ==, SC_ERR_DECRYPT);
  g_assert_cmpint (sc_aead_encrypt (SC_AEAD_AES256GCM, NULL, nonce, NULL, 0, pt,
                                    sizeof pt, ct),
                   ==, SC_ERR_INVALID);
}

/* ---- Hashes ------------------------------------------------------------- */

static void
test_hmac_wycheproof (void)
{
  json_t *root = load_wycheproof ("hmac_sha256_test.json");
  unsigned valid = 0, invalid = 0;
  gsize gi, ti;
  json_t *g, *t;

  json_array_foreach (json_object_get (root, "testGroups"), gi, g)
  {
    /* Full-length tags only; the 128-bit groups are truncated MACs. */
    if (json_integer_value (json_object_get (g, "tagSize")) != 256)
      continue;
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      gsize key_len, msg_len, tag_len;
      g_autofree guint8 *key = member_hex (t, "key", &key_len);
      g_autofree guint8 *msg = member_hex (t, "msg", &msg_len);
      g_autofree guint8 *tag = member_hex (t, "tag", &tag_len);
      const char *result = member_str (t, "result");
      guint8 out[SC_SHA256_LEN];

      g_assert_cmpuint (tag_len, ==, SC_SHA256_LEN);
      g_assert_cmpint (sc_hmac_sha256 (key, key_len, msg, msg_len, out), ==,
                       SC_OK);
      if (strcmp (result, "valid") == 0)
        {
          g_assert_true (sc_memeq (out, tag, SC_SHA256_LEN));
          g_assert_cmpmem (out, sizeof out, tag, tag_len);
          valid++;
        }
      else
        {
          g_assert_cmpstr (result, ==, "invalid");
          g_assert_false (sc_memeq (out, tag, SC_SHA256_LEN));
          invalid++;
        }
    }
  }
  g_test_message ("hmac_sha256 (tagSize 256): %u valid ok, %u invalid "
                  "rejected",
                  valid, invalid);
  g_assert_cmpuint (valid, ==, 33);
  g_assert_cmpuint (invalid, ==, 54);
  json_decref (root);
}

/* RFC 4231 test case 2 (a short key) and an empty key. */
static void
test_hmac_rfc4231 (void)
{
  gsize l;
  g_autofree guint8 *want = unhex (
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", &l);
  g_autofree guint8 *empty_want = unhex (
      "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", &l);
  const char *msg = "what do ya want for nothing?";
  guint8 out[SC_SHA256_LEN];

  g_assert_cmpint (sc_hmac_sha256 ((const guint8 *) "Jefe", 4,
                                   (const guint8 *) msg, strlen (msg), out),
                   ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, want, SC_SHA256_LEN);
  g_assert_cmpint (sc_hmac_sha256 (NULL, 0, NULL, 0, out), ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, empty_want, SC_SHA256_LEN);
}

static void
test_sha256 (void)
{
  gsize l;
  g_autofree guint8 *abc = unhex (
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &l);
  g_autofree guint8 *empty = unhex (
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &l);
  guint8 out[SC_SHA256_LEN];

  g_assert_cmpint (sc_sha256 ("abc", 3, out), ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, abc, SC_SHA256_LEN);
  g_assert_cmpint (sc_sha256 (NULL, 0, out), ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, empty, SC_SHA256_LEN);
}

/* ---- Utilities ---------------------------------------------------------- */

static void
test_memeq_wipe_random (void)
{
  guint8 a[32], b[32];

  g_assert_cmpint (sc_random (a, sizeof a), ==, SC_OK);
  memcpy (b, a, sizeof a);
  g_assert_true (sc_memeq (a, b, sizeof a));
  for (gsize i = 0; i < sizeof a; i++)
    {
      b[i] ^= 0x80;
      g_assert_false (sc_memeq (a, b, sizeof a));
      b[i] ^= 0x80;
    }
  g_assert_true (sc_memeq (a, b, 0));
  g_assert_cmpint (sc_random (b, sizeof b), ==, SC_OK);
  g_assert_false (sc_memeq (a, b, sizeof a));
  g_assert_cmpint (sc_random (NULL, 0), ==, SC_OK);
  sc_wipe (a, sizeof a);
  g_assert_true (all_zero (a, sizeof a));
  sc_wipe (NULL, 16);
}

static const AeadFile aes_gcm = { "aes_gcm_test.json", SC_AEAD_AES256GCM, 39,
                                  27 };
static const AeadFile chacha = { "chacha20_poly1305_test.json",
                                 SC_AEAD_CHACHAPOLY, 256, 60 };

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/crypto/x25519/wycheproof", test_x25519_wycheproof);
  g_test_add_func ("/common/crypto/x25519/rfc7748", test_x25519_rfc7748);
  g_test_add_func ("/common/crypto/x25519/keypair", test_x25519_keypair);
  g_test_add_data_func ("/common/crypto/aead/aes-gcm/wycheproof", &aes_gcm,
                        test_aead_wycheproof);
  g_test_add_data_func ("/common/crypto/aead/chacha20-poly1305/wycheproof",
                        &chacha, test_aead_wycheproof);
  g_test_add_func ("/common/crypto/aead/edge", test_aead_edge);
  g_test_add_func ("/common/crypto/hmac-sha256/wycheproof",
                   test_hmac_wycheproof);
  g_test_add_func ("/common/crypto/hmac-sha256/rfc4231", test_hmac_rfc4231);
  g_test_add_func ("/common/crypto/sha256", test_sha256);
  g_test_add_func ("/common/crypto/memeq-wipe-random", test_memeq_wipe_random);
  return g_test_run ();
}
