/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Identity keys: generation, the secret serialisation, Encode(PK), signed
 * prekey signatures and safety numbers. */
#include <glib.h>
#include <string.h>

#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/identity.h"
#include "securechat/msg.h"
#include "vectors.h"

static gboolean
all_zero (const void *p, gsize len)
{
  const guint8 *b = p;

  for (gsize i = 0; i < len; i++)
    if (b[i] != 0)
      return FALSE;
  return TRUE;
}

/* ---- Keys and serialisation --------------------------------------------- */

static void
test_generate (void)
{
  struct sc_identity a, b;
  guint8 pub[SC_X25519_LEN];

  g_assert_cmpint (sc_identity_generate (&a), ==, SC_OK);
  g_assert_cmpint (sc_identity_generate (&b), ==, SC_OK);
  g_assert_false (sc_memeq (a.dh_priv, b.dh_priv, SC_X25519_LEN));
  g_assert_false (sc_memeq (a.sig_priv, b.sig_priv, SC_ED25519_LEN));
  g_assert_false (sc_memeq (a.dh_priv, a.sig_priv, SC_X25519_LEN));
  g_assert_false (sc_identity_public_equal (&a.pub, &b.pub));
  g_assert_true (sc_identity_public_equal (&a.pub, &a.pub));
  /* The public halves belong to the private ones. */
  g_assert_cmpint (sc_x25519_public (a.dh_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, a.pub.dh, SC_X25519_LEN);
  g_assert_cmpint (sc_ed25519_public (a.sig_priv, pub), ==, SC_OK);
  g_assert_cmpmem (pub, sizeof pub, a.pub.sig, SC_ED25519_LEN);
  g_assert_cmpint (sc_identity_generate (NULL), ==, SC_ERR_INVALID);
  sc_identity_wipe (&a);
  sc_identity_wipe (&b);
}

static void
test_wipe (void)
{
  struct sc_identity id;

  g_assert_cmpint (sc_identity_generate (&id), ==, SC_OK);
  g_assert_false (all_zero (id.dh_priv, sizeof id.dh_priv));
  g_assert_false (all_zero (id.sig_priv, sizeof id.sig_priv));
  sc_identity_wipe (&id);
  g_assert_true (all_zero (&id, sizeof id));
  sc_identity_wipe (NULL);
}

static void
test_serialize_roundtrip (void)
{
  struct sc_identity id, back;
  guint8 buf[SC_IDENTITY_SECRET_LEN];

  g_assert_cmpuint (SC_IDENTITY_SECRET_LEN, ==, 65);
  g_assert_cmpint (sc_identity_generate (&id), ==, SC_OK);
  g_assert_cmpint (sc_identity_serialize (&id, buf), ==, SC_OK);
  /* Version 1, then the two private keys; no public key stored. */
  g_assert_cmpuint (buf[0], ==, 1);
  g_assert_cmpmem (buf + 1, SC_X25519_LEN, id.dh_priv, SC_X25519_LEN);
  g_assert_cmpmem (buf + 1 + SC_X25519_LEN, SC_ED25519_LEN, id.sig_priv,
                   SC_ED25519_LEN);
  memset (&back, 0xa5, sizeof back);
  g_assert_cmpint (sc_identity_deserialize (buf, sizeof buf, &back), ==, SC_OK);
  g_assert_cmpmem (&back, sizeof back, &id, sizeof id);
  g_assert_true (sc_identity_public_equal (&back.pub, &id.pub));

  g_assert_cmpint (sc_identity_serialize (NULL, buf), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_identity_serialize (&id, NULL), ==, SC_ERR_INVALID);
  sc_identity_wipe (&id);
  sc_identity_wipe (&back);
  sc_wipe (buf, sizeof buf);
}

/* Known private keys (RFC 7748 §6.1 Alice, RFC 8032 §7.1 test 1) load with
 * exactly their published public keys. */
static void
test_deserialize_known (void)
{
  guint8 buf[SC_IDENTITY_SECRET_LEN];
  guint8 dh_pub[SC_X25519_LEN], sig_pub[SC_ED25519_LEN];
  struct sc_identity id;

  buf[0] = 1;
  sc_test_unhex_into (
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
      buf + 1, SC_X25519_LEN);
  sc_test_unhex_into (
      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      buf + 1 + SC_X25519_LEN, SC_ED25519_LEN);
  sc_test_unhex_into (
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
      dh_pub, sizeof dh_pub);
  sc_test_unhex_into (
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      sig_pub, sizeof sig_pub);
  g_assert_cmpint (sc_identity_deserialize (buf, sizeof buf, &id), ==, SC_OK);
  g_assert_cmpmem (id.pub.dh, SC_X25519_LEN, dh_pub, sizeof dh_pub);
  g_assert_cmpmem (id.pub.sig, SC_ED25519_LEN, sig_pub, sizeof sig_pub);
  sc_identity_wipe (&id);
}

static void
test_deserialize_bad (void)
{
  guint8 buf[SC_IDENTITY_SECRET_LEN + 8];
  struct sc_identity id, good;

  g_assert_cmpint (sc_identity_generate (&good), ==, SC_OK);
  g_assert_cmpint (sc_identity_serialize (&good, buf), ==, SC_OK);
  memset (buf + SC_IDENTITY_SECRET_LEN, 0, 8);

  /* Every short length, and every longer one up to 8 bytes over. */
  for (gsize len = 0; len < SC_IDENTITY_SECRET_LEN; len++)
    {
      memset (&id, 0xa5, sizeof id);
      g_assert_cmpint (sc_identity_deserialize (buf, len, &id), ==,
                       SC_ERR_TRUNCATED);
      g_assert_true (all_zero (&id, sizeof id));
    }
  for (gsize len = SC_IDENTITY_SECRET_LEN + 1; len <= sizeof buf; len++)
    {
      memset (&id, 0xa5, sizeof id);
      g_assert_cmpint (sc_identity_deserialize (buf, len, &id), ==,
                       SC_ERR_INVALID);
      g_assert_true (all_zero (&id, sizeof id));
    }
  /* Every version but 1. */
  for (unsigned v = 0; v < 256; v++)
    {
      if (v == 1)
        continue;
      buf[0] = (guint8) v;
      memset (&id, 0xa5, sizeof id);
      g_assert_cmpint (
          sc_identity_deserialize (buf, SC_IDENTITY_SECRET_LEN, &id), ==,
          SC_ERR_INVALID);
      g_assert_true (all_zero (&id, sizeof id));
    }
  buf[0] = 1;
  g_assert_cmpint (sc_identity_deserialize (NULL, 0, &id), ==,
                   SC_ERR_TRUNCATED);
  g_assert_cmpint (sc_identity_deserialize (NULL, SC_IDENTITY_SECRET_LEN, &id),
                   ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_identity_deserialize (buf, SC_IDENTITY_SECRET_LEN, NULL),
                   ==, SC_ERR_INVALID);
  /* And the untouched buffer still loads. */
  g_assert_cmpint (sc_identity_deserialize (buf, SC_IDENTITY_SECRET_LEN, &id),
                   ==, SC_OK);
  g_assert_true (sc_identity_public_equal (&id.pub, &good.pub));
  sc_identity_wipe (&id);
  sc_identity_wipe (&good);
  sc_wipe (buf, sizeof buf);
}

static void
test_public_equal (void)
{
  struct sc_identity id;
  struct sc_identity_public copy;

  g_assert_cmpint (sc_identity_generate (&id), ==, SC_OK);
  copy = id.pub;
  g_assert_true (sc_identity_public_equal (&id.pub, &copy));
  for (gsize i = 0; i < SC_X25519_LEN; i++)
    {
      copy.dh[i] ^= 0x01;
      g_assert_false (sc_identity_public_equal (&id.pub, &copy));
      copy.dh[i] ^= 0x01;
      copy.sig[i] ^= 0x80;
      g_assert_false (sc_identity_public_equal (&id.pub, &copy));
      copy.sig[i] ^= 0x80;
    }
  g_assert_true (sc_identity_public_equal (&id.pub, &copy));
  g_assert_false (sc_identity_public_equal (NULL, &copy));
  g_assert_false (sc_identity_public_equal (&copy, NULL));
  sc_identity_wipe (&id);
}

static void
test_key_encode (void)
{
  guint8 pub[SC_X25519_LEN], enc[SC_ENCODED_KEY_LEN];

  for (gsize i = 0; i < sizeof pub; i++)
    pub[i] = (guint8) (i * 7 + 1);
  sc_key_encode (pub, enc);
  g_assert_cmpuint (enc[0], ==, 0x05);
  g_assert_cmpuint (SC_KEY_TYPE_X25519, ==, 0x05);
  g_assert_cmpmem (enc + 1, SC_X25519_LEN, pub, sizeof pub);
}

/* ---- Signed prekeys ----------------------------------------------------- */

static void
test_spk_sign_verify (void)
{
  struct sc_identity id;
  guint8 spk_priv[SC_X25519_LEN], spk[SC_X25519_LEN];
  guint8 sig[SC_ED25519_SIG_LEN], sig2[SC_ED25519_SIG_LEN];

  g_assert_cmpint (sc_identity_generate (&id), ==, SC_OK);
  g_assert_cmpint (sc_x25519_keypair (spk_priv, spk), ==, SC_OK);
  g_assert_cmpint (sc_spk_sign (&id, 7, spk, sig), ==, SC_OK);
  g_assert_cmpint (sc_spk_verify (&id.pub, 7, spk, sig), ==, SC_OK);
  /* Ed25519 is deterministic. */
  g_assert_cmpint (sc_spk_sign (&id, 7, spk, sig2), ==, SC_OK);
  g_assert_cmpmem (sig, sizeof sig, sig2, sizeof sig2);
  /* Another id gives another signature. */
  g_assert_cmpint (sc_spk_sign (&id, 8, spk, sig2), ==, SC_OK);
  g_assert_false (sc_memeq (sig, sig2, sizeof sig));
  g_assert_cmpint (sc_spk_verify (&id.pub, 8, spk, sig2), ==, SC_OK);

  g_assert_cmpint (sc_spk_sign (NULL, 7, spk, sig2), ==, SC_ERR_INVALID);
  g_assert_true (all_zero (sig2, sizeof sig2));
  g_assert_cmpint (sc_spk_sign (&id, 7, NULL, sig2), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_spk_sign (&id, 7, spk, NULL), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_spk_verify (NULL, 7, spk, sig), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_spk_verify (&id.pub, 7, NULL, sig), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_spk_verify (&id.pub, 7, spk, NULL), ==, SC_ERR_INVALID);
  sc_identity_wipe (&id);
  sc_wipe (spk_priv, sizeof spk_priv);
}

/* The signed bytes are exactly
 * "SecureChat-SPK-v1" || Encode(IK.dh) || IK.sig || BE32(id) || Encode(SPK),
 * checked by verifying the signature over a message built here. */
static void
test_spk_message_layout (void)
{
  struct sc_identity id;
  guint8 spk[SC_X25519_LEN], sig[SC_ED25519_SIG_LEN];
  guint8 msg[17 + 33 + 32 + 4 + 33];
  guint8 *p = msg;

  g_assert_cmpuint (strlen (SC_SPK_SIG_CONTEXT), ==, 17);
  g_assert_cmpint (sc_identity_generate (&id), ==, SC_OK);
  g_assert_cmpint (sc_random (spk, sizeof spk), ==, SC_OK);
  g_assert_cmpint (sc_spk_sign (&id, 0x01020304u, spk, sig), ==, SC_OK);

  memcpy (p, "SecureChat-SPK-v1", 17);
  p += 17;
  *p++ = 0x05;
  memcpy (p, id.pub.dh, 32);
  p += 32;
  memcpy (p, id.pub.sig, 32);
  p += 32;
  *p++ = 0x01;
  *p++ = 0x02;
  *p++ = 0x03;
  *p++ = 0x04;
  *p++ = 0x05;
  memcpy (p, spk, 32);
  p += 32;
  g_assert_cmpuint ((gsize) (p - msg), ==, sizeof msg);
  g_assert_cmpint (sc_ed25519_verify (id.pub.sig, msg, sizeof msg, sig), ==,
                   SC_OK);
  /* Little-endian id, or no context, would not verify. */
  msg[17 + 33 + 32] = 0x04;
  msg[17 + 33 + 32 + 3] = 0x01;
  g_assert_cmpint (sc_ed25519_verify (id.pub.sig, msg, sizeof msg, sig), ==,
                   SC_ERR_SIGNATURE);
  g_assert_cmpint (
      sc_ed25519_verify (id.pub.sig, msg + 17, sizeof msg - 17, sig), ==,
      SC_ERR_SIGNATURE);
  sc_identity_wipe (&id);
}

static void
test_spk_forgeries (void)
{
  struct sc_identity id, other;
  struct sc_identity_public mixed;
  guint8 spk_priv[SC_X25519_LEN], spk[SC_X25519_LEN], spk2[SC_X25519_LEN];
  guint8 sig[SC_ED25519_SIG_LEN], other_sig[SC_ED25519_SIG_LEN];
  unsigned flips = 0;

  g_assert_cmpint (sc_identity_generate (&id), ==, SC_OK);
  g_assert_cmpint (sc_identity_generate (&other), ==, SC_OK);
  g_assert_cmpint (sc_x25519_keypair (spk_priv, spk), ==, SC_OK);
  g_assert_cmpint (sc_random (spk2, sizeof spk2), ==, SC_OK);
  g_assert_cmpint (sc_spk_sign (&id, 42, spk, sig), ==, SC_OK);
  g_assert_cmpint (sc_spk_verify (&id.pub, 42, spk, sig), ==, SC_OK);

  /* Another spk_id, including ids differing in one byte. */
  g_assert_cmpint (sc_spk_verify (&id.pub, 43, spk, sig), ==, SC_ERR_SIGNATURE);
  g_assert_cmpint (sc_spk_verify (&id.pub, 42u | 0x01000000u, spk, sig), ==,
                   SC_ERR_SIGNATURE);
  g_assert_cmpint (sc_spk_verify (&id.pub, 0, spk, sig), ==, SC_ERR_SIGNATURE);
  /* Another SPK, or the SPK with one bit flipped. */
  g_assert_cmpint (sc_spk_verify (&id.pub, 42, spk2, sig), ==,
                   SC_ERR_SIGNATURE);
  spk[31] ^= 0x40;
  g_assert_cmpint (sc_spk_verify (&id.pub, 42, spk, sig), ==, SC_ERR_SIGNATURE);
  spk[31] ^= 0x40;
  /* Another identity altogether. */
  g_assert_cmpint (sc_spk_verify (&other.pub, 42, spk, sig), ==,
                   SC_ERR_SIGNATURE);
  /* Our signing key with another DH key: the signature binds IK.dh. */
  memcpy (mixed.dh, other.pub.dh, SC_X25519_LEN);
  memcpy (mixed.sig, id.pub.sig, SC_ED25519_LEN);
  g_assert_cmpint (sc_spk_verify (&mixed, 42, spk, sig), ==, SC_ERR_SIGNATURE);
  /* Our DH key with another signing key that signs the same SPK: the
   * attacker's signature covers its own IK.sig, not ours, and ours does not
   * verify under its key. */
  memcpy (mixed.dh, id.pub.dh, SC_X25519_LEN);
  memcpy (mixed.sig, other.pub.sig, SC_ED25519_LEN);
  g_assert_cmpint (sc_spk_verify (&mixed, 42, spk, sig), ==, SC_ERR_SIGNATURE);
  g_assert_cmpint (sc_spk_sign (&other, 42, spk, other_sig), ==, SC_OK);
  g_assert_cmpint (sc_spk_verify (&id.pub, 42, spk, other_sig), ==,
                   SC_ERR_SIGNATURE);
  /* Nor does the attacker's own signature verify for the mixed identity:
   * it names the attacker's DH key. */
  g_assert_cmpint (sc_spk_verify (&mixed, 42, spk, other_sig), ==,
                   SC_ERR_SIGNATURE);

  /* Every single bit of the signature. */
  for (gsize b = 0; b < SC_ED25519_SIG_LEN * 8; b++)
    {
      sig[b / 8] ^= (guint8) (1u << (b % 8));
      g_assert_cmpint (sc_spk_verify (&id.pub, 42, spk, sig), ==,
                       SC_ERR_SIGNATURE);
      sig[b / 8] ^= (guint8) (1u << (b % 8));
      flips++;
    }
  g_assert_cmpuint (flips, ==, 512);
  g_assert_cmpint (sc_spk_verify (&id.pub, 42, spk, sig), ==, SC_OK);
  memset (sig, 0, sizeof sig);
  g_assert_cmpint (sc_spk_verify (&id.pub, 42, spk, sig), ==, SC_ERR_SIGNATURE);
  sc_identity_wipe (&id);
  sc_identity_wipe (&other);
  sc_wipe (spk_priv, sizeof spk_priv);
}

/* ---- Safety numbers ----------------------------------------------------- */

static void
assert_safety_format (const char *s)
{
  g_assert_cmpuint (strlen (s), ==, SC_SAFETY_NUMBER_TEXT_LEN);
  for (gsize i = 0; i < SC_SAFETY_NUMBER_TEXT_LEN; i++)
    {
      if (i % 6 == 5)
        g_assert_cmpint (s[i], ==, ' ');
      else
        g_assert_true (g_ascii_isdigit (s[i]));
    }
}

/* The fixed public keys of the known answer: RFC 7748 §6.1 X25519 keys and
 * RFC 8032 §7.1 tests 1 and 2 Ed25519 keys. */
static void
known_identities (struct sc_identity_public *a, struct sc_identity_public *b)
{
  sc_test_unhex_into (
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", a->dh,
      SC_X25519_LEN);
  sc_test_unhex_into (
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      a->sig, SC_ED25519_LEN);
  sc_test_unhex_into (
      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", b->dh,
      SC_X25519_LEN);
  sc_test_unhex_into (
      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
      b->sig, SC_ED25519_LEN);
}

/* Computed once, independently, with Python's hashlib:
 *   key  = b"\x05" + dh + sig
 *   h    = (0).to_bytes(2, "big") + key + user.encode()
 *   5200 times: h = sha512(h + key).digest()
 *   side = "".join("%05d" % (int.from_bytes(h[5*i:5*i+5], "big") % 100000)
 *                  for i in range(6))
 *   alice: 743627538940352629096459138793
 *   bob:   124598874385607978578295358051
 * bob's digits sort first. */
static void
test_safety_known_answer (void)
{
  static const char want[] = "12459 88743 85607 97857 82953 58051 "
                             "74362 75389 40352 62909 64591 38793";
  struct sc_identity_public a, b;
  char out[SC_SAFETY_NUMBER_TEXT_LEN + 1];

  known_identities (&a, &b);
  g_assert_cmpint (sc_safety_number ("alice", &a, "bob", &b, out), ==, SC_OK);
  g_assert_cmpstr (out, ==, want);
  g_assert_cmpint (sc_safety_number ("bob", &b, "alice", &a, out), ==, SC_OK);
  g_assert_cmpstr (out, ==, want);
  assert_safety_format (out);
}

static void
test_safety_symmetric (void)
{
  for (int round = 0; round < 4; round++)
    {
      struct sc_identity a, b;
      char ab[SC_SAFETY_NUMBER_TEXT_LEN + 1];
      char ba[SC_SAFETY_NUMBER_TEXT_LEN + 1];

      g_assert_cmpint (sc_identity_generate (&a), ==, SC_OK);
      g_assert_cmpint (sc_identity_generate (&b), ==, SC_OK);
      memset (ab, 'x', sizeof ab);
      g_assert_cmpint (sc_safety_number ("alice", &a.pub, "bob", &b.pub, ab),
                       ==, SC_OK);
      g_assert_cmpint (sc_safety_number ("bob", &b.pub, "alice", &a.pub, ba),
                       ==, SC_OK);
      g_assert_cmpstr (ab, ==, ba);
      assert_safety_format (ab);
      /* The two 30-digit halves are in ascending order. */
      {
        char digits[SC_SAFETY_NUMBER_DIGITS + 1];
        gsize n = 0;

        for (gsize i = 0; ab[i] != '\0'; i++)
          if (ab[i] != ' ')
            digits[n++] = ab[i];
        g_assert_cmpuint (n, ==, SC_SAFETY_NUMBER_DIGITS);
        g_assert_cmpint (memcmp (digits, digits + 30, 30), <=, 0);
      }
      sc_identity_wipe (&a);
      sc_identity_wipe (&b);
    }
}

static void
test_safety_changes (void)
{
  struct sc_identity_public a, b, c;
  char base[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  char out[SC_SAFETY_NUMBER_TEXT_LEN + 1];

  known_identities (&a, &b);
  g_assert_cmpint (sc_safety_number ("alice", &a, "bob", &b, base), ==, SC_OK);

  /* One bit of each key of each side. */
  for (int side = 0; side < 2; side++)
    for (int half = 0; half < 2; half++)
      {
        struct sc_identity_public *who = side == 0 ? &a : &b;
        guint8 *key = half == 0 ? who->dh : who->sig;

        c = *who;
        key[0] ^= 0x01;
        g_assert_cmpint (sc_safety_number ("alice", &a, "bob", &b, out), ==,
                         SC_OK);
        g_assert_cmpstr (out, !=, base);
        *who = c;
      }
  /* Either username. */
  g_assert_cmpint (sc_safety_number ("alicf", &a, "bob", &b, out), ==, SC_OK);
  g_assert_cmpstr (out, !=, base);
  g_assert_cmpint (sc_safety_number ("alice", &a, "bob2", &b, out), ==, SC_OK);
  g_assert_cmpstr (out, !=, base);
  /* Swapping the names between the keys changes it too. */
  g_assert_cmpint (sc_safety_number ("bob", &a, "alice", &b, out), ==, SC_OK);
  g_assert_cmpstr (out, !=, base);
  /* And everything restored gives the same number again. */
  g_assert_cmpint (sc_safety_number ("alice", &a, "bob", &b, out), ==, SC_OK);
  g_assert_cmpstr (out, ==, base);
}

static void
test_safety_bad (void)
{
  struct sc_identity_public a, b;
  char out[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  char long_name[SC_USERNAME_MAX + 2];

  known_identities (&a, &b);
  memset (long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  memset (out, 'x', sizeof out);
  g_assert_cmpint (sc_safety_number ("", &a, "bob", &b, out), ==,
                   SC_ERR_USERNAME);
  g_assert_true (all_zero (out, sizeof out));
  g_assert_cmpint (sc_safety_number ("alice", &a, "Bob", &b, out), ==,
                   SC_ERR_USERNAME);
  g_assert_cmpint (sc_safety_number (long_name, &a, "bob", &b, out), ==,
                   SC_ERR_USERNAME);
  long_name[SC_USERNAME_MAX] = '\0';
  g_assert_cmpint (sc_safety_number (long_name, &a, "bob", &b, out), ==, SC_OK);
  g_assert_cmpint (sc_safety_number (NULL, &a, "bob", &b, out), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_safety_number ("alice", NULL, "bob", &b, out), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_safety_number ("alice", &a, "bob", &b, NULL), ==,
                   SC_ERR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/identity/generate", test_generate);
  g_test_add_func ("/common/identity/wipe", test_wipe);
  g_test_add_func ("/common/identity/serialize/roundtrip",
                   test_serialize_roundtrip);
  g_test_add_func ("/common/identity/serialize/known", test_deserialize_known);
  g_test_add_func ("/common/identity/serialize/bad", test_deserialize_bad);
  g_test_add_func ("/common/identity/public-equal", test_public_equal);
  g_test_add_func ("/common/identity/key-encode", test_key_encode);
  g_test_add_func ("/common/identity/spk/sign-verify", test_spk_sign_verify);
  g_test_add_func ("/common/identity/spk/message-layout",
                   test_spk_message_layout);
  g_test_add_func ("/common/identity/spk/forgeries", test_spk_forgeries);
  g_test_add_func ("/common/identity/safety-number/known-answer",
                   test_safety_known_answer);
  g_test_add_func ("/common/identity/safety-number/symmetric",
                   test_safety_symmetric);
  g_test_add_func ("/common/identity/safety-number/changes",
                   test_safety_changes);
  g_test_add_func ("/common/identity/safety-number/bad", test_safety_bad);
  return g_test_run ();
}
