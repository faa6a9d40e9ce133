/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "securechat/msg.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "securechat/base64.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/frame.h"

/* Numeric limits of PROTOCOL.md section 5. */
#define VERSION_MIN      1
#define VERSION_MAX      65535
#define MAX_FRAME_MIN    64
#define MAX_FRAME_MAX    SC_FRAME_MAX
#define IDLE_TIMEOUT_MIN 1
#define IDLE_TIMEOUT_MAX 86400 /* s */
#define RETRY_AFTER_MIN  1
#define RETRY_AFTER_MAX  86400000 /* ms */
#define ID_MIN           1
#define TS_MIN           0
#define ID_MAX           ((int64_t) SC_ID_MAX) /* ids and timestamps */
#define KEY_ID_MIN       1 /* signed and one-time prekey ids */
#define KEY_ID_MAX       ((int64_t) UINT32_MAX)
#define KEY_LEN          32 /* X25519 public keys */
#define SIG_LEN          64 /* Ed25519 signatures */

/* A message is the plaintext of one transport frame: at most 65519 bytes.
 * Anything longer cannot have come off the wire. */
#define JSON_TEXT_MAX (SC_FRAME_MAX - SC_AEAD_TAG_LEN)

#define LOAD_FLAGS JSON_REJECT_DUPLICATES
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

_Static_assert(SC_BODY_B64_MAX == SC_BASE64_ENCODED_LEN (SC_BODY_MAX),
               "SC_BODY_B64_MAX must match SC_BODY_MAX");
_Static_assert(SC_ID_MAX <= INT64_MAX, "ids fit a json_int_t");

/* Section 7 splits the codes into those an "error" may carry and those a
 * "bye" may carry; a code of the wrong kind is a schema violation. */
enum code_kind
{
  KIND_ERROR,
  KIND_BYE,
};

static const struct
{
  const char *name;
  const char *text;
  enum code_kind kind;
} codes[SC_CODE_N_CODES] = {
  [SC_CODE_BAD_REQUEST] = { "bad_request", "invalid request", KIND_ERROR },
  [SC_CODE_UNKNOWN_TYPE] = { "unknown_type", "unknown message type",
                             KIND_ERROR },
  [SC_CODE_UNSUPPORTED_VERSION] = { "unsupported_version",
                                    "no common protocol version", KIND_ERROR },
  [SC_CODE_AUTH_FAILED] = { "auth_failed", "invalid username or password",
                            KIND_ERROR },
  [SC_CODE_RATE_LIMITED] = { "rate_limited", "too many attempts, retry later",
                             KIND_ERROR },
  [SC_CODE_SERVER_BUSY] = { "server_busy", "server busy, retry", KIND_ERROR },
  [SC_CODE_SERVER_FULL] = { "server_full", "server full", KIND_ERROR },
  [SC_CODE_NOT_LOGGED_IN] = { "not_logged_in", "log in first", KIND_ERROR },
  [SC_CODE_ALREADY_LOGGED_IN] = { "already_logged_in", "already logged in",
                                  KIND_ERROR },
  [SC_CODE_RECIPIENT_OFFLINE] = { "recipient_offline", "Recipient not online",
                                  KIND_ERROR },
  [SC_CODE_UNKNOWN_USER] = { "unknown_user", "no such user", KIND_ERROR },
  [SC_CODE_SELF_MESSAGE] = { "self_message", "You cannot message yourself",
                             KIND_ERROR },
  [SC_CODE_TOO_LARGE] = { "too_large", "message too large", KIND_ERROR },
  [SC_CODE_INTERNAL] = { "internal", "internal server error", KIND_ERROR },
  [SC_CODE_SERVER_SHUTDOWN] = { "server_shutdown", "server is shutting down",
                                KIND_BYE },
  [SC_CODE_SESSION_REPLACED] = { "session_replaced",
                                 "logged in from another place", KIND_BYE },
  [SC_CODE_IDLE_TIMEOUT] = { "idle_timeout", "connection idle for too long",
                             KIND_BYE },
  [SC_CODE_PROTOCOL_ERROR] = { "protocol_error", "protocol error", KIND_BYE },
  [SC_CODE_CLIENT_QUIT] = { "client_quit", "logging out", KIND_BYE },
  [SC_CODE_NO_PREKEYS] = { "no_prekeys", "user has not published keys",
                           KIND_ERROR },
};

/* ---- Shared value checks: the parser and the encoder call the same ones,
 * so the encoder never emits what the parser would reject. ---- */

/* Length of valid UTF-8 sequence at s (at most len bytes), or 0 when the
 * bytes are not one: overlong forms, surrogates and code points above
 * U+10FFFF are rejected, as is U+0000. */
static size_t
utf8_seq_len (const unsigned char *s, size_t len)
{
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xbf;
  size_t n, i;

  if (c == 0)
    return 0;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    {
      n = 3;
      if (c == 0xe0)
        lo = 0xa0; /* overlong */
      else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    }
  else if (c >= 0xf0 && c <= 0xf4)
    {
      n = 4;
      if (c == 0xf0)
        lo = 0x90; /* overlong */
      else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    }
  else
    return 0;

  if (len < n)
    return 0;
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return n;
}

static int
utf8_valid (const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t i = 0;

  while (i < len)
    {
      size_t n = utf8_seq_len (p + i, len - i);
      if (n == 0)
        return 0;
      i += n;
    }
  return 1;
}

int
sc_username_validate (const char *s, size_t len)
{
  size_t i;

  if (len == 0 || len > SC_USERNAME_MAX)
    return SC_ERR_USERNAME;
  if (s == NULL)
    return SC_ERR_INVALID;
  for (i = 0; i < len; i++)
    {
      char c = s[i];
      int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

      if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
        return SC_ERR_USERNAME;
    }
  return SC_OK;
}

int
sc_password_validate (const char *s, size_t len)
{
  if (len == 0)
    return SC_ERR_FIELD;
  if (len > SC_PASSWORD_MAX)
    return SC_ERR_TOO_LARGE;
  if (s == NULL)
    return SC_ERR_INVALID;
  return utf8_valid (s, len) ? SC_OK : SC_ERR_FIELD;
}

