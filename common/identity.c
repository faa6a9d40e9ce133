/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Long-term identities (an X25519 pair and an Ed25519 pair), their secret
 * serialisation, signed prekey signatures and safety numbers. */
#include "securechat/identity.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "securechat/error.h"
#include "securechat/msg.h"

#define IDENTITY_SECRET_VERSION 1

/* Encode(IK.dh) || IK.sig: how an identity enters signatures and safety
 * numbers. */
#define IDENTITY_KEY_BYTES (SC_ENCODED_KEY_LEN + SC_ED25519_LEN)

#define SPK_CONTEXT_LEN (sizeof SC_SPK_SIG_CONTEXT - 1)
#define SPK_MSG_LEN                                                            \
  (SPK_CONTEXT_LEN + IDENTITY_KEY_BYTES + 4 + SC_ENCODED_KEY_LEN)

/* Safety numbers: 6 chunks of 5 bytes per side, 5 digits each. */
#define FP_CHUNKS      6
#define FP_CHUNK_BYTES 5
#define FP_SIDE_DIGITS (FP_CHUNKS * 5)
#define FP_HASH_LEN    64

int
sc_identity_generate (struct sc_identity *id)
{
  int ret;

  if (id == NULL)
    return SC_ERR_INVALID;
  memset (id, 0, sizeof *id);
  ret = sc_x25519_keypair (id->dh_priv, id->pub.dh);
  if (ret == SC_OK)
    ret = sc_ed25519_keypair (id->sig_priv, id->pub.sig);
  if (ret != SC_OK)
    sc_identity_wipe (id);
  return ret;
}

void
sc_identity_wipe (struct sc_identity *id)
{
  if (id != NULL)
    sc_wipe (id, sizeof *id);
}

int
sc_identity_serialize (const struct sc_identity *id,
                       uint8_t out[SC_IDENTITY_SECRET_LEN])
{
  if (id == NULL || out == NULL)
    return SC_ERR_INVALID;
  out[0] = IDENTITY_SECRET_VERSION;
  memcpy (out + 1, id->dh_priv, SC_X25519_LEN);
  memcpy (out + 1 + SC_X25519_LEN, id->sig_priv, SC_ED25519_LEN);
  return SC_OK;
}

int
sc_identity_deserialize (const uint8_t *in, size_t len, struct sc_identity *id)
{
  int ret;

  if (id == NULL)
    return SC_ERR_INVALID;
  memset (id, 0, sizeof *id);
  if (in == NULL && len > 0)
    return SC_ERR_INVALID;
  if (len == 0)
    return SC_ERR_TRUNCATED;
  if (in[0] != IDENTITY_SECRET_VERSION)
    return SC_ERR_INVALID;
  if (len < SC_IDENTITY_SECRET_LEN)
    return SC_ERR_TRUNCATED;
  if (len > SC_IDENTITY_SECRET_LEN)
    return SC_ERR_INVALID;

  memcpy (id->dh_priv, in + 1, SC_X25519_LEN);
  memcpy (id->sig_priv, in + 1 + SC_X25519_LEN, SC_ED25519_LEN);
  ret = sc_x25519_public (id->dh_priv, id->pub.dh);
  if (ret == SC_OK)
    ret = sc_ed25519_public (id->sig_priv, id->pub.sig);
  if (ret != SC_OK)
    sc_identity_wipe (id);
  return ret;
}

int
sc_identity_public_equal (const struct sc_identity_public *a,
                          const struct sc_identity_public *b)
{
  int diff;

  if (a == NULL || b == NULL)
    return 0;
  /* Both halves are always compared, so the time does not tell which one
   * differs. */
  diff = CRYPTO_memcmp (a->dh, b->dh, sizeof a->dh);
  diff |= CRYPTO_memcmp (a->sig, b->sig, sizeof a->sig);
  return diff == 0;
}

void
sc_key_encode (const uint8_t pub[SC_X25519_LEN],
               uint8_t out[SC_ENCODED_KEY_LEN])
{
  if (out == NULL)
    return;
  if (pub == NULL)
    {
      memset (out, 0, SC_ENCODED_KEY_LEN);
      return;
    }
  out[0] = SC_KEY_TYPE_X25519;
  memcpy (out + 1, pub, SC_X25519_LEN);
}

/* Encode(IK.dh) || IK.sig into out. */
static void
identity_key_bytes (const struct sc_identity_public *id,
                    uint8_t out[IDENTITY_KEY_BYTES])
{
  sc_key_encode (id->dh, out);
  memcpy (out + SC_ENCODED_KEY_LEN, id->sig, SC_ED25519_LEN);
}

/* The signed message of sc_spk_sign. */
static void
spk_message (const struct sc_identity_public *id,
             uint32_t spk_id,
             const uint8_t spk_pub[SC_X25519_LEN],
             uint8_t msg[SPK_MSG_LEN])
{
  uint8_t *p = msg;

  memcpy (p, SC_SPK_SIG_CONTEXT, SPK_CONTEXT_LEN);
  p += SPK_CONTEXT_LEN;
  identity_key_bytes (id, p);
  p += IDENTITY_KEY_BYTES;
  *p++ = (uint8_t) (spk_id >> 24);
  *p++ = (uint8_t) (spk_id >> 16);
  *p++ = (uint8_t) (spk_id >> 8);
  *p++ = (uint8_t) spk_id;
  sc_key_encode (spk_pub, p);
}

