/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The client side of a session (PROTOCOL.md section 6), sans-I/O. Bytes
 * from the socket go through a buffer that holds at most one frame;
 * everything the session wants written is queued, sealed, in one bounded
 * output buffer. Any misbehaviour of the server closes the session.
 *
 * With an end-to-end manager (PROTOCOL.md section 12) bodies are
 * encrypted and decrypted through it; a send to a user without a session
 * waits, bounded, while that user's bundle is fetched. Every id of the
 * one id space (sends, bundle requests, our RESET requests) is known, so
 * each answer goes to the right place. */
#include "securechat/client.h"

#include <stdlib.h>
#include <string.h>

#include "securechat/base64.h"
#include "securechat/channel.h"
#include "securechat/error.h"
#include "securechat/frame.h"
#include "securechat/msg-fast.h"

/* One whole frame from the server, header included. */
#define IN_CAP (SC_FRAME_HEADER_LEN + SC_FRAME_MAX)
/* Plaintext of one frame: a handshake payload or a transport message. */
#define PT_CAP SC_FRAME_MAX
/* Our RESET requests not yet answered; more are not sent meanwhile. */
#define RESETS_MAX 32

/* A send waiting for its recipient's bundle. */
struct waiting
{
  uint64_t ref;
  uint8_t *text;
  size_t len;
};

/* A bundle request in flight and the sends waiting for it. */
struct fetch
{
  char peer[SC_USERNAME_MAX + 1];
  uint64_t id; /* of the bundle_request */
  struct waiting *items;
  size_t n;
  size_t cap;
};

struct sc_client
{
  enum sc_client_state state;
  struct sc_client_callbacks cb;
  void *ud;

  char user[SC_USERNAME_MAX + 1];
  char *password; /* wiped and freed once login is sealed */
  size_t password_len;
  char agent[SC_AGENT_MAX + 1];

  struct sc_channel *ch;
  struct sc_msg_server_hello hello;
  char fingerprint[SC_FINGERPRINT_LEN + 1];

  uint8_t *in; /* unparsed bytes from the server, at most one frame */
  size_t in_len;
  uint8_t *pt; /* decrypted payload of the frame being handled */

  uint8_t *out; /* sealed frames for the socket: out[out_off..out_len) */
  size_t out_off;
  size_t out_len;
  size_t out_cap;

  bool started;
  bool quitting;
  bool in_recv;
  uint64_t next_id; /* id of the next send */
  /* sends that have left and await their one answer, oldest first (the
   * server answers sends in order, PROTOCOL.md 5.5) */
  uint64_t *refs;
  size_t refs_head, refs_n, refs_cap;

  /* Liveness; see sc_client_tick. */
  int64_t now_ms;       /* latest time the caller told us */
  int64_t last_send_ms; /* when the last frame was queued */
  bool sent_since_tick; /* a frame was queued without a time */
  bool unanswered;      /* a request was queued since the last frame */
  bool awaiting;        /* waiting for any frame since awaiting_since */
  int64_t awaiting_since;
  bool ping_outstanding;

  /* presence_list chunks being joined */
  char (*plist)[SC_USERNAME_MAX + 1];
  size_t plist_n;
  size_t plist_cap;

  /* end-to-end */
  struct sc_e2e *e2e;    /* borrowed; NULL: bodies in the clear */
  struct fetch *fetches; /* SC_CLIENT_E2E_PEERS_MAX slots */
  size_t n_fetches;
  size_t waiting_bytes; /* texts held by all fetches */
  uint64_t resets[RESETS_MAX];
  size_t n_resets;
  bool keys_reported;
  unsigned uploads; /* uploads in a row still answered "more" */
  /* The server's last prekey status, checked again now and then so that
   * the signed prekey rotates on a long connection too. */
  struct sc_msg_prekey_status status;
  bool have_status;
  int64_t status_checked_ms;
};

static void
drop_password (struct sc_client *c)
{
  if (c->password != NULL)
    {
      sc_wipe (c->password, c->password_len);
      free (c->password);
      c->password = NULL;
      c->password_len = 0;
    }
}

static void
drop_plist (struct sc_client *c)
{
  free (c->plist);
  c->plist = NULL;
  c->plist_n = 0;
  c->plist_cap = 0;
}

static void
fetch_clear (struct fetch *f)
{
  for (size_t i = 0; i < f->n; i++)
    {
      sc_wipe (f->items[i].text, f->items[i].len);
      free (f->items[i].text);
    }
  free (f->items);
  memset (f, 0, sizeof *f);
}

/* Forgets every fetch and what waits for it (the session is over). */
static void
drop_fetches (struct sc_client *c)
{
  for (size_t i = 0; i < c->n_fetches; i++)
    fetch_clear (&c->fetches[i]);
  c->n_fetches = 0;
  c->waiting_bytes = 0;
  c->n_resets = 0;
}

/* Ends the session once: drops what was queued and tells the caller. */
static void
close_session (struct sc_client *c,
               int err,
               enum sc_code code,
               const char *message)
{
  if (c->state == SC_CLIENT_CLOSED)
    return;
  c->state = SC_CLIENT_CLOSED;
  drop_password (c);
  drop_plist (c);
  drop_fetches (c);
  c->out_off = 0;
  c->out_len = 0;
  c->in_len = 0;
  if (c->cb.closed != NULL)
    c->cb.closed (c->ud, err, code, message);
}

/* Closes the session for a local or protocol error; returns err. */
static int
fail (struct sc_client *c, int err, const char *message)
{
  close_session (c, err, SC_CODE_N_CODES, message);
  return err;
}

/* Makes room for n more bytes in the output queue, within
 * SC_CLIENT_OUT_MAX of pending bytes. */
static int
out_reserve (struct sc_client *c, size_t n)
{
  size_t pending = c->out_len - c->out_off;
  size_t need;
  size_t cap;
  uint8_t *p;

  if (n > SC_CLIENT_OUT_MAX || pending > SC_CLIENT_OUT_MAX - n)
    return SC_ERR_TOO_LARGE;
  if (c->out_off > 0 && c->out_cap - c->out_len < n)
    {
      memmove (c->out, c->out + c->out_off, pending);
      c->out_off = 0;
      c->out_len = pending;
    }
  need = c->out_len + n;
  if (need <= c->out_cap)
    return SC_OK;
  cap = c->out_cap > 0 ? c->out_cap : 4096;
  while (cap < need)
    cap *= 2;
  p = realloc (c->out, cap);
  if (p == NULL)
    return SC_ERR_NOMEM;
  c->out = p;
  c->out_cap = cap;
  return SC_OK;
}

