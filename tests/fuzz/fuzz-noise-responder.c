/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The server's side of a connection: Noise_NX as the responder
 * (sc_channel: handshake message 1 and its client_hello payload, which
 * travels in the clear), then transport frames and the messages in them,
 * handled the way server/client.c does.
 *
 * Input: one byte choosing the mode.
 *   even  the rest is the raw byte stream from a client: frames, the first
 *         one handshake message 1, the others transport frames
 *   odd   records (fuzz.h) that a well-behaved Noise initiator in the
 *         harness turns into frames, so that transport payloads reach the
 *         parser:
 *           op 0  handshake message 1 with data as its payload
 *           op 1  a transport frame sealing data
 *           op 2  data as a raw frame body (anything, any time)
 *           op 3  the server seals data to the client
 * The keys come from a stream seeded per input, and the server's static
 * key is fixed.
 *
 * Checked: a completed handshake agrees on both sides (keys, hash, the
 * server's static key); whatever the initiator seals the responder opens
 * to the very same bytes, and the other way round; every failure leaves
 * the channel failed for good. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/channel.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/frame.h"
#include "securechat/init.h"
#include "securechat/msg.h"

#define OPS_MAX 64
#define BUF_CAP (SC_FRAME_HEADER_LEN + SC_FRAME_MAX)

enum
{
  OP_HELLO,
  OP_SEAL,
  OP_RAW,
  OP_REPLY,
  N_OPS
};

static uint8_t server_priv[32], server_pub[32];
static uint8_t *pt, *frame;

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
  return 0;
}

struct conn
{
  struct sc_channel *srv; /* the server's channel */
  struct sc_channel *cli; /* the harness's well-behaved client */
  bool closed;            /* the server dropped the connection */
};

/* Handshake message 1 arrived: parse the hello, answer as the server
 * does (server_hello, or an error and a close for no common version). */
static void
server_handshake (struct conn *c, const uint8_t *body, size_t len)
{
  struct sc_msg m, reply;
  size_t plen = 0, out_len = 0;
  char *json = NULL;
  size_t json_len = 0;
  bool version_ok = false;
  int rc;

  rc = sc_channel_read_handshake (c->srv, body, len, pt,
                                  SC_CHANNEL_MAX_PLAINTEXT, &plen);
  fuzz_trace ("server reads message 1 (%zu bytes): %s", len, sc_strerror (rc));
  if (rc != SC_OK)
    {
      FUZZ_CHECK (plen == 0);
      FUZZ_CHECK (sc_channel_action (c->srv) == SC_NOISE_ACTION_FAILED);
      c->closed = true;
      return;
    }
  FUZZ_CHECK (plen <= len);
  rc = sc_msg_parse (pt, plen, &m);
  sc_wipe (pt, plen);
  if (rc != SC_OK || m.type != SC_MSG_CLIENT_HELLO)
    {
      if (rc == SC_OK)
        sc_msg_clear (&m);
      c->closed = true;
      return;
    }
  for (size_t i = 0; i < m.u.client_hello.n_versions; i++)
    if (m.u.client_hello.versions[i] == SC_PROTOCOL_VERSION)
      version_ok = true;
  FUZZ_CHECK (m.u.client_hello.n_versions >= 1 &&
              m.u.client_hello.n_versions <= SC_MSG_MAX_VERSIONS);
  sc_msg_clear (&m);

  memset (&reply, 0, sizeof reply);
  if (version_ok)
    {
      reply.type = SC_MSG_SERVER_HELLO;
      reply.u.server_hello.version = SC_PROTOCOL_VERSION;
      strcpy (reply.u.server_hello.agent, "securechatd/fuzz");
      reply.u.server_hello.max_frame = SC_FRAME_MAX;
      reply.u.server_hello.idle_timeout = 90;
    }
  else
    {
      reply.type = SC_MSG_ERROR;
      reply.u.error.code = SC_CODE_UNSUPPORTED_VERSION;
    }
  rc = sc_msg_encode (&reply, &json, &json_len);
  FUZZ_CHECK (rc == SC_OK);
  rc = sc_channel_write_handshake (c->srv, (const uint8_t *) json, json_len,
                                   frame, BUF_CAP, &out_len);
  FUZZ_CHECK (rc == SC_OK);
  FUZZ_CHECK (sc_channel_established (c->srv));
  if (!version_ok)
    c->closed = true;

  /* The harness's client, when it wrote message 1, reads message 2. */
  if (c->cli != NULL && sc_channel_action (c->cli) == SC_NOISE_ACTION_READ)
    {
      uint8_t h1[SC_SHA256_LEN], h2[SC_SHA256_LEN], rs[SC_X25519_LEN];

      rc = sc_channel_read_handshake (c->cli, frame + SC_FRAME_HEADER_LEN,
                                      out_len - SC_FRAME_HEADER_LEN, pt,
                                      BUF_CAP, &plen);
      if (rc != SC_OK)
        fuzz_fail ("the client cannot read the server's message 2: %s",
                   sc_strerror (rc));
      FUZZ_CHECK (plen == json_len && memcmp (pt, json, plen) == 0);
      FUZZ_CHECK (sc_channel_remote_static (c->cli, rs) == SC_OK);
      FUZZ_CHECK (memcmp (rs, server_pub, sizeof rs) == 0);
      FUZZ_CHECK (sc_channel_handshake_hash (c->cli, h1) == SC_OK);
      FUZZ_CHECK (sc_channel_handshake_hash (c->srv, h2) == SC_OK);
      FUZZ_CHECK (memcmp (h1, h2, sizeof h1) == 0);
    }
  free (json);
}

