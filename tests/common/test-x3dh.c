/* SPDX-License-Identifier: GPL-3.0-or-later */
/* X3DH: Signal's known answers (with Signal's info string), agreement of
 * both sides, the AD layout, forged bundles and low-order keys. */
#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/identity.h"
#include "securechat/x3dh.h"
#include "vectors.h"

#define SIGNAL_INFO "WhisperText"

/* The vector of signal_kdf_vectors.json called name (borrowed from root). */
static json_t *
signal_vector (json_t *root, const char *name)
{
  gsize i;
  json_t *v;

  json_array_foreach (json_object_get (root, "vectors"), i, v)
  {
    json_t *n = json_object_get (v, "name");

    if (json_is_string (n) && strcmp (json_string_value (n), name) == 0)
      return v;
  }
  g_error ("no Signal vector %s", name);
  return NULL;
}

/* Decodes the hex string obj[key] into exactly len bytes. */
static void
member_hex_into (json_t *obj, const char *key, guint8 *out, gsize len)
{
  json_t *j = json_object_get (obj, key);

  g_assert_true (json_is_string (j));
  sc_test_unhex_into (json_string_value (j), out, len);
}

/* A Signal public key: 0x05 || u. Checks the prefix, returns u. */
static void
member_signal_pub (json_t *obj, const char *key, guint8 out[SC_X25519_LEN])
{
  guint8 enc[SC_ENCODED_KEY_LEN];

  member_hex_into (obj, key, enc, sizeof enc);
  g_assert_cmpuint (enc[0], ==, SC_KEY_TYPE_X25519);
  memcpy (out, enc + 1, SC_X25519_LEN);
}

static gboolean
all_zero (const void *p, gsize len)
{
  const guint8 *b = p;

  for (gsize i = 0; i < len; i++)
    if (b[i] != 0)
      return FALSE;
  return TRUE;
}

/* Alice and Bob with Bob's published bundle. */
typedef struct
{
  struct sc_identity alice, bob;
  guint8 spk_priv[SC_X25519_LEN];
  guint8 opk_priv[SC_X25519_LEN];
  struct sc_prekey_bundle bundle;
} Parties;

static void
parties_init (Parties *p, gboolean with_opk)
{
  memset (p, 0, sizeof *p);
  g_assert_cmpint (sc_identity_generate (&p->alice), ==, SC_OK);
  g_assert_cmpint (sc_identity_generate (&p->bob), ==, SC_OK);
  p->bundle.identity = p->bob.pub;
  p->bundle.spk_id = 3;
  g_assert_cmpint (sc_x25519_keypair (p->spk_priv, p->bundle.spk), ==, SC_OK);
  g_assert_cmpint (
      sc_spk_sign (&p->bob, p->bundle.spk_id, p->bundle.spk, p->bundle.spk_sig),
      ==, SC_OK);
  p->bundle.has_opk = with_opk;
  if (with_opk)
    {
      p->bundle.opk_id = 77;
      g_assert_cmpint (sc_x25519_keypair (p->opk_priv, p->bundle.opk), ==,
                       SC_OK);
    }
}

static void
parties_clear (Parties *p)
{
  sc_wipe (p, sizeof *p);
}

/* Outputs of one X3DH run, filled with a marker so "no output" shows. */
typedef struct
{
  guint8 sk[SC_X3DH_SK_LEN];
  guint8 ek_pub[SC_X25519_LEN];
  guint8 ad[SC_X3DH_AD_MAX];
  size_t ad_len;
} Out;

static void
out_mark (Out *o)
{
  memset (o, 0xa5, sizeof *o);
}

static void
assert_no_output (const Out *o, gboolean has_ek)
{
  g_assert_true (all_zero (o->sk, sizeof o->sk));
  if (has_ek)
    g_assert_true (all_zero (o->ek_pub, sizeof o->ek_pub));
  g_assert_true (all_zero (o->ad, sizeof o->ad));
  g_assert_cmpuint (o->ad_len, ==, 0);
}

static int
initiate (const Parties *p, const char *info, const guint8 *ek_fixed, Out *o)
{
  out_mark (o);
  return sc_x3dh_initiate (&p->alice, "alice", &p->bundle, "bob", info,
                           ek_fixed, o->sk, o->ek_pub, o->ad, &o->ad_len);
}

static int
respond (const Parties *p,
         const char *info,
         const guint8 ek_pub[SC_X25519_LEN],
         Out *o)
{
  out_mark (o);
  return sc_x3dh_respond (&p->bob, "bob", p->spk_priv,
                          p->bundle.has_opk ? p->opk_priv : NULL, &p->alice.pub,
                          "alice", ek_pub, info, o->sk, o->ad, &o->ad_len);
}

/* ---- Signal known answers ----------------------------------------------- */

