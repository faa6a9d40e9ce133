/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Thin wrappers over OpenSSL 3 EVP primitives: the only place common/ calls
 * into libcrypto for primitives. Sizes are in the names; every function
 * returns SC_OK or a negative sc_error. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SC_X25519_LEN     32
#define SC_SHA256_LEN     32
#define SC_AEAD_KEY_LEN   32
#define SC_AEAD_NONCE_LEN 12
#define SC_AEAD_TAG_LEN   16

#define SC_ED25519_LEN     32
#define SC_ED25519_SIG_LEN 64
#define SC_AES_CBC_IV_LEN  16
#define SC_HKDF_SHA256_MAX (255 * SC_SHA256_LEN)

#define SC_WARN_UNUSED __attribute__ ((warn_unused_result))

enum sc_aead_alg
{
  SC_AEAD_AES256GCM,
  SC_AEAD_CHACHAPOLY,
};

/* Fills buf with bytes from the OpenSSL CSPRNG. */
int sc_random (void *buf, size_t len);

/* Wipes len bytes (OPENSSL_cleanse). NULL is a no-op. */
void sc_wipe (void *p, size_t len);

/* Constant-time equality: 1 when equal, 0 otherwise. */
int sc_memeq (const void *a, const void *b, size_t len);

int sc_x25519_keypair (uint8_t priv[SC_X25519_LEN], uint8_t pub[SC_X25519_LEN]);
int sc_x25519_public (const uint8_t priv[SC_X25519_LEN],
                      uint8_t pub[SC_X25519_LEN]);
/* DH; an all-zero shared secret (low-order point) is SC_ERR_DH and *out is
 * zeroed. */
int sc_x25519 (uint8_t out[SC_X25519_LEN],
               const uint8_t priv[SC_X25519_LEN],
               const uint8_t pub[SC_X25519_LEN]) SC_WARN_UNUSED;

/* out receives len bytes of ciphertext followed by the 16-byte tag. */
int sc_aead_encrypt (enum sc_aead_alg alg,
                     const uint8_t key[SC_AEAD_KEY_LEN],
                     const uint8_t nonce[SC_AEAD_NONCE_LEN],
                     const uint8_t *ad,
                     size_t ad_len,
                     const uint8_t *pt,
                     size_t len,
                     uint8_t *out);
/* in holds len bytes: ciphertext then tag (len >= 16). out receives
 * len - 16 bytes, and nothing (zeroed) when authentication fails. */
int sc_aead_decrypt (enum sc_aead_alg alg,
                     const uint8_t key[SC_AEAD_KEY_LEN],
                     const uint8_t nonce[SC_AEAD_NONCE_LEN],
                     const uint8_t *ad,
                     size_t ad_len,
                     const uint8_t *in,
                     size_t len,
                     uint8_t *out) SC_WARN_UNUSED;

int sc_sha256 (const void *data, size_t len, uint8_t out[SC_SHA256_LEN]);
int sc_hmac_sha256 (const uint8_t *key,
                    size_t key_len,
                    const uint8_t *data,
                    size_t len,
                    uint8_t out[SC_SHA256_LEN]);

/* Ed25519 (RFC 8032, pure) through EVP_DigestSign/Verify. */
int sc_ed25519_keypair (uint8_t priv[SC_ED25519_LEN],
                        uint8_t pub[SC_ED25519_LEN]);
int sc_ed25519_public (const uint8_t priv[SC_ED25519_LEN],
                       uint8_t pub[SC_ED25519_LEN]);
int sc_ed25519_sign (const uint8_t priv[SC_ED25519_LEN],
                     const uint8_t *msg,
                     size_t len,
                     uint8_t sig[SC_ED25519_SIG_LEN]);
/* SC_OK, or SC_ERR_SIGNATURE for any signature that does not verify. */
int sc_ed25519_verify (const uint8_t pub[SC_ED25519_LEN],
                       const uint8_t *msg,
                       size_t len,
                       const uint8_t sig[SC_ED25519_SIG_LEN]) SC_WARN_UNUSED;

/* HKDF-SHA256 (RFC 5869, EVP_KDF "HKDF"). salt may be NULL/0 (= HashLen
 * zero bytes). out_len 1..SC_HKDF_SHA256_MAX, else SC_ERR_TOO_LARGE. */
int sc_hkdf_sha256 (const uint8_t *salt,
                    size_t salt_len,
                    const uint8_t *ikm,
                    size_t ikm_len,
                    const uint8_t *info,
                    size_t info_len,
                    uint8_t *out,
                    size_t out_len);

/* AES-256-CBC with PKCS#7 padding. Encryption writes len rounded up to the
 * next multiple of 16 (always at least one byte of padding); decryption
 * returns SC_ERR_DECRYPT for bad padding and writes at most len bytes. */
int sc_aes256_cbc_encrypt (const uint8_t key[32],
                           const uint8_t iv[SC_AES_CBC_IV_LEN],
                           const uint8_t *pt,
                           size_t len,
                           uint8_t *out,
                           size_t out_cap,
                           size_t *out_len);
int sc_aes256_cbc_decrypt (const uint8_t key[32],
                           const uint8_t iv[SC_AES_CBC_IV_LEN],
                           const uint8_t *ct,
                           size_t len,
                           uint8_t *out,
                           size_t out_cap,
                           size_t *out_len) SC_WARN_UNUSED;