/* agent: 0..SC_AGENT_MAX bytes of printable ASCII. */
static int
check_agent (const char *s, size_t len)
{
  size_t i;

  if (len > SC_AGENT_MAX)
    return SC_ERR_TOO_LARGE;
  for (i = 0; i < len; i++)
    if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e)
      return SC_ERR_FIELD;
  return SC_OK;
}

/* error / bye message: 0..SC_TEXT_MAX bytes of UTF-8 without U+0000. */
static int
check_text (const char *s, size_t len)
{
  if (len > SC_TEXT_MAX)
    return SC_ERR_TOO_LARGE;
  return utf8_valid (s, len) ? SC_OK : SC_ERR_FIELD;
}

/* body: canonical padded base64 of at most SC_BODY_MAX bytes. */
static int
check_body (const char *s, size_t len)
{
  size_t decoded;

  if (len > SC_BODY_B64_MAX)
    return SC_ERR_TOO_LARGE;
  if (sc_base64_validate (s, len) != SC_OK)
    return SC_ERR_FIELD;
  /* The longest encoding also holds 32769 bytes when unpadded: the limit is
   * on the decoded size. */
  decoded = len / 4 * 3;
  if (len > 0 && s[len - 1] == '=')
    decoded -= (s[len - 2] == '=') ? 2 : 1;
  return decoded <= SC_BODY_MAX ? SC_OK : SC_ERR_TOO_LARGE;
}

static int
check_code (enum sc_code code, enum code_kind kind)
{
  if ((unsigned) code >= SC_CODE_N_CODES || codes[code].kind != kind)
    return SC_ERR_FIELD;
  return SC_OK;
}

static int
in_range (int64_t v, int64_t lo, int64_t hi)
{
  return v >= lo && v <= hi;
}

/* ---- Parsing helpers. Each takes the message object and a member name;
 * a missing required member or a wrong JSON type is SC_ERR_FIELD. ---- */

static int
get_integer (json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
  json_t *v = json_object_get (obj, key);
  json_int_t n;

  if (!json_is_integer (v))
    return SC_ERR_FIELD;
  n = json_integer_value (v);
  if (!in_range (n, lo, hi))
    return SC_ERR_FIELD;
  *out = n;
  return SC_OK;
}

static int
get_string (json_t *obj, const char *key, const char **s, size_t *len)
{
  json_t *v = json_object_get (obj, key);

  if (!json_is_string (v))
    return SC_ERR_FIELD;
  *s = json_string_value (v);
  *len = json_string_length (v);
  return SC_OK;
}

static int
copy_username (json_t *v, char out[SC_USERNAME_MAX + 1])
{
  const char *s;
  size_t len;
  int rc;

  if (!json_is_string (v))
    return SC_ERR_FIELD;
  s = json_string_value (v);
  len = json_string_length (v);
  rc = sc_username_validate (s, len);
  if (rc != SC_OK)
    return rc;
  memcpy (out, s, len);
  out[len] = '\0';
  return SC_OK;
}

static int
get_username (json_t *obj, const char *key, char out[SC_USERNAME_MAX + 1])
{
  return copy_username (json_object_get (obj, key), out);
}

/* A fixed-size text member checked by check (agent or message text). */
static int
get_text (json_t *obj,
          const char *key,
          int (*check) (const char *, size_t),
          char *out,
          size_t out_size)
{
  const char *s;
  size_t len;
  int rc;

  rc = get_string (obj, key, &s, &len);
  if (rc != SC_OK)
    return rc;
  rc = check (s, len);
  if (rc != SC_OK)
    return rc;
  if (len >= out_size)
    return SC_ERR_TOO_LARGE;
  memcpy (out, s, len);
  out[len] = '\0';
  return SC_OK;
}

static int
get_body (json_t *obj, const char *key, char **out, size_t *out_len)
{
  const char *s;
  size_t len;
  int rc;

  rc = get_string (obj, key, &s, &len);
  if (rc != SC_OK)
    return rc;
  rc = check_body (s, len);
  if (rc != SC_OK)
    return rc;
  *out = malloc (len + 1);
  if (*out == NULL)
    return SC_ERR_NOMEM;
  memcpy (*out, s, len);
  (*out)[len] = '\0';
  *out_len = len;
  return SC_OK;
}

static int
get_code (json_t *obj, const char *key, enum code_kind kind, enum sc_code *out)
{
  const char *s;
  size_t len;
  int rc, i;

  rc = get_string (obj, key, &s, &len);
  if (rc != SC_OK)
    return rc;
  for (i = 0; i < SC_CODE_N_CODES; i++)
    if (codes[i].kind == kind && strlen (codes[i].name) == len &&
        memcmp (codes[i].name, s, len) == 0)
      {
        *out = (enum sc_code) i;
        return SC_OK;
      }
  return SC_ERR_FIELD;
}

/* A fixed-size binary member (key or signature): canonical padded base64
 * of exactly n bytes, nothing shorter or longer. */
static int
decode_fixed (const char *s, size_t len, uint8_t *out, size_t n)
{
  size_t got = 0;

  if (len != SC_BASE64_ENCODED_LEN (n) ||
      sc_base64_decode (s, len, out, n, &got) != SC_OK || got != n)
    return SC_ERR_FIELD;
  return SC_OK;
}

static int
copy_fixed (json_t *v, uint8_t *out, size_t n)
{
  if (!json_is_string (v))
    return SC_ERR_FIELD;
  return decode_fixed (json_string_value (v), json_string_length (v), out, n);
}

static int
get_fixed (json_t *obj, const char *key, uint8_t *out, size_t n)
{
  return copy_fixed (json_object_get (obj, key), out, n);
}

static int
get_key_id (json_t *obj, const char *key, uint32_t *out)
{
  int64_t v;
  int rc;

  rc = get_integer (obj, key, KEY_ID_MIN, KEY_ID_MAX, &v);
  if (rc != SC_OK)
    return rc;
  *out = (uint32_t) v;
  return SC_OK;
}

/* ---- Encoding helpers. ---- */

