/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The client side of a SecureChat session, shared by securechat-cli and
 * the GTK client. Sans-I/O: the caller moves bytes between the socket and
 * sc_client_recv / sc_client_pending, passes the time in, and gets events
 * by callback. States: HANDSHAKE -> LOGIN -> READY -> CLOSED.
 *
 * The server's static key is offered to verify_server_key as soon as
 * handshake message 2 has been read, before the password leaves; rejecting
 * it closes the session with SC_ERR_KEY_MISMATCH. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/crypto.h"
#include "securechat/e2e.h"
#include "securechat/fingerprint.h"
#include "securechat/msg.h"

/* Most bytes the session queues for the socket; sc_client_send returns
 * SC_ERR_TOO_LARGE rather than grow the queue beyond it. */
#define SC_CLIENT_OUT_MAX (4u * 1024 * 1024)
/* Most users one joined presence list may hold; a longer list from the
 * server is a protocol error. */
#define SC_CLIENT_PRESENCE_MAX 100000
/* sc_client_tick's answer when no deadline is pending. */
#define SC_CLIENT_NO_DEADLINE INT64_MAX
/* End-to-end: peers whose bundle is being fetched at once, messages
 * waiting for one peer's bundle, and their bytes in all. A send beyond
 * them is SC_ERR_TOO_LARGE. */
#define SC_CLIENT_E2E_PEERS_MAX   64
#define SC_CLIENT_E2E_WAITING_MAX 256
#define SC_CLIENT_E2E_BYTES_MAX   (1024u * 1024)
/* Uploads of prekeys in a row that the server answers with a status
 * still asking for more; then the client stops trying on this
 * connection (keys_ready gets SC_ERR_PROTOCOL). */
#define SC_CLIENT_E2E_UPLOADS_MAX 3
/* How often sc_client_tick checks, against the server's last prekey
 * status, whether the signed prekey is due for rotation. */
#define SC_CLIENT_E2E_CHECK_MS (3600 * 1000)

enum sc_client_state
{
  SC_CLIENT_HANDSHAKE,
  SC_CLIENT_LOGIN,
  SC_CLIENT_READY,
  SC_CLIENT_CLOSED,
};

/* Callbacks run inside sc_client_recv / sc_client_tick. They may call
 * sc_client_send, sc_client_fetch_keys, sc_client_who and sc_client_quit,
 * but not sc_client_recv or sc_client_free. Only verify_server_key is
 * required. */
struct sc_client_callbacks
{
  /* Return 0 to accept the server key, a negative value to refuse. */
  int (*verify_server_key) (void *ud,
                            const uint8_t pub[SC_X25519_LEN],
                            const char *fingerprint);
  void (*logged_in) (void *ud, const char *user);
  /* One complete list (chunks are joined); then presence events. */
  void (*presence_list) (void *ud, const char *const *users, size_t n);
  void (*presence) (void *ud, const char *user, bool online);
  /* body is the decoded opaque body (not NUL-terminated). */
  void (*message) (void *ud,
                   uint64_t id,
                   const char *from,
                   int64_t ts,
                   const uint8_t *body,
                   size_t body_len);
  void (*sent) (void *ud, uint64_t ref, uint64_t id, int64_t ts);
  /* An error reply from the server (the session stays open unless
   * "closed" follows). */
  void (*error) (void *ud, const struct sc_msg_error *e);
  /* The session ended: err is SC_OK for a server "bye" (code/message say
   * why), or the sc_error that broke it (code is then SC_CODE_N_CODES). */
  void (*closed) (void *ud, int err, enum sc_code code, const char *message);

