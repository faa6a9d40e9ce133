/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sc_client against an in-process fake server made of sc_channel
 * (responder) and sc_msg. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "securechat/base64.h"
#include "securechat/channel.h"
#include "securechat/client.h"
#include "securechat/error.h"
#include "securechat/frame.h"
#include "securechat/ratchet.h"

#define IDLE_TIMEOUT 90 /* seconds, as announced by the fake server */
#define THIRD_MS     (IDLE_TIMEOUT * 1000 / 3)

/* ---- fake server ---- */

struct server
{
  struct sc_channel *ch;
  uint8_t priv[SC_X25519_LEN];
  uint8_t pub[SC_X25519_LEN];
  GByteArray *in;  /* bytes from the client, not yet parsed */
  GByteArray *out; /* bytes for the client */
};

static struct server *
server_new (void)
{
  struct server *s = g_new0 (struct server, 1);

  g_assert_cmpint (sc_x25519_keypair (s->priv, s->pub), ==, SC_OK);
  g_assert_cmpint (sc_channel_new (SC_NOISE_RESPONDER, s->priv, &s->ch), ==,
                   SC_OK);
  s->in = g_byte_array_new ();
  s->out = g_byte_array_new ();
  return s;
}

static void
server_free (struct server *s)
{
  sc_channel_free (s->ch);
  g_byte_array_unref (s->in);
  g_byte_array_unref (s->out);
  sc_wipe (s->priv, sizeof s->priv);
  g_free (s);
}

/* Reads the next message the client sent, if a whole frame is there:
 * returns TRUE and fills m (the caller clears it). */
static gboolean
server_read (struct server *s, struct sc_msg *m)
{
  const uint8_t *body = NULL;
  size_t body_len = 0;
  uint8_t *pt;
  size_t pt_len = 0;
  long n;
  int rc;

  n = sc_frame_next (s->in->data, s->in->len, SC_FRAME_MAX, &body, &body_len);
  g_assert_cmpint (n, >=, 0);
  if (n == 0)
    return FALSE;
  pt = g_malloc (SC_FRAME_MAX);
  if (!sc_channel_established (s->ch))
    rc = sc_channel_read_handshake (s->ch, body, body_len, pt, SC_FRAME_MAX,
                                    &pt_len);
  else
    rc = sc_channel_open (s->ch, body, body_len, pt, SC_FRAME_MAX, &pt_len);
  g_assert_cmpint (rc, ==, SC_OK);
  g_assert_cmpint (sc_msg_parse (pt, pt_len, m), ==, SC_OK);
  g_free (pt);
  g_byte_array_remove_range (s->in, 0, (guint) n);
  return TRUE;
}

static void
server_expect (struct server *s, enum sc_msg_type type, struct sc_msg *m)
{
  g_assert_true (server_read (s, m));
  g_assert_cmpstr (sc_msg_type_name (m->type), ==, sc_msg_type_name (type));
}

/* Seals raw plaintext (any bytes) as a transport frame for the client. */
static void
server_send_raw (struct server *s, const void *pt, size_t len)
{
  uint8_t *frame = g_malloc (SC_FRAME_HEADER_LEN + SC_FRAME_MAX);
  size_t n = 0;

  g_assert_cmpint (sc_channel_seal (s->ch, pt, len, frame,
                                    SC_FRAME_HEADER_LEN + SC_FRAME_MAX, &n),
                   ==, SC_OK);
  g_byte_array_append (s->out, frame, (guint) n);
  g_free (frame);
}

static void
server_send (struct server *s, const struct sc_msg *m)
{
  char *json = NULL;
  size_t len = 0;

  g_assert_cmpint (sc_msg_encode (m, &json, &len), ==, SC_OK);
  server_send_raw (s, json, len);
  free (json);
}

static void
server_send_json (struct server *s, const char *json)
{
  server_send_raw (s, json, strlen (json));
}

/* Handshake message 2 with the given payload. */
static void
server_write_msg2 (struct server *s, const struct sc_msg *m)
{
  uint8_t frame[SC_FRAME_HEADER_LEN + 1024];
  char *json = NULL;
  size_t len = 0;
  size_t n = 0;

  g_assert_cmpint (sc_msg_encode (m, &json, &len), ==, SC_OK);
  g_assert_cmpint (sc_channel_write_handshake (s->ch, (uint8_t *) json, len,
                                               frame, sizeof frame, &n),
                   ==, SC_OK);
  free (json);
  g_byte_array_append (s->out, frame, (guint) n);
}

static void
server_write_hello (struct server *s, uint32_t max_frame)
{
  struct sc_msg m;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SERVER_HELLO;
  m.u.server_hello.version = SC_PROTOCOL_VERSION;
  g_strlcpy (m.u.server_hello.agent, "fake/1", sizeof m.u.server_hello.agent);
  m.u.server_hello.max_frame = max_frame;
  m.u.server_hello.idle_timeout = IDLE_TIMEOUT;
  server_write_msg2 (s, &m);
}

/* ---- events seen by the client's callbacks ---- */

struct events
{
  struct sc_client *client;
  int verify_calls;
  int verify_answer;
  uint8_t verify_pub[SC_X25519_LEN];
  char verify_fp[SC_FINGERPRINT_LEN + 1];
  int logged_in;
  int presence_lists;
  GPtrArray *users; /* of the last presence list */
  GString *presence;
  int messages;
  uint64_t msg_id;
  char msg_from[SC_USERNAME_MAX + 1];
  int64_t msg_ts;
  GByteArray *msg_body;
  int sent;
  uint64_t sent_ref;
  uint64_t sent_id;
  int64_t sent_ts;
  int errors;
  struct sc_msg_error error;
  int closed;
  int closed_err;
  enum sc_code closed_code;
  char closed_message[SC_TEXT_MAX + 1];
  /* When set, the message callback sends this back to the sender. */
  const char *reply;
  uint64_t reply_ref;
};

static int
on_verify (void *ud, const uint8_t pub[SC_X25519_LEN], const char *fp)
{
  struct events *ev = ud;

  ev->verify_calls++;
  memcpy (ev->verify_pub, pub, SC_X25519_LEN);
  g_strlcpy (ev->verify_fp, fp, sizeof ev->verify_fp);
  return ev->verify_answer;
}

static void
on_logged_in (void *ud, const char *user)
{
  struct events *ev = ud;

  g_assert_cmpstr (user, ==, "alice");
  ev->logged_in++;
}

static void
on_presence_list (void *ud, const char *const *users, size_t n)
{
  struct events *ev = ud;

  ev->presence_lists++;
  g_ptr_array_set_size (ev->users, 0);
  for (size_t i = 0; i < n; i++)
    g_ptr_array_add (ev->users, g_strdup (users[i]));
}

static void
on_presence (void *ud, const char *user, bool online)
{
  struct events *ev = ud;

  g_string_append_printf (ev->presence, "%s:%s;", user, online ? "on" : "off");
}

static void
on_message (void *ud,
            uint64_t id,
            const char *from,
            int64_t ts,
            const uint8_t *body,
            size_t body_len)
{
  struct events *ev = ud;

  ev->messages++;
  ev->msg_id = id;
  g_strlcpy (ev->msg_from, from, sizeof ev->msg_from);
  ev->msg_ts = ts;
  g_byte_array_set_size (ev->msg_body, 0);
  g_byte_array_append (ev->msg_body, body, (guint) body_len);
  if (ev->reply != NULL)
    g_assert_cmpint (sc_client_send (ev->client, from,
                                     (const uint8_t *) ev->reply,
                                     strlen (ev->reply), &ev->reply_ref),
                     ==, SC_OK);
}

static void
on_sent (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  struct events *ev = ud;

  ev->sent++;
  ev->sent_ref = ref;
  ev->sent_id = id;
  ev->sent_ts = ts;
}

static void
on_error (void *ud, const struct sc_msg_error *e)
{
  struct events *ev = ud;

  ev->errors++;
  ev->error = *e;
}

static void
on_closed (void *ud, int err, enum sc_code code, const char *message)
{
  struct events *ev = ud;

  ev->closed++;
  ev->closed_err = err;
  ev->closed_code = code;
  g_strlcpy (ev->closed_message, message != NULL ? message : "",
             sizeof ev->closed_message);
}

static const struct sc_client_callbacks callbacks = {
  .verify_server_key = on_verify,
  .logged_in = on_logged_in,
  .presence_list = on_presence_list,
  .presence = on_presence,
  .message = on_message,
  .sent = on_sent,
  .error = on_error,
  .closed = on_closed,
};

/* ---- fixture ---- */

struct fixture
{
  struct server *srv;
  struct sc_client *c;
  struct events ev;
  int64_t now;
};

static void
fixture_setup (struct fixture *f, gconstpointer data)
{
  struct sc_client_config cfg = {
    .user = "alice",
    .password = "correct horse",
    .agent = "test-client/1",
  };

  memset (f, 0, sizeof *f);
  f->now = 1000000;
  f->srv = server_new ();
  f->ev.users = g_ptr_array_new_with_free_func (g_free);
  f->ev.presence = g_string_new (NULL);
  f->ev.msg_body = g_byte_array_new ();
  g_assert_cmpint (sc_client_new (&cfg, &callbacks, &f->ev, &f->c), ==, SC_OK);
  f->ev.client = f->c;
}

static void
fixture_teardown (struct fixture *f, gconstpointer data)
{
  sc_client_free (f->c);
  server_free (f->srv);
  g_ptr_array_unref (f->ev.users);
  g_string_free (f->ev.presence, TRUE);
  g_byte_array_unref (f->ev.msg_body);
}

/* Moves everything the client queued to the server's input. */
static void
to_server (struct fixture *f)
{
  size_t len = 0;
  const uint8_t *p = sc_client_pending (f->c, &len);

  if (len > 0)
    g_byte_array_append (f->srv->in, p, (guint) len);
  sc_client_consume (f->c, len);
}

/* Feeds what the server wrote to the client in one call. */
static int
to_client (struct fixture *f)
{
  int rc;

  rc = sc_client_recv (f->c, f->srv->out->data, f->srv->out->len, f->now);
  g_byte_array_set_size (f->srv->out, 0);
  return rc;
}

static size_t
pending_len (struct fixture *f)
{
  size_t len = 0;

  sc_client_pending (f->c, &len);
  return len;
}

