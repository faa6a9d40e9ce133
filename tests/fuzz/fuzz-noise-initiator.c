/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The client's side of a connection, as securechat-cli and the desktop
 * app run it (sc_client): Noise_NX as the initiator (handshake message 2,
 * the server's static key and its server_hello), then every message a
 * server can send, with end-to-end decryption of message bodies and
 * sessions started from bundles.
 *
 * The world is made once, from fixed seeds: alice (the client's account),
 * who published prekeys and has a session with bob; bob and carol. The
 * server's static key is fixed and pinned. Before each input alice's
 * storage goes back to its snapshot. Input: one byte of flags (bit 0: no
 * end-to-end encryption), then records (fuzz.h):
 *   op 0  data as raw bytes from the server (any time)
 *   op 1  the harness's server reads the client's message 1 and answers
 *         with message 2 carrying data (a server_hello, or anything)
 *   op 2  the harness's server seals data as a transport frame
 *   op 3  time passes (BE16 data x 10 ms), then sc_client_tick
 *   op 4  the application acts: data[0] picks send / who / fetch_keys /
 *         quit, data[1] the peer, the rest is the text
 * Each op draws its keys from a stream seeded by its index.
 *
 * Checked: every frame the client writes opens on the server's side and
 * parses with the server's parser (the client never says what the server
 * must refuse); the session closes once, with "closed" called once; the
 * server key is offered with its fingerprint and a wrong one is refused;
 * callbacks get valid names and ids; the next deadline is in the future. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/base64.h"
#include "securechat/channel.h"
#include "securechat/client.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/fingerprint.h"
#include "securechat/frame.h"
#include "securechat/init.h"

#define OPS_MAX  64
#define BUF_CAP  (SC_FRAME_HEADER_LEN + SC_FRAME_MAX)
#define PASSWORD "correct horse battery"

enum
{
  OP_RAW,
  OP_HANDSHAKE,
  OP_SEAL,
  OP_TICK,
  OP_APP,
  N_OPS
};

enum
{
  APP_SEND,
  APP_WHO,
  APP_FETCH,
  APP_QUIT,
  N_APPS
};

static const char *const peers[] = { "bob", "carol", "dave", "alice" };

static struct fuzz_party alice, bob, carol;
static struct fuzz_mem *snapshot[3];
static uint8_t server_priv[32], server_pub[32];
static uint8_t *pt, *frame;

struct run
{
  struct sc_client *c;
  struct sc_channel *srv; /* the harness's server, from op 1 on */
  int64_t now;
  unsigned closed_calls;
  bool key_offered;
  bool key_refused;
  /* For the seed generator: what the ops fed the client, and the last
   * message the client sent. */
  struct fuzz_buf *fed;
  struct sc_msg last;
};

/* ---- callbacks ---- */

static int
verify_server_key_cb (void *ud, const uint8_t pub[32], const char *fp)
{
  struct run *r = ud;
  char want[SC_FINGERPRINT_LEN + 1];

  FUZZ_CHECK (!r->key_offered);
  r->key_offered = true;
  FUZZ_CHECK (sc_fingerprint (pub, want) == SC_OK);
  FUZZ_CHECK (strcmp (fp, want) == 0);
  FUZZ_CHECK (strcmp (sc_client_server_fingerprint (r->c), fp) == 0);
  r->key_refused = memcmp (pub, server_pub, 32) != 0;
  return r->key_refused ? -1 : 0;
}

static void
check_name (const char *name)
{
  FUZZ_CHECK (name != NULL);
  FUZZ_CHECK (sc_username_validate (name, strlen (name)) == SC_OK);
}

static void
logged_in_cb (void *ud, const char *user)
{
  FUZZ_CHECK (strcmp (user, "alice") == 0);
}

static void
presence_list_cb (void *ud, const char *const *users, size_t n)
{
  FUZZ_CHECK (n <= SC_CLIENT_PRESENCE_MAX);
  for (size_t i = 0; i < n; i++)
    check_name (users[i]);
}

static void
presence_cb (void *ud, const char *user, bool online)
{
  check_name (user);
}

static void
message_cb (void *ud,
            uint64_t id,
            const char *from,
            int64_t ts,
            const uint8_t *body,
            size_t len)
{
  check_name (from);
  FUZZ_CHECK (id >= 1 && id <= SC_ID_MAX);
  FUZZ_CHECK (ts >= 0);
  FUZZ_CHECK (len <= SC_BODY_MAX + 1);
  fuzz_trace ("  message from %s: %zu bytes", from, len);
}

static void
sent_cb (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  FUZZ_CHECK (ref >= 1 && id >= 1);
  fuzz_trace ("  sent %llu", (unsigned long long) ref);
}

static void
error_cb (void *ud, const struct sc_msg_error *e)
{
  FUZZ_CHECK ((unsigned) e->code < SC_CODE_N_CODES);
  fuzz_trace ("  error %s", sc_code_name (e->code));
}

static void
closed_cb (void *ud, int err, enum sc_code code, const char *message)
{
  struct run *r = ud;

  r->closed_calls++;
  FUZZ_CHECK (r->closed_calls == 1);
  FUZZ_CHECK (message != NULL);
  fuzz_trace ("  closed: %s (%s)", sc_strerror (err), message);
}

static void
keys_ready_cb (void *ud, int err)
{
  fuzz_trace ("  keys ready: %s", sc_strerror (err));
}

static void
identity_changed_cb (void *ud, const char *peer)
{
  check_name (peer);
}

static void
undecryptable_cb (void *ud, uint64_t id, const char *from, int64_t ts, int err)
{
  check_name (from);
  FUZZ_CHECK (err < 0);
  fuzz_trace ("  undecryptable from %s: %s", from, sc_strerror (err));
}

static void
send_failed_cb (void *ud, uint64_t ref, const char *to, int err)
{
  check_name (to);
  FUZZ_CHECK (err < 0);
}

static void
session_ready_cb (void *ud,
                  const char *peer,
                  int err,
                  const struct sc_msg_error *e)
{
  check_name (peer);
  fuzz_trace ("  session with %s: %s", peer, sc_strerror (err));
}

static const struct sc_client_callbacks callbacks = {
  .verify_server_key = verify_server_key_cb,
  .logged_in = logged_in_cb,
  .presence_list = presence_list_cb,
  .presence = presence_cb,
  .message = message_cb,
  .sent = sent_cb,
  .error = error_cb,
  .closed = closed_cb,
  .keys_ready = keys_ready_cb,
  .identity_changed = identity_changed_cb,
  .undecryptable = undecryptable_cb,
  .send_failed = send_failed_cb,
  .session_ready = session_ready_cb,
};

/* ---- the world ---- */

static void
world_init (void)
{
  fuzz_party_init (&alice, "alice", "initiator");
  fuzz_party_init (&bob, "bob", "initiator");
  fuzz_party_init (&carol, "carol", "initiator");
  fuzz_party_converse (&alice, &bob, "initiator-world");
  for (int i = 0; i < 3; i++)
    snapshot[i] = fuzz_mem_new ();
  fuzz_mem_copy (snapshot[0], alice.mem);
  fuzz_mem_copy (snapshot[1], bob.mem);
  fuzz_mem_copy (snapshot[2], carol.mem);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  sc_init ();
  fuzz_server_key (server_priv, server_pub);
  pt = malloc (BUF_CAP);
  frame = malloc (BUF_CAP);
  if (pt == NULL || frame == NULL)
    fuzz_fail ("out of memory");
  world_init ();
  return 0;
}

/* ---- one run ---- */

static void
feed (struct run *r, const uint8_t *bytes, size_t len)
{
  int rc;

  if (r->fed != NULL)
    fuzz_buf_put (r->fed, bytes, len);
  if (sc_client_state (r->c) == SC_CLIENT_CLOSED)
    return;
  rc = sc_client_recv (r->c, bytes, len, r->now);
  fuzz_trace ("  client takes %zu bytes: %s", len, sc_strerror (rc));
  if (rc < 0)
    FUZZ_CHECK (sc_client_state (r->c) == SC_CLIENT_CLOSED);
}

/* What the client queued: read on the server's side when there is one. */
static void
drain (struct run *r)
{
  const uint8_t *p;
  size_t len = 0, off = 0;

  p = sc_client_pending (r->c, &len);
  FUZZ_CHECK (len <= SC_CLIENT_OUT_MAX);
  /* A refused server key ends everything before the login leaves. */
  if (r->key_refused)
    FUZZ_CHECK (sc_client_state (r->c) == SC_CLIENT_CLOSED && len == 0);
  if (len == 0)
    return;
  if (r->srv == NULL || !sc_channel_established (r->srv))
    {
      /* Message 1 waits for op 1; after a raw message 2 nobody can read
       * what the client says. */
      if (sc_client_state (r->c) != SC_CLIENT_HANDSHAKE)
        sc_client_consume (r->c, len);
      return;
    }
  while (off < len)
    {
      const uint8_t *body = NULL;
      size_t body_len = 0, plen = 0;
      long n =
          sc_frame_next (p + off, len - off, SC_FRAME_MAX, &body, &body_len);
      int rc;

      /* The client queues whole frames only. */
      FUZZ_CHECK (n > 0);
      rc = sc_channel_open (r->srv, body, body_len, pt, BUF_CAP, &plen);
      if (rc != SC_OK)
        fuzz_fail ("the server cannot open a frame of the client: %s",
                   sc_strerror (rc));
      sc_msg_clear (&r->last);
      rc = sc_msg_parse (pt, plen, &r->last);
      if (rc != SC_OK)
        fuzz_fail ("the client sent what the server's parser refuses (%s): "
                   "%.*s",
                   sc_strerror (rc), (int) plen, (const char *) pt);
      fuzz_trace ("  client says %s", sc_msg_type_name (r->last.type));
      sc_wipe (pt, plen);
      off += (size_t) n;
    }
  sc_client_consume (r->c, len);
}

static void
op_handshake (struct run *r, const uint8_t *data, size_t len)
{
  const uint8_t *p, *body = NULL;
  size_t pending = 0, body_len = 0, plen = 0, out_len = 0;
  struct sc_msg hello;
  long n;
  int rc;

  if (r->srv != NULL)
    return;
  p = sc_client_pending (r->c, &pending);
  n = sc_frame_next (p, pending, SC_FRAME_MAX, &body, &body_len);
  if (n <= 0)
    return;
  FUZZ_CHECK (sc_channel_new (SC_NOISE_RESPONDER, server_priv, &r->srv) ==
              SC_OK);
  rc = sc_channel_read_handshake (r->srv, body, body_len, pt, BUF_CAP, &plen);
  if (rc != SC_OK)
    fuzz_fail ("the client's message 1 does not read: %s", sc_strerror (rc));
  FUZZ_CHECK (sc_msg_parse (pt, plen, &hello) == SC_OK);
  FUZZ_CHECK (hello.type == SC_MSG_CLIENT_HELLO);
  FUZZ_CHECK (hello.u.client_hello.n_versions == 1 &&
              hello.u.client_hello.versions[0] == SC_PROTOCOL_VERSION);
  sc_msg_clear (&hello);
  sc_client_consume (r->c, (size_t) n);
  rc = sc_channel_write_handshake (r->srv, data, len, frame, BUF_CAP, &out_len);
  if (rc != SC_OK)
    {
      FUZZ_CHECK (rc == SC_ERR_TOO_LARGE);
      return;
    }
  feed (r, frame, out_len);
}

static void
op_seal (struct run *r, const uint8_t *data, size_t len)
{
  size_t out_len = 0;

  if (r->srv == NULL || !sc_channel_established (r->srv) ||
      len > SC_CHANNEL_MAX_PLAINTEXT)
    return;
  FUZZ_CHECK (sc_channel_seal (r->srv, data, len, frame, BUF_CAP, &out_len) ==
              SC_OK);
  feed (r, frame, out_len);
}

static void
op_app (struct run *r, const uint8_t *data, size_t len)
{
  const char *peer;
  uint64_t ref = 0;
  int rc;

  if (len < 2)
    return;
  peer = peers[data[1] % (sizeof peers / sizeof peers[0])];
  switch (data[0] % N_APPS)
    {
    case APP_SEND:
      rc = sc_client_send (r->c, peer, data + 2, len - 2, &ref);
      fuzz_trace ("  send to %s: %s, ref %llu", peer, sc_strerror (rc),
                  (unsigned long long) ref);
      FUZZ_CHECK ((rc == SC_OK) == (ref != 0));
      break;
    case APP_WHO:
      rc = sc_client_who (r->c);
      break;
    case APP_FETCH:
      rc = sc_client_fetch_keys (r->c, peer);
      break;
    default:
      rc = sc_client_quit (r->c);
      break;
    }
  (void) rc;
}

static void
run_op (struct run *r, uint8_t op, const uint8_t *data, size_t len)
{
  switch (op % N_OPS)
    {
    case OP_RAW:
      feed (r, data, len);
      break;
    case OP_HANDSHAKE:
      op_handshake (r, data, len);
      break;
    case OP_SEAL:
      op_seal (r, data, len);
      break;
    case OP_TICK:
      {
        int64_t next;

        r->now += len >= 2 ? (int64_t) ((data[0] << 8) | data[1]) * 10 : 1000;
        next = sc_client_tick (r->c, r->now);
        FUZZ_CHECK (next > r->now);
      }
      break;
    default:
      op_app (r, data, len);
      break;
    }
  drain (r);
}

static void
run_start (struct run *r, uint8_t flags)
{
  struct sc_client_config cfg = {
    .user = "alice",
    .password = PASSWORD,
    .agent = "securechat-fuzz/1",
    .e2e = (flags & 1) ? NULL : alice.e2e,
  };

  memset (r, 0, sizeof *r);
  r->now = FUZZ_NOW_MS;
  fuzz_mem_copy (alice.mem, snapshot[0]);
  fuzz_reseed ("initiator-start", 0);
  FUZZ_CHECK (sc_client_new (&cfg, &callbacks, r, &r->c) == SC_OK);
  FUZZ_CHECK (sc_client_start (r->c, r->now) == SC_OK);
}

static void
run_end (struct run *r)
{
  sc_client_free (r->c);
  sc_channel_free (r->srv);
  sc_msg_clear (&r->last);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct fuzz_reader rd;
  struct run r;
  const uint8_t *d;
  size_t len;
  uint8_t op;

  if (size < 1)
    return 0;
  run_start (&r, data[0]);
  rd.p = data + 1;
  rd.left = size - 1;
  for (uint32_t i = 0; i < OPS_MAX && fuzz_next (&rd, &op, &d, &len); i++)
    {
      fuzz_reseed ("initiator", i);
      fuzz_trace ("step %u: op %u, %zu bytes", i, op % N_OPS, len);
      run_op (&r, op, d, len);
    }
  run_end (&r);
  return 0;
}

/* ---- seeds ---- */

/* A seed made by running it: each op is recorded and run as the harness
 * will, and its raw twin records the bytes each op fed the client. */
struct gen
{
  struct run r;
  struct fuzz_buf script;
  struct fuzz_buf raw;
  struct fuzz_buf fed;
  uint32_t step;
};

static void
gen_start (struct gen *g, uint8_t flags)
{
  memset (g, 0, sizeof *g);
  fuzz_buf_u8 (&g->script, flags);
  fuzz_buf_u8 (&g->raw, flags);
  run_start (&g->r, flags);
  g->r.fed = &g->fed;
}

static void
gen_op (struct gen *g, uint8_t op, const void *data, size_t len)
{
  fuzz_buf_record (&g->script, op, data, len);
  g->fed.len = 0;
  sc_msg_clear (&g->r.last);
  g->r.last.type = SC_MSG_N_TYPES; /* nothing said yet */
  fuzz_reseed ("initiator", g->step++);
  run_op (&g->r, op, data, len);
  if (op == OP_HANDSHAKE || op == OP_SEAL || op == OP_RAW)
    fuzz_buf_record (&g->raw, OP_RAW, g->fed.p, g->fed.len);
  else
    fuzz_buf_record (&g->raw, op, data, len);
}

static void
gen_str (struct gen *g, uint8_t op, const char *s)
{
  gen_op (g, op, s, strlen (s));
}

static void
gen_msg (struct gen *g, uint8_t op, const struct sc_msg *m)
{
  char *json = NULL;
  size_t len = 0;

  if (sc_msg_encode (m, &json, &len) != SC_OK)
    fuzz_fail ("seed message");
  gen_op (g, op, json, len);
  free (json);
}

static void
gen_app (struct gen *g, int app, int peer, const char *text)
{
  struct fuzz_buf b = { 0 };

  fuzz_buf_u8 (&b, (uint8_t) app);
  fuzz_buf_u8 (&b, (uint8_t) peer);
  fuzz_buf_put (&b, text, strlen (text));
  gen_op (g, OP_APP, b.p, b.len);
  fuzz_buf_free (&b);
}

/* The last thing the client said must be of this type. */
static const struct sc_msg *
gen_said (struct gen *g, enum sc_msg_type type)
{
  if (g->r.last.type != type)
    fuzz_fail ("seed: the client said %s, not %s",
               g->r.last.type == SC_MSG_N_TYPES
                   ? "nothing"
                   : sc_msg_type_name (g->r.last.type),
               sc_msg_type_name (type));
  return &g->r.last;
}

static void
gen_end (struct gen *g, const char *name, const char *raw_name)
{
  run_end (&g->r);
  fuzz_buf_emit (&g->script, name);
  if (raw_name != NULL)
    fuzz_buf_emit (&g->raw, raw_name);
  fuzz_buf_free (&g->script);
  fuzz_buf_free (&g->raw);
  fuzz_buf_free (&g->fed);
}

static void
server_hello (struct gen *g)
{
  struct sc_msg m;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SERVER_HELLO;
  m.u.server_hello.version = SC_PROTOCOL_VERSION;
  strcpy (m.u.server_hello.agent, "securechatd/0.1.0");
  m.u.server_hello.max_frame = SC_FRAME_MAX;
  m.u.server_hello.idle_timeout = 90;
  gen_msg (g, OP_HANDSHAKE, &m);
  gen_said (g, SC_MSG_LOGIN);
}

/* Handshake, login, and the prekey exchange a server starts with. */
static void
login (struct gen *g, bool e2e)
{
  struct sc_msg m;

  server_hello (g);
  gen_str (g, OP_SEAL, "{\"type\":\"login_ok\",\"user\":\"alice\"}");
  if (!e2e)
    return;
  gen_str (g, OP_SEAL,
           "{\"type\":\"prekey_status\",\"identity\":\"\",\"spk_id\":0,"
           "\"opks\":0}");
  gen_said (g, SC_MSG_PREKEYS_UPLOAD);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PREKEY_STATUS;
  m.u.prekey_status.has_identity = true;
  memcpy (m.u.prekey_status.identity, g->r.last.u.prekeys_upload.identity,
          SC_IDENTITY_WIRE_LEN);
  m.u.prekey_status.spk_id = g->r.last.u.prekeys_upload.spk_id;
  m.u.prekey_status.opks = SC_E2E_OPK_TARGET;
  gen_msg (g, OP_SEAL, &m);
}

/* A "message" from `from` with body bytes. */
static void
deliver (struct gen *g,
         uint64_t id,
         const char *from,
         const uint8_t *body,
         size_t len)
{
  struct sc_msg m;
  char *b64 = malloc (SC_BASE64_ENCODED_LEN (len) + 1);

  if (b64 == NULL ||
      sc_base64_encode (body, len, b64, SC_BASE64_ENCODED_LEN (len) + 1) !=
          SC_OK)
    fuzz_fail ("seed body");
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_MESSAGE;
  m.u.message.id = id;
  snprintf (m.u.message.from, sizeof m.u.message.from, "%s", from);
  m.u.message.ts = FUZZ_NOW_MS + (int64_t) id;
  m.u.message.body = b64;
  m.u.message.body_len = SC_BASE64_ENCODED_LEN (len);
  gen_msg (g, OP_SEAL, &m);
  free (b64);
}

static void
sent (struct gen *g, uint64_t ref)
{
  char text[128];

  snprintf (text, sizeof text,
            "{\"type\":\"sent\",\"ref\":%llu,\"id\":%llu,\"ts\":%lld}",
            (unsigned long long) ref, (unsigned long long) (1000 + ref),
            (long long) FUZZ_NOW_MS);
  gen_str (g, OP_SEAL, text);
}

static uint32_t enc_step;

/* p's end-to-end body to alice, drawn from the generator's own stream. */
static void
body_from (struct fuzz_party *p, const char *text, uint8_t **m, size_t *len)
{
  fuzz_reseed ("initiator-gen", enc_step++);
  fuzz_party_encrypt (p, "alice", text, m, len);
}

static void
gen_session (void)
{
  struct gen g;
  struct sc_msg m;

  /* Logging in: presence in two chunks, events, a ping, a bye. */
  gen_start (&g, 0);
  login (&g, true);
  gen_str (&g, OP_SEAL,
           "{\"type\":\"presence_list\",\"users\":[\"bob\",\"carol\"],"
           "\"more\":true}");
  gen_str (&g, OP_SEAL,
           "{\"type\":\"presence_list\",\"users\":[\"dave\"],\"more\":false}");
  /* A long list: two full chunks and a last one. */
  for (int chunk = 0; chunk < 3; chunk++)
    {
      static const char head[] = "{\"type\":\"presence_list\",\"users\":[";
      const char *tail = chunk < 2 ? "],\"more\":true}" : "],\"more\":false}";
      struct fuzz_buf b = { 0 };
      char user[32];

      fuzz_buf_put (&b, head, strlen (head));
      for (int i = 0; i < (chunk < 2 ? SC_PRESENCE_CHUNK : 3); i++)
        {
          int n = snprintf (user, sizeof user, "%s\"u%d.%d\"", i > 0 ? "," : "",
                            chunk, i);

          fuzz_buf_put (&b, user, (size_t) n);
        }
      fuzz_buf_put (&b, tail, strlen (tail));
      gen_op (&g, OP_SEAL, b.p, b.len);
      fuzz_buf_free (&b);
    }
  gen_str (&g, OP_SEAL,
           "{\"type\":\"presence\",\"user\":\"bob\",\"status\":\"offline\"}");
  gen_str (&g, OP_SEAL, "{\"type\":\"ping\"}");
  gen_said (&g, SC_MSG_PONG);
  /* The clock for what was queued without a time, then 30 s: a ping. */
  gen_op (&g, OP_TICK, "\0\0", 2);
  gen_op (&g, OP_TICK, "\x0b\xb8", 2);
  gen_said (&g, SC_MSG_PING);
  gen_str (&g, OP_SEAL, "{\"type\":\"pong\"}");
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BYE;
  m.u.bye.code = SC_CODE_SERVER_SHUTDOWN;
  strcpy (m.u.bye.message, "server is shutting down");
  gen_msg (&g, OP_SEAL, &m);
  gen_end (&g, "login-presence-bye", "raw-login-presence-bye");
}

static void
gen_messages (void)
{
  struct sc_msg_bundle bundle;
  struct gen g;
  uint8_t *m[3];
  size_t ml[3];

  fuzz_mem_copy (bob.mem, snapshot[1]);
  fuzz_mem_copy (carol.mem, snapshot[2]);
  body_from (&bob, "hi alice", &m[0], &ml[0]);
  fuzz_reseed ("initiator-gen", enc_step++);
  fuzz_party_bundle (&alice, 0, 1, &bundle);
  if (sc_e2e_start_session (carol.e2e, "alice", &bundle, FUZZ_NOW_MS) != SC_OK)
    fuzz_fail ("seed: carol cannot start");
  body_from (&carol, "hi, carol here", &m[1], &ml[1]);
  body_from (&bob, "later", &m[2], &ml[2]);

  gen_start (&g, 0);
  login (&g, true);
  deliver (&g, 1, "bob", m[0], ml[0]);
  deliver (&g, 2, "carol", m[1], ml[1]);
  /* Junk from dave: undecryptable, and the client asks for a reset. */
  deliver (&g, 3, "dave", (const uint8_t *) "\x01\x02junk", 6);
  sent (&g, gen_said (&g, SC_MSG_SEND)->u.send.id);
  deliver (&g, 4, "bob", m[0], ml[0]); /* a duplicate */
  deliver (&g, 5, "bob", m[2], ml[2]);
  /* bob asks for a reset; a body of a version nobody speaks. */
  deliver (&g, 6, "bob", (const uint8_t *) "\x01\x03", 2);
  gen_str (&g, OP_SEAL,
           "{\"type\":\"message\",\"id\":7,\"from\":\"bob\",\"ts\":1,"
           "\"body\":\"AAAA\"}");
  gen_end (&g, "messages", "raw-messages");
  for (int i = 0; i < 3; i++)
    free (m[i]);

  /* A content type the client does not know, and bob with a new identity
   * (reinstalled, or someone else under his name). */
  {
    struct fuzz_party bob2;

    fuzz_mem_copy (bob.mem, snapshot[1]);
    fuzz_reseed ("initiator-gen", enc_step++);
    if (sc_e2e_encrypt (bob.e2e, "alice", 42, (const uint8_t *) "?", 1, &m[0],
                        &ml[0]) != SC_OK)
      fuzz_fail ("seed: bob cannot encrypt");
    fuzz_party_init (&bob2, "bob", "initiator-reinstalled");
    fuzz_reseed ("initiator-gen", enc_step++);
    fuzz_party_bundle (&alice, 2, 1, &bundle);
    if (sc_e2e_start_session (bob2.e2e, "alice", &bundle, FUZZ_NOW_MS) != SC_OK)
      fuzz_fail ("seed: the new bob cannot start");
    body_from (&bob2, "new phone", &m[1], &ml[1]);
    fuzz_party_clear (&bob2);
    gen_start (&g, 0);
    login (&g, true);
    deliver (&g, 1, "bob", m[0], ml[0]);
    deliver (&g, 2, "bob", m[1], ml[1]);
    gen_app (&g, APP_SEND, 0, "is that you?");
    gen_end (&g, "messages-new-identity", NULL);
    free (m[0]);
    free (m[1]);
  }
}

static void
gen_sends (void)
{
  struct sc_msg_bundle b;
  struct sc_msg m;
  struct gen g;
  uint64_t req;

  gen_start (&g, 0);
  login (&g, true);
  gen_app (&g, APP_SEND, 0, "hi bob");
  sent (&g, gen_said (&g, SC_MSG_SEND)->u.send.id);
  /* carol: no session yet, so her bundle is fetched first. */
  gen_app (&g, APP_SEND, 1, "hello carol");
  req = gen_said (&g, SC_MSG_BUNDLE_REQUEST)->u.bundle_request.id;
  gen_app (&g, APP_SEND, 1, "and again");
  fuzz_party_bundle (&carol, 1, req, &b);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE;
  m.u.bundle = b;
  gen_msg (&g, OP_SEAL, &m);
  sent (&g, req + 1);
  sent (&g, req + 2);
  /* dave does not exist. */
  gen_app (&g, APP_SEND, 2, "anyone?");
  req = gen_said (&g, SC_MSG_BUNDLE_REQUEST)->u.bundle_request.id;
  {
    char text[160];

    snprintf (text, sizeof text,
              "{\"type\":\"error\",\"code\":\"unknown_user\",\"message\":"
              "\"no such user\",\"ref\":%llu}",
              (unsigned long long) req);
    gen_str (&g, OP_SEAL, text);
  }
  gen_app (&g, APP_FETCH, 1, "");
  gen_app (&g, APP_SEND, 3, "to myself");
  gen_app (&g, APP_WHO, 0, "");
  gen_said (&g, SC_MSG_WHO);
  gen_str (&g, OP_SEAL,
           "{\"type\":\"presence_list\",\"users\":[],\"more\":false}");
  gen_app (&g, APP_QUIT, 0, "");
  gen_said (&g, SC_MSG_BYE);
  gen_end (&g, "sends-and-bundles", NULL);
}

static void
gen_plain (void)
{
  struct gen g;

  gen_start (&g, 1);
  login (&g, false);
  deliver (&g, 1, "bob", (const uint8_t *) "plain text", 10);
  gen_app (&g, APP_SEND, 0, "plain reply");
  sent (&g, gen_said (&g, SC_MSG_SEND)->u.send.id);
  gen_str (&g, OP_SEAL,
           "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"\","
           "\"retry_after\":1000}");
  gen_op (&g, OP_TICK, "\0\0", 2);
  gen_op (&g, OP_TICK, "\xff\xff", 2); /* 655 s: the client pings */
  gen_said (&g, SC_MSG_PING);
  gen_op (&g, OP_TICK, "\xff\xff", 2); /* no pong in time: closed */
  gen_end (&g, "plain-bodies-timeout", "raw-plain-bodies-timeout");
}

/* Servers that misbehave, one way each. */
static void
gen_bad (void)
{
  static const struct
  {
    const char *name;
    const char *hello; /* NULL: the usual server_hello */
    const char *then;
  } cases[] = {
    { "bad-no-common-version",
      "{\"type\":\"error\",\"code\":\"unsupported_version\",\"message\":\"\"}",
      NULL },
    { "bad-other-version",
      "{\"type\":\"server_hello\",\"version\":2,\"agent\":\"\","
      "\"max_frame\":65535,\"idle_timeout\":90}",
      NULL },
    { "bad-hello-limits",
      "{\"type\":\"server_hello\",\"version\":1,\"agent\":\"\","
      "\"max_frame\":64,\"idle_timeout\":1}",
      "{\"type\":\"login_ok\",\"user\":\"alice\"}" },
    { "bad-not-hello", "{\"type\":\"ping\"}", NULL },
    { "bad-login-as-other", NULL, "{\"type\":\"login_ok\",\"user\":\"bob\"}" },
    { "bad-message-before-login", NULL,
      "{\"type\":\"message\",\"id\":1,\"from\":\"bob\",\"ts\":1,"
      "\"body\":\"\"}" },
    { "bad-sent-not-sent", NULL,
      "{\"type\":\"sent\",\"ref\":1,\"id\":1,\"ts\":1}" },
    { "bad-client-message", NULL, "{\"type\":\"who\"}" },
    { "bad-bundle-not-asked", NULL,
      "{\"type\":\"bundle\",\"ref\":1,\"user\":\"bob\",\"identity\":\"\","
      "\"spk_id\":1,\"spk\":\"\",\"spk_sig\":\"\"}" },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct gen g;

      gen_start (&g, 0);
      if (cases[i].hello != NULL)
        gen_str (&g, OP_HANDSHAKE, cases[i].hello);
      else
        server_hello (&g);
      if (cases[i].then != NULL)
        gen_str (&g, OP_SEAL, cases[i].then);
      gen_end (&g, cases[i].name, NULL);
    }

  /* Another server's key: the client refuses it before the password. */
  {
    struct fuzz_buf b = { 0 };
    struct run r;
    static const char hello[] = "{\"type\":\"server_hello\",\"version\":1,"
                                "\"agent\":\"\",\"max_frame\":65535,"
                                "\"idle_timeout\":90}";
    struct sc_channel *srv = NULL;
    const uint8_t *p, *body = NULL;
    uint8_t other[32];
    size_t pending = 0, body_len = 0, plen = 0, out_len = 0;

    for (int i = 0; i < 32; i++)
      other[i] = (uint8_t) (0xa0 + i);
    run_start (&r, 0);
    p = sc_client_pending (r.c, &pending);
    if (sc_frame_next (p, pending, SC_FRAME_MAX, &body, &body_len) <= 0 ||
        sc_channel_new (SC_NOISE_RESPONDER, other, &srv) != SC_OK ||
        sc_channel_read_handshake (srv, body, body_len, pt, BUF_CAP, &plen) !=
            SC_OK ||
        sc_channel_write_handshake (srv, (const uint8_t *) hello,
                                    sizeof hello - 1, frame, BUF_CAP,
                                    &out_len) != SC_OK)
      fuzz_fail ("seed: the other server");
    fuzz_buf_u8 (&b, 0);
    fuzz_buf_record (&b, OP_RAW, frame, out_len);
    fuzz_buf_emit (&b, "raw-other-server-key");
    fuzz_buf_free (&b);
    sc_channel_free (srv);
    run_end (&r);
  }
}

void
fuzz_generate (void)
{
  enc_step = 0;
  gen_session ();
  gen_messages ();
  gen_sends ();
  gen_plain ();
  gen_bad ();
  fuzz_mem_copy (alice.mem, snapshot[0]);
  fuzz_mem_copy (bob.mem, snapshot[1]);
  fuzz_mem_copy (carol.mem, snapshot[2]);
}
