/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Thin wrappers over OpenSSL 3 EVP: X25519, the two AEADs, SHA-256,
 * HMAC-SHA256, Ed25519, HKDF-SHA256 and AES-256-CBC. Every EVP object is freed
 * on every path; every buffer that held a secret is wiped before it goes out of
 * scope. */
#include "securechat/crypto.h"

#ifdef SC_NOISE_TESTING
#include <stdbool.h>

#include "securechat/crypto-testing.h"
#endif

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "securechat/error.h"

#ifdef SC_NOISE_TESTING
/* The deterministic stream of sc_random_testing_seed. */
static struct
{
  bool on;
  uint8_t seed[SC_SHA256_LEN];
  uint64_t counter;
  uint8_t block[SC_SHA256_LEN];
  size_t used; /* bytes of block already handed out */
} fixed_random;

void
sc_random_testing_seed (const uint8_t *seed, size_t seed_len)
{
  memset (&fixed_random, 0, sizeof fixed_random);
  if (seed == NULL)
    return;
  /* Any seed length: its hash keys the stream. */
  if (sc_sha256 (seed, seed_len, fixed_random.seed) != SC_OK)
    return;
  fixed_random.used = sizeof fixed_random.block;
  fixed_random.on = true;
}

static int
fixed_random_bytes (uint8_t *out, size_t len)
{
  while (len > 0)
    {
      size_t n;

      if (fixed_random.used == sizeof fixed_random.block)
        {
          uint8_t in[SC_SHA256_LEN + 8];

          memcpy (in, fixed_random.seed, SC_SHA256_LEN);
          for (int i = 0; i < 8; i++)
            in[SC_SHA256_LEN + i] =
                (uint8_t) (fixed_random.counter >> (56 - 8 * i));
          fixed_random.counter++;
          if (sc_sha256 (in, sizeof in, fixed_random.block) != SC_OK)
            return SC_ERR_CRYPTO;
          fixed_random.used = 0;
        }
      n = sizeof fixed_random.block - fixed_random.used;
      if (n > len)
        n = len;
      memcpy (out, fixed_random.block + fixed_random.used, n);
      fixed_random.used += n;
      out += n;
      len -= n;
    }
  return SC_OK;
}
#endif

int
sc_random (void *buf, size_t len)
{
  if (len == 0)
    return SC_OK;
  if (buf == NULL)
    return SC_ERR_INVALID;
  if (len > INT_MAX)
    return SC_ERR_TOO_LARGE;
#ifdef SC_NOISE_TESTING
  if (fixed_random.on)
    return fixed_random_bytes (buf, len);
#endif
  if (RAND_bytes (buf, (int) len) != 1)
    return SC_ERR_CRYPTO;
  return SC_OK;
}

void
sc_wipe (void *p, size_t len)
{
  if (p != NULL && len > 0)
    OPENSSL_cleanse (p, len);
}

int
sc_memeq (const void *a, const void *b, size_t len)
{
  if (len == 0)
    return 1;
  if (a == NULL || b == NULL)
    return 0;
  return CRYPTO_memcmp (a, b, len) == 0;
}

/* Both raw key types are 32 bytes (RFC 7748, RFC 8032). */
#define RAW_KEY_LEN 32
_Static_assert(SC_X25519_LEN == RAW_KEY_LEN && SC_ED25519_LEN == RAW_KEY_LEN,
               "raw X25519 and Ed25519 keys are 32 bytes");

/* The public key of a raw private key of EVP type `type`; pub is zeroed on
 * failure. */
static int
raw_public (int type, const uint8_t priv[RAW_KEY_LEN], uint8_t pub[RAW_KEY_LEN])
{
  EVP_PKEY *key;
  size_t pub_len = RAW_KEY_LEN;
  int ret = SC_ERR_CRYPTO;

  if (priv == NULL || pub == NULL)
    return SC_ERR_INVALID;
  key = EVP_PKEY_new_raw_private_key (type, NULL, priv, RAW_KEY_LEN);
  if (key != NULL && EVP_PKEY_get_raw_public_key (key, pub, &pub_len) == 1 &&
      pub_len == RAW_KEY_LEN)
    ret = SC_OK;
  else
    memset (pub, 0, RAW_KEY_LEN);
  EVP_PKEY_free (key);
  return ret;
}

/* A fresh random private key of EVP type `type` (any 32 bytes are one for
 * X25519 and, as a seed, for Ed25519: RFC 8032 §5.1.5) and its public key;
 * both are wiped on failure. */
