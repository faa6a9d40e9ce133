/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The JSON message schema of msg.h against PROTOCOL.md section 5: round
 * trips for every type, and for every type and member the ways a peer can
 * get it wrong, each with the exact error expected.
 *
 * JSON in this file is written with ' for " to stay readable; q() turns
 * every ' into " before the text is used. */
#include <glib.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/msg.h"

#define ID_MAX_TEXT    "9007199254740991"    /* 2^53 - 1 */
#define ID_OVER_TEXT   "9007199254740992"    /* 2^53 */
#define POW63_TEXT     "9223372036854775808" /* 2^63: no json_int_t holds it */
#define INT64_MAX_TEXT "9223372036854775807"
#define JSON_TEXT_MAX  65519 /* 65535 - 16: one transport plaintext */
#define U32_MAX_TEXT   "4294967295"
#define U32_OVER_TEXT  "4294967296"

/* Keys and signatures as base64: 32 bytes 00..1f, 64 bytes 00..3f, and
 * 64 bytes 40..7f. */
#define KEY32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY64                                                                  \
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1"   \
  "Njc4OTo7PD0+Pw=="
#define SIG64                                                                  \
  "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1"   \
  "dnd4eXp7fH1+fw=="

/* Everything registered with g_test_add_data_func, freed after the run. */
static GPtrArray *garbage;

static char *
keep (char *s)
{
  g_ptr_array_add (garbage, s);
  return s;
}

static void
quote_in_place (char *s)
{
  for (; *s != '\0'; s++)
    if (*s == '\'')
      *s = '"';
}

static char *
q (const char *s)
{
  char *r = g_strdup (s);

  quote_in_place (r);
  return r;
}

static const struct sc_msg zero_msg;

/* Parses an exact-size heap copy of json[0..len) (so ASan sees any read
 * past the end) and checks the result code; on failure the output must be
 * all zero. Returns the parsed message in *out when out is not NULL. */
static void
parse_expect (const char *json, size_t len, int want, struct sc_msg *out)
{
  uint8_t *copy = g_memdup2 (json, len);
  struct sc_msg m;
  int rc;

  memset (&m, 0x5a, sizeof m);
  rc = sc_msg_parse (copy != NULL ? copy : (const uint8_t *) "", len, &m);
  if (rc != want)
    g_test_message ("input (%zu bytes): %.*s; got %s, want %s", len,
                    (int) MIN (len, 300), json, sc_strerror (rc),
                    sc_strerror (want));
  g_assert_cmpint (rc, ==, want);
  if (rc != SC_OK)
    g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
  if (out != NULL)
    *out = m;
  else
    {
      sc_msg_clear (&m);
      g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
    }
  g_free (copy);
}

static char *
repeat (const char *unit, size_t n)
{
  GString *s = g_string_new (NULL);

  while (n-- > 0)
    g_string_append (s, unit);
  return g_string_free (s, FALSE);
}

/* ---------------------------------------------------------------------
 * The schema as the tests see it, written from PROTOCOL.md section 5 and
 * independent of msg.c's tables.
 * ------------------------------------------------------------------- */

enum kind
{
  K_ID,
  K_TS,
  K_VERSION,
  K_MAX_FRAME,
  K_IDLE,
  K_RETRY,
  K_USER,
  K_PASSWORD,
  K_BODY,
  K_AGENT,
  K_TEXT,
  K_STATUS,
  K_ERRCODE,
  K_BYECODE,
  K_BOOL,
  K_VERSIONS,
  K_USERS,
  K_KEY_ID, /* prekey ids: 1..2^32-1 */
  K_COUNT,  /* 0..2^32-1 */
  K_KEY32,  /* base64 of exactly 32 bytes */
  K_KEY64,  /* base64 of exactly 64 bytes */
  K_OPKS,   /* array of {"id", "key"} */
  N_KINDS
};

enum jtype
{
  J_INT,
  J_STR,
  J_BOOL,
  J_ARR
};

static enum jtype
kind_jtype (enum kind k)
{
  switch (k)
    {
    case K_ID:
    case K_TS:
    case K_VERSION:
    case K_MAX_FRAME:
    case K_IDLE:
    case K_RETRY:
    case K_KEY_ID:
    case K_COUNT:
      return J_INT;
    case K_BOOL:
      return J_BOOL;
    case K_VERSIONS:
    case K_USERS:
    case K_OPKS:
      return J_ARR;
    case K_USER:
    case K_PASSWORD:
    case K_BODY:
    case K_AGENT:
    case K_TEXT:
    case K_STATUS:
    case K_ERRCODE:
    case K_BYECODE:
    case K_KEY32:
    case K_KEY64:
    case N_KINDS:
      break;
    }
  return J_STR;
}

struct member
{
  const char *name;
  enum kind kind;
  gboolean required;
  const char *value; /* a valid value, as JSON text */
};

#define MAX_MEMBERS 8

struct spec
{
  const char *type;
  enum sc_msg_type t;
  struct member m[MAX_MEMBERS + 1]; /* ends with name == NULL */
};

static const struct spec specs[] = {
  { "client_hello",
    SC_MSG_CLIENT_HELLO,
    { { "versions", K_VERSIONS, TRUE, "[1,2]" },
      { "agent", K_AGENT, FALSE, "'securechat-cli/0.1.0'" } } },
  { "server_hello",
    SC_MSG_SERVER_HELLO,
    { { "version", K_VERSION, TRUE, "1" },
      { "agent", K_AGENT, TRUE, "'securechatd/0.1.0'" },
      { "max_frame", K_MAX_FRAME, TRUE, "65535" },
      { "idle_timeout", K_IDLE, TRUE, "90" } } },
  { "login",
    SC_MSG_LOGIN,
    { { "user", K_USER, TRUE, "'alice'" },
      { "password", K_PASSWORD, TRUE, "'correct horse'" } } },
  { "login_ok", SC_MSG_LOGIN_OK, { { "user", K_USER, TRUE, "'alice'" } } },
  { "send",
    SC_MSG_SEND,
    { { "id", K_ID, TRUE, "7" },
      { "to", K_USER, TRUE, "'bob'" },
      { "body", K_BODY, TRUE, "'aGk='" } } },
  { "sent",
    SC_MSG_SENT,
    { { "ref", K_ID, TRUE, "7" },
      { "id", K_ID, TRUE, "1042" },
      { "ts", K_TS, TRUE, "1764099197123" } } },
  { "message",
    SC_MSG_MESSAGE,
    { { "id", K_ID, TRUE, "1042" },
      { "from", K_USER, TRUE, "'alice'" },
      { "ts", K_TS, TRUE, "1764099197123" },
      { "body", K_BODY, TRUE, "'aGk='" } } },
  { "who", SC_MSG_WHO, { { .name = NULL } } },
  { "presence_list",
    SC_MSG_PRESENCE_LIST,
    { { "users", K_USERS, TRUE, "['alice','bob']" },
      { "more", K_BOOL, TRUE, "false" } } },
  { "presence",
    SC_MSG_PRESENCE,
    { { "user", K_USER, TRUE, "'carol'" },
      { "status", K_STATUS, TRUE, "'online'" } } },
  { "ping", SC_MSG_PING, { { .name = NULL } } },
  { "pong", SC_MSG_PONG, { { .name = NULL } } },
  { "error",
    SC_MSG_ERROR,
    { { "code", K_ERRCODE, TRUE, "'rate_limited'" },
      { "message", K_TEXT, TRUE, "'too many attempts, retry later'" },
      { "ref", K_ID, FALSE, "7" },
      { "retry_after", K_RETRY, FALSE, "1000" } } },
  { "bye",
    SC_MSG_BYE,
    { { "code", K_BYECODE, TRUE, "'server_shutdown'" },
      { "message", K_TEXT, TRUE, "'server is shutting down'" } } },
  { "prekeys_upload",
    SC_MSG_PREKEYS_UPLOAD,
    { { "identity", K_KEY64, TRUE, "'" KEY64 "'" },
      { "spk_id", K_KEY_ID, TRUE, "7" },
      { "spk", K_KEY32, TRUE, "'" KEY32 "'" },
      { "spk_sig", K_KEY64, TRUE, "'" SIG64 "'" },
      { "opks", K_OPKS, TRUE, "[{'id':101,'key':'" KEY32 "'}]" } } },
  /* An empty identity goes with spk_id 0 only: with spk_id 7 it is as
   * wrong as any other identity that is not 64 bytes. */
  { "prekey_status",
    SC_MSG_PREKEY_STATUS,
    { { "identity", K_KEY64, TRUE, "'" KEY64 "'" },
      { "spk_id", K_KEY_ID, TRUE, "7" },
      { "opks", K_COUNT, TRUE, "42" } } },
  { "bundle_request",
    SC_MSG_BUNDLE_REQUEST,
    { { "id", K_ID, TRUE, "3" }, { "user", K_USER, TRUE, "'bob'" } } },
  /* opk_id and opk may only be left out together (see the canonical
   * "bundle/no-opk"): alone, each is required. */
  { "bundle",
    SC_MSG_BUNDLE,
    { { "ref", K_ID, TRUE, "3" },
      { "user", K_USER, TRUE, "'bob'" },
      { "identity", K_KEY64, TRUE, "'" KEY64 "'" },
      { "spk_id", K_KEY_ID, TRUE, "7" },
      { "spk", K_KEY32, TRUE, "'" KEY32 "'" },
      { "spk_sig", K_KEY64, TRUE, "'" SIG64 "'" },
      { "opk_id", K_KEY_ID, TRUE, "101" },
      { "opk", K_KEY32, TRUE, "'" KEY32 "'" } } },
};

/* The codes of PROTOCOL.md section 7, split by the message they go in. */
static const char *const error_codes[] = {
  "bad_request",       "unknown_type",  "unsupported_version",
  "auth_failed",       "rate_limited",  "server_busy",
  "server_full",       "not_logged_in", "already_logged_in",
  "recipient_offline", "unknown_user",  "self_message",
  "too_large",         "internal",      "no_prekeys",
};
static const char *const bye_codes[] = {
  "server_shutdown", "session_replaced", "idle_timeout",
  "protocol_error",  "client_quit",
};

/* Builds the JSON text of spec s with member `replace` given the value
 * `with` (NULL: all valid values), member `omit` left out (-1: none), and
 * `tail` (raw text, may be NULL) appended inside the object. */
static char *
build (const struct spec *s,
       int replace,
       const char *with,
       int omit,
       const char *tail)
{
  GString *g = g_string_new (NULL);
  int i;

  g_string_append_printf (g, "{'type':'%s'", s->type);
  for (i = 0; s->m[i].name != NULL; i++)
    {
      if (i == omit)
        continue;
      g_string_append_printf (g, ",'%s':%s", s->m[i].name,
                              i == replace ? with : s->m[i].value);
    }
  if (tail != NULL)
    g_string_append (g, tail);
  g_string_append_c (g, '}');
  quote_in_place (g->str);
  return g_string_free (g, FALSE);
}

/* One generated parse case. */
struct parse_case
{
  char *json;
  size_t len;
  int want;
};

static void
run_parse_case (gconstpointer data)
{
  const struct parse_case *c = data;

  parse_expect (c->json, c->len, c->want, NULL);
}

static void
add_case (const char *path, char *json, size_t len, int want)
{
  struct parse_case *c = g_new0 (struct parse_case, 1);

  c->json = keep (json);
  c->len = len;
  c->want = want;
  g_ptr_array_add (garbage, c);
  g_test_add_data_func (path, c, run_parse_case);
}

/* ---- Values per kind: limits at max (accepted) and max + 1 (rejected),
 * and the malformed values that belong to the kind. ---- */

static char *
gen_user_max (void)
{
  GString *s = g_string_new ("'a");
  size_t i;

  for (i = 1; i < 32; i++)
    g_string_append_c (s, "z09._-"[i % 6]);
  g_string_append_c (s, '\'');
  return g_string_free (s, FALSE);
}

static char *
gen_user_over (void)
{
  char *r, *a = repeat ("b", 33);

  r = g_strdup_printf ("'%s'", a);
  g_free (a);
  return r;
}

static char *
wrap (char *inner)
{
  char *r = g_strdup_printf ("'%s'", inner);

  g_free (inner);
  return r;
}

static char *
gen_password_max (void)
{
  return wrap (repeat ("p", 1024));
}

static char *
gen_password_max_utf8 (void)
{
  /* 341 x U+20AC (3 bytes) + 1 = 1024 bytes. */
  char *e = repeat ("\xe2\x82\xac", 341), *r;

  r = g_strdup_printf ("'%sa'", e);
  g_free (e);
  return r;
}

static char *
gen_password_over (void)
{
  return wrap (repeat ("p", 1025));
}

static char *
gen_body_max (void)
{
  /* SC_BODY_MAX = 32768 bytes -> 43692 characters ending "AAA=". */
  char *a = repeat ("A", 43691), *r;

  r = g_strdup_printf ("'%s='", a);
  g_free (a);
  return r;
}

static char *
gen_body_over1 (void)
{
  return wrap (repeat ("A", 43693));
}

static char *
gen_body_max_unpadded (void)
{
  /* 43692 characters without padding decode to 32769 bytes: one over. */
  return wrap (repeat ("A", 43692));
}

static char *
gen_body_over4 (void)
{
  /* Valid base64 of 32772 bytes: the length alone is the problem. */
  return wrap (repeat ("A", 43696));
}

static char *
gen_agent_max (void)
{
  /* 64 printable characters including both ends of the range. */
  GString *s = g_string_new ("' ~");
  char c;

  for (c = '!'; s->len < 65; c++)
    if (c != '"' && c != '\'' && c != '\\')
      g_string_append_c (s, c);
  g_string_append_c (s, '\'');
  g_assert_cmpuint (s->len, ==, 66);
  return g_string_free (s, FALSE);
}

static char *
gen_agent_over (void)
{
  return wrap (repeat ("a", 65));
}

static char *
gen_text_max (void)
{
  return wrap (repeat ("m", 256));
}

static char *
gen_text_max_utf8 (void)
{
  return wrap (repeat ("\xc3\xa9", 128));
}

static char *
gen_text_max_escaped (void)
{
  /* 1536 characters of JSON, 256 bytes once decoded. */
  return wrap (repeat ("\\u0001", 256));
}

static char *
gen_text_over (void)
{
  return wrap (repeat ("m", 257));
}

static char *
gen_text_over_utf8 (void)
{
  char *e = repeat ("\xc3\xa9", 128), *r;

  r = g_strdup_printf ("'%sa'", e);
  g_free (e);
  return r;
}

static char *
gen_versions_max (void)
{
  return g_strdup ("[1,2,3,4,5,6,7,65535]");
}

