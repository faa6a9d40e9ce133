/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Noise Protocol Framework, revision 34: HandshakeState, CipherState.
 * DH is 25519 only; ciphers AESGCM and ChaChaPoly; hashes SHA256, SHA512,
 * BLAKE2s and BLAKE2b; the fundamental patterns (N K X NN NK NX XN XK XX KN
 * KK KX IN IK IX). SecureChat itself uses one name, SC_NOISE_PROTOCOL; the
 * others exist so the official vectors check this code more widely.
 *
 * A handshake is driven by asking for the next action; any error fails the
 * handshake for good (every later call returns SC_ERR_STATE). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/crypto.h"

#define SC_NOISE_PROTOCOL     "Noise_NX_25519_AESGCM_SHA256"
#define SC_NOISE_MAX_MESSAGE  65535
#define SC_NOISE_MAX_HASH_LEN 64
#define SC_NOISE_TAG_LEN      16
/* Nonce 2^64-1 is reserved by the spec; encrypting with it is refused. */
#define SC_NOISE_NONCE_MAX UINT64_MAX

enum sc_noise_role
{
  SC_NOISE_INITIATOR,
  SC_NOISE_RESPONDER,
};

enum sc_noise_action
{
  SC_NOISE_ACTION_WRITE, /* call sc_noise_hs_write_message */
  SC_NOISE_ACTION_READ,  /* call sc_noise_hs_read_message */
  SC_NOISE_ACTION_SPLIT, /* handshake done: call sc_noise_hs_split */
  SC_NOISE_ACTION_FAILED,
};

struct sc_noise_hs;
struct sc_noise_cipher;

/* protocol_name like "Noise_NX_25519_AESGCM_SHA256"; unknown names give
 * SC_ERR_UNSUPPORTED. The prologue is copied. */
int sc_noise_hs_new (const char *protocol_name,
                     enum sc_noise_role role,
                     const uint8_t *prologue,
                     size_t prologue_len,
                     struct sc_noise_hs **out);
void sc_noise_hs_free (struct sc_noise_hs *hs);

/* Local static key (private part; the public part is derived). Required
 * when the pattern gives this side an "s". */
int sc_noise_hs_set_static (struct sc_noise_hs *hs,
                            const uint8_t priv[SC_X25519_LEN]);
/* Remote static public key known in advance (pre-message patterns: NK, IK,
 * KK...). */
int sc_noise_hs_set_remote_static (struct sc_noise_hs *hs,
                                   const uint8_t pub[SC_X25519_LEN]);
/* Processes the pre-messages; call once after the keys are set. */
int sc_noise_hs_start (struct sc_noise_hs *hs);

enum sc_noise_action sc_noise_hs_action (const struct sc_noise_hs *hs);

/* Writes the next handshake message carrying payload into out (at most
 * SC_NOISE_MAX_MESSAGE bytes; SC_ERR_BUFFER when out_cap is too small,
 * SC_ERR_TOO_LARGE when the message would exceed 65535 bytes). */
int sc_noise_hs_write_message (struct sc_noise_hs *hs,
                               const uint8_t *payload,
                               size_t payload_len,
                               uint8_t *out,
                               size_t out_cap,
                               size_t *out_len);
/* Reads a handshake message; the decrypted payload goes to payload_out.
 * Truncated or tampered input fails the handshake. */
int sc_noise_hs_read_message (struct sc_noise_hs *hs,
                              const uint8_t *msg,
                              size_t msg_len,
                              uint8_t *payload_out,
                              size_t payload_cap,
                              size_t *payload_len) SC_WARN_UNUSED;

/* The remote static key, once it has been received or was given. */
int sc_noise_hs_remote_static (const struct sc_noise_hs *hs,
                               uint8_t pub[SC_X25519_LEN]);
/* h, HASHLEN bytes (32 or 64): for channel binding. */
int sc_noise_hs_handshake_hash (const struct sc_noise_hs *hs,
                                uint8_t *out,
                                size_t out_cap,
                                size_t *out_len);

/* Split() after the last message: *send is this side's sending
 * CipherState, *recv its receiving one (the initiator sends with c1). The
 * handshake state's secrets are wiped. */
int sc_noise_hs_split (struct sc_noise_hs *hs,
                       struct sc_noise_cipher **send,
                       struct sc_noise_cipher **recv);

/* Transport. out must hold len + 16 bytes; encrypting past nonce 2^64-2
 * returns SC_ERR_NONCE_EXHAUSTED and the state refuses all later use. */
int sc_noise_cipher_encrypt (struct sc_noise_cipher *c,
                             const uint8_t *ad,
                             size_t ad_len,
                             const uint8_t *pt,
                             size_t len,
                             uint8_t *out);
/* in holds ciphertext + tag (len >= 16); out receives len - 16 bytes. A
 * failure does not advance the nonce and writes no plaintext. */
int sc_noise_cipher_decrypt (struct sc_noise_cipher *c,
                             const uint8_t *ad,
                             size_t ad_len,
                             const uint8_t *in,
                             size_t len,
                             uint8_t *out) SC_WARN_UNUSED;
/* REKEY(): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). */
int sc_noise_cipher_rekey (struct sc_noise_cipher *c);
/* Frees the OpenSSL context of a cipher not in use (over a kilobyte); the
 * key stays, and the next operation keys a new context. */
void sc_noise_cipher_shed (struct sc_noise_cipher *c);
uint64_t sc_noise_cipher_nonce (const struct sc_noise_cipher *c);
void sc_noise_cipher_free (struct sc_noise_cipher *c);