static int
raw_keypair (int type, uint8_t priv[RAW_KEY_LEN], uint8_t pub[RAW_KEY_LEN])
{
  int ret;

  if (priv == NULL || pub == NULL)
    return SC_ERR_INVALID;
  ret = sc_random (priv, RAW_KEY_LEN);
  if (ret == SC_OK)
    ret = raw_public (type, priv, pub);
  if (ret != SC_OK)
    {
      sc_wipe (priv, RAW_KEY_LEN);
      memset (pub, 0, RAW_KEY_LEN);
    }
  return ret;
}

int
sc_x25519_public (const uint8_t priv[SC_X25519_LEN], uint8_t pub[SC_X25519_LEN])
{
  return raw_public (EVP_PKEY_X25519, priv, pub);
}

int
sc_x25519_keypair (uint8_t priv[SC_X25519_LEN], uint8_t pub[SC_X25519_LEN])
{
  return raw_keypair (EVP_PKEY_X25519, priv, pub);
}

int
sc_x25519 (uint8_t out[SC_X25519_LEN],
           const uint8_t priv[SC_X25519_LEN],
           const uint8_t pub[SC_X25519_LEN])
{
  EVP_PKEY *sk = NULL;
  EVP_PKEY *pk = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  size_t out_len = SC_X25519_LEN;
  uint8_t acc = 0;
  int ret = SC_ERR_CRYPTO;

  if (out == NULL)
    return SC_ERR_INVALID;
  memset (out, 0, SC_X25519_LEN);
  if (priv == NULL || pub == NULL)
    return SC_ERR_INVALID;

  sk =
      EVP_PKEY_new_raw_private_key (EVP_PKEY_X25519, NULL, priv, SC_X25519_LEN);
  pk = EVP_PKEY_new_raw_public_key (EVP_PKEY_X25519, NULL, pub, SC_X25519_LEN);
  if (sk == NULL || pk == NULL)
    goto out;
  ctx = EVP_PKEY_CTX_new_from_pkey (NULL, sk, NULL);
  if (ctx == NULL || EVP_PKEY_derive_init (ctx) != 1 ||
      EVP_PKEY_derive_set_peer (ctx, pk) != 1)
    goto out;
  /* OpenSSL refuses to return an all-zero X25519 output (a low-order or
   * otherwise degenerate peer key): that is a DH failure, not an internal
   * one. */
  if (EVP_PKEY_derive (ctx, out, &out_len) != 1)
    {
      ret = SC_ERR_DH;
      goto out;
    }
  if (out_len != SC_X25519_LEN)
    goto out;
  /* Checked here as well, in constant time, so the rule does not depend on
   * the library version. */
  for (size_t i = 0; i < SC_X25519_LEN; i++)
    acc |= out[i];
  if (acc == 0)
    {
      ret = SC_ERR_DH;
      goto out;
    }
  ret = SC_OK;

out:
  if (ret != SC_OK)
    sc_wipe (out, SC_X25519_LEN);
  EVP_PKEY_CTX_free (ctx);
  EVP_PKEY_free (pk);
  EVP_PKEY_free (sk);
  return ret;
}

static const EVP_CIPHER *
aead_cipher (enum sc_aead_alg alg)
{
  switch (alg)
    {
    case SC_AEAD_AES256GCM:
      return EVP_aes_256_gcm ();
    case SC_AEAD_CHACHAPOLY:
      return EVP_chacha20_poly1305 ();
    }
  return NULL;
}

/* Sets up ctx for one AEAD operation (enc 1 or 0) and feeds the AD. */
static int
aead_begin (EVP_CIPHER_CTX *ctx,
            enum sc_aead_alg alg,
            int enc,
            const uint8_t key[SC_AEAD_KEY_LEN],
            const uint8_t nonce[SC_AEAD_NONCE_LEN],
            const uint8_t *ad,
            size_t ad_len)
{
  const EVP_CIPHER *cipher = aead_cipher (alg);
  int outl = 0;

  if (cipher == NULL)
    return SC_ERR_INVALID;
  if (EVP_CipherInit_ex (ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_AEAD_SET_IVLEN, SC_AEAD_NONCE_LEN,
                           NULL) != 1 ||
      EVP_CipherInit_ex (ctx, NULL, NULL, key, nonce, enc) != 1)
    return SC_ERR_CRYPTO;
  if (ad_len > 0 && EVP_CipherUpdate (ctx, NULL, &outl, ad, (int) ad_len) != 1)
    return SC_ERR_CRYPTO;
  return SC_OK;
}