/* Largest frame body the server accepts. */
static size_t
send_frame_max (const struct sc_client *c)
{
  if (c->hello.max_frame == 0 || c->hello.max_frame > SC_FRAME_MAX)
    return SC_FRAME_MAX;
  return c->hello.max_frame;
}

/* Seals one JSON message into the output queue. SC_ERR_TOO_LARGE and
 * SC_ERR_NOMEM leave the session usable; a failure of the channel itself
 * does not, and the caller must close. */
static int
queue_sealed (struct sc_client *c, const char *json, size_t len)
{
  size_t body = len + SC_NOISE_TAG_LEN;
  size_t written = 0;
  int rc;

  if (len > SC_CHANNEL_MAX_PLAINTEXT || body > send_frame_max (c))
    return SC_ERR_TOO_LARGE;
  rc = out_reserve (c, SC_FRAME_HEADER_LEN + body);
  if (rc < 0)
    return rc;
  rc = sc_channel_seal (c->ch, (const uint8_t *) json, len, c->out + c->out_len,
                        c->out_cap - c->out_len, &written);
  if (rc < 0)
    return rc;
  c->out_len += written;
  c->sent_since_tick = true;
  return SC_OK;
}

/* Encodes m and queues it sealed; the JSON text is wiped. */
static int
queue_msg (struct sc_client *c, const struct sc_msg *m)
{
  char *json = NULL;
  size_t len = 0;
  int rc;

  rc = sc_msg_encode (m, &json, &len);
  if (rc < 0)
    return rc;
  rc = queue_sealed (c, json, len);
  sc_wipe (json, len);
  free (json);
  return rc;
}

static int
queue_simple (struct sc_client *c, enum sc_msg_type type)
{
  struct sc_msg m;

  memset (&m, 0, sizeof m);
  m.type = type;
  return queue_msg (c, &m);
}

/* A failure of the channel while sealing is fatal; a full queue or a
 * failed allocation is reported to the caller only. */
static bool
recoverable (int rc)
{
  return rc == SC_ERR_TOO_LARGE || rc == SC_ERR_NOMEM;
}

/* Passes on rc, the result of queueing a message the application asked
 * for, after closing the session when the failure is not recoverable. */
static int
check_queued (struct sc_client *c, int rc)
{
  if (rc < 0 && !recoverable (rc))
    return fail (c, rc, "cannot encrypt a message");
  return rc;
}

int
sc_client_new (const struct sc_client_config *cfg,
               const struct sc_client_callbacks *cb,
               void *ud,
               struct sc_client **out)
{
  struct sc_client *c;
  size_t user_len;
  size_t pw_len;
  size_t agent_len;
  int rc;

  if (out == NULL)
    return SC_ERR_INVALID;
  *out = NULL;
  if (cfg == NULL || cb == NULL || cb->verify_server_key == NULL ||
      cfg->user == NULL || cfg->password == NULL)
    return SC_ERR_INVALID;

  user_len = strnlen (cfg->user, SC_USERNAME_MAX + 1);
  if (sc_username_validate (cfg->user, user_len) < 0)
    return SC_ERR_USERNAME;
  pw_len = strnlen (cfg->password, SC_PASSWORD_MAX + 1);
  rc = sc_password_validate (cfg->password, pw_len);
  if (rc < 0)
    return rc;
  agent_len = cfg->agent != NULL ? strnlen (cfg->agent, SC_AGENT_MAX + 1) : 0;
  if (agent_len > SC_AGENT_MAX)
    return SC_ERR_INVALID;
  for (size_t i = 0; i < agent_len; i++)
    if (cfg->agent[i] < 0x20 || cfg->agent[i] > 0x7e)
      return SC_ERR_INVALID;
  if (cfg->e2e != NULL && strcmp (sc_e2e_user (cfg->e2e), cfg->user) != 0)
    return SC_ERR_INVALID;

  c = calloc (1, sizeof *c);
  if (c == NULL)
    return SC_ERR_NOMEM;
  c->state = SC_CLIENT_HANDSHAKE;
  c->cb = *cb;
  c->ud = ud;
  c->next_id = 1;
  memcpy (c->user, cfg->user, user_len);
  if (agent_len > 0)
    memcpy (c->agent, cfg->agent, agent_len);

  c->e2e = cfg->e2e;
  c->password = malloc (pw_len + 1);
  c->in = malloc (IN_CAP);
  c->pt = malloc (PT_CAP);
  if (c->e2e != NULL)
    c->fetches = calloc (SC_CLIENT_E2E_PEERS_MAX, sizeof *c->fetches);
  if (c->password == NULL || c->in == NULL || c->pt == NULL ||
      (c->e2e != NULL && c->fetches == NULL))
    {
      rc = SC_ERR_NOMEM;
      goto fail;
    }
  memcpy (c->password, cfg->password, pw_len);
  c->password[pw_len] = '\0';
  c->password_len = pw_len;

  rc = sc_channel_new (SC_NOISE_INITIATOR, NULL, &c->ch);
  if (rc < 0)
    goto fail;

  *out = c;
  return SC_OK;

fail:
  sc_client_free (c);
  return rc;
}

void
sc_client_free (struct sc_client *c)
{
  if (c == NULL)
    return;
  drop_password (c);
  drop_plist (c);
  drop_fetches (c);
  free (c->fetches);
  free (c->refs);
  sc_channel_free (c->ch);
  if (c->in != NULL)
    sc_wipe (c->in, IN_CAP);
  if (c->pt != NULL)
    sc_wipe (c->pt, PT_CAP);
  free (c->in);
  free (c->pt);
  free (c->out);
  sc_wipe (c, sizeof *c);
  free (c);
}

