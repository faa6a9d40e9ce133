/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A SecureChat secure channel: the Noise handshake with SecureChat's fixed
 * protocol name and prologue, then transport frames, with the rekey policy
 * of PROTOCOL.md. Sans-I/O: frames in, frames out, in caller buffers.
 *
 * Frames written by this module include the 2-byte length header; frames
 * read are given without it (sc_frame_next strips it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/frame.h"
#include "securechat/noise.h"

#define SC_CHANNEL_PROLOGUE "SecureChat/1"
/* Each direction calls REKEY() before the message whose nonce is a
 * non-zero multiple of this. */
#define SC_CHANNEL_REKEY_INTERVAL (UINT64_C (1) << 20)
/* Largest plaintext in one transport frame. */
#define SC_CHANNEL_MAX_PLAINTEXT (SC_NOISE_MAX_MESSAGE - SC_NOISE_TAG_LEN)

struct sc_channel;

/* The responder (server) must pass its static private key; the initiator
 * passes NULL. */
int sc_channel_new (enum sc_noise_role role,
                    const uint8_t *static_priv,
                    struct sc_channel **out);
void sc_channel_free (struct sc_channel *ch);

/* What the channel expects next: WRITE or READ while handshaking, SPLIT once
 * established, FAILED after any error. */
enum sc_noise_action sc_channel_action (const struct sc_channel *ch);
bool sc_channel_established (const struct sc_channel *ch);

/* Next handshake message carrying payload, as a frame (header included). */
int sc_channel_write_handshake (struct sc_channel *ch,
                                const uint8_t *payload,
                                size_t payload_len,
                                uint8_t *out,
                                size_t out_cap,
                                size_t *out_len);
/* Reads a handshake frame body. After the last message the channel splits
 * itself and becomes established. */
int sc_channel_read_handshake (struct sc_channel *ch,
                               const uint8_t *msg,
                               size_t msg_len,
                               uint8_t *payload,
                               size_t payload_cap,
                               size_t *payload_len) SC_WARN_UNUSED;

int sc_channel_remote_static (const struct sc_channel *ch,
                              uint8_t pub[SC_X25519_LEN]);
int sc_channel_handshake_hash (const struct sc_channel *ch,
                               uint8_t out[SC_SHA256_LEN]);

/* Frees the cipher contexts of an idle channel (about 2.3 KiB); its keys
 * and nonces stay, and the next frame keys new contexts. */
void sc_channel_shed (struct sc_channel *ch);

/* Encrypts pt (at most SC_CHANNEL_MAX_PLAINTEXT) into a frame:
 * out receives 2 + len + 16 bytes. */
int sc_channel_seal (struct sc_channel *ch,
                     const uint8_t *pt,
                     size_t len,
                     uint8_t *out,
                     size_t out_cap,
                     size_t *out_len);
/* Decrypts a transport frame body; pt receives len - 16 bytes. Any failure
 * fails the channel for good (the stream can no longer be trusted). */
int sc_channel_open (struct sc_channel *ch,
                     const uint8_t *ct,
                     size_t len,
                     uint8_t *pt,
                     size_t pt_cap,
                     size_t *pt_len) SC_WARN_UNUSED;