/* libsignal-protocol-c test_ratcheting_session_as_bob: Bob's side of an X3DH
 * without a one-time prekey, info "WhisperText", 64 bytes out. */
static void
test_signal_no_opk_responder (void)
{
  json_t *root = sc_test_load_vectors ("signal", "signal_kdf_vectors.json");
  json_t *v =
      signal_vector (root, "signal_v3_x3dh_session_init_no_opk_responder");
  guint8 alice_ik[SC_X25519_LEN], alice_ek[SC_X25519_LEN];
  guint8 bob_ik_priv[SC_X25519_LEN], bob_ik[SC_X25519_LEN];
  guint8 bob_spk_priv[SC_X25519_LEN], bob_spk[SC_X25519_LEN];
  guint8 want_dh[3][SC_X25519_LEN], dh[3][SC_X25519_LEN];
  guint8 root_key[32], chain_key[32], pub[SC_X25519_LEN];
  guint8 out[64];
  struct sc_identity bob;
  struct sc_identity_public alice;
  Out o;

  member_signal_pub (v, "alice_identity_public", alice_ik);
  member_signal_pub (v, "alice_base_public", alice_ek);
  member_hex_into (v, "bob_identity_private", bob_ik_priv, 32);
  member_signal_pub (v, "bob_identity_public", bob_ik);
  member_hex_into (v, "bob_signed_prekey_private", bob_spk_priv, 32);
  member_signal_pub (v, "bob_signed_prekey_public", bob_spk);
  member_hex_into (v, "dh1", want_dh[0], 32);
  member_hex_into (v, "dh2", want_dh[1], 32);
  member_hex_into (v, "dh3", want_dh[2], 32);
  member_hex_into (v, "root_key", root_key, 32);
  member_hex_into (v, "chain_key_expected", chain_key, 32);

  /* Bob's private keys are his published public keys. */
  g_assert_cmpint (sc_x25519_public (bob_ik_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, bob_ik, sizeof bob_ik);
  g_assert_cmpint (sc_x25519_public (bob_spk_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, bob_spk, sizeof bob_spk);

  /* DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
   * from Bob's side. */
  g_assert_cmpint (sc_x25519 (dh[0], bob_spk_priv, alice_ik), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh[1], bob_ik_priv, alice_ek), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh[2], bob_spk_priv, alice_ek), ==, SC_OK);
  for (int i = 0; i < 3; i++)
    g_assert_cmpmem (dh[i], 32, want_dh[i], 32);

  g_assert_cmpint (sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, 3,
                                SIGNAL_INFO, out, sizeof out),
                   ==, SC_OK);
  g_assert_cmpmem (out, 32, root_key, 32);
  g_assert_cmpmem (out + 32, 32, chain_key, 32);

  /* sc_x3dh_respond does the same DHs in the same order: its 32-byte SK is
   * the first half of Signal's 64 bytes. Its Ed25519 key and usernames only
   * enter the AD. */
  memset (&bob, 0, sizeof bob);
  memcpy (bob.dh_priv, bob_ik_priv, 32);
  memcpy (bob.pub.dh, bob_ik, 32);
  g_assert_cmpint (sc_ed25519_keypair (bob.sig_priv, bob.pub.sig), ==, SC_OK);
  memset (&alice, 0, sizeof alice);
  memcpy (alice.dh, alice_ik, 32);
  out_mark (&o);
  g_assert_cmpint (sc_x3dh_respond (&bob, "bob", bob_spk_priv, NULL, &alice,
                                    "alice", alice_ek, SIGNAL_INFO, o.sk, o.ad,
                                    &o.ad_len),
                   ==, SC_OK);
  g_assert_cmpmem (o.sk, sizeof o.sk, root_key, 32);

  sc_identity_wipe (&bob);
  sc_wipe (dh, sizeof dh);
  json_decref (root);
}

/* SignalProtocolKit "Test with Android Test Vectors": the X3DH part (the
 * ratchet part belongs to the Double Ratchet tests). Both sides. */
