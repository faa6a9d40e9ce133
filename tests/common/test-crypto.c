/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The crypto.h wrappers against Project Wycheproof (X25519, AES-256-GCM,
 * ChaCha20-Poly1305, HMAC-SHA256, Ed25519, HKDF-SHA256) and RFC/NIST known
 * answers. */
#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "securechat/crypto-testing.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "vectors.h"

static guint8 *
member_hex (json_t *obj, const char *key, gsize *len)
{
  json_t *j = json_object_get (obj, key);

  g_assert_true (json_is_string (j));
  return sc_test_unhex (json_string_value (j), len);
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
  json_t *root = sc_test_load_vectors ("wycheproof", "x25519_test.json");
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
  g_autofree guint8 *a_priv = sc_test_unhex (
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", &l);
  g_autofree guint8 *a_pub = sc_test_unhex (
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", &l);
  g_autofree guint8 *b_priv = sc_test_unhex (
      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", &l);
  g_autofree guint8 *b_pub = sc_test_unhex (
      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", &l);
  g_autofree guint8 *k = sc_test_unhex (
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
  json_t *root = sc_test_load_vectors ("wycheproof", af->file);
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
  json_t *root = sc_test_load_vectors ("wycheproof", "hmac_sha256_test.json");
  unsigned valid = 0, invalid = 0, truncated = 0;
  gsize gi, ti;
  json_t *g, *t;

  json_array_foreach (json_object_get (root, "testGroups"), gi, g)
  {
    /* Full 256-bit tags and 128-bit truncations (the ratchet's tag length):
     * a truncated tag is checked against the prefix of the full MAC. */
    json_int_t tag_bits = json_integer_value (json_object_get (g, "tagSize"));

    g_assert_true (tag_bits == 256 || tag_bits == 128);
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      gsize key_len, msg_len, tag_len;
      g_autofree guint8 *key = member_hex (t, "key", &key_len);
      g_autofree guint8 *msg = member_hex (t, "msg", &msg_len);
      g_autofree guint8 *tag = member_hex (t, "tag", &tag_len);
      const char *result = member_str (t, "result");
      guint8 out[SC_SHA256_LEN];

      g_assert_cmpuint (tag_len, ==, (gsize) tag_bits / 8);
      g_assert_cmpint (sc_hmac_sha256 (key, key_len, msg, msg_len, out), ==,
                       SC_OK);
      if (tag_bits == 128)
        truncated++;
      if (strcmp (result, "valid") == 0)
        {
          g_assert_true (sc_memeq (out, tag, tag_len));
          g_assert_cmpmem (out, tag_len, tag, tag_len);
          valid++;
        }
      else
        {
          g_assert_cmpstr (result, ==, "invalid");
          g_assert_false (sc_memeq (out, tag, tag_len));
          invalid++;
        }
    }
  }
  g_test_message ("hmac_sha256: %u valid ok, %u invalid rejected, %u of "
                  "them with 128-bit tags",
                  valid, invalid, truncated);
  g_assert_cmpuint (valid, ==, 66);
  g_assert_cmpuint (invalid, ==, 108);
  g_assert_cmpuint (truncated, ==, 87);
  json_decref (root);
}

/* RFC 4231 test case 2 (a short key) and an empty key. */
static void
test_hmac_rfc4231 (void)
{
  gsize l;
  g_autofree guint8 *want = sc_test_unhex (
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", &l);
  g_autofree guint8 *empty_want = sc_test_unhex (
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
  g_autofree guint8 *abc = sc_test_unhex (
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &l);
  g_autofree guint8 *empty = sc_test_unhex (
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &l);
  guint8 out[SC_SHA256_LEN];

  g_assert_cmpint (sc_sha256 ("abc", 3, out), ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, abc, SC_SHA256_LEN);
  g_assert_cmpint (sc_sha256 (NULL, 0, out), ==, SC_OK);
  g_assert_cmpmem (out, sizeof out, empty, SC_SHA256_LEN);
}

/* ---- Ed25519 ------------------------------------------------------------ */

/* Every case of Wycheproof's ed25519_test.json. Signatures of another length
 * than 64 bytes cannot reach sc_ed25519_verify (its signature is a fixed
 * 64-byte array, so the caller's length check refuses them); they count as
 * rejected. Everything else goes through the wrapper. */
static void
test_ed25519_wycheproof (void)
{
  json_t *root = sc_test_load_vectors ("wycheproof", "ed25519_test.json");
  unsigned total = 0, accepted = 0, rejected = 0, rejected_by_length = 0;
  unsigned malleability_rejected = 0;
  gsize gi, ti;
  json_t *g, *t;

  json_array_foreach (json_object_get (root, "testGroups"), gi, g)
  {
    json_t *key = json_object_get (g, "publicKey");
    gsize pk_len;
    g_autofree guint8 *pk = NULL;

    g_assert_cmpstr (member_str (key, "curve"), ==, "edwards25519");
    pk = member_hex (key, "pk", &pk_len);
    g_assert_cmpuint (pk_len, ==, SC_ED25519_LEN);
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      gsize msg_len, sig_len;
      g_autofree guint8 *msg = member_hex (t, "msg", &msg_len);
      g_autofree guint8 *sig = member_hex (t, "sig", &sig_len);
      const char *result = member_str (t, "result");
      int rc;

      total++;
      if (sig_len != SC_ED25519_SIG_LEN)
        {
          g_assert_cmpstr (result, ==, "invalid");
          rejected++;
          rejected_by_length++;
          continue;
        }
      rc = sc_ed25519_verify (pk, msg, msg_len, sig);
      if (strcmp (result, "valid") == 0)
        {
          g_assert_cmpint (rc, ==, SC_OK);
          accepted++;
        }
      else
        {
          g_assert_cmpstr (result, ==, "invalid");
          g_assert_cmpint (rc, ==, SC_ERR_SIGNATURE);
          rejected++;
          if (has_flag (t, "SignatureMalleability"))
            malleability_rejected++;
        }
    }
  }
  g_test_message ("ed25519: %u tests: %u accepted, %u rejected (%u by "
                  "length, %u malleability)",
                  total, accepted, rejected, rejected_by_length,
                  malleability_rejected);
  g_assert_cmpuint (total, ==, 151);
  g_assert_cmpuint (accepted, ==, 88);
  g_assert_cmpuint (rejected, ==, 63);
  g_assert_cmpuint (malleability_rejected, ==, 8);
  json_decref (root);
}

/* RFC 8032 §7.1 tests 1 and 2: key derivation and deterministic signing. */
static void
test_ed25519_rfc8032 (void)
{
  static const struct
  {
    const char *sk, *pk, *msg, *sig;
  } cases[] = {
    { "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb88215"
      "90a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
    { "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e4"
      "3e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize l, msg_len;
      g_autofree guint8 *sk = sc_test_unhex (cases[i].sk, &l);
      g_autofree guint8 *pk = sc_test_unhex (cases[i].pk, &l);
      g_autofree guint8 *msg = sc_test_unhex (cases[i].msg, &msg_len);
      g_autofree guint8 *want = sc_test_unhex (cases[i].sig, &l);
      guint8 pub[SC_ED25519_LEN], sig[SC_ED25519_SIG_LEN];

      g_assert_cmpint (sc_ed25519_public (sk, pub), ==, SC_OK);
      g_assert_cmpmem (pub, sizeof pub, pk, SC_ED25519_LEN);
      g_assert_cmpint (sc_ed25519_sign (sk, msg, msg_len, sig), ==, SC_OK);
      g_assert_cmpmem (sig, sizeof sig, want, SC_ED25519_SIG_LEN);
      g_assert_cmpint (sc_ed25519_verify (pk, msg, msg_len, sig), ==, SC_OK);
      /* Any single bit flipped in the signature, the message or the key. */
      for (gsize b = 0; b < SC_ED25519_SIG_LEN * 8; b += 7)
        {
          sig[b / 8] ^= (guint8) (1u << (b % 8));
          g_assert_cmpint (sc_ed25519_verify (pk, msg, msg_len, sig), ==,
                           SC_ERR_SIGNATURE);
          sig[b / 8] ^= (guint8) (1u << (b % 8));
        }
      pub[5] ^= 0x10;
      g_assert_cmpint (sc_ed25519_verify (pub, msg, msg_len, sig), ==,
                       SC_ERR_SIGNATURE);
      g_assert_cmpint (sc_ed25519_verify (pk, (const guint8 *) "x", 1, sig), ==,
                       SC_ERR_SIGNATURE);
    }
}

static void
test_ed25519_keypair (void)
{
  guint8 priv[SC_ED25519_LEN], pub[SC_ED25519_LEN], pub2[SC_ED25519_LEN];
  guint8 priv2[SC_ED25519_LEN], sig[SC_ED25519_SIG_LEN];
  const guint8 msg[] = "SecureChat";

  g_assert_cmpint (sc_ed25519_keypair (priv, pub), ==, SC_OK);
  g_assert_cmpint (sc_ed25519_keypair (priv2, pub2), ==, SC_OK);
  g_assert_false (sc_memeq (priv, priv2, sizeof priv));
  g_assert_false (sc_memeq (pub, pub2, sizeof pub));
  g_assert_cmpint (sc_ed25519_public (priv, pub2), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, pub2, sizeof pub2);
  g_assert_cmpint (sc_ed25519_sign (priv, msg, sizeof msg, sig), ==, SC_OK);
  g_assert_cmpint (sc_ed25519_verify (pub, msg, sizeof msg, sig), ==, SC_OK);
  g_assert_cmpint (sc_ed25519_verify (pub, msg, sizeof msg - 1, sig), ==,
                   SC_ERR_SIGNATURE);
  g_assert_cmpint (sc_ed25519_sign (priv, NULL, 0, sig), ==, SC_OK);
  g_assert_cmpint (sc_ed25519_verify (pub, NULL, 0, sig), ==, SC_OK);
  g_assert_cmpint (sc_ed25519_sign (priv, NULL, 4, sig), ==, SC_ERR_INVALID);
  g_assert_true (all_zero (sig, sizeof sig));
  g_assert_cmpint (sc_ed25519_verify (pub, NULL, 4, sig), ==, SC_ERR_INVALID);
  sc_wipe (priv, sizeof priv);
  sc_wipe (priv2, sizeof priv2);
}

/* ---- HKDF --------------------------------------------------------------- */

/* Every case of Wycheproof's hkdf_sha256_test.json: exact output for the
 * valid ones, SC_ERR_TOO_LARGE (and nothing written) for the sizes over
 * 255 * 32. */
static void
test_hkdf_wycheproof (void)
{
  json_t *root = sc_test_load_vectors ("wycheproof", "hkdf_sha256_test.json");
  unsigned total = 0, exact = 0, refused = 0, empty_salt = 0;
  gsize gi, ti;
  json_t *g, *t;

  json_array_foreach (json_object_get (root, "testGroups"), gi, g)
  {
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      gsize ikm_len, salt_len, info_len, okm_len;
      g_autofree guint8 *ikm = member_hex (t, "ikm", &ikm_len);
      g_autofree guint8 *salt = member_hex (t, "salt", &salt_len);
      g_autofree guint8 *info = member_hex (t, "info", &info_len);
      g_autofree guint8 *okm = member_hex (t, "okm", &okm_len);
      g_autofree guint8 *out = NULL;
      const char *result = member_str (t, "result");
      json_int_t size = json_integer_value (json_object_get (t, "size"));
      int rc;

      total++;
      g_assert_cmpint (size, >, 0);
      out = g_malloc ((gsize) size + 1);
      memset (out, 0xa5, (gsize) size + 1);
      rc = sc_hkdf_sha256 (salt, salt_len, ikm, ikm_len, info, info_len, out,
                           (size_t) size);
      if (strcmp (result, "valid") == 0)
        {
          g_assert_cmpint (rc, ==, SC_OK);
          g_assert_cmpuint (okm_len, ==, (gsize) size);
          g_assert_cmpmem (out, (gsize) size, okm, okm_len);
          g_assert_cmpuint (out[size], ==, 0xa5);
          if (salt_len == 0)
            {
              /* An empty salt and a NULL one are the same (HashLen
               * zeros). */
              memset (out, 0, (gsize) size);
              g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, ikm, ikm_len, info,
                                               info_len, out, (size_t) size),
                               ==, SC_OK);
              g_assert_cmpmem (out, (gsize) size, okm, okm_len);
              empty_salt++;
            }
          exact++;
        }
      else
        {
          g_assert_cmpstr (result, ==, "invalid");
          g_assert_true (has_flag (t, "SizeTooLarge"));
          g_assert_cmpint (size, >, SC_HKDF_SHA256_MAX);
          g_assert_cmpint (rc, ==, SC_ERR_TOO_LARGE);
          refused++;
        }
    }
  }
  g_test_message ("hkdf_sha256: %u tests: %u exact outputs (%u with an "
                  "empty salt), %u sizes refused",
                  total, exact, empty_salt, refused);
  g_assert_cmpuint (total, ==, 86);
  g_assert_cmpuint (exact, ==, 83);
  g_assert_cmpuint (refused, ==, 3);
  g_assert_cmpuint (empty_salt, >, 0);
  json_decref (root);
}

/* RFC 5869 A.3 (no salt, no info), the limits and bad arguments. */
static void
test_hkdf_edge (void)
{
  gsize l;
  g_autofree guint8 *want =
      sc_test_unhex ("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1"
                     "879ec3454e5f3c738d2d9d201395faa4b61a96c8",
                     &l);
  g_autofree guint8 *big = g_malloc (SC_HKDF_SHA256_MAX + 1);
  guint8 ikm[22], zero_salt[SC_SHA256_LEN] = { 0 }, out[42], out2[42];

  memset (ikm, 0x0b, sizeof ikm);
  g_assert_cmpint (
      sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, NULL, 0, out, sizeof out), ==,
      SC_OK);
  g_assert_cmpmem (out, sizeof out, want, l);
  /* Explicit HashLen zeros = no salt (RFC 5869 §2.2). */
  g_assert_cmpint (sc_hkdf_sha256 (zero_salt, sizeof zero_salt, ikm, sizeof ikm,
                                   NULL, 0, out2, sizeof out2),
                   ==, SC_OK);
  g_assert_cmpmem (out2, sizeof out2, want, l);
  /* A shorter output is a prefix of a longer one. */
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, NULL, 0, out2, 1),
                   ==, SC_OK);
  g_assert_cmpuint (out2[0], ==, want[0]);
  /* An empty IKM is allowed. */
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, NULL, 0, NULL, 0, out, 32), ==,
                   SC_OK);
  g_assert_false (all_zero (out, 32));

  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, NULL, 0, big,
                                   SC_HKDF_SHA256_MAX),
                   ==, SC_OK);
  g_assert_cmpmem (big, sizeof out, want, l);
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, NULL, 0, big,
                                   SC_HKDF_SHA256_MAX + 1),
                   ==, SC_ERR_TOO_LARGE);
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, NULL, 0, out, 0),
                   ==, SC_ERR_INVALID);
  /* Long salts and IKMs are hashed; info is bounded at 32 KiB. */
  {
    g_autofree guint8 *long_buf = g_malloc0 (32 * 1024 + 1);

    g_assert_cmpint (sc_hkdf_sha256 (long_buf, 32 * 1024 + 1, long_buf,
                                     32 * 1024 + 1, long_buf, 32 * 1024, out,
                                     32),
                     ==, SC_OK);
    g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, long_buf,
                                     32 * 1024 + 1, out, 32),
                     ==, SC_ERR_TOO_LARGE);
  }
  g_assert_cmpint (
      sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, NULL, 0, NULL, sizeof out), ==,
      SC_ERR_INVALID);
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 4, ikm, sizeof ikm, NULL, 0, out, 32),
                   ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, NULL, 4, NULL, 0, out, 32), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, ikm, sizeof ikm, NULL, 4, out, 32),
                   ==, SC_ERR_INVALID);
}

