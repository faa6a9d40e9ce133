/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The end-to-end decrypt path (sc_e2e_decrypt): message kind, the PREKEY
 * prefix and X3DH as the responder, the ratchet header and body, over
 * bob's stored identity, prekeys, contacts and sessions.
 *
 * The world is made once, from fixed seeds: bob, who published prekeys
 * and has a session with alice (each has answered the other), and carol,
 * who never wrote to him. Before each input bob's storage goes back to
 * that snapshot. Input: one byte choosing the sender (alice, carol, dave
 * who bob never heard of, or bob himself), then records (fuzz.h):
 *   op even  bob decrypts data from the sender
 *   op odd   bob encrypts data as a text to the sender (his state moves)
 * Each op draws its keys from a stream seeded by its index.
 *
 * Checked: errors are the documented ones; a failed decryption leaves
 * every stored record as it was; a successful one hands out the content
 * and never decrypts the same body twice; flags agree with what happened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/init.h"
#include "securechat/ratchet.h"

#define OPS_MAX 32

static const char *const senders[] = { "alice", "carol", "dave", "bob" };

static struct fuzz_party alice, bob, carol;
static struct fuzz_mem *bob_snapshot;
static struct fuzz_mem *alice_snapshot;

/* Decrypts on bob's side; on success the same body must not decrypt
 * again. */
static int
bob_decrypt (const char *peer, const uint8_t *msg, size_t len)
{
  uint8_t type = 0, *data = NULL;
  size_t data_len = 0;
  unsigned flags = 0;
  int rc;

  rc = sc_e2e_decrypt (bob.e2e, peer, msg, len, FUZZ_NOW_MS, &type, &data,
                       &data_len, &flags);
  if (rc != SC_OK)
    {
      FUZZ_CHECK (data == NULL && data_len == 0 && flags == 0);
      if (rc != SC_ERR_NO_SESSION && rc != SC_ERR_DUPLICATE &&
          rc != SC_ERR_NOT_FOUND && rc != SC_ERR_DECRYPT &&
          rc != SC_ERR_TRUNCATED && rc != SC_ERR_TOO_FAR &&
          rc != SC_ERR_PROTOCOL && rc != SC_ERR_UNSUPPORTED &&
          rc != SC_ERR_DH && rc != SC_ERR_TOO_LARGE &&
          !(rc == SC_ERR_INVALID && strcmp (peer, "bob") == 0))
        fuzz_fail ("sc_e2e_decrypt: unexpected %s", sc_strerror (rc));
      return rc;
    }
  if (flags & SC_E2E_RESET)
    {
      FUZZ_CHECK (flags == SC_E2E_RESET && data == NULL);
      FUZZ_CHECK (sc_e2e_has_session (bob.e2e, peer) == 0);
      return rc;
    }
  FUZZ_CHECK (data != NULL);
  FUZZ_CHECK ((flags & ~(SC_E2E_NEW_SESSION | SC_E2E_IDENTITY_CHANGED |
                         SC_E2E_NEW_CONTACT)) == 0);
  if (flags & (SC_E2E_IDENTITY_CHANGED | SC_E2E_NEW_CONTACT))
    FUZZ_CHECK (flags & SC_E2E_NEW_SESSION);
  FUZZ_CHECK (sc_e2e_has_session (bob.e2e, peer) == 1);
  sc_wipe (data, data_len);
  free (data);
  data = NULL;
  data_len = 0;
  if (sc_e2e_decrypt (bob.e2e, peer, msg, len, FUZZ_NOW_MS, &type, &data,
                      &data_len, &flags) == SC_OK)
    fuzz_fail ("a message decrypted twice");
  return rc;
}

/* One op for bob with sender `peer`; an encryption's body goes to *out
 * when out is given. */