/* Adds v (a new reference, possibly NULL after a failed allocation). */
static int
set_new (json_t *obj, const char *key, json_t *v)
{
  if (v == NULL)
    return SC_ERR_NOMEM;
  return json_object_set_new_nocheck (obj, key, v) == 0 ? SC_OK : SC_ERR_NOMEM;
}

static int
set_integer (json_t *obj, const char *key, int64_t v)
{
  return set_new (obj, key, json_integer ((json_int_t) v));
}

static int
set_string (json_t *obj, const char *key, const char *s, size_t len)
{
  return set_new (obj, key, json_stringn_nocheck (s, len));
}

/* Adds n bytes as canonical padded base64. */
static int
set_fixed (json_t *obj, const char *key, const uint8_t *in, size_t n)
{
  char text[SC_BASE64_ENCODED_LEN (SC_IDENTITY_WIRE_LEN) + 1];

  if (n > SC_IDENTITY_WIRE_LEN ||
      sc_base64_encode (in, n, text, sizeof text) != SC_OK)
    return SC_ERR_INVALID;
  return set_string (obj, key, text, SC_BASE64_ENCODED_LEN (n));
}

/* Adds a secret string. Unlike set_new, a failed insertion leaves our
 * reference alive, so the copy jansson made can be wiped before it is
 * freed; on success the tree holds the copy and the caller wipes it through
 * wipe_secret. */
static int
set_secret_string (json_t *obj, const char *key, const char *s, size_t len)
{
  json_t *v = json_stringn_nocheck (s, len);
  int rc;

  if (v == NULL)
    return SC_ERR_NOMEM;
  rc = json_object_set_nocheck (obj, key, v) == 0 ? SC_OK : SC_ERR_NOMEM;
  if (rc != SC_OK)
    sc_wipe ((char *) json_string_value (v), len);
  json_decref (v);
  return rc;
}

/* ---- One parser and one builder per message type. The parsers run after
 * the member names have been checked against the type's list. ---- */

static int
parse_client_hello (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_client_hello *m = &out->u.client_hello;
  json_t *arr, *v;
  size_t i, n;

  arr = json_object_get (obj, "versions");
  if (!json_is_array (arr))
    return SC_ERR_FIELD;
  n = json_array_size (arr);
  if (n == 0)
    return SC_ERR_FIELD;
  if (n > SC_MSG_MAX_VERSIONS)
    return SC_ERR_TOO_LARGE;
  json_array_foreach (arr, i, v)
  {
    json_int_t x;

    if (!json_is_integer (v))
      return SC_ERR_FIELD;
    x = json_integer_value (v);
    if (!in_range (x, VERSION_MIN, VERSION_MAX))
      return SC_ERR_FIELD;
    m->versions[i] = (uint32_t) x;
  }
  m->n_versions = n;

  if (json_object_get (obj, "agent") != NULL)
    return get_text (obj, "agent", check_agent, m->agent, sizeof m->agent);
  return SC_OK;
}

static int
build_client_hello (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_client_hello *m = &msg->u.client_hello;
  size_t i, agent_len = strnlen (m->agent, sizeof m->agent);
  json_t *arr;
  int rc;

  if (m->n_versions == 0)
    return SC_ERR_FIELD;
  if (m->n_versions > SC_MSG_MAX_VERSIONS)
    return SC_ERR_TOO_LARGE;
  for (i = 0; i < m->n_versions; i++)
    if (!in_range (m->versions[i], VERSION_MIN, VERSION_MAX))
      return SC_ERR_FIELD;
  rc = check_agent (m->agent, agent_len);
  if (rc != SC_OK)
    return rc;

  arr = json_array ();
  rc = set_new (obj, "versions", arr);
  if (rc != SC_OK)
    return rc;
  for (i = 0; i < m->n_versions; i++)
    if (json_array_append_new (arr, json_integer (m->versions[i])) != 0)
      return SC_ERR_NOMEM;
  if (agent_len > 0)
    return set_string (obj, "agent", m->agent, agent_len);
  return SC_OK;
}

static int
parse_server_hello (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_server_hello *m = &out->u.server_hello;
  int64_t version, max_frame, idle;
  int rc;

  if ((rc = get_integer (obj, "version", VERSION_MIN, VERSION_MAX, &version)) ||
      (rc = get_text (obj, "agent", check_agent, m->agent, sizeof m->agent)) ||
      (rc = get_integer (obj, "max_frame", MAX_FRAME_MIN, MAX_FRAME_MAX,
                         &max_frame)) ||
      (rc = get_integer (obj, "idle_timeout", IDLE_TIMEOUT_MIN,
                         IDLE_TIMEOUT_MAX, &idle)))
    return rc;
  m->version = (uint32_t) version;
  m->max_frame = (uint32_t) max_frame;
  m->idle_timeout = (uint32_t) idle;
  return SC_OK;
}

static int
build_server_hello (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_server_hello *m = &msg->u.server_hello;
  size_t agent_len = strnlen (m->agent, sizeof m->agent);
  int rc;

  if (!in_range (m->version, VERSION_MIN, VERSION_MAX) ||
      !in_range (m->max_frame, MAX_FRAME_MIN, MAX_FRAME_MAX) ||
      !in_range (m->idle_timeout, IDLE_TIMEOUT_MIN, IDLE_TIMEOUT_MAX))
    return SC_ERR_FIELD;
  rc = check_agent (m->agent, agent_len);
  if (rc != SC_OK)
    return rc;

  if ((rc = set_integer (obj, "version", m->version)) ||
      (rc = set_string (obj, "agent", m->agent, agent_len)) ||
      (rc = set_integer (obj, "max_frame", m->max_frame)) ||
      (rc = set_integer (obj, "idle_timeout", m->idle_timeout)))
    return rc;
  return SC_OK;
}

static int
parse_login (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_login *m = &out->u.login;
  const char *pw;
  size_t len;
  int rc;

  if ((rc = get_username (obj, "user", m->user)) ||
      (rc = get_string (obj, "password", &pw, &len)) ||
      (rc = sc_password_validate (pw, len)))
    return rc;
  m->password = malloc (len + 1);
  if (m->password == NULL)
    return SC_ERR_NOMEM;
  memcpy (m->password, pw, len);
  m->password[len] = '\0';
  m->password_len = len;
  return SC_OK;
}