int
sc_spk_sign (const struct sc_identity *id,
             uint32_t spk_id,
             const uint8_t spk_pub[SC_X25519_LEN],
             uint8_t sig[SC_ED25519_SIG_LEN])
{
  uint8_t msg[SPK_MSG_LEN];

  if (sig == NULL)
    return SC_ERR_INVALID;
  memset (sig, 0, SC_ED25519_SIG_LEN);
  if (id == NULL || spk_pub == NULL)
    return SC_ERR_INVALID;
  spk_message (&id->pub, spk_id, spk_pub, msg);
  return sc_ed25519_sign (id->sig_priv, msg, sizeof msg, sig);
}

int
sc_spk_verify (const struct sc_identity_public *id,
               uint32_t spk_id,
               const uint8_t spk_pub[SC_X25519_LEN],
               const uint8_t sig[SC_ED25519_SIG_LEN])
{
  uint8_t msg[SPK_MSG_LEN];

  if (id == NULL || spk_pub == NULL || sig == NULL)
    return SC_ERR_INVALID;
  spk_message (id, spk_id, spk_pub, msg);
  return sc_ed25519_verify (id->sig, msg, sizeof msg, sig);
}

/* One side's 30 digits (NUL-terminated) of the safety number. */
static int
fingerprint_digits (EVP_MD_CTX *ctx,
                    const char *user,
                    size_t user_len,
                    const struct sc_identity_public *id,
                    char out[FP_SIDE_DIGITS + 1])
{
  const uint8_t version[2] = { (uint8_t) (SC_SAFETY_NUMBER_VERSION >> 8),
                               (uint8_t) SC_SAFETY_NUMBER_VERSION };
  uint8_t key[IDENTITY_KEY_BYTES];
  uint8_t h[FP_HASH_LEN];
  unsigned int h_len = 0;

  identity_key_bytes (id, key);

  /* h = SHA-512(BE16(version) || key || user || key), then
   * h = SHA-512(h || key) for the remaining iterations. */
  if (EVP_DigestInit_ex (ctx, EVP_sha512 (), NULL) != 1 ||
      EVP_DigestUpdate (ctx, version, sizeof version) != 1 ||
      EVP_DigestUpdate (ctx, key, sizeof key) != 1 ||
      EVP_DigestUpdate (ctx, user, user_len) != 1 ||
      EVP_DigestUpdate (ctx, key, sizeof key) != 1 ||
      EVP_DigestFinal_ex (ctx, h, &h_len) != 1 || h_len != FP_HASH_LEN)
    return SC_ERR_CRYPTO;
  for (unsigned i = 1; i < SC_SAFETY_NUMBER_ITERATIONS; i++)
    {
      if (EVP_DigestInit_ex (ctx, EVP_sha512 (), NULL) != 1 ||
          EVP_DigestUpdate (ctx, h, sizeof h) != 1 ||
          EVP_DigestUpdate (ctx, key, sizeof key) != 1 ||
          EVP_DigestFinal_ex (ctx, h, &h_len) != 1 || h_len != FP_HASH_LEN)
        return SC_ERR_CRYPTO;
    }

  for (unsigned c = 0; c < FP_CHUNKS; c++)
    {
      uint64_t v = 0;
      uint32_t n;

      for (unsigned i = 0; i < FP_CHUNK_BYTES; i++)
        v = v << 8 | h[c * FP_CHUNK_BYTES + i];
      n = (uint32_t) (v % 100000);
      for (int d = 4; d >= 0; d--)
        {
          out[c * 5 + (unsigned) d] = (char) ('0' + n % 10);
          n /= 10;
        }
    }
  out[FP_SIDE_DIGITS] = '\0';
  return SC_OK;
}

int
sc_safety_number (const char *user_a,
                  const struct sc_identity_public *a,
                  const char *user_b,
                  const struct sc_identity_public *b,
                  char out[SC_SAFETY_NUMBER_TEXT_LEN + 1])
{
  char fa[FP_SIDE_DIGITS + 1];
  char fb[FP_SIDE_DIGITS + 1];
  const char *first, *second;
  EVP_MD_CTX *ctx;
  size_t la, lb;
  char *p;
  int ret;

  if (out == NULL)
    return SC_ERR_INVALID;
  memset (out, 0, SC_SAFETY_NUMBER_TEXT_LEN + 1);
  if (user_a == NULL || user_b == NULL || a == NULL || b == NULL)
    return SC_ERR_INVALID;
  la = strnlen (user_a, SC_USERNAME_MAX + 1);
  lb = strnlen (user_b, SC_USERNAME_MAX + 1);
  ret = sc_username_validate (user_a, la);
  if (ret == SC_OK)
    ret = sc_username_validate (user_b, lb);
  if (ret != SC_OK)
    return ret;

  ctx = EVP_MD_CTX_new ();
  if (ctx == NULL)
    return SC_ERR_NOMEM;
  ret = fingerprint_digits (ctx, user_a, la, a, fa);
  if (ret == SC_OK)
    ret = fingerprint_digits (ctx, user_b, lb, b, fb);
  EVP_MD_CTX_free (ctx);
  if (ret != SC_OK)
    return ret;

  /* The smaller 30-digit string first, so both sides print the same. */
  if (strcmp (fa, fb) <= 0)
    {
      first = fa;
      second = fb;
    }
  else
    {
      first = fb;
      second = fa;
    }
  p = out;
  for (unsigned g = 0; g < SC_SAFETY_NUMBER_DIGITS / 5; g++)
    {
      const char *src =
          g < FP_CHUNKS ? first + g * 5 : second + (g - FP_CHUNKS) * 5;

      if (g > 0)
        *p++ = ' ';
      memcpy (p, src, 5);
      p += 5;
    }
  *p = '\0';
  return SC_OK;
}