int
sc_aead_encrypt (enum sc_aead_alg alg,
                 const uint8_t key[SC_AEAD_KEY_LEN],
                 const uint8_t nonce[SC_AEAD_NONCE_LEN],
                 const uint8_t *ad,
                 size_t ad_len,
                 const uint8_t *pt,
                 size_t len,
                 uint8_t *out)
{
  EVP_CIPHER_CTX *ctx;
  int outl = 0;
  int finl = 0;
  int ret;

  if (key == NULL || nonce == NULL || out == NULL ||
      (ad == NULL && ad_len > 0) || (pt == NULL && len > 0))
    return SC_ERR_INVALID;
  if (ad_len > INT_MAX || len > (size_t) INT_MAX - SC_AEAD_TAG_LEN)
    return SC_ERR_TOO_LARGE;

  ctx = EVP_CIPHER_CTX_new ();
  if (ctx == NULL)
    return SC_ERR_NOMEM;
  ret = aead_begin (ctx, alg, 1, key, nonce, ad, ad_len);
  if (ret != SC_OK)
    goto out;
  ret = SC_ERR_CRYPTO;
  if (len > 0 && (EVP_EncryptUpdate (ctx, out, &outl, pt, (int) len) != 1 ||
                  (size_t) outl != len))
    goto out;
  if (EVP_EncryptFinal_ex (ctx, out + len, &finl) != 1 || finl != 0)
    goto out;
  if (EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_AEAD_GET_TAG, SC_AEAD_TAG_LEN,
                           out + len) != 1)
    goto out;
  ret = SC_OK;

out:
  if (ret != SC_OK)
    sc_wipe (out, len + SC_AEAD_TAG_LEN);
  EVP_CIPHER_CTX_free (ctx);
  return ret;
}

int
sc_aead_decrypt (enum sc_aead_alg alg,
                 const uint8_t key[SC_AEAD_KEY_LEN],
                 const uint8_t nonce[SC_AEAD_NONCE_LEN],
                 const uint8_t *ad,
                 size_t ad_len,
                 const uint8_t *in,
                 size_t len,
                 uint8_t *out)
{
  EVP_CIPHER_CTX *ctx;
  uint8_t tag[SC_AEAD_TAG_LEN];
  size_t ct_len;
  int outl = 0;
  int finl = 0;
  int ret;

  if (key == NULL || nonce == NULL || in == NULL || (ad == NULL && ad_len > 0))
    return SC_ERR_INVALID;
  if (len < SC_AEAD_TAG_LEN)
    return SC_ERR_TRUNCATED;
  ct_len = len - SC_AEAD_TAG_LEN;
  if (out == NULL && ct_len > 0)
    return SC_ERR_INVALID;
  if (ad_len > INT_MAX || len > INT_MAX)
    return SC_ERR_TOO_LARGE;

  /* Copied first: out may be in (in-place), and the tag follows it. */
  memcpy (tag, in + ct_len, SC_AEAD_TAG_LEN);
  ctx = EVP_CIPHER_CTX_new ();
  if (ctx == NULL)
    return SC_ERR_NOMEM;
  ret = aead_begin (ctx, alg, 0, key, nonce, ad, ad_len);
  if (ret != SC_OK)
    goto out;
  ret = SC_ERR_CRYPTO;
  if (ct_len > 0 &&
      (EVP_DecryptUpdate (ctx, out, &outl, in, (int) ct_len) != 1 ||
       (size_t) outl != ct_len))
    goto out;
  if (EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_AEAD_SET_TAG, SC_AEAD_TAG_LEN, tag) !=
      1)
    goto out;
  /* The AEAD modes write nothing at Final; it only checks the tag. */
  if (EVP_DecryptFinal_ex (ctx, out != NULL ? out + ct_len : tag, &finl) != 1 ||
      finl != 0)
    {
      ret = SC_ERR_DECRYPT;
      goto out;
    }
  ret = SC_OK;

out:
  if (ret != SC_OK && out != NULL)
    sc_wipe (out, ct_len);
  EVP_CIPHER_CTX_free (ctx);
  return ret;
}