static int
build_login (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_login *m = &msg->u.login;
  size_t user_len = strnlen (m->user, sizeof m->user);
  int rc;

  if ((rc = sc_username_validate (m->user, user_len)))
    return rc;
  if (m->password == NULL)
    return SC_ERR_FIELD;
  if ((rc = sc_password_validate (m->password, m->password_len)))
    return rc;

  /* The password goes in last so that nothing can fail after jansson has
   * made its copy; sc_msg_encode wipes that copy before freeing it. */
  if ((rc = set_string (obj, "user", m->user, user_len)) ||
      (rc = set_secret_string (obj, "password", m->password, m->password_len)))
    return rc;
  return SC_OK;
}

static int
parse_login_ok (json_t *obj, struct sc_msg *out)
{
  return get_username (obj, "user", out->u.login_ok.user);
}

static int
build_login_ok (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_login_ok *m = &msg->u.login_ok;
  size_t user_len = strnlen (m->user, sizeof m->user);
  int rc;

  if ((rc = sc_username_validate (m->user, user_len)))
    return rc;
  return set_string (obj, "user", m->user, user_len);
}

/* A body to be encoded: NULL stands for the empty body. */
static int
check_body_member (const char *body, size_t len)
{
  if (body == NULL)
    return len == 0 ? SC_OK : SC_ERR_INVALID;
  return check_body (body, len);
}

static int
parse_send (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_send *m = &out->u.send;
  int64_t id;
  int rc;

  if ((rc = get_integer (obj, "id", ID_MIN, ID_MAX, &id)) ||
      (rc = get_username (obj, "to", m->to)) ||
      (rc = get_body (obj, "body", &m->body, &m->body_len)))
    return rc;
  m->id = (uint64_t) id;
  return SC_OK;
}

static int
build_send (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_send *m = &msg->u.send;
  size_t to_len = strnlen (m->to, sizeof m->to);
  int rc;

  if (m->id < ID_MIN || m->id > ID_MAX)
    return SC_ERR_FIELD;
  if ((rc = sc_username_validate (m->to, to_len)) ||
      (rc = check_body_member (m->body, m->body_len)))
    return rc;

  if ((rc = set_integer (obj, "id", (int64_t) m->id)) ||
      (rc = set_string (obj, "to", m->to, to_len)) ||
      (rc = set_string (obj, "body", m->body ? m->body : "", m->body_len)))
    return rc;
  return SC_OK;
}

static int
parse_sent (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_sent *m = &out->u.sent;
  int64_t ref, id, ts;
  int rc;

  if ((rc = get_integer (obj, "ref", ID_MIN, ID_MAX, &ref)) ||
      (rc = get_integer (obj, "id", ID_MIN, ID_MAX, &id)) ||
      (rc = get_integer (obj, "ts", TS_MIN, ID_MAX, &ts)))
    return rc;
  m->ref = (uint64_t) ref;
  m->id = (uint64_t) id;
  m->ts = ts;
  return SC_OK;
}

static int
build_sent (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_sent *m = &msg->u.sent;
  int rc;

  if (m->ref < ID_MIN || m->ref > ID_MAX || m->id < ID_MIN || m->id > ID_MAX ||
      !in_range (m->ts, TS_MIN, ID_MAX))
    return SC_ERR_FIELD;

  if ((rc = set_integer (obj, "ref", (int64_t) m->ref)) ||
      (rc = set_integer (obj, "id", (int64_t) m->id)) ||
      (rc = set_integer (obj, "ts", m->ts)))
    return rc;
  return SC_OK;
}

static int
parse_message (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_message *m = &out->u.message;
  int64_t id, ts;
  int rc;

  if ((rc = get_integer (obj, "id", ID_MIN, ID_MAX, &id)) ||
      (rc = get_username (obj, "from", m->from)) ||
      (rc = get_integer (obj, "ts", TS_MIN, ID_MAX, &ts)) ||
      (rc = get_body (obj, "body", &m->body, &m->body_len)))
    return rc;
  m->id = (uint64_t) id;
  m->ts = ts;
  return SC_OK;
}

static int
build_message (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_message *m = &msg->u.message;
  size_t from_len = strnlen (m->from, sizeof m->from);
  int rc;

  if (m->id < ID_MIN || m->id > ID_MAX || !in_range (m->ts, TS_MIN, ID_MAX))
    return SC_ERR_FIELD;
  if ((rc = sc_username_validate (m->from, from_len)) ||
      (rc = check_body_member (m->body, m->body_len)))
    return rc;

  if ((rc = set_integer (obj, "id", (int64_t) m->id)) ||
      (rc = set_string (obj, "from", m->from, from_len)) ||
      (rc = set_integer (obj, "ts", m->ts)) ||
      (rc = set_string (obj, "body", m->body ? m->body : "", m->body_len)))
    return rc;
  return SC_OK;
}

/* who, ping and pong have no members besides "type". */
static int
parse_empty (json_t *obj, struct sc_msg *out)
{
  return SC_OK;
}

static int
build_empty (const struct sc_msg *msg, json_t *obj)
{
  return SC_OK;
}

static int
parse_presence_list (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_presence_list *m = &out->u.presence_list;
  json_t *arr, *more, *v;
  size_t i, n;
  int rc;

  arr = json_object_get (obj, "users");
  if (!json_is_array (arr))
    return SC_ERR_FIELD;
  more = json_object_get (obj, "more");
  if (!json_is_boolean (more))
    return SC_ERR_FIELD;
  n = json_array_size (arr);
  if (n > SC_PRESENCE_CHUNK)
    return SC_ERR_TOO_LARGE;

  if (n > 0)
    {
      m->users = calloc (n, sizeof *m->users);
      if (m->users == NULL)
        return SC_ERR_NOMEM;
    }
  json_array_foreach (arr, i, v)
  {
    rc = copy_username (v, m->users[i]);
    if (rc != SC_OK)
      return rc;
  }
  m->n_users = n;
  m->more = json_is_true (more);
  return SC_OK;
}