  /* End-to-end encryption (only with sc_client_config.e2e; all optional).
   *
   * The server holds our current identity and prekeys (err SC_OK), or
   * publishing them failed (err < 0); once per connection, after login.
   * Until then other users may be unable to start a session with us. */
  void (*keys_ready) (void *ud, int err);
  /* peer's identity key changed (a bundle or a message showed a new one):
   * nothing is sent to peer until sc_e2e_accept_identity. Comes before
   * the message that revealed it, and before send_failed for the sends
   * it stopped. */
  void (*identity_changed) (void *ud, const char *peer);
  /* A message from `from` that could not be decrypted (err: SC_ERR_DECRYPT,
   * SC_ERR_DUPLICATE, SC_ERR_NO_SESSION, SC_ERR_NOT_FOUND, ...) or whose
   * content type is unknown (SC_ERR_UNSUPPORTED). For SC_ERR_NO_SESSION
   * and SC_ERR_NOT_FOUND the client has asked the sender to start a new
   * session (a RESET request). */
  void (*undecryptable) (
      void *ud, uint64_t id, const char *from, int64_t ts, int err);
  /* A send that waited for the recipient's bundle never left: err says
   * why (SC_ERR_IDENTITY_CHANGED, SC_ERR_SIGNATURE, SC_ERR_STORAGE, ...).
   * When the server refused the bundle (unknown_user, no_prekeys,
   * self_message, rate_limited), each waiting send gets an "error"
   * callback with its ref instead, as if the server had refused it. */
  void (*send_failed) (void *ud, uint64_t ref, const char *to, int err);
  /* A bundle fetch for peer ended: err SC_OK when a session now exists;
   * otherwise why not, with the server's error when it refused. */
  void (*session_ready) (void *ud,
                         const char *peer,
                         int err,
                         const struct sc_msg_error *server_error);
};

struct sc_client_config
{
  const char *user;
  const char *password; /* copied, wiped once sent */
  const char *agent;    /* e.g. "securechat-cli/0.1.0" */
  /* Optional, borrowed (it must outlive the client and belong to user).
   * With it, message bodies are end-to-end encrypted (PROTOCOL.md section
   * 12): sc_client_send takes the text, "message" delivers the decrypted
   * text, prekeys are published after login. Without it, bodies travel
   * as given. */
  struct sc_e2e *e2e;
};

struct sc_client;

int sc_client_new (const struct sc_client_config *cfg,
                   const struct sc_client_callbacks *cb,
                   void *ud,
                   struct sc_client **out);
void sc_client_free (struct sc_client *c);

/* Queues handshake message 1. */
int sc_client_start (struct sc_client *c, int64_t now_ms);
/* Feeds bytes read from the socket; all are consumed or an error is
 * returned (and the session is closed, "closed" called once). A "bye"
 * from the server closes the session and returns SC_OK; bytes after it
 * are ignored. On a closed session: SC_ERR_CLOSED. Closing drops any
 * output still queued: the caller then closes the socket. */
int sc_client_recv (struct sc_client *c,
                    const uint8_t *in,
                    size_t len,
                    int64_t now_ms);
/* Bytes waiting to be written to the socket. */
const uint8_t *sc_client_pending (const struct sc_client *c, size_t *len);
void sc_client_consume (struct sc_client *c, size_t n);

/* Queues a message; *ref receives the id that "sent"/"error" will carry.
 * Only in READY; SC_ERR_USERNAME, SC_ERR_TOO_LARGE for bad input.
 *
 * With end-to-end encryption body is the UTF-8 text (at most
 * SC_E2E_CONTENT_MAX bytes). With a session it is encrypted at once
 * (errors such as SC_ERR_IDENTITY_CHANGED come back here, and nothing is
 * queued); without one it waits while the recipient's bundle is fetched,
 * and ends in exactly one of "sent", "error" or send_failed. Sends that
 * have no outcome when the session closes were not delivered. */
int sc_client_send (struct sc_client *c,
                    const char *to,
                    const uint8_t *body,
                    size_t body_len,
                    uint64_t *ref);
/* End-to-end: makes sure a session with peer exists. Returns 1 when one
 * does; 0 when its bundle is being fetched (session_ready follows). */
int sc_client_fetch_keys (struct sc_client *c, const char *peer);
int sc_client_who (struct sc_client *c);
/* Queues a "bye"; the caller closes the socket once pending is empty.
 * Valid in LOGIN and READY; later sends are refused with SC_ERR_STATE.
 * "closed" is not called for a quit the caller asked for. */
int sc_client_quit (struct sc_client *c);

/* Housekeeping: queues a ping when the link has been quiet for a third of
 * the server's idle timeout; closes the session (SC_ERR_CLOSED) when no
 * reply came in time: no frame within a third of the idle timeout after a
 * ping, a send or a who. This is the session's clock for what was queued
 * without a time (send, who): call it after every batch of calls. Returns
 * the next time (ms) it wants to be called, or SC_CLIENT_NO_DEADLINE. */
int64_t sc_client_tick (struct sc_client *c, int64_t now_ms);

enum sc_client_state sc_client_state (const struct sc_client *c);
/* Fingerprint of the server key once known, else "". */
const char *sc_client_server_fingerprint (const struct sc_client *c);
/* The end-to-end manager of the configuration, or NULL. */
struct sc_e2e *sc_client_e2e (const struct sc_client *c);