int
sc_sha256 (const void *data, size_t len, uint8_t out[SC_SHA256_LEN])
{
  unsigned int out_len = 0;

  if (out == NULL || (data == NULL && len > 0))
    return SC_ERR_INVALID;
  if (EVP_Digest (len > 0 ? data : "", len, out, &out_len, EVP_sha256 (),
                  NULL) != 1 ||
      out_len != SC_SHA256_LEN)
    {
      memset (out, 0, SC_SHA256_LEN);
      return SC_ERR_CRYPTO;
    }
  return SC_OK;
}

int
sc_hmac_sha256 (const uint8_t *key,
                size_t key_len,
                const uint8_t *data,
                size_t len,
                uint8_t out[SC_SHA256_LEN])
{
  static const uint8_t empty[1] = { 0 };
  EVP_MAC *mac = NULL;
  EVP_MAC_CTX *ctx = NULL;
  OSSL_PARAM params[2];
  size_t out_len = 0;
  int ret = SC_ERR_CRYPTO;

  if (out == NULL || (key == NULL && key_len > 0) || (data == NULL && len > 0))
    return SC_ERR_INVALID;

  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST,
                                                (char *) "SHA256", 0);
  params[1] = OSSL_PARAM_construct_end ();
  mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
  if (mac == NULL)
    goto out;
  ctx = EVP_MAC_CTX_new (mac);
  if (ctx == NULL)
    {
      ret = SC_ERR_NOMEM;
      goto out;
    }
  /* A zero-length key is a valid HMAC key; OpenSSL wants a pointer. */
  if (EVP_MAC_init (ctx, key_len > 0 ? key : empty, key_len, params) != 1)
    goto out;
  if (len > 0 && EVP_MAC_update (ctx, data, len) != 1)
    goto out;
  if (EVP_MAC_final (ctx, out, &out_len, SC_SHA256_LEN) != 1 ||
      out_len != SC_SHA256_LEN)
    goto out;
  ret = SC_OK;

out:
  if (ret != SC_OK)
    sc_wipe (out, SC_SHA256_LEN);
  EVP_MAC_CTX_free (ctx);
  EVP_MAC_free (mac);
  return ret;
}

/* Ed25519 ------------------------------------------------------------------ */

int
sc_ed25519_public (const uint8_t priv[SC_ED25519_LEN],
                   uint8_t pub[SC_ED25519_LEN])
{
  return raw_public (EVP_PKEY_ED25519, priv, pub);
}

int
sc_ed25519_keypair (uint8_t priv[SC_ED25519_LEN], uint8_t pub[SC_ED25519_LEN])
{
  return raw_keypair (EVP_PKEY_ED25519, priv, pub);
}

int
sc_ed25519_sign (const uint8_t priv[SC_ED25519_LEN],
                 const uint8_t *msg,
                 size_t len,
                 uint8_t sig[SC_ED25519_SIG_LEN])
{
  static const uint8_t empty[1] = { 0 };
  EVP_PKEY *key = NULL;
  EVP_MD_CTX *ctx = NULL;
  size_t sig_len = SC_ED25519_SIG_LEN;
  int ret = SC_ERR_CRYPTO;

  if (sig == NULL)
    return SC_ERR_INVALID;
  memset (sig, 0, SC_ED25519_SIG_LEN);
  if (priv == NULL || (msg == NULL && len > 0))
    return SC_ERR_INVALID;

  key = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, priv,
                                      SC_ED25519_LEN);
  if (key == NULL)
    goto out;
  ctx = EVP_MD_CTX_new ();
  if (ctx == NULL)
    {
      ret = SC_ERR_NOMEM;
      goto out;
    }
  /* Pure Ed25519: no digest, one-shot only. */
  if (EVP_DigestSignInit_ex (ctx, NULL, NULL, NULL, NULL, key, NULL) != 1)
    goto out;
  if (EVP_DigestSign (ctx, sig, &sig_len, len > 0 ? msg : empty, len) != 1 ||
      sig_len != SC_ED25519_SIG_LEN)
    goto out;
  ret = SC_OK;

out:
  if (ret != SC_OK)
    memset (sig, 0, SC_ED25519_SIG_LEN);
  EVP_MD_CTX_free (ctx);
  EVP_PKEY_free (key);
  return ret;
}