static int
build_presence_list (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_presence_list *m = &msg->u.presence_list;
  json_t *arr;
  size_t i;
  int rc;

  if (m->n_users > SC_PRESENCE_CHUNK)
    return SC_ERR_TOO_LARGE;
  if (m->users == NULL && m->n_users > 0)
    return SC_ERR_INVALID;
  for (i = 0; i < m->n_users; i++)
    {
      rc = sc_username_validate (m->users[i],
                                 strnlen (m->users[i], sizeof m->users[i]));
      if (rc != SC_OK)
        return rc;
    }

  arr = json_array ();
  rc = set_new (obj, "users", arr);
  if (rc != SC_OK)
    return rc;
  for (i = 0; i < m->n_users; i++)
    if (json_array_append_new (
            arr, json_stringn_nocheck (m->users[i], strlen (m->users[i]))) != 0)
      return SC_ERR_NOMEM;
  return set_new (obj, "more", json_boolean (m->more));
}

static int
parse_presence (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_presence *m = &out->u.presence;
  const char *s;
  size_t len;
  int rc;

  if ((rc = get_username (obj, "user", m->user)) ||
      (rc = get_string (obj, "status", &s, &len)))
    return rc;
  if (len == 6 && memcmp (s, "online", 6) == 0)
    m->online = true;
  else if (len == 7 && memcmp (s, "offline", 7) == 0)
    m->online = false;
  else
    return SC_ERR_FIELD;
  return SC_OK;
}

static int
build_presence (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_presence *m = &msg->u.presence;
  size_t user_len = strnlen (m->user, sizeof m->user);
  int rc;

  if ((rc = sc_username_validate (m->user, user_len)))
    return rc;
  if ((rc = set_string (obj, "user", m->user, user_len)) ||
      (rc = set_new (obj, "status",
                     json_string (m->online ? "online" : "offline"))))
    return rc;
  return SC_OK;
}

/* "code" and "message", which error and bye share. */
static int
get_code_message (json_t *obj,
                  enum code_kind kind,
                  enum sc_code *code,
                  char message[SC_TEXT_MAX + 1])
{
  int rc;

  if ((rc = get_code (obj, "code", kind, code)))
    return rc;
  return get_text (obj, "message", check_text, message, SC_TEXT_MAX + 1);
}

static int
set_code_message (json_t *obj,
                  enum sc_code code,
                  const char *message,
                  size_t message_len)
{
  int rc;

  if ((rc = set_string (obj, "code", codes[code].name,
                        strlen (codes[code].name))))
    return rc;
  return set_string (obj, "message", message, message_len);
}

static int
parse_error (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_error *m = &out->u.error;
  int64_t v;
  int rc;

  rc = get_code_message (obj, KIND_ERROR, &m->code, m->message);
  if (rc != SC_OK)
    return rc;
  if (json_object_get (obj, "ref") != NULL)
    {
      rc = get_integer (obj, "ref", ID_MIN, ID_MAX, &v);
      if (rc != SC_OK)
        return rc;
      m->has_ref = true;
      m->ref = (uint64_t) v;
    }
  if (json_object_get (obj, "retry_after") != NULL)
    {
      rc = get_integer (obj, "retry_after", RETRY_AFTER_MIN, RETRY_AFTER_MAX,
                        &v);
      if (rc != SC_OK)
        return rc;
      m->retry_after = (uint32_t) v;
    }
  return SC_OK;
}

static int
build_error (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_error *m = &msg->u.error;
  size_t text_len = strnlen (m->message, sizeof m->message);
  int rc;

  if ((rc = check_code (m->code, KIND_ERROR)) ||
      (rc = check_text (m->message, text_len)))
    return rc;
  if (m->has_ref && (m->ref < ID_MIN || m->ref > ID_MAX))
    return SC_ERR_FIELD;
  /* 0 means "absent", so only the upper bound can be violated. */
  if (m->retry_after > RETRY_AFTER_MAX)
    return SC_ERR_FIELD;

  if ((rc = set_code_message (obj, m->code, m->message, text_len)))
    return rc;
  if (m->has_ref && (rc = set_integer (obj, "ref", (int64_t) m->ref)))
    return rc;
  if (m->retry_after != 0 &&
      (rc = set_integer (obj, "retry_after", m->retry_after)))
    return rc;
  return SC_OK;
}

static int
parse_bye (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_bye *m = &out->u.bye;

  return get_code_message (obj, KIND_BYE, &m->code, m->message);
}

static int
build_bye (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_bye *m = &msg->u.bye;
  size_t text_len = strnlen (m->message, sizeof m->message);
  int rc;

  if ((rc = check_code (m->code, KIND_BYE)) ||
      (rc = check_text (m->message, text_len)))
    return rc;
  return set_code_message (obj, m->code, m->message, text_len);
}

/* One element of prekeys_upload.opks: an object of exactly "id" and
 * "key". */
static int
parse_opk (json_t *v, struct sc_msg_opk *out)
{
  int rc;

  if (!json_is_object (v))
    return SC_ERR_FIELD;
  if ((rc = get_key_id (v, "id", &out->id)) ||
      (rc = get_fixed (v, "key", out->key, KEY_LEN)))
    return rc;
  /* Both are present, so any third member is one too many. */
  return json_object_size (v) == 2 ? SC_OK : SC_ERR_FIELD;
}

/* Ids are not checked for uniqueness here: the server ignores the ones it
 * already holds, duplicates within one upload included. */
static int
parse_prekeys_upload (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_prekeys_upload *m = &out->u.prekeys_upload;
  json_t *arr, *v;
  size_t i, n;
  int rc;

  if ((rc = get_fixed (obj, "identity", m->identity, SC_IDENTITY_WIRE_LEN)) ||
      (rc = get_key_id (obj, "spk_id", &m->spk_id)) ||
      (rc = get_fixed (obj, "spk", m->spk, KEY_LEN)) ||
      (rc = get_fixed (obj, "spk_sig", m->spk_sig, SIG_LEN)))
    return rc;

  arr = json_object_get (obj, "opks");
  if (!json_is_array (arr))
    return SC_ERR_FIELD;
  n = json_array_size (arr);
  if (n > SC_OPK_UPLOAD_MAX)
    return SC_ERR_TOO_LARGE;
  if (n > 0)
    {
      m->opks = calloc (n, sizeof *m->opks);
      if (m->opks == NULL)
        return SC_ERR_NOMEM;
    }
  json_array_foreach (arr, i, v)
  {
    rc = parse_opk (v, &m->opks[i]);
    if (rc != SC_OK)
      return rc;
  }
  m->n_opks = n;
  return SC_OK;
}