/* ---- AES-256-CBC -------------------------------------------------------- */

/* NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt): four whole blocks, so PKCS#7
 * appends one full block of 0x10, which must decrypt back and be removed. */
static void
test_aes_cbc_sp800_38a (void)
{
  gsize l, pt_len, ct_len;
  g_autofree guint8 *key = sc_test_unhex (
      "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", &l);
  g_autofree guint8 *iv =
      sc_test_unhex ("000102030405060708090a0b0c0d0e0f", &l);
  g_autofree guint8 *pt = sc_test_unhex (
      "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
      &pt_len);
  g_autofree guint8 *ct = sc_test_unhex (
      "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
      "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
      &ct_len);
  guint8 out[96], back[96];
  size_t out_len = 0, back_len = 0;

  g_assert_cmpint (
      sc_aes256_cbc_encrypt (key, iv, pt, pt_len, out, sizeof out, &out_len),
      ==, SC_OK);
  g_assert_cmpuint (out_len, ==, pt_len + 16);
  g_assert_cmpmem (out, ct_len, ct, ct_len);
  g_assert_cmpint (sc_aes256_cbc_decrypt (key, iv, out, out_len, back,
                                          sizeof back, &back_len),
                   ==, SC_OK);
  g_assert_cmpmem (back, back_len, pt, pt_len);
}