int
sc_ed25519_verify (const uint8_t pub[SC_ED25519_LEN],
                   const uint8_t *msg,
                   size_t len,
                   const uint8_t sig[SC_ED25519_SIG_LEN])
{
  static const uint8_t empty[1] = { 0 };
  EVP_PKEY *key = NULL;
  EVP_MD_CTX *ctx = NULL;
  int ret = SC_ERR_SIGNATURE;

  if (pub == NULL || sig == NULL || (msg == NULL && len > 0))
    return SC_ERR_INVALID;

  /* A public key that does not decode to a curve point makes the key or the
   * verification fail; either way the signature does not verify. */
  key =
      EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pub, SC_ED25519_LEN);
  if (key == NULL)
    goto out;
  ctx = EVP_MD_CTX_new ();
  if (ctx == NULL)
    {
      ret = SC_ERR_NOMEM;
      goto out;
    }
  if (EVP_DigestVerifyInit_ex (ctx, NULL, NULL, NULL, NULL, key, NULL) != 1)
    {
      ret = SC_ERR_CRYPTO;
      goto out;
    }
  if (EVP_DigestVerify (ctx, sig, SC_ED25519_SIG_LEN, len > 0 ? msg : empty,
                        len) == 1)
    ret = SC_OK;

out:
  EVP_MD_CTX_free (ctx);
  EVP_PKEY_free (key);
  return ret;
}

/* HKDF-SHA256 -------------------------------------------------------------- */

/* OpenSSL 3's HKDF refuses a longer info (HKDF_MAXINFO); said up front so
 * it is a length error and not an internal one. */
#define HKDF_INFO_MAX (32 * 1024)

int
sc_hkdf_sha256 (const uint8_t *salt,
                size_t salt_len,
                const uint8_t *ikm,
                size_t ikm_len,
                const uint8_t *info,
                size_t info_len,
                uint8_t *out,
                size_t out_len)
{
  /* RFC 5869 §2.2: a missing salt is HashLen zero bytes. OpenSSL would treat
   * an absent salt the same way, but say it explicitly. */
  static const uint8_t zero_salt[SC_SHA256_LEN] = { 0 };
  static const uint8_t empty[1] = { 0 };
  EVP_KDF *kdf = NULL;
  EVP_KDF_CTX *ctx = NULL;
  OSSL_PARAM params[6];
  size_t n = 0;
  int mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
  int ret = SC_ERR_CRYPTO;

  if (out == NULL || out_len == 0 || (salt == NULL && salt_len > 0) ||
      (ikm == NULL && ikm_len > 0) || (info == NULL && info_len > 0))
    return SC_ERR_INVALID;
  if (out_len > SC_HKDF_SHA256_MAX || info_len > HKDF_INFO_MAX)
    return SC_ERR_TOO_LARGE;

  if (salt == NULL || salt_len == 0)
    {
      salt = zero_salt;
      salt_len = sizeof zero_salt;
    }
  params[n++] = OSSL_PARAM_construct_utf8_string (OSSL_KDF_PARAM_DIGEST,
                                                  (char *) "SHA256", 0);
  params[n++] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT,
                                                   (void *) salt, salt_len);
  /* An empty IKM is legal in RFC 5869; OpenSSL wants a pointer. */
  params[n++] = OSSL_PARAM_construct_octet_string (
      OSSL_KDF_PARAM_KEY, (void *) (ikm_len > 0 ? ikm : empty), ikm_len);
  if (info_len > 0)
    params[n++] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_INFO,
                                                     (void *) info, info_len);
  params[n++] = OSSL_PARAM_construct_int (OSSL_KDF_PARAM_MODE, &mode);
  params[n] = OSSL_PARAM_construct_end ();

  kdf = EVP_KDF_fetch (NULL, "HKDF", NULL);
  if (kdf == NULL)
    goto out;
  ctx = EVP_KDF_CTX_new (kdf);
  if (ctx == NULL)
    {
      ret = SC_ERR_NOMEM;
      goto out;
    }
  if (EVP_KDF_derive (ctx, out, out_len, params) != 1)
    goto out;
  ret = SC_OK;

out:
  if (ret != SC_OK)
    sc_wipe (out, out_len);
  EVP_KDF_CTX_free (ctx);
  EVP_KDF_free (kdf);
  return ret;
}

/* AES-256-CBC -------------------------------------------------------------- */

#define SC_AES_BLOCK 16