static void
test_signal_end_to_end_x3dh (void)
{
  json_t *root = sc_test_load_vectors ("signal", "signal_kdf_vectors.json");
  json_t *v = signal_vector (
      root, "signal_v3_x3dh_plus_first_ratchet_message_end_to_end");
  json_t *in = json_object_get (v, "inputs");
  json_t *mid = json_object_get (v, "intermediate");
  guint8 a_ik_priv[32], a_ik[32], a_ek_priv[32], a_ek[32];
  guint8 b_ik_priv[32], b_ik[32], b_spk_priv[32], b_spk[32];
  guint8 want_dh[3][32], dh_a[3][32], dh_b[3][32], pub[32];
  guint8 x3dh_root[32], x3dh_chain[32], bob_root[32], out[64];
  struct sc_identity alice, bob;
  struct sc_prekey_bundle bundle;
  Out oa, ob;

  member_hex_into (in, "aliceIdentityPrivateKey", a_ik_priv, 32);
  member_signal_pub (in, "aliceIdentityPublicKey", a_ik);
  member_hex_into (in, "aliceBasePrivateKey", a_ek_priv, 32);
  member_signal_pub (in, "aliceBasePublicKey", a_ek);
  member_hex_into (in, "bobIdentityPrivateKey", b_ik_priv, 32);
  member_signal_pub (in, "bobIdentityPublicKey", b_ik);
  member_hex_into (in, "bobBasePrivateKey", b_spk_priv, 32);
  member_signal_pub (in, "bobBasePublicKey", b_spk);
  member_hex_into (mid, "dh1", want_dh[0], 32);
  member_hex_into (mid, "dh2", want_dh[1], 32);
  member_hex_into (mid, "dh3", want_dh[2], 32);
  member_hex_into (mid, "x3dh_root_key", x3dh_root, 32);
  member_hex_into (mid, "x3dh_chain_key", x3dh_chain, 32);
  member_hex_into (json_object_get (v, "expected"), "bob_root_key", bob_root,
                   32);

  g_assert_cmpint (sc_x25519_public (a_ik_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, 32, a_ik, 32);
  g_assert_cmpint (sc_x25519_public (a_ek_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, 32, a_ek, 32);
  g_assert_cmpint (sc_x25519_public (b_ik_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, 32, b_ik, 32);
  g_assert_cmpint (sc_x25519_public (b_spk_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, 32, b_spk, 32);

  /* Alice's side and Bob's side of each DH. */
  g_assert_cmpint (sc_x25519 (dh_a[0], a_ik_priv, b_spk), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh_a[1], a_ek_priv, b_ik), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh_a[2], a_ek_priv, b_spk), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh_b[0], b_spk_priv, a_ik), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh_b[1], b_ik_priv, a_ek), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh_b[2], b_spk_priv, a_ek), ==, SC_OK);
  for (int i = 0; i < 3; i++)
    {
      g_assert_cmpmem (dh_a[i], 32, want_dh[i], 32);
      g_assert_cmpmem (dh_b[i], 32, want_dh[i], 32);
    }
  g_assert_cmpint (sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh_a, 3,
                                SIGNAL_INFO, out, sizeof out),
                   ==, SC_OK);
  g_assert_cmpmem (out, 32, x3dh_root, 32);
  g_assert_cmpmem (out + 32, 32, x3dh_chain, 32);
  g_assert_cmpmem (out, 32, bob_root, 32);

  /* The full initiator and responder with these keys (Alice's ephemeral key
   * fixed, Bob's signing key made up: it does not enter the KDF). */
  memset (&alice, 0, sizeof alice);
  memcpy (alice.dh_priv, a_ik_priv, 32);
  memcpy (alice.pub.dh, a_ik, 32);
  g_assert_cmpint (sc_ed25519_keypair (alice.sig_priv, alice.pub.sig), ==,
                   SC_OK);
  memset (&bob, 0, sizeof bob);
  memcpy (bob.dh_priv, b_ik_priv, 32);
  memcpy (bob.pub.dh, b_ik, 32);
  g_assert_cmpint (sc_ed25519_keypair (bob.sig_priv, bob.pub.sig), ==, SC_OK);
  memset (&bundle, 0, sizeof bundle);
  bundle.identity = bob.pub;
  bundle.spk_id = 1;
  memcpy (bundle.spk, b_spk, 32);
  g_assert_cmpint (sc_spk_sign (&bob, 1, b_spk, bundle.spk_sig), ==, SC_OK);

  out_mark (&oa);
  g_assert_cmpint (sc_x3dh_initiate (&alice, "alice", &bundle, "bob",
                                     SIGNAL_INFO, a_ek_priv, oa.sk, oa.ek_pub,
                                     oa.ad, &oa.ad_len),
                   ==, SC_OK);
  g_assert_cmpmem (oa.ek_pub, 32, a_ek, 32);
  g_assert_cmpmem (oa.sk, 32, x3dh_root, 32);
  out_mark (&ob);
  g_assert_cmpint (sc_x3dh_respond (&bob, "bob", b_spk_priv, NULL, &alice.pub,
                                    "alice", oa.ek_pub, SIGNAL_INFO, ob.sk,
                                    ob.ad, &ob.ad_len),
                   ==, SC_OK);
  g_assert_cmpmem (ob.sk, 32, x3dh_root, 32);
  g_assert_cmpmem (ob.ad, ob.ad_len, oa.ad, oa.ad_len);

  sc_identity_wipe (&alice);
  sc_identity_wipe (&bob);
  sc_wipe (dh_a, sizeof dh_a);
  sc_wipe (dh_b, sizeof dh_b);
  json_decref (root);
}

