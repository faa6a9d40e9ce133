/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The message parser (sc_msg_parse, every message type) on the plaintext
 * of a transport frame, the relaying fast path's scanner beside it
 * (sc_msg_scan_send), and the base64 decoder that bodies and keys go
 * through.
 *
 * What the parser accepts must encode again, and the encoding must parse
 * to the same encoding (so nothing the server relays or stores can become
 * unsendable); what it refuses must leave the output cleared, with one of
 * the parser's documented errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/base64.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/init.h"
#include "securechat/msg-fast.h"
#include "securechat/msg.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  /* As every program does: jansson allocates through the wiping heap. */
  sc_init ();
  return 0;
}

static bool
all_zero (const void *p, size_t len)
{
  const uint8_t *b = p;

  for (size_t i = 0; i < len; i++)
    if (b[i] != 0)
      return false;
  return true;
}

static void
check_roundtrip (const struct sc_msg *m)
{
  struct sc_msg m2;
  char *e1 = NULL, *e2 = NULL;
  size_t l1 = 0, l2 = 0;
  int rc;

  rc = sc_msg_encode (m, &e1, &l1);
  if (rc != SC_OK)
    fuzz_fail ("a parsed %s does not encode: %s", sc_msg_type_name (m->type),
               sc_strerror (rc));
  rc = sc_msg_parse ((const uint8_t *) e1, l1, &m2);
  if (rc != SC_OK)
    fuzz_fail ("the encoding of a parsed %s does not parse: %s: %s",
               sc_msg_type_name (m->type), sc_strerror (rc), e1);
  FUZZ_CHECK (m2.type == m->type);
  rc = sc_msg_encode (&m2, &e2, &l2);
  FUZZ_CHECK (rc == SC_OK);
  if (l1 != l2 || memcmp (e1, e2, l1) != 0)
    fuzz_fail ("re-encoding changed the message:\n%s\n%s", e1, e2);
  sc_msg_clear (&m2);
  FUZZ_CHECK (all_zero (&m2, sizeof m2));
  sc_wipe (e1, l1);
  sc_wipe (e2, l2);
  free (e1);
  free (e2);
}

/* Strict base64: validate and decode agree, and what decodes encodes back
 * to the very same text (one encoding per byte string). */
static void
check_base64 (const uint8_t *data, size_t size)
{
  const char *s = (const char *) data;
  size_t cap = size / 4 * 3 + 3, n = 0;
  uint8_t *out;
  char *again;
  int rc_v, rc_d;

  if (size > 4096)
    return;
  out = malloc (cap);
  FUZZ_CHECK (out != NULL);
  rc_v = sc_base64_validate (s, size);
  rc_d = sc_base64_decode (s, size, out, cap, &n);
  FUZZ_CHECK (rc_v == rc_d);
  if (rc_d == SC_OK)
    {
      FUZZ_CHECK (n <= cap);
      again = malloc (SC_BASE64_ENCODED_LEN (n) + 1);
      FUZZ_CHECK (again != NULL);
      FUZZ_CHECK (sc_base64_encode (out, n, again,
                                    SC_BASE64_ENCODED_LEN (n) + 1) == SC_OK);
      FUZZ_CHECK (SC_BASE64_ENCODED_LEN (n) == size);
      FUZZ_CHECK (memcmp (again, s, size) == 0);
      free (again);
    }
  else
    FUZZ_CHECK (rc_d == SC_ERR_BASE64);
  free (out);
}

/* The client's writer: the send it writes for the body a scanned send
 * carries is that very send again. */
