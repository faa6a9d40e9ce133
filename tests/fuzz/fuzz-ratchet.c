/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Double Ratchet (common/ratchet.c): sc_ratchet_deserialize on a
 * stored state, then the message header decoder and RatchetDecrypt on
 * messages against it.
 *
 * Input: BE16 length || serialized state, then records (fuzz.h):
 *   op 0  decrypt data, a message with the 2-byte NORMAL prefix
 *   op 1  decrypt data, a message with the 106-byte PREKEY prefix
 *   op 2  decrypt data[1..], a message with a data[0]-byte prefix
 *   op 3  encrypt data (prefix 2), as the owner of the state replying
 *   op 4  replace the state by its serialize/deserialize round trip
 * Each op draws its keys from a stream seeded by its index.
 *
 * Checked: a state that loads serializes to the very bytes it came from;
 * an operation that fails leaves the state byte for byte as it was; a
 * message that decrypted once never decrypts again; errors are the
 * documented ones. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/ratchet-testing.h"
#include "securechat/ratchet.h"

#define OPS_MAX 64

enum
{
  OP_DECRYPT_NORMAL,
  OP_DECRYPT_PREKEY,
  OP_DECRYPT_PREFIX,
  OP_ENCRYPT,
  OP_RELOAD,
  N_OPS
};

static const struct sc_dr_labels *labels;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  labels = sc_dr_labels_default ();
  return 0;
}

static void
serialize (const struct sc_ratchet *r, uint8_t **out, size_t *len)
{
  int rc = sc_ratchet_serialize (r, out, len);

  if (rc != SC_OK)
    fuzz_fail ("sc_ratchet_serialize: %s", sc_strerror (rc));
}

static void
free_bytes (uint8_t *p, size_t len)
{
  sc_wipe (p, len);
  free (p);
}

static bool
same (const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
  return a_len == b_len && memcmp (a, b, a_len) == 0;
}

/* Decrypts; on success checks that the same message then fails. */
static int
decrypt (struct sc_ratchet *r, const uint8_t *msg, size_t len, size_t prefix)
{
  uint8_t *pt = NULL;
  size_t pt_len = 0;
  int rc = sc_ratchet_decrypt (r, msg, len, prefix, &pt, &pt_len);

  if (rc == SC_OK)
    {
      uint8_t *again = NULL;
      size_t again_len = 0;
      int rc2;

      FUZZ_CHECK (pt != NULL);
      rc2 = sc_ratchet_decrypt (r, msg, len, prefix, &again, &again_len);
      if (rc2 == SC_OK)
        fuzz_fail ("a message decrypted twice");
      FUZZ_CHECK (again == NULL && again_len == 0);
      free_bytes (pt, pt_len);
      return rc;
    }
  FUZZ_CHECK (pt == NULL && pt_len == 0);
  if (rc != SC_ERR_DUPLICATE && rc != SC_ERR_TOO_FAR && rc != SC_ERR_DECRYPT &&
      rc != SC_ERR_TRUNCATED && rc != SC_ERR_DH && rc != SC_ERR_PROTOCOL &&
      rc != SC_ERR_TOO_LARGE)
    fuzz_fail ("sc_ratchet_decrypt: unexpected %s", sc_strerror (rc));
  return rc;
}

/* One op on *r (step seeds its keys). An encryption's message goes to
 * *out when out is given. Returns the sc_error. */