int
sc_client_start (struct sc_client *c, int64_t now_ms)
{
  struct sc_msg m;
  char *json = NULL;
  size_t len = 0;
  size_t written = 0;
  int rc;

  if (c == NULL)
    return SC_ERR_INVALID;
  if (c->state == SC_CLIENT_CLOSED)
    return SC_ERR_CLOSED;
  if (c->started)
    return SC_ERR_STATE;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_CLIENT_HELLO;
  m.u.client_hello.versions[0] = SC_PROTOCOL_VERSION;
  m.u.client_hello.n_versions = 1;
  memcpy (m.u.client_hello.agent, c->agent, sizeof c->agent);
  rc = sc_msg_encode (&m, &json, &len);
  if (rc < 0)
    return rc;

  rc = out_reserve (c, SC_FRAME_HEADER_LEN + SC_FRAME_MAX);
  if (rc == SC_OK)
    rc = sc_channel_write_handshake (c->ch, (const uint8_t *) json, len,
                                     c->out + c->out_len,
                                     c->out_cap - c->out_len, &written);
  free (json);
  if (rc < 0)
    return fail (c, rc, "cannot start the handshake");

  c->out_len += written;
  c->started = true;
  c->now_ms = now_ms;
  c->last_send_ms = now_ms;
  return SC_OK;
}

/* Message 2: the server's hello (or a refusal), then its key is checked
 * and only then is the login queued. */
static int
handle_handshake (struct sc_client *c, const uint8_t *body, size_t len)
{
  struct sc_msg m;
  uint8_t rs[SC_X25519_LEN];
  size_t pt_len = 0;
  int rc;

  rc = sc_channel_read_handshake (c->ch, body, len, c->pt, PT_CAP, &pt_len);
  if (rc < 0)
    return fail (c, rc, "the server's handshake message is not valid");
  if (!sc_channel_established (c->ch))
    return fail (c, SC_ERR_PROTOCOL, "the handshake did not complete");

  rc = sc_msg_parse (c->pt, pt_len, &m);
  sc_wipe (c->pt, pt_len);
  if (rc < 0)
    return fail (c, rc, "the server sent a malformed hello");

  if (m.type == SC_MSG_ERROR && m.u.error.code == SC_CODE_UNSUPPORTED_VERSION)
    {
      if (c->cb.error != NULL)
        c->cb.error (c->ud, &m.u.error);
      sc_msg_clear (&m);
      return fail (c, SC_ERR_UNSUPPORTED,
                   "the server speaks no protocol version we know");
    }
  if (m.type != SC_MSG_SERVER_HELLO)
    {
      sc_msg_clear (&m);
      return fail (c, SC_ERR_PROTOCOL,
                   "the server answered the handshake with no hello");
    }
  if (m.u.server_hello.version != SC_PROTOCOL_VERSION)
    {
      sc_msg_clear (&m);
      return fail (c, SC_ERR_UNSUPPORTED,
                   "the server chose a protocol version we did not offer");
    }
  if (m.u.server_hello.max_frame < 64 ||
      m.u.server_hello.max_frame > SC_FRAME_MAX ||
      m.u.server_hello.idle_timeout < 1 ||
      m.u.server_hello.idle_timeout > 86400)
    {
      sc_msg_clear (&m);
      return fail (c, SC_ERR_FIELD, "the server sent a malformed hello");
    }
  c->hello = m.u.server_hello;
  sc_msg_clear (&m);

  rc = sc_channel_remote_static (c->ch, rs);
  if (rc == SC_OK)
    rc = sc_fingerprint (rs, c->fingerprint);
  if (rc < 0)
    {
      c->fingerprint[0] = '\0';
      return fail (c, rc, "cannot read the server key");
    }
  if (c->cb.verify_server_key (c->ud, rs, c->fingerprint) < 0)
    return fail (c, SC_ERR_KEY_MISMATCH, "the server key was refused");

  c->state = SC_CLIENT_LOGIN;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_LOGIN;
  memcpy (m.u.login.user, c->user, sizeof c->user);
  m.u.login.password = c->password;
  m.u.login.password_len = c->password_len;
  rc = queue_msg (c, &m);
  /* The password was only lent to m; it is not needed any more. */
  sc_wipe (&m, sizeof m);
  drop_password (c);
  if (rc < 0)
    return fail (c, rc, "cannot send the login");
  return SC_OK;
}

static int
handle_presence_list (struct sc_client *c,
                      const struct sc_msg_presence_list *pl)
{
  const char **users = NULL;

  if (pl->n_users > SC_CLIENT_PRESENCE_MAX - c->plist_n)
    return fail (c, SC_ERR_TOO_LARGE, "the server sent too many users");
  if (c->plist_n + pl->n_users > c->plist_cap)
    {
      size_t cap = c->plist_cap > 0 ? c->plist_cap : 64;
      void *p;

      while (cap < c->plist_n + pl->n_users)
        cap *= 2;
      if (cap > SC_CLIENT_PRESENCE_MAX)
        cap = SC_CLIENT_PRESENCE_MAX;
      p = realloc (c->plist, cap * sizeof *c->plist);
      if (p == NULL)
        return fail (c, SC_ERR_NOMEM, "out of memory");
      c->plist = p;
      c->plist_cap = cap;
    }
  if (pl->n_users > 0)
    memcpy (c->plist + c->plist_n, pl->users, pl->n_users * sizeof *c->plist);
  c->plist_n += pl->n_users;
  if (pl->more)
    return SC_OK;

  if (c->plist_n > 0)
    {
      users = calloc (c->plist_n, sizeof *users);
      if (users == NULL)
        return fail (c, SC_ERR_NOMEM, "out of memory");
      for (size_t i = 0; i < c->plist_n; i++)
        users[i] = c->plist[i];
    }
  if (c->cb.presence_list != NULL)
    c->cb.presence_list (c->ud, users, c->plist_n);
  free (users);
  if (c->state != SC_CLIENT_CLOSED)
    drop_plist (c);
  return SC_OK;
}

/* The most a body of SC_BODY_B64_MAX base64 characters can decode to:
 * one byte over SC_BODY_MAX when the last quantum has no padding. The
 * server forwards bodies without decoding them, so a body another client
 * made that way must not break this session: it is delivered as is. */
#define BODY_DECODED_CAP (SC_BODY_B64_MAX / 4 * 3)

static int send_reset (struct sc_client *c, const char *to);