static char *
gen_versions_over (void)
{
  return g_strdup ("[1,2,3,4,5,6,7,8,9]");
}

static char *
gen_users (size_t n)
{
  GString *s = g_string_new ("[");
  size_t i;

  for (i = 0; i < n; i++)
    g_string_append_printf (s, "%s'user%04zu-padded-to-32-bytes-x'",
                            i ? "," : "", i);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static char *
gen_users_max (void)
{
  return gen_users (1000);
}

static char *
gen_users_over (void)
{
  return gen_users (1001);
}

struct value
{
  const char *label;
  const char *text; /* or NULL and gen */
  char *(*gen) (void);
  int want;
};

#define V(l, t, w)                                                             \
  {                                                                            \
    l, t, NULL, w                                                              \
  }
#define G(l, g, w)                                                             \
  {                                                                            \
    l, NULL, g, w                                                              \
  }

static const struct value values_id[] = {
  V ("min", "1", SC_OK),
  V ("max", ID_MAX_TEXT, SC_OK),
  V ("zero", "0", SC_ERR_FIELD),
  V ("negative", "-1", SC_ERR_FIELD),
  V ("over-max", ID_OVER_TEXT, SC_ERR_FIELD),
  V ("int64-max", INT64_MAX_TEXT, SC_ERR_FIELD),
  V ("pow63", POW63_TEXT, SC_ERR_JSON),
  V ("below-int64-min", "-9223372036854775809", SC_ERR_JSON),
  V ("huge-real", "1e400", SC_ERR_JSON),
  V ("fraction", "1.5", SC_ERR_FIELD),
  V ("integral-real", "1.0", SC_ERR_FIELD),
  V ("exponent", "1e2", SC_ERR_FIELD),
  V ("leading-zero", "01", SC_ERR_JSON),
  V ("plus-sign", "+1", SC_ERR_JSON),
  V ("hex", "0x1", SC_ERR_JSON),
  V ("nan", "NaN", SC_ERR_JSON),
  V ("numeric-string", "'1'", SC_ERR_FIELD),
};

static const struct value values_ts[] = {
  V ("min", "0", SC_OK),
  V ("negative-zero", "-0", SC_OK),
  V ("max", ID_MAX_TEXT, SC_OK),
  V ("negative", "-1", SC_ERR_FIELD),
  V ("over-max", ID_OVER_TEXT, SC_ERR_FIELD),
  V ("pow63", POW63_TEXT, SC_ERR_JSON),
  V ("huge-real", "1e400", SC_ERR_JSON),
  V ("fraction", "0.5", SC_ERR_FIELD),
  V ("exponent", "1e3", SC_ERR_FIELD),
};

static const struct value values_version[] = {
  V ("min", "1", SC_OK),
  V ("max", "65535", SC_OK),
  V ("zero", "0", SC_ERR_FIELD),
  V ("over-max", "65536", SC_ERR_FIELD),
  V ("negative", "-1", SC_ERR_FIELD),
  V ("fraction", "1.5", SC_ERR_FIELD),
  V ("pow63", POW63_TEXT, SC_ERR_JSON),
};

static const struct value values_max_frame[] = {
  V ("min", "64", SC_OK),
  V ("max", "65535", SC_OK),
  V ("under-min", "63", SC_ERR_FIELD),
  V ("over-max", "65536", SC_ERR_FIELD),
  V ("zero", "0", SC_ERR_FIELD),
};

static const struct value values_idle[] = {
  V ("min", "1", SC_OK),
  V ("max", "86400", SC_OK),
  V ("zero", "0", SC_ERR_FIELD),
  V ("over-max", "86401", SC_ERR_FIELD),
  V ("negative", "-1", SC_ERR_FIELD),
};

static const struct value values_retry[] = {
  V ("min", "1", SC_OK),
  V ("max", "86400000", SC_OK),
  V ("zero", "0", SC_ERR_FIELD),
  V ("over-max", "86400001", SC_ERR_FIELD),
  V ("negative", "-1", SC_ERR_FIELD),
  V ("fraction", "1000.5", SC_ERR_FIELD),
  V ("huge-real", "1e400", SC_ERR_JSON),
};

static const struct value values_user[] = {
  V ("min", "'a'", SC_OK),
  G ("max", gen_user_max, SC_OK),
  V ("all-classes", "'0.a_b-c9'", SC_OK),
  V ("empty", "''", SC_ERR_USERNAME),
  G ("over-max", gen_user_over, SC_ERR_USERNAME),
  V ("uppercase", "'Alice'", SC_ERR_USERNAME),
  V ("leading-dot", "'.alice'", SC_ERR_USERNAME),
  V ("leading-underscore", "'_alice'", SC_ERR_USERNAME),
  V ("leading-hyphen", "'-alice'", SC_ERR_USERNAME),
  V ("space", "'a b'", SC_ERR_USERNAME),
  V ("slash", "'a/b'", SC_ERR_USERNAME),
  V ("at", "'a@b'", SC_ERR_USERNAME),
  V ("newline", "'alice\\n'", SC_ERR_USERNAME),
  V ("non-ascii", "'\xc3\xa9'", SC_ERR_USERNAME),
  V ("escaped-nul", "'a\\u0000'", SC_ERR_JSON),
  V ("invalid-utf8", "'a\xff'", SC_ERR_JSON),
};

static const struct value values_password[] = {
  V ("min", "'x'", SC_OK),
  G ("max", gen_password_max, SC_OK),
  G ("max-utf8", gen_password_max_utf8, SC_OK),
  V ("astral", "'\\ud83d\\ude00'", SC_OK),
  V ("empty", "''", SC_ERR_FIELD),
  G ("over-max", gen_password_over, SC_ERR_TOO_LARGE),
  V ("escaped-nul", "'pass\\u0000word'", SC_ERR_JSON),
  V ("invalid-utf8", "'pass\xffword'", SC_ERR_JSON),
  V ("overlong", "'\xc0\xaf'", SC_ERR_JSON),
  V ("lone-surrogate", "'\\ud800'", SC_ERR_JSON),
};

static const struct value values_body[] = {
  V ("empty", "''", SC_OK),
  V ("short", "'aGk='", SC_OK),
  G ("max", gen_body_max, SC_OK),
  G ("over-max", gen_body_over1, SC_ERR_TOO_LARGE),
  G ("max-length-unpadded", gen_body_max_unpadded, SC_ERR_TOO_LARGE),
  G ("over-max-valid", gen_body_over4, SC_ERR_TOO_LARGE),
  V ("unpadded", "'aGk'", SC_ERR_FIELD),
  V ("non-canonical", "'aGl='", SC_ERR_FIELD),
  V ("space", "'aG k='", SC_ERR_FIELD),
  V ("newline", "'aGk=\\n'", SC_ERR_FIELD),
  V ("url-safe", "'aGk-'", SC_ERR_FIELD),
  V ("pad-only", "'===='", SC_ERR_FIELD),
  V ("escaped-nul", "'aGk=\\u0000'", SC_ERR_JSON),
};

static const struct value values_agent[] = {
  V ("empty", "''", SC_OK),
  G ("max", gen_agent_max, SC_OK),
  G ("over-max", gen_agent_over, SC_ERR_TOO_LARGE),
  V ("tab", "'a\\tb'", SC_ERR_FIELD),
  V ("del", "'a\\u007f'", SC_ERR_FIELD),
  V ("non-ascii", "'caf\xc3\xa9'", SC_ERR_FIELD),
  V ("escaped-nul", "'a\\u0000'", SC_ERR_JSON),
};

static const struct value values_text[] = {
  V ("empty", "''", SC_OK),
  G ("max", gen_text_max, SC_OK),
  G ("max-utf8", gen_text_max_utf8, SC_OK),
  G ("max-escaped", gen_text_max_escaped, SC_OK),
  G ("over-max", gen_text_over, SC_ERR_TOO_LARGE),
  G ("over-max-utf8", gen_text_over_utf8, SC_ERR_TOO_LARGE),
  V ("overlong", "'\xc0\xaf'", SC_ERR_JSON),
  V ("surrogate", "'\xed\xa0\x80'", SC_ERR_JSON),
  V ("above-max-code-point", "'\xf4\x90\x80\x80'", SC_ERR_JSON),
  V ("truncated-sequence", "'\xe2\x82'", SC_ERR_JSON),
  V ("lone-continuation", "'\x80'", SC_ERR_JSON),
  V ("escaped-nul", "'a\\u0000b'", SC_ERR_JSON),
  V ("bad-escape", "'\\x41'", SC_ERR_JSON),
  V ("raw-control", "'a\x01'", SC_ERR_JSON),
};

static const struct value values_status[] = {
  V ("online", "'online'", SC_OK),
  V ("offline", "'offline'", SC_OK),
  V ("away", "'away'", SC_ERR_FIELD),
  V ("capitalised", "'Online'", SC_ERR_FIELD),
  V ("trailing-space", "'online '", SC_ERR_FIELD),
  V ("empty", "''", SC_ERR_FIELD),
};

static const struct value values_code_common[] = {
  V ("unknown", "'nope'", SC_ERR_FIELD),
  V ("empty", "''", SC_ERR_FIELD),
  V ("uppercase", "'BAD_REQUEST'", SC_ERR_FIELD),
  V ("prefix", "'bad_request_'", SC_ERR_FIELD),
};

static const struct value values_bool[] = {
  V ("true", "true", SC_OK),
  V ("false", "false", SC_OK),
  V ("zero", "0", SC_ERR_FIELD),
  V ("string", "'true'", SC_ERR_FIELD),
};

static const struct value values_versions[] = {
  V ("min", "[1]", SC_OK),
  G ("max", gen_versions_max, SC_OK),
  V ("empty", "[]", SC_ERR_FIELD),
  G ("over-max", gen_versions_over, SC_ERR_TOO_LARGE),
  V ("zero", "[0]", SC_ERR_FIELD),
  V ("over-max-value", "[65536]", SC_ERR_FIELD),
  V ("negative", "[1,-1]", SC_ERR_FIELD),
  V ("fraction", "[1.5]", SC_ERR_FIELD),
  V ("string", "['1']", SC_ERR_FIELD),
  V ("null", "[null]", SC_ERR_FIELD),
  V ("bool", "[true]", SC_ERR_FIELD),
  V ("nested-array", "[[1]]", SC_ERR_FIELD),
  V ("nested-object", "[{}]", SC_ERR_FIELD),
  V ("huge-real", "[1e400]", SC_ERR_JSON),
};

static const struct value values_users[] = {
  V ("empty", "[]", SC_OK),
  G ("max", gen_users_max, SC_OK),
  G ("over-max", gen_users_over, SC_ERR_TOO_LARGE),
  V ("bad-name", "['alice','Bob']", SC_ERR_USERNAME),
  V ("empty-name", "['']", SC_ERR_USERNAME),
  V ("integer", "['alice',1]", SC_ERR_FIELD),
  V ("null", "[null]", SC_ERR_FIELD),
  V ("nested-array", "[['alice']]", SC_ERR_FIELD),
  V ("nested-object", "[{}]", SC_ERR_FIELD),
};

static const struct value values_key_id[] = {
  V ("min", "1", SC_OK),
  V ("max", U32_MAX_TEXT, SC_OK),
  V ("zero", "0", SC_ERR_FIELD),
  V ("over-max", U32_OVER_TEXT, SC_ERR_FIELD),
  V ("negative", "-1", SC_ERR_FIELD),
  V ("fraction", "1.5", SC_ERR_FIELD),
  V ("exponent", "1e2", SC_ERR_FIELD),
  V ("numeric-string", "'7'", SC_ERR_FIELD),
  V ("pow63", POW63_TEXT, SC_ERR_JSON),
};

static const struct value values_count[] = {
  V ("min", "0", SC_OK),
  V ("max", U32_MAX_TEXT, SC_OK),
  V ("over-max", U32_OVER_TEXT, SC_ERR_FIELD),
  V ("negative", "-1", SC_ERR_FIELD),
  V ("fraction", "0.5", SC_ERR_FIELD),
  V ("numeric-string", "'0'", SC_ERR_FIELD),
};

static const struct value values_key32[] = {
  V ("valid", "'" KEY32 "'", SC_OK),
  V ("all-ones", "'//////////////////////////////////////////8='", SC_OK),
  V ("31-bytes",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=='",
     SC_ERR_FIELD),
  V ("33-bytes",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g'",
     SC_ERR_FIELD),
  V ("64-bytes", "'" KEY64 "'", SC_ERR_FIELD),
  V ("empty", "''", SC_ERR_FIELD),
  V ("unpadded", "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8'", SC_ERR_FIELD),
  V ("non-canonical",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9='",
     SC_ERR_FIELD),
  V ("url-safe",
     "'__________________________________________8='",
     SC_ERR_FIELD),
  V ("trailing-space", "'" KEY32 " '", SC_ERR_FIELD),
  V ("escaped-nul", "'" KEY32 "\\u0000'", SC_ERR_JSON),
};

static const struct value values_key64[] = {
  V ("valid", "'" KEY64 "'", SC_OK),
  V ("other", "'" SIG64 "'", SC_OK),
  V ("63-bytes",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
     "MzQ1Njc4OTo7PD0+'",
     SC_ERR_FIELD),
  V ("65-bytes",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
     "MzQ1Njc4OTo7PD0+P0A='",
     SC_ERR_FIELD),
  V ("32-bytes", "'" KEY32 "'", SC_ERR_FIELD),
  V ("empty", "''", SC_ERR_FIELD),
  V ("unpadded",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
     "MzQ1Njc4OTo7PD0+Pw'",
     SC_ERR_FIELD),
  V ("non-canonical",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
     "MzQ1Njc4OTo7PD0+Px=='",
     SC_ERR_FIELD),
  V ("space-inside",
     "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
     "MzQ1Njc4OTo7PD0 Pw=='",
     SC_ERR_FIELD),
  V ("escaped-nul", "'" KEY64 "\\u0000'", SC_ERR_JSON),
};

static char *
gen_opks (size_t n)
{
  GString *s = g_string_new ("[");
  size_t i;

  for (i = 0; i < n; i++)
    g_string_append_printf (s, "%s{'id':%zu,'key':'" KEY32 "'}", i ? "," : "",
                            4294967295u - i);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static char *
gen_opks_max (void)
{
  return gen_opks (SC_OPK_UPLOAD_MAX);
}

static char *
gen_opks_over (void)
{
  return gen_opks (SC_OPK_UPLOAD_MAX + 1);
}

#define OPK(members) "[{" members "}]"
static const struct value values_opks[] = {
  V ("empty", "[]", SC_OK),
  V ("reordered", OPK ("'key':'" KEY32 "','id':1"), SC_OK),
  V ("id-max", OPK ("'id':" U32_MAX_TEXT ",'key':'" KEY32 "'"), SC_OK),
  /* Ids the server holds already are ignored there, these too. */
  V ("duplicate-ids",
     "[{'id':1,'key':'" KEY32 "'},{'id':1,'key':'" KEY32 "'}]",
     SC_OK),
  G ("max", gen_opks_max, SC_OK),
  G ("over-max", gen_opks_over, SC_ERR_TOO_LARGE),
  V ("id-zero", OPK ("'id':0,'key':'" KEY32 "'"), SC_ERR_FIELD),
  V ("id-over-max",
     OPK ("'id':" U32_OVER_TEXT ",'key':'" KEY32 "'"),
     SC_ERR_FIELD),
  V ("id-negative", OPK ("'id':-1,'key':'" KEY32 "'"), SC_ERR_FIELD),
  V ("id-fraction", OPK ("'id':1.5,'key':'" KEY32 "'"), SC_ERR_FIELD),
  V ("id-string", OPK ("'id':'1','key':'" KEY32 "'"), SC_ERR_FIELD),
  V ("id-null", OPK ("'id':null,'key':'" KEY32 "'"), SC_ERR_FIELD),
  V ("id-huge-real", OPK ("'id':1e400,'key':'" KEY32 "'"), SC_ERR_JSON),
  V ("key-64-bytes", OPK ("'id':1,'key':'" KEY64 "'"), SC_ERR_FIELD),
  V ("key-31-bytes",
     OPK ("'id':1,'key':'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=='"),
     SC_ERR_FIELD),
  V ("key-non-canonical",
     OPK ("'id':1,'key':'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9='"),
     SC_ERR_FIELD),
  V ("key-empty", OPK ("'id':1,'key':''"), SC_ERR_FIELD),
  V ("key-integer", OPK ("'id':1,'key':1"), SC_ERR_FIELD),
  V ("key-array", OPK ("'id':1,'key':[]"), SC_ERR_FIELD),
  V ("missing-id", OPK ("'key':'" KEY32 "'"), SC_ERR_FIELD),
  V ("missing-key", OPK ("'id':1"), SC_ERR_FIELD),
  V ("empty-object", "[{}]", SC_ERR_FIELD),
  V ("extra-member", OPK ("'id':1,'key':'" KEY32 "','x':1"), SC_ERR_FIELD),
  V ("type-member",
     OPK ("'type':'opk','id':1,'key':'" KEY32 "'"),
     SC_ERR_FIELD),
  V ("duplicate-member", OPK ("'id':1,'id':2,'key':'" KEY32 "'"), SC_ERR_JSON),
  V ("second-bad", "[{'id':1,'key':'" KEY32 "'},{'id':2}]", SC_ERR_FIELD),
  V ("integer", "[1]", SC_ERR_FIELD),
  V ("string", "['" KEY32 "']", SC_ERR_FIELD),
  V ("null", "[null]", SC_ERR_FIELD),
  V ("nested-array", "[[{'id':1,'key':'" KEY32 "'}]]", SC_ERR_FIELD),
};
#undef OPK

static const struct
{
  const struct value *v;
  size_t n;
} kind_values[N_KINDS] = {
#define KV(k, a) [k] = { a, G_N_ELEMENTS (a) }
  KV (K_ID, values_id),
  KV (K_TS, values_ts),
  KV (K_VERSION, values_version),
  KV (K_MAX_FRAME, values_max_frame),
  KV (K_IDLE, values_idle),
  KV (K_RETRY, values_retry),
  KV (K_USER, values_user),
  KV (K_PASSWORD, values_password),
  KV (K_BODY, values_body),
  KV (K_AGENT, values_agent),
  KV (K_TEXT, values_text),
  KV (K_STATUS, values_status),
  KV (K_ERRCODE, values_code_common),
  KV (K_BYECODE, values_code_common),
  KV (K_BOOL, values_bool),
  KV (K_VERSIONS, values_versions),
  KV (K_USERS, values_users),
  KV (K_KEY_ID, values_key_id),
  KV (K_COUNT, values_count),
  KV (K_KEY32, values_key32),
  KV (K_KEY64, values_key64),
  KV (K_OPKS, values_opks),
#undef KV
};

/* One value of every JSON type, for the wrong-type cases. */
static const struct
{
  const char *label;
  const char *text;
  enum jtype jt;
  gboolean any; /* wrong for every member, whatever jt says */
} json_values[] = {
  { "null", "null", J_INT, TRUE },   { "bool", "true", J_BOOL, FALSE },
  { "integer", "1", J_INT, FALSE },  { "real", "1.5", J_INT, TRUE },
  { "string", "'x'", J_STR, FALSE }, { "array", "[]", J_ARR, FALSE },
  { "object", "{}", J_INT, TRUE },
};

static void
register_spec (const struct spec *s)
{
  char *path, *json;
  int i;
  size_t k;

  /* The full message, its members in another order, and whitespace. */
  path = g_strdup_printf ("/common/msg/parse/%s/valid", s->type);
  json = build (s, -1, NULL, -1, NULL);
  add_case (path, json, strlen (json), SC_OK);
  g_free (path);

  {
    GString *g = g_string_new ("{");
    for (i = 0; s->m[i].name != NULL; i++)
      g_string_append_printf (g, "'%s':%s,", s->m[i].name, s->m[i].value);
    g_string_append_printf (g, "'type':'%s'}", s->type);
    quote_in_place (g->str);
    json = g_string_free (g, FALSE);
    path = g_strdup_printf ("/common/msg/parse/%s/reordered", s->type);
    add_case (path, json, strlen (json), SC_OK);
    g_free (path);
  }

  for (i = 0; s->m[i].name != NULL; i++)
    {
      const struct member *m = &s->m[i];
      const struct value *vals = kind_values[m->kind].v;

      /* Missing: only optional members may be left out. */
      path =
          g_strdup_printf ("/common/msg/parse/%s/missing/%s", s->type, m->name);
      json = build (s, -1, NULL, i, NULL);
      add_case (path, json, strlen (json), m->required ? SC_ERR_FIELD : SC_OK);
      g_free (path);

      /* Duplicated member. */
      path = g_strdup_printf ("/common/msg/parse/%s/duplicate/%s", s->type,
                              m->name);
      {
        char *tail = g_strdup_printf (",'%s':%s", m->name, m->value);
        json = build (s, -1, NULL, -1, tail);
        g_free (tail);
      }
      add_case (path, json, strlen (json), SC_ERR_JSON);
      g_free (path);

      /* Every JSON type the member does not have. */
      for (k = 0; k < G_N_ELEMENTS (json_values); k++)
        {
          if (!json_values[k].any && json_values[k].jt == kind_jtype (m->kind))
            continue;
          path = g_strdup_printf ("/common/msg/parse/%s/wrong-type/%s/%s",
                                  s->type, m->name, json_values[k].label);
          json = build (s, i, json_values[k].text, -1, NULL);
          add_case (path, json, strlen (json), SC_ERR_FIELD);
          g_free (path);
        }

      /* Limits and malformed values of the member's kind. */
      for (k = 0; k < kind_values[m->kind].n; k++)
        {
          char *text = vals[k].gen ? vals[k].gen () : g_strdup (vals[k].text);

          path = g_strdup_printf ("/common/msg/parse/%s/%s/%s", s->type,
                                  m->name, vals[k].label);
          json = build (s, i, text, -1, NULL);
          add_case (path, json, strlen (json), vals[k].want);
          g_free (text);
          g_free (path);
        }

      /* Codes: each one of the right kind is accepted, each one of the
       * other kind is a schema violation. */
      if (m->kind == K_ERRCODE || m->kind == K_BYECODE)
        for (k = 0; k < G_N_ELEMENTS (error_codes) + G_N_ELEMENTS (bye_codes);
             k++)
          {
            gboolean is_error = k < G_N_ELEMENTS (error_codes);
            const char *code = is_error
                                   ? error_codes[k]
                                   : bye_codes[k - G_N_ELEMENTS (error_codes)];
            char *text = g_strdup_printf ("'%s'", code);
            gboolean ok = is_error == (m->kind == K_ERRCODE);

            path = g_strdup_printf ("/common/msg/parse/%s/%s/%s", s->type,
                                    m->name, code);
            json = build (s, i, text, -1, NULL);
            add_case (path, json, strlen (json), ok ? SC_OK : SC_ERR_FIELD);
            g_free (text);
            g_free (path);
          }
    }

  /* Extra members: unknown names, names of other types' members, nested
   * values where the schema has none, and a duplicated "type". */
  {
    static const struct
    {
      const char *label;
      const char *tail;
    } extras[] = {
      { "unknown", ",'extra':1" },
      { "null", ",'extra':null" },
      { "object", ",'x':{}" },
      { "array", ",'x':[]" },
      { "nested", ",'x':{'type':'ping'}" },
      { "other-type-member", ",'retry_after':1" },
      { "case-variant", ",'Type':'ping'" },
      { "empty-name", ",'':1" },
    };

    for (k = 0; k < G_N_ELEMENTS (extras); k++)
      {
        int want = SC_ERR_FIELD;

        /* retry_after is a member of error: there it is a valid value. */
        if (strcmp (s->type, "error") == 0 &&
            strcmp (extras[k].label, "other-type-member") == 0)
          continue;
        path = g_strdup_printf ("/common/msg/parse/%s/extra/%s", s->type,
                                extras[k].label);
        json = build (s, -1, NULL, -1, extras[k].tail);
        add_case (path, json, strlen (json), want);
        g_free (path);
      }
    path = g_strdup_printf ("/common/msg/parse/%s/duplicate/type", s->type);
    {
      char *tail = g_strdup_printf (",'type':'%s'", s->type);
      json = build (s, -1, NULL, -1, tail);
      g_free (tail);
    }
    add_case (path, json, strlen (json), SC_ERR_JSON);
    g_free (path);
  }

  /* Not an object, though it holds the right members. */
  path = g_strdup_printf ("/common/msg/parse/%s/in-array", s->type);
  {
    char *inner = build (s, -1, NULL, -1, NULL);
    json = g_strdup_printf ("[%s]", inner);
    g_free (inner);
  }
  add_case (path, json, strlen (json), SC_ERR_JSON);
  g_free (path);

  /* Trailing garbage after an otherwise valid message. */
  path = g_strdup_printf ("/common/msg/parse/%s/trailing-garbage", s->type);
  {
    char *inner = build (s, -1, NULL, -1, NULL);
    json = g_strdup_printf ("%sx", inner);
    g_free (inner);
  }
  add_case (path, json, strlen (json), SC_ERR_JSON);
  g_free (path);
}

/* ---- Cases that do not depend on a type. ---- */

static const struct
{
  const char *path;
  const char *json;
  int want;
} general_cases[] = {
  { "/common/msg/parse/duplicate-key", "{'type':'ping','type':'ping'}",
    SC_ERR_JSON },
  { "/common/msg/parse/duplicate-key-different-value",
    "{'type':'ping','type':'pong'}", SC_ERR_JSON },
  { "/common/msg/parse/duplicate-key-nested",
    "{'type':'ping','x':{'a':1,'a':1}}", SC_ERR_JSON },
  { "/common/msg/parse/unknown-type/name", "{'type':'nope'}",
    SC_ERR_UNKNOWN_TYPE },
  { "/common/msg/parse/unknown-type/empty", "{'type':''}",
    SC_ERR_UNKNOWN_TYPE },
  { "/common/msg/parse/unknown-type/uppercase", "{'type':'PING'}",
    SC_ERR_UNKNOWN_TYPE },
  { "/common/msg/parse/unknown-type/trailing-space", "{'type':'ping '}",
    SC_ERR_UNKNOWN_TYPE },
  { "/common/msg/parse/unknown-type/prefix", "{'type':'pin'}",
    SC_ERR_UNKNOWN_TYPE },
  { "/common/msg/parse/unknown-type/longer", "{'type':'login_ok2'}",
    SC_ERR_UNKNOWN_TYPE },
  { "/common/msg/parse/unknown-type/with-members",
    "{'type':'nope','user':'alice'}", SC_ERR_UNKNOWN_TYPE },
  { "/common/msg/parse/unknown-type/escaped-nul", "{'type':'ping\\u0000'}",
    SC_ERR_JSON },
  { "/common/msg/parse/type/escaped", "{'type':'\\u0070ing'}", SC_OK },
  { "/common/msg/parse/type/missing", "{}", SC_ERR_FIELD },
  { "/common/msg/parse/type/missing-with-members", "{'user':'alice'}",
    SC_ERR_FIELD },
  { "/common/msg/parse/type/integer", "{'type':1}", SC_ERR_FIELD },
  { "/common/msg/parse/type/null", "{'type':null}", SC_ERR_FIELD },
  { "/common/msg/parse/type/bool", "{'type':true}", SC_ERR_FIELD },
  { "/common/msg/parse/type/array", "{'type':['ping']}", SC_ERR_FIELD },
  { "/common/msg/parse/type/object", "{'type':{}}", SC_ERR_FIELD },
  { "/common/msg/parse/type/case-variant-key", "{'Type':'ping'}",
    SC_ERR_FIELD },
  { "/common/msg/parse/top-level/array", "[]", SC_ERR_JSON },
  { "/common/msg/parse/top-level/array-of-type", "['ping']", SC_ERR_JSON },
  { "/common/msg/parse/top-level/string", "'ping'", SC_ERR_JSON },
  { "/common/msg/parse/top-level/number", "1", SC_ERR_JSON },
  { "/common/msg/parse/top-level/true", "true", SC_ERR_JSON },
  { "/common/msg/parse/top-level/null", "null", SC_ERR_JSON },
  { "/common/msg/parse/top-level/whitespace", " \n", SC_ERR_JSON },
  { "/common/msg/parse/top-level/two-objects", "{'type':'ping'}{'type':'ping'}",
    SC_ERR_JSON },
  { "/common/msg/parse/syntax/unclosed", "{'type':'ping'", SC_ERR_JSON },
  { "/common/msg/parse/syntax/open-brace", "{", SC_ERR_JSON },
  { "/common/msg/parse/syntax/trailing-comma", "{'type':'ping',}",
    SC_ERR_JSON },
  { "/common/msg/parse/syntax/unquoted-key", "{type:'ping'}", SC_ERR_JSON },
  { "/common/msg/parse/syntax/comment", "{/*x*/'type':'ping'}", SC_ERR_JSON },
  { "/common/msg/parse/syntax/unterminated-string", "{'type':'ping}",
    SC_ERR_JSON },
  { "/common/msg/parse/syntax/bom", "\xef\xbb\xbf{'type':'ping'}",
    SC_ERR_JSON },
  { "/common/msg/parse/trailing/garbage", "{'type':'ping'}x", SC_ERR_JSON },
  { "/common/msg/parse/trailing/comment", "{'type':'ping'}//", SC_ERR_JSON },
  { "/common/msg/parse/trailing/whitespace", "{'type':'ping'} \r\n\t", SC_OK },
  { "/common/msg/parse/leading-whitespace", "\n\t {'type':'ping'}", SC_OK },
  { "/common/msg/parse/utf8/invalid-in-key", "{'type':'ping','\xff':1}",
    SC_ERR_JSON },
  { "/common/msg/parse/utf8/invalid-in-type", "{'type':'p\xffng'}",
    SC_ERR_JSON },
  { "/common/msg/parse/utf8/overlong-in-type", "{'type':'\xc1\xb0ing'}",
    SC_ERR_JSON },
  { "/common/msg/parse/utf8/outside-strings", "{'type':'ping'}\xc2\xa0",
    SC_ERR_JSON },
  { "/common/msg/parse/nul/escaped-in-key", "{'type':'ping','a\\u0000':1}",
    SC_ERR_JSON },
  { "/common/msg/parse/nul/escaped-in-value",
    "{'type':'login_ok','user':'a\\u0000b'}", SC_ERR_JSON },
  { "/common/msg/parse/prekey_status/nothing-with-spk-id",
    "{'type':'prekey_status','identity':'','spk_id':7,'opks':0}",
    SC_ERR_FIELD },
  { "/common/msg/parse/prekey_status/nothing-with-opks",
    "{'type':'prekey_status','identity':'','spk_id':0,'opks':1}",
    SC_ERR_FIELD },
  { "/common/msg/parse/prekey_status/nothing-null-identity",
    "{'type':'prekey_status','identity':null,'spk_id':0,'opks':0}",
    SC_ERR_FIELD },
  { "/common/msg/parse/bundle/opk-without-id",
    "{'type':'bundle','ref':3,'user':'bob','identity':'" KEY64
    "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64 "','opk':'" KEY32 "'}",
    SC_ERR_FIELD },
  { "/common/msg/parse/bundle/opk-id-without-opk",
    "{'type':'bundle','ref':3,'user':'bob','identity':'" KEY64
    "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64 "','opk_id':101}",
    SC_ERR_FIELD },
  { "/common/msg/parse/bundle/opk-null",
    "{'type':'bundle','ref':3,'user':'bob','identity':'" KEY64
    "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64
    "','opk_id':null,'opk':null}",
    SC_ERR_FIELD },
};

static void
run_general_case (gconstpointer data)
{
  size_t i = GPOINTER_TO_SIZE (data);
  char *json = q (general_cases[i].json);

  parse_expect (json, strlen (json), general_cases[i].want, NULL);
  g_free (json);
}

static void
test_parse_empty (void)
{
  struct sc_msg m;

  parse_expect ("", 0, SC_ERR_JSON, NULL);
  memset (&m, 0x5a, sizeof m);
  g_assert_cmpint (sc_msg_parse (NULL, 0, &m), ==, SC_ERR_JSON);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
}

static void
test_parse_nul_byte (void)
{
  static const char ping[] = "{\"type\":\"ping\"}";
  char buf[sizeof ping + 1];
  size_t at;

  /* A raw NUL anywhere, including right after a complete object. */
  for (at = 0; at <= sizeof ping - 1; at++)
    {
      memcpy (buf, ping, at);
      buf[at] = '\0';
      memcpy (buf + at + 1, ping + at, sizeof ping - 1 - at);
      parse_expect (buf, sizeof ping, SC_ERR_JSON, NULL);
    }
  /* Inside a string value. */
  parse_expect ("{\"type\":\"pi\0ng\"}", 16, SC_ERR_JSON, NULL);
}

static void
test_parse_deep_nesting (void)
{
  char *deep, *json;
  size_t n;

  /* 100000 '[' is more than one frame can carry. */
  deep = repeat ("[", 100000);
  parse_expect (deep, 100000, SC_ERR_TOO_LARGE, NULL);
  g_free (deep);

  /* Within the size limit, jansson's depth limit (2048) stops it. */
  deep = repeat ("[", 60000);
  parse_expect (deep, 60000, SC_ERR_JSON, NULL);
  g_free (deep);

  for (n = 2000; n <= 3000; n += 1000)
    {
      char *open = repeat ("[", n), *close = repeat ("]", n);

      json = g_strdup_printf ("{\"type\":\"ping\",\"x\":%s%s}", open, close);
      /* Under the depth limit it parses, and is an extra member; over it,
       * it is malformed. */
      parse_expect (json, strlen (json), n < 2048 ? SC_ERR_FIELD : SC_ERR_JSON,
                    NULL);
      g_free (json);
      g_free (open);
      g_free (close);

      open = repeat ("{\"a\":", n);
      close = repeat ("}", n);
      json = g_strdup_printf ("{\"type\":\"ping\",\"x\":%s1%s}", open, close);
      parse_expect (json, strlen (json), n < 2048 ? SC_ERR_FIELD : SC_ERR_JSON,
                    NULL);
      g_free (json);
      g_free (open);
      g_free (close);
    }
}

static void
test_parse_size_limit (void)
{
  /* A valid message padded with whitespace to exactly the largest
   * transport plaintext, and one byte more. */
  static const char ping[] = "{\"type\":\"ping\"}";
  char *json = g_malloc (JSON_TEXT_MAX + 1);

  memcpy (json, ping, strlen (ping));
  memset (json + strlen (ping), ' ', JSON_TEXT_MAX + 1 - strlen (ping));
  parse_expect (json, JSON_TEXT_MAX, SC_OK, NULL);
  parse_expect (json, JSON_TEXT_MAX + 1, SC_ERR_TOO_LARGE, NULL);
  g_free (json);
}

static void
test_parse_bad_args (void)
{
  struct sc_msg m;

  g_assert_cmpint (sc_msg_parse ((const uint8_t *) "{}", 2, NULL), ==,
                   SC_ERR_INVALID);
  memset (&m, 0x5a, sizeof m);
  g_assert_cmpint (sc_msg_parse (NULL, 2, &m), ==, SC_ERR_INVALID);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
}

/* ---------------------------------------------------------------------
 * Round trips.
 * ------------------------------------------------------------------- */

static void
assert_msg_equal (const struct sc_msg *a, const struct sc_msg *b)
{
  size_t i;

  g_assert_cmpint (a->type, ==, b->type);
  switch (a->type)
    {
    case SC_MSG_CLIENT_HELLO:
      g_assert_cmpuint (a->u.client_hello.n_versions, ==,
                        b->u.client_hello.n_versions);
      for (i = 0; i < a->u.client_hello.n_versions; i++)
        g_assert_cmpuint (a->u.client_hello.versions[i], ==,
                          b->u.client_hello.versions[i]);
      g_assert_cmpstr (a->u.client_hello.agent, ==, b->u.client_hello.agent);
      break;
    case SC_MSG_SERVER_HELLO:
      g_assert_cmpuint (a->u.server_hello.version, ==,
                        b->u.server_hello.version);
      g_assert_cmpstr (a->u.server_hello.agent, ==, b->u.server_hello.agent);
      g_assert_cmpuint (a->u.server_hello.max_frame, ==,
                        b->u.server_hello.max_frame);
      g_assert_cmpuint (a->u.server_hello.idle_timeout, ==,
                        b->u.server_hello.idle_timeout);
      break;
    case SC_MSG_LOGIN:
      g_assert_cmpstr (a->u.login.user, ==, b->u.login.user);
      g_assert_cmpmem (a->u.login.password, a->u.login.password_len,
                       b->u.login.password, b->u.login.password_len);
      g_assert_cmpint (b->u.login.password[b->u.login.password_len], ==, 0);
      break;
    case SC_MSG_LOGIN_OK:
      g_assert_cmpstr (a->u.login_ok.user, ==, b->u.login_ok.user);
      break;
    case SC_MSG_SEND:
      g_assert_cmpuint (a->u.send.id, ==, b->u.send.id);
      g_assert_cmpstr (a->u.send.to, ==, b->u.send.to);
      g_assert_cmpmem (a->u.send.body, a->u.send.body_len, b->u.send.body,
                       b->u.send.body_len);
      break;
    case SC_MSG_SENT:
      g_assert_cmpuint (a->u.sent.ref, ==, b->u.sent.ref);
      g_assert_cmpuint (a->u.sent.id, ==, b->u.sent.id);
      g_assert_cmpint (a->u.sent.ts, ==, b->u.sent.ts);
      break;
    case SC_MSG_MESSAGE:
      g_assert_cmpuint (a->u.message.id, ==, b->u.message.id);
      g_assert_cmpstr (a->u.message.from, ==, b->u.message.from);
      g_assert_cmpint (a->u.message.ts, ==, b->u.message.ts);
      g_assert_cmpmem (a->u.message.body, a->u.message.body_len,
                       b->u.message.body, b->u.message.body_len);
      break;
    case SC_MSG_PRESENCE_LIST:
      g_assert_cmpuint (a->u.presence_list.n_users, ==,
                        b->u.presence_list.n_users);
      for (i = 0; i < a->u.presence_list.n_users; i++)
        g_assert_cmpstr (a->u.presence_list.users[i], ==,
                         b->u.presence_list.users[i]);
      g_assert_cmpint (a->u.presence_list.more, ==, b->u.presence_list.more);
      break;
    case SC_MSG_PRESENCE:
      g_assert_cmpstr (a->u.presence.user, ==, b->u.presence.user);
      g_assert_cmpint (a->u.presence.online, ==, b->u.presence.online);
      break;
    case SC_MSG_ERROR:
      g_assert_cmpint (a->u.error.code, ==, b->u.error.code);
      g_assert_cmpstr (a->u.error.message, ==, b->u.error.message);
      g_assert_cmpint (a->u.error.has_ref, ==, b->u.error.has_ref);
      g_assert_cmpuint (a->u.error.ref, ==, b->u.error.ref);
      g_assert_cmpuint (a->u.error.retry_after, ==, b->u.error.retry_after);
      break;
    case SC_MSG_BYE:
      g_assert_cmpint (a->u.bye.code, ==, b->u.bye.code);
      g_assert_cmpstr (a->u.bye.message, ==, b->u.bye.message);
      break;
    case SC_MSG_PREKEYS_UPLOAD:
      g_assert_cmpmem (a->u.prekeys_upload.identity, SC_IDENTITY_WIRE_LEN,
                       b->u.prekeys_upload.identity, SC_IDENTITY_WIRE_LEN);
      g_assert_cmpuint (a->u.prekeys_upload.spk_id, ==,
                        b->u.prekeys_upload.spk_id);
      g_assert_cmpmem (a->u.prekeys_upload.spk, 32, b->u.prekeys_upload.spk,
                       32);
      g_assert_cmpmem (a->u.prekeys_upload.spk_sig, 64,
                       b->u.prekeys_upload.spk_sig, 64);
      g_assert_cmpuint (a->u.prekeys_upload.n_opks, ==,
                        b->u.prekeys_upload.n_opks);
      for (i = 0; i < a->u.prekeys_upload.n_opks; i++)
        {
          g_assert_cmpuint (a->u.prekeys_upload.opks[i].id, ==,
                            b->u.prekeys_upload.opks[i].id);
          g_assert_cmpmem (a->u.prekeys_upload.opks[i].key, 32,
                           b->u.prekeys_upload.opks[i].key, 32);
        }
      break;
    case SC_MSG_PREKEY_STATUS:
      g_assert_cmpint (a->u.prekey_status.has_identity, ==,
                       b->u.prekey_status.has_identity);
      g_assert_cmpmem (a->u.prekey_status.identity, SC_IDENTITY_WIRE_LEN,
                       b->u.prekey_status.identity, SC_IDENTITY_WIRE_LEN);
      g_assert_cmpuint (a->u.prekey_status.spk_id, ==,
                        b->u.prekey_status.spk_id);
      g_assert_cmpuint (a->u.prekey_status.opks, ==, b->u.prekey_status.opks);
      break;
    case SC_MSG_BUNDLE_REQUEST:
      g_assert_cmpuint (a->u.bundle_request.id, ==, b->u.bundle_request.id);
      g_assert_cmpstr (a->u.bundle_request.user, ==, b->u.bundle_request.user);
      break;
    case SC_MSG_BUNDLE:
      g_assert_cmpuint (a->u.bundle.ref, ==, b->u.bundle.ref);
      g_assert_cmpstr (a->u.bundle.user, ==, b->u.bundle.user);
      g_assert_cmpmem (a->u.bundle.identity, SC_IDENTITY_WIRE_LEN,
                       b->u.bundle.identity, SC_IDENTITY_WIRE_LEN);
      g_assert_cmpuint (a->u.bundle.spk_id, ==, b->u.bundle.spk_id);
      g_assert_cmpmem (a->u.bundle.spk, 32, b->u.bundle.spk, 32);
      g_assert_cmpmem (a->u.bundle.spk_sig, 64, b->u.bundle.spk_sig, 64);
      g_assert_cmpint (a->u.bundle.has_opk, ==, b->u.bundle.has_opk);
      if (a->u.bundle.has_opk)
        {
          g_assert_cmpuint (a->u.bundle.opk_id, ==, b->u.bundle.opk_id);
          g_assert_cmpmem (a->u.bundle.opk, 32, b->u.bundle.opk, 32);
        }
      break;
    case SC_MSG_WHO:
    case SC_MSG_PING:
    case SC_MSG_PONG:
    case SC_MSG_N_TYPES:
      break;
    }
}

/* Encodes m, checks the exact text, parses it back and compares. */
static void
roundtrip_struct (const struct sc_msg *m, const char *expected)
{
  struct sc_msg back;
  char *out = NULL;
  size_t out_len = 0;

  g_assert_cmpint (sc_msg_encode (m, &out, &out_len), ==, SC_OK);
  g_assert_nonnull (out);
  g_assert_cmpuint (out_len, ==, strlen (out));
  if (expected != NULL)
    g_assert_cmpstr (out, ==, expected);
  parse_expect (out, out_len, SC_OK, &back);
  assert_msg_equal (m, &back);
  sc_msg_clear (&back);
  free (out);
}

/* Canonical texts: parsing then encoding gives back the same bytes. */
static const struct
{
  const char *name;
  const char *json;
} canonical[] = {
  { "client_hello/full",
    "{'type':'client_hello','versions':[1,2],'agent':'securechat-cli/"
    "0.1.0'}" },
  { "client_hello/no-agent", "{'type':'client_hello','versions':[1]}" },
  { "client_hello/max-versions",
    "{'type':'client_hello','versions':[8,7,6,5,4,3,2,65535]}" },
  { "server_hello/full",
    "{'type':'server_hello','version':1,'agent':'securechatd/0.1.0',"
    "'max_frame':65535,'idle_timeout':90}" },
  { "server_hello/empty-agent",
    "{'type':'server_hello','version':65535,'agent':'','max_frame':64,"
    "'idle_timeout':86400}" },
  { "login/full",
    "{'type':'login','user':'alice','password':'correct horse'}" },
  { "login/utf8-password",
    "{'type':'login','user':'a','password':'p\xc3\xa4sswo\xcc\x88rd "
    "\xe2\x82\xac\xf0\x9f\x98\x80 \\'q\\' \\\\'}" },
  { "login_ok/full", "{'type':'login_ok','user':'alice'}" },
  { "send/full", "{'type':'send','id':7,'to':'bob','body':'aGk='}" },
  { "send/empty-body",
    "{'type':'send','id':9007199254740991,'to':'b0.b_-b','body':''}" },
  { "sent/full", "{'type':'sent','ref':7,'id':1042,'ts':1764099197123}" },
  { "sent/zero-ts", "{'type':'sent','ref':1,'id':1,'ts':0}" },
  { "message/full",
    "{'type':'message','id':1042,'from':'alice','ts':1764099197123,"
    "'body':'aGk='}" },
  { "who/full", "{'type':'who'}" },
  { "presence_list/full",
    "{'type':'presence_list','users':['alice','bob'],'more':false}" },
  { "presence_list/empty-more",
    "{'type':'presence_list','users':[],'more':true}" },
  { "presence/online", "{'type':'presence','user':'carol','status':'online'}" },
  { "presence/offline",
    "{'type':'presence','user':'carol','status':'offline'}" },
  { "ping/full", "{'type':'ping'}" },
  { "pong/full", "{'type':'pong'}" },
  { "error/full",
    "{'type':'error','code':'rate_limited','message':'too many attempts, "
    "retry later','ref':7,'retry_after':1000}" },
  { "error/no-optional",
    "{'type':'error','code':'bad_request','message':'invalid request'}" },
  { "error/ref-only",
    "{'type':'error','code':'recipient_offline','message':'Recipient not "
    "online','ref':3}" },
  { "error/retry-after-only",
    "{'type':'error','code':'server_busy','message':'server busy, retry',"
    "'retry_after':86400000}" },
  { "error/escaped-text",
    "{'type':'error','code':'internal','message':'a\\nb\\t\\\\ "
    "\\'c\\' \\u0001 caf\xc3\xa9 /'}" },
  { "bye/full",
    "{'type':'bye','code':'server_shutdown','message':'server is shutting "
    "down'}" },
  { "bye/client-quit", "{'type':'bye','code':'client_quit','message':''}" },
  { "prekeys_upload/full",
    "{'type':'prekeys_upload','identity':'" KEY64 "','spk_id':7,'spk':'" KEY32
    "','spk_sig':'" SIG64 "','opks':[{'id':101,'key':'" KEY32
    "'},{'id':4294967295,'key':'" KEY32 "'}]}" },
  { "prekeys_upload/no-opks", "{'type':'prekeys_upload','identity':'" KEY64
                              "','spk_id':4294967295,'spk':'" KEY32
                              "','spk_sig':'" SIG64 "','opks':[]}" },
  { "prekey_status/full",
    "{'type':'prekey_status','identity':'" KEY64 "','spk_id':7,'opks':42}" },
  { "prekey_status/nothing",
    "{'type':'prekey_status','identity':'','spk_id':0,'opks':0}" },
  { "prekey_status/no-opks",
    "{'type':'prekey_status','identity':'" KEY64 "','spk_id':1,'opks':0}" },
  { "bundle_request/full", "{'type':'bundle_request','id':3,'user':'bob'}" },
  { "bundle/full", "{'type':'bundle','ref':3,'user':'bob','identity':'" KEY64
                   "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64
                   "','opk_id':101,'opk':'" KEY32 "'}" },
  { "bundle/no-opk",
    "{'type':'bundle','ref':9007199254740991,'user':'bob','identity':'" KEY64
    "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64 "'}" },
};

static void
test_canonical (gconstpointer data)
{
  size_t i = GPOINTER_TO_SIZE (data);
  char *json = q (canonical[i].json);
  struct sc_msg m;

  parse_expect (json, strlen (json), SC_OK, &m);
  roundtrip_struct (&m, json);
  sc_msg_clear (&m);
  g_free (json);
}

/* Field values of the examples of PROTOCOL.md section 5. */
static void
test_fields (void)
{
  struct sc_msg m;
  char *json;
  size_t i;

  json = q ("{'type':'sent','ref':7,'id':1042,'ts':1764099197123}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_SENT);
  g_assert_cmpuint (m.u.sent.ref, ==, 7);
  g_assert_cmpuint (m.u.sent.id, ==, 1042);
  g_assert_cmpint (m.u.sent.ts, ==, G_GINT64_CONSTANT (1764099197123));
  sc_msg_clear (&m);
  g_free (json);

  json = q ("{'type':'message','id':1042,'from':'alice','ts':"
            "1764099197123,'body':'aGk='}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_MESSAGE);
  g_assert_cmpuint (m.u.message.id, ==, 1042);
  g_assert_cmpstr (m.u.message.from, ==, "alice");
  g_assert_cmpint (m.u.message.ts, ==, G_GINT64_CONSTANT (1764099197123));
  g_assert_cmpuint (m.u.message.body_len, ==, 4);
  g_assert_cmpstr (m.u.message.body, ==, "aGk=");
  sc_msg_clear (&m);
  g_free (json);

  json = q ("{'type':'login','user':'alice','password':'correct horse'}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_LOGIN);
  g_assert_cmpstr (m.u.login.user, ==, "alice");
  g_assert_cmpuint (m.u.login.password_len, ==, 13);
  g_assert_cmpstr (m.u.login.password, ==, "correct horse");
  sc_msg_clear (&m);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
  g_free (json);

  json = q ("{'type':'client_hello','versions':[3,1]}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_CLIENT_HELLO);
  g_assert_cmpuint (m.u.client_hello.n_versions, ==, 2);
  g_assert_cmpuint (m.u.client_hello.versions[0], ==, 3);
  g_assert_cmpuint (m.u.client_hello.versions[1], ==, 1);
  g_assert_cmpstr (m.u.client_hello.agent, ==, "");
  sc_msg_clear (&m);
  g_free (json);

  json = q ("{'type':'server_hello','version':1,'agent':'securechatd/0.1.0',"
            "'max_frame':4096,'idle_timeout':90}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_SERVER_HELLO);
  g_assert_cmpuint (m.u.server_hello.version, ==, 1);
  g_assert_cmpstr (m.u.server_hello.agent, ==, "securechatd/0.1.0");
  g_assert_cmpuint (m.u.server_hello.max_frame, ==, 4096);
  g_assert_cmpuint (m.u.server_hello.idle_timeout, ==, 90);
  sc_msg_clear (&m);
  g_free (json);

  json = q ("{'type':'presence_list','users':['alice','bob'],'more':true}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_PRESENCE_LIST);
  g_assert_cmpuint (m.u.presence_list.n_users, ==, 2);
  g_assert_cmpstr (m.u.presence_list.users[0], ==, "alice");
  g_assert_cmpstr (m.u.presence_list.users[1], ==, "bob");
  g_assert_true (m.u.presence_list.more);
  sc_msg_clear (&m);
  g_free (json);

  json = q ("{'type':'presence','user':'carol','status':'offline'}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_PRESENCE);
  g_assert_cmpstr (m.u.presence.user, ==, "carol");
  g_assert_false (m.u.presence.online);
  sc_msg_clear (&m);
  g_free (json);

  json = q ("{'type':'error','code':'self_message','message':'x','ref':"
            "9007199254740991,'retry_after':5}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_ERROR);
  g_assert_cmpint (m.u.error.code, ==, SC_CODE_SELF_MESSAGE);
  g_assert_cmpstr (m.u.error.message, ==, "x");
  g_assert_true (m.u.error.has_ref);
  g_assert_cmpuint (m.u.error.ref, ==, G_GUINT64_CONSTANT (9007199254740991));
  g_assert_cmpuint (m.u.error.retry_after, ==, 5);
  sc_msg_clear (&m);
  g_free (json);

  json = q ("{'type':'bye','code':'session_replaced','message':''}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_BYE);
  g_assert_cmpint (m.u.bye.code, ==, SC_CODE_SESSION_REPLACED);
  g_assert_cmpstr (m.u.bye.message, ==, "");
  sc_msg_clear (&m);
  g_free (json);

  /* The examples of sections 5.12-5.14, with the decoded bytes. */
  json = q ("{'type':'prekeys_upload','identity':'" KEY64 "','spk_id':7,"
            "'spk':'" KEY32 "','spk_sig':'" SIG64 "','opks':[{'id':101,"
            "'key':'" KEY32 "'},{'id':102,'key':'" KEY32 "'}]}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_PREKEYS_UPLOAD);
  for (i = 0; i < 64; i++)
    {
      g_assert_cmpuint (m.u.prekeys_upload.identity[i], ==, i);
      g_assert_cmpuint (m.u.prekeys_upload.spk_sig[i], ==, 0x40 + i);
    }
  for (i = 0; i < 32; i++)
    g_assert_cmpuint (m.u.prekeys_upload.spk[i], ==, i);
  g_assert_cmpuint (m.u.prekeys_upload.spk_id, ==, 7);
  g_assert_cmpuint (m.u.prekeys_upload.n_opks, ==, 2);
  g_assert_nonnull (m.u.prekeys_upload.opks);
  g_assert_cmpuint (m.u.prekeys_upload.opks[0].id, ==, 101);
  g_assert_cmpuint (m.u.prekeys_upload.opks[1].id, ==, 102);
  g_assert_cmpmem (m.u.prekeys_upload.opks[1].key, 32, m.u.prekeys_upload.spk,
                   32);
  sc_msg_clear (&m);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
  g_free (json);

  json = q ("{'type':'prekeys_upload','identity':'" KEY64 "','spk_id':7,"
            "'spk':'" KEY32 "','spk_sig':'" SIG64 "','opks':[]}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpuint (m.u.prekeys_upload.n_opks, ==, 0);
  g_assert_null (m.u.prekeys_upload.opks);
  g_free (json);

  json = q ("{'type':'prekey_status','identity':'" KEY64 "','spk_id':7,"
            "'opks':42}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_PREKEY_STATUS);
  g_assert_true (m.u.prekey_status.has_identity);
  g_assert_cmpuint (m.u.prekey_status.identity[63], ==, 63);
  g_assert_cmpuint (m.u.prekey_status.spk_id, ==, 7);
  g_assert_cmpuint (m.u.prekey_status.opks, ==, 42);
  g_free (json);

  json = q ("{'type':'prekey_status','identity':'','spk_id':0,'opks':0}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_false (m.u.prekey_status.has_identity);
  g_assert_cmpuint (m.u.prekey_status.spk_id, ==, 0);
  g_assert_cmpuint (m.u.prekey_status.opks, ==, 0);
  g_free (json);

  json = q ("{'type':'bundle_request','id':3,'user':'bob'}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_BUNDLE_REQUEST);
  g_assert_cmpuint (m.u.bundle_request.id, ==, 3);
  g_assert_cmpstr (m.u.bundle_request.user, ==, "bob");
  g_free (json);

  json = q ("{'type':'bundle','ref':3,'user':'bob','identity':'" KEY64
            "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64
            "','opk_id':101,'opk':'" KEY32 "'}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_BUNDLE);
  g_assert_cmpuint (m.u.bundle.ref, ==, 3);
  g_assert_cmpstr (m.u.bundle.user, ==, "bob");
  g_assert_cmpuint (m.u.bundle.identity[0], ==, 0);
  g_assert_cmpuint (m.u.bundle.identity[63], ==, 63);
  g_assert_cmpuint (m.u.bundle.spk_id, ==, 7);
  g_assert_cmpuint (m.u.bundle.spk[31], ==, 31);
  g_assert_cmpuint (m.u.bundle.spk_sig[0], ==, 0x40);
  g_assert_true (m.u.bundle.has_opk);
  g_assert_cmpuint (m.u.bundle.opk_id, ==, 101);
  g_assert_cmpuint (m.u.bundle.opk[1], ==, 1);
  g_free (json);

  json = q ("{'type':'bundle','ref':3,'user':'bob','identity':'" KEY64
            "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64 "'}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_false (m.u.bundle.has_opk);
  g_assert_cmpuint (m.u.bundle.opk_id, ==, 0);
  g_free (json);

  json = q ("{'type':'who'}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_WHO);
  g_free (json);
  json = q ("{'type':'pong'}");
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpint (m.type, ==, SC_MSG_PONG);
  g_free (json);
}

/* p[i] = first + i: the bytes behind KEY32, KEY64 and SIG64. */
static void
fill_bytes (uint8_t *p, size_t n, unsigned first)
{
  size_t i;

  for (i = 0; i < n; i++)
    p[i] = (uint8_t) (first + i);
}

/* Structs built by hand, the way the server and clients fill them. */
static void
test_encode_structs (void)
{
  struct sc_msg m;
  char users[3][SC_USERNAME_MAX + 1] = { "alice", "bob", "carol" };
  struct sc_msg_opk opks[2];

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_CLIENT_HELLO;
  m.u.client_hello.versions[0] = 1;
  m.u.client_hello.n_versions = 1;
  roundtrip_struct (&m, "{\"type\":\"client_hello\",\"versions\":[1]}");
  strcpy (m.u.client_hello.agent, "securechat-cli/0.1.0");
  roundtrip_struct (&m, "{\"type\":\"client_hello\",\"versions\":[1],"
                        "\"agent\":\"securechat-cli/0.1.0\"}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_LOGIN;
  strcpy (m.u.login.user, "alice");
  m.u.login.password = strdup ("correct horse");
  m.u.login.password_len = strlen (m.u.login.password);
  roundtrip_struct (&m, "{\"type\":\"login\",\"user\":\"alice\","
                        "\"password\":\"correct horse\"}");
  sc_msg_clear (&m);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SEND;
  m.u.send.id = 1;
  strcpy (m.u.send.to, "bob");
  /* NULL with length 0 is the empty body. */
  roundtrip_struct (&m, "{\"type\":\"send\",\"id\":1,\"to\":\"bob\","
                        "\"body\":\"\"}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PRESENCE_LIST;
  m.u.presence_list.users = users;
  m.u.presence_list.n_users = 3;
  m.u.presence_list.more = true;
  roundtrip_struct (&m, "{\"type\":\"presence_list\",\"users\":[\"alice\","
                        "\"bob\",\"carol\"],\"more\":true}");
  m.u.presence_list.users = NULL;
  m.u.presence_list.n_users = 0;
  m.u.presence_list.more = false;
  roundtrip_struct (&m,
                    "{\"type\":\"presence_list\",\"users\":[],\"more\":false}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PRESENCE;
  strcpy (m.u.presence.user, "dave");
  m.u.presence.online = true;
  roundtrip_struct (
      &m, "{\"type\":\"presence\",\"user\":\"dave\",\"status\":\"online\"}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_ERROR;
  m.u.error.code = SC_CODE_RECIPIENT_OFFLINE;
  strcpy (m.u.error.message, sc_code_text (SC_CODE_RECIPIENT_OFFLINE));
  roundtrip_struct (&m, "{\"type\":\"error\",\"code\":\"recipient_offline\","
                        "\"message\":\"Recipient not online\"}");
  m.u.error.has_ref = true;
  m.u.error.ref = 12;
  m.u.error.retry_after = 2000;
  roundtrip_struct (&m, "{\"type\":\"error\",\"code\":\"recipient_offline\","
                        "\"message\":\"Recipient not online\",\"ref\":12,"
                        "\"retry_after\":2000}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BYE;
  m.u.bye.code = SC_CODE_CLIENT_QUIT;
  roundtrip_struct (
      &m, "{\"type\":\"bye\",\"code\":\"client_quit\",\"message\":\"\"}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SENT;
  m.u.sent.ref = 1;
  m.u.sent.id = SC_ID_MAX;
  m.u.sent.ts = (int64_t) SC_ID_MAX;
  roundtrip_struct (&m, "{\"type\":\"sent\",\"ref\":1,\"id\":" ID_MAX_TEXT
                        ",\"ts\":" ID_MAX_TEXT "}");

  /* Keys and signatures go out as canonical padded base64. */
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PREKEYS_UPLOAD;
  fill_bytes (m.u.prekeys_upload.identity, 64, 0);
  m.u.prekeys_upload.spk_id = 7;
  fill_bytes (m.u.prekeys_upload.spk, 32, 0);
  fill_bytes (m.u.prekeys_upload.spk_sig, 64, 0x40);
  roundtrip_struct (&m, "{\"type\":\"prekeys_upload\",\"identity\":\"" KEY64
                        "\",\"spk_id\":7,\"spk\":\"" KEY32
                        "\",\"spk_sig\":\"" SIG64 "\",\"opks\":[]}");
  m.u.prekeys_upload.opks = opks;
  m.u.prekeys_upload.n_opks = 2;
  opks[0].id = 1;
  fill_bytes (opks[0].key, 32, 0);
  opks[1].id = UINT32_MAX;
  memset (opks[1].key, 0xff, 32);
  roundtrip_struct (
      &m, "{\"type\":\"prekeys_upload\",\"identity\":\"" KEY64
          "\",\"spk_id\":7,\"spk\":\"" KEY32 "\",\"spk_sig\":\"" SIG64
          "\",\"opks\":[{\"id\":1,\"key\":\"" KEY32 "\"},{\"id\":" U32_MAX_TEXT
          ",\"key\":\"//////////////////////////////////////////"
          "8=\"}]}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PREKEY_STATUS;
  roundtrip_struct (&m, "{\"type\":\"prekey_status\",\"identity\":\"\","
                        "\"spk_id\":0,\"opks\":0}");
  m.u.prekey_status.has_identity = true;
  fill_bytes (m.u.prekey_status.identity, 64, 0);
  m.u.prekey_status.spk_id = UINT32_MAX;
  m.u.prekey_status.opks = 200;
  roundtrip_struct (&m, "{\"type\":\"prekey_status\",\"identity\":\"" KEY64
                        "\",\"spk_id\":" U32_MAX_TEXT ",\"opks\":200}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE_REQUEST;
  m.u.bundle_request.id = 3;
  strcpy (m.u.bundle_request.user, "bob");
  roundtrip_struct (&m, "{\"type\":\"bundle_request\",\"id\":3,"
                        "\"user\":\"bob\"}");

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE;
  m.u.bundle.ref = 3;
  strcpy (m.u.bundle.user, "bob");
  fill_bytes (m.u.bundle.identity, 64, 0);
  m.u.bundle.spk_id = 7;
  fill_bytes (m.u.bundle.spk, 32, 0);
  fill_bytes (m.u.bundle.spk_sig, 64, 0x40);
  /* Without has_opk, opk_id and opk are not sent whatever they hold. */
  m.u.bundle.opk_id = 5;
  roundtrip_struct (&m, NULL);
  {
    char *out;
    size_t out_len;

    g_assert_cmpint (sc_msg_encode (&m, &out, &out_len), ==, SC_OK);
    g_assert_cmpstr (out, ==,
                     "{\"type\":\"bundle\",\"ref\":3,\"user\":\"bob\","
                     "\"identity\":\"" KEY64 "\",\"spk_id\":7,\"spk\":\"" KEY32
                     "\",\"spk_sig\":\"" SIG64 "\"}");
    free (out);
  }
  m.u.bundle.has_opk = true;
  m.u.bundle.opk_id = 101;
  fill_bytes (m.u.bundle.opk, 32, 0);
  roundtrip_struct (
      &m, "{\"type\":\"bundle\",\"ref\":3,\"user\":\"bob\","
          "\"identity\":\"" KEY64 "\",\"spk_id\":7,\"spk\":\"" KEY32
          "\",\"spk_sig\":\"" SIG64 "\",\"opk_id\":101,\"opk\":\"" KEY32 "\"}");
}

/* The largest messages the limits allow still encode, fit a frame and
 * parse back. */
static void
test_encode_max (void)
{
  struct sc_msg m;
  char *out;
  size_t out_len, i;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PRESENCE_LIST;
  m.u.presence_list.users =
      calloc (SC_PRESENCE_CHUNK, sizeof *m.u.presence_list.users);
  m.u.presence_list.n_users = SC_PRESENCE_CHUNK;
  for (i = 0; i < SC_PRESENCE_CHUNK; i++)
    g_snprintf (m.u.presence_list.users[i], SC_USERNAME_MAX + 1,
                "u%04zu-aaaaaaaaaaaaaaaaaaaaaaaaaaa", i);
  g_assert_cmpuint (strlen (m.u.presence_list.users[0]), ==, 32);
  roundtrip_struct (&m, NULL);
  sc_msg_clear (&m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_MESSAGE;
  m.u.message.id = SC_ID_MAX;
  m.u.message.ts = (int64_t) SC_ID_MAX;
  memset (m.u.message.from, 'z', SC_USERNAME_MAX);
  m.u.message.body_len = SC_BODY_B64_MAX;
  m.u.message.body = malloc (SC_BODY_B64_MAX + 1);
  memset (m.u.message.body, '/', SC_BODY_B64_MAX);
  memcpy (m.u.message.body + SC_BODY_B64_MAX - 2, "w=", 3);
  g_assert_cmpint (sc_msg_encode (&m, &out, &out_len), ==, SC_OK);
  g_assert_cmpuint (out_len, <=, JSON_TEXT_MAX);
  free (out);
  roundtrip_struct (&m, NULL);
  sc_msg_clear (&m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_ERROR;
  m.u.error.code = SC_CODE_INTERNAL;
  /* Every byte escaped as \u0001: the longest 256-byte text on the wire. */
  memset (m.u.error.message, 1, SC_TEXT_MAX);
  m.u.error.has_ref = true;
  m.u.error.ref = SC_ID_MAX;
  m.u.error.retry_after = 86400000;
  roundtrip_struct (&m, NULL);

  /* The largest upload is far from the frame limit. */
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PREKEYS_UPLOAD;
  m.u.prekeys_upload.spk_id = UINT32_MAX;
  m.u.prekeys_upload.n_opks = SC_OPK_UPLOAD_MAX;
  m.u.prekeys_upload.opks =
      calloc (SC_OPK_UPLOAD_MAX, sizeof *m.u.prekeys_upload.opks);
  for (i = 0; i < SC_OPK_UPLOAD_MAX; i++)
    {
      m.u.prekeys_upload.opks[i].id = UINT32_MAX - (uint32_t) i;
      memset (m.u.prekeys_upload.opks[i].key, (int) i, 32);
    }
  g_assert_cmpint (sc_msg_encode (&m, &out, &out_len), ==, SC_OK);
  g_assert_cmpuint (out_len, <, 8000);
  free (out);
  roundtrip_struct (&m, NULL);
  sc_msg_clear (&m);
}

/* ---- Encoder validation: what the parser would reject is not emitted. */

static void
fill_hello (struct sc_msg *m)
{
  m->type = SC_MSG_CLIENT_HELLO;
  m->u.client_hello.versions[0] = 1;
  m->u.client_hello.n_versions = 1;
}

static void
bad_hello_no_versions (struct sc_msg *m)
{
  fill_hello (m);
  m->u.client_hello.n_versions = 0;
}

static void
bad_hello_too_many (struct sc_msg *m)
{
  fill_hello (m);
  m->u.client_hello.n_versions = SC_MSG_MAX_VERSIONS + 1;
}

static void
bad_hello_version_zero (struct sc_msg *m)
{
  fill_hello (m);
  m->u.client_hello.versions[0] = 0;
}

static void
bad_hello_version_big (struct sc_msg *m)
{
  fill_hello (m);
  m->u.client_hello.versions[0] = 65536;
}

static void
bad_hello_agent_control (struct sc_msg *m)
{
  fill_hello (m);
  strcpy (m->u.client_hello.agent, "a\tb");
}

static void
bad_hello_agent_unterminated (struct sc_msg *m)
{
  fill_hello (m);
  memset (m->u.client_hello.agent, 'a', sizeof m->u.client_hello.agent);
}

static void
fill_server_hello (struct sc_msg *m)
{
  m->type = SC_MSG_SERVER_HELLO;
  m->u.server_hello.version = 1;
  m->u.server_hello.max_frame = 65535;
  m->u.server_hello.idle_timeout = 90;
}

static void
bad_server_hello_frame (struct sc_msg *m)
{
  fill_server_hello (m);
  m->u.server_hello.max_frame = 63;
}

static void
bad_server_hello_idle (struct sc_msg *m)
{
  fill_server_hello (m);
  m->u.server_hello.idle_timeout = 0;
}

static void
bad_server_hello_version (struct sc_msg *m)
{
  fill_server_hello (m);
  m->u.server_hello.version = 0;
}

static void
fill_login (struct sc_msg *m)
{
  m->type = SC_MSG_LOGIN;
  strcpy (m->u.login.user, "alice");
  m->u.login.password = strdup ("pw");
  m->u.login.password_len = 2;
}

static void
bad_login_user (struct sc_msg *m)
{
  fill_login (m);
  strcpy (m->u.login.user, "Alice");
}

static void
bad_login_user_empty (struct sc_msg *m)
{
  fill_login (m);
  m->u.login.user[0] = '\0';
}

static void
bad_login_user_unterminated (struct sc_msg *m)
{
  fill_login (m);
  memset (m->u.login.user, 'a', sizeof m->u.login.user);
}

static void
bad_login_no_password (struct sc_msg *m)
{
  m->type = SC_MSG_LOGIN;
  strcpy (m->u.login.user, "alice");
}

static void
bad_login_empty_password (struct sc_msg *m)
{
  fill_login (m);
  m->u.login.password_len = 0;
}

static void
bad_login_long_password (struct sc_msg *m)
{
  m->type = SC_MSG_LOGIN;
  strcpy (m->u.login.user, "alice");
  m->u.login.password = malloc (SC_PASSWORD_MAX + 2);
  memset (m->u.login.password, 'p', SC_PASSWORD_MAX + 1);
  m->u.login.password[SC_PASSWORD_MAX + 1] = '\0';
  m->u.login.password_len = SC_PASSWORD_MAX + 1;
}

static void
bad_login_password_utf8 (struct sc_msg *m)
{
  m->type = SC_MSG_LOGIN;
  strcpy (m->u.login.user, "alice");
  m->u.login.password = strdup ("p\xff");
  m->u.login.password_len = 2;
}

static void
bad_login_password_nul (struct sc_msg *m)
{
  m->type = SC_MSG_LOGIN;
  strcpy (m->u.login.user, "alice");
  m->u.login.password = malloc (4);
  memcpy (m->u.login.password, "a\0b", 4);
  m->u.login.password_len = 3;
}

static void
bad_login_ok_user (struct sc_msg *m)
{
  m->type = SC_MSG_LOGIN_OK;
  strcpy (m->u.login_ok.user, "-alice");
}

static void
fill_send (struct sc_msg *m)
{
  m->type = SC_MSG_SEND;
  m->u.send.id = 1;
  strcpy (m->u.send.to, "bob");
  m->u.send.body = strdup ("aGk=");
  m->u.send.body_len = 4;
}

static void
bad_send_id_zero (struct sc_msg *m)
{
  fill_send (m);
  m->u.send.id = 0;
}

static void
bad_send_id_big (struct sc_msg *m)
{
  fill_send (m);
  m->u.send.id = SC_ID_MAX + 1;
}

static void
bad_send_to (struct sc_msg *m)
{
  fill_send (m);
  strcpy (m->u.send.to, "b b");
}

static void
bad_send_body (struct sc_msg *m)
{
  fill_send (m);
  strcpy (m->u.send.body, "aGl=");
}

static void
bad_send_body_null (struct sc_msg *m)
{
  fill_send (m);
  free (m->u.send.body);
  m->u.send.body = NULL;
}

static void
bad_send_body_long (struct sc_msg *m)
{
  fill_send (m);
  free (m->u.send.body);
  m->u.send.body_len = SC_BODY_B64_MAX + 4;
  m->u.send.body = malloc (m->u.send.body_len + 1);
  memset (m->u.send.body, 'A', m->u.send.body_len);
  m->u.send.body[m->u.send.body_len] = '\0';
}

static void
bad_sent_ts (struct sc_msg *m)
{
  m->type = SC_MSG_SENT;
  m->u.sent.ref = 1;
  m->u.sent.id = 1;
  m->u.sent.ts = -1;
}

static void
bad_sent_ts_big (struct sc_msg *m)
{
  bad_sent_ts (m);
  m->u.sent.ts = (int64_t) SC_ID_MAX + 1;
}

static void
bad_sent_ref (struct sc_msg *m)
{
  bad_sent_ts (m);
  m->u.sent.ts = 0;
  m->u.sent.ref = 0;
}

static void
bad_message_from (struct sc_msg *m)
{
  m->type = SC_MSG_MESSAGE;
  m->u.message.id = 1;
}

static void
bad_message_id (struct sc_msg *m)
{
  m->type = SC_MSG_MESSAGE;
  strcpy (m->u.message.from, "alice");
}

static void
bad_list_too_many (struct sc_msg *m)
{
  m->type = SC_MSG_PRESENCE_LIST;
  m->u.presence_list.n_users = SC_PRESENCE_CHUNK + 1;
  m->u.presence_list.users =
      calloc (SC_PRESENCE_CHUNK + 1, sizeof *m->u.presence_list.users);
}

static void
bad_list_null (struct sc_msg *m)
{
  m->type = SC_MSG_PRESENCE_LIST;
  m->u.presence_list.n_users = 1;
}

static void
bad_list_user (struct sc_msg *m)
{
  m->type = SC_MSG_PRESENCE_LIST;
  m->u.presence_list.n_users = 2;
  m->u.presence_list.users = calloc (2, sizeof *m->u.presence_list.users);
  strcpy (m->u.presence_list.users[0], "alice");
  strcpy (m->u.presence_list.users[1], "Bob");
}

static void
bad_presence_user (struct sc_msg *m)
{
  m->type = SC_MSG_PRESENCE;
}

static void
bad_error_bye_code (struct sc_msg *m)
{
  m->type = SC_MSG_ERROR;
  m->u.error.code = SC_CODE_CLIENT_QUIT;
}

static void
bad_error_code_range (struct sc_msg *m)
{
  m->type = SC_MSG_ERROR;
  m->u.error.code = SC_CODE_N_CODES;
}

static void
bad_error_ref (struct sc_msg *m)
{
  m->type = SC_MSG_ERROR;
  m->u.error.has_ref = true;
}

static void
bad_error_retry (struct sc_msg *m)
{
  m->type = SC_MSG_ERROR;
  m->u.error.retry_after = 86400001;
}

static void
bad_error_text_utf8 (struct sc_msg *m)
{
  m->type = SC_MSG_ERROR;
  strcpy (m->u.error.message, "\xed\xa0\x80");
}

static void
bad_error_text_unterminated (struct sc_msg *m)
{
  m->type = SC_MSG_ERROR;
  memset (m->u.error.message, 'x', sizeof m->u.error.message);
}

static void
bad_bye_error_code (struct sc_msg *m)
{
  m->type = SC_MSG_BYE;
  m->u.bye.code = SC_CODE_BAD_REQUEST;
}

static void
bad_bye_code_negative (struct sc_msg *m)
{
  m->type = SC_MSG_BYE;
  m->u.bye.code = (enum sc_code) - 1;
}

static void
fill_upload (struct sc_msg *m)
{
  m->type = SC_MSG_PREKEYS_UPLOAD;
  m->u.prekeys_upload.spk_id = 1;
  m->u.prekeys_upload.opks = calloc (2, sizeof *m->u.prekeys_upload.opks);
  m->u.prekeys_upload.opks[0].id = 1;
  m->u.prekeys_upload.opks[1].id = 2;
  m->u.prekeys_upload.n_opks = 2;
}

static void
bad_upload_spk_id (struct sc_msg *m)
{
  fill_upload (m);
  m->u.prekeys_upload.spk_id = 0;
}

static void
bad_upload_opk_id (struct sc_msg *m)
{
  fill_upload (m);
  m->u.prekeys_upload.opks[1].id = 0;
}

static void
bad_upload_too_many (struct sc_msg *m)
{
  fill_upload (m);
  free (m->u.prekeys_upload.opks);
  m->u.prekeys_upload.opks =
      calloc (SC_OPK_UPLOAD_MAX + 1, sizeof *m->u.prekeys_upload.opks);
  m->u.prekeys_upload.n_opks = SC_OPK_UPLOAD_MAX + 1;
  for (size_t i = 0; i < SC_OPK_UPLOAD_MAX + 1; i++)
    m->u.prekeys_upload.opks[i].id = (uint32_t) i + 1;
}

static void
bad_upload_null_opks (struct sc_msg *m)
{
  m->type = SC_MSG_PREKEYS_UPLOAD;
  m->u.prekeys_upload.spk_id = 1;
  m->u.prekeys_upload.n_opks = 1;
}

static void
bad_status_nothing_spk (struct sc_msg *m)
{
  m->type = SC_MSG_PREKEY_STATUS;
  m->u.prekey_status.spk_id = 7;
}

static void
bad_status_nothing_opks (struct sc_msg *m)
{
  m->type = SC_MSG_PREKEY_STATUS;
  m->u.prekey_status.opks = 1;
}

static void
bad_status_spk_zero (struct sc_msg *m)
{
  m->type = SC_MSG_PREKEY_STATUS;
  m->u.prekey_status.has_identity = true;
  m->u.prekey_status.opks = 3;
}

static void
bad_request_id (struct sc_msg *m)
{
  m->type = SC_MSG_BUNDLE_REQUEST;
  strcpy (m->u.bundle_request.user, "bob");
  m->u.bundle_request.id = SC_ID_MAX + 1;
}

static void
bad_request_user (struct sc_msg *m)
{
  m->type = SC_MSG_BUNDLE_REQUEST;
  m->u.bundle_request.id = 1;
  strcpy (m->u.bundle_request.user, "Bob");
}

static void
fill_bundle (struct sc_msg *m)
{
  m->type = SC_MSG_BUNDLE;
  m->u.bundle.ref = 1;
  strcpy (m->u.bundle.user, "bob");
  m->u.bundle.spk_id = 1;
  m->u.bundle.has_opk = true;
  m->u.bundle.opk_id = 1;
}

static void
bad_bundle_ref (struct sc_msg *m)
{
  fill_bundle (m);
  m->u.bundle.ref = 0;
}

static void
bad_bundle_user (struct sc_msg *m)
{
  fill_bundle (m);
  m->u.bundle.user[0] = '\0';
}

static void
bad_bundle_spk_id (struct sc_msg *m)
{
  fill_bundle (m);
  m->u.bundle.spk_id = 0;
}

static void
bad_bundle_opk_id (struct sc_msg *m)
{
  fill_bundle (m);
  m->u.bundle.opk_id = 0;
}

static void
bad_type (struct sc_msg *m)
{
  m->type = SC_MSG_N_TYPES;
}

static const struct
{
  const char *name;
  void (*fill) (struct sc_msg *m);
  int want;
} bad_structs[] = {
  { "client_hello/no-versions", bad_hello_no_versions, SC_ERR_FIELD },
  { "client_hello/too-many-versions", bad_hello_too_many, SC_ERR_TOO_LARGE },
  { "client_hello/version-zero", bad_hello_version_zero, SC_ERR_FIELD },
  { "client_hello/version-over-max", bad_hello_version_big, SC_ERR_FIELD },
  { "client_hello/agent-control", bad_hello_agent_control, SC_ERR_FIELD },
  { "client_hello/agent-unterminated", bad_hello_agent_unterminated,
    SC_ERR_TOO_LARGE },
  { "server_hello/max-frame", bad_server_hello_frame, SC_ERR_FIELD },
  { "server_hello/idle-timeout", bad_server_hello_idle, SC_ERR_FIELD },
  { "server_hello/version", bad_server_hello_version, SC_ERR_FIELD },
  { "login/user", bad_login_user, SC_ERR_USERNAME },
  { "login/user-empty", bad_login_user_empty, SC_ERR_USERNAME },
  { "login/user-unterminated", bad_login_user_unterminated, SC_ERR_USERNAME },
  { "login/no-password", bad_login_no_password, SC_ERR_FIELD },
  { "login/empty-password", bad_login_empty_password, SC_ERR_FIELD },
  { "login/long-password", bad_login_long_password, SC_ERR_TOO_LARGE },
  { "login/password-utf8", bad_login_password_utf8, SC_ERR_FIELD },
  { "login/password-nul", bad_login_password_nul, SC_ERR_FIELD },
  { "login_ok/user", bad_login_ok_user, SC_ERR_USERNAME },
  { "send/id-zero", bad_send_id_zero, SC_ERR_FIELD },
  { "send/id-over-max", bad_send_id_big, SC_ERR_FIELD },
  { "send/to", bad_send_to, SC_ERR_USERNAME },
  { "send/body", bad_send_body, SC_ERR_FIELD },
  { "send/body-null", bad_send_body_null, SC_ERR_INVALID },
  { "send/body-long", bad_send_body_long, SC_ERR_TOO_LARGE },
  { "sent/ts-negative", bad_sent_ts, SC_ERR_FIELD },
  { "sent/ts-over-max", bad_sent_ts_big, SC_ERR_FIELD },
  { "sent/ref-zero", bad_sent_ref, SC_ERR_FIELD },
  { "message/from-empty", bad_message_from, SC_ERR_USERNAME },
  { "message/id-zero", bad_message_id, SC_ERR_FIELD },
  { "presence_list/too-many", bad_list_too_many, SC_ERR_TOO_LARGE },
  { "presence_list/null-users", bad_list_null, SC_ERR_INVALID },
  { "presence_list/bad-user", bad_list_user, SC_ERR_USERNAME },
  { "presence/user-empty", bad_presence_user, SC_ERR_USERNAME },
  { "error/bye-code", bad_error_bye_code, SC_ERR_FIELD },
  { "error/code-out-of-range", bad_error_code_range, SC_ERR_FIELD },
  { "error/ref-zero", bad_error_ref, SC_ERR_FIELD },
  { "error/retry-after-over-max", bad_error_retry, SC_ERR_FIELD },
  { "error/text-utf8", bad_error_text_utf8, SC_ERR_FIELD },
  { "error/text-unterminated", bad_error_text_unterminated, SC_ERR_TOO_LARGE },
  { "bye/error-code", bad_bye_error_code, SC_ERR_FIELD },
  { "bye/code-negative", bad_bye_code_negative, SC_ERR_FIELD },
  { "prekeys_upload/spk-id-zero", bad_upload_spk_id, SC_ERR_FIELD },
  { "prekeys_upload/opk-id-zero", bad_upload_opk_id, SC_ERR_FIELD },
  { "prekeys_upload/too-many", bad_upload_too_many, SC_ERR_TOO_LARGE },
  { "prekeys_upload/null-opks", bad_upload_null_opks, SC_ERR_INVALID },
  { "prekey_status/nothing-with-spk-id", bad_status_nothing_spk, SC_ERR_FIELD },
  { "prekey_status/nothing-with-opks", bad_status_nothing_opks, SC_ERR_FIELD },
  { "prekey_status/spk-id-zero", bad_status_spk_zero, SC_ERR_FIELD },
  { "bundle_request/id-over-max", bad_request_id, SC_ERR_FIELD },
  { "bundle_request/user", bad_request_user, SC_ERR_USERNAME },
  { "bundle/ref-zero", bad_bundle_ref, SC_ERR_FIELD },
  { "bundle/user-empty", bad_bundle_user, SC_ERR_USERNAME },
  { "bundle/spk-id-zero", bad_bundle_spk_id, SC_ERR_FIELD },
  { "bundle/opk-id-zero", bad_bundle_opk_id, SC_ERR_FIELD },
  { "type-out-of-range", bad_type, SC_ERR_INVALID },
};

static void
test_encode_invalid (gconstpointer data)
{
  size_t i = GPOINTER_TO_SIZE (data);
  struct sc_msg m;
  char *out = (char *) "untouched";
  size_t out_len = 99;

  memset (&m, 0, sizeof m);
  bad_structs[i].fill (&m);
  g_assert_cmpint (sc_msg_encode (&m, &out, &out_len), ==, bad_structs[i].want);
  g_assert_null (out);
  g_assert_cmpuint (out_len, ==, 0);
  sc_msg_clear (&m);
}

static void
test_encode_bad_args (void)
{
  struct sc_msg m;
  char *out;
  size_t len;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PING;
  g_assert_cmpint (sc_msg_encode (NULL, &out, &len), ==, SC_ERR_INVALID);
  g_assert_null (out);
  g_assert_cmpint (sc_msg_encode (&m, NULL, &len), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_msg_encode (&m, &out, NULL), ==, SC_ERR_INVALID);
  g_assert_null (out);
}

/* ---- Allocation failures inside jansson, one at a time. ---- */

static long fail_countdown = -1;

static void *
failing_malloc (size_t n)
{
  if (fail_countdown == 0)
    return NULL;
  if (fail_countdown > 0)
    fail_countdown--;
  return malloc (n);
}

static void
test_alloc_failures (void)
{
  static const char *const inputs[] = {
    "{'type':'login','user':'alice','password':'correct horse'}",
    "{'type':'presence_list','users':['alice','bob','carol'],'more':false}",
    ("{'type':'error','code':'rate_limited','message':'m','ref':1,"
     "'retry_after':5}"),
    "{'type':'client_hello','versions':[1,2,3],'agent':'a'}",
    ("{'type':'prekeys_upload','identity':'" KEY64 "','spk_id':7,'spk':'" KEY32
     "','spk_sig':'" SIG64 "','opks':[{'id':1,'key':'" KEY32
     "'},{'id':2,'key':'" KEY32 "'}]}"),
    ("{'type':'bundle','ref':3,'user':'bob','identity':'" KEY64
     "','spk_id':7,'spk':'" KEY32 "','spk_sig':'" SIG64
     "','opk_id':101,'opk':'" KEY32 "'}"),
  };
  size_t i;

  json_set_alloc_funcs (failing_malloc, free);
  for (i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      char *json = q (inputs[i]);
      long n;
      gboolean parsed = FALSE, encoded = FALSE;

      for (n = 0; !(parsed && encoded); n++)
        {
          struct sc_msg m;
          char *out = NULL;
          size_t out_len;
          int rc;

          g_assert_cmpint (n, <, 1000);
          fail_countdown = n;
          rc = sc_msg_parse ((const uint8_t *) json, strlen (json), &m);
          fail_countdown = -1;
          g_assert_true (rc == SC_OK || rc == SC_ERR_NOMEM ||
                         rc == SC_ERR_JSON);
          if (rc != SC_OK)
            {
              g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
              continue;
            }
          parsed = TRUE;

          fail_countdown = n;
          rc = sc_msg_encode (&m, &out, &out_len);
          fail_countdown = -1;
          g_assert_true (rc == SC_OK || rc == SC_ERR_NOMEM);
          if (rc == SC_OK)
            {
              g_assert_cmpstr (out, ==, json);
              encoded = TRUE;
            }
          else
            g_assert_null (out);
          free (out);
          sc_msg_clear (&m);
        }
      g_free (json);
    }
  json_set_alloc_funcs (malloc, free);
}

/* ---- Password copies inside jansson are wiped before they are freed. An
 * allocator that remembers block sizes looks at every block jansson frees.
 * ---- */

#define SECRET "S3cr3t-p\xc3\xa4ssw\xc3\xb6rd-42"

struct block
{
  size_t size;
  max_align_t align;
};

static size_t secret_seen;  /* freed blocks holding the secret anywhere */
static size_t secret_value; /* freed blocks that are a copy of its value */

static gboolean
contains (const uint8_t *p, size_t n, const char *needle)
{
  size_t i, len = strlen (needle);

  for (i = 0; i + len <= n; i++)
    if (memcmp (p + i, needle, len) == 0)
      return TRUE;
  return FALSE;
}

static void *
tracking_malloc (size_t n)
{
  struct block *b = malloc (sizeof *b + n);

  if (b == NULL)
    return NULL;
  b->size = n;
  return b + 1;
}

static void
tracking_free (void *p)
{
  struct block *b;

  if (p == NULL)
    return;
  b = (struct block *) p - 1;
  if (contains (p, b->size, SECRET))
    secret_seen++;
  if (b->size >= strlen (SECRET) && memcmp (p, SECRET, strlen (SECRET)) == 0)
    secret_value++;
  free (b);
}

static void
test_password_wiped (void)
{
  struct sc_msg m;
  char *json, *out;
  size_t out_len;

  json_set_alloc_funcs (tracking_malloc, tracking_free);

  /* Encoding: jansson's copy is the only one, and it is wiped. */
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_LOGIN;
  strcpy (m.u.login.user, "alice");
  m.u.login.password = strdup (SECRET);
  m.u.login.password_len = strlen (SECRET);
  secret_seen = secret_value = 0;
  g_assert_cmpint (sc_msg_encode (&m, &out, &out_len), ==, SC_OK);
  g_assert_cmpuint (secret_seen, ==, 0);
  g_assert_nonnull (strstr (out, SECRET));
  free (out);
  sc_msg_clear (&m);

  /* Parsing: the decoded value jansson holds is wiped, also when the
   * message is rejected or has a type we do not know. (jansson's lexer
   * keeps its own scratch copy of the raw token, which we cannot reach, so
   * only the decoded value is checked here.) */
  json = q ("{'type':'login','user':'alice','password':'" SECRET "'}");
  secret_value = 0;
  parse_expect (json, strlen (json), SC_OK, &m);
  g_assert_cmpstr (m.u.login.password, ==, SECRET);
  sc_msg_clear (&m);
  g_assert_cmpuint (secret_value, ==, 0);
  g_free (json);

  json = q ("{'type':'login','user':'Alice','password':'" SECRET "'}");
  parse_expect (json, strlen (json), SC_ERR_USERNAME, NULL);
  g_assert_cmpuint (secret_value, ==, 0);
  g_free (json);

  json = q ("{'type':'logon','user':'alice','password':'" SECRET "'}");
  parse_expect (json, strlen (json), SC_ERR_UNKNOWN_TYPE, NULL);
  g_assert_cmpuint (secret_value, ==, 0);
  g_free (json);

  json = q ("{'type':'login','user':'alice','password':'" SECRET "','x':1}");
  parse_expect (json, strlen (json), SC_ERR_FIELD, NULL);
  g_assert_cmpuint (secret_value, ==, 0);
  g_free (json);

  json_set_alloc_funcs (malloc, free);
}

/* ---- Names, texts and the validators. ---- */

static gboolean
in_list (const char *const *list, size_t n, const char *name)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (strcmp (list[i], name) == 0)
      return TRUE;
  return FALSE;
}

static void
test_code_names (void)
{
  int c, d;

  for (c = 0; c < SC_CODE_N_CODES; c++)
    {
      const char *name = sc_code_name ((enum sc_code) c);
      const char *text = sc_code_text ((enum sc_code) c);

      g_assert_nonnull (name);
      g_assert_nonnull (text);
      /* Every code is in exactly one of the two lists of section 7. */
      g_assert_true (in_list (error_codes, G_N_ELEMENTS (error_codes), name) !=
                     in_list (bye_codes, G_N_ELEMENTS (bye_codes), name));
      g_assert_cmpuint (strlen (text), <=, SC_TEXT_MAX);
      for (d = 0; d < c; d++)
        g_assert_cmpstr (sc_code_name ((enum sc_code) d), !=, name);
    }
  g_assert_cmpuint (G_N_ELEMENTS (error_codes) + G_N_ELEMENTS (bye_codes), ==,
                    SC_CODE_N_CODES);
  g_assert_cmpstr (sc_code_text (SC_CODE_RECIPIENT_OFFLINE), ==,
                   "Recipient not online");
  g_assert_cmpstr (sc_code_text (SC_CODE_SELF_MESSAGE), ==,
                   "You cannot message yourself");
  g_assert_cmpstr (sc_code_text (SC_CODE_AUTH_FAILED), ==,
                   "invalid username or password");
  g_assert_cmpstr (sc_code_text (SC_CODE_SERVER_SHUTDOWN), ==,
                   "server is shutting down");
  g_assert_cmpstr (sc_code_text (SC_CODE_BAD_REQUEST), ==, "invalid request");
  g_assert_cmpstr (sc_code_name (SC_CODE_NO_PREKEYS), ==, "no_prekeys");
  g_assert_cmpstr (sc_code_text (SC_CODE_NO_PREKEYS), ==,
                   "user has not published keys");
  g_assert_cmpstr (sc_code_name (SC_CODE_CLIENT_QUIT), ==, "client_quit");
  g_assert_null (sc_code_name (SC_CODE_N_CODES));
  g_assert_null (sc_code_text (SC_CODE_N_CODES));
  g_assert_null (sc_code_name ((enum sc_code) - 1));
}

static void
test_type_names (void)
{
  static const char *const names[] = {
    "client_hello",   "server_hello", "login",          "login_ok",
    "send",           "sent",         "message",        "who",
    "presence_list",  "presence",     "ping",           "pong",
    "error",          "bye",          "prekeys_upload", "prekey_status",
    "bundle_request", "bundle",
  };
  size_t t;

  g_assert_cmpuint (G_N_ELEMENTS (names), ==, SC_MSG_N_TYPES);
  g_assert_cmpuint (G_N_ELEMENTS (specs), ==, SC_MSG_N_TYPES);
  for (t = 0; t < SC_MSG_N_TYPES; t++)
    {
      g_assert_cmpstr (sc_msg_type_name ((enum sc_msg_type) t), ==, names[t]);
      g_assert_cmpint (specs[t].t, ==, t);
      g_assert_cmpstr (specs[t].type, ==, names[t]);
    }
  g_assert_null (sc_msg_type_name (SC_MSG_N_TYPES));
}

static void
test_parse_sets_type (void)
{
  size_t t;

  for (t = 0; t < G_N_ELEMENTS (specs); t++)
    {
      char *json = build (&specs[t], -1, NULL, -1, NULL);
      struct sc_msg m;

      parse_expect (json, strlen (json), SC_OK, &m);
      g_assert_cmpint (m.type, ==, specs[t].t);
      sc_msg_clear (&m);
      g_free (json);
    }
}

static void
test_username_validate (void)
{
  static const struct
  {
    const char *s;
    int want;
  } cases[] = {
    { "a", SC_OK },
    { "0", SC_OK },
    { "alice", SC_OK },
    { "a.b_c-d", SC_OK },
    { "9lives", SC_OK },
    { "a.", SC_OK },
    { "abcdefghijklmnopqrstuvwxyz012345", SC_OK },
    { "abcdefghijklmnopqrstuvwxyz0123456", SC_ERR_USERNAME },
    { "", SC_ERR_USERNAME },
    { ".a", SC_ERR_USERNAME },
    { "_a", SC_ERR_USERNAME },
    { "-a", SC_ERR_USERNAME },
    { "A", SC_ERR_USERNAME },
    { "aB", SC_ERR_USERNAME },
    { "a b", SC_ERR_USERNAME },
    { "a+b", SC_ERR_USERNAME },
    { "a\xc3\xa9", SC_ERR_USERNAME },
    { "a\x7f", SC_ERR_USERNAME },
    { "a\n", SC_ERR_USERNAME },
  };
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (sc_username_validate (cases[i].s, strlen (cases[i].s)), ==,
                     cases[i].want);
  /* Length is what counts, not the terminator. */
  g_assert_cmpint (sc_username_validate ("ab\0c", 4), ==, SC_ERR_USERNAME);
  g_assert_cmpint (sc_username_validate ("abc", 2), ==, SC_OK);
  g_assert_cmpint (sc_username_validate (NULL, 3), ==, SC_ERR_INVALID);
}

static void
test_password_validate (void)
{
  static const struct
  {
    const char *name;
    const char *s;
    size_t len; /* 0: strlen */
    int want;
  } cases[] = {
    { "ascii", "correct horse", 0, SC_OK },
    { "two-byte", "\xc2\x80\xdf\xbf", 0, SC_OK },
    { "three-byte", "\xe0\xa0\x80\xef\xbf\xbf", 0, SC_OK },
    { "before-surrogates", "\xed\x9f\xbf", 0, SC_OK },
    { "after-surrogates", "\xee\x80\x80", 0, SC_OK },
    { "four-byte", "\xf0\x90\x80\x80", 0, SC_OK },
    { "max-code-point", "\xf4\x8f\xbf\xbf", 0, SC_OK },
    { "nul", "a\0b", 3, SC_ERR_FIELD },
    { "lone-continuation", "\x80", 0, SC_ERR_FIELD },
    { "overlong-2", "\xc0\xaf", 0, SC_ERR_FIELD },
    { "overlong-2-c1", "\xc1\xbf", 0, SC_ERR_FIELD },
    { "overlong-3", "\xe0\x80\xaf", 0, SC_ERR_FIELD },
    { "overlong-3-max", "\xe0\x9f\xbf", 0, SC_ERR_FIELD },
    { "overlong-4", "\xf0\x80\x80\xaf", 0, SC_ERR_FIELD },
    { "overlong-4-max", "\xf0\x8f\xbf\xbf", 0, SC_ERR_FIELD },
    { "surrogate-low", "\xed\xa0\x80", 0, SC_ERR_FIELD },
    { "surrogate-high", "\xed\xbf\xbf", 0, SC_ERR_FIELD },
    { "above-max", "\xf4\x90\x80\x80", 0, SC_ERR_FIELD },
    { "f5", "\xf5\x80\x80\x80", 0, SC_ERR_FIELD },
    { "ff", "\xff", 0, SC_ERR_FIELD },
    { "truncated-2", "\xc3", 0, SC_ERR_FIELD },
    { "truncated-3", "a\xe2\x82", 0, SC_ERR_FIELD },
    { "truncated-4", "\xf0\x9f\x98", 0, SC_ERR_FIELD },
    { "bad-continuation", "\xe2\x28\xa1", 0, SC_ERR_FIELD },
    { "cut-by-length", "\xc3\xa9", 1, SC_ERR_FIELD },
  };
  char *big;
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      size_t len = cases[i].len ? cases[i].len : strlen (cases[i].s);

      if (sc_password_validate (cases[i].s, len) != cases[i].want)
        g_test_message ("case %s", cases[i].name);
      g_assert_cmpint (sc_password_validate (cases[i].s, len), ==,
                       cases[i].want);
    }
  g_assert_cmpint (sc_password_validate ("", 0), ==, SC_ERR_FIELD);
  big = repeat ("x", SC_PASSWORD_MAX + 1);
  g_assert_cmpint (sc_password_validate (big, SC_PASSWORD_MAX), ==, SC_OK);
  g_assert_cmpint (sc_password_validate (big, SC_PASSWORD_MAX + 1), ==,
                   SC_ERR_TOO_LARGE);
  g_free (big);
  g_assert_cmpint (sc_password_validate (NULL, 1), ==, SC_ERR_INVALID);
}

static void
test_clear (void)
{
  struct sc_msg m;

  sc_msg_clear (NULL);
  memset (&m, 0, sizeof m);
  sc_msg_clear (&m);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
  /* Clearing twice is harmless. */
  fill_send (&m);
  sc_msg_clear (&m);
  sc_msg_clear (&m);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
  /* The one-time prekeys of an upload are freed (ASan checks leaks). */
  fill_upload (&m);
  sc_msg_clear (&m);
  g_assert_true (memcmp (&m, &zero_msg, sizeof m) == 0);
}

int
main (int argc, char **argv)
{
  size_t i;
  int rc;

  g_test_init (&argc, &argv, NULL);
  garbage = g_ptr_array_new_with_free_func (g_free);

  for (i = 0; i < G_N_ELEMENTS (canonical); i++)
    {
      char *path =
          g_strdup_printf ("/common/msg/roundtrip/%s", canonical[i].name);
      g_test_add_data_func (path, GSIZE_TO_POINTER (i), test_canonical);
      g_free (path);
    }
  g_test_add_func ("/common/msg/roundtrip/structs", test_encode_structs);
  g_test_add_func ("/common/msg/roundtrip/max-size", test_encode_max);
  g_test_add_func ("/common/msg/parse/fields", test_fields);
  g_test_add_func ("/common/msg/parse/sets-type", test_parse_sets_type);

  for (i = 0; i < G_N_ELEMENTS (specs); i++)
    register_spec (&specs[i]);
  for (i = 0; i < G_N_ELEMENTS (general_cases); i++)
    g_test_add_data_func (general_cases[i].path, GSIZE_TO_POINTER (i),
                          run_general_case);
  g_test_add_func ("/common/msg/parse/empty", test_parse_empty);
  g_test_add_func ("/common/msg/parse/nul/raw-byte", test_parse_nul_byte);
  g_test_add_func ("/common/msg/parse/deep-nesting", test_parse_deep_nesting);
  g_test_add_func ("/common/msg/parse/size-limit", test_parse_size_limit);
  g_test_add_func ("/common/msg/parse/bad-args", test_parse_bad_args);

  for (i = 0; i < G_N_ELEMENTS (bad_structs); i++)
    {
      char *path = g_strdup_printf ("/common/msg/encode/invalid/%s",
                                    bad_structs[i].name);
      g_test_add_data_func (path, GSIZE_TO_POINTER (i), test_encode_invalid);
      g_free (path);
    }
  g_test_add_func ("/common/msg/encode/bad-args", test_encode_bad_args);
  g_test_add_func ("/common/msg/alloc-failures", test_alloc_failures);
  g_test_add_func ("/common/msg/password-wiped", test_password_wiped);
  g_test_add_func ("/common/msg/code-names", test_code_names);
  g_test_add_func ("/common/msg/type-names", test_type_names);
  g_test_add_func ("/common/msg/username-validate", test_username_validate);
  g_test_add_func ("/common/msg/password-validate", test_password_validate);
  g_test_add_func ("/common/msg/clear", test_clear);

  rc = g_test_run ();
  g_ptr_array_unref (garbage);
  return rc;
}