/* Every length 0..48: the padded length, the round trip, exact buffers. */
static void
test_aes_cbc_roundtrip (void)
{
  guint8 key[32], iv[SC_AES_CBC_IV_LEN], pt[48], ct[64], back[64];

  g_assert_cmpint (sc_random (key, sizeof key), ==, SC_OK);
  g_assert_cmpint (sc_random (iv, sizeof iv), ==, SC_OK);
  g_assert_cmpint (sc_random (pt, sizeof pt), ==, SC_OK);
  for (size_t len = 0; len <= sizeof pt; len++)
    {
      size_t padded = (len / 16 + 1) * 16, ct_len = 0, back_len = 0;

      g_assert_cmpint (
          sc_aes256_cbc_encrypt (key, iv, pt, len, ct, padded - 1, &ct_len), ==,
          SC_ERR_BUFFER);
      g_assert_cmpuint (ct_len, ==, 0);
      g_assert_cmpint (
          sc_aes256_cbc_encrypt (key, iv, pt, len, ct, padded, &ct_len), ==,
          SC_OK);
      g_assert_cmpuint (ct_len, ==, padded);
      /* An output buffer of exactly the plaintext length is enough. */
      memset (back, 0xa5, sizeof back);
      g_assert_cmpint (
          sc_aes256_cbc_decrypt (key, iv, ct, ct_len, back, len, &back_len), ==,
          SC_OK);
      g_assert_cmpuint (back_len, ==, len);
      g_assert_cmpmem (back, back_len, pt, len);
      g_assert_cmpuint (back[len], ==, 0xa5);
      if (len > 0 && len % 16 != 0)
        {
          g_assert_cmpint (sc_aes256_cbc_decrypt (key, iv, ct, ct_len, back,
                                                  len - 1, &back_len),
                           ==, SC_ERR_BUFFER);
          g_assert_cmpuint (back_len, ==, 0);
          g_assert_true (all_zero (back, len - 1));
        }
    }
}

