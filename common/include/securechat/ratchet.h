/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Double Ratchet (Signal, revision 1, 2016-11-20), without header
 * encryption.
 *
 *   KDF_RK(rk, dh)  = HKDF-SHA256(salt = rk, ikm = dh, info = rk_info, 64)
 *                     -> new rk (32) || chain key (32)
 *   KDF_CK(ck)      : mk = HMAC-SHA256(ck, 0x01), ck' = HMAC-SHA256(ck, 0x02)
 *   ENCRYPT(mk,p,a) : HKDF-SHA256(salt = 32 zero bytes, ikm = mk,
 *                     info = mk_info, 80) -> enc key 32 || auth key 32 || iv
 * 16; c = AES-256-CBC-PKCS7(enc key, iv, p); tag = HMAC-SHA256(auth key, a ||
 * c)[0:mac_len]
 *
 * A message is  prefix || header || c || tag  where header = DHs (32) ||
 * BE32 PN || BE32 N and the authenticated data a = BE16 len(AD) || AD ||
 * prefix || header. Decryption runs on a copy of the state and commits only
 * on success, so a bad message changes nothing. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "securechat/crypto.h"

#define SC_DR_RK_INFO    "SecureChat-DR-RK-v1"
#define SC_DR_MK_INFO    "SecureChat-DR-MK-v1"
#define SC_DR_MAC_LEN    16
#define SC_DR_HEADER_LEN 40
/* Per message: how far ahead N may jump in one chain. */
#define SC_DR_MAX_SKIP 1000
/* Skipped message keys kept per session (oldest evicted first). */
#define SC_DR_MAX_STORED_KEYS 1000
#define SC_DR_AD_MAX          512
#define SC_DR_PREFIX_MAX      256

struct sc_dr_labels
{
  const char *rk_info;
  const char *mk_info;
  size_t mac_len; /* 8..32 */
};

/* SecureChat's labels (SC_DR_RK_INFO, SC_DR_MK_INFO, 16). */
const struct sc_dr_labels *sc_dr_labels_default (void);

/* The building blocks, exposed for known-answer tests. */
int sc_dr_kdf_rk (const struct sc_dr_labels *l,
                  const uint8_t rk[32],
                  const uint8_t dh_out[32],
                  uint8_t rk_out[32],
                  uint8_t ck_out[32]);
int sc_dr_kdf_ck (const uint8_t ck[32], uint8_t ck_out[32], uint8_t mk[32]);
int sc_dr_message_keys (const struct sc_dr_labels *l,
                        const uint8_t mk[32],
                        uint8_t enc_key[32],
                        uint8_t auth_key[32],
                        uint8_t iv[16]);
/* out receives c || tag (malloc'd). */
int sc_dr_encrypt (const struct sc_dr_labels *l,
                   const uint8_t mk[32],
                   const uint8_t *a,
                   size_t a_len,
                   const uint8_t *pt,
                   size_t len,
                   uint8_t **out,
                   size_t *out_len);
int sc_dr_decrypt (const struct sc_dr_labels *l,
                   const uint8_t mk[32],
                   const uint8_t *a,
                   size_t a_len,
                   const uint8_t *in,
                   size_t len,
                   uint8_t **pt,
                   size_t *pt_len) SC_WARN_UNUSED;

struct sc_ratchet;

/* RatchetInitAlice: Bob's signed prekey is his first ratchet key. AD (the
 * X3DH AD) is copied into the state; the labels are referenced, not copied,
 * and must outlive the state. */
int sc_ratchet_init_alice (const struct sc_dr_labels *l,
                           const uint8_t sk[32],
                           const uint8_t bob_dh_pub[32],
                           const uint8_t *ad,
                           size_t ad_len,
                           struct sc_ratchet **out);
int sc_ratchet_init_bob (const struct sc_dr_labels *l,
                         const uint8_t sk[32],
                         const uint8_t bob_dh_priv[32],
                         const uint8_t *ad,
                         size_t ad_len,
                         struct sc_ratchet **out);
void sc_ratchet_free (struct sc_ratchet *r);

/* Encrypts pt (at most SC_DR_PT_MAX) into  prefix || header || c || tag
 * (malloc'd) and advances the sending chain. The caller persists the state
 * (sc_ratchet_serialize) before the message leaves. SC_ERR_STATE before a
 * sending chain exists (Bob before his first receive), SC_ERR_TOO_LARGE for
 * an oversized prefix or plaintext, SC_ERR_NONCE_EXHAUSTED when N would
 * reach 2^32-1. */
int sc_ratchet_encrypt (struct sc_ratchet *r,
                        const uint8_t *prefix,
                        size_t prefix_len,
                        const uint8_t *pt,
                        size_t len,
                        uint8_t **msg,
                        size_t *msg_len);
/* Decrypts a message whose first prefix_len bytes are the prefix.
 * SC_ERR_DUPLICATE for a message already decrypted, SC_ERR_TOO_FAR beyond
 * MAX_SKIP, SC_ERR_DECRYPT for a bad tag or padding, SC_ERR_TRUNCATED for a
 * short message, SC_ERR_DH for a low-order header key, SC_ERR_PROTOCOL for
 * N = 2^32-1; on any error the state is unchanged. */
int sc_ratchet_decrypt (struct sc_ratchet *r,
                        const uint8_t *msg,
                        size_t msg_len,
                        size_t prefix_len,
                        uint8_t **pt,
                        size_t *pt_len) SC_WARN_UNUSED;

/* Whether a reply from the peer has been decrypted yet (until then the
 * initiator keeps sending the X3DH prefix, spec section 5.1 / 3.3). */
int sc_ratchet_has_received (const struct sc_ratchet *r);
size_t sc_ratchet_stored_keys (const struct sc_ratchet *r);

/* Versioned binary snapshot of the whole state (secrets included: store it
 * 0600 and wipe the buffer). */
int sc_ratchet_serialize (const struct sc_ratchet *r,
                          uint8_t **out,
                          size_t *out_len);
/* SC_ERR_TRUNCATED, SC_ERR_FIELD (bad field, trailing bytes),
 * SC_ERR_UNSUPPORTED (version), SC_ERR_TOO_LARGE (counts over limits). */
int sc_ratchet_deserialize (const struct sc_dr_labels *l,
                            const uint8_t *in,
                            size_t len,
                            struct sc_ratchet **out);