static int
run_op (struct sc_ratchet **r,
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

  fuzz_reseed ("ratchet", step);
  switch (op % N_OPS)
    {
    case OP_DECRYPT_NORMAL:
      return decrypt (*r, data, len, 2);
    case OP_DECRYPT_PREKEY:
      return decrypt (*r, data, len, 106);
    case OP_DECRYPT_PREFIX:
      if (len < 1)
        return SC_ERR_TRUNCATED;
      return decrypt (*r, data + 1, len - 1, data[0]);
    case OP_ENCRYPT:
      rc = sc_ratchet_encrypt (*r, (const uint8_t *) "\x01\x02", 2, data, len,
                               &msg, &msg_len);
      if (rc == SC_OK && out != NULL)
        {
          *out = msg;
          *out_len = msg_len;
        }
      else if (rc == SC_OK)
        free (msg);
      else
        FUZZ_CHECK (rc == SC_ERR_STATE || rc == SC_ERR_NONCE_EXHAUSTED ||
                    rc == SC_ERR_TOO_LARGE);
      return rc;
    default:
      {
        struct sc_ratchet *copy = NULL;
        uint8_t *ser = NULL;
        size_t ser_len = 0;

        serialize (*r, &ser, &ser_len);
        rc = sc_ratchet_deserialize (labels, ser, ser_len, &copy);
        free_bytes (ser, ser_len);
        if (rc != SC_OK)
          fuzz_fail ("a serialized state does not load: %s", sc_strerror (rc));
        sc_ratchet_free (*r);
        *r = copy;
        return SC_OK;
      }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct fuzz_reader rd;
  struct sc_ratchet *r = NULL;
  const uint8_t *state, *d;
  uint8_t *ser = NULL;
  size_t state_len, ser_len = 0, len;
  uint32_t step = 0;
  uint8_t op;
  int rc;

  if (size < 2)
    return 0;
  state_len = (size_t) data[0] << 8 | data[1];
  if (state_len > size - 2)
    state_len = size - 2;
  state = data + 2;
  rd.p = state + state_len;
  rd.left = size - 2 - state_len;

  rc = sc_ratchet_deserialize (labels, state, state_len, &r);
  if (rc != SC_OK)
    {
      FUZZ_CHECK (r == NULL);
      FUZZ_CHECK (rc == SC_ERR_TRUNCATED || rc == SC_ERR_FIELD ||
                  rc == SC_ERR_UNSUPPORTED || rc == SC_ERR_TOO_LARGE);
      return 0;
    }
  /* One encoding per state. */
  serialize (r, &ser, &ser_len);
  if (!same (ser, ser_len, state, state_len))
    fuzz_fail ("a loaded state serializes differently");

  while (step < OPS_MAX && fuzz_next (&rd, &op, &d, &len))
    {
      uint8_t *after = NULL;
      size_t after_len = 0;

      rc = run_op (&r, op, d, len, step++, NULL, NULL);
      fuzz_trace ("step %u: op %u, %zu bytes: %s", step - 1, op % N_OPS, len,
                  sc_strerror (rc));
      serialize (r, &after, &after_len);
      if (rc != SC_OK && !same (ser, ser_len, after, after_len))
        fuzz_fail ("a failed operation (%s) changed the state",
                   sc_strerror (rc));
      free_bytes (ser, ser_len);
      ser = after;
      ser_len = after_len;
    }
  free_bytes (ser, ser_len);
  sc_ratchet_free (r);
  return 0;
}

/* ---- seeds ---- */

/* The receiving side of a seed: a state and the script run on it, replayed
 * exactly as the harness will (same ops, same seeds) so that replies
 * carry the keys the harness will make. */
struct script
{
  struct sc_ratchet *r;
  struct fuzz_buf buf;
  uint32_t step;
};

static void
script_start (struct script *s, const struct sc_ratchet *r)
{
  uint8_t *ser = NULL;
  size_t len = 0;
  uint8_t hdr[2];

  memset (s, 0, sizeof *s);
  serialize (r, &ser, &len);
  if (sc_ratchet_deserialize (labels, ser, len, &s->r) != SC_OK)
    fuzz_fail ("seed state does not load");
  hdr[0] = (uint8_t) (len >> 8);
  hdr[1] = (uint8_t) len;
  fuzz_buf_put (&s->buf, hdr, 2);
  fuzz_buf_put (&s->buf, ser, len);
  free_bytes (ser, len);
}

/* Runs op on the script's state and records it; returns its result and
 * an encryption's message in *out. */
static int
script_op (struct script *s,
           uint8_t op,
           const uint8_t *data,
           size_t len,
           uint8_t **out,
           size_t *out_len)
{
  fuzz_buf_record (&s->buf, op, data, len);
  return run_op (&s->r, op, data, len, s->step++, out, out_len);
}

static void
script_end (struct script *s, const char *name)
{
  fuzz_buf_emit (&s->buf, name);
  fuzz_buf_free (&s->buf);
  sc_ratchet_free (s->r);
  s->r = NULL;
}

/* The sender's side: its own stream, apart from the script's. */
static uint32_t sender_step;

static void
send_msg (struct sc_ratchet *r,
          const uint8_t *prefix,
          size_t prefix_len,
          const char *text,
          uint8_t **msg,
          size_t *len)
{
  int rc;

  fuzz_reseed ("ratchet-sender", sender_step++);
  rc = sc_ratchet_encrypt (r, prefix, prefix_len, (const uint8_t *) text,
                           strlen (text), msg, len);
  if (rc != SC_OK)
    fuzz_fail ("seed encrypt: %s", sc_strerror (rc));
}

/* A fresh pair: alice (initiator, a fixed first key) and bob. */
static void
pair_new (struct sc_ratchet **alice, struct sc_ratchet **bob)
{
  uint8_t sk[32], bob_priv[32], bob_pub[32], alice_priv[32], ad[64];

  for (int i = 0; i < 32; i++)
    {
      sk[i] = (uint8_t) (i + 1);
      bob_priv[i] = (uint8_t) (0x40 + i);
      alice_priv[i] = (uint8_t) (0x80 + i);
    }
  memset (ad, 0xad, sizeof ad);
  if (sc_x25519_public (bob_priv, bob_pub) != SC_OK ||
      sc_ratchet_init_alice_fixed (labels, sk, bob_pub, alice_priv, ad,
                                   sizeof ad, alice) != SC_OK ||
      sc_ratchet_init_bob (labels, sk, bob_priv, ad, sizeof ad, bob) != SC_OK)
    fuzz_fail ("seed ratchets");
}

static const uint8_t normal_prefix[2] = { 1, 2 };

static void
emit_state (const char *name, const struct sc_ratchet *r)
{
  struct script s;

  script_start (&s, r);
  script_end (&s, name);
}

static void
bob_drops (struct sc_ratchet *bob, const uint8_t *m, size_t len, size_t prefix)
{
  uint8_t *pt = NULL;
  size_t pt_len = 0;

  fuzz_reseed ("ratchet-bob", sender_step++);
  if (sc_ratchet_decrypt (bob, m, len, prefix, &pt, &pt_len) != SC_OK)
    fuzz_fail ("seed decrypt");
  free_bytes (pt, pt_len);
}

void
fuzz_generate (void)
{
  struct sc_ratchet *alice, *bob;
  struct script s;
  uint8_t prekey_prefix[106];
  uint8_t *m[8], *reply = NULL;
  size_t ml[8], reply_len = 0;

  memset (prekey_prefix, 0x11, sizeof prekey_prefix);
  prekey_prefix[0] = 1;
  prekey_prefix[1] = 1;

  /* Bob before anything: Alice's first messages (PREKEY), then his reply,
   * which a fresh ratchet step from Alice answers. */
  sender_step = 0;
  pair_new (&alice, &bob);
  emit_state ("state-alice-initial", alice);
  emit_state ("state-bob-initial", bob);
  send_msg (alice, prekey_prefix, sizeof prekey_prefix, "hello", &m[0], &ml[0]);
  send_msg (alice, prekey_prefix, sizeof prekey_prefix, "again", &m[1], &ml[1]);
  script_start (&s, bob);
  script_op (&s, OP_DECRYPT_PREKEY, m[0], ml[0], NULL, NULL);
  script_op (&s, OP_DECRYPT_PREKEY, m[1], ml[1], NULL, NULL);
  script_op (&s, OP_DECRYPT_PREKEY, m[0], ml[0], NULL, NULL); /* duplicate */
  script_op (&s, OP_ENCRYPT, (const uint8_t *) "hi alice", 8, &reply,
             &reply_len);
  {
    uint8_t *pt = NULL;
    size_t pt_len = 0;

    fuzz_reseed ("ratchet-alice", 0);
    if (sc_ratchet_decrypt (alice, reply, reply_len, 2, &pt, &pt_len) != SC_OK)
      fuzz_fail ("seed reply");
    free_bytes (pt, pt_len);
  }
  free (reply);
  send_msg (alice, normal_prefix, 2, "step", &m[2], &ml[2]);
  script_op (&s, OP_RELOAD, NULL, 0, NULL, NULL);
  script_op (&s, OP_DECRYPT_NORMAL, m[2], ml[2], NULL, NULL);
  script_end (&s, "bob-prekey-reply-step");
  /* The same first message with the prefix length in the data. */
  script_start (&s, bob);
  {
    struct fuzz_buf b = { 0 };

    fuzz_buf_u8 (&b, sizeof prekey_prefix);
    fuzz_buf_put (&b, m[0], ml[0]);
    script_op (&s, OP_DECRYPT_PREFIX, b.p, b.len, NULL, NULL);
    fuzz_buf_free (&b);
  }
  script_end (&s, "bob-prefix-in-data");
  for (int i = 0; i < 3; i++)
    free (m[i]);
  sc_ratchet_free (alice);
  sc_ratchet_free (bob);

  /* Bob with skipped keys: m1 and m2 arrive after m3, m1 twice. */
  pair_new (&alice, &bob);
  for (int i = 0; i < 4; i++)
    send_msg (alice, normal_prefix, 2, "msg", &m[i], &ml[i]);
  bob_drops (bob, m[0], ml[0], 2);
  bob_drops (bob, m[3], ml[3], 2);
  script_start (&s, bob);
  script_op (&s, OP_DECRYPT_NORMAL, m[2], ml[2], NULL, NULL);
  script_op (&s, OP_DECRYPT_NORMAL, m[1], ml[1], NULL, NULL);
  script_op (&s, OP_DECRYPT_NORMAL, m[1], ml[1], NULL, NULL);
  script_op (&s, OP_DECRYPT_NORMAL, m[3], ml[3], NULL, NULL);
  script_end (&s, "bob-skipped-keys");
  for (int i = 0; i < 4; i++)
    free (m[i]);

  /* Several ratchet steps, then late messages from past chains. */
  for (int round = 0; round < 4; round++)
    {
      uint8_t *late = NULL, *pt = NULL, *r2 = NULL;
      size_t late_len = 0, pt_len = 0, r2_len = 0;

      send_msg (alice, normal_prefix, 2, "late", &late, &late_len);
      send_msg (alice, normal_prefix, 2, "on time", &m[0], &ml[0]);
      bob_drops (bob, m[0], ml[0], 2);
      free (m[0]);
      fuzz_reseed ("ratchet-bob-send", (uint32_t) round);
      if (sc_ratchet_encrypt (bob, normal_prefix, 2, (const uint8_t *) "r", 1,
                              &r2, &r2_len) != SC_OK)
        fuzz_fail ("seed bob reply");
      fuzz_reseed ("ratchet-alice-recv", (uint32_t) round);
      if (sc_ratchet_decrypt (alice, r2, r2_len, 2, &pt, &pt_len) != SC_OK)
        fuzz_fail ("seed alice recv");
      free_bytes (pt, pt_len);
      free (r2);
      m[4 + round] = late;
      ml[4 + round] = late_len;
    }
  send_msg (alice, normal_prefix, 2, "newest", &m[0], &ml[0]);
  script_start (&s, bob);
  script_op (&s, OP_DECRYPT_NORMAL, m[0], ml[0], NULL, NULL);
  for (int round = 3; round >= 0; round--)
    script_op (&s, OP_DECRYPT_NORMAL, m[4 + round], ml[4 + round], NULL, NULL);
  script_op (&s, OP_ENCRYPT, (const uint8_t *) "bye", 3, NULL, NULL);
  script_op (&s, OP_RELOAD, NULL, 0, NULL, NULL);
  script_end (&s, "bob-old-chains");
  free (m[0]);
  for (int round = 0; round < 4; round++)
    free (m[4 + round]);
  emit_state ("state-alice-after-steps", alice);
  sc_ratchet_free (alice);
  sc_ratchet_free (bob);

  /* A full skipped-key store, and a jump just past MAX_SKIP. */
  pair_new (&alice, &bob);
  send_msg (alice, normal_prefix, 2, "first", &m[0], &ml[0]);
  bob_drops (bob, m[0], ml[0], 2);
  free (m[0]);
  for (int i = 0; i < SC_DR_MAX_SKIP; i++)
    {
      send_msg (alice, normal_prefix, 2, "x", &m[0], &ml[0]);
      free (m[0]);
    }
  send_msg (alice, normal_prefix, 2, "far", &m[0], &ml[0]);
  send_msg (alice, normal_prefix, 2, "too far", &m[1], &ml[1]);
  script_start (&s, bob);
  script_op (&s, OP_DECRYPT_NORMAL, m[1], ml[1], NULL, NULL);
  script_op (&s, OP_DECRYPT_NORMAL, m[0], ml[0], NULL, NULL);
  script_op (&s, OP_RELOAD, NULL, 0, NULL, NULL);
  script_end (&s, "bob-max-skip");
  bob_drops (bob, m[0], ml[0], 2);
  emit_state ("state-bob-full-store", bob);
  free (m[0]);
  free (m[1]);
  sc_ratchet_free (alice);
  sc_ratchet_free (bob);
}