static void
check_send_writer (const struct sc_send_view *v)
{
  uint8_t *raw = malloc (SC_BODY_MAX + 3), *out;
  size_t raw_len = 0, n = 0, cap;
  struct sc_msg again;

  FUZZ_CHECK (raw != NULL);
  FUZZ_CHECK (sc_base64_decode (v->body, v->body_len, raw, SC_BODY_MAX + 3,
                                &raw_len) == SC_OK);
  cap = SC_MSG_SEND_MAX (raw_len);
  out = malloc (cap);
  FUZZ_CHECK (out != NULL);
  FUZZ_CHECK (sc_msg_write_send (v->id, v->to, raw, raw_len, out, cap, &n) ==
              SC_OK);
  FUZZ_CHECK (sc_msg_parse (out, n, &again) == SC_OK);
  FUZZ_CHECK (again.type == SC_MSG_SEND);
  FUZZ_CHECK (again.u.send.id == v->id);
  FUZZ_CHECK (strcmp (again.u.send.to, v->to) == 0);
  FUZZ_CHECK (again.u.send.body_len == v->body_len);
  FUZZ_CHECK (v->body_len == 0 ||
              memcmp (again.u.send.body, v->body, v->body_len) == 0);
  sc_msg_clear (&again);
  free (out);
  free (raw);
}

/* The client's scanners for what the server relays: never a text the
 * strict parser refuses, always the same values. */
static void
check_fast_receive (const uint8_t *data,
                    size_t size,
                    int parse_rc,
                    const struct sc_msg *m)
{
  struct sc_message_view mv;
  struct sc_msg_sent st;
  int rc;

  rc = sc_msg_scan_message (data, size, &mv);
  FUZZ_CHECK (rc == SC_OK || rc == SC_ERR_AGAIN);
  if (rc == SC_OK)
    {
      if (parse_rc != SC_OK)
        fuzz_fail ("the message scanner accepts a text sc_msg_parse "
                   "refuses (%s)",
                   sc_strerror (parse_rc));
      FUZZ_CHECK (m->type == SC_MSG_MESSAGE);
      FUZZ_CHECK (mv.id == m->u.message.id);
      FUZZ_CHECK (strcmp (mv.from, m->u.message.from) == 0);
      FUZZ_CHECK (mv.ts == m->u.message.ts);
      FUZZ_CHECK (mv.body_len == m->u.message.body_len);
      FUZZ_CHECK (mv.body_len == 0 ||
                  memcmp (mv.body, m->u.message.body, mv.body_len) == 0);
    }
  rc = sc_msg_scan_sent (data, size, &st);
  FUZZ_CHECK (rc == SC_OK || rc == SC_ERR_AGAIN);
  if (rc == SC_OK)
    {
      if (parse_rc != SC_OK)
        fuzz_fail ("the sent scanner accepts a text sc_msg_parse refuses "
                   "(%s)",
                   sc_strerror (parse_rc));
      FUZZ_CHECK (m->type == SC_MSG_SENT);
      FUZZ_CHECK (st.ref == m->u.sent.ref);
      FUZZ_CHECK (st.id == m->u.sent.id);
      FUZZ_CHECK (st.ts == m->u.sent.ts);
    }
}

/* The fast path may decline anything, but what it accepts the strict
 * parser accepts too, as a send with the same id, recipient and body; and
 * the "message" the server then writes parses back to that body. */