/* An end-to-end message: decrypted, then delivered or reported. */
static int
e2e_message (struct sc_client *c,
             const struct sc_msg_message *mm,
             const uint8_t *body,
             size_t body_len)
{
  uint8_t ct = 0;
  uint8_t *data = NULL;
  size_t data_len = 0;
  unsigned flags = 0;
  int rc;

  rc = sc_e2e_decrypt (c->e2e, mm->from, body, body_len, c->now_ms, &ct, &data,
                       &data_len, &flags);
  if (rc == SC_OK)
    {
      if (!(flags & SC_E2E_RESET))
        {
          if ((flags & SC_E2E_IDENTITY_CHANGED) &&
              c->cb.identity_changed != NULL)
            c->cb.identity_changed (c->ud, mm->from);
          if (ct != SC_E2E_CONTENT_TEXT)
            {
              if (c->cb.undecryptable != NULL)
                c->cb.undecryptable (c->ud, mm->id, mm->from, mm->ts,
                                     SC_ERR_UNSUPPORTED);
            }
          else if (c->cb.message != NULL && c->state != SC_CLIENT_CLOSED)
            c->cb.message (c->ud, mm->id, mm->from, mm->ts, data, data_len);
        }
      sc_wipe (data, data_len);
      free (data);
      return SC_OK;
    }
  if (c->cb.undecryptable != NULL)
    c->cb.undecryptable (c->ud, mm->id, mm->from, mm->ts, rc);
  /* The sender holds a session we cannot use: ask for a new one. */
  if (rc == SC_ERR_NO_SESSION || rc == SC_ERR_NOT_FOUND)
    return send_reset (c, mm->from);
  return SC_OK;
}

static int
handle_message (struct sc_client *c, const struct sc_msg_message *mm)
{
  /* As large as this body decodes to, not the largest body. */
  size_t cap = mm->body_len / 4 * 3 + 1, body_len = 0;
  uint8_t *body;
  int rc;

  if (cap > BODY_DECODED_CAP)
    cap = BODY_DECODED_CAP;
  body = malloc (cap);
  if (body == NULL)
    return fail (c, SC_ERR_NOMEM, "out of memory");
  rc = sc_base64_decode (mm->body, mm->body_len, body, cap, &body_len);
  if (rc < 0)
    {
      free (body);
      return fail (c, rc, "the server sent a malformed message body");
    }
  if (c->e2e != NULL)
    rc = e2e_message (c, mm, body, body_len);
  else if (c->cb.message != NULL)
    c->cb.message (c->ud, mm->id, mm->from, mm->ts, body, body_len);
  sc_wipe (body, body_len);
  free (body);
  return rc;
}

/* A reference to one of our sends, as "sent" and "error" carry. */
static bool
valid_ref (const struct sc_client *c, uint64_t ref)
{
  return ref >= 1 && ref < c->next_id;
}

/* Makes room for one more unanswered send. The queue is bounded by the
 * output queue: every send in it took at least a frame of output. */
static int
refs_reserve (struct sc_client *c)
{
  uint64_t *grown;
  size_t cap;

  if (c->refs_n < c->refs_cap)
    return SC_OK;
  if (c->refs_head > 0)
    {
      memmove (c->refs, c->refs + c->refs_head,
               (c->refs_n - c->refs_head) * sizeof (uint64_t));
      c->refs_n -= c->refs_head;
      c->refs_head = 0;
      return SC_OK;
    }
  cap = c->refs_cap == 0 ? 64 : c->refs_cap * 2;
  grown = realloc (c->refs, cap * sizeof (uint64_t));
  if (grown == NULL)
    return SC_ERR_NOMEM;
  c->refs = grown;
  c->refs_cap = cap;
  return SC_OK;
}

/* True, and the send forgotten, when ref is the oldest unanswered send:
 * an answer to anything else (a second answer, or one out of order) is
 * not the server's to give. */
static bool
refs_take (struct sc_client *c, uint64_t ref)
{
  if (c->refs_head == c->refs_n || c->refs[c->refs_head] != ref)
    return false;
  if (++c->refs_head == c->refs_n)
    c->refs_head = c->refs_n = 0;
  return true;
}

/* Queues a "send" of body (base64-encoded here) with the given id. The
 * text is written without a JSON tree (msg-fast.h). */
static int
queue_send (struct sc_client *c,
            uint64_t id,
            const char *to,
            const uint8_t *body,
            size_t body_len)
{
  size_t cap, len = 0;
  uint8_t *text;
  int rc;

  if (body_len > SC_BODY_MAX)
    return SC_ERR_TOO_LARGE;
  cap = SC_MSG_SEND_MAX (body_len);
  text = malloc (cap);
  if (text == NULL)
    return SC_ERR_NOMEM;
  rc = sc_msg_write_send (id, to, body, body_len, text, cap, &len);
  if (rc == SC_OK)
    rc = refs_reserve (c);
  if (rc == SC_OK)
    rc = queue_sealed (c, (const char *) text, len);
  if (rc == SC_OK)
    c->refs[c->refs_n++] = id;
  sc_wipe (text, len);
  free (text);
  return rc;
}

/* ---- end-to-end ---- */

/* Asks `to` to drop its session with us (PROTOCOL.md 12.5); the answer
 * to this send is ours, not the application's. */
static int
send_reset (struct sc_client *c, const char *to)
{
  uint8_t body[SC_E2E_RESET_LEN];
  int rc;

  if (c->state != SC_CLIENT_READY || c->quitting || c->n_resets == RESETS_MAX ||
      c->next_id > SC_ID_MAX)
    return SC_OK;
  sc_e2e_reset_body (body);
  rc = queue_send (c, c->next_id, to, body, sizeof body);
  if (rc < 0)
    return recoverable (rc) ? SC_OK : fail (c, rc, "cannot encrypt a message");
  c->resets[c->n_resets++] = c->next_id++;
  c->unanswered = true;
  return SC_OK;
}

/* Takes ref out of our RESET requests: true when it was one. */
static bool
take_reset (struct sc_client *c, uint64_t ref)
{
  for (size_t i = 0; i < c->n_resets; i++)
    if (c->resets[i] == ref)
      {
        c->resets[i] = c->resets[--c->n_resets];
        return true;
      }
  return false;
}

static struct fetch *
fetch_by_peer (struct sc_client *c, const char *peer)
{
  for (size_t i = 0; i < c->n_fetches; i++)
    if (strcmp (c->fetches[i].peer, peer) == 0)
      return &c->fetches[i];
  return NULL;
}

/* Moves the fetch with bundle_request id out of the table into out:
 * callbacks run while it is handled may start new fetches. */