static int
run_op (const char *peer,
        uint8_t op,
        const uint8_t *data,
        size_t len,
        uint32_t step,
        uint8_t **out,
        size_t *out_len)
{
  uint8_t *msg = NULL;
  size_t msg_len = 0;
  int rc;

  fuzz_reseed ("e2e", step);
  if (op % 2 == 0)
    return bob_decrypt (peer, data, len);
  if (len > SC_E2E_CONTENT_MAX)
    len = SC_E2E_CONTENT_MAX;
  rc = sc_e2e_encrypt (bob.e2e, peer, SC_E2E_CONTENT_TEXT, data, len, &msg,
                       &msg_len);
  if (rc == SC_OK && out != NULL)
    {
      *out = msg;
      *out_len = msg_len;
    }
  else
    free (msg);
  return rc;
}

/* Bob's records, serialized, to compare before and after a failure. */
static void
records_of (struct fuzz_party *p, const char *peer, struct fuzz_buf *b)
{
  static const char *const kinds[] = { "prekeys", "replay", "session/",
                                       "contact/" };
  struct sc_e2e_storage st = fuzz_mem_storage (p->mem);

  b->len = 0;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    {
      char name[64];
      uint8_t *buf = NULL;
      size_t len = 0;

      snprintf (name, sizeof name, "%s%s", kinds[i],
                kinds[i][strlen (kinds[i]) - 1] == '/' ? peer : "");
      if (st.load (st.ud, name, &buf, &len) == SC_OK)
        {
          fuzz_buf_record (b, (uint8_t) i, name, strlen (name));
          fuzz_buf_put (b, &len, sizeof len);
          fuzz_buf_put (b, buf, len);
          free (buf);
        }
    }
}

static void
world_init (void)
{
  fuzz_party_init (&alice, "alice", "e2e");
  fuzz_party_init (&bob, "bob", "e2e");
  fuzz_party_init (&carol, "carol", "e2e");

  /* alice starts, bob answers, alice reads the answer. */
  fuzz_party_converse (&alice, &bob, "e2e-world");

  bob_snapshot = fuzz_mem_new ();
  fuzz_mem_copy (bob_snapshot, bob.mem);
  alice_snapshot = fuzz_mem_new ();
  fuzz_mem_copy (alice_snapshot, alice.mem);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  sc_init ();
  world_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct fuzz_reader rd;
  struct fuzz_buf before = { 0 }, after = { 0 };
  const char *peer;
  const uint8_t *d;
  uint32_t step = 0;
  size_t len;
  uint8_t op;

  if (size < 1)
    return 0;
  peer = senders[data[0] % (sizeof senders / sizeof senders[0])];
  rd.p = data + 1;
  rd.left = size - 1;
  fuzz_mem_copy (bob.mem, bob_snapshot);
  while (step < OPS_MAX && fuzz_next (&rd, &op, &d, &len))
    {
      int rc;

      records_of (&bob, peer, &before);
      rc = run_op (peer, op, d, len, step++, NULL, NULL);
      fuzz_trace ("step %u: %s %zu bytes from %s: %s", step - 1,
                  op % 2 == 0 ? "decrypt" : "encrypt", len, peer,
                  sc_strerror (rc));
      if (rc != SC_OK)
        {
          records_of (&bob, peer, &after);
          if (before.len != after.len ||
              memcmp (before.p, after.p, before.len) != 0)
            fuzz_fail ("a failed %s (%s) changed bob's records",
                       op % 2 == 0 ? "decryption" : "encryption",
                       sc_strerror (rc));
        }
    }
  fuzz_buf_free (&before);
  fuzz_buf_free (&after);
  return 0;
}

/* ---- seeds ---- */

struct script
{
  struct fuzz_buf buf;
  uint32_t step;
  const char *peer;
};

static void
script_start (struct script *s, int sender)
{
  memset (s, 0, sizeof *s);
  s->peer = senders[sender];
  fuzz_buf_u8 (&s->buf, (uint8_t) sender);
  fuzz_mem_copy (bob.mem, bob_snapshot);
  fuzz_mem_copy (alice.mem, alice_snapshot);
}

/* Bob decrypts msg as the harness will; want is the result expected. */
static void
script_decrypt (struct script *s, const uint8_t *msg, size_t len, int want)
{
  int rc;

  fuzz_buf_record (&s->buf, 0, msg, len);
  rc = run_op (s->peer, 0, msg, len, s->step++, NULL, NULL);
  if (rc != want)
    fuzz_fail ("seed: bob's decryption gave %s, not %s", sc_strerror (rc),
               sc_strerror (want));
}

