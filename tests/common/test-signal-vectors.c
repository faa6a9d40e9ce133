/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The ratchet's building blocks against Signal's own numbers
 * ($SC_VECTORS_DIR/signal/signal_kdf_vectors.json): with the KDF labels set
 * to Signal's ("WhisperRatchet", "WhisperMessageKeys", an 8-byte MAC) the
 * chain-key step, the message keys, the first DH ratchet step, the AES-CBC
 * ciphertext and the truncated HMAC of libsignal's first message must come
 * out byte for byte. */
#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/ratchet-testing.h"
#include "securechat/ratchet.h"
#include "vectors.h"

static const struct sc_dr_labels signal_labels = {
  "WhisperRatchet",
  "WhisperMessageKeys",
  8,
};

static json_t *vectors;

static json_t *
find_vector (const char *name)
{
  json_t *list = json_object_get (vectors, "vectors");
  size_t i;
  json_t *v;

  g_assert_true (json_is_array (list));
  json_array_foreach (list, i, v)
  {
    json_t *n = json_object_get (v, "name");
    if (json_is_string (n) && strcmp (json_string_value (n), name) == 0)
      return v;
  }
  g_error ("vector %s not found", name);
  return NULL;
}

/* Decodes the hex string obj[key] into a new GBytes. */
static GBytes *
hex (json_t *obj, const char *key)
{
  json_t *j = json_object_get (obj, key);
  gsize len;
  guint8 *buf;

  if (!json_is_string (j))
    g_error ("no hex member %s", key);
  buf = sc_test_unhex (json_string_value (j), &len);
  return g_bytes_new_take (buf, len);
}

/* obj[key] as exactly len bytes into out. */
static void
hex_fixed (json_t *obj, const char *key, guint8 *out, gsize len)
{
  g_autoptr (GBytes) b = hex (obj, key);
  gsize got;
  const guint8 *p = g_bytes_get_data (b, &got);

  g_assert_cmpuint (got, ==, len);
  memcpy (out, p, len);
}

/* A Signal public key: 0x05 || u. */
static void
hex_djb_key (json_t *obj, const char *key, guint8 out[32])
{
  guint8 enc[33];

  hex_fixed (obj, key, enc, sizeof enc);
  g_assert_cmpuint (enc[0], ==, 0x05);
  memcpy (out, enc + 1, 32);
}

static void
assert_hex (const guint8 *got, gsize len, json_t *obj, const char *key)
{
  g_autoptr (GBytes) want = hex (obj, key);
  gsize want_len;
  const guint8 *w = g_bytes_get_data (want, &want_len);

  g_assert_cmpmem (got, len, w, want_len);
}

static void
test_chain_key (void)
{
  json_t *v = find_vector ("signal_v3_chain_key_derivation");
  guint8 ck[32], ck_next[32], mk[32];
  guint8 enc[32], auth[32], iv[16];

  hex_fixed (v, "chain_key", ck, sizeof ck);
  g_assert_cmpint (sc_dr_kdf_ck (ck, ck_next, mk), ==, SC_OK);
  assert_hex (mk, sizeof mk, v, "message_key_seed");
  assert_hex (ck_next, sizeof ck_next, v, "next_chain_key");

  g_assert_cmpint (sc_dr_message_keys (&signal_labels, mk, enc, auth, iv), ==,
                   SC_OK);
  assert_hex (enc, sizeof enc, v, "cipher_key");
  assert_hex (auth, sizeof auth, v, "mac_key");
  assert_hex (iv, sizeof iv, v, "iv");

  /* In place: ck_out may be ck itself. */
  g_assert_cmpint (sc_dr_kdf_ck (ck, ck, mk), ==, SC_OK);
  assert_hex (ck, sizeof ck, v, "next_chain_key");
  assert_hex (mk, sizeof mk, v, "message_key_seed");
}

/* The v2 entry documents libsignal's old non-RFC HKDF (expand counter from
 * 0). Ours is RFC 5869, so from the same seed it must not give v2's keys. */
