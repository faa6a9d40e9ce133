/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScConnection: one account's link to a server. It owns the socket (GIO
 * async streams on the main loop, nothing blocks), the common/ client
 * session (sc_client), the account's key store and end-to-end manager,
 * and the reconnect timer. Widgets never see bytes: they watch the
 * "state" property and the signals below.
 *
 * Server keys are pinned in the known-servers file shared with
 * securechat-cli (client-cli/known-servers.h):
 *  - a pinned key that matches: the login goes on;
 *  - no key pinned: the connection stops before the password leaves and
 *    emits "server-key-unknown"; after the user compared the fingerprint,
 *    sc_connection_trust_server_key pins it (only if the server shows
 *    the same key again) and logs in;
 *  - a different key: a hard stop, "server-key-changed"; nothing to click
 *    through, as with ssh.
 *
 * Reconnecting: a connection that was logged in and is lost (network,
 * server restart, idle timeout, server shutdown) waits 1, 2, 4, 8, 16,
 * then 30 s (with up to 25 % jitter) between attempts, in state
 * SC_CONNECTION_WAITING with "retry-at" set; sc_connection_retry_now cuts
 * the wait short. A first login that fails, a refused password, a changed
 * server key, a session replaced by another login, or an unsupported
 * protocol version stop for good (SC_CONNECTION_STOPPED) with
 * "stopped" telling why. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SC_CONNECTION_ERROR (sc_connection_error_quark ())
GQuark sc_connection_error_quark (void);

/* GError codes of SC_CONNECTION_ERROR; messages are translated, plain
 * language, and carry no secret. */
typedef enum
{
  SC_CONNECTION_ERROR_FAILED,           /* anything else */
  SC_CONNECTION_ERROR_NOT_CONNECTED,    /* not logged in right now */
  SC_CONNECTION_ERROR_INVALID,          /* bad user name / empty text */
  SC_CONNECTION_ERROR_TOO_LARGE,        /* message or queue too large */
  SC_CONNECTION_ERROR_IDENTITY_CHANGED, /* peer's key changed, not accepted */
  SC_CONNECTION_ERROR_STORAGE,          /* key store could not be used */
  SC_CONNECTION_ERROR_NOT_FOUND,        /* user never seen */
} ScConnectionError;

typedef enum
{
  SC_CONNECTION_IDLE,       /* created, not started */
  SC_CONNECTION_CONNECTING, /* TCP connect, handshake, login */
  SC_CONNECTION_ONLINE,     /* logged in */
  SC_CONNECTION_WAITING,    /* lost; next attempt at "retry-at" */
  SC_CONNECTION_STOPPED,    /* stopped for good ("stopped" said why) */
} ScConnectionState;

/* Why a connection stopped (argument of "stopped"). */
typedef enum
{
  SC_STOP_USER,               /* sc_connection_stop */
  SC_STOP_CONNECT_FAILED,     /* first attempt: cannot reach the server */
  SC_STOP_AUTH_FAILED,        /* wrong user name or password */
  SC_STOP_RATE_LIMITED,       /* too many attempts; message says when */
  SC_STOP_SERVER_KEY_UNKNOWN, /* first contact: confirm the fingerprint */
  SC_STOP_SERVER_KEY_CHANGED, /* pinned key differs: hard stop */
  SC_STOP_REPLACED,           /* the account logged in elsewhere */
  SC_STOP_PROTOCOL,           /* unsupported version, broken server */
  SC_STOP_LOCAL,              /* key store, known-servers file unusable */
} ScStopReason;

#define SC_TYPE_CONNECTION (sc_connection_get_type ())
G_DECLARE_FINAL_TYPE (ScConnection, sc_connection, SC, CONNECTION, GObject)

/* server: "HOST:PORT", "[V6]:PORT" or "HOST" (port 12345), as typed by
 * the user; user: the account. known_servers_path NULL means the default
 * ($XDG_CONFIG_HOME/securechat/known_servers); data_dir NULL means the
 * default account folder ($XDG_DATA_HOME/securechat/HOST_PORT/USER), the
 * same as securechat-cli's. Returns NULL with error for a malformed
 * server address or user name. */