static bool
fetch_take (struct sc_client *c, uint64_t id, struct fetch *out)
{
  for (size_t i = 0; i < c->n_fetches; i++)
    if (c->fetches[i].id == id)
      {
        *out = c->fetches[i];
        c->fetches[i] = c->fetches[--c->n_fetches];
        memset (&c->fetches[c->n_fetches], 0, sizeof c->fetches[0]);
        for (size_t k = 0; k < out->n; k++)
          c->waiting_bytes -= out->items[k].len;
        return true;
      }
  return false;
}

/* True when ref is a send still waiting for a bundle: it has not left,
 * so no answer to it can be genuine. */
static bool
waiting_ref (const struct sc_client *c, uint64_t ref)
{
  for (size_t i = 0; i < c->n_fetches; i++)
    for (size_t k = 0; k < c->fetches[i].n; k++)
      if (c->fetches[i].items[k].ref == ref)
        return true;
  return false;
}

static bool
fetch_pending (const struct sc_client *c, uint64_t id)
{
  for (size_t i = 0; i < c->n_fetches; i++)
    if (c->fetches[i].id == id)
      return true;
  return false;
}

/* Sends a bundle_request for peer and adds its (empty) fetch. */
static int
start_fetch (struct sc_client *c, const char *peer, struct fetch **out)
{
  struct sc_msg m;
  struct fetch *f;
  int rc;

  if (c->n_fetches == SC_CLIENT_E2E_PEERS_MAX)
    return SC_ERR_TOO_LARGE;
  if (c->next_id > SC_ID_MAX)
    return SC_ERR_STATE;
  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE_REQUEST;
  m.u.bundle_request.id = c->next_id;
  memcpy (m.u.bundle_request.user, peer, strnlen (peer, SC_USERNAME_MAX));
  rc = check_queued (c, queue_msg (c, &m));
  if (rc < 0)
    return rc;
  f = &c->fetches[c->n_fetches++];
  memset (f, 0, sizeof *f);
  memcpy (f->peer, peer, strnlen (peer, SC_USERNAME_MAX));
  f->id = c->next_id++;
  c->unanswered = true;
  *out = f;
  return SC_OK;
}

static void
report_keys (struct sc_client *c, int err)
{
  if (c->keys_reported)
    return;
  c->keys_reported = true;
  if (c->cb.keys_ready != NULL)
    c->cb.keys_ready (c->ud, err);
}

/* What the server holds for us: publish what it lacks. */
static int
handle_prekey_status (struct sc_client *c,
                      const struct sc_msg_prekey_status *st)
{
  struct sc_msg up;
  bool needed = false;
  int rc;

  if (c->e2e == NULL || c->quitting)
    return SC_OK;
  if (st != &c->status)
    c->status = *st;
  c->have_status = true;
  c->status_checked_ms = c->now_ms;
  rc = sc_e2e_prekeys_needed (c->e2e, st, c->now_ms, &up, &needed);
  if (rc < 0)
    {
      report_keys (c, rc);
      return SC_OK;
    }
  if (!needed)
    {
      c->uploads = 0;
      report_keys (c, SC_OK);
      return SC_OK;
    }
  if (c->uploads >= SC_CLIENT_E2E_UPLOADS_MAX)
    {
      /* The server keeps asking: stop rather than loop. */
      sc_msg_clear (&up);
      report_keys (c, SC_ERR_PROTOCOL);
      return SC_OK;
    }
  rc = queue_msg (c, &up);
  sc_msg_clear (&up);
  if (rc < 0)
    {
      if (!recoverable (rc))
        return fail (c, rc, "cannot encrypt a message");
      report_keys (c, rc);
      return SC_OK;
    }
  c->uploads++;
  c->unanswered = true;
  return SC_OK;
}

/* Encrypts and queues one send that waited for a bundle; on failure the
 * application hears of it. Returns an error only when the session had
 * to close. */
static int
send_waiting (struct sc_client *c, const char *to, const struct waiting *w)
{
  uint8_t *msg = NULL;
  size_t msg_len = 0;
  int rc;

  if (c->state != SC_CLIENT_READY || c->quitting)
    rc = SC_ERR_CLOSED;
  else
    rc = sc_e2e_encrypt (c->e2e, to, SC_E2E_CONTENT_TEXT, w->text, w->len, &msg,
                         &msg_len);
  if (rc == SC_OK)
    {
      rc = queue_send (c, w->ref, to, msg, msg_len);
      sc_wipe (msg, msg_len);
      free (msg);
      if (rc < 0 && !recoverable (rc))
        return fail (c, rc, "cannot encrypt a message");
      if (rc == SC_OK)
        {
          c->unanswered = true;
          return SC_OK;
        }
    }
  if (c->cb.send_failed != NULL && c->state != SC_CLIENT_CLOSED)
    c->cb.send_failed (c->ud, w->ref, to, rc);
  return SC_OK;
}

static int
handle_bundle (struct sc_client *c, const struct sc_msg_bundle *b)
{
  struct fetch f;
  int rc;
  int ret = SC_OK;

  if (c->e2e == NULL || !fetch_take (c, b->ref, &f))
    return fail (c, SC_ERR_PROTOCOL,
                 "the server sent a bundle we did not ask for");
  if (strcmp (f.peer, b->user) != 0)
    {
      fetch_clear (&f);
      return fail (c, SC_ERR_PROTOCOL,
                   "the server sent the bundle of another user");
    }

  /* A message from the peer may have started a session meanwhile: it
   * is used rather than replaced. */
  rc = sc_e2e_has_session (c->e2e, f.peer);
  if (rc == 0)
    rc = sc_e2e_start_session (c->e2e, f.peer, b, c->now_ms);
  else if (rc == 1)
    rc = SC_OK;
  if (rc == SC_ERR_IDENTITY_CHANGED && c->cb.identity_changed != NULL)
    c->cb.identity_changed (c->ud, f.peer);
  for (size_t i = 0; i < f.n && ret == SC_OK; i++)
    {
      if (rc == SC_OK)
        ret = send_waiting (c, f.peer, &f.items[i]);
      else if (c->cb.send_failed != NULL && c->state != SC_CLIENT_CLOSED)
        c->cb.send_failed (c->ud, f.items[i].ref, f.peer, rc);
    }
  if (ret == SC_OK && c->cb.session_ready != NULL &&
      c->state != SC_CLIENT_CLOSED)
    c->cb.session_ready (c->ud, f.peer, rc, NULL);
  fetch_clear (&f);
  return ret;
}