/* Signal's protocol v2 message keys come from an HKDF whose expand counter
 * starts at 0: RFC 5869 HKDF (ours) must NOT reproduce them, while the v3
 * vector with the same chain key must match. */
static void
test_signal_v2_hkdf_pitfall (void)
{
  static const guint8 one = 0x01;
  json_t *root = sc_test_load_vectors ("signal", "signal_kdf_vectors.json");
  json_t *v2 =
      signal_vector (root, "signal_v2_chain_key_derivation_NONSTANDARD_HKDF");
  json_t *v3 = signal_vector (root, "signal_v3_chain_key_derivation");
  const char *info = "WhisperMessageKeys";
  guint8 ck[32], seed[32], v2_cipher[32], v2_mac[32], v3_cipher[32], keys[80];

  member_hex_into (v2, "chain_key", ck, 32);
  member_hex_into (v2, "cipher_key", v2_cipher, 32);
  member_hex_into (v2, "mac_key", v2_mac, 32);
  member_hex_into (v3, "cipher_key", v3_cipher, 32);
  g_assert_cmpint (sc_hmac_sha256 (ck, 32, &one, 1, seed), ==, SC_OK);
  g_assert_cmpint (sc_hkdf_sha256 (NULL, 0, seed, 32, (const guint8 *) info,
                                   strlen (info), keys, sizeof keys),
                   ==, SC_OK);
  g_assert_false (sc_memeq (keys, v2_cipher, 32));
  g_assert_false (sc_memeq (keys + 32, v2_mac, 32));
  g_assert_cmpmem (keys, 32, v3_cipher, 32);
  sc_wipe (seed, sizeof seed);
  json_decref (root);
}

/* ---- The KDF and the AD ------------------------------------------------- */

/* An independent check of the KDF input: HKDF over F || DH1..DH4 built by
 * hand, for 3 and 4 DH values, and bad arguments. */
static void
test_kdf (void)
{
  static const guint8 zero[32] = { 0 };
  guint8 dh[4][SC_X25519_LEN], ikm[32 + 4 * 32], want[64], out[64];

  for (int i = 0; i < 4; i++)
    memset (dh[i], 0x11 * (i + 1), SC_X25519_LEN);
  memset (ikm, 0xff, 32);
  memcpy (ikm + 32, dh, sizeof dh);
  for (size_t n = 3; n <= 4; n++)
    {
      g_assert_cmpint (sc_hkdf_sha256 (zero, sizeof zero, ikm, 32 + n * 32,
                                       (const guint8 *) "info", 4, want,
                                       sizeof want),
                       ==, SC_OK);
      g_assert_cmpint (sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, n,
                                    "info", out, sizeof out),
                       ==, SC_OK);
      g_assert_cmpmem (out, sizeof out, want, sizeof want);
      g_assert_cmpint (sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, n,
                                    "info", out, 32),
                       ==, SC_OK);
      g_assert_cmpmem (out, 32, want, 32);
    }
  /* Without the F prefix it would differ. */
  g_assert_cmpint (sc_hkdf_sha256 (zero, sizeof zero, ikm + 32, 3 * 32,
                                   (const guint8 *) "info", 4, want, 32),
                   ==, SC_OK);
  g_assert_false (sc_memeq (out, want, 32));

  for (size_t n = 0; n <= 6; n++)
    if (n != 3 && n != 4)
      {
        memset (out, 0xa5, sizeof out);
        g_assert_cmpint (sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, n,
                                      "info", out, 32),
                         ==, SC_ERR_INVALID);
        g_assert_true (all_zero (out, 32));
      }
  g_assert_cmpint (sc_x3dh_kdf (NULL, 3, "info", out, 32), ==, SC_ERR_INVALID);
  g_assert_cmpint (
      sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, 3, NULL, out, 32), ==,
      SC_ERR_INVALID);
  g_assert_cmpint (
      sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, 3, "info", out, 0), ==,
      SC_ERR_INVALID);
  g_assert_cmpint (
      sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, 3, "info", NULL, 32),
      ==, SC_ERR_INVALID);
}