ScConnection *sc_connection_new (const char *server,
                                 const char *user,
                                 const char *known_servers_path,
                                 const char *data_dir,
                                 GError **error);

/* Opens the key store (creating the identity on first use) and starts
 * connecting. The password is kept, wiped on stop and dispose, for
 * reconnects only. FALSE with error when the key store cannot be used
 * (state stays IDLE). */
gboolean
sc_connection_start (ScConnection *self, const char *password, GError **error);
/* Sends "bye" when logged in, closes the socket, cancels timers;
 * state STOPPED, "stopped" (SC_STOP_USER). Safe in any state. */
void sc_connection_stop (ScConnection *self);
/* In WAITING: tries now. Otherwise does nothing. */
void sc_connection_retry_now (ScConnection *self);
/* After "server-key-unknown": the user confirmed fingerprint. Pins it
 * when the server presents exactly this key on the next attempt, then
 * logs in (state CONNECTING). */
void sc_connection_trust_server_key (ScConnection *self,
                                     const char *fingerprint);

ScConnectionState sc_connection_get_state (ScConnection *self);
/* The canonical "host:port" key of the server. */
const char *sc_connection_get_server (ScConnection *self);
const char *sc_connection_get_user (ScConnection *self);
/* Fingerprint of the server key once seen ("" before). */
const char *sc_connection_get_fingerprint (ScConnection *self);
/* g_get_monotonic_time () (µs) of the next attempt in WAITING, else 0. */
gint64 sc_connection_get_retry_at (ScConnection *self);
/* The account folder (keys); the history lives in its "history"
 * subfolder. */
const char *sc_connection_get_data_dir (ScConnection *self);
/* The known-servers file in use. */
const char *sc_connection_get_known_servers_path (ScConnection *self);

/* Sends text (UTF-8, 1..SC_E2E_CONTENT_MAX bytes) to user, end-to-end
 * encrypted. *ref identifies the send: exactly one of "sent",
 * "send-error" or "send-failed" follows with it, or, if the connection
 * drops first, "send-lost". FALSE with error when nothing was queued. */
gboolean sc_connection_send (ScConnection *self,
                             const char *to,
                             const char *text,
                             guint64 *ref,
                             GError **error);
/* Asks who is online again ("presence-list" follows). */
gboolean sc_connection_refresh_presence (ScConnection *self, GError **error);
/* Added: makes sure peer's identity key is known, so that its safety
 * number can be shown before any message was exchanged. TRUE with
 * *pending FALSE when the key is known already; TRUE with *pending TRUE
 * when it is being fetched ("keys-fetched" follows); FALSE with error
 * (NOT_CONNECTED when it has to be fetched and we are offline). */
gboolean sc_connection_fetch_keys (ScConnection *self,
                                   const char *peer,
                                   gboolean *pending,
                                   GError **error);

/* Trust (end-to-end identity keys). These work offline too, once the
 * key store is open (after sc_connection_start). */
typedef struct
{
  gboolean known;    /* we have seen this user's identity key */
  gboolean verified; /* the user marked the safety number as compared */
  gboolean changed;  /* a new identity key waits for acceptance */
} ScContactTrust;

gboolean sc_connection_get_trust (ScConnection *self,
                                  const char *peer,
                                  ScContactTrust *out,
                                  GError **error);
/* The safety number with peer: 12 groups of 5 digits separated by
 * spaces, the same text securechat-cli /verify prints (over the new key
 * while a change is pending). NULL with error (NOT_FOUND for a user whose
 * key we have not seen yet). */
char *sc_connection_get_safety_number (ScConnection *self,
                                       const char *peer,
                                       GError **error);
gboolean sc_connection_set_verified (ScConnection *self,
                                     const char *peer,
                                     gboolean verified,
                                     GError **error);
/* Accepts peer's new identity key, only if its safety number is still
 * compared_number (IDENTITY_CHANGED error when yet another key came). */