int
sc_aes256_cbc_encrypt (const uint8_t key[32],
                       const uint8_t iv[SC_AES_CBC_IV_LEN],
                       const uint8_t *pt,
                       size_t len,
                       uint8_t *out,
                       size_t out_cap,
                       size_t *out_len)
{
  EVP_CIPHER_CTX *ctx = NULL;
  size_t need;
  int outl = 0;
  int finl = 0;
  int ret = SC_ERR_CRYPTO;

  if (out_len != NULL)
    *out_len = 0;
  if (key == NULL || iv == NULL || out == NULL || out_len == NULL ||
      (pt == NULL && len > 0))
    return SC_ERR_INVALID;
  if (len > (size_t) INT_MAX - SC_AES_BLOCK)
    return SC_ERR_TOO_LARGE;
  /* PKCS#7 always adds 1..16 bytes. */
  need = (len / SC_AES_BLOCK + 1) * SC_AES_BLOCK;
  if (out_cap < need)
    return SC_ERR_BUFFER;

  ctx = EVP_CIPHER_CTX_new ();
  if (ctx == NULL)
    return SC_ERR_NOMEM;
  if (EVP_EncryptInit_ex (ctx, EVP_aes_256_cbc (), NULL, key, iv) != 1 ||
      EVP_CIPHER_CTX_set_padding (ctx, 1) != 1)
    goto out;
  if (len > 0 && EVP_EncryptUpdate (ctx, out, &outl, pt, (int) len) != 1)
    goto out;
  if (outl < 0 || (size_t) outl > need - SC_AES_BLOCK)
    goto out;
  if (EVP_EncryptFinal_ex (ctx, out + outl, &finl) != 1 ||
      finl != SC_AES_BLOCK || (size_t) outl + (size_t) finl != need)
    goto out;
  *out_len = need;
  ret = SC_OK;

out:
  if (ret != SC_OK)
    sc_wipe (out, need);
  EVP_CIPHER_CTX_free (ctx);
  return ret;
}

int
sc_aes256_cbc_decrypt (const uint8_t key[32],
                       const uint8_t iv[SC_AES_CBC_IV_LEN],
                       const uint8_t *ct,
                       size_t len,
                       uint8_t *out,
                       size_t out_cap,
                       size_t *out_len)
{
  EVP_CIPHER_CTX *ctx = NULL;
  uint8_t last[SC_AES_BLOCK];
  int outl = 0;
  int finl = 0;
  int ret = SC_ERR_CRYPTO;

  if (out_len != NULL)
    *out_len = 0;
  if (key == NULL || iv == NULL || ct == NULL || out == NULL || out_len == NULL)
    return SC_ERR_INVALID;
  /* A PKCS#7 ciphertext is a whole number of blocks, at least one. */
  if (len == 0 || len % SC_AES_BLOCK != 0)
    return SC_ERR_DECRYPT;
  if (len > INT_MAX)
    return SC_ERR_TOO_LARGE;
  /* The plaintext is at most len - 1 bytes, but OpenSSL writes the blocks
   * before the last one into out and holds the last one back until Final:
   * out must take len - 16 bytes from Update and the unpadded tail of the
   * last block from Final, which goes through a local buffer so that out_cap
   * only has to cover the real plaintext. */
  if (out_cap < len - SC_AES_BLOCK)
    return SC_ERR_BUFFER;

  ctx = EVP_CIPHER_CTX_new ();
  if (ctx == NULL)
    return SC_ERR_NOMEM;
  if (EVP_DecryptInit_ex (ctx, EVP_aes_256_cbc (), NULL, key, iv) != 1 ||
      EVP_CIPHER_CTX_set_padding (ctx, 1) != 1)
    goto out;
  if (EVP_DecryptUpdate (ctx, out, &outl, ct, (int) len) != 1)
    goto out;
  if (outl < 0 || (size_t) outl != len - SC_AES_BLOCK)
    goto out;
  if (EVP_DecryptFinal_ex (ctx, last, &finl) != 1)
    {
      ret = SC_ERR_DECRYPT;
      goto out;
    }
  if (finl < 0 || finl >= SC_AES_BLOCK)
    goto out;
  if ((size_t) outl + (size_t) finl > out_cap)
    {
      ret = SC_ERR_BUFFER;
      goto out;
    }
  memcpy (out + outl, last, (size_t) finl);
  *out_len = (size_t) outl + (size_t) finl;
  ret = SC_OK;

out:
  if (ret != SC_OK)
    sc_wipe (out, out_cap < len ? out_cap : len);
  sc_wipe (last, sizeof last);
  EVP_CIPHER_CTX_free (ctx);
  return ret;
}