static void
test_ad_layout (void)
{
  Parties p;
  guint8 ad[SC_X3DH_AD_MAX];
  size_t ad_len = 0;
  const guint8 *q;
  char long_a[SC_USERNAME_MAX + 2], long_b[SC_USERNAME_MAX + 1];

  parties_init (&p, FALSE);
  memset (ad, 0xa5, sizeof ad);
  g_assert_cmpint (
      sc_x3dh_ad ("alice", &p.alice.pub, "bob", &p.bob.pub, ad, &ad_len), ==,
      SC_OK);
  g_assert_cmpuint (ad_len, ==, 33 + 32 + 33 + 32 + 1 + 5 + 1 + 3);
  q = ad;
  g_assert_cmpuint (*q++, ==, 0x05);
  g_assert_cmpmem (q, 32, p.alice.pub.dh, 32);
  q += 32;
  g_assert_cmpmem (q, 32, p.alice.pub.sig, 32);
  q += 32;
  g_assert_cmpuint (*q++, ==, 0x05);
  g_assert_cmpmem (q, 32, p.bob.pub.dh, 32);
  q += 32;
  g_assert_cmpmem (q, 32, p.bob.pub.sig, 32);
  q += 32;
  g_assert_cmpuint (*q++, ==, 5);
  g_assert_cmpmem (q, 5, "alice", 5);
  q += 5;
  g_assert_cmpuint (*q++, ==, 3);
  g_assert_cmpmem (q, 3, "bob", 3);
  q += 3;
  g_assert_cmpuint ((gsize) (q - ad), ==, ad_len);
  g_assert_true (all_zero (ad + ad_len, sizeof ad - ad_len));

  /* The longest usernames fill SC_X3DH_AD_MAX exactly. */
  memset (long_a, 'a', SC_USERNAME_MAX);
  long_a[SC_USERNAME_MAX] = '\0';
  memset (long_b, 'b', SC_USERNAME_MAX);
  long_b[SC_USERNAME_MAX] = '\0';
  g_assert_cmpint (
      sc_x3dh_ad (long_a, &p.alice.pub, long_b, &p.bob.pub, ad, &ad_len), ==,
      SC_OK);
  g_assert_cmpuint (ad_len, ==, SC_X3DH_AD_MAX);
  g_assert_cmpuint (ad[130], ==, SC_USERNAME_MAX);
  g_assert_cmpuint (ad[131 + SC_USERNAME_MAX], ==, SC_USERNAME_MAX);

  /* Bad usernames. */
  long_a[SC_USERNAME_MAX] = 'a';
  long_a[SC_USERNAME_MAX + 1] = '\0';
  g_assert_cmpint (
      sc_x3dh_ad (long_a, &p.alice.pub, "bob", &p.bob.pub, ad, &ad_len), ==,
      SC_ERR_USERNAME);
  g_assert_cmpuint (ad_len, ==, 0);
  g_assert_cmpint (
      sc_x3dh_ad ("alice", &p.alice.pub, "", &p.bob.pub, ad, &ad_len), ==,
      SC_ERR_USERNAME);
  g_assert_cmpint (
      sc_x3dh_ad ("Alice", &p.alice.pub, "bob", &p.bob.pub, ad, &ad_len), ==,
      SC_ERR_USERNAME);
  g_assert_cmpint (
      sc_x3dh_ad (NULL, &p.alice.pub, "bob", &p.bob.pub, ad, &ad_len), ==,
      SC_ERR_INVALID);
  g_assert_cmpint (sc_x3dh_ad ("alice", NULL, "bob", &p.bob.pub, ad, &ad_len),
                   ==, SC_ERR_INVALID);
  g_assert_cmpint (
      sc_x3dh_ad ("alice", &p.alice.pub, "bob", &p.bob.pub, NULL, &ad_len), ==,
      SC_ERR_INVALID);
  parties_clear (&p);
}

/* ---- Both sides --------------------------------------------------------- */

static void
test_agree (gconstpointer data)
{
  gboolean with_opk = GPOINTER_TO_INT (data);
  Parties p;
  Out a, b;
  guint8 ad[SC_X3DH_AD_MAX];
  size_t ad_len;

  parties_init (&p, with_opk);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &a), ==, SC_OK);
  g_assert_false (all_zero (a.sk, sizeof a.sk));
  g_assert_false (all_zero (a.ek_pub, sizeof a.ek_pub));
  g_assert_cmpint (respond (&p, SC_X3DH_INFO, a.ek_pub, &b), ==, SC_OK);
  g_assert_cmpmem (a.sk, sizeof a.sk, b.sk, sizeof b.sk);
  g_assert_cmpmem (a.ad, a.ad_len, b.ad, b.ad_len);
  /* The AD is sc_x3dh_ad's, with Alice first on both sides. */
  g_assert_cmpint (
      sc_x3dh_ad ("alice", &p.alice.pub, "bob", &p.bob.pub, ad, &ad_len), ==,
      SC_OK);
  g_assert_cmpmem (a.ad, a.ad_len, ad, ad_len);

  /* Bob guessing the OPK use wrong gets another SK. */
  p.bundle.has_opk = !with_opk;
  if (!with_opk)
    g_assert_cmpint (sc_x25519_keypair (p.opk_priv, p.bundle.opk), ==, SC_OK);
  g_assert_cmpint (respond (&p, SC_X3DH_INFO, a.ek_pub, &b), ==, SC_OK);
  g_assert_false (sc_memeq (a.sk, b.sk, sizeof a.sk));
  p.bundle.has_opk = with_opk;

  /* A fresh ephemeral key every time. */
  {
    Out a2;

    g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &a2), ==, SC_OK);
    g_assert_false (sc_memeq (a.ek_pub, a2.ek_pub, sizeof a.ek_pub));
    g_assert_false (sc_memeq (a.sk, a2.sk, sizeof a.sk));
    sc_wipe (&a2, sizeof a2);
  }
  sc_wipe (&a, sizeof a);
  sc_wipe (&b, sizeof b);
  parties_clear (&p);
}