/* The server refused a bundle request: each waiting send gets the
 * refusal as its own answer. */
static void
bundle_refused (struct sc_client *c, const struct sc_msg_error *e)
{
  struct fetch f;

  if (!fetch_take (c, e->ref, &f))
    return;
  for (size_t i = 0; i < f.n && c->state != SC_CLIENT_CLOSED; i++)
    {
      struct sc_msg_error each = *e;

      each.ref = f.items[i].ref;
      if (c->cb.error != NULL)
        c->cb.error (c->ud, &each);
    }
  if (c->cb.session_ready != NULL && c->state != SC_CLIENT_CLOSED)
    c->cb.session_ready (c->ud, f.peer, SC_ERR_NO_SESSION, e);
  fetch_clear (&f);
}

static int
handle_sent (struct sc_client *c, const struct sc_msg_sent *st)
{
  if (!valid_ref (c, st->ref) || fetch_pending (c, st->ref) ||
      waiting_ref (c, st->ref) || !refs_take (c, st->ref))
    return fail (c, SC_ERR_PROTOCOL,
                 "the server acknowledged a message we did not send, or "
                 "one already answered");
  if (take_reset (c, st->ref))
    return SC_OK; /* our RESET request arrived */
  if (c->cb.sent != NULL)
    c->cb.sent (c->ud, st->ref, st->id, st->ts);
  return SC_OK;
}

/* After login nearly every frame is a "message" or a "sent": read them in
 * place, without a JSON tree (msg-fast.h). SC_ERR_AGAIN for anything
 * else, which the strict parser then reads. */
static int
handle_fast (struct sc_client *c, size_t pt_len)
{
  struct sc_message_view mv;
  struct sc_msg_sent st;

  if (sc_msg_scan_sent (c->pt, pt_len, &st) == SC_OK)
    return handle_sent (c, &st);
  if (sc_msg_scan_message (c->pt, pt_len, &mv) == SC_OK)
    {
      /* The body stays in c->pt, which nothing else uses until the
       * next frame. */
      struct sc_msg_message mm = { .id = mv.id,
                                   .ts = mv.ts,
                                   .body = (char *) mv.body,
                                   .body_len = mv.body_len };

      memcpy (mm.from, mv.from, sizeof mm.from);
      return handle_message (c, &mm);
    }
  return SC_ERR_AGAIN;
}

static int
handle_transport (struct sc_client *c, const uint8_t *body, size_t len)
{
  struct sc_msg m;
  size_t pt_len = 0;
  bool ready = c->state == SC_CLIENT_READY;
  int rc;

  rc = sc_channel_open (c->ch, body, len, c->pt, PT_CAP, &pt_len);
  if (rc < 0)
    return fail (c, rc, "a frame from the server failed to decrypt");
  if (ready)
    {
      rc = handle_fast (c, pt_len);
      if (rc != SC_ERR_AGAIN)
        {
          sc_wipe (c->pt, pt_len);
          return rc;
        }
    }
  rc = sc_msg_parse (c->pt, pt_len, &m);
  sc_wipe (c->pt, pt_len);
  if (rc < 0)
    return fail (c, rc, "the server sent a malformed message");

  rc = SC_OK;
  switch (m.type)
    {
    case SC_MSG_LOGIN_OK:
      if (c->state != SC_CLIENT_LOGIN)
        {
          rc = fail (c, SC_ERR_PROTOCOL, "unexpected login_ok");
          break;
        }
      if (strcmp (m.u.login_ok.user, c->user) != 0)
        {
          rc = fail (c, SC_ERR_PROTOCOL,
                     "the server logged us in as another user");
          break;
        }
      c->state = SC_CLIENT_READY;
      if (c->cb.logged_in != NULL)
        c->cb.logged_in (c->ud, c->user);
      break;

    case SC_MSG_PRESENCE_LIST:
      if (!ready)
        rc = fail (c, SC_ERR_PROTOCOL, "presence list before login");
      else
        rc = handle_presence_list (c, &m.u.presence_list);
      break;

    case SC_MSG_PRESENCE:
      if (!ready)
        rc = fail (c, SC_ERR_PROTOCOL, "presence before login");
      else if (c->cb.presence != NULL)
        c->cb.presence (c->ud, m.u.presence.user, m.u.presence.online);
      break;

    case SC_MSG_MESSAGE:
      if (!ready)
        rc = fail (c, SC_ERR_PROTOCOL, "message before login");
      else
        rc = handle_message (c, &m.u.message);
      break;

    case SC_MSG_SENT:
      if (!ready)
        rc = fail (c, SC_ERR_PROTOCOL, "sent before login");
      else
        rc = handle_sent (c, &m.u.sent);
      break;

    case SC_MSG_ERROR:
      if (m.u.error.has_ref &&
          (!valid_ref (c, m.u.error.ref) || waiting_ref (c, m.u.error.ref)))
        rc = fail (c, SC_ERR_PROTOCOL,
                   "the server answered a message we did not send");
      else if (m.u.error.has_ref && fetch_pending (c, m.u.error.ref))
        bundle_refused (c, &m.u.error);
      else if (m.u.error.has_ref && !refs_take (c, m.u.error.ref))
        rc = fail (c, SC_ERR_PROTOCOL,
                   "the server answered a message twice or out of order");
      else if (m.u.error.has_ref && take_reset (c, m.u.error.ref))
        ; /* the RESET request did not arrive: nothing to do */
      else if (c->cb.error != NULL)
        c->cb.error (c->ud, &m.u.error);
      break;

    case SC_MSG_PREKEY_STATUS:
      if (!ready)
        rc = fail (c, SC_ERR_PROTOCOL, "prekey status before login");
      else
        rc = handle_prekey_status (c, &m.u.prekey_status);
      break;

    case SC_MSG_BUNDLE:
      if (!ready)
        rc = fail (c, SC_ERR_PROTOCOL, "bundle before login");
      else
        rc = handle_bundle (c, &m.u.bundle);
      break;

    case SC_MSG_BYE:
      close_session (c, SC_OK, m.u.bye.code, m.u.bye.message);
      break;

    case SC_MSG_PING:
      /* Before login the server has no reason to ping, and a pong would
       * not be allowed there: ignore it. */
      if (ready && !c->quitting)
        {
          rc = queue_simple (c, SC_MSG_PONG);
          if (rc < 0 && !recoverable (rc))
            rc = fail (c, rc, "cannot answer a ping");
          else
            rc = SC_OK;
        }
      break;

    case SC_MSG_PONG:
      if (!ready)
        rc = fail (c, SC_ERR_PROTOCOL, "pong before login");
      break;

    case SC_MSG_CLIENT_HELLO:
    case SC_MSG_SERVER_HELLO:
    case SC_MSG_LOGIN:
    case SC_MSG_SEND:
    case SC_MSG_WHO:
    case SC_MSG_PREKEYS_UPLOAD:
    case SC_MSG_BUNDLE_REQUEST:
    case SC_MSG_N_TYPES:
    default:
      rc = fail (c, SC_ERR_PROTOCOL, "the server sent a client message");
      break;
    }
  sc_msg_clear (&m);
  return rc;
}