/* Bob answers with text; the body goes to *out. */
static void
script_reply (struct script *s, const char *text, uint8_t **out, size_t *len)
{
  int rc;

  fuzz_buf_record_str (&s->buf, 1, text);
  rc = run_op (s->peer, 1, (const uint8_t *) text, strlen (text), s->step++,
               out, len);
  if (rc != SC_OK)
    fuzz_fail ("seed: bob cannot reply: %s", sc_strerror (rc));
}

static void
script_end (struct script *s, const char *name)
{
  fuzz_buf_emit (&s->buf, name);
  fuzz_buf_free (&s->buf);
}

/* The sender's side draws from its own stream. */
static uint32_t gen_step;

static void
send_text (struct fuzz_party *p, const char *text, uint8_t **m, size_t *len)
{
  fuzz_reseed ("e2e-gen", gen_step++);
  fuzz_party_encrypt (p, "bob", text, m, len);
}

static void
recv_reply (struct fuzz_party *p, const uint8_t *m, size_t len)
{
  fuzz_reseed ("e2e-gen", gen_step++);
  if (fuzz_party_decrypt (p, "bob", m, len) != SC_OK)
    fuzz_fail ("seed: %s cannot read bob's reply", p->user);
}

static void
start_with (struct fuzz_party *p, int opk)
{
  struct sc_msg_bundle bundle;

  fuzz_reseed ("e2e-gen", gen_step++);
  fuzz_party_bundle (&bob, opk, 1, &bundle);
  if (sc_e2e_start_session (p->e2e, "bob", &bundle, FUZZ_NOW_MS) != SC_OK)
    fuzz_fail ("seed: %s cannot start a session", p->user);
}

/* alice's next NORMAL message with an empty plaintext, made with the
 * ratchet of her current session (the session record: version, count,
 * then peer identity 64, flags 1, EK_A 32, spk_id 4, opk_id 4, BE32
 * length and the ratchet state); her stored state moves on as it would. */
static void
empty_plaintext (uint8_t **m, size_t *len)
{
  static const uint8_t prefix[2] = { SC_E2E_VERSION, SC_E2E_KIND_NORMAL };
  struct sc_e2e_storage st = fuzz_mem_storage (alice.mem);
  struct sc_ratchet *r = NULL;
  uint8_t *rec = NULL, *ser = NULL;
  size_t rec_len = 0, ser_len = 0, off = 2 + 64 + 1 + 32 + 4 + 4;
  size_t rlen;

  if (st.load (st.ud, "session/bob", &rec, &rec_len) != SC_OK ||
      rec_len < off + 4)
    fuzz_fail ("seed: alice has no session record");
  rlen = (size_t) rec[off] << 24 | (size_t) rec[off + 1] << 16 |
         (size_t) rec[off + 2] << 8 | rec[off + 3];
  if (rlen > rec_len - off - 4 ||
      sc_ratchet_deserialize (sc_dr_labels_default (), rec + off + 4, rlen,
                              &r) != SC_OK)
    fuzz_fail ("seed: alice's session record does not parse");
  fuzz_reseed ("e2e-gen", gen_step++);
  if (sc_ratchet_encrypt (r, prefix, sizeof prefix, NULL, 0, m, len) != SC_OK ||
      sc_ratchet_serialize (r, &ser, &ser_len) != SC_OK || ser_len != rlen)
    fuzz_fail ("seed: cannot encrypt an empty plaintext");
  memcpy (rec + off + 4, ser, ser_len);
  if (st.store (st.ud, "session/bob", rec, rec_len) != SC_OK)
    fuzz_fail ("seed: cannot store alice's session");
  sc_ratchet_free (r);
  free (ser);
  free (rec);
}