/* Bad padding, bad lengths and bad arguments. */
static void
test_aes_cbc_bad (void)
{
  guint8 key[32], iv[SC_AES_CBC_IV_LEN], pt[20], ct[32], back[32];
  guint8 forged[16];
  size_t ct_len = 0, back_len = 1;
  unsigned bad = 0;

  g_assert_cmpint (sc_random (key, sizeof key), ==, SC_OK);
  g_assert_cmpint (sc_random (iv, sizeof iv), ==, SC_OK);
  memset (pt, 'p', sizeof pt);
  g_assert_cmpint (
      sc_aes256_cbc_encrypt (key, iv, pt, sizeof pt, ct, sizeof ct, &ct_len),
      ==, SC_OK);
  g_assert_cmpuint (ct_len, ==, 32);

  /* Not a whole number of blocks, or nothing at all. */
  for (size_t len = 0; len < ct_len; len++)
    if (len % 16 != 0 || len == 0)
      {
        back_len = 1;
        g_assert_cmpint (sc_aes256_cbc_decrypt (key, iv, ct, len, back,
                                                sizeof back, &back_len),
                         ==, SC_ERR_DECRYPT);
        g_assert_cmpuint (back_len, ==, 0);
      }

  /* One block whose plaintext ends in each byte value v, the rest 'x':
   * with a zero IV, the first ciphertext block of E(P) decrypts back to P.
   * Only v = 1 is valid PKCS#7 padding. */
  for (unsigned v = 0; v < 256; v++)
    {
      guint8 want_pt[16], civ[SC_AES_CBC_IV_LEN] = { 0 };
      size_t n = 0;
      int rc;

      memset (want_pt, 'x', sizeof want_pt);
      want_pt[15] = (guint8) v;
      g_assert_cmpint (
          sc_aes256_cbc_encrypt (key, civ, want_pt, 16, ct, sizeof ct, &n), ==,
          SC_OK);
      memcpy (forged, ct, 16);
      memset (back, 0xa5, sizeof back);
      back_len = 1;
      rc = sc_aes256_cbc_decrypt (key, civ, forged, 16, back, sizeof back,
                                  &back_len);
      if (v == 1)
        {
          /* A valid single 0x01 pad byte. */
          g_assert_cmpint (rc, ==, SC_OK);
          g_assert_cmpuint (back_len, ==, 15);
          g_assert_cmpmem (back, 15, want_pt, 15);
        }
      else
        {
          /* 0, 2..16 over 'x' bytes, and everything above 16. */
          g_assert_cmpint (rc, ==, SC_ERR_DECRYPT);
          g_assert_cmpuint (back_len, ==, 0);
          g_assert_true (all_zero (back, 16));
          bad++;
        }
    }
  g_assert_cmpuint (bad, ==, 255);

  g_assert_cmpint (
      sc_aes256_cbc_encrypt (NULL, iv, pt, sizeof pt, ct, sizeof ct, &ct_len),
      ==, SC_ERR_INVALID);
  g_assert_cmpint (
      sc_aes256_cbc_encrypt (key, iv, NULL, 4, ct, sizeof ct, &ct_len), ==,
      SC_ERR_INVALID);
  g_assert_cmpint (
      sc_aes256_cbc_encrypt (key, iv, pt, sizeof pt, ct, sizeof ct, NULL), ==,
      SC_ERR_INVALID);
  g_assert_cmpint (
      sc_aes256_cbc_decrypt (key, NULL, ct, 32, back, sizeof back, &back_len),
      ==, SC_ERR_INVALID);
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

/* The fuzz harnesses' fixed random stream: the same seed gives the same
 * bytes however they are asked for, and NULL goes back to the CSPRNG. */
static void
test_random_testing_seed (void)
{
  static const guint8 seed[] = "seed";
  guint8 a[100], b[100], c[100];
  guint8 block[SC_SHA256_LEN];
  guint8 in[SC_SHA256_LEN + 8] = { 0 };

  sc_random_testing_seed (seed, sizeof seed - 1);
  g_assert_cmpint (sc_random (a, sizeof a), ==, SC_OK);
  sc_random_testing_seed (seed, sizeof seed - 1);
  g_assert_cmpint (sc_random (b, 1), ==, SC_OK);
  g_assert_cmpint (sc_random (b + 1, 40), ==, SC_OK);
  g_assert_cmpint (sc_random (b + 41, sizeof b - 41), ==, SC_OK);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);

  /* Block 0 is SHA-256(SHA-256(seed) || BE64 0). */
  g_assert_cmpint (sc_sha256 (seed, sizeof seed - 1, in), ==, SC_OK);
  g_assert_cmpint (sc_sha256 (in, sizeof in, block), ==, SC_OK);
  g_assert_cmpmem (a, sizeof block, block, sizeof block);

  sc_random_testing_seed ((const guint8 *) "other", 5);
  g_assert_cmpint (sc_random (c, sizeof c), ==, SC_OK);
  g_assert_false (sc_memeq (a, c, sizeof a));

  sc_random_testing_seed (NULL, 0);
  g_assert_cmpint (sc_random (b, sizeof b), ==, SC_OK);
  g_assert_false (sc_memeq (a, b, sizeof a));
  g_assert_cmpint (sc_random (c, sizeof c), ==, SC_OK);
  g_assert_false (sc_memeq (b, c, sizeof b));
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
  g_test_add_func ("/common/crypto/ed25519/wycheproof",
                   test_ed25519_wycheproof);
  g_test_add_func ("/common/crypto/ed25519/rfc8032", test_ed25519_rfc8032);
  g_test_add_func ("/common/crypto/ed25519/keypair", test_ed25519_keypair);
  g_test_add_func ("/common/crypto/hkdf-sha256/wycheproof",
                   test_hkdf_wycheproof);
  g_test_add_func ("/common/crypto/hkdf-sha256/edge", test_hkdf_edge);
  g_test_add_func ("/common/crypto/aes-cbc/sp800-38a", test_aes_cbc_sp800_38a);
  g_test_add_func ("/common/crypto/aes-cbc/roundtrip", test_aes_cbc_roundtrip);
  g_test_add_func ("/common/crypto/aes-cbc/bad", test_aes_cbc_bad);
  g_test_add_func ("/common/crypto/memeq-wipe-random", test_memeq_wipe_random);
  g_test_add_func ("/common/crypto/random/testing-seed",
                   test_random_testing_seed);
  return g_test_run ();
}