static int
handle_frame (struct sc_client *c, const uint8_t *body, size_t len)
{
  /* Any frame shows the link is alive. */
  c->ping_outstanding = false;
  c->awaiting = false;
  c->unanswered = false;

  if (c->state == SC_CLIENT_HANDSHAKE)
    return handle_handshake (c, body, len);
  return handle_transport (c, body, len);
}

/* Handles every complete frame in the input buffer and keeps the rest. */
static int
drain_input (struct sc_client *c)
{
  size_t off = 0;
  int rc = SC_OK;

  while (c->state != SC_CLIENT_CLOSED)
    {
      const uint8_t *body = NULL;
      size_t body_len = 0;
      long n;

      n = sc_frame_next (c->in + off, c->in_len - off, SC_FRAME_MAX, &body,
                         &body_len);
      if (n < 0)
        return fail (c, (int) n, "the server sent a bad frame header");
      if (n == 0)
        break;
      off += (size_t) n;
      rc = handle_frame (c, body, body_len);
      if (rc < 0)
        return rc;
    }
  if (c->state == SC_CLIENT_CLOSED)
    return SC_OK;
  if (off > 0)
    {
      memmove (c->in, c->in + off, c->in_len - off);
      c->in_len -= off;
    }
  return SC_OK;
}

int
sc_client_recv (struct sc_client *c,
                const uint8_t *in,
                size_t len,
                int64_t now_ms)
{
  int rc = SC_OK;

  if (c == NULL || (in == NULL && len > 0))
    return SC_ERR_INVALID;
  if (c->state == SC_CLIENT_CLOSED)
    return SC_ERR_CLOSED;
  if (!c->started || c->in_recv)
    return SC_ERR_STATE;

  c->in_recv = true;
  c->now_ms = now_ms;
  while (len > 0 && c->state != SC_CLIENT_CLOSED)
    {
      size_t n = IN_CAP - c->in_len;

      if (n > len)
        n = len;
      memcpy (c->in + c->in_len, in, n);
      c->in_len += n;
      in += n;
      len -= n;
      rc = drain_input (c);
      if (rc < 0)
        break;
    }
  c->in_recv = false;
  return rc;
}

const uint8_t *
sc_client_pending (const struct sc_client *c, size_t *len)
{
  if (len == NULL)
    return NULL;
  *len = 0;
  if (c == NULL || c->out == NULL)
    return NULL;
  *len = c->out_len - c->out_off;
  return c->out + c->out_off;
}

void
sc_client_consume (struct sc_client *c, size_t n)
{
  if (c == NULL)
    return;
  if (n > c->out_len - c->out_off)
    n = c->out_len - c->out_off;
  c->out_off += n;
  if (c->out_off == c->out_len)
    {
      c->out_off = 0;
      c->out_len = 0;
    }
}

static int
check_ready (const struct sc_client *c)
{
  if (c->state == SC_CLIENT_CLOSED)
    return SC_ERR_CLOSED;
  if (c->state != SC_CLIENT_READY || c->quitting)
    return SC_ERR_STATE;
  return SC_OK;
}

/* End-to-end send: encrypted now with a session, else waits for the
 * recipient's bundle. */
static int
e2e_send (struct sc_client *c,
          const char *to,
          const uint8_t *body,
          size_t body_len,
          uint64_t *ref)
{
  struct fetch *f = fetch_by_peer (c, to);
  struct waiting *w;
  uint8_t *text;
  int rc;

  if (body_len > SC_E2E_CONTENT_MAX)
    return SC_ERR_TOO_LARGE;
  /* Our own name: the server's answer to the bundle request says why
   * that cannot be, as it would for a send. */
  if (f == NULL && strcmp (to, c->user) != 0)
    {
      uint8_t *msg = NULL;
      size_t msg_len = 0;

      rc = sc_e2e_encrypt (c->e2e, to, SC_E2E_CONTENT_TEXT, body, body_len,
                           &msg, &msg_len);
      if (rc == SC_OK)
        {
          rc = queue_send (c, c->next_id, to, msg, msg_len);
          sc_wipe (msg, msg_len);
          free (msg);
          rc = check_queued (c, rc);
          if (rc < 0)
            return rc;
          *ref = c->next_id++;
          c->unanswered = true;
          return SC_OK;
        }
      if (rc != SC_ERR_NO_SESSION)
        return rc;
    }

  if (body_len > SC_CLIENT_E2E_BYTES_MAX - c->waiting_bytes ||
      (f == NULL && c->n_fetches == SC_CLIENT_E2E_PEERS_MAX) ||
      (f != NULL && f->n == SC_CLIENT_E2E_WAITING_MAX))
    return SC_ERR_TOO_LARGE;
  /* A new fetch takes an id for the request and one for the send. */
  if (f == NULL && c->next_id >= SC_ID_MAX)
    return SC_ERR_STATE;

  text = malloc (body_len > 0 ? body_len : 1);
  if (text == NULL)
    return SC_ERR_NOMEM;
  if (body_len > 0)
    memcpy (text, body, body_len);
  if (f != NULL && f->n == f->cap)
    {
      size_t cap = f->cap > 0 ? 2 * f->cap : 4;
      void *p = realloc (f->items, cap * sizeof *f->items);

      if (p == NULL)
        {
          rc = SC_ERR_NOMEM;
          goto fail;
        }
      f->items = p;
      f->cap = cap;
    }
  if (f == NULL)
    {
      struct waiting *items = malloc (4 * sizeof *items);

      if (items == NULL)
        {
          rc = SC_ERR_NOMEM;
          goto fail;
        }
      rc = start_fetch (c, to, &f);
      if (rc < 0)
        {
          free (items);
          goto fail;
        }
      f->items = items;
      f->cap = 4;
    }
  w = &f->items[f->n++];
  w->ref = c->next_id++;
  w->text = text;
  w->len = body_len;
  c->waiting_bytes += body_len;
  *ref = w->ref;
  return SC_OK;

fail:
  sc_wipe (text, body_len);
  free (text);
  return rc;
}