/* The plaintext of a transport frame, parsed as the server does. */
static void
server_parse (uint8_t *p, size_t len)
{
  struct sc_msg m;
  int rc = sc_msg_parse (p, len, &m);

  sc_wipe (p, len);
  fuzz_trace ("  message: %s",
              rc == SC_OK ? sc_msg_type_name (m.type) : sc_strerror (rc));
  if (rc == SC_OK)
    sc_msg_clear (&m);
}

/* A transport frame from the client, as server/client.c handles it. */
static void
server_transport (struct conn *c, const uint8_t *body, size_t len)
{
  size_t plen = 0;
  int rc;

  rc = sc_channel_open (c->srv, body, len, pt, SC_CHANNEL_MAX_PLAINTEXT, &plen);
  fuzz_trace ("server opens %zu bytes: %s", len, sc_strerror (rc));
  if (rc != SC_OK)
    {
      FUZZ_CHECK (plen == 0);
      FUZZ_CHECK (sc_channel_action (c->srv) == SC_NOISE_ACTION_FAILED);
      c->closed = true;
      return;
    }
  FUZZ_CHECK (plen + SC_NOISE_TAG_LEN == len);
  server_parse (pt, plen);
}

static void
server_frame (struct conn *c, const uint8_t *body, size_t len)
{
  if (c->closed)
    return;
  if (sc_channel_established (c->srv))
    server_transport (c, body, len);
  else if (sc_channel_action (c->srv) == SC_NOISE_ACTION_READ)
    server_handshake (c, body, len);
  else
    c->closed = true;
}

/* The raw stream: frames as server/client.c cuts them. */
static void
run_raw (struct conn *c, const uint8_t *data, size_t size)
{
  size_t off = 0;

  while (!c->closed && size - off >= SC_FRAME_HEADER_LEN)
    {
      size_t body_len = 0;

      if (sc_frame_header_parse (data + off, SC_FRAME_MAX, &body_len) != SC_OK)
        break;
      if (size - off - SC_FRAME_HEADER_LEN < body_len)
        break;
      server_frame (c, data + off + SC_FRAME_HEADER_LEN, body_len);
      off += SC_FRAME_HEADER_LEN + body_len;
    }
}

