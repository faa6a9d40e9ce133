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
#include "securechat/fingerprint.h"
#include "securechat/msg.h"

enum sc_client_state
{
  SC_CLIENT_HANDSHAKE,
  SC_CLIENT_LOGIN,
  SC_CLIENT_READY,
  SC_CLIENT_CLOSED,
};

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
};

struct sc_client_config
{
  const char *user;
  const char *password; /* copied, wiped once sent */
  const char *agent;    /* e.g. "securechat-cli/0.1.0" */
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
 * returned (and the session is closed, "closed" called once). */
int sc_client_recv (struct sc_client *c,
                    const uint8_t *in,
                    size_t len,
                    int64_t now_ms);
/* Bytes waiting to be written to the socket. */
const uint8_t *sc_client_pending (const struct sc_client *c, size_t *len);
void sc_client_consume (struct sc_client *c, size_t n);

/* Queues a message; *ref receives the id that "sent"/"error" will carry.
 * Only in READY; SC_ERR_USERNAME, SC_ERR_TOO_LARGE for bad input. */
int sc_client_send (struct sc_client *c,
                    const char *to,
                    const uint8_t *body,
                    size_t body_len,
                    uint64_t *ref);
int sc_client_who (struct sc_client *c);
/* Queues a "bye"; the caller closes the socket once pending is empty. */
int sc_client_quit (struct sc_client *c);

/* Housekeeping: queues a ping when the link has been quiet for a third of
 * the server's idle timeout; closes the session (SC_ERR_CLOSED) when no
 * reply came in time. Returns the next time (ms) it wants to be called. */
int64_t sc_client_tick (struct sc_client *c, int64_t now_ms);

enum sc_client_state sc_client_state (const struct sc_client *c);
/* Fingerprint of the server key once known, else "". */
const char *sc_client_server_fingerprint (const struct sc_client *c);