/* Runs the handshake up to the point where the client has queued its
 * login (or refused the key). */
static int
do_handshake (struct fixture *f, uint32_t max_frame)
{
  struct sc_msg m;

  g_assert_cmpint (sc_client_start (f->c, f->now), ==, SC_OK);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_HANDSHAKE);
  to_server (f);
  server_expect (f->srv, SC_MSG_CLIENT_HELLO, &m);
  g_assert_cmpuint (m.u.client_hello.n_versions, ==, 1);
  g_assert_cmpuint (m.u.client_hello.versions[0], ==, 1);
  g_assert_cmpstr (m.u.client_hello.agent, ==, "test-client/1");
  sc_msg_clear (&m);
  server_write_hello (f->srv, max_frame);
  return to_client (f);
}

/* Full login: hello, key accepted, login checked, login_ok and a presence
 * list with alice and bob. */
static void
do_login (struct fixture *f)
{
  struct sc_msg m;

  g_assert_cmpint (do_handshake (f, SC_FRAME_MAX), ==, SC_OK);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_LOGIN);
  to_server (f);
  server_expect (f->srv, SC_MSG_LOGIN, &m);
  g_assert_cmpstr (m.u.login.user, ==, "alice");
  g_assert_cmpstr (m.u.login.password, ==, "correct horse");
  sc_msg_clear (&m);
  g_assert_false (server_read (f->srv, &m));

  server_send_json (f->srv, "{\"type\":\"login_ok\",\"user\":\"alice\"}");
  server_send_json (f->srv, "{\"type\":\"presence_list\","
                            "\"users\":[\"alice\",\"bob\"],\"more\":false}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_READY);
  g_assert_cmpint (f->ev.logged_in, ==, 1);
  sc_client_tick (f->c, f->now);
}

static void
test_login (struct fixture *f, gconstpointer data)
{
  char fp[SC_FINGERPRINT_LEN + 1];

  g_assert_cmpstr (sc_client_server_fingerprint (f->c), ==, "");
  do_login (f);
  g_assert_cmpint (f->ev.verify_calls, ==, 1);
  g_assert_cmpmem (f->ev.verify_pub, SC_X25519_LEN, f->srv->pub, SC_X25519_LEN);
  g_assert_cmpint (sc_fingerprint (f->srv->pub, fp), ==, SC_OK);
  g_assert_cmpstr (f->ev.verify_fp, ==, fp);
  g_assert_cmpstr (sc_client_server_fingerprint (f->c), ==, fp);
  g_assert_cmpint (f->ev.presence_lists, ==, 1);
  g_assert_cmpuint (f->ev.users->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->ev.users, 0), ==, "alice");
  g_assert_cmpstr (g_ptr_array_index (f->ev.users, 1), ==, "bob");
  g_assert_cmpint (f->ev.closed, ==, 0);
  g_assert_cmpuint (pending_len (f), ==, 0);
}

static void
test_key_rejected (struct fixture *f, gconstpointer data)
{
  uint8_t junk[64];

  f->ev.verify_answer = -1;
  g_assert_cmpint (sc_client_start (f->c, f->now), ==, SC_OK);
  to_server (f);
  g_assert_cmpuint (pending_len (f), ==, 0);
  {
    struct sc_msg m;

    server_expect (f->srv, SC_MSG_CLIENT_HELLO, &m);
    sc_msg_clear (&m);
  }
  server_write_hello (f->srv, SC_FRAME_MAX);
  /* A login_ok in the same read must not be looked at either. */
  server_send_json (f->srv, "{\"type\":\"login_ok\",\"user\":\"alice\"}");
  g_assert_cmpint (to_client (f), ==, SC_ERR_KEY_MISMATCH);

  g_assert_cmpint (f->ev.verify_calls, ==, 1);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_CLOSED);
  g_assert_cmpint (f->ev.closed, ==, 1);
  g_assert_cmpint (f->ev.closed_err, ==, SC_ERR_KEY_MISMATCH);
  g_assert_cmpint (f->ev.closed_code, ==, SC_CODE_N_CODES);
  g_assert_cmpint (f->ev.logged_in, ==, 0);
  /* Nothing at all was queued after message 1. */
  g_assert_cmpuint (pending_len (f), ==, 0);

  /* Everything later is refused, and "closed" is not repeated. */
  memset (junk, 0, sizeof junk);
  g_assert_cmpint (sc_client_recv (f->c, junk, sizeof junk, f->now), ==,
                   SC_ERR_CLOSED);
  g_assert_cmpint (sc_client_who (f->c), ==, SC_ERR_CLOSED);
  g_assert_cmpint (sc_client_quit (f->c), ==, SC_ERR_CLOSED);
  g_assert_cmpint (sc_client_tick (f->c, f->now + 1000000), ==,
                   SC_CLIENT_NO_DEADLINE);
  g_assert_cmpuint (pending_len (f), ==, 0);
  g_assert_cmpint (f->ev.closed, ==, 1);
}

static void
test_unsupported_version (struct fixture *f, gconstpointer data)
{
  struct sc_msg m;

  g_assert_cmpint (sc_client_start (f->c, f->now), ==, SC_OK);
  to_server (f);
  server_expect (f->srv, SC_MSG_CLIENT_HELLO, &m);
  sc_msg_clear (&m);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_ERROR;
  m.u.error.code = SC_CODE_UNSUPPORTED_VERSION;
  g_strlcpy (m.u.error.message, "no common protocol version",
             sizeof m.u.error.message);
  server_write_msg2 (f->srv, &m);
  g_assert_cmpint (to_client (f), ==, SC_ERR_UNSUPPORTED);
  g_assert_cmpint (f->ev.errors, ==, 1);
  g_assert_cmpint (f->ev.error.code, ==, SC_CODE_UNSUPPORTED_VERSION);
  g_assert_cmpint (f->ev.closed, ==, 1);
  g_assert_cmpint (f->ev.closed_err, ==, SC_ERR_UNSUPPORTED);
  g_assert_cmpint (f->ev.verify_calls, ==, 0);
  g_assert_cmpuint (pending_len (f), ==, 0);
}

static void
test_auth_failed (struct fixture *f, gconstpointer data)
{
  g_assert_cmpint (do_handshake (f, SC_FRAME_MAX), ==, SC_OK);
  to_server (f);
  server_send_json (f->srv, "{\"type\":\"error\",\"code\":\"auth_failed\","
                            "\"message\":\"invalid username or password\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (f->ev.errors, ==, 1);
  g_assert_cmpint (f->ev.error.code, ==, SC_CODE_AUTH_FAILED);
  g_assert_cmpstr (f->ev.error.message, ==, "invalid username or password");
  g_assert_cmpint (f->ev.logged_in, ==, 0);
  /* The server closes; the session waits for that. */
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_LOGIN);
  g_assert_cmpint (f->ev.closed, ==, 0);
}