static void
test_not_v2_hkdf (void)
{
  json_t *v2 = find_vector ("signal_v2_chain_key_derivation_NONSTANDARD_HKDF");
  guint8 ck[32], ck_next[32], mk[32];
  guint8 enc[32], auth[32], iv[16];
  guint8 v2_enc[32], v2_auth[32];

  hex_fixed (v2, "chain_key", ck, sizeof ck);
  hex_fixed (v2, "cipher_key", v2_enc, sizeof v2_enc);
  hex_fixed (v2, "mac_key", v2_auth, sizeof v2_auth);
  g_assert_cmpint (sc_dr_kdf_ck (ck, ck_next, mk), ==, SC_OK);
  /* The chain step did not change between versions. */
  assert_hex (ck_next, sizeof ck_next, v2, "next_chain_key");
  g_assert_cmpint (sc_dr_message_keys (&signal_labels, mk, enc, auth, iv), ==,
                   SC_OK);
  g_assert_true (memcmp (enc, v2_enc, 32) != 0);
  g_assert_true (memcmp (auth, v2_auth, 32) != 0);
}

static void
test_first_message (void)
{
  json_t *v =
      find_vector ("signal_v3_x3dh_plus_first_ratchet_message_end_to_end");
  json_t *in = json_object_get (v, "inputs");
  json_t *exp = json_object_get (v, "expected");
  guint8 root0[32], bob_pub[32], bob_priv[32], alice_priv[32], alice_pub[32];
  guint8 dh[32], rk1[32], cks[32], ck_next[32], mk[32];
  guint8 enc[32], auth[32], iv[16];
  guint8 ik_a[33], ik_b[33];
  g_autoptr (GBytes) pt_b = hex (in, "alicePlaintext");
  g_autoptr (GBytes) wire_b = hex (exp, "message0_serialized_with_mac");
  g_autoptr (GBytes) ct_b = hex (exp, "message0_ciphertext");
  gsize pt_len, wire_len, ct_len;
  const guint8 *pt = g_bytes_get_data (pt_b, &pt_len);
  const guint8 *wire = g_bytes_get_data (wire_b, &wire_len);
  const guint8 *ct = g_bytes_get_data (ct_b, &ct_len);
  struct sc_ratchet *alice = NULL, *bob = NULL;
  guint8 *msg = NULL, *out = NULL, *dec = NULL;
  gsize msg_len = 0, out_len = 0, dec_len = 0;
  g_autofree guint8 *a = NULL;
  gsize a_len;

  hex_fixed (exp, "bob_root_key", root0, sizeof root0);
  assert_hex (root0, sizeof root0, json_object_get (v, "intermediate"),
              "x3dh_root_key");
  hex_djb_key (in, "bobBasePublicKey", bob_pub);
  hex_fixed (in, "bobBasePrivateKey", bob_priv, sizeof bob_priv);
  hex_fixed (in, "aliceSendingRatchetPrivate", alice_priv, sizeof alice_priv);
  hex_djb_key (in, "aliceSendingRatchetPublic", alice_pub);

  /* KDF_RK of Alice's first ratchet step, directly. */
  g_assert_cmpint (sc_x25519 (dh, alice_priv, bob_pub), ==, SC_OK);
  g_assert_cmpint (sc_dr_kdf_rk (&signal_labels, root0, dh, rk1, cks), ==,
                   SC_OK);
  assert_hex (rk1, sizeof rk1, exp, "alice_root_key_after_first_ratchet");
  assert_hex (cks, sizeof cks, exp, "alice_sending_chain_key");

  /* Message 0: its keys and its AES-CBC ciphertext. */
  g_assert_cmpint (sc_dr_kdf_ck (cks, ck_next, mk), ==, SC_OK);
  g_assert_cmpint (sc_dr_message_keys (&signal_labels, mk, enc, auth, iv), ==,
                   SC_OK);
  assert_hex (enc, sizeof enc, exp, "message0_cipher_key");
  assert_hex (auth, sizeof auth, exp, "message0_mac_key");
  assert_hex (iv, sizeof iv, exp, "message0_iv");

  /* The MAC: Signal authenticates IK_A || IK_B || version || protobuf,
   * whose last field is the ciphertext; with everything before the
   * ciphertext as a, HMAC(auth, a || c)[0:8] is Signal's MAC8. */
  g_assert_cmpuint (ct_len, ==, 32);
  g_assert_cmpuint (wire_len, >, 8 + ct_len);
  g_assert_cmpmem (wire + wire_len - 8 - ct_len, ct_len, ct, ct_len);
  hex_fixed (in, "aliceIdentityPublicKey", ik_a, sizeof ik_a);
  hex_fixed (in, "bobIdentityPublicKey", ik_b, sizeof ik_b);
  a_len = 33 + 33 + wire_len - 8 - ct_len;
  a = g_malloc (a_len);
  memcpy (a, ik_a, 33);
  memcpy (a + 33, ik_b, 33);
  memcpy (a + 66, wire, wire_len - 8 - ct_len);
  g_assert_cmpint (
      sc_dr_encrypt (&signal_labels, mk, a, a_len, pt, pt_len, &out, &out_len),
      ==, SC_OK);
  g_assert_cmpuint (out_len, ==, ct_len + 8);
  g_assert_cmpmem (out, ct_len, ct, ct_len);
  g_assert_cmpmem (out + ct_len, 8, wire + wire_len - 8, 8);

  /* And back: Signal's c || MAC8 decrypts to the plaintext... */
  g_assert_cmpint (sc_dr_decrypt (&signal_labels, mk, a, a_len,
                                  wire + wire_len - 8 - ct_len, ct_len + 8,
                                  &dec, &dec_len),
                   ==, SC_OK);
  g_assert_cmpmem (dec, dec_len, pt, pt_len);
  g_free (dec);
  dec = NULL;
  /* ...and not with one bit of the MAC or of the bound data changed. */
  out[out_len - 1] ^= 0x01;
  g_assert_cmpint (sc_dr_decrypt (&signal_labels, mk, a, a_len, out, out_len,
                                  &dec, &dec_len),
                   ==, SC_ERR_DECRYPT);
  g_assert_null (dec);
  out[out_len - 1] ^= 0x01;
  a[0] ^= 0x80;
  g_assert_cmpint (sc_dr_decrypt (&signal_labels, mk, a, a_len, out, out_len,
                                  &dec, &dec_len),
                   ==, SC_ERR_DECRYPT);
  g_assert_null (dec);
  g_free (out);

  /* The same numbers through the state machine: Alice with the vector's
   * ratchet key sends message 0; its header carries her ratchet key, PN 0,
   * N 0, and its ciphertext is Signal's. */
  g_assert_cmpint (sc_ratchet_init_alice_fixed (&signal_labels, root0, bob_pub,
                                                alice_priv, ik_a, sizeof ik_a,
                                                &alice),
                   ==, SC_OK);
  g_assert_cmpint (
      sc_ratchet_encrypt (alice, NULL, 0, pt, pt_len, &msg, &msg_len), ==,
      SC_OK);
  g_assert_cmpuint (msg_len, ==, SC_DR_HEADER_LEN + ct_len + 8);
  g_assert_cmpmem (msg, 32, alice_pub, 32);
  g_assert_cmpmem (msg + 32, 8, "\0\0\0\0\0\0\0\0", 8);
  g_assert_cmpmem (msg + SC_DR_HEADER_LEN, ct_len, ct, ct_len);

  /* Bob, holding the base key's private half, reads it. */
  g_assert_cmpint (sc_ratchet_init_bob (&signal_labels, root0, bob_priv, ik_a,
                                        sizeof ik_a, &bob),
                   ==, SC_OK);
  g_assert_cmpint (sc_ratchet_decrypt (bob, msg, msg_len, 0, &dec, &dec_len),
                   ==, SC_OK);
  g_assert_cmpmem (dec, dec_len, pt, pt_len);

  g_free (dec);
  g_free (msg);
  sc_ratchet_free (alice);
  sc_ratchet_free (bob);
  sc_wipe (mk, sizeof mk);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  vectors = sc_test_load_vectors ("signal", "signal_kdf_vectors.json");

  g_test_add_func ("/common/signal-vectors/chain-key", test_chain_key);
  g_test_add_func ("/common/signal-vectors/not-v2-hkdf", test_not_v2_hkdf);
  g_test_add_func ("/common/signal-vectors/first-message", test_first_message);
  ret = g_test_run ();
  json_decref (vectors);
  return ret;
}
