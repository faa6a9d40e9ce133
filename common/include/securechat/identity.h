/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Long-term identity keys, signed prekeys and safety numbers.
 *
 * An identity is two key pairs bound together: an X25519 pair for the X3DH
 * Diffie-Hellman operations and an Ed25519 pair that signs prekeys (OpenSSL
 * has no XEdDSA). The binding: every prekey signature covers both public
 * identity keys (see sc_spk_sign), and safety numbers cover both. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "securechat/crypto.h"

/* Encode(PK) of the X3DH spec: the curve type byte, then the u-coordinate. */
#define SC_KEY_TYPE_X25519 0x05
#define SC_ENCODED_KEY_LEN 33

#define SC_SPK_SIG_CONTEXT "SecureChat-SPK-v1"

/* 12 groups of 5 digits separated by single spaces. */
#define SC_SAFETY_NUMBER_DIGITS     60
#define SC_SAFETY_NUMBER_TEXT_LEN   71
#define SC_SAFETY_NUMBER_VERSION    0
#define SC_SAFETY_NUMBER_ITERATIONS 5200

struct sc_identity_public
{
  uint8_t dh[SC_X25519_LEN];   /* X25519 identity key */
  uint8_t sig[SC_ED25519_LEN]; /* Ed25519 identity signing key */
};

struct sc_identity
{
  struct sc_identity_public pub;
  uint8_t dh_priv[SC_X25519_LEN];
  uint8_t sig_priv[SC_ED25519_LEN];
};

#define SC_IDENTITY_SECRET_LEN (1 + 2 * 32)

int sc_identity_generate (struct sc_identity *id);
void sc_identity_wipe (struct sc_identity *id);
/* Serialised secret identity: version byte 1, dh_priv, sig_priv (the public
 * halves are derived on load). Deserialising: SC_ERR_TRUNCATED when short,
 * SC_ERR_INVALID for extra bytes or another version. */
int sc_identity_serialize (const struct sc_identity *id,
                           uint8_t out[SC_IDENTITY_SECRET_LEN]);
int
sc_identity_deserialize (const uint8_t *in, size_t len, struct sc_identity *id);
/* Constant-time comparison of two public identities: 1 equal. */
int sc_identity_public_equal (const struct sc_identity_public *a,
                              const struct sc_identity_public *b);

/* Encode(PK) = 0x05 || u. */
void sc_key_encode (const uint8_t pub[SC_X25519_LEN],
                    uint8_t out[SC_ENCODED_KEY_LEN]);

/* Signed prekey signature: Ed25519 with the identity signing key over
 *   "SecureChat-SPK-v1" || Encode(IK.dh) || IK.sig || BE32(spk_id)
 *   || Encode(SPK). */
int sc_spk_sign (const struct sc_identity *id,
                 uint32_t spk_id,
                 const uint8_t spk_pub[SC_X25519_LEN],
                 uint8_t sig[SC_ED25519_SIG_LEN]);
int sc_spk_verify (const struct sc_identity_public *id,
                   uint32_t spk_id,
                   const uint8_t spk_pub[SC_X25519_LEN],
                   const uint8_t sig[SC_ED25519_SIG_LEN]) SC_WARN_UNUSED;

/* Safety number of a conversation, the same on both sides (Signal's
 * numeric fingerprint construction, PROTOCOL.md): for each side,
 *   h = BE16(version) || Encode(IK.dh) || IK.sig || username
 *   repeat 5200 times: h = SHA-512(h || Encode(IK.dh) || IK.sig)
 * then the first 30 bytes as 6 big-endian 40-bit numbers mod 100000,
 * 5 digits each; the two 30-digit strings are compared as strings and the
 * smaller comes first. Usernames are validated (SC_ERR_USERNAME). */
int sc_safety_number (const char *user_a,
                      const struct sc_identity_public *a,
                      const char *user_b,
                      const struct sc_identity_public *b,
                      char out[SC_SAFETY_NUMBER_TEXT_LEN + 1]);