static void
test_events (struct fixture *f, gconstpointer data)
{
  uint64_t ref1 = 0;
  uint64_t ref2 = 0;

  do_login (f);

  server_send_json (f->srv, "{\"type\":\"presence\",\"user\":\"carol\","
                            "\"status\":\"online\"}");
  server_send_json (f->srv, "{\"type\":\"presence\",\"user\":\"bob\","
                            "\"status\":\"offline\"}");
  server_send_json (f->srv, "{\"type\":\"message\",\"id\":1042,"
                            "\"from\":\"carol\",\"ts\":1764099197123,"
                            "\"body\":\"aGkgdGhlcmU=\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpstr (f->ev.presence->str, ==, "carol:on;bob:off;");
  g_assert_cmpint (f->ev.messages, ==, 1);
  g_assert_cmpuint (f->ev.msg_id, ==, 1042);
  g_assert_cmpstr (f->ev.msg_from, ==, "carol");
  g_assert_cmpint (f->ev.msg_ts, ==, 1764099197123);
  g_assert_cmpmem (f->ev.msg_body->data, f->ev.msg_body->len, "hi there", 8);

  /* Empty bodies are legal. */
  server_send_json (f->srv, "{\"type\":\"message\",\"id\":1043,"
                            "\"from\":\"carol\",\"ts\":1,\"body\":\"\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (f->ev.messages, ==, 2);
  g_assert_cmpuint (f->ev.msg_body->len, ==, 0);

  g_assert_cmpint (
      sc_client_send (f->c, "carol", (const uint8_t *) "yo", 2, &ref1), ==,
      SC_OK);
  g_assert_cmpint (
      sc_client_send (f->c, "dave", (const uint8_t *) "x", 1, &ref2), ==,
      SC_OK);
  g_assert_cmpuint (ref1, ==, 1);
  g_assert_cmpuint (ref2, ==, 2);
  server_send_json (f->srv, "{\"type\":\"sent\",\"ref\":1,\"id\":1044,"
                            "\"ts\":1764099197200}");
  server_send_json (f->srv, "{\"type\":\"error\",\"code\":"
                            "\"recipient_offline\",\"message\":"
                            "\"Recipient not online\",\"ref\":2}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (f->ev.sent, ==, 1);
  g_assert_cmpuint (f->ev.sent_ref, ==, 1);
  g_assert_cmpuint (f->ev.sent_id, ==, 1044);
  g_assert_cmpint (f->ev.sent_ts, ==, 1764099197200);
  g_assert_cmpint (f->ev.errors, ==, 1);
  g_assert_cmpint (f->ev.error.code, ==, SC_CODE_RECIPIENT_OFFLINE);
  g_assert_true (f->ev.error.has_ref);
  g_assert_cmpuint (f->ev.error.ref, ==, 2);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_READY);

  /* A ping from the server is answered. */
  to_server (f);
  {
    struct sc_msg m;

    server_expect (f->srv, SC_MSG_SEND, &m);
    sc_msg_clear (&m);
    server_expect (f->srv, SC_MSG_SEND, &m);
    sc_msg_clear (&m);
    server_send_json (f->srv, "{\"type\":\"ping\"}");
    g_assert_cmpint (to_client (f), ==, SC_OK);
    to_server (f);
    server_expect (f->srv, SC_MSG_PONG, &m);
    sc_msg_clear (&m);
  }

  /* bye closes with SC_OK and the server's code and text; what follows
   * it is ignored. */
  {
    struct sc_msg m;

    memset (&m, 0, sizeof m);
    m.type = SC_MSG_BYE;
    m.u.bye.code = SC_CODE_SERVER_SHUTDOWN;
    g_strlcpy (m.u.bye.message, "server is shutting down",
               sizeof m.u.bye.message);
    server_send (f->srv, &m);
  }
  server_send_json (f->srv, "{\"type\":\"presence\",\"user\":\"eve\","
                            "\"status\":\"online\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_CLOSED);
  g_assert_cmpint (f->ev.closed, ==, 1);
  g_assert_cmpint (f->ev.closed_err, ==, SC_OK);
  g_assert_cmpint (f->ev.closed_code, ==, SC_CODE_SERVER_SHUTDOWN);
  g_assert_cmpstr (f->ev.closed_message, ==, "server is shutting down");
  g_assert_cmpstr (f->ev.presence->str, ==, "carol:on;bob:off;");
  g_assert_cmpint (
      sc_client_send (f->c, "carol", (const uint8_t *) "x", 1, &ref1), ==,
      SC_ERR_CLOSED);
  g_assert_cmpuint (ref1, ==, 0);
}

static void
test_presence_chunks (struct fixture *f, gconstpointer data)
{
  do_login (f);
  g_assert_cmpint (f->ev.presence_lists, ==, 1);

  g_assert_cmpint (sc_client_who (f->c), ==, SC_OK);
  server_send_json (f->srv, "{\"type\":\"presence_list\","
                            "\"users\":[\"a1\",\"a2\"],\"more\":true}");
  server_send_json (f->srv, "{\"type\":\"presence_list\","
                            "\"users\":[],\"more\":true}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (f->ev.presence_lists, ==, 1);
  server_send_json (f->srv, "{\"type\":\"presence_list\","
                            "\"users\":[\"b1\"],\"more\":false}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (f->ev.presence_lists, ==, 2);
  g_assert_cmpuint (f->ev.users->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->ev.users, 0), ==, "a1");
  g_assert_cmpstr (g_ptr_array_index (f->ev.users, 1), ==, "a2");
  g_assert_cmpstr (g_ptr_array_index (f->ev.users, 2), ==, "b1");

  /* The next list starts afresh, and may be empty. */
  server_send_json (f->srv, "{\"type\":\"presence_list\","
                            "\"users\":[],\"more\":false}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (f->ev.presence_lists, ==, 3);
  g_assert_cmpuint (f->ev.users->len, ==, 0);
}

/* Each of these server messages, once logged in, closes the session. */
static void
test_bad_server_messages (void)
{
  static const struct
  {
    const char *json;
    int err;
  } cases[] = {
    { "{not json", SC_ERR_JSON },
    { "{\"type\":\"message\",\"id\":1,\"from\":\"bob\",\"ts\":1,"
      "\"body\":\"aGk=\",\"extra\":1}",
      SC_ERR_FIELD },
    { "{\"type\":\"sent\",\"ref\":1,\"id\":2,\"ts\":3}", SC_ERR_PROTOCOL },
    { "{\"type\":\"error\",\"code\":\"unknown_user\",\"message\":\"x\","
      "\"ref\":5}",
      SC_ERR_PROTOCOL },
    { "{\"type\":\"login_ok\",\"user\":\"alice\"}", SC_ERR_PROTOCOL },
    { "{\"type\":\"who\"}", SC_ERR_PROTOCOL },
    { "{\"type\":\"frobnicate\"}", SC_ERR_UNKNOWN_TYPE },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      struct fixture f;

      g_test_message ("case %zu: %s", i, cases[i].json);
      fixture_setup (&f, NULL);
      do_login (&f);
      server_send_json (f.srv, cases[i].json);
      g_assert_cmpint (to_client (&f), <, 0);
      g_assert_cmpint (sc_client_state (f.c), ==, SC_CLIENT_CLOSED);
      g_assert_cmpint (f.ev.closed, ==, 1);
      g_assert_cmpint (f.ev.closed_code, ==, SC_CODE_N_CODES);
      g_assert_cmpint (f.ev.closed_err, <, 0);
      /* The parser's verdict for JSON/schema errors may be any specific
       * error; the routing checks are ours and exact. */
      if (cases[i].err == SC_ERR_PROTOCOL)
        g_assert_cmpint (f.ev.closed_err, ==, SC_ERR_PROTOCOL);
      g_assert_cmpint (f.ev.messages + f.ev.sent + f.ev.errors, ==, 0);
      fixture_teardown (&f, NULL);
    }
}

static void
test_message_before_login (struct fixture *f, gconstpointer data)
{
  g_assert_cmpint (do_handshake (f, SC_FRAME_MAX), ==, SC_OK);
  server_send_json (f->srv, "{\"type\":\"message\",\"id\":1,"
                            "\"from\":\"bob\",\"ts\":1,\"body\":\"aGk=\"}");
  g_assert_cmpint (to_client (f), ==, SC_ERR_PROTOCOL);
  g_assert_cmpint (f->ev.messages, ==, 0);
  g_assert_cmpint (f->ev.closed, ==, 1);
}

static void
test_wrong_login_user (struct fixture *f, gconstpointer data)
{
  g_assert_cmpint (do_handshake (f, SC_FRAME_MAX), ==, SC_OK);
  server_send_json (f->srv, "{\"type\":\"login_ok\",\"user\":\"mallory\"}");
  g_assert_cmpint (to_client (f), ==, SC_ERR_PROTOCOL);
  g_assert_cmpint (f->ev.logged_in, ==, 0);
}

static void
test_bit_flip (struct fixture *f, gconstpointer data)
{
  do_login (f);
  server_send_json (f->srv, "{\"type\":\"presence\",\"user\":\"bob\","
                            "\"status\":\"online\"}");
  f->srv->out->data[f->srv->out->len / 2] ^= 0x04;
  g_assert_cmpint (to_client (f), <, 0);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_CLOSED);
  g_assert_cmpint (f->ev.closed, ==, 1);
  g_assert_cmpint (f->ev.closed_err, <, 0);
  g_assert_cmpstr (f->ev.presence->str, ==, "");
}

static void
test_bit_flip_handshake (struct fixture *f, gconstpointer data)
{
  struct sc_msg m;

  g_assert_cmpint (sc_client_start (f->c, f->now), ==, SC_OK);
  to_server (f);
  server_expect (f->srv, SC_MSG_CLIENT_HELLO, &m);
  sc_msg_clear (&m);
  server_write_hello (f->srv, SC_FRAME_MAX);
  /* Inside the encrypted static key. */
  f->srv->out->data[SC_FRAME_HEADER_LEN + 40] ^= 0x80;
  g_assert_cmpint (to_client (f), <, 0);
  g_assert_cmpint (f->ev.verify_calls, ==, 0);
  g_assert_cmpint (f->ev.closed, ==, 1);
  g_assert_cmpuint (pending_len (f), ==, 0);
}

static void
test_zero_length_frame (struct fixture *f, gconstpointer data)
{
  static const uint8_t zero[2] = { 0, 0 };

  do_login (f);
  g_assert_cmpint (sc_client_recv (f->c, zero, sizeof zero, f->now), <, 0);
  g_assert_cmpint (f->ev.closed, ==, 1);
}

/* The whole session fed one byte per call. */
static void
test_byte_at_a_time (struct fixture *f, gconstpointer data)
{
  struct sc_msg m;
  GByteArray *all;

  g_assert_cmpint (sc_client_start (f->c, f->now), ==, SC_OK);
  to_server (f);
  server_expect (f->srv, SC_MSG_CLIENT_HELLO, &m);
  sc_msg_clear (&m);
  server_write_hello (f->srv, SC_FRAME_MAX);
  server_send_json (f->srv, "{\"type\":\"login_ok\",\"user\":\"alice\"}");
  server_send_json (f->srv, "{\"type\":\"presence_list\","
                            "\"users\":[\"alice\"],\"more\":false}");
  server_send_json (f->srv, "{\"type\":\"message\",\"id\":7,"
                            "\"from\":\"bob\",\"ts\":5,\"body\":\"aGk=\"}");
  all = g_byte_array_new ();
  g_byte_array_append (all, f->srv->out->data, f->srv->out->len);
  g_byte_array_set_size (f->srv->out, 0);

  for (guint i = 0; i < all->len; i++)
    {
      g_assert_cmpint (sc_client_recv (f->c, all->data + i, 1, f->now), ==,
                       SC_OK);
      if (f->ev.verify_calls == 0)
        g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_HANDSHAKE);
    }
  g_byte_array_unref (all);
  g_assert_cmpint (f->ev.verify_calls, ==, 1);
  g_assert_cmpint (f->ev.logged_in, ==, 1);
  g_assert_cmpint (f->ev.presence_lists, ==, 1);
  g_assert_cmpint (f->ev.messages, ==, 1);
  g_assert_cmpmem (f->ev.msg_body->data, f->ev.msg_body->len, "hi", 2);
  to_server (f);
  server_expect (f->srv, SC_MSG_LOGIN, &m);
  sc_msg_clear (&m);
}

/* Every split of a stream of transport frames into two reads. */
static void
test_every_split (void)
{
  struct fixture f;

  /* The ciphertext is bound to one session, so each split point runs on
   * a fresh login. */
  for (guint split = 0;; split++)
    {
      guint len;

      fixture_setup (&f, NULL);
      do_login (&f);
      server_send_json (f.srv, "{\"type\":\"presence\",\"user\":\"bob\","
                               "\"status\":\"online\"}");
      server_send_json (f.srv, "{\"type\":\"message\",\"id\":7,"
                               "\"from\":\"bob\",\"ts\":5,"
                               "\"body\":\"aGk=\"}");
      len = f.srv->out->len;
      g_assert_cmpint (sc_client_recv (f.c, f.srv->out->data, split, f.now), ==,
                       SC_OK);
      g_assert_cmpint (
          sc_client_recv (f.c, f.srv->out->data + split, len - split, f.now),
          ==, SC_OK);
      g_assert_cmpstr (f.ev.presence->str, ==, "bob:on;");
      g_assert_cmpint (f.ev.messages, ==, 1);
      fixture_teardown (&f, NULL);
      if (split == len)
        break;
    }
}

/* A frame of the largest size, received in pieces of odd sizes. */
static void
test_large_frame (struct fixture *f, gconstpointer data)
{
  GString *json = g_string_new ("{\"type\":\"message\",\"id\":9,"
                                "\"from\":\"bob\",\"ts\":5,\"body\":\"");
  uint8_t *body = g_malloc (SC_BODY_MAX);
  char *b64 = g_malloc (SC_BODY_B64_MAX + 1);
  size_t off = 0;

  do_login (f);
  for (size_t i = 0; i < SC_BODY_MAX; i++)
    body[i] = (uint8_t) (i * 7);
  g_assert_cmpint (
      sc_base64_encode (body, SC_BODY_MAX, b64, SC_BODY_B64_MAX + 1), ==,
      SC_OK);
  g_string_append (json, b64);
  g_string_append (json, "\"}");
  server_send_json (f->srv, json->str);
  server_send_json (f->srv, json->str);
  while (off < f->srv->out->len)
    {
      size_t n = MIN ((size_t) 4099, f->srv->out->len - off);

      g_assert_cmpint (
          sc_client_recv (f->c, f->srv->out->data + off, n, f->now), ==, SC_OK);
      off += n;
    }
  g_byte_array_set_size (f->srv->out, 0);
  g_assert_cmpint (f->ev.messages, ==, 2);
  g_assert_cmpmem (f->ev.msg_body->data, f->ev.msg_body->len, body,
                   SC_BODY_MAX);
  g_string_free (json, TRUE);
  g_free (body);
  g_free (b64);
}

static void
test_ping_and_dead (struct fixture *f, gconstpointer data)
{
  int64_t t0 = f->now;
  int64_t next;
  struct sc_msg m;

  do_login (f);
  to_server (f);
  next = sc_client_tick (f->c, t0 + THIRD_MS - 1);
  g_assert_cmpint (next, ==, t0 + THIRD_MS);
  g_assert_cmpuint (pending_len (f), ==, 0);

  /* Quiet for a third of the idle timeout: a ping. */
  next = sc_client_tick (f->c, t0 + THIRD_MS);
  g_assert_cmpuint (pending_len (f), >, 0);
  g_assert_cmpint (next, ==, t0 + 2 * THIRD_MS);
  to_server (f);
  server_expect (f->srv, SC_MSG_PING, &m);
  sc_msg_clear (&m);

  /* Not twice. */
  sc_client_tick (f->c, t0 + THIRD_MS + 10);
  g_assert_cmpuint (pending_len (f), ==, 0);

  /* The pong comes: the link is alive, the next ping is due a third after
   * the first one. */
  f->now = t0 + THIRD_MS + 500;
  server_send_json (f->srv, "{\"type\":\"pong\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  next = sc_client_tick (f->c, f->now);
  g_assert_cmpint (next, ==, t0 + 2 * THIRD_MS);
  g_assert_cmpint (f->ev.closed, ==, 0);

  next = sc_client_tick (f->c, t0 + 2 * THIRD_MS);
  to_server (f);
  server_expect (f->srv, SC_MSG_PING, &m);
  sc_msg_clear (&m);
  g_assert_cmpint (next, ==, t0 + 3 * THIRD_MS);

  /* No answer to this one. */
  sc_client_tick (f->c, t0 + 3 * THIRD_MS - 1);
  g_assert_cmpint (f->ev.closed, ==, 0);
  next = sc_client_tick (f->c, t0 + 3 * THIRD_MS);
  g_assert_cmpint (next, ==, SC_CLIENT_NO_DEADLINE);
  g_assert_cmpint (f->ev.closed, ==, 1);
  g_assert_cmpint (f->ev.closed_err, ==, SC_ERR_CLOSED);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_CLOSED);
}

/* Sending postpones the ping; an unanswered send is noticed too. */
static void
test_send_liveness (struct fixture *f, gconstpointer data)
{
  int64_t t0 = f->now;
  uint64_t ref = 0;
  struct sc_msg m;

  do_login (f);
  g_assert_cmpint (
      sc_client_send (f->c, "bob", (const uint8_t *) "hi", 2, &ref), ==, SC_OK);
  sc_client_tick (f->c, t0 + 1000);
  to_server (f);
  server_expect (f->srv, SC_MSG_SEND, &m);
  sc_msg_clear (&m);

  f->now = t0 + 1200;
  server_send_json (f->srv, "{\"type\":\"sent\",\"ref\":1,\"id\":1,"
                            "\"ts\":1}");
  g_assert_cmpint (to_client (f), ==, SC_OK);

  /* No ping a third after login: the send was later. */
  sc_client_tick (f->c, t0 + THIRD_MS);
  g_assert_cmpuint (pending_len (f), ==, 0);
  sc_client_tick (f->c, t0 + 1000 + THIRD_MS);
  g_assert_cmpuint (pending_len (f), >, 0);
  to_server (f);
  server_expect (f->srv, SC_MSG_PING, &m);
  sc_msg_clear (&m);
  server_send_json (f->srv, "{\"type\":\"pong\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);

  /* A send that nobody answers. */
  g_assert_cmpint (
      sc_client_send (f->c, "bob", (const uint8_t *) "hi", 2, &ref), ==, SC_OK);
  sc_client_tick (f->c, t0 + 50000);
  sc_client_tick (f->c, t0 + 50000 + THIRD_MS - 1);
  g_assert_cmpint (f->ev.closed, ==, 0);
  sc_client_tick (f->c, t0 + 50000 + THIRD_MS);
  g_assert_cmpint (f->ev.closed, ==, 1);
  g_assert_cmpint (f->ev.closed_err, ==, SC_ERR_CLOSED);
}

static void
test_no_ping_before_login (struct fixture *f, gconstpointer data)
{
  g_assert_cmpint (sc_client_tick (f->c, f->now), ==, SC_CLIENT_NO_DEADLINE);
  g_assert_cmpint (do_handshake (f, SC_FRAME_MAX), ==, SC_OK);
  to_server (f);
  g_assert_cmpint (sc_client_tick (f->c, f->now + 10 * THIRD_MS), ==,
                   SC_CLIENT_NO_DEADLINE);
  g_assert_cmpuint (pending_len (f), ==, 0);
  g_assert_cmpint (f->ev.closed, ==, 0);
}

static void
test_send_validation (struct fixture *f, gconstpointer data)
{
  uint8_t *big = g_malloc0 (SC_BODY_MAX + 1);
  uint64_t ref = 99;
  struct sc_msg m;
  uint8_t decoded[16];
  size_t decoded_len = 0;

  /* Not before login. */
  g_assert_cmpint (sc_client_send (f->c, "bob", (const uint8_t *) "x", 1, &ref),
                   ==, SC_ERR_STATE);
  g_assert_cmpuint (ref, ==, 0);
  do_login (f);

  g_assert_cmpint (sc_client_send (f->c, "Bob", (const uint8_t *) "x", 1, &ref),
                   ==, SC_ERR_USERNAME);
  g_assert_cmpint (sc_client_send (f->c, "", (const uint8_t *) "x", 1, &ref),
                   ==, SC_ERR_USERNAME);
  g_assert_cmpint (
      sc_client_send (f->c, "-bob", (const uint8_t *) "x", 1, &ref), ==,
      SC_ERR_USERNAME);
  g_assert_cmpint (sc_client_send (f->c, "a23456789012345678901234567890123",
                                   (const uint8_t *) "x", 1, &ref),
                   ==, SC_ERR_USERNAME);
  g_assert_cmpint (sc_client_send (f->c, "bob", big, SC_BODY_MAX + 1, &ref), ==,
                   SC_ERR_TOO_LARGE);
  g_assert_cmpint (sc_client_send (f->c, "bob", NULL, 1, &ref), ==,
                   SC_ERR_INVALID);
  g_assert_cmpuint (pending_len (f), ==, 0);

  g_assert_cmpint (
      sc_client_send (f->c, "bob", (const uint8_t *) "h\0i", 3, &ref), ==,
      SC_OK);
  g_assert_cmpuint (ref, ==, 1);
  g_assert_cmpint (sc_client_send (f->c, "bob", big, SC_BODY_MAX, &ref), ==,
                   SC_OK);
  g_assert_cmpuint (ref, ==, 2);
  g_assert_cmpint (sc_client_send (f->c, "carol", NULL, 0, &ref), ==, SC_OK);
  g_assert_cmpuint (ref, ==, 3);

  to_server (f);
  server_expect (f->srv, SC_MSG_SEND, &m);
  g_assert_cmpuint (m.u.send.id, ==, 1);
  g_assert_cmpstr (m.u.send.to, ==, "bob");
  g_assert_cmpint (sc_base64_decode (m.u.send.body, m.u.send.body_len, decoded,
                                     sizeof decoded, &decoded_len),
                   ==, SC_OK);
  g_assert_cmpmem (decoded, decoded_len, "h\0i", 3);
  sc_msg_clear (&m);
  server_expect (f->srv, SC_MSG_SEND, &m);
  g_assert_cmpuint (m.u.send.id, ==, 2);
  g_assert_cmpuint (m.u.send.body_len, ==, SC_BODY_B64_MAX);
  sc_msg_clear (&m);
  server_expect (f->srv, SC_MSG_SEND, &m);
  g_assert_cmpuint (m.u.send.id, ==, 3);
  g_assert_cmpstr (m.u.send.to, ==, "carol");
  g_assert_cmpuint (m.u.send.body_len, ==, 0);
  sc_msg_clear (&m);
  g_free (big);
}

/* The server's announced max_frame bounds what we send. */
static void
test_max_frame (struct fixture *f, gconstpointer data)
{
  uint8_t body[200];
  uint64_t ref = 0;
  struct sc_msg m;

  memset (body, 'a', sizeof body);
  g_assert_cmpint (do_handshake (f, 128), ==, SC_OK);
  to_server (f);
  server_expect (f->srv, SC_MSG_LOGIN, &m);
  sc_msg_clear (&m);
  server_send_json (f->srv, "{\"type\":\"login_ok\",\"user\":\"alice\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (sc_client_send (f->c, "bob", body, sizeof body, &ref), ==,
                   SC_ERR_TOO_LARGE);
  g_assert_cmpuint (pending_len (f), ==, 0);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_READY);
  g_assert_cmpint (sc_client_send (f->c, "bob", body, 10, &ref), ==, SC_OK);
  g_assert_cmpuint (ref, ==, 1);
  to_server (f);
  server_expect (f->srv, SC_MSG_SEND, &m);
  sc_msg_clear (&m);
}

static void
test_output_limit (struct fixture *f, gconstpointer data)
{
  uint8_t *body = g_malloc0 (SC_BODY_MAX);
  uint64_t ref = 0;
  int rc;
  int n = 0;

  do_login (f);
  while ((rc = sc_client_send (f->c, "bob", body, SC_BODY_MAX, &ref)) == SC_OK)
    n++;
  g_assert_cmpint (rc, ==, SC_ERR_TOO_LARGE);
  g_assert_cmpuint (ref, ==, 0);
  g_assert_cmpint (n, >, 10);
  g_assert_cmpuint (pending_len (f), <=, SC_CLIENT_OUT_MAX);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_READY);

  /* Writing some out makes room again, and ids continue in order. */
  sc_client_consume (f->c, pending_len (f) / 2);
  g_assert_cmpint (sc_client_send (f->c, "bob", body, SC_BODY_MAX, &ref), ==,
                   SC_OK);
  g_assert_cmpuint (ref, ==, (uint64_t) n + 1);
  g_free (body);
}

static void
test_quit (struct fixture *f, gconstpointer data)
{
  uint64_t ref = 0;
  struct sc_msg m;

  g_assert_cmpint (sc_client_quit (f->c), ==, SC_ERR_STATE);
  do_login (f);
  g_assert_cmpint (sc_client_quit (f->c), ==, SC_OK);
  g_assert_cmpint (sc_client_send (f->c, "bob", (const uint8_t *) "x", 1, &ref),
                   ==, SC_ERR_STATE);
  g_assert_cmpint (sc_client_who (f->c), ==, SC_ERR_STATE);
  g_assert_cmpint (sc_client_quit (f->c), ==, SC_ERR_STATE);
  g_assert_cmpint (sc_client_tick (f->c, f->now + 10 * THIRD_MS), ==,
                   SC_CLIENT_NO_DEADLINE);
  to_server (f);
  server_expect (f->srv, SC_MSG_BYE, &m);
  g_assert_cmpint (m.u.bye.code, ==, SC_CODE_CLIENT_QUIT);
  sc_msg_clear (&m);
  g_assert_false (server_read (f->srv, &m));
  g_assert_cmpint (f->ev.closed, ==, 0);
}

/* Callbacks may queue messages. */
static void
test_reply_from_callback (struct fixture *f, gconstpointer data)
{
  struct sc_msg m;

  do_login (f);
  f->ev.reply = "pong!";
  server_send_json (f->srv, "{\"type\":\"message\",\"id\":7,"
                            "\"from\":\"bob\",\"ts\":5,\"body\":\"aGk=\"}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpuint (f->ev.reply_ref, ==, 1);
  to_server (f);
  server_expect (f->srv, SC_MSG_SEND, &m);
  g_assert_cmpstr (m.u.send.to, ==, "bob");
  g_assert_cmpstr (m.u.send.body, ==, "cG9uZyE=");
  sc_msg_clear (&m);
}

static void
test_new_validation (void)
{
  struct sc_client *c = (struct sc_client *) 1;
  struct events ev;
  struct sc_client_config cfg = { .user = "alice", .password = "pw" };
  struct sc_client_callbacks no_verify = callbacks;

  memset (&ev, 0, sizeof ev);
  no_verify.verify_server_key = NULL;
  g_assert_cmpint (sc_client_new (&cfg, &no_verify, &ev, &c), ==,
                   SC_ERR_INVALID);
  g_assert_null (c);

  cfg.user = "Alice";
  g_assert_cmpint (sc_client_new (&cfg, &callbacks, &ev, &c), ==,
                   SC_ERR_USERNAME);
  cfg.user = "alice";
  cfg.password = "";
  g_assert_cmpint (sc_client_new (&cfg, &callbacks, &ev, &c), <, 0);
  cfg.password = "pw";
  cfg.agent = "bad\nagent";
  g_assert_cmpint (sc_client_new (&cfg, &callbacks, &ev, &c), ==,
                   SC_ERR_INVALID);
  cfg.agent = NULL;
  g_assert_cmpint (sc_client_new (&cfg, &callbacks, &ev, &c), ==, SC_OK);
  g_assert_cmpint (sc_client_recv (c, (const uint8_t *) "x", 1, 0), ==,
                   SC_ERR_STATE);
  g_assert_cmpint (sc_client_start (c, 0), ==, SC_OK);
  g_assert_cmpint (sc_client_start (c, 0), ==, SC_ERR_STATE);
  sc_client_free (c);
  sc_client_free (NULL);
}

/* ---- end-to-end: two clients through a fake routing server ---- */

/* In-memory storage for the end-to-end managers. */
static int
mem_load (void *ud, const char *name, uint8_t **buf, size_t *len)
{
  GByteArray *a = g_hash_table_lookup (ud, name);

  if (a == NULL)
    return SC_ERR_NOT_FOUND;
  *buf = malloc (a->len > 0 ? a->len : 1);
  g_assert_nonnull (*buf);
  if (a->len > 0)
    memcpy (*buf, a->data, a->len);
  *len = a->len;
  return SC_OK;
}

static int
mem_store (void *ud, const char *name, const uint8_t *buf, size_t len)
{
  GByteArray *a = g_byte_array_sized_new ((guint) len);

  g_byte_array_append (a, buf, (guint) len);
  g_hash_table_replace (ud, g_strdup (name), a);
  return SC_OK;
}

static int
mem_remove (void *ud, const char *name)
{
  g_hash_table_remove (ud, name);
  return SC_OK;
}

struct peer
{
  const char *user;
  struct server *srv;
  struct sc_client *c;
  GHashTable *files;
  struct sc_e2e *e2e;

  /* events */
  int keys_ready;
  int keys_err;
  GString *log; /* every event, in order */
  uint64_t last_sent_ref;
  int sent;
  int errors;
  int closed;
  int closed_err;

  /* what the server holds for this user */
  struct sc_msg upload;
  bool published;
  size_t next_opk;
  int uploads;
  bool stingy; /* always says no one-time prekeys are left */
  bool defer;  /* holds back bundle requests (served by serve_deferred) */
  struct sc_msg deferred;
};

struct world
{
  struct peer p[2];
  int64_t now;
  uint64_t next_msg_id;
  GPtrArray *bodies; /* every body the server routed */
};

static void
ev_keys_ready (void *ud, int err)
{
  struct peer *p = ud;

  p->keys_ready++;
  p->keys_err = err;
  g_string_append_printf (p->log, "keys:%d;", err);
}

static void
ev_message (void *ud,
            uint64_t id,
            const char *from,
            int64_t ts,
            const uint8_t *body,
            size_t body_len)
{
  struct peer *p = ud;

  g_string_append_printf (p->log, "msg:%s:%.*s;", from, (int) body_len,
                          (const char *) body);
}

static void
ev_sent (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  struct peer *p = ud;

  p->sent++;
  p->last_sent_ref = ref;
  g_string_append_printf (p->log, "sent:%" G_GUINT64_FORMAT ";", ref);
}

static void
ev_error (void *ud, const struct sc_msg_error *e)
{
  struct peer *p = ud;

  p->errors++;
  g_string_append_printf (p->log, "error:%s:%" G_GUINT64_FORMAT ";",
                          sc_code_name (e->code), e->has_ref ? e->ref : 0);
}

static void
ev_closed (void *ud, int err, enum sc_code code, const char *message)
{
  struct peer *p = ud;

  p->closed++;
  p->closed_err = err;
}

static void
ev_identity_changed (void *ud, const char *peer)
{
  struct peer *p = ud;

  g_string_append_printf (p->log, "changed:%s;", peer);
}

static void
ev_undecryptable (void *ud, uint64_t id, const char *from, int64_t ts, int err)
{
  struct peer *p = ud;

  g_string_append_printf (p->log, "undecryptable:%s:%d;", from, err);
}

static void
ev_send_failed (void *ud, uint64_t ref, const char *to, int err)
{
  struct peer *p = ud;

  g_string_append_printf (p->log, "failed:%" G_GUINT64_FORMAT ":%s:%d;", ref,
                          to, err);
}

static void
ev_session_ready (void *ud,
                  const char *peer,
                  int err,
                  const struct sc_msg_error *e)
{
  struct peer *p = ud;

  g_string_append_printf (p->log, "ready:%s:%d:%s;", peer, err,
                          e != NULL ? sc_code_name (e->code) : "-");
}

static int
ev_verify (void *ud, const uint8_t pub[SC_X25519_LEN], const char *fp)
{
  return 0;
}

static const struct sc_client_callbacks e2e_callbacks = {
  .verify_server_key = ev_verify,
  .message = ev_message,
  .sent = ev_sent,
  .error = ev_error,
  .closed = ev_closed,
  .keys_ready = ev_keys_ready,
  .identity_changed = ev_identity_changed,
  .undecryptable = ev_undecryptable,
  .send_failed = ev_send_failed,
  .session_ready = ev_session_ready,
};

static void
peer_open (struct peer *p, const char *user)
{
  struct sc_e2e_storage st = {
    .load = mem_load,
    .store = mem_store,
    .remove = mem_remove,
  };
  struct sc_client_config cfg = { .user = user, .password = "pw" };

  p->user = user;
  if (p->files == NULL)
    p->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_byte_array_unref);
  st.ud = p->files;
  g_assert_cmpint (sc_e2e_open (&st, "fake", user, &p->e2e), ==, SC_OK);
  cfg.e2e = p->e2e;
  p->srv = server_new ();
  if (p->log == NULL)
    p->log = g_string_new (NULL);
  g_assert_cmpint (sc_client_new (&cfg, &e2e_callbacks, p, &p->c), ==, SC_OK);
  g_assert_true (sc_client_e2e (p->c) == p->e2e);
}

/* The client and its connection go; what the server stores stays. */
static void
peer_disconnect (struct peer *p)
{
  sc_client_free (p->c);
  p->c = NULL;
  sc_e2e_free (p->e2e);
  p->e2e = NULL;
  if (p->srv != NULL)
    server_free (p->srv);
  p->srv = NULL;
}

static void
peer_clear (struct peer *p)
{
  peer_disconnect (p);
  if (p->files != NULL)
    g_hash_table_unref (p->files);
  if (p->log != NULL)
    g_string_free (p->log, TRUE);
  sc_msg_clear (&p->upload);
  memset (p, 0, sizeof *p);
}

static struct peer *
world_find (struct world *w, const char *user)
{
  for (int i = 0; i < 2; i++)
    if (w->p[i].user != NULL && strcmp (w->p[i].user, user) == 0)
      return &w->p[i];
  return NULL;
}

static void
status_of (struct peer *p, struct sc_msg *m)
{
  const struct sc_msg_prekeys_upload *u = &p->upload.u.prekeys_upload;

  memset (m, 0, sizeof *m);
  m->type = SC_MSG_PREKEY_STATUS;
  if (!p->published)
    return;
  m->u.prekey_status.has_identity = true;
  memcpy (m->u.prekey_status.identity, u->identity, sizeof u->identity);
  m->u.prekey_status.spk_id = u->spk_id;
  m->u.prekey_status.opks =
      p->stingy ? 0 : (uint32_t) (u->n_opks - p->next_opk);
}

static void
server_error_ref (struct server *s, enum sc_code code, uint64_t ref)
{
  struct sc_msg m;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_ERROR;
  m.u.error.code = code;
  g_strlcpy (m.u.error.message, sc_code_text (code), sizeof m.u.error.message);
  m.u.error.has_ref = true;
  m.u.error.ref = ref;
  server_send (s, &m);
}

/* The server's part for one message from p. */
static void
serve (struct world *w, struct peer *p, struct sc_msg *m)
{
  struct sc_msg r;
  struct peer *q;

  memset (&r, 0, sizeof r);
  switch (m->type)
    {
    case SC_MSG_CLIENT_HELLO:
      server_write_hello (p->srv, SC_FRAME_MAX);
      break;
    case SC_MSG_LOGIN:
      g_assert_cmpstr (m->u.login.user, ==, p->user);
      r.type = SC_MSG_LOGIN_OK;
      g_strlcpy (r.u.login_ok.user, p->user, sizeof r.u.login_ok.user);
      server_send (p->srv, &r);
      server_send_json (p->srv, "{\"type\":\"presence_list\","
                                "\"users\":[\"alice\",\"bob\"],"
                                "\"more\":false}");
      status_of (p, &r);
      server_send (p->srv, &r);
      break;
    case SC_MSG_PREKEYS_UPLOAD:
      p->uploads++;
      if (p->published &&
          memcmp (p->upload.u.prekeys_upload.identity,
                  m->u.prekeys_upload.identity, SC_IDENTITY_WIRE_LEN) == 0 &&
          m->u.prekeys_upload.n_opks == 0)
        {
          /* Only a new signed prekey. */
          p->upload.u.prekeys_upload.spk_id = m->u.prekeys_upload.spk_id;
          memcpy (p->upload.u.prekeys_upload.spk, m->u.prekeys_upload.spk, 32);
          memcpy (p->upload.u.prekeys_upload.spk_sig,
                  m->u.prekeys_upload.spk_sig, 64);
        }
      else
        {
          /* Keep the newest batch whole (enough for these tests). */
          sc_msg_clear (&p->upload);
          p->upload = *m;
          memset (m, 0, sizeof *m);
          p->next_opk = 0;
        }
      p->published = true;
      status_of (p, &r);
      server_send (p->srv, &r);
      break;
    case SC_MSG_BUNDLE_REQUEST:
      if (p->defer)
        {
          g_assert_cmpint (p->deferred.type, !=, SC_MSG_BUNDLE_REQUEST);
          p->deferred = *m;
          break;
        }
      q = world_find (w, m->u.bundle_request.user);
      if (q == NULL)
        server_error_ref (p->srv, SC_CODE_UNKNOWN_USER, m->u.bundle_request.id);
      else if (q == p)
        server_error_ref (p->srv, SC_CODE_SELF_MESSAGE, m->u.bundle_request.id);
      else if (!q->published)
        server_error_ref (p->srv, SC_CODE_NO_PREKEYS, m->u.bundle_request.id);
      else
        {
          const struct sc_msg_prekeys_upload *u = &q->upload.u.prekeys_upload;
          struct sc_msg_bundle *b = &r.u.bundle;

          r.type = SC_MSG_BUNDLE;
          b->ref = m->u.bundle_request.id;
          g_strlcpy (b->user, q->user, sizeof b->user);
          memcpy (b->identity, u->identity, sizeof b->identity);
          b->spk_id = u->spk_id;
          memcpy (b->spk, u->spk, 32);
          memcpy (b->spk_sig, u->spk_sig, 64);
          if (!q->stingy && q->next_opk < u->n_opks)
            {
              b->has_opk = true;
              b->opk_id = u->opks[q->next_opk].id;
              memcpy (b->opk, u->opks[q->next_opk].key, 32);
              q->next_opk++;
            }
          server_send (p->srv, &r);
        }
      break;
    case SC_MSG_SEND:
      q = world_find (w, m->u.send.to);
      if (q == NULL)
        {
          server_error_ref (p->srv, SC_CODE_UNKNOWN_USER, m->u.send.id);
          break;
        }
      g_ptr_array_add (w->bodies, g_strdup (m->u.send.body));
      if (q->c != NULL && sc_client_state (q->c) == SC_CLIENT_READY)
        {
          r.type = SC_MSG_MESSAGE;
          r.u.message.id = ++w->next_msg_id;
          g_strlcpy (r.u.message.from, p->user, sizeof r.u.message.from);
          r.u.message.ts = w->now;
          r.u.message.body = m->u.send.body;
          r.u.message.body_len = m->u.send.body_len;
          server_send (q->srv, &r);
          memset (&r, 0, sizeof r);
          r.type = SC_MSG_SENT;
          r.u.sent.ref = m->u.send.id;
          r.u.sent.id = w->next_msg_id;
          r.u.sent.ts = w->now;
          server_send (p->srv, &r);
        }
      else
        server_error_ref (p->srv, SC_CODE_RECIPIENT_OFFLINE, m->u.send.id);
      break;
    case SC_MSG_PING:
      server_send_json (p->srv, "{\"type\":\"pong\"}");
      break;
    default:
      break;
    }
}

/* Answers the bundle request p's server held back. */
static void
serve_deferred (struct world *w, struct peer *p)
{
  g_assert_cmpint (p->deferred.type, ==, SC_MSG_BUNDLE_REQUEST);
  p->defer = false;
  serve (w, p, &p->deferred);
  memset (&p->deferred, 0, sizeof p->deferred);
}

/* Moves bytes both ways until nobody has anything to say. */
static void
world_run (struct world *w)
{
  bool progress = true;

  while (progress)
    {
      progress = false;
      for (int i = 0; i < 2; i++)
        {
          struct peer *p = &w->p[i];
          struct sc_msg m;
          size_t len = 0;
          const uint8_t *out;

          if (p->c == NULL)
            continue;
          out = sc_client_pending (p->c, &len);
          if (len > 0)
            {
              g_byte_array_append (p->srv->in, out, (guint) len);
              sc_client_consume (p->c, len);
              progress = true;
            }
          while (server_read (p->srv, &m))
            {
              serve (w, p, &m);
              sc_msg_clear (&m);
              progress = true;
            }
        }
      for (int i = 0; i < 2; i++)
        {
          struct peer *p = &w->p[i];

          if (p->c == NULL || p->srv->out->len == 0)
            continue;
          if (sc_client_state (p->c) != SC_CLIENT_CLOSED)
            sc_client_recv (p->c, p->srv->out->data, p->srv->out->len, w->now);
          g_byte_array_set_size (p->srv->out, 0);
          progress = true;
        }
    }
}

static void
peer_connect (struct world *w, struct peer *p, const char *user)
{
  peer_open (p, user);
  g_assert_cmpint (sc_client_start (p->c, w->now), ==, SC_OK);
  world_run (w);
  g_assert_cmpint (sc_client_state (p->c), ==, SC_CLIENT_READY);
}

static void
world_init (struct world *w)
{
  memset (w, 0, sizeof *w);
  w->now = 1700000000000;
  w->bodies = g_ptr_array_new_with_free_func (g_free);
  peer_connect (w, &w->p[0], "alice");
  peer_connect (w, &w->p[1], "bob");
  for (int i = 0; i < 2; i++)
    {
      g_assert_cmpint (w->p[i].keys_ready, ==, 1);
      g_assert_cmpint (w->p[i].keys_err, ==, SC_OK);
      g_assert_cmpint (w->p[i].uploads, ==, 1);
      g_assert_true (w->p[i].published);
      g_string_truncate (w->p[i].log, 0);
    }
}

static void
world_clear (struct world *w)
{
  peer_clear (&w->p[0]);
  peer_clear (&w->p[1]);
  g_ptr_array_unref (w->bodies);
}

static uint64_t
say (struct peer *p, const char *to, const char *text)
{
  uint64_t ref = 0;

  g_assert_cmpint (
      sc_client_send (p->c, to, (const uint8_t *) text, strlen (text), &ref),
      ==, SC_OK);
  g_assert_cmpuint (ref, >, 0);
  return ref;
}

/* A send still waiting for a bundle has not left: a server answering it
 * breaks the protocol, and the application never hears "sent". */
static void
test_e2e_answer_before_send (void)
{
  struct world w;
  struct peer *a;
  uint64_t r1;
  struct sc_msg m;
  char *sent;

  world_init (&w);
  a = &w.p[0];
  a->defer = true;
  r1 = say (a, "bob", "waiting for a bundle");
  world_run (&w);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SENT;
  m.u.sent.ref = r1;
  m.u.sent.id = 99;
  m.u.sent.ts = 1;
  server_send (a->srv, &m);
  world_run (&w);
  sent = g_strdup_printf ("sent:%" G_GUINT64_FORMAT ";", r1);
  g_assert_null (strstr (a->log->str, sent));
  g_assert_cmpint (sc_client_state (a->c), ==, SC_CLIENT_CLOSED);
  g_free (sent);
  world_clear (&w);
}

/* Each send gets one answer: a second "sent" for a send already answered
 * is a protocol error, and the application hears "sent" once. */
static void
test_e2e_answer_twice (void)
{
  struct world w;
  struct peer *a;
  uint64_t r1;
  struct sc_msg m;
  char *sent;
  const char *first;

  world_init (&w);
  a = &w.p[0];
  r1 = say (a, "bob", "answered once");
  world_run (&w);
  sent = g_strdup_printf ("sent:%" G_GUINT64_FORMAT ";", r1);
  first = strstr (a->log->str, sent);
  g_assert_nonnull (first);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SENT;
  m.u.sent.ref = r1;
  m.u.sent.id = 99;
  m.u.sent.ts = 1;
  server_send (a->srv, &m);
  world_run (&w);
  g_assert_null (strstr (first + 1, sent));
  g_assert_cmpint (sc_client_state (a->c), ==, SC_CLIENT_CLOSED);
  g_free (sent);
  world_clear (&w);
}

static void
test_e2e_flow (void)
{
  struct world w;
  struct peer *a, *b;
  uint64_t r1, r2, r3;
  char *expect;

  world_init (&w);
  a = &w.p[0];
  b = &w.p[1];

  /* Two sends before the bundle is there: they wait, in order. */
  r1 = say (a, "bob", "secret number one");
  r2 = say (a, "bob", "secret number two");
  g_assert_cmpuint (r2, >, r1);
  world_run (&w);
  expect = g_strdup_printf ("ready:bob:0:-;sent:%" G_GUINT64_FORMAT
                            ";sent:%" G_GUINT64_FORMAT ";",
                            r1, r2);
  g_assert_cmpstr (a->log->str, ==, expect);
  g_free (expect);
  g_assert_cmpstr (b->log->str, ==,
                   "msg:alice:secret number one;"
                   "msg:alice:secret number two;");

  /* With a session, a send goes at once. */
  r3 = say (b, "alice", "and a secret reply");
  world_run (&w);
  expect = g_strdup_printf ("msg:alice:secret number one;"
                            "msg:alice:secret number two;"
                            "sent:%" G_GUINT64_FORMAT ";",
                            r3);
  g_assert_cmpstr (b->log->str, ==, expect);
  g_free (expect);
  g_assert_nonnull (strstr (a->log->str, "msg:bob:and a secret reply;"));

  /* The server saw only ciphertext. */
  g_assert_cmpuint (w.bodies->len, ==, 3);
  for (guint i = 0; i < w.bodies->len; i++)
    {
      const char *body = g_ptr_array_index (w.bodies, i);
      gsize len = 0;
      guchar *raw = g_base64_decode (body, &len);

      g_assert_cmpuint (len, >, 2);
      g_assert_cmpuint (raw[0], ==, SC_E2E_VERSION);
      g_assert_cmpuint (raw[1], ==,
                        i < 2 ? SC_E2E_KIND_PREKEY : SC_E2E_KIND_NORMAL);
      g_assert_null (g_strstr_len ((const char *) raw, (gssize) len, "secret"));
      g_free (raw);
    }

  /* A text over the end-to-end limit is refused up front. */
  {
    uint8_t *big = g_malloc0 (SC_E2E_CONTENT_MAX + 1);
    uint64_t ref = 7;

    g_assert_cmpint (
        sc_client_send (a->c, "bob", big, SC_E2E_CONTENT_MAX + 1, &ref), ==,
        SC_ERR_TOO_LARGE);
    g_assert_cmpuint (ref, ==, 0);
    g_free (big);
  }
  g_assert_cmpint (sc_client_fetch_keys (a->c, "bob"), ==, 1);
  g_assert_cmpint (sc_client_fetch_keys (a->c, "alice"), ==, SC_ERR_INVALID);
  world_clear (&w);
}

/* The server refuses the bundle: each waiting send gets that error with
 * its own ref, once. */
static void
test_e2e_bundle_refused (void)
{
  struct world w;
  struct peer *a;
  uint64_t r1, r2, r3;
  char *expect;

  world_init (&w);
  a = &w.p[0];
  r1 = say (a, "zed", "one");
  r2 = say (a, "zed", "two");
  r3 = say (a, "alice", "to myself");
  world_run (&w);
  expect = g_strdup_printf (
      "error:unknown_user:%" G_GUINT64_FORMAT
      ";error:unknown_user:%" G_GUINT64_FORMAT ";ready:zed:%d:unknown_user;"
      "error:self_message:%" G_GUINT64_FORMAT ";ready:alice:%d:self_message;",
      r1, r2, SC_ERR_NO_SESSION, r3, SC_ERR_NO_SESSION);
  g_assert_cmpstr (a->log->str, ==, expect);
  g_free (expect);
  g_assert_cmpuint (w.bodies->len, ==, 0);
  g_assert_cmpint (sc_client_state (a->c), ==, SC_CLIENT_READY);

  /* A bundle of a user who has published nothing. */
  peer_disconnect (&w.p[1]);
  g_hash_table_remove_all (w.p[1].files);
  w.p[1].published = false;
  g_string_truncate (a->log, 0);
  r1 = say (a, "bob", "anyone?");
  world_run (&w);
  expect = g_strdup_printf ("error:no_prekeys:%" G_GUINT64_FORMAT
                            ";ready:bob:%d:no_prekeys;",
                            r1, SC_ERR_NO_SESSION);
  g_assert_cmpstr (a->log->str, ==, expect);
  g_free (expect);

  /* Without one-time prekeys left the session still starts. */
  peer_connect (&w, &w.p[1], "bob");
  w.p[1].stingy = true;
  g_string_truncate (a->log, 0);
  r1 = say (a, "bob", "hello without opk");
  world_run (&w);
  g_assert_nonnull (strstr (w.p[1].log->str, "msg:alice:hello without opk;"));
  world_clear (&w);
}

/* A bundle with another identity for a known contact: identity_changed,
 * then each waiting send fails; nothing leaves until accepted. */
static void
test_e2e_identity_changed (void)
{
  struct world w;
  struct peer *a, *b;
  uint64_t r1, r2;
  char *expect;

  world_init (&w);
  a = &w.p[0];
  b = &w.p[1];
  say (a, "bob", "before");
  world_run (&w);
  say (b, "alice", "before too");
  world_run (&w);

  /* Bob reinstalls: new storage, new identity, new bundle. */
  peer_disconnect (b);
  g_hash_table_remove_all (b->files);
  peer_connect (&w, b, "bob");
  g_assert_cmpint (b->uploads, ==, 2);

  /* Alice's session is stale: Bob cannot decrypt, answers with a RESET
   * (invisible to both applications), and Alice's next send fetches the
   * new bundle. */
  g_string_truncate (a->log, 0);
  g_string_truncate (b->log, 0);
  r1 = say (a, "bob", "lost");
  world_run (&w);
  expect = g_strdup_printf ("sent:%" G_GUINT64_FORMAT ";", r1);
  g_assert_cmpstr (a->log->str, ==, expect);
  g_free (expect);
  expect = g_strdup_printf ("undecryptable:alice:%d;", SC_ERR_NO_SESSION);
  g_assert_cmpstr (b->log->str, ==, expect);
  g_free (expect);
  g_assert_cmpint (sc_e2e_has_session (a->e2e, "bob"), ==, 0);

  r1 = say (a, "bob", "are you bob?");
  r2 = say (a, "bob", "really?");
  world_run (&w);
  /* (the RESET Bob sent Alice is not shown to her application) */
  expect = g_strdup_printf (
      "sent:%" G_GUINT64_FORMAT ";changed:bob;failed:%" G_GUINT64_FORMAT
      ":bob:%d;failed:%" G_GUINT64_FORMAT ":bob:%d;ready:bob:%d:-;",
      r1 - 2, r1, SC_ERR_IDENTITY_CHANGED, r2, SC_ERR_IDENTITY_CHANGED,
      SC_ERR_IDENTITY_CHANGED);
  g_assert_cmpstr (a->log->str, ==, expect);
  g_free (expect);
  /* Nothing of them reached the server. */
  g_assert_cmpuint (w.bodies->len, ==, 4);

  g_assert_cmpint (sc_e2e_accept_identity (a->e2e, "bob"), ==, SC_OK);
  g_string_truncate (b->log, 0);
  say (a, "bob", "accepted");
  world_run (&w);
  g_assert_cmpstr (b->log->str, ==, "msg:alice:accepted;");
  world_clear (&w);
}

/* Bob receives a message from Alice's reinstalled client: warned first,
 * then the text; his sends are refused until he accepts. */
static void
test_e2e_peer_changed (void)
{
  struct world w;
  struct peer *a, *b;
  uint64_t ref = 0;

  world_init (&w);
  a = &w.p[0];
  b = &w.p[1];
  say (a, "bob", "hi");
  world_run (&w);
  peer_disconnect (a);
  g_hash_table_remove_all (a->files);
  peer_connect (&w, a, "alice");
  g_string_truncate (b->log, 0);
  say (a, "bob", "new phone");
  world_run (&w);
  g_assert_cmpstr (b->log->str, ==, "changed:alice;msg:alice:new phone;");
  g_assert_cmpint (
      sc_client_send (b->c, "alice", (const uint8_t *) "x", 1, &ref), ==,
      SC_ERR_IDENTITY_CHANGED);
  g_assert_cmpuint (ref, ==, 0);
  {
    size_t len = 1;

    sc_client_pending (b->c, &len);
    g_assert_cmpuint (len, ==, 0);
  }
  g_assert_cmpint (sc_e2e_accept_identity (b->e2e, "alice"), ==, SC_OK);
  g_string_truncate (a->log, 0);
  say (b, "alice", "ok then");
  world_run (&w);
  g_assert_cmpstr (a->log->str, ==, "msg:bob:ok then;");
  world_clear (&w);
}

/* Garbage bodies are reported, with the sender; the session survives. */
static void
test_e2e_undecryptable (void)
{
  struct world w;
  struct peer *a, *b;
  char *expect;

  world_init (&w);
  a = &w.p[0];
  b = &w.p[1];
  say (a, "bob", "first");
  world_run (&w);
  g_string_truncate (b->log, 0);
  /* Not an end-to-end message at all, then a forged NORMAL one: a
   * random ratchet key, N = PN = 0, random ciphertext and tag. */
  server_send_json (b->srv, "{\"type\":\"message\",\"id\":900,"
                            "\"from\":\"alice\",\"ts\":1,\"body\":\"aGk=\"}");
  {
    uint8_t forged[2 + SC_DR_HEADER_LEN + 32];
    char *b64;
    char *json;

    g_assert_cmpint (sc_random (forged, sizeof forged), ==, SC_OK);
    forged[0] = SC_E2E_VERSION;
    forged[1] = SC_E2E_KIND_NORMAL;
    memset (forged + 2 + 32, 0, 8);
    b64 = g_base64_encode (forged, sizeof forged);
    json = g_strdup_printf ("{\"type\":\"message\",\"id\":901,"
                            "\"from\":\"alice\",\"ts\":1,\"body\":\"%s\"}",
                            b64);
    server_send_json (b->srv, json);
    g_free (json);
    g_free (b64);
  }
  world_run (&w);
  expect = g_strdup_printf ("undecryptable:alice:%d;undecryptable:alice:%d;",
                            SC_ERR_UNSUPPORTED, SC_ERR_DECRYPT);
  g_assert_cmpstr (b->log->str, ==, expect);
  g_free (expect);
  g_assert_cmpint (sc_client_state (b->c), ==, SC_CLIENT_READY);
  g_string_truncate (b->log, 0);
  say (a, "bob", "second");
  world_run (&w);
  g_assert_cmpstr (b->log->str, ==, "msg:alice:second;");
  world_clear (&w);
}

/* A server that never holds enough keys gets a few uploads, not a loop. */
static void
test_e2e_upload_bounded (void)
{
  struct world w;
  struct peer *p;

  memset (&w, 0, sizeof w);
  w.now = 1700000000000;
  w.bodies = g_ptr_array_new_with_free_func (g_free);
  p = &w.p[0];
  p->stingy = true;
  peer_connect (&w, p, "alice");
  g_assert_cmpint (p->uploads, ==, SC_CLIENT_E2E_UPLOADS_MAX);
  g_assert_cmpint (p->keys_ready, ==, 1);
  g_assert_cmpint (p->keys_err, ==, SC_ERR_PROTOCOL);
  g_assert_cmpint (sc_client_state (p->c), ==, SC_CLIENT_READY);
  world_clear (&w);
}

/* A bundle nobody asked for, or for someone else, is a protocol error. */
static void
test_e2e_unrequested_bundle (void)
{
  struct world w;
  struct peer *a;
  struct sc_msg m;
  uint64_t ref;

  world_init (&w);
  a = &w.p[0];
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE;
  m.u.bundle.ref = 1;
  g_strlcpy (m.u.bundle.user, "bob", sizeof m.u.bundle.user);
  m.u.bundle.spk_id = 1;
  server_send (a->srv, &m);
  world_run (&w);
  g_assert_cmpint (a->closed, ==, 1);
  g_assert_cmpint (a->closed_err, ==, SC_ERR_PROTOCOL);
  world_clear (&w);

  /* The bundle of another user than the one asked for. */
  world_init (&w);
  a = &w.p[0];
  ref = say (a, "bob", "x");
  /* Intercept: answer the request ourselves. */
  {
    size_t len = 0;
    const uint8_t *out = sc_client_pending (a->c, &len);
    struct sc_msg req;

    g_byte_array_append (a->srv->in, out, (guint) len);
    sc_client_consume (a->c, len);
    server_expect (a->srv, SC_MSG_BUNDLE_REQUEST, &req);
    g_assert_cmpuint (req.u.bundle_request.id, ==, ref - 1);
    memset (&m, 0, sizeof m);
    m.type = SC_MSG_BUNDLE;
    m.u.bundle.ref = req.u.bundle_request.id;
    g_strlcpy (m.u.bundle.user, "carol", sizeof m.u.bundle.user);
    m.u.bundle.spk_id = 1;
    sc_msg_clear (&req);
    server_send (a->srv, &m);
  }
  world_run (&w);
  g_assert_cmpint (a->closed, ==, 1);
  g_assert_cmpint (a->closed_err, ==, SC_ERR_PROTOCOL);
  world_clear (&w);
}

/* Bob's bundle request for Alice is still out when Alice's first
 * message starts a session: Bob's waiting text goes on that session
 * rather than on a second X3DH. */
static void
test_e2e_session_meanwhile (void)
{
  struct world w;
  struct peer *a, *b;

  world_init (&w);
  a = &w.p[0];
  b = &w.p[1];
  b->defer = true;
  say (b, "alice", "from bob");
  world_run (&w);
  say (a, "bob", "from alice");
  world_run (&w);
  g_assert_cmpstr (b->log->str, ==, "msg:alice:from alice;");
  serve_deferred (&w, b);
  world_run (&w);
  g_assert_nonnull (strstr (a->log->str, "msg:bob:from bob;"));
  g_assert_cmpuint (w.bodies->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      gsize len = 0;
      guchar *raw = g_base64_decode (g_ptr_array_index (w.bodies, i), &len);

      g_assert_cmpuint (len, >, 2);
      g_assert_cmpuint (raw[1], ==,
                        i == 0 ? SC_E2E_KIND_PREKEY : SC_E2E_KIND_NORMAL);
      g_free (raw);
    }
  world_clear (&w);
}

/* On a long connection the signed prekey still rotates: the tick checks
 * the last status again every hour. */
static void
test_e2e_rotation_on_tick (void)
{
  struct world w;
  struct peer *a, *b;
  uint32_t spk;
  int64_t next;

  world_init (&w);
  a = &w.p[0];
  b = &w.p[1];
  spk = a->upload.u.prekeys_upload.spk_id;
  next = sc_client_tick (a->c, w.now);
  g_assert_cmpint (next, <=, w.now + SC_CLIENT_E2E_CHECK_MS);
  /* Within the week: nothing to publish. */
  w.now += SC_CLIENT_E2E_CHECK_MS;
  sc_client_tick (a->c, w.now);
  world_run (&w);
  g_assert_cmpint (a->uploads, ==, 1);
  w.now += 7 * 24 * 3600 * 1000LL;
  sc_client_tick (a->c, w.now);
  world_run (&w);
  g_assert_cmpint (a->uploads, ==, 2);
  g_assert_cmpuint (a->upload.u.prekeys_upload.spk_id, !=, spk);
  g_assert_cmpint (sc_client_state (a->c), ==, SC_CLIENT_READY);
  /* Bob starts a session on the new key. */
  say (b, "alice", "after the rotation");
  world_run (&w);
  g_assert_nonnull (strstr (a->log->str, "msg:bob:after the rotation;"));
  world_clear (&w);
}

/* Without an end-to-end manager a prekey status is ignored and bodies
 * are passed through as before. */
static void
test_prekey_status_ignored (struct fixture *f, gconstpointer data)
{
  do_login (f);
  server_send_json (f->srv, "{\"type\":\"prekey_status\",\"identity\":\"\","
                            "\"spk_id\":0,\"opks\":0}");
  g_assert_cmpint (to_client (f), ==, SC_OK);
  g_assert_cmpint (sc_client_state (f->c), ==, SC_CLIENT_READY);
  g_assert_cmpuint (pending_len (f), ==, 0);
  g_assert_null (sc_client_e2e (f->c));
  g_assert_cmpint (sc_client_fetch_keys (f->c, "bob"), ==, SC_ERR_STATE);
}

#define ADD(path, fn)                                                          \
  g_test_add (path, struct fixture, NULL, fixture_setup, fn, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  ADD ("/common/client/login", test_login);
  ADD ("/common/client/key-rejected", test_key_rejected);
  ADD ("/common/client/unsupported-version", test_unsupported_version);
  ADD ("/common/client/auth-failed", test_auth_failed);
  ADD ("/common/client/events", test_events);
  ADD ("/common/client/presence-list/chunks", test_presence_chunks);
  g_test_add_func ("/common/client/recv/bad-server-messages",
                   test_bad_server_messages);
  ADD ("/common/client/recv/message-before-login", test_message_before_login);
  ADD ("/common/client/recv/wrong-login-user", test_wrong_login_user);
  ADD ("/common/client/recv/bit-flip", test_bit_flip);
  ADD ("/common/client/recv/bit-flip-handshake", test_bit_flip_handshake);
  ADD ("/common/client/recv/zero-length-frame", test_zero_length_frame);
  ADD ("/common/client/recv/byte-at-a-time", test_byte_at_a_time);
  g_test_add_func ("/common/client/recv/every-split", test_every_split);
  ADD ("/common/client/recv/large-frame", test_large_frame);
  ADD ("/common/client/tick/ping-and-dead", test_ping_and_dead);
  ADD ("/common/client/tick/send-liveness", test_send_liveness);
  ADD ("/common/client/tick/not-before-login", test_no_ping_before_login);
  ADD ("/common/client/send/validation", test_send_validation);
  ADD ("/common/client/send/max-frame", test_max_frame);
  ADD ("/common/client/send/output-limit", test_output_limit);
  ADD ("/common/client/quit", test_quit);
  ADD ("/common/client/reply-from-callback", test_reply_from_callback);
  g_test_add_func ("/common/client/new/validation", test_new_validation);
  ADD ("/common/client/prekey-status-ignored", test_prekey_status_ignored);
  g_test_add_func ("/common/client/e2e/flow", test_e2e_flow);
  g_test_add_func ("/common/client/e2e/answer-before-send",
                   test_e2e_answer_before_send);
  g_test_add_func ("/common/client/e2e/answer-twice", test_e2e_answer_twice);
  g_test_add_func ("/common/client/e2e/bundle-refused",
                   test_e2e_bundle_refused);
  g_test_add_func ("/common/client/e2e/identity-changed",
                   test_e2e_identity_changed);
  g_test_add_func ("/common/client/e2e/peer-changed", test_e2e_peer_changed);
  g_test_add_func ("/common/client/e2e/undecryptable", test_e2e_undecryptable);
  g_test_add_func ("/common/client/e2e/session-meanwhile",
                   test_e2e_session_meanwhile);
  g_test_add_func ("/common/client/e2e/rotation-on-tick",
                   test_e2e_rotation_on_tick);
  g_test_add_func ("/common/client/e2e/upload-bounded",
                   test_e2e_upload_bounded);
  g_test_add_func ("/common/client/e2e/unrequested-bundle",
                   test_e2e_unrequested_bundle);

  return g_test_run ();
}