/* The DH order from the header, recomputed here with sc_x25519 and the
 * KDF, for a fixed ephemeral key. */
static void
test_dh_order (gconstpointer data)
{
  gboolean with_opk = GPOINTER_TO_INT (data);
  Parties p;
  Out a;
  guint8 ek_priv[SC_X25519_LEN], ek_pub[SC_X25519_LEN];
  guint8 dh[4][SC_X25519_LEN], sk[SC_X3DH_SK_LEN];
  size_t n = 3;

  parties_init (&p, with_opk);
  g_assert_cmpint (sc_x25519_keypair (ek_priv, ek_pub), ==, SC_OK);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, ek_priv, &a), ==, SC_OK);
  g_assert_cmpmem (a.ek_pub, sizeof a.ek_pub, ek_pub, sizeof ek_pub);
  g_assert_cmpint (sc_x25519 (dh[0], p.alice.dh_priv, p.bundle.spk), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh[1], ek_priv, p.bob.pub.dh), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (dh[2], ek_priv, p.bundle.spk), ==, SC_OK);
  if (with_opk)
    g_assert_cmpint (sc_x25519 (dh[n++], ek_priv, p.bundle.opk), ==, SC_OK);
  g_assert_cmpint (sc_x3dh_kdf ((const guint8 (*)[SC_X25519_LEN]) dh, n,
                                SC_X3DH_INFO, sk, sizeof sk),
                   ==, SC_OK);
  g_assert_cmpmem (a.sk, sizeof a.sk, sk, sizeof sk);
  sc_wipe (ek_priv, sizeof ek_priv);
  sc_wipe (dh, sizeof dh);
  parties_clear (&p);
}

static void
test_info (void)
{
  Parties p;
  guint8 ek_priv[SC_X25519_LEN], ek_pub[SC_X25519_LEN];
  Out a1, a2, b;

  parties_init (&p, TRUE);
  g_assert_cmpint (sc_x25519_keypair (ek_priv, ek_pub), ==, SC_OK);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, ek_priv, &a1), ==, SC_OK);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, ek_priv, &a2), ==, SC_OK);
  g_assert_cmpmem (a1.sk, sizeof a1.sk, a2.sk, sizeof a2.sk);
  g_assert_cmpint (initiate (&p, SIGNAL_INFO, ek_priv, &a2), ==, SC_OK);
  g_assert_false (sc_memeq (a1.sk, a2.sk, sizeof a1.sk));
  g_assert_cmpint (initiate (&p, "", ek_priv, &a2), ==, SC_OK);
  g_assert_false (sc_memeq (a1.sk, a2.sk, sizeof a1.sk));
  /* Bob with another info than Alice's does not agree. */
  g_assert_cmpint (respond (&p, SIGNAL_INFO, ek_pub, &b), ==, SC_OK);
  g_assert_false (sc_memeq (a1.sk, b.sk, sizeof a1.sk));
  g_assert_cmpint (respond (&p, SC_X3DH_INFO, ek_pub, &b), ==, SC_OK);
  g_assert_cmpmem (a1.sk, sizeof a1.sk, b.sk, sizeof b.sk);
  sc_wipe (ek_priv, sizeof ek_priv);
  parties_clear (&p);
}

/* ---- Forged bundles and low-order keys ---------------------------------- */