void
fuzz_generate (void)
{
  struct script s;
  uint8_t *m[8], *reply;
  size_t ml[8], reply_len;
  struct fuzz_mem *carol_fresh = fuzz_mem_new ();

  fuzz_mem_copy (carol_fresh, carol.mem);

  /* alice's messages on the existing session: in order, late, twice. */
  script_start (&s, 0);
  for (int i = 0; i < 3; i++)
    send_text (&alice, "normal", &m[i], &ml[i]);
  script_decrypt (&s, m[0], ml[0], SC_OK);
  script_decrypt (&s, m[2], ml[2], SC_OK);
  script_decrypt (&s, m[1], ml[1], SC_OK);
  script_decrypt (&s, m[1], ml[1], SC_ERR_DUPLICATE);
  script_end (&s, "alice-normal-out-of-order");
  for (int i = 0; i < 3; i++)
    free (m[i]);

  /* Ping-pong: a ratchet step each way, three times. */
  script_start (&s, 0);
  for (int i = 0; i < 3; i++)
    {
      send_text (&alice, "ping", &m[0], &ml[0]);
      script_decrypt (&s, m[0], ml[0], SC_OK);
      free (m[0]);
      script_reply (&s, "pong", &reply, &reply_len);
      recv_reply (&alice, reply, reply_len);
      free (reply);
    }
  script_end (&s, "alice-ping-pong");

  /* carol, new to bob: a PREKEY message with a one-time prekey, another
   * before any reply, the first one replayed, then bob's reply and a
   * NORMAL message. */
  fuzz_mem_copy (carol.mem, carol_fresh);
  script_start (&s, 1);
  start_with (&carol, 1);
  send_text (&carol, "hi, I am carol", &m[0], &ml[0]);
  send_text (&carol, "still carol", &m[1], &ml[1]);
  script_decrypt (&s, m[0], ml[0], SC_OK);
  script_decrypt (&s, m[1], ml[1], SC_OK);
  script_decrypt (&s, m[0], ml[0], SC_ERR_DUPLICATE);
  script_reply (&s, "hi carol", &reply, &reply_len);
  recv_reply (&carol, reply, reply_len);
  free (reply);
  send_text (&carol, "normal now", &m[2], &ml[2]);
  script_decrypt (&s, m[2], ml[2], SC_OK);
  script_end (&s, "carol-new-contact");
  /* The same PREKEY message from someone else's name. */
  script_start (&s, 2);
  script_decrypt (&s, m[0], ml[0], SC_ERR_DECRYPT);
  script_end (&s, "carol-as-dave");
  for (int i = 0; i < 3; i++)
    free (m[i]);

  /* carol without a one-time prekey; then a prekey id bob never had. */
  fuzz_mem_copy (carol.mem, carol_fresh);
  script_start (&s, 1);
  start_with (&carol, -1);
  send_text (&carol, "no opk", &m[0], &ml[0]);
  script_decrypt (&s, m[0], ml[0], SC_OK);
  script_end (&s, "carol-no-opk");
  m[0][2 + 32 + 32 + 32 + 4 + 3] ^= 0x40; /* opk_id: none -> unknown */
  script_start (&s, 1);
  script_decrypt (&s, m[0], ml[0], SC_ERR_NOT_FOUND);
  script_end (&s, "carol-unknown-opk");
  m[0][2 + 32 + 32 + 32 + 4 + 3] ^= 0x40;
  m[0][2 + 32 + 32 + 32 + 3] ^= 0x01; /* spk_id */
  script_start (&s, 1);
  script_decrypt (&s, m[0], ml[0], SC_ERR_NOT_FOUND);
  script_end (&s, "carol-unknown-spk");
  free (m[0]);

  /* alice starts over (another one-time prekey): the old session is
   * archived, and a message still in flight on it decrypts. */
  script_start (&s, 0);
  send_text (&alice, "old session", &m[1], &ml[1]);
  start_with (&alice, 2);
  send_text (&alice, "new session", &m[0], &ml[0]);
  script_decrypt (&s, m[0], ml[0], SC_OK);
  script_decrypt (&s, m[1], ml[1], SC_OK);
  script_end (&s, "alice-restart");
  free (m[0]);
  free (m[1]);

  /* alice reinstalled: a new identity under her name. */
  {
    struct fuzz_party alice2;

    fuzz_party_init (&alice2, "alice", "e2e-reinstalled");
    script_start (&s, 0);
    start_with (&alice2, 3);
    send_text (&alice2, "new phone", &m[0], &ml[0]);
    script_decrypt (&s, m[0], ml[0], SC_OK);
    /* Nothing goes to alice until bob accepts her new key. */
    fuzz_buf_record_str (&s.buf, 1, "hm");
    if (run_op (s.peer, 1, (const uint8_t *) "hm", 2, s.step++, NULL, NULL) !=
        SC_ERR_IDENTITY_CHANGED)
      fuzz_fail ("seed: bob wrote to a changed identity");
    script_end (&s, "alice-identity-changed");
    free (m[0]);
    fuzz_party_clear (&alice2);
  }

  /* A RESET from alice: her next NORMAL message finds no session. */
  script_start (&s, 0);
  {
    uint8_t reset[SC_E2E_RESET_LEN];

    sc_e2e_reset_body (reset);
    send_text (&alice, "after reset", &m[0], &ml[0]);
    script_decrypt (&s, reset, sizeof reset, SC_OK);
    script_decrypt (&s, m[0], ml[0], SC_ERR_NO_SESSION);
    script_end (&s, "alice-reset");
    free (m[0]);
  }

  /* Too far ahead: more than MAX_SKIP messages skipped. */
  script_start (&s, 0);
  for (int i = 0; i <= SC_DR_MAX_SKIP + 1; i++)
    {
      send_text (&alice, "x", &m[0], &ml[0]);
      if (i == SC_DR_MAX_SKIP)
        m[1] = m[0], ml[1] = ml[0];
      else if (i != SC_DR_MAX_SKIP + 1)
        free (m[0]);
    }
  script_decrypt (&s, m[0], ml[0], SC_ERR_TOO_FAR);
  script_decrypt (&s, m[1], ml[1], SC_OK);
  script_end (&s, "alice-max-skip");
  free (m[0]);
  free (m[1]);

  /* A NORMAL message whose plaintext is empty (no content type): only a
   * sender that bypasses sc_e2e_encrypt makes one. It must be refused
   * with bob's state untouched. */
  script_start (&s, 0);
  empty_plaintext (&m[0], &ml[0]);
  script_decrypt (&s, m[0], ml[0], SC_ERR_PROTOCOL);
  send_text (&alice, "after the empty one", &m[1], &ml[1]);
  script_decrypt (&s, m[1], ml[1], SC_OK);
  script_end (&s, "alice-empty-plaintext");
  free (m[0]);
  free (m[1]);

  /* Bodies refused before any key is used. */
  {
    static const uint8_t bodies[][4] = {
      { 0 }, { 1 }, { 2, 2 }, { 1, 9 }, { 1, 3, 0 }, { 1, 1, 5 }, { 1, 2, 1 },
    };
    static const size_t lens[] = { 0, 1, 2, 2, 3, 3, 3 };
    static const int want[] = {
      SC_ERR_TRUNCATED,   SC_ERR_TRUNCATED, SC_ERR_UNSUPPORTED,
      SC_ERR_UNSUPPORTED, SC_ERR_PROTOCOL,  SC_ERR_TRUNCATED,
      SC_ERR_TRUNCATED,
    };

    script_start (&s, 0);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
      script_decrypt (&s, bodies[i], lens[i], want[i]);
    script_end (&s, "bad-bodies");
  }

  /* bob writes to dave, whom he has no session with, and to himself. */
  script_start (&s, 2);
  fuzz_buf_record_str (&s.buf, 1, "hello?");
  script_end (&s, "bob-to-stranger");
  script_start (&s, 3);
  fuzz_buf_record_str (&s.buf, 0, "\x01\x02");
  script_end (&s, "bob-to-himself");

  fuzz_mem_copy (carol.mem, carol_fresh);
  fuzz_mem_free (carol_fresh);
  fuzz_mem_copy (bob.mem, bob_snapshot);
  fuzz_mem_copy (alice.mem, alice_snapshot);
}