static int
build_prekeys_upload (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_prekeys_upload *m = &msg->u.prekeys_upload;
  json_t *arr;
  size_t i;
  int rc;

  if (m->spk_id < KEY_ID_MIN)
    return SC_ERR_FIELD;
  if (m->n_opks > SC_OPK_UPLOAD_MAX)
    return SC_ERR_TOO_LARGE;
  if (m->opks == NULL && m->n_opks > 0)
    return SC_ERR_INVALID;
  for (i = 0; i < m->n_opks; i++)
    if (m->opks[i].id < KEY_ID_MIN)
      return SC_ERR_FIELD;

  if ((rc = set_fixed (obj, "identity", m->identity, SC_IDENTITY_WIRE_LEN)) ||
      (rc = set_integer (obj, "spk_id", m->spk_id)) ||
      (rc = set_fixed (obj, "spk", m->spk, KEY_LEN)) ||
      (rc = set_fixed (obj, "spk_sig", m->spk_sig, SIG_LEN)))
    return rc;
  arr = json_array ();
  rc = set_new (obj, "opks", arr);
  if (rc != SC_OK)
    return rc;
  for (i = 0; i < m->n_opks; i++)
    {
      json_t *o = json_object ();

      if (o == NULL || json_array_append_new (arr, o) != 0)
        return SC_ERR_NOMEM;
      if ((rc = set_integer (o, "id", m->opks[i].id)) ||
          (rc = set_fixed (o, "key", m->opks[i].key, KEY_LEN)))
        return rc;
    }
  return SC_OK;
}

/* Nothing published: an empty identity, spk_id 0 and no one-time prekeys.
 * Otherwise a whole identity and a real signed prekey id. */
static int
check_status (bool has_identity, int64_t spk_id, int64_t opks)
{
  if (has_identity)
    return spk_id >= KEY_ID_MIN ? SC_OK : SC_ERR_FIELD;
  return spk_id == 0 && opks == 0 ? SC_OK : SC_ERR_FIELD;
}

static int
parse_prekey_status (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_prekey_status *m = &out->u.prekey_status;
  int64_t spk_id, opks;
  const char *s;
  size_t len;
  int rc;

  if ((rc = get_string (obj, "identity", &s, &len)) ||
      (rc = get_integer (obj, "spk_id", 0, KEY_ID_MAX, &spk_id)) ||
      (rc = get_integer (obj, "opks", 0, KEY_ID_MAX, &opks)))
    return rc;
  if (len > 0)
    {
      rc = decode_fixed (s, len, m->identity, SC_IDENTITY_WIRE_LEN);
      if (rc != SC_OK)
        return rc;
      m->has_identity = true;
    }
  rc = check_status (m->has_identity, spk_id, opks);
  if (rc != SC_OK)
    return rc;
  m->spk_id = (uint32_t) spk_id;
  m->opks = (uint32_t) opks;
  return SC_OK;
}

static int
build_prekey_status (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_prekey_status *m = &msg->u.prekey_status;
  int rc;

  if ((rc = check_status (m->has_identity, m->spk_id, m->opks)))
    return rc;
  if (m->has_identity)
    rc = set_fixed (obj, "identity", m->identity, SC_IDENTITY_WIRE_LEN);
  else
    rc = set_string (obj, "identity", "", 0);
  if (rc != SC_OK || (rc = set_integer (obj, "spk_id", m->spk_id)) ||
      (rc = set_integer (obj, "opks", m->opks)))
    return rc;
  return SC_OK;
}

static int
parse_bundle_request (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_bundle_request *m = &out->u.bundle_request;
  int64_t id;
  int rc;

  if ((rc = get_integer (obj, "id", ID_MIN, ID_MAX, &id)) ||
      (rc = get_username (obj, "user", m->user)))
    return rc;
  m->id = (uint64_t) id;
  return SC_OK;
}

static int
build_bundle_request (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_bundle_request *m = &msg->u.bundle_request;
  size_t user_len = strnlen (m->user, sizeof m->user);
  int rc;

  if (m->id < ID_MIN || m->id > ID_MAX)
    return SC_ERR_FIELD;
  if ((rc = sc_username_validate (m->user, user_len)))
    return rc;
  if ((rc = set_integer (obj, "id", (int64_t) m->id)) ||
      (rc = set_string (obj, "user", m->user, user_len)))
    return rc;
  return SC_OK;
}

static int
parse_bundle (json_t *obj, struct sc_msg *out)
{
  struct sc_msg_bundle *m = &out->u.bundle;
  bool has_opk_id, has_opk;
  int64_t ref;
  int rc;

  if ((rc = get_integer (obj, "ref", ID_MIN, ID_MAX, &ref)) ||
      (rc = get_username (obj, "user", m->user)) ||
      (rc = get_fixed (obj, "identity", m->identity, SC_IDENTITY_WIRE_LEN)) ||
      (rc = get_key_id (obj, "spk_id", &m->spk_id)) ||
      (rc = get_fixed (obj, "spk", m->spk, KEY_LEN)) ||
      (rc = get_fixed (obj, "spk_sig", m->spk_sig, SIG_LEN)))
    return rc;
  m->ref = (uint64_t) ref;

  /* The one-time prekey comes whole or not at all. */
  has_opk_id = json_object_get (obj, "opk_id") != NULL;
  has_opk = json_object_get (obj, "opk") != NULL;
  if (has_opk_id != has_opk)
    return SC_ERR_FIELD;
  if (has_opk)
    {
      if ((rc = get_key_id (obj, "opk_id", &m->opk_id)) ||
          (rc = get_fixed (obj, "opk", m->opk, KEY_LEN)))
        return rc;
      m->has_opk = true;
    }
  return SC_OK;
}