int
sc_client_send (struct sc_client *c,
                const char *to,
                const uint8_t *body,
                size_t body_len,
                uint64_t *ref)
{
  size_t to_len;
  int rc;

  if (ref != NULL)
    *ref = 0;
  if (c == NULL || to == NULL || ref == NULL || (body == NULL && body_len > 0))
    return SC_ERR_INVALID;
  rc = check_ready (c);
  if (rc < 0)
    return rc;
  to_len = strnlen (to, SC_USERNAME_MAX + 1);
  if (sc_username_validate (to, to_len) < 0)
    return SC_ERR_USERNAME;
  if (body_len > SC_BODY_MAX)
    return SC_ERR_TOO_LARGE;
  if (c->next_id > SC_ID_MAX)
    return SC_ERR_STATE;
  if (c->e2e != NULL)
    return e2e_send (c, to, body, body_len, ref);

  rc = check_queued (c, queue_send (c, c->next_id, to, body, body_len));
  if (rc < 0)
    return rc;
  *ref = c->next_id++;
  c->unanswered = true;
  return SC_OK;
}

int
sc_client_fetch_keys (struct sc_client *c, const char *peer)
{
  struct fetch *f = NULL;
  size_t len;
  int rc;

  if (c == NULL || peer == NULL)
    return SC_ERR_INVALID;
  if (c->e2e == NULL)
    return SC_ERR_STATE;
  rc = check_ready (c);
  if (rc < 0)
    return rc;
  len = strnlen (peer, SC_USERNAME_MAX + 1);
  if (sc_username_validate (peer, len) < 0)
    return SC_ERR_USERNAME;
  if (strcmp (peer, c->user) == 0)
    return SC_ERR_INVALID;
  if (fetch_by_peer (c, peer) != NULL)
    return 0;
  rc = sc_e2e_has_session (c->e2e, peer);
  if (rc != 0)
    return rc;
  rc = start_fetch (c, peer, &f);
  return rc < 0 ? rc : 0;
}

int
sc_client_who (struct sc_client *c)
{
  int rc;

  if (c == NULL)
    return SC_ERR_INVALID;
  rc = check_ready (c);
  if (rc < 0)
    return rc;
  rc = check_queued (c, queue_simple (c, SC_MSG_WHO));
  if (rc < 0)
    return rc;
  c->unanswered = true;
  return SC_OK;
}

int
sc_client_quit (struct sc_client *c)
{
  struct sc_msg m;
  int rc;

  if (c == NULL)
    return SC_ERR_INVALID;
  if (c->state == SC_CLIENT_CLOSED)
    return SC_ERR_CLOSED;
  if (c->state == SC_CLIENT_HANDSHAKE || c->quitting)
    return SC_ERR_STATE;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BYE;
  m.u.bye.code = SC_CODE_CLIENT_QUIT;
  rc = check_queued (c, queue_msg (c, &m));
  if (rc < 0)
    return rc;
  c->quitting = true;
  return SC_OK;
}

int64_t
sc_client_tick (struct sc_client *c, int64_t now_ms)
{
  int64_t third;
  int64_t next = SC_CLIENT_NO_DEADLINE;

  if (c == NULL)
    return SC_CLIENT_NO_DEADLINE;
  c->now_ms = now_ms;
  if (c->state != SC_CLIENT_READY || c->quitting)
    return SC_CLIENT_NO_DEADLINE;

  third = (int64_t) c->hello.idle_timeout * 1000 / 3;
  if (third < 1)
    third = 1;

  if (c->sent_since_tick)
    {
      c->last_send_ms = now_ms;
      c->sent_since_tick = false;
    }
  if (c->unanswered && !c->awaiting)
    {
      c->awaiting = true;
      c->awaiting_since = now_ms;
    }
  c->unanswered = false;

  if (c->awaiting && now_ms - c->awaiting_since >= third)
    {
      fail (c, SC_ERR_CLOSED, "no reply from the server");
      return SC_CLIENT_NO_DEADLINE;
    }

  if (!c->ping_outstanding && now_ms - c->last_send_ms >= third)
    {
      int rc = queue_simple (c, SC_MSG_PING);

      if (rc < 0 && !recoverable (rc))
        {
          fail (c, rc, "cannot encrypt a message");
          return SC_CLIENT_NO_DEADLINE;
        }
      c->sent_since_tick = false;
      c->last_send_ms = now_ms;
      if (rc == SC_OK)
        {
          c->ping_outstanding = true;
          if (!c->awaiting)
            {
              c->awaiting = true;
              c->awaiting_since = now_ms;
            }
        }
    }

  /* A rotation that fell due since the last status. */
  if (c->have_status && c->uploads == 0 &&
      now_ms - c->status_checked_ms >= SC_CLIENT_E2E_CHECK_MS)
    {
      if (handle_prekey_status (c, &c->status) < 0)
        return SC_CLIENT_NO_DEADLINE;
    }

  if (c->awaiting)
    next = c->awaiting_since + third;
  if (!c->ping_outstanding && c->last_send_ms + third < next)
    next = c->last_send_ms + third;
  if (c->have_status && c->status_checked_ms + SC_CLIENT_E2E_CHECK_MS < next)
    next = c->status_checked_ms + SC_CLIENT_E2E_CHECK_MS;
  return next;
}

enum sc_client_state
sc_client_state (const struct sc_client *c)
{
  if (c == NULL)
    return SC_CLIENT_CLOSED;
  return c->state;
}

const char *
sc_client_server_fingerprint (const struct sc_client *c)
{
  if (c == NULL)
    return "";
  return c->fingerprint;
}

struct sc_e2e *
sc_client_e2e (const struct sc_client *c)
{
  return c != NULL ? c->e2e : NULL;
}
