/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The end-to-end manager of one account (PROTOCOL.md section 12): its
 * identity, signed and one-time prekeys, sessions (X3DH + Double Ratchet)
 * and contacts' identity keys, over a storage the caller provides.
 * Sans-I/O: messages in and out as bytes, the time passed in, no sockets
 * or clocks; the storage callbacks are the only I/O.
 *
 * The storage is the source of truth: every call reads what it needs,
 * works on a copy and writes back only when everything succeeded, so a
 * failed call changes nothing (and several processes sharing one storage
 * see each other's changes when the storage provides lock/unlock). A
 * message leaves sc_e2e_encrypt only after the ratchet state that made
 * it has been stored.
 *
 * Stored names: "account", "identity", "prekeys", "replay",
 * "session/<peer>", "contact/<peer>". Records are versioned binary; a
 * record that does not parse is SC_ERR_STORAGE. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/identity.h"
#include "securechat/msg.h"

#define SC_E2E_VERSION 1

/* Message kinds (the second byte of a body). */
#define SC_E2E_KIND_PREKEY 1
#define SC_E2E_KIND_NORMAL 2
#define SC_E2E_KIND_RESET  3

/* version, kind, IK_A.dh, IK_A.sig, EK_A, BE32 spk_id, BE32 opk_id */
#define SC_E2E_PREKEY_PREFIX_LEN (2 + 32 + 32 + 32 + 4 + 4)
#define SC_E2E_NORMAL_PREFIX_LEN 2
#define SC_E2E_RESET_LEN         2

/* Content types (the first byte of a plaintext). */
#define SC_E2E_CONTENT_TEXT 1
/* Most content bytes of one message (UTF-8 text for type 1). */
#define SC_E2E_CONTENT_MAX 32000

/* Prekey policy. Times in milliseconds. */
#define SC_E2E_SPK_ROTATE_MS (7LL * 24 * 3600 * 1000)
#define SC_E2E_SPK_GRACE_MS  (30LL * 24 * 3600 * 1000)
#define SC_E2E_OPK_TARGET    50  /* published one-time prekeys wanted */
#define SC_E2E_OPK_LOW       20  /* fewer on the server: upload more */
#define SC_E2E_OPK_KEEP      400 /* private keys kept (oldest dropped) */
/* Sessions kept per peer besides the current one, for messages still in
 * flight on an older session (simultaneous starts, reinstalls). */
#define SC_E2E_ARCHIVED_SESSIONS 2
/* EK_A values of accepted PREKEY messages remembered against replays. */
#define SC_E2E_REPLAY_CACHE 2000
/* Largest record the manager reads or writes. */
#define SC_E2E_RECORD_MAX (1024 * 1024)

/* sc_e2e_decrypt flags. */
enum
{
  SC_E2E_NEW_SESSION = 1 << 0,      /* a PREKEY message started a session */
  SC_E2E_IDENTITY_CHANGED = 1 << 1, /* ... from a contact's new identity */
  SC_E2E_NEW_CONTACT = 1 << 2,      /* ... from a user never seen before */
  SC_E2E_RESET = 1 << 3,            /* a RESET request: session dropped */
};

/* Storage callbacks. Names are 1..128 bytes of [a-z0-9._/-]. */
struct sc_e2e_storage
{
  /* *buf receives a malloc'd copy (the caller wipes and frees it);
   * SC_ERR_NOT_FOUND when name is absent, SC_ERR_TOO_LARGE over
   * SC_E2E_RECORD_MAX, SC_ERR_STORAGE for any other failure. */
  int (*load) (void *ud, const char *name, uint8_t **buf, size_t *len);
  /* Durable and atomic before it returns: afterwards a crash leaves
   * either the old or the new record, never a mix. */
  int (*store) (void *ud, const char *name, const uint8_t *buf, size_t len);
  /* Removing an absent name is SC_OK. */
  int (*remove) (void *ud, const char *name);
  /* Optional (both or neither): held around each sc_e2e call so that
   * other processes sharing the storage do not interleave. */
  int (*lock) (void *ud);
  void (*unlock) (void *ud);
  void *ud;
};

struct sc_e2e_contact
{
  struct sc_identity_public identity; /* the accepted identity */
  bool verified;
  /* A different identity was seen and not yet accepted: nothing is sent
   * to the contact until sc_e2e_accept_identity. */
  bool changed;
  struct sc_identity_public pending; /* the new identity when changed */
};

struct sc_e2e;

/* Opens the manager of user on server (an identifier of the server, such
 * as "host:port", at most 255 bytes). The identity is generated and
 * stored on first use; a storage that belongs to another account is
 * SC_ERR_STATE. The storage struct is copied. */
int sc_e2e_open (const struct sc_e2e_storage *storage,
                 const char *server,
                 const char *user,
                 struct sc_e2e **out);
void sc_e2e_free (struct sc_e2e *e);
/* Whether sc_e2e_open generated the identity. */
bool sc_e2e_identity_created (const struct sc_e2e *e);
const char *sc_e2e_user (const struct sc_e2e *e);
void sc_e2e_identity (const struct sc_e2e *e, struct sc_identity_public *out);

/* Given what the server holds (prekey_status), decides whether to
 * publish: when the server lacks our identity or current signed prekey,
 * holds fewer than SC_E2E_OPK_LOW one-time prekeys, or the signed prekey
 * is due for rotation. New private keys are stored before *upload is
 * filled (a prekeys_upload; sc_msg_clear it). *needed false leaves
 * *upload cleared. */
int sc_e2e_prekeys_needed (struct sc_e2e *e,
                           const struct sc_msg_prekey_status *st,
                           int64_t now_ms,
                           struct sc_msg *upload,
                           bool *needed);

/* 1 when a session with peer exists, 0 when not, or an error. */
int sc_e2e_has_session (struct sc_e2e *e, const char *peer);

/* X3DH as the initiator from peer's bundle. SC_ERR_SIGNATURE when the
 * signed prekey does not verify; SC_ERR_IDENTITY_CHANGED (no session,
 * the contact marked changed and unverified) when peer is a contact with
 * another identity that is not accepted yet. A new contact is trusted on
 * first use. Replaces the current session (older ones are archived). */
int sc_e2e_start_session (struct sc_e2e *e,
                          const char *peer,
                          const struct sc_msg_bundle *b,
                          int64_t now_ms);

/* Encrypts content_type || data (data_len <= SC_E2E_CONTENT_MAX) for
 * peer into a message body (*msg malloc'd). The advanced state is stored
 * before it returns. SC_ERR_NO_SESSION without a session,
 * SC_ERR_IDENTITY_CHANGED while a change is not accepted. */
int sc_e2e_encrypt (struct sc_e2e *e,
                    const char *peer,
                    uint8_t content_type,
                    const uint8_t *data,
                    size_t data_len,
                    uint8_t **msg,
                    size_t *msg_len);

/* Decrypts a message body from peer. On success *data (malloc'd, to be
 * wiped and freed; NULL for a RESET) holds the content and *flags says
 * what happened (SC_E2E_*). Errors leave every stored state as it was:
 * SC_ERR_NO_SESSION for a NORMAL message without a session (answer with
 * a RESET body), SC_ERR_DUPLICATE for a message already decrypted or a
 * replayed PREKEY message, SC_ERR_NOT_FOUND for an unknown or used
 * prekey, SC_ERR_DECRYPT / SC_ERR_TRUNCATED / SC_ERR_TOO_FAR /
 * SC_ERR_PROTOCOL / SC_ERR_UNSUPPORTED for bad messages. Unknown content
 * types are returned as they are. */
int sc_e2e_decrypt (struct sc_e2e *e,
                    const char *peer,
                    const uint8_t *msg,
                    size_t msg_len,
                    int64_t now_ms,
                    uint8_t *content_type,
                    uint8_t **data,
                    size_t *data_len,
                    unsigned *flags) SC_WARN_UNUSED;

/* The RESET request body. */
void sc_e2e_reset_body (uint8_t out[SC_E2E_RESET_LEN]);

/* Contact state; SC_ERR_NOT_FOUND for a user never seen. */
int
sc_e2e_contact (struct sc_e2e *e, const char *peer, struct sc_e2e_contact *out);
/* Accepts a changed identity (unverified); sessions with the old one are
 * dropped. SC_OK when nothing was pending; SC_ERR_NOT_FOUND for an
 * unknown user. */
int sc_e2e_accept_identity (struct sc_e2e *e, const char *peer);
/* The same, only when the pending identity is still expected (the one
 * whose safety number the user compared); SC_ERR_IDENTITY_CHANGED when
 * another key arrived since. */
int sc_e2e_accept_identity_if (struct sc_e2e *e,
                               const char *peer,
                               const struct sc_identity_public *expected);
/* Refuses a pending identity change: the trusted identity stays (still
 * unverified, since the change was seen) and only its sessions are kept.
 * SC_OK when nothing was pending. */
int sc_e2e_reject_identity (struct sc_e2e *e, const char *peer);
/* SC_ERR_IDENTITY_CHANGED while a change is pending (accept it first). */
int sc_e2e_set_verified (struct sc_e2e *e, const char *peer, bool verified);
/* The safety number with peer ("12345 67890 ..." 71 characters), over
 * the pending identity while a change is pending (the one to compare
 * before accepting it). */
int sc_e2e_safety_number (struct sc_e2e *e,
                          const char *peer,
                          char out[SC_SAFETY_NUMBER_TEXT_LEN + 1]);