static int
build_bundle (const struct sc_msg *msg, json_t *obj)
{
  const struct sc_msg_bundle *m = &msg->u.bundle;
  size_t user_len = strnlen (m->user, sizeof m->user);
  int rc;

  if (m->ref < ID_MIN || m->ref > ID_MAX || m->spk_id < KEY_ID_MIN ||
      (m->has_opk && m->opk_id < KEY_ID_MIN))
    return SC_ERR_FIELD;
  if ((rc = sc_username_validate (m->user, user_len)))
    return rc;

  if ((rc = set_integer (obj, "ref", (int64_t) m->ref)) ||
      (rc = set_string (obj, "user", m->user, user_len)) ||
      (rc = set_fixed (obj, "identity", m->identity, SC_IDENTITY_WIRE_LEN)) ||
      (rc = set_integer (obj, "spk_id", m->spk_id)) ||
      (rc = set_fixed (obj, "spk", m->spk, KEY_LEN)) ||
      (rc = set_fixed (obj, "spk_sig", m->spk_sig, SIG_LEN)))
    return rc;
  if (m->has_opk && ((rc = set_integer (obj, "opk_id", m->opk_id)) ||
                     (rc = set_fixed (obj, "opk", m->opk, KEY_LEN))))
    return rc;
  return SC_OK;
}

/* ---- The dispatch table. ---- */

/* Members besides "type", in wire order; NULL-terminated. */
static const char *const members_client_hello[] = { "versions", "agent", NULL };
static const char *const members_server_hello[] = { "version", "agent",
                                                    "max_frame", "idle_timeout",
                                                    NULL };
static const char *const members_login[] = { "user", "password", NULL };
static const char *const members_login_ok[] = { "user", NULL };
static const char *const members_send[] = { "id", "to", "body", NULL };
static const char *const members_sent[] = { "ref", "id", "ts", NULL };
static const char *const members_message[] = { "id", "from", "ts", "body",
                                               NULL };
static const char *const members_none[] = { NULL };
static const char *const members_presence_list[] = { "users", "more", NULL };
static const char *const members_presence[] = { "user", "status", NULL };
static const char *const members_error[] = { "code", "message", "ref",
                                             "retry_after", NULL };
static const char *const members_bye[] = { "code", "message", NULL };
static const char *const members_prekeys_upload[] = { "identity", "spk_id",
                                                      "spk",      "spk_sig",
                                                      "opks",     NULL };
static const char *const members_prekey_status[] = { "identity", "spk_id",
                                                     "opks", NULL };
static const char *const members_bundle_request[] = { "id", "user", NULL };
static const char *const members_bundle[] = { "ref",    "user", "identity",
                                              "spk_id", "spk",  "spk_sig",
                                              "opk_id", "opk",  NULL };

static const struct msg_desc
{
  const char *name;
  const char *const *members;
  int (*parse) (json_t *obj, struct sc_msg *out);
  int (*build) (const struct sc_msg *msg, json_t *obj);
} descs[SC_MSG_N_TYPES] = {
  [SC_MSG_CLIENT_HELLO] = { "client_hello", members_client_hello,
                            parse_client_hello, build_client_hello },
  [SC_MSG_SERVER_HELLO] = { "server_hello", members_server_hello,
                            parse_server_hello, build_server_hello },
  [SC_MSG_LOGIN] = { "login", members_login, parse_login, build_login },
  [SC_MSG_LOGIN_OK] = { "login_ok", members_login_ok, parse_login_ok,
                        build_login_ok },
  [SC_MSG_SEND] = { "send", members_send, parse_send, build_send },
  [SC_MSG_SENT] = { "sent", members_sent, parse_sent, build_sent },
  [SC_MSG_MESSAGE] = { "message", members_message, parse_message,
                       build_message },
  [SC_MSG_WHO] = { "who", members_none, parse_empty, build_empty },
  [SC_MSG_PRESENCE_LIST] = { "presence_list", members_presence_list,
                             parse_presence_list, build_presence_list },
  [SC_MSG_PRESENCE] = { "presence", members_presence, parse_presence,
                        build_presence },
  [SC_MSG_PING] = { "ping", members_none, parse_empty, build_empty },
  [SC_MSG_PONG] = { "pong", members_none, parse_empty, build_empty },
  [SC_MSG_ERROR] = { "error", members_error, parse_error, build_error },
  [SC_MSG_BYE] = { "bye", members_bye, parse_bye, build_bye },
  [SC_MSG_PREKEYS_UPLOAD] = { "prekeys_upload", members_prekeys_upload,
                              parse_prekeys_upload, build_prekeys_upload },
  [SC_MSG_PREKEY_STATUS] = { "prekey_status", members_prekey_status,
                             parse_prekey_status, build_prekey_status },
  [SC_MSG_BUNDLE_REQUEST] = { "bundle_request", members_bundle_request,
                              parse_bundle_request, build_bundle_request },
  [SC_MSG_BUNDLE] = { "bundle", members_bundle, parse_bundle, build_bundle },
};

/* Overwrites the password member of obj, if any, in place. It is the only
 * secret on the wire; it is wiped from every tree we parse or build,
 * whatever the type, so that a mistyped or malformed login does not leave
 * it behind in freed memory either. */
static void
wipe_secret (json_t *obj)
{
  json_t *v;

  if (!json_is_object (obj))
    return;
  v = json_object_get (obj, "password");
  if (json_is_string (v))
    sc_wipe ((char *) json_string_value (v), json_string_length (v));
}

static int
check_members (json_t *obj, const char *const *allowed)
{
  const char *key;
  json_t *v;

  json_object_foreach (obj, key, v)
  {
    const char *const *p;

    if (strcmp (key, "type") == 0)
      continue;
    for (p = allowed; *p != NULL; p++)
      if (strcmp (key, *p) == 0)
        break;
    if (*p == NULL)
      return SC_ERR_FIELD;
  }
  return SC_OK;
}