static void
check_fast_path (const uint8_t *data,
                 size_t size,
                 int parse_rc,
                 const struct sc_msg *m)
{
  struct sc_send_view v;
  struct sc_msg again;
  uint8_t *out;
  size_t cap, n = 0;
  int rc = sc_msg_scan_send (data, size, &v);

  if (rc == SC_ERR_AGAIN)
    return;
  FUZZ_CHECK (rc == SC_OK);
  if (parse_rc != SC_OK)
    fuzz_fail ("the fast path accepts a text sc_msg_parse refuses (%s)",
               sc_strerror (parse_rc));
  FUZZ_CHECK (m->type == SC_MSG_SEND);
  FUZZ_CHECK (v.id == m->u.send.id);
  FUZZ_CHECK (strcmp (v.to, m->u.send.to) == 0);
  FUZZ_CHECK (v.body_len == m->u.send.body_len);
  FUZZ_CHECK (v.body_len == 0 ||
              memcmp (v.body, m->u.send.body, v.body_len) == 0);

  check_send_writer (&v);
  cap = SC_MSG_MESSAGE_MAX (v.body_len);
  out = malloc (cap);
  FUZZ_CHECK (out != NULL);
  FUZZ_CHECK (sc_msg_write_message (v.id, v.to, 1700000000000, v.body,
                                    v.body_len, out, cap, &n) == SC_OK);
  FUZZ_CHECK (sc_msg_parse (out, n, &again) == SC_OK);
  FUZZ_CHECK (again.type == SC_MSG_MESSAGE);
  FUZZ_CHECK (again.u.message.id == v.id);
  FUZZ_CHECK (strcmp (again.u.message.from, v.to) == 0);
  FUZZ_CHECK (again.u.message.body_len == v.body_len);
  FUZZ_CHECK (v.body_len == 0 ||
              memcmp (again.u.message.body, v.body, v.body_len) == 0);
  sc_msg_clear (&again);
  free (out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sc_msg m;
  int rc;

  memset (&m, 0xa5, sizeof m);
  rc = sc_msg_parse (data, size, &m);
  check_fast_path (data, size, rc, &m);
  check_fast_receive (data, size, rc, &m);
  if (rc == SC_OK)
    {
      check_roundtrip (&m);
      sc_msg_clear (&m);
    }
  else
    {
      if (rc != SC_ERR_JSON && rc != SC_ERR_UNKNOWN_TYPE &&
          rc != SC_ERR_FIELD && rc != SC_ERR_USERNAME &&
          rc != SC_ERR_TOO_LARGE && rc != SC_ERR_NOMEM)
        fuzz_fail ("sc_msg_parse: unexpected error %d (%s)", rc,
                   sc_strerror (rc));
      FUZZ_CHECK (all_zero (&m, sizeof m));
    }
  check_base64 (data, size);
  return 0;
}

/* ---- seeds ---- */

static void
emit_msg (const char *name, const struct sc_msg *m)
{
  char *json = NULL;
  size_t len = 0;
  int rc = sc_msg_encode (m, &json, &len);

  if (rc != SC_OK)
    fuzz_fail ("seed %s: %s", name, sc_strerror (rc));
  fuzz_emit (name, json, len);
  free (json);
}

static void
emit_text (const char *name, const char *text)
{
  fuzz_emit (name, text, strlen (text));
}

static void
fill (uint8_t *p, size_t len, uint8_t v)
{
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t) (v + i);
}

/* A base64 body of n decoded bytes (malloc'd). */
static char *
body_of (size_t n, size_t *len)
{
  uint8_t *raw = malloc (n > 0 ? n : 1);
  char *b64 = malloc (SC_BASE64_ENCODED_LEN (n) + 1);

  if (raw == NULL || b64 == NULL)
    fuzz_fail ("out of memory");
  fill (raw, n, 7);
  if (sc_base64_encode (raw, n, b64, SC_BASE64_ENCODED_LEN (n) + 1) != SC_OK)
    fuzz_fail ("base64");
  free (raw);
  *len = SC_BASE64_ENCODED_LEN (n);
  return b64;
}