static void
run_op (struct conn *c, uint8_t op, const uint8_t *data, size_t len)
{
  size_t out_len = 0, plen = 0;
  int rc;

  switch (op % N_OPS)
    {
    case OP_HELLO:
      if (c->cli != NULL)
        return;
      FUZZ_CHECK (sc_channel_new (SC_NOISE_INITIATOR, NULL, &c->cli) == SC_OK);
      rc = sc_channel_write_handshake (c->cli, data, len, frame, BUF_CAP,
                                       &out_len);
      if (rc != SC_OK)
        {
          /* Only a payload too large for one message is refused. */
          FUZZ_CHECK (rc == SC_ERR_TOO_LARGE);
          return;
        }
      server_frame (c, frame + SC_FRAME_HEADER_LEN,
                    out_len - SC_FRAME_HEADER_LEN);
      return;
    case OP_SEAL:
      if (c->cli == NULL || !sc_channel_established (c->cli) ||
          len > SC_CHANNEL_MAX_PLAINTEXT)
        return;
      rc = sc_channel_seal (c->cli, data, len, frame, BUF_CAP, &out_len);
      FUZZ_CHECK (rc == SC_OK);
      FUZZ_CHECK (out_len == SC_FRAME_HEADER_LEN + len + SC_NOISE_TAG_LEN);
      if (c->closed || !sc_channel_established (c->srv))
        return;
      rc = sc_channel_open (c->srv, frame + SC_FRAME_HEADER_LEN,
                            out_len - SC_FRAME_HEADER_LEN, pt,
                            SC_CHANNEL_MAX_PLAINTEXT, &plen);
      if (rc != SC_OK)
        {
          /* Only a raw frame in between can have put them out of step. */
          FUZZ_CHECK (sc_channel_action (c->srv) == SC_NOISE_ACTION_FAILED);
          c->closed = true;
          return;
        }
      FUZZ_CHECK (plen == len && memcmp (pt, data, len) == 0);
      server_parse (pt, plen);
      return;
    case OP_RAW:
      server_frame (c, data, len);
      return;
    default:
      if (c->closed || !sc_channel_established (c->srv) || c->cli == NULL ||
          !sc_channel_established (c->cli) || len > SC_CHANNEL_MAX_PLAINTEXT)
        return;
      FUZZ_CHECK (sc_channel_seal (c->srv, data, len, frame, BUF_CAP,
                                   &out_len) == SC_OK);
      rc = sc_channel_open (c->cli, frame + SC_FRAME_HEADER_LEN,
                            out_len - SC_FRAME_HEADER_LEN, pt, BUF_CAP, &plen);
      FUZZ_CHECK (rc == SC_OK);
      FUZZ_CHECK (plen == len && memcmp (pt, data, len) == 0);
      return;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct conn c;

  if (size < 1)
    return 0;
  memset (&c, 0, sizeof c);
  fuzz_reseed ("responder", 0);
  FUZZ_CHECK (sc_channel_new (SC_NOISE_RESPONDER, server_priv, &c.srv) ==
              SC_OK);
  if (data[0] % 2 == 0)
    run_raw (&c, data + 1, size - 1);
  else
    {
      struct fuzz_reader rd = { data + 1, size - 1 };
      const uint8_t *d;
      size_t len;
      uint8_t op;

      for (int i = 0; i < OPS_MAX && fuzz_next (&rd, &op, &d, &len); i++)
        run_op (&c, op, d, len);
    }
  sc_channel_free (c.srv);
  sc_channel_free (c.cli);
  return 0;
}

/* ---- seeds ---- */

static void
emit_msg (struct fuzz_buf *b, uint8_t op, const struct sc_msg *m)
{
  char *json = NULL;
  size_t len = 0;

  if (sc_msg_encode (m, &json, &len) != SC_OK)
    fuzz_fail ("seed message");
  fuzz_buf_record (b, op, json, len);
  sc_wipe (json, len);
  free (json);
}

static void
hello (struct sc_msg *m, uint32_t version)
{
  memset (m, 0, sizeof *m);
  m->type = SC_MSG_CLIENT_HELLO;
  m->u.client_hello.versions[0] = version;
  m->u.client_hello.n_versions = 1;
  strcpy (m->u.client_hello.agent, "securechat-cli/0.1.0");
}

/* A whole client session as a script: hello, login, a few requests. */
static void
session_script (struct fuzz_buf *b)
{
  struct sc_msg m;

  hello (&m, SC_PROTOCOL_VERSION);
  emit_msg (b, OP_HELLO, &m);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_LOGIN;
  strcpy (m.u.login.user, "alice");
  m.u.login.password = (char *) "correct horse";
  m.u.login.password_len = strlen (m.u.login.password);
  emit_msg (b, OP_SEAL, &m);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_WHO;
  emit_msg (b, OP_SEAL, &m);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_SEND;
  m.u.send.id = 1;
  strcpy (m.u.send.to, "bob");
  m.u.send.body = (char *) "AQIDBA==";
  m.u.send.body_len = 8;
  emit_msg (b, OP_SEAL, &m);
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE_REQUEST;
  m.u.bundle_request.id = 2;
  strcpy (m.u.bundle_request.user, "carol");
  emit_msg (b, OP_SEAL, &m);
  fuzz_buf_record_str (b, OP_REPLY, "{\"type\":\"ping\"}");
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PONG;
  emit_msg (b, OP_SEAL, &m);
  /* Not JSON, and a send the strict parser refuses. */
  fuzz_buf_record_str (b, OP_SEAL, "not json");
  fuzz_buf_record_str (b, OP_SEAL,
                       "{\"type\":\"send\",\"id\":5,\"to\":\"Bob\","
                       "\"body\":\"\"}");
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BYE;
  m.u.bye.code = SC_CODE_CLIENT_QUIT;
  emit_msg (b, OP_SEAL, &m);
}

/* The raw byte stream the same session puts on the wire: the script run
 * through a real initiator, with the server's keys drawn as the harness
 * will draw them. */
static void
session_raw (struct fuzz_buf *out, const struct fuzz_buf *script)
{
  struct fuzz_reader rd = { script->p, script->len };
  struct sc_channel *cli = NULL, *srv = NULL;
  const uint8_t *d;
  size_t len, n = 0, plen = 0;
  uint8_t op;

  fuzz_buf_u8 (out, 0);
  fuzz_reseed ("responder-seed-client", 0);
  if (sc_channel_new (SC_NOISE_INITIATOR, NULL, &cli) != SC_OK)
    fuzz_fail ("seed channel");
  while (fuzz_next (&rd, &op, &d, &len))
    {
      if (op == OP_HELLO)
        {
          struct sc_msg m;
          char *json = NULL;
          size_t json_len = 0;

          if (sc_channel_write_handshake (cli, d, len, frame, BUF_CAP, &n) !=
              SC_OK)
            fuzz_fail ("seed message 1");
          fuzz_buf_put (out, frame, n);
          /* What the server answers, with the harness's draws. */
          fuzz_reseed ("responder", 0);
          if (sc_channel_new (SC_NOISE_RESPONDER, server_priv, &srv) != SC_OK ||
              sc_channel_read_handshake (srv, frame + 2, n - 2, pt, BUF_CAP,
                                         &plen) != SC_OK)
            fuzz_fail ("seed server");
          memset (&m, 0, sizeof m);
          m.type = SC_MSG_SERVER_HELLO;
          m.u.server_hello.version = SC_PROTOCOL_VERSION;
          strcpy (m.u.server_hello.agent, "securechatd/fuzz");
          m.u.server_hello.max_frame = SC_FRAME_MAX;
          m.u.server_hello.idle_timeout = 90;
          if (sc_msg_encode (&m, &json, &json_len) != SC_OK ||
              sc_channel_write_handshake (srv, (const uint8_t *) json, json_len,
                                          frame, BUF_CAP, &n) != SC_OK ||
              sc_channel_read_handshake (cli, frame + 2, n - 2, pt, BUF_CAP,
                                         &plen) != SC_OK)
            fuzz_fail ("seed message 2");
          free (json);
        }
      else if (op == OP_SEAL)
        {
          if (sc_channel_seal (cli, d, len, frame, BUF_CAP, &n) != SC_OK)
            fuzz_fail ("seed seal");
          fuzz_buf_put (out, frame, n);
        }
    }
  sc_channel_free (cli);
  sc_channel_free (srv);
}

void
fuzz_generate (void)
{
  struct fuzz_buf b = { 0 }, raw = { 0 };
  struct sc_msg m;

  fuzz_buf_u8 (&b, 1);
  session_script (&b);
  {
    struct fuzz_buf script = { 0 };

    fuzz_buf_put (&script, b.p + 1, b.len - 1);
    session_raw (&raw, &script);
    fuzz_buf_free (&script);
  }
  fuzz_buf_emit (&b, "script-session");
  fuzz_buf_emit (&raw, "raw-session");

  /* No common version: the server answers with an error and closes. */
  fuzz_buf_u8 (&b, 1);
  hello (&m, 2);
  emit_msg (&b, OP_HELLO, &m);
  fuzz_buf_record_str (&b, OP_SEAL, "{\"type\":\"who\"}");
  fuzz_buf_emit (&b, "script-no-common-version");

  /* Every version slot, the longest agent. */
  fuzz_buf_u8 (&b, 1);
  hello (&m, 9);
  for (int i = 1; i < SC_MSG_MAX_VERSIONS; i++)
    m.u.client_hello.versions[i] = (uint32_t) (i == 5 ? 1 : 100 + i);
  m.u.client_hello.n_versions = SC_MSG_MAX_VERSIONS;
  memset (m.u.client_hello.agent, 'a', SC_AGENT_MAX);
  m.u.client_hello.agent[SC_AGENT_MAX] = '\0';
  emit_msg (&b, OP_HELLO, &m);
  fuzz_buf_emit (&b, "script-many-versions");

  /* Not a hello in message 1; a raw frame before the hello; a frame
   * that does not decrypt after it. */
  fuzz_buf_u8 (&b, 1);
  fuzz_buf_record_str (&b, OP_HELLO, "{\"type\":\"ping\"}");
  fuzz_buf_emit (&b, "script-not-hello");
  fuzz_buf_u8 (&b, 1);
  fuzz_buf_record_str (&b, OP_RAW, "too short for a key");
  fuzz_buf_emit (&b, "script-short-message-1");
  fuzz_buf_u8 (&b, 1);
  hello (&m, SC_PROTOCOL_VERSION);
  emit_msg (&b, OP_HELLO, &m);
  fuzz_buf_record_str (&b, OP_RAW, "0123456789abcdef0123");
  fuzz_buf_record_str (&b, OP_SEAL, "{\"type\":\"who\"}");
  fuzz_buf_emit (&b, "script-forged-frame");

  /* Raw streams: message 1 with a hello in the clear, then garbage. */
  {
    struct fuzz_buf script = { 0 };
    const char *junk = "\x00\x10"
                       "0123456789abcdef";

    hello (&m, SC_PROTOCOL_VERSION);
    emit_msg (&script, OP_HELLO, &m);
    session_raw (&raw, &script);
    fuzz_buf_put (&raw, junk, 18);
    fuzz_buf_emit (&raw, "raw-hello-then-junk");
    fuzz_buf_free (&script);
  }
  fuzz_buf_free (&b);
  fuzz_buf_free (&raw);
}