int
sc_msg_parse (const uint8_t *json, size_t len, struct sc_msg *out)
{
  const struct msg_desc *desc = NULL;
  json_error_t jerr;
  json_t *root = NULL, *type;
  const char *name;
  size_t name_len;
  int rc, i;

  if (out == NULL)
    return SC_ERR_INVALID;
  memset (out, 0, sizeof *out);
  if (json == NULL && len > 0)
    return SC_ERR_INVALID;
  if (len == 0)
    return SC_ERR_JSON;
  if (len > JSON_TEXT_MAX)
    return SC_ERR_TOO_LARGE;
  /* jansson refuses NUL too, but make that independent of its version. */
  if (memchr (json, '\0', len) != NULL)
    return SC_ERR_JSON;

  /* jansson leaves the error code unset on some allocation failures. */
  memset (&jerr, 0, sizeof jerr);
  root = json_loadb ((const char *) json, len, LOAD_FLAGS, &jerr);
  if (root == NULL)
    return json_error_code (&jerr) == json_error_out_of_memory ? SC_ERR_NOMEM
                                                               : SC_ERR_JSON;
  if (!json_is_object (root))
    {
      rc = SC_ERR_JSON;
      goto done;
    }

  type = json_object_get (root, "type");
  if (!json_is_string (type))
    {
      rc = SC_ERR_FIELD;
      goto done;
    }
  name = json_string_value (type);
  name_len = json_string_length (type);
  for (i = 0; i < SC_MSG_N_TYPES; i++)
    if (strlen (descs[i].name) == name_len &&
        memcmp (descs[i].name, name, name_len) == 0)
      {
        desc = &descs[i];
        break;
      }
  if (desc == NULL)
    {
      rc = SC_ERR_UNKNOWN_TYPE;
      goto done;
    }

  rc = check_members (root, desc->members);
  if (rc != SC_OK)
    goto done;
  out->type = (enum sc_msg_type) i;
  rc = desc->parse (root, out);

done:
  wipe_secret (root);
  json_decref (root);
  if (rc != SC_OK)
    sc_msg_clear (out);
  return rc;
}

/* Output of json_dump_callback: grows by copying and wipes every buffer it
 * drops, since a login carries the password. */
struct dump_buf
{
  char *data;
  size_t len;
  size_t cap;
  int rc;
};

static int
dump_cb (const char *chunk, size_t size, void *user)
{
  struct dump_buf *b = user;

  if (size > JSON_TEXT_MAX - b->len)
    {
      b->rc = SC_ERR_TOO_LARGE;
      return -1;
    }
  if (b->len + size + 1 > b->cap)
    {
      size_t cap = b->cap ? b->cap : 256;
      char *p;

      while (cap < b->len + size + 1)
        cap *= 2;
      p = malloc (cap);
      if (p == NULL)
        {
          b->rc = SC_ERR_NOMEM;
          return -1;
        }
      if (b->len > 0)
        memcpy (p, b->data, b->len);
      sc_wipe (b->data, b->cap);
      free (b->data);
      b->data = p;
      b->cap = cap;
    }
  memcpy (b->data + b->len, chunk, size);
  b->len += size;
  b->data[b->len] = '\0';
  return 0;
}

int
sc_msg_encode (const struct sc_msg *m, char **out, size_t *out_len)
{
  const struct msg_desc *desc;
  struct dump_buf buf = { NULL, 0, 0, SC_OK };
  json_t *root;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (out_len != NULL)
    *out_len = 0;
  if (m == NULL || out == NULL || out_len == NULL ||
      (unsigned) m->type >= SC_MSG_N_TYPES)
    return SC_ERR_INVALID;
  desc = &descs[m->type];

  root = json_object ();
  if (root == NULL)
    return SC_ERR_NOMEM;
  rc = set_string (root, "type", desc->name, strlen (desc->name));
  if (rc != SC_OK)
    goto out;
  rc = desc->build (m, root);
  if (rc != SC_OK)
    goto out;

  if (json_dump_callback (root, dump_cb, &buf, DUMP_FLAGS) != 0)
    {
      rc = buf.rc != SC_OK ? buf.rc : SC_ERR_NOMEM;
      sc_wipe (buf.data, buf.cap);
      free (buf.data);
      goto out;
    }
  *out = buf.data;
  *out_len = buf.len;

out:
  wipe_secret (root);
  json_decref (root);
  return rc;
}

void
sc_msg_clear (struct sc_msg *m)
{
  if (m == NULL)
    return;
  switch (m->type)
    {
    case SC_MSG_LOGIN:
      if (m->u.login.password != NULL)
        sc_wipe (m->u.login.password, m->u.login.password_len);
      free (m->u.login.password);
      break;
    case SC_MSG_SEND:
      free (m->u.send.body);
      break;
    case SC_MSG_MESSAGE:
      free (m->u.message.body);
      break;
    case SC_MSG_PRESENCE_LIST:
      free (m->u.presence_list.users);
      break;
    case SC_MSG_PREKEYS_UPLOAD:
      free (m->u.prekeys_upload.opks);
      break;
    case SC_MSG_CLIENT_HELLO:
    case SC_MSG_SERVER_HELLO:
    case SC_MSG_LOGIN_OK:
    case SC_MSG_SENT:
    case SC_MSG_WHO:
    case SC_MSG_PRESENCE:
    case SC_MSG_PING:
    case SC_MSG_PONG:
    case SC_MSG_ERROR:
    case SC_MSG_BYE:
    case SC_MSG_PREKEY_STATUS:
    case SC_MSG_BUNDLE_REQUEST:
    case SC_MSG_BUNDLE:
    case SC_MSG_N_TYPES:
      break;
    }
  memset (m, 0, sizeof *m);
}

const char *
sc_msg_type_name (enum sc_msg_type t)
{
  if ((unsigned) t >= SC_MSG_N_TYPES)
    return NULL;
  return descs[t].name;
}

const char *
sc_code_name (enum sc_code c)
{
  if ((unsigned) c >= SC_CODE_N_CODES)
    return NULL;
  return codes[c].name;
}

const char *
sc_code_text (enum sc_code c)
{
  if ((unsigned) c >= SC_CODE_N_CODES)
    return NULL;
  return codes[c].text;
}
