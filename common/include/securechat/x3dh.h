/* SPDX-License-Identifier: GPL-3.0-or-later */
/* X3DH (Signal, revision 1, 2016-11-04) over X25519 and SHA-256.
 *
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)
 *   DH4 = DH(EK_A, OPK_B)  (only when a one-time prekey was used)
 *   SK  = HKDF-SHA256(salt = 32 zero bytes,
 *                     ikm = 32 x 0xFF || DH1 || DH2 || DH3 [|| DH4],
 *                     info, L = 32)
 *   AD  = Encode(IK_A.dh) || IK_A.sig || Encode(IK_B.dh) || IK_B.sig
 *         || u8 len || user_A || u8 len || user_B
 * The signed prekey signature is verified before any DH; an all-zero DH
 * aborts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/identity.h"
#include "securechat/msg.h"

#define SC_X3DH_INFO   "SecureChat-X3DH-v1"
#define SC_X3DH_SK_LEN 32
#define SC_X3DH_AD_MAX                                                         \
  (2 * (SC_ENCODED_KEY_LEN + SC_ED25519_LEN) + 2 + 2 * SC_USERNAME_MAX)

struct sc_prekey_bundle
{
  struct sc_identity_public identity;
  uint32_t spk_id;
  uint8_t spk[SC_X25519_LEN];
  uint8_t spk_sig[SC_ED25519_SIG_LEN];
  bool has_opk;
  uint32_t opk_id;
  uint8_t opk[SC_X25519_LEN];
};

/* The KDF alone, for known-answer tests: ikm = F || dh[0] || ... ; n_dh is
 * 3 or 4; out_len may exceed 32 (Signal takes 64). */
int sc_x3dh_kdf (const uint8_t (*dh)[SC_X25519_LEN],
                 size_t n_dh,
                 const char *info,
                 uint8_t *out,
                 size_t out_len);

int sc_x3dh_ad (const char *user_a,
                const struct sc_identity_public *a,
                const char *user_b,
                const struct sc_identity_public *b,
                uint8_t ad[SC_X3DH_AD_MAX],
                size_t *ad_len);

/* Alice. Verifies the bundle's SPK signature (SC_ERR_SIGNATURE), makes an
 * ephemeral key, and returns SK, EK_A.pub and AD. ek_priv_fixed is for
 * known-answer tests and must be NULL otherwise. Usernames are validated
 * (SC_ERR_USERNAME); a low-order key anywhere gives SC_ERR_DH. */
int sc_x3dh_initiate (const struct sc_identity *alice,
                      const char *alice_user,
                      const struct sc_prekey_bundle *bob,
                      const char *bob_user,
                      const char *info,
                      const uint8_t *ek_priv_fixed,
                      uint8_t sk[SC_X3DH_SK_LEN],
                      uint8_t ek_pub[SC_X25519_LEN],
                      uint8_t ad[SC_X3DH_AD_MAX],
                      size_t *ad_len);

/* Bob, from Alice's initial message; opk_priv is NULL when none was used. */
int sc_x3dh_respond (const struct sc_identity *bob,
                     const char *bob_user,
                     const uint8_t spk_priv[SC_X25519_LEN],
                     const uint8_t *opk_priv,
                     const struct sc_identity_public *alice,
                     const char *alice_user,
                     const uint8_t ek_pub[SC_X25519_LEN],
                     const char *info,
                     uint8_t sk[SC_X3DH_SK_LEN],
                     uint8_t ad[SC_X3DH_AD_MAX],
                     size_t *ad_len);