static void
test_bad_signature (void)
{
  Parties p;
  struct sc_identity mallory;
  Out o;
  int cases = 0;

  parties_init (&p, TRUE);
  g_assert_cmpint (sc_identity_generate (&mallory), ==, SC_OK);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_OK);

  /* Every bit of the signature. */
  for (gsize bit = 0; bit < SC_ED25519_SIG_LEN * 8; bit += 3)
    {
      p.bundle.spk_sig[bit / 8] ^= (guint8) (1u << (bit % 8));
      g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==,
                       SC_ERR_SIGNATURE);
      assert_no_output (&o, TRUE);
      p.bundle.spk_sig[bit / 8] ^= (guint8) (1u << (bit % 8));
      cases++;
    }
  /* Another SPK id, another SPK, another identity key under the signature. */
  p.bundle.spk_id++;
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_SIGNATURE);
  assert_no_output (&o, TRUE);
  p.bundle.spk_id--;
  p.bundle.spk[0] ^= 0x02;
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_SIGNATURE);
  assert_no_output (&o, TRUE);
  p.bundle.spk[0] ^= 0x02;
  /* The server swapping in Mallory's DH identity key, or Mallory's signing
   * key, or a whole SPK signed by Mallory. */
  memcpy (p.bundle.identity.dh, mallory.pub.dh, SC_X25519_LEN);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_SIGNATURE);
  assert_no_output (&o, TRUE);
  p.bundle.identity = p.bob.pub;
  memcpy (p.bundle.identity.sig, mallory.pub.sig, SC_ED25519_LEN);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_SIGNATURE);
  assert_no_output (&o, TRUE);
  p.bundle.identity = p.bob.pub;
  g_assert_cmpint (
      sc_spk_sign (&mallory, p.bundle.spk_id, p.bundle.spk, p.bundle.spk_sig),
      ==, SC_OK);
  g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_SIGNATURE);
  assert_no_output (&o, TRUE);
  g_assert_cmpint (cases, >, 100);

  sc_identity_wipe (&mallory);
  parties_clear (&p);
}

/* The distinct public points of Wycheproof's X25519 ZeroSharedSecret cases
 * (low-order points and their non-canonical forms). */
static GPtrArray *
low_order_points (void)
{
  json_t *root = sc_test_load_vectors ("wycheproof", "x25519_test.json");
  GPtrArray *points = g_ptr_array_new_with_free_func (g_free);
  gsize gi, ti;
  json_t *g, *t;

  json_array_foreach (json_object_get (root, "testGroups"), gi, g)
  {
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      json_t *flags = json_object_get (t, "flags");
      gboolean zero = FALSE;
      gsize fi;
      json_t *f;
      guint8 *pt;
      gboolean seen = FALSE;

      json_array_foreach (flags, fi, f)
      {
        if (json_is_string (f) &&
            strcmp (json_string_value (f), "ZeroSharedSecret") == 0)
          zero = TRUE;
      }
      if (!zero)
        continue;
      pt = g_malloc (SC_X25519_LEN);
      member_hex_into (t, "public", pt, SC_X25519_LEN);
      for (guint i = 0; i < points->len; i++)
        if (memcmp (points->pdata[i], pt, SC_X25519_LEN) == 0)
          seen = TRUE;
      if (seen)
        g_free (pt);
      else
        g_ptr_array_add (points, pt);
    }
  }
  json_decref (root);
  return points;
}

static void
test_low_order (void)
{
  g_autoptr (GPtrArray) points = low_order_points ();
  unsigned spk_cases = 0, opk_cases = 0, ek_cases = 0, ik_cases = 0;

  g_test_message ("%u distinct low-order points", points->len);
  g_assert_cmpuint (points->len, >=, 10);
  for (guint i = 0; i < points->len; i++)
    {
      const guint8 *bad = points->pdata[i];
      Parties p;
      Out o;

      parties_init (&p, TRUE);

      /* A low-order SPK, properly signed by Bob: the signature passes, the
       * DH aborts. */
      memcpy (p.bundle.spk, bad, SC_X25519_LEN);
      g_assert_cmpint (
          sc_spk_sign (&p.bob, p.bundle.spk_id, p.bundle.spk, p.bundle.spk_sig),
          ==, SC_OK);
      g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_DH);
      assert_no_output (&o, TRUE);
      spk_cases++;
      parties_clear (&p);

      /* A low-order OPK (not signed at all). */
      parties_init (&p, TRUE);
      memcpy (p.bundle.opk, bad, SC_X25519_LEN);
      g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_DH);
      assert_no_output (&o, TRUE);
      opk_cases++;

      /* A low-order EK at Bob's, with and without an OPK. */
      g_assert_cmpint (respond (&p, SC_X3DH_INFO, bad, &o), ==, SC_ERR_DH);
      assert_no_output (&o, FALSE);
      p.bundle.has_opk = FALSE;
      g_assert_cmpint (respond (&p, SC_X3DH_INFO, bad, &o), ==, SC_ERR_DH);
      assert_no_output (&o, FALSE);
      ek_cases++;

      /* A low-order identity DH key: Alice's at Bob's (DH1), Bob's in a
       * bundle it signed itself (DH2). */
      {
        guint8 ek_priv[SC_X25519_LEN], ek_pub[SC_X25519_LEN];
        struct sc_identity_public saved = p.alice.pub;

        g_assert_cmpint (sc_x25519_keypair (ek_priv, ek_pub), ==, SC_OK);
        memcpy (p.alice.pub.dh, bad, SC_X25519_LEN);
        g_assert_cmpint (respond (&p, SC_X3DH_INFO, ek_pub, &o), ==, SC_ERR_DH);
        assert_no_output (&o, FALSE);
        p.alice.pub = saved;
        sc_wipe (ek_priv, sizeof ek_priv);
      }
      memcpy (p.bob.pub.dh, bad, SC_X25519_LEN);
      p.bundle.identity = p.bob.pub;
      g_assert_cmpint (
          sc_spk_sign (&p.bob, p.bundle.spk_id, p.bundle.spk, p.bundle.spk_sig),
          ==, SC_OK);
      g_assert_cmpint (initiate (&p, SC_X3DH_INFO, NULL, &o), ==, SC_ERR_DH);
      assert_no_output (&o, TRUE);
      ik_cases++;
      parties_clear (&p);
    }
  g_assert_cmpuint (spk_cases, ==, points->len);
  g_assert_cmpuint (opk_cases, ==, points->len);
  g_assert_cmpuint (ek_cases, ==, points->len);
  g_assert_cmpuint (ik_cases, ==, points->len);
}

