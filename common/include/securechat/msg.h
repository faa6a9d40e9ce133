/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The JSON message schema of PROTOCOL.md: one builder and one strict parser
 * per message type. Parsing rejects: anything but a JSON object, duplicate
 * keys, invalid UTF-8, NUL in strings, unknown "type", missing or extra
 * fields, wrong JSON types, strings or numbers over their limits. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_PROTOCOL_VERSION 1
#define SC_MSG_MAX_VERSIONS 8
#define SC_USERNAME_MAX     32    /* bytes; charset in sc_username_validate */
#define SC_PASSWORD_MAX     1024  /* bytes of UTF-8, no NUL */
#define SC_BODY_MAX         32768 /* decoded bytes of an opaque message body */
#define SC_BODY_B64_MAX     43692 /* SC_BASE64_ENCODED_LEN (SC_BODY_MAX) */
#define SC_AGENT_MAX        64    /* client / server software name */
#define SC_TEXT_MAX         256   /* error and bye messages */
#define SC_PRESENCE_CHUNK   1000  /* users per presence_list message */
#define SC_ID_MAX           ((UINT64_C (1) << 53) - 1) /* ids fit a JSON double */

enum sc_msg_type
{
  SC_MSG_CLIENT_HELLO, /* handshake message 1 payload */
  SC_MSG_SERVER_HELLO, /* handshake message 2 payload */
  SC_MSG_LOGIN,
  SC_MSG_LOGIN_OK,
  SC_MSG_SEND,
  SC_MSG_SENT,
  SC_MSG_MESSAGE,
  SC_MSG_WHO,
  SC_MSG_PRESENCE_LIST,
  SC_MSG_PRESENCE,
  SC_MSG_PING,
  SC_MSG_PONG,
  SC_MSG_ERROR,
  SC_MSG_BYE,
  SC_MSG_PREKEYS_UPLOAD, /* client publishes identity + prekeys */
  SC_MSG_PREKEY_STATUS,  /* server: what it holds for this user */
  SC_MSG_BUNDLE_REQUEST, /* client asks for a user's prekey bundle */
  SC_MSG_BUNDLE,         /* server: one bundle, one-time prekey consumed */
  SC_MSG_N_TYPES
};

/* Codes carried by "error" and "bye" messages; the wire names are in
 * sc_code_name(). */
enum sc_code
{
  SC_CODE_BAD_REQUEST,
  SC_CODE_UNKNOWN_TYPE,
  SC_CODE_UNSUPPORTED_VERSION,
  SC_CODE_AUTH_FAILED,
  SC_CODE_RATE_LIMITED,
  SC_CODE_SERVER_BUSY,
  SC_CODE_SERVER_FULL,
  SC_CODE_NOT_LOGGED_IN,
  SC_CODE_ALREADY_LOGGED_IN,
  SC_CODE_RECIPIENT_OFFLINE,
  SC_CODE_UNKNOWN_USER,
  SC_CODE_SELF_MESSAGE,
  SC_CODE_TOO_LARGE,
  SC_CODE_INTERNAL,
  SC_CODE_SERVER_SHUTDOWN,
  SC_CODE_SESSION_REPLACED,
  SC_CODE_IDLE_TIMEOUT,
  SC_CODE_PROTOCOL_ERROR,
  SC_CODE_CLIENT_QUIT,
  SC_CODE_NO_PREKEYS, /* error: the user has not published keys */
  SC_CODE_N_CODES
};

struct sc_msg_client_hello
{
  uint32_t versions[SC_MSG_MAX_VERSIONS];
  size_t n_versions;
  char agent[SC_AGENT_MAX + 1]; /* "" when absent */
};

struct sc_msg_server_hello
{
  uint32_t version;
  char agent[SC_AGENT_MAX + 1];
  uint32_t max_frame;    /* bytes */
  uint32_t idle_timeout; /* seconds; the client pings well within it */
};

struct sc_msg_login
{
  char user[SC_USERNAME_MAX + 1];
  char *password; /* NUL-terminated, owned, wiped by sc_msg_clear */
  size_t password_len;
};

struct sc_msg_login_ok
{
  char user[SC_USERNAME_MAX + 1];
};

struct sc_msg_send
{
  uint64_t id; /* client's reference, 1..SC_ID_MAX */
  char to[SC_USERNAME_MAX + 1];
  char *body; /* base64 text, owned */
  size_t body_len;
};