gboolean sc_connection_accept_identity (ScConnection *self,
                                        const char *peer,
                                        const char *compared_number,
                                        GError **error);
/* Keeps the old key; sends to peer stay blocked until accepted. */
gboolean sc_connection_reject_identity (ScConnection *self,
                                        const char *peer,
                                        GError **error);

/* Signals (all on the main loop):
 *
 * "logged-in"          ()
 * "presence-list"      (GStrv users)      the complete online list
 * "presence"           (const char *user, gboolean online)
 * "message"            (guint64 id, const char *from, gint64 ts_ms,
 *                       const char *text)   decrypted, valid UTF-8
 * "sent"               (guint64 ref, guint64 id, gint64 ts_ms)
 * "send-error"         (guint64 ref, int sc_code, const char *message)
 *                      the server refused the send; sc_code is an enum
 *                      sc_code (SC_CODE_RECIPIENT_OFFLINE, ...);
 *                      message is plain language (translated)
 * "send-failed"        (guint64 ref, const char *to, const char *message)
 *                      it never left (identity changed, bad bundle, ...)
 * "send-lost"          (guint64 ref)  the connection dropped first; the
 *                      message may or may not have arrived
 * "server-error"       (int sc_code, const char *message) an error not
 *                      tied to a send (rate limited, ...), plain language
 * "identity-changed"   (const char *peer)
 * "undecryptable"      (guint64 id, const char *from, gint64 ts_ms,
 *                       const char *message)
 * "keys-ready"         (gboolean ok, const char *message)
 * "stopped"            (ScStopReason reason, const char *message)
 *                      message: plain language, ready for the user
 * "server-key-unknown" (const char *fingerprint)
 * "server-key-changed" (const char *pinned, const char *seen,
 *                       const char *known_servers_path, guint line)
 * "connection-lost"    (const char *message) logged-in link dropped;
 *                      state WAITING follows
 *
 * Added:
 * "keys-fetched"       (const char *peer, gboolean ok, const char *message)
 *                      a fetch of peer's keys ended (sc_connection_fetch_keys,
 *                      or a first send to peer); message NULL when ok
 *
 * "keys-ready" has message NULL when ok.
 *
 * Properties: "state" (ScConnectionState, read-only, notify),
 * "retry-at" (gint64, notify), "fingerprint" (string), "server", "user".
 *
 * Details of the behaviour above (added):
 *  - sc_connection_new also fails (STORAGE) when neither HOME nor the
 *    XDG folders give a place for the default paths.
 *  - sc_connection_start works in IDLE and STOPPED (a new run: the
 *    known-servers file is read again, the back-off starts over); in
 *    other states it fails (FAILED).
 *  - "server-key-unknown" and "server-key-changed" come right after
 *    "stopped". After "server-key-unknown" the password is kept (until
 *    sc_connection_stop or dispose) so that
 *    sc_connection_trust_server_key can log in; every other stop wipes
 *    it. A server that shows another key than the trusted one on that
 *    attempt asks again ("server-key-unknown" with the new key).
 *  - A server that is busy or full (server_busy, server_full) is waited
 *    for (WAITING, at least its retry_after) even on a first login; a
 *    rate-limited reconnect waits too, a rate-limited first login stops.
 *    Either wait is announced with "server-error" (the server's code and
 *    a plain message) before WAITING.
 *  - A send answered "no_prekeys" while the recipient is online (they
 *    are publishing their keys right now) is tried again a few times;
 *    when the recipient is offline it ends in "send-error" with
 *    SC_CODE_RECIPIENT_OFFLINE.
 *  - Dropping the last reference logs out as sc_connection_stop does
 *    (the "bye" is still flushed, bounded to 2 s, on the main loop), but
 *    without emitting anything. */

GType sc_connection_state_get_type (void);
#define SC_TYPE_CONNECTION_STATE (sc_connection_state_get_type ())
GType sc_stop_reason_get_type (void);
#define SC_TYPE_STOP_REASON (sc_stop_reason_get_type ())

G_END_DECLS