static void
test_bad_arguments (void)
{
  Parties p;
  Out o;

  parties_init (&p, FALSE);
  out_mark (&o);
  g_assert_cmpint (sc_x3dh_initiate (NULL, "alice", &p.bundle, "bob",
                                     SC_X3DH_INFO, NULL, o.sk, o.ek_pub, o.ad,
                                     &o.ad_len),
                   ==, SC_ERR_INVALID);
  assert_no_output (&o, TRUE);
  g_assert_cmpint (sc_x3dh_initiate (&p.alice, "alice", NULL, "bob",
                                     SC_X3DH_INFO, NULL, o.sk, o.ek_pub, o.ad,
                                     &o.ad_len),
                   ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_x3dh_initiate (&p.alice, "alice", &p.bundle, "bob", NULL,
                                     NULL, o.sk, o.ek_pub, o.ad, &o.ad_len),
                   ==, SC_ERR_INVALID);
  out_mark (&o);
  g_assert_cmpint (sc_x3dh_initiate (&p.alice, "alice!", &p.bundle, "bob",
                                     SC_X3DH_INFO, NULL, o.sk, o.ek_pub, o.ad,
                                     &o.ad_len),
                   ==, SC_ERR_USERNAME);
  assert_no_output (&o, TRUE);
  out_mark (&o);
  g_assert_cmpint (sc_x3dh_respond (&p.bob, "bob", NULL, NULL, &p.alice.pub,
                                    "alice", p.bundle.spk, SC_X3DH_INFO, o.sk,
                                    o.ad, &o.ad_len),
                   ==, SC_ERR_INVALID);
  assert_no_output (&o, FALSE);
  g_assert_cmpint (sc_x3dh_respond (&p.bob, "bob", p.spk_priv, NULL,
                                    &p.alice.pub, "alice", NULL, SC_X3DH_INFO,
                                    o.sk, o.ad, &o.ad_len),
                   ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_x3dh_respond (&p.bob, "", p.spk_priv, NULL, &p.alice.pub,
                                    "alice", p.bundle.spk, SC_X3DH_INFO, o.sk,
                                    o.ad, &o.ad_len),
                   ==, SC_ERR_USERNAME);
  assert_no_output (&o, FALSE);
  parties_clear (&p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/x3dh/signal/no-opk-responder",
                   test_signal_no_opk_responder);
  g_test_add_func ("/common/x3dh/signal/end-to-end-x3dh",
                   test_signal_end_to_end_x3dh);
  g_test_add_func ("/common/x3dh/signal/v2-hkdf-pitfall",
                   test_signal_v2_hkdf_pitfall);
  g_test_add_func ("/common/x3dh/kdf", test_kdf);
  g_test_add_func ("/common/x3dh/ad-layout", test_ad_layout);
  g_test_add_data_func ("/common/x3dh/agree/no-opk", GINT_TO_POINTER (FALSE),
                        test_agree);
  g_test_add_data_func ("/common/x3dh/agree/opk", GINT_TO_POINTER (TRUE),
                        test_agree);
  g_test_add_data_func ("/common/x3dh/dh-order/no-opk", GINT_TO_POINTER (FALSE),
                        test_dh_order);
  g_test_add_data_func ("/common/x3dh/dh-order/opk", GINT_TO_POINTER (TRUE),
                        test_dh_order);
  g_test_add_func ("/common/x3dh/info", test_info);
  g_test_add_func ("/common/x3dh/bad-signature", test_bad_signature);
  g_test_add_func ("/common/x3dh/low-order", test_low_order);
  g_test_add_func ("/common/x3dh/bad-arguments", test_bad_arguments);
  return g_test_run ();
}