struct sc_msg_sent
{
  uint64_t ref; /* the send's id */
  uint64_t id;  /* server message id */
  int64_t ts;   /* server time, ms since the Unix epoch */
};

struct sc_msg_message
{
  uint64_t id;
  char from[SC_USERNAME_MAX + 1];
  int64_t ts;
  char *body; /* base64 text, owned */
  size_t body_len;
};

struct sc_msg_presence_list
{
  char (*users)[SC_USERNAME_MAX + 1]; /* owned array */
  size_t n_users;
  bool more; /* another presence_list follows */
};

struct sc_msg_presence
{
  char user[SC_USERNAME_MAX + 1];
  bool online;
};

struct sc_msg_error
{
  enum sc_code code;
  char message[SC_TEXT_MAX + 1];
  bool has_ref;
  uint64_t ref;         /* the send this error answers */
  uint32_t retry_after; /* ms; 0 when absent */
};

struct sc_msg_bye
{
  enum sc_code code;
  char message[SC_TEXT_MAX + 1];
};

#define SC_IDENTITY_WIRE_LEN 64 /* X25519 dh || Ed25519 sig */
#define SC_OPK_UPLOAD_MAX    100

struct sc_msg_opk
{
  uint32_t id; /* 1..2^32-1 */
  uint8_t key[32];
};

struct sc_msg_prekeys_upload
{
  uint8_t identity[SC_IDENTITY_WIRE_LEN];
  uint32_t spk_id;
  uint8_t spk[32];
  uint8_t spk_sig[64];
  struct sc_msg_opk *opks; /* owned, 0..SC_OPK_UPLOAD_MAX */
  size_t n_opks;
};

struct sc_msg_prekey_status
{
  bool has_identity;
  uint8_t identity[SC_IDENTITY_WIRE_LEN];
  uint32_t spk_id; /* 0 = none */
  uint32_t opks;   /* one-time prekeys left */
};

struct sc_msg_bundle_request
{
  uint64_t id; /* echoed as "ref" by bundle / error */
  char user[SC_USERNAME_MAX + 1];
};

struct sc_msg_bundle
{
  uint64_t ref;
  char user[SC_USERNAME_MAX + 1];
  uint8_t identity[SC_IDENTITY_WIRE_LEN];
  uint32_t spk_id;
  uint8_t spk[32];
  uint8_t spk_sig[64];
  bool has_opk;
  uint32_t opk_id;
  uint8_t opk[32];
};

struct sc_msg
{
  enum sc_msg_type type;
  union
  {
    struct sc_msg_client_hello client_hello;
    struct sc_msg_server_hello server_hello;
    struct sc_msg_login login;
    struct sc_msg_login_ok login_ok;
    struct sc_msg_send send;
    struct sc_msg_sent sent;
    struct sc_msg_message message;
    struct sc_msg_presence_list presence_list;
    struct sc_msg_presence presence;
    struct sc_msg_error error;
    struct sc_msg_bye bye;
    struct sc_msg_prekeys_upload prekeys_upload;
    struct sc_msg_prekey_status prekey_status;
    struct sc_msg_bundle_request bundle_request;
    struct sc_msg_bundle bundle;
  } u;
};

/* Parses one message. On error *out is cleared and nothing is owned. */
int sc_msg_parse (const uint8_t *json, size_t len, struct sc_msg *out);
/* Encodes m as compact JSON into a malloc'd buffer (not NUL-terminated
 * on the wire; *out is NUL-terminated for convenience). Validates m the
 * way the parser would; the caller frees (sc_wipe first for login). */
int sc_msg_encode (const struct sc_msg *m, char **out, size_t *out_len);
/* Frees owned fields (wiping the password) and zeroes m. */
void sc_msg_clear (struct sc_msg *m);

const char *sc_msg_type_name (enum sc_msg_type t);
const char *sc_code_name (enum sc_code c);
/* The default English text for a code ("Recipient not online", ...). */
const char *sc_code_text (enum sc_code c);

/* 1..32 bytes of [a-z0-9._-], starting with [a-z0-9]. */
int sc_username_validate (const char *s, size_t len);
/* 1..SC_PASSWORD_MAX bytes of valid UTF-8 without NUL. */
int sc_password_validate (const char *s, size_t len);