void
fuzz_generate (void)
{
  struct sc_msg m;
  char *body;
  size_t body_len;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_CLIENT_HELLO;
  m.u.client_hello.versions[0] = 1;
  m.u.client_hello.versions[1] = 65535;
  m.u.client_hello.n_versions = 2;
  strcpy (m.u.client_hello.agent, "securechat-cli/0.1.0");
  emit_msg ("client-hello", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SERVER_HELLO;
  m.u.server_hello.version = 1;
  strcpy (m.u.server_hello.agent, "securechatd/0.1.0");
  m.u.server_hello.max_frame = 65535;
  m.u.server_hello.idle_timeout = 90;
  emit_msg ("server-hello", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_LOGIN;
  strcpy (m.u.login.user, "alice");
  m.u.login.password = (char *) "p\xc3\xa4ssw\xf0\x9f\x94\x91rd";
  m.u.login.password_len = strlen (m.u.login.password);
  emit_msg ("login", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_LOGIN_OK;
  strcpy (m.u.login_ok.user, "a.b-c_9");
  emit_msg ("login-ok", &m);

  body = body_of (100, &body_len);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SEND;
  m.u.send.id = 1;
  strcpy (m.u.send.to, "bob");
  m.u.send.body = body;
  m.u.send.body_len = body_len;
  emit_msg ("send", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_MESSAGE;
  m.u.message.id = (UINT64_C (1) << 53) - 1;
  strcpy (m.u.message.from, "alice");
  m.u.message.ts = 1700000000000;
  m.u.message.body = body;
  m.u.message.body_len = body_len;
  emit_msg ("message", &m);
  free (body);

  body = body_of (SC_BODY_MAX, &body_len);
  m.u.message.body = body;
  m.u.message.body_len = body_len;
  emit_msg ("message-largest-body", &m);
  free (body);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SENT;
  m.u.sent.ref = 3;
  m.u.sent.id = 12345;
  m.u.sent.ts = 0;
  emit_msg ("sent", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_WHO;
  emit_msg ("who", &m);
  m.type = SC_MSG_PING;
  emit_msg ("ping", &m);
  m.type = SC_MSG_PONG;
  emit_msg ("pong", &m);

  {
    static char users[SC_PRESENCE_CHUNK][SC_USERNAME_MAX + 1];

    for (size_t i = 0; i < SC_PRESENCE_CHUNK; i++)
      snprintf (users[i], sizeof users[i], "user%zu", i);
    memset (&m, 0, sizeof m);
    m.type = SC_MSG_PRESENCE_LIST;
    m.u.presence_list.users = users;
    m.u.presence_list.n_users = 3;
    m.u.presence_list.more = false;
    emit_msg ("presence-list", &m);
    m.u.presence_list.n_users = SC_PRESENCE_CHUNK;
    m.u.presence_list.more = true;
    emit_msg ("presence-list-full-chunk", &m);
  }

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PRESENCE;
  strcpy (m.u.presence.user, "carol");
  m.u.presence.online = true;
  emit_msg ("presence", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_ERROR;
  m.u.error.code = SC_CODE_RATE_LIMITED;
  strcpy (m.u.error.message, "too many attempts, retry later");
  m.u.error.has_ref = true;
  m.u.error.ref = 9;
  m.u.error.retry_after = 1500;
  emit_msg ("error", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BYE;
  m.u.bye.code = SC_CODE_SERVER_SHUTDOWN;
  strcpy (m.u.bye.message, "server is shutting down \xe2\x80\x94 bye");
  emit_msg ("bye", &m);

  {
    struct sc_msg_opk opks[SC_OPK_UPLOAD_MAX];

    for (size_t i = 0; i < SC_OPK_UPLOAD_MAX; i++)
      {
        opks[i].id = (uint32_t) (1000 + i);
        fill (opks[i].key, sizeof opks[i].key, (uint8_t) i);
      }
    memset (&m, 0, sizeof m);
    m.type = SC_MSG_PREKEYS_UPLOAD;
    fill (m.u.prekeys_upload.identity, SC_IDENTITY_WIRE_LEN, 1);
    m.u.prekeys_upload.spk_id = 7;
    fill (m.u.prekeys_upload.spk, 32, 2);
    fill (m.u.prekeys_upload.spk_sig, 64, 3);
    m.u.prekeys_upload.opks = opks;
    m.u.prekeys_upload.n_opks = 2;
    emit_msg ("prekeys-upload", &m);
    m.u.prekeys_upload.n_opks = SC_OPK_UPLOAD_MAX;
    emit_msg ("prekeys-upload-full", &m);
  }

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PREKEY_STATUS;
  emit_msg ("prekey-status-empty", &m);
  m.u.prekey_status.has_identity = true;
  fill (m.u.prekey_status.identity, SC_IDENTITY_WIRE_LEN, 4);
  m.u.prekey_status.spk_id = UINT32_MAX;
  m.u.prekey_status.opks = 12;
  emit_msg ("prekey-status", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE_REQUEST;
  m.u.bundle_request.id = 4;
  strcpy (m.u.bundle_request.user, "bob");
  emit_msg ("bundle-request", &m);

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE;
  m.u.bundle.ref = 4;
  strcpy (m.u.bundle.user, "bob");
  fill (m.u.bundle.identity, SC_IDENTITY_WIRE_LEN, 5);
  m.u.bundle.spk_id = 1;
  fill (m.u.bundle.spk, 32, 6);
  fill (m.u.bundle.spk_sig, 64, 7);
  emit_msg ("bundle-no-opk", &m);
  m.u.bundle.has_opk = true;
  m.u.bundle.opk_id = 2;
  fill (m.u.bundle.opk, 32, 8);
  emit_msg ("bundle", &m);

  /* What the parser must refuse, one reason each. */
  emit_text ("bad-duplicate-key", "{\"type\":\"ping\",\"type\":\"ping\"}");
  emit_text ("bad-unknown-type", "{\"type\":\"pingg\"}");
  emit_text ("bad-extra-member", "{\"type\":\"who\",\"x\":1}");
  emit_text ("bad-not-object", "[\"type\",\"who\"]");
  emit_text ("bad-nul-escape",
             "{\"type\":\"login\",\"user\":\"a\",\"password\":\"a\\u0000\"}");
  emit_text ("bad-utf8", "{\"type\":\"bye\",\"code\":\"client_quit\","
                         "\"message\":\"\xed\xa0\x80\"}");
  emit_text ("bad-number",
             "{\"type\":\"sent\",\"ref\":1,\"id\":1e3,\"ts\":-1}");
  emit_text ("bad-id-too-large",
             "{\"type\":\"sent\",\"ref\":9007199254740992,\"id\":1,\"ts\":0}");
  emit_text ("bad-username", "{\"type\":\"login_ok\",\"user\":\"Alice\"}");
  emit_text ("bad-base64-body", "{\"type\":\"send\",\"id\":1,\"to\":\"b\","
                                "\"body\":\"QUJD\\nRA==\"}");
  emit_text ("bad-code-kind", "{\"type\":\"error\",\"code\":\"client_quit\","
                              "\"message\":\"\"}");
  emit_text ("bad-opk-half", "{\"type\":\"bundle\",\"ref\":1,\"user\":\"b\","
                             "\"identity\":\"\",\"spk_id\":1,\"spk\":\"\","
                             "\"spk_sig\":\"\",\"opk_id\":1}");
  emit_text ("bad-deep", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
  /* The shapes the relaying fast path reads, and some it leaves to the
   * strict parser. */
  emit_text ("send-spaced", " {\r\n\t\"body\" : \"QUJDRA==\" , \"to\":\"bob\","
                            "\"id\":9007199254740991,\"type\":\"send\"}\n");
  emit_text ("send-empty-body",
             "{\"type\":\"send\",\"id\":1,\"to\":\"b\",\"body\":\"\"}");
  emit_text (
      "send-escaped",
      "{\"type\":\"send\",\"id\":1,\"to\":\"\\u0062ob\",\"body\":\"\\/w==\"}");
  emit_text ("bad-send-duplicate", "{\"type\":\"send\",\"id\":1,\"to\":\"b\","
                                   "\"body\":\"\",\"id\":2}");
  emit_text ("bad-send-id-real",
             "{\"type\":\"send\",\"id\":1.0,\"to\":\"b\",\"body\":\"\"}");
  emit_text ("message-spaced",
             "{ \"body\":\"\", \"ts\":0 ,\"from\":\"a\",\"id\":1,"
             "\"type\":\"message\"}");
  emit_text (
      "sent-spaced",
      "{\"ts\": 1764099197123, \"id\":1042,\"ref\":7,\"type\":\"sent\"}");
  emit_text ("bad-sent-ts-leading-zero",
             "{\"type\":\"sent\",\"ref\":1,\"id\":1,\"ts\":00}");
  emit_text ("base64-canonical", "QUJDRA==");
  emit_text ("base64-noncanonical", "QUJDRB==");
}
