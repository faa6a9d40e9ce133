/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Double Ratchet state machine: long conversations, out-of-order, lost,
 * duplicated and replayed messages, the MAX_SKIP and stored-key bounds,
 * header and AD binding, restarts through the serializer, the strict
 * deserializer, and a seeded interaction test (after libsignal's
 * `interaction` fuzz target) checked against a model of the receiver. Every
 * failed decryption must leave the serialized state byte-identical. */
#include <glib.h>
#include <string.h>

#include "securechat/crypto-testing.h"
#include "securechat/error.h"
#include "securechat/ratchet-testing.h"
#include "securechat/ratchet.h"

/* Mirrors of ratchet.c's private layout, for the deserializer tests. */
#define SER_FIXED   (4 + 1 + 1 + 6 * 32 + 3 * 4 + 2)
#define SER_OLD     (32 + 4)
#define SER_SKIPPED (32 + 4 + 32)
#define OLD_CHAINS  5
#define OFF_FLAGS   5
#define OFF_DHS     6
#define OFF_NS      (6 + 6 * 32)

static const guint8 ad_ab[] = "AD: IK_A || IK_B || alice || bob";
static const guint8 x3dh_prefix[] = "X3DH-INITIAL";
#define PREFIX_LEN (sizeof x3dh_prefix - 1)

typedef struct
{
  struct sc_ratchet *alice;
  struct sc_ratchet *bob;
  guint8 sk[32];
  guint8 spk_priv[32];
  guint8 spk_pub[32];
} Pair;

static void
pair_init_ad (Pair *p,
              const guint8 *ad_a,
              gsize ad_a_len,
              const guint8 *ad_b,
              gsize ad_b_len)
{
  const struct sc_dr_labels *l = sc_dr_labels_default ();

  memset (p, 0, sizeof *p);
  g_assert_cmpint (sc_random (p->sk, sizeof p->sk), ==, SC_OK);
  g_assert_cmpint (sc_x25519_keypair (p->spk_priv, p->spk_pub), ==, SC_OK);
  g_assert_cmpint (
      sc_ratchet_init_alice (l, p->sk, p->spk_pub, ad_a, ad_a_len, &p->alice),
      ==, SC_OK);
  g_assert_cmpint (
      sc_ratchet_init_bob (l, p->sk, p->spk_priv, ad_b, ad_b_len, &p->bob), ==,
      SC_OK);
}

static void
pair_init (Pair *p)
{
  pair_init_ad (p, ad_ab, sizeof ad_ab - 1, ad_ab, sizeof ad_ab - 1);
}

static void
pair_clear (Pair *p)
{
  sc_ratchet_free (p->alice);
  sc_ratchet_free (p->bob);
  memset (p, 0, sizeof *p);
}

/* The serialized state, for byte comparisons. */
static GBytes *
snap (const struct sc_ratchet *r)
{
  guint8 *buf = NULL;
  gsize len = 0;
  GBytes *b;

  g_assert_cmpint (sc_ratchet_serialize (r, &buf, &len), ==, SC_OK);
  b = g_bytes_new (buf, len);
  sc_wipe (buf, len);
  free (buf);
  return b;
}

static void
assert_state (const struct sc_ratchet *r, GBytes *before)
{
  g_autoptr (GBytes) now = snap (r);

  g_assert_true (g_bytes_equal (before, now));
}

typedef struct
{
  guint8 *data;
  gsize len;
  gsize prefix_len;
  guint8 pt[64];
  gsize pt_len;
} Msg;

static void
msg_clear (Msg *m)
{
  free (m->data);
  memset (m, 0, sizeof *m);
}

/* Encrypts a numbered text; the initiator adds the X3DH prefix until her
 * first reply, as a client would. */
static void
send_text (struct sc_ratchet *r, guint tag, Msg *m)
{
  gboolean prefix = !sc_ratchet_has_received (r) && tag >= 0x10000;

  memset (m, 0, sizeof *m);
  m->pt_len =
      (gsize) g_snprintf ((char *) m->pt, sizeof m->pt, "message %u from %s",
                          tag & 0xffff, tag >= 0x10000 ? "alice" : "bob");
  m->prefix_len = prefix ? PREFIX_LEN : 0;
  g_assert_cmpint (sc_ratchet_encrypt (r, prefix ? x3dh_prefix : NULL,
                                       m->prefix_len, m->pt, m->pt_len,
                                       &m->data, &m->len),
                   ==, SC_OK);
  g_assert_nonnull (m->data);
}

#define A(i) (0x10000u + (i))
#define B(i) (i)

static void
recv_ok (struct sc_ratchet *r, const Msg *m)
{
  guint8 *pt = NULL;
  gsize pt_len = 0;

  g_assert_cmpint (
      sc_ratchet_decrypt (r, m->data, m->len, m->prefix_len, &pt, &pt_len), ==,
      SC_OK);
  g_assert_cmpmem (pt, pt_len, m->pt, m->pt_len);
  free (pt);
}

/* Decrypting data must fail with err, release no plaintext and change
 * nothing. */
static void
recv_fail_raw (struct sc_ratchet *r,
               const guint8 *data,
               gsize len,
               gsize prefix_len,
               int err)
{
  g_autoptr (GBytes) before = snap (r);
  size_t stored = sc_ratchet_stored_keys (r);
  guint8 *pt = (guint8 *) &pt;
  gsize pt_len = 99;
  int ret;

  ret = sc_ratchet_decrypt (r, data, len, prefix_len, &pt, &pt_len);
  if (err != 0)
    g_assert_cmpint (ret, ==, err);
  else
    g_assert_cmpint (ret, <, 0);
  g_assert_null (pt);
  g_assert_cmpuint (pt_len, ==, 0);
  g_assert_cmpuint (sc_ratchet_stored_keys (r), ==, stored);
  assert_state (r, before);
}

static void
recv_fail (struct sc_ratchet *r, const Msg *m, int err)
{
  recv_fail_raw (r, m->data, m->len, m->prefix_len, err);
}

/* ---- Basics ---------------------------------------------------------------
 */

static void
test_labels (void)
{
  const struct sc_dr_labels *l = sc_dr_labels_default ();

  g_assert_cmpstr (l->rk_info, ==, SC_DR_RK_INFO);
  g_assert_cmpstr (l->mk_info, ==, SC_DR_MK_INFO);
  g_assert_cmpuint (l->mac_len, ==, SC_DR_MAC_LEN);
  g_assert_true (sc_dr_labels_default () == l);
}

static void
test_bad_args (void)
{
  const struct sc_dr_labels *l = sc_dr_labels_default ();
  struct sc_dr_labels bad = *l;
  guint8 k[32] = { 1 }, pub[32], out[32], out2[32], iv[16];
  guint8 big_ad[SC_DR_AD_MAX + 1] = { 0 };
  struct sc_ratchet *r = (struct sc_ratchet *) &r;
  guint8 *buf = (guint8 *) &buf;
  gsize len = 7;

  g_assert_cmpint (sc_x25519_public (k, pub), ==, SC_OK);
  bad.mac_len = 7;
  g_assert_cmpint (sc_dr_message_keys (&bad, k, out, out2, iv), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_ratchet_init_bob (&bad, k, k, NULL, 0, &r), ==,
                   SC_ERR_INVALID);
  g_assert_null (r);
  bad.mac_len = 33;
  g_assert_cmpint (sc_dr_kdf_rk (&bad, k, k, out, out2), ==, SC_ERR_INVALID);
  bad = *l;
  bad.rk_info = NULL;
  g_assert_cmpint (sc_dr_kdf_rk (&bad, k, k, out, out2), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_dr_kdf_rk (NULL, k, k, out, out2), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_dr_kdf_ck (NULL, out, out2), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_dr_encrypt (l, k, NULL, 1, k, 1, &buf, &len), ==,
                   SC_ERR_INVALID);
  g_assert_null (buf);
  g_assert_cmpuint (len, ==, 0);

  r = (struct sc_ratchet *) &r;
  g_assert_cmpint (sc_ratchet_init_alice (l, k, pub, big_ad, sizeof big_ad, &r),
                   ==, SC_ERR_TOO_LARGE);
  g_assert_null (r);
  g_assert_cmpint (sc_ratchet_init_alice (l, k, pub, NULL, 3, &r), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_ratchet_init_alice (l, NULL, pub, NULL, 0, &r), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_ratchet_init_alice_fixed (l, k, pub, NULL, NULL, 0, &r),
                   ==, SC_ERR_INVALID);
  /* A low-order prekey: the first DH fails. */
  memset (out, 0, sizeof out);
  g_assert_cmpint (sc_ratchet_init_alice (l, k, out, NULL, 0, &r), ==,
                   SC_ERR_DH);
  g_assert_null (r);

  g_assert_cmpint (sc_ratchet_decrypt (NULL, k, 32, 0, &buf, &len), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_ratchet_serialize (NULL, &buf, &len), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_ratchet_deserialize (l, NULL, 5, &r), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_ratchet_deserialize (&bad, k, sizeof k, &r), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_ratchet_has_received (NULL), ==, 0);
  g_assert_cmpuint (sc_ratchet_stored_keys (NULL), ==, 0);
  sc_ratchet_free (NULL);
}

/* Bob has no sending chain until Alice's first message; has_received flips
 * on each side's first successful decryption and not on a failed one. */
static void
test_bob_waits (void)
{
  Pair p;
  Msg a0, b0, bad;
  guint8 *out = (guint8 *) &out;
  gsize out_len = 5;

  pair_init (&p);
  g_assert_cmpint (sc_ratchet_encrypt (p.bob, NULL, 0, (const guint8 *) "hi", 2,
                                       &out, &out_len),
                   ==, SC_ERR_STATE);
  g_assert_null (out);
  g_assert_cmpuint (out_len, ==, 0);
  g_assert_false (sc_ratchet_has_received (p.alice));
  g_assert_false (sc_ratchet_has_received (p.bob));

  send_text (p.alice, A (0), &a0);
  g_assert_cmpuint (a0.prefix_len, ==, PREFIX_LEN);
  g_assert_cmpmem (a0.data, PREFIX_LEN, x3dh_prefix, PREFIX_LEN);
  /* A forged first message changes nothing, has_received included. */
  memset (&bad, 0, sizeof bad);
  bad.len = a0.len;
  bad.prefix_len = a0.prefix_len;
  bad.data = g_memdup2 (a0.data, a0.len);
  bad.data[bad.len - 1] ^= 1;
  recv_fail (p.bob, &bad, SC_ERR_DECRYPT);
  g_free (bad.data);
  g_assert_false (sc_ratchet_has_received (p.bob));
  g_assert_cmpint (sc_ratchet_encrypt (p.bob, NULL, 0, (const guint8 *) "hi", 2,
                                       &out, &out_len),
                   ==, SC_ERR_STATE);

  recv_ok (p.bob, &a0);
  g_assert_true (sc_ratchet_has_received (p.bob));
  g_assert_false (sc_ratchet_has_received (p.alice));
  send_text (p.bob, B (0), &b0);
  g_assert_cmpuint (b0.prefix_len, ==, 0);
  recv_ok (p.alice, &b0);
  g_assert_true (sc_ratchet_has_received (p.alice));

  msg_clear (&a0);
  msg_clear (&b0);
  pair_clear (&p);
}

/* Plaintext and prefix limits; the empty and the largest plaintext. */
static void
test_sizes (void)
{
  Pair p;
  guint8 prefix[SC_DR_PREFIX_MAX + 1];
  g_autofree guint8 *big = g_malloc0 (64 * 1024 + 1);
  guint8 *out = NULL, *pt = NULL;
  gsize out_len = 0, pt_len = 0;

  pair_init (&p);
  memset (prefix, 'p', sizeof prefix);
  g_assert_cmpint (
      sc_ratchet_encrypt (p.alice, NULL, 0, big, 64 * 1024 + 1, &out, &out_len),
      ==, SC_ERR_TOO_LARGE);
  g_assert_cmpint (sc_ratchet_encrypt (p.alice, prefix, sizeof prefix, big, 1,
                                       &out, &out_len),
                   ==, SC_ERR_TOO_LARGE);
  g_assert_cmpint (
      sc_ratchet_encrypt (p.alice, NULL, 1, big, 1, &out, &out_len), ==,
      SC_ERR_INVALID);

  /* Largest prefix and plaintext: 64 KiB pads to one more block. */
  for (gsize i = 0; i < 64 * 1024; i++)
    big[i] = (guint8) (i * 7);
  g_assert_cmpint (sc_ratchet_encrypt (p.alice, prefix, SC_DR_PREFIX_MAX, big,
                                       64 * 1024, &out, &out_len),
                   ==, SC_OK);
  g_assert_cmpuint (out_len, ==,
                    SC_DR_PREFIX_MAX + SC_DR_HEADER_LEN + 64 * 1024 + 16 +
                        SC_DR_MAC_LEN);
  g_assert_cmpint (sc_ratchet_decrypt (p.bob, out, out_len,
                                       SC_DR_PREFIX_MAX + 1, &pt, &pt_len),
                   ==, SC_ERR_TOO_LARGE);
  g_assert_cmpint (
      sc_ratchet_decrypt (p.bob, out, out_len, SC_DR_PREFIX_MAX, &pt, &pt_len),
      ==, SC_OK);
  g_assert_cmpmem (pt, pt_len, big, 64 * 1024);
  free (pt);
  free (out);

  /* Empty plaintext: one block of padding. */
  g_assert_cmpint (
      sc_ratchet_encrypt (p.alice, NULL, 0, NULL, 0, &out, &out_len), ==,
      SC_OK);
  g_assert_cmpuint (out_len, ==, SC_DR_HEADER_LEN + 16 + SC_DR_MAC_LEN);
  g_assert_cmpint (sc_ratchet_decrypt (p.bob, out, out_len, 0, &pt, &pt_len),
                   ==, SC_OK);
  g_assert_nonnull (pt);
  g_assert_cmpuint (pt_len, ==, 0);
  free (pt);
  free (out);
  pair_clear (&p);
}

/* ---- Conversations --------------------------------------------------------
 */

/* Many turn changes, bursts of 0..6 messages, and crossings (both sides
 * send before either receives), all delivered in order: nothing is ever
 * skipped and every message decrypts. */
static void
test_long_conversation (void)
{
  g_autoptr (GRand) rnd = g_rand_new_with_seed (7);
  Pair p;
  guint na = 0, nb = 0;

  pair_init (&p);
  for (guint round = 0; round < 300; round++)
    {
      guint ka = (guint) g_rand_int_range (rnd, 0, 7);
      guint kb = sc_ratchet_has_received (p.bob)
                     ? (guint) g_rand_int_range (rnd, 0, 7)
                     : 0;
      Msg ma[6], mb[6];

      if (round == 0)
        ka = MAX (ka, 1);
      for (guint i = 0; i < ka; i++)
        send_text (p.alice, A (na++), &ma[i]);
      for (guint i = 0; i < kb; i++)
        send_text (p.bob, B (nb++), &mb[i]);
      for (guint i = 0; i < ka; i++)
        {
          recv_ok (p.bob, &ma[i]);
          msg_clear (&ma[i]);
        }
      for (guint i = 0; i < kb; i++)
        {
          recv_ok (p.alice, &mb[i]);
          msg_clear (&mb[i]);
        }
      g_assert_cmpuint (sc_ratchet_stored_keys (p.alice), ==, 0);
      g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 0);
    }
  g_assert_cmpuint (na, >, 500);
  g_assert_cmpuint (nb, >, 500);
  pair_clear (&p);
}

/* Out of order inside one chain and across a DH ratchet step, with the
 * exact number of stored keys at each point. */
static void
test_out_of_order (void)
{
  Pair p;
  Msg a[10], b[3];

  pair_init (&p);
  for (guint i = 0; i < 5; i++)
    send_text (p.alice, A (i), &a[i]);
  recv_ok (p.bob, &a[4]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 4);
  recv_ok (p.bob, &a[1]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 3);

  send_text (p.bob, B (0), &b[0]);
  recv_ok (p.alice, &b[0]);
  /* Alice's new chain: PN = 5. */
  for (guint i = 5; i < 7; i++)
    send_text (p.alice, A (i), &a[i]);
  g_assert_cmpuint (a[5].prefix_len, ==, 0);
  recv_ok (p.bob, &a[6]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 4);
  recv_ok (p.bob, &a[3]);
  recv_ok (p.bob, &a[0]);
  recv_ok (p.bob, &a[5]);
  recv_ok (p.bob, &a[2]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 0);

  /* The PN skip: Bob got only the first of a7..a9 before Alice's next
   * chain; her a10 (PN 3) makes Bob keep the keys of a8 and a9. */
  send_text (p.bob, B (1), &b[1]);
  recv_ok (p.alice, &b[1]);
  send_text (p.alice, A (7), &a[7]);
  send_text (p.alice, A (8), &a[8]);
  send_text (p.alice, A (9), &a[9]);
  recv_ok (p.bob, &a[7]);
  send_text (p.bob, B (2), &b[2]);
  recv_ok (p.alice, &b[2]);
  msg_clear (&a[0]);
  send_text (p.alice, A (10), &a[0]);
  recv_ok (p.bob, &a[0]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 2);
  recv_ok (p.bob, &a[9]);
  recv_ok (p.bob, &a[8]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 0);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.alice), ==, 0);

  for (guint i = 0; i < 10; i++)
    msg_clear (&a[i]);
  for (guint i = 0; i < 3; i++)
    msg_clear (&b[i]);
  pair_clear (&p);
}

/* Replays: on the current chain, of a consumed skipped key, on a past
 * chain, and of the very first message; all SC_ERR_DUPLICATE with the
 * state unchanged. A chain older than the remembered ones fails as an
 * undecryptable message (its key is long gone either way). */
static void
test_duplicates (void)
{
  Pair p;
  Msg a[3], b[16], first;

  pair_init (&p);
  send_text (p.alice, A (0), &first);
  recv_ok (p.bob, &first);
  recv_fail (p.bob, &first, SC_ERR_DUPLICATE);

  for (guint i = 0; i < 3; i++)
    send_text (p.alice, A (1 + i), &a[i]);
  recv_ok (p.bob, &a[2]);
  recv_fail (p.bob, &a[2], SC_ERR_DUPLICATE);
  recv_ok (p.bob, &a[0]); /* from the store */
  recv_fail (p.bob, &a[0], SC_ERR_DUPLICATE);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 1);

  /* Turn changes: a[] and first are now on Bob's past chain. */
  send_text (p.bob, B (0), &b[0]);
  recv_ok (p.alice, &b[0]);
  recv_fail (p.alice, &b[0], SC_ERR_DUPLICATE);
  msg_clear (&a[0]);
  send_text (p.alice, A (10), &a[0]);
  recv_ok (p.bob, &a[0]);
  recv_fail (p.bob, &first, SC_ERR_DUPLICATE);
  recv_fail (p.bob, &a[2], SC_ERR_DUPLICATE);
  recv_ok (p.bob, &a[1]); /* still in the store */
  recv_fail (p.bob, &a[1], SC_ERR_DUPLICATE);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 0);
  msg_clear (&a[0]);

  /* Seven more turn changes: the first chain is forgotten. */
  for (guint i = 1; i < 8; i++)
    {
      send_text (p.bob, B (i), &b[i]);
      recv_ok (p.alice, &b[i]);
      send_text (p.alice, A (20 + i), &a[0]);
      recv_ok (p.bob, &a[0]);
      msg_clear (&a[0]);
    }
  recv_fail (p.bob, &first, SC_ERR_DECRYPT);
  recv_fail (p.alice, &b[7], SC_ERR_DUPLICATE);
  recv_fail (p.alice, &b[4], SC_ERR_DUPLICATE);

  msg_clear (&first);
  for (guint i = 1; i < 3; i++)
    msg_clear (&a[i]);
  for (guint i = 0; i < 8; i++)
    msg_clear (&b[i]);
  pair_clear (&p);
}

/* Messages that are never delivered: 3000 skipped keys over several chains
 * (some chains skipped through PN, one step over 1000 at once) never keep
 * more than SC_DR_MAX_STORED_KEYS, and the oldest go first. */
static void
test_lost_bounded (void)
{
  Pair p;
  Msg keep[4], m, b;
  gsize pushed = 0;
  g_autoptr (GBytes) state = NULL;

  pair_init (&p);
  /* Three chains of 1001 messages, only the last one delivered: 1000
   * skipped keys each. */
  for (guint round = 0; round < 3; round++)
    {
      for (guint i = 0; i <= SC_DR_MAX_SKIP; i++)
        {
          send_text (p.alice, A (i), &m);
          if (i == 3 && round < 2)
            keep[round] = m;
          else if (i == SC_DR_MAX_SKIP)
            {
              recv_ok (p.bob, &m);
              msg_clear (&m);
            }
          else
            msg_clear (&m);
        }
      pushed += SC_DR_MAX_SKIP;
      g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), <=,
                        SC_DR_MAX_STORED_KEYS);
      g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==,
                        MIN (pushed, SC_DR_MAX_STORED_KEYS));
      send_text (p.bob, B (round), &b);
      recv_ok (p.alice, &b);
      msg_clear (&b);
    }
  /* Evicted: the key of chain 1's message 3 is gone (a past chain). */
  recv_fail (p.bob, &keep[0], SC_ERR_DUPLICATE);
  recv_fail (p.bob, &keep[1], SC_ERR_DUPLICATE);

  /* Across chains: 600 on a chain of which Bob sees only the first, then
   * the 600th of the next chain: 599 keys through PN and 599 on the new
   * chain in one step, over the store's size. */
  for (guint i = 0; i < 600; i++)
    {
      send_text (p.alice, A (i), &m);
      if (i == 0)
        recv_ok (p.bob, &m);
      if (i == 5)
        keep[2] = m;
      else
        msg_clear (&m);
    }
  send_text (p.bob, B (9), &b);
  recv_ok (p.alice, &b);
  msg_clear (&b);
  for (guint i = 0; i < 600; i++)
    {
      send_text (p.alice, A (1000 + i), &m);
      if (i == 10)
        keep[3] = m;
      else if (i == 599)
        {
          recv_ok (p.bob, &m);
          msg_clear (&m);
        }
      else
        msg_clear (&m);
    }
  pushed += 599 + 599;
  g_assert_cmpuint (pushed, >=, 3000);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, SC_DR_MAX_STORED_KEYS);
  /* The newest 1000 are 199..599 of the PN skip and 0..598 of the new
   * chain: message 5 of the old chain is gone, message 10 of the new one
   * is there. */
  recv_fail (p.bob, &keep[2], SC_ERR_DUPLICATE);
  recv_ok (p.bob, &keep[3]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==,
                    SC_DR_MAX_STORED_KEYS - 1);

  /* Memory: the whole state stays within its bound. */
  state = snap (p.bob);
  g_assert_cmpuint (g_bytes_get_size (state), <=,
                    SER_FIXED + SC_DR_AD_MAX + 1 + OLD_CHAINS * SER_OLD + 2 +
                        SC_DR_MAX_STORED_KEYS * SER_SKIPPED);
  for (guint i = 0; i < 4; i++)
    msg_clear (&keep[i]);
  pair_clear (&p);
}

/* ---- B8: skip limits and rollback -----------------------------------------
 */

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

static void
test_max_skip (void)
{
  Pair p;
  Msg first, m, far, edge, b, next;

  pair_init (&p);
  send_text (p.alice, A (0), &first);
  recv_ok (p.bob, &first);
  /* Nr = 1: N = 1 + MAX_SKIP is the limit, one more is too far. */
  for (guint i = 1; i <= SC_DR_MAX_SKIP + 2; i++)
    {
      send_text (p.alice, A (i), &m);
      if (i == SC_DR_MAX_SKIP + 1)
        edge = m;
      else if (i == SC_DR_MAX_SKIP + 2)
        far = m;
      else
        msg_clear (&m);
    }
  recv_fail (p.bob, &far, SC_ERR_TOO_FAR);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 0);
  recv_ok (p.bob, &edge);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, SC_DR_MAX_SKIP);
  recv_ok (p.bob, &far);

  /* Huge PN on a new ratchet key: rejected before any derivation, even
   * though the rest of the message is genuine. */
  send_text (p.bob, B (0), &b);
  recv_ok (p.alice, &b);
  send_text (p.alice, A (5000), &next);
  put_be32 (next.data + next.prefix_len + 32, 0xffffffffu);
  recv_fail (p.bob, &next, SC_ERR_TOO_FAR);
  /* Nr on the old chain is 1003: PN = Nr + MAX_SKIP + 1 is too far, and a
   * forged PN within the bound still fails the tag. */
  put_be32 (next.data + next.prefix_len + 32, 1003 + SC_DR_MAX_SKIP + 1);
  recv_fail (p.bob, &next, SC_ERR_TOO_FAR);
  put_be32 (next.data + next.prefix_len + 32, 1003 + SC_DR_MAX_SKIP);
  recv_fail (p.bob, &next, SC_ERR_DECRYPT);
  /* A huge N on a new ratchet key, and N = 2^32 - 1 anywhere. */
  put_be32 (next.data + next.prefix_len + 32, 1003);
  put_be32 (next.data + next.prefix_len + 36, SC_DR_MAX_SKIP + 1);
  recv_fail (p.bob, &next, SC_ERR_TOO_FAR);
  put_be32 (next.data + next.prefix_len + 36, 0xffffffffu);
  recv_fail (p.bob, &next, SC_ERR_PROTOCOL);
  put_be32 (next.data + next.prefix_len + 36, 0);
  recv_ok (p.bob, &next);

  /* A genuine PN over the bound: Bob saw the first of 1002 messages. */
  msg_clear (&b);
  send_text (p.bob, B (1), &b);
  recv_ok (p.alice, &b);
  for (guint i = 0; i < SC_DR_MAX_SKIP + 2; i++)
    {
      send_text (p.alice, A (i), &m);
      if (i == 0)
        recv_ok (p.bob, &m);
      msg_clear (&m);
    }
  msg_clear (&b);
  send_text (p.bob, B (2), &b);
  recv_ok (p.alice, &b);
  msg_clear (&next);
  send_text (p.alice, A (9000), &next);
  recv_fail (p.bob, &next, SC_ERR_TOO_FAR);

  msg_clear (&first);
  msg_clear (&edge);
  msg_clear (&far);
  msg_clear (&b);
  msg_clear (&next);
  pair_clear (&p);
}

/* Tampered ciphertext and tag, and truncation at every length: an error,
 * no plaintext, the state byte-identical; the genuine message still
 * decrypts afterwards. Run on a first message (new chain) and on one of the
 * current chain. */
static void
check_tamper (struct sc_ratchet *rx, const Msg *m)
{
  g_autofree guint8 *d = g_memdup2 (m->data, m->len);
  gsize body = m->prefix_len + SC_DR_HEADER_LEN;

  for (gsize i = body; i < m->len; i++)
    {
      d[i] ^= (guint8) (1u << (i % 8));
      recv_fail_raw (rx, d, m->len, m->prefix_len, SC_ERR_DECRYPT);
      d[i] = m->data[i];
    }
  for (gsize len = 0; len < m->len; len++)
    {
      /* Short of a header, one block and a tag, or not a whole number of
       * blocks: truncated; a whole number of blocks shorter than the
       * original: the tag no longer matches. */
      gsize min = m->prefix_len + SC_DR_HEADER_LEN + 16 + SC_DR_MAC_LEN;
      int want = len < min || (len - m->prefix_len - SC_DR_HEADER_LEN -
                               SC_DR_MAC_LEN) %
                                      16 !=
                                  0
                     ? SC_ERR_TRUNCATED
                     : SC_ERR_DECRYPT;
      recv_fail_raw (rx, d, len, m->prefix_len, want);
    }
  /* A byte too many, a block too many. */
  {
    g_autofree guint8 *longer = g_malloc0 (m->len + 16);
    memcpy (longer, m->data, m->len);
    recv_fail_raw (rx, longer, m->len + 1, m->prefix_len, SC_ERR_TRUNCATED);
    recv_fail_raw (rx, longer, m->len + 16, m->prefix_len, SC_ERR_DECRYPT);
  }
  recv_ok (rx, m);
}

static void
test_tamper (void)
{
  Pair p;
  Msg a0, a1;

  pair_init (&p);
  send_text (p.alice, A (0), &a0);
  send_text (p.alice, A (1), &a1);
  check_tamper (p.bob, &a0);
  check_tamper (p.bob, &a1);
  msg_clear (&a0);
  msg_clear (&a1);
  pair_clear (&p);
}

/* ---- B9: header and AD binding --------------------------------------------
 */

/* Each bit of the prefix and of the header (DH, PN, N) is authenticated,
 * and so is where the prefix ends. rx must not have seen m yet. */
static void
check_header_flips (struct sc_ratchet *rx, const Msg *m)
{
  g_autofree guint8 *d = g_memdup2 (m->data, m->len);
  gsize end = m->prefix_len + SC_DR_HEADER_LEN;

  for (gsize i = 0; i < end; i++)
    for (guint bit = 0; bit < 8; bit += 3)
      {
        d[i] ^= (guint8) (1u << bit);
        /* DH: a new chain that fails the tag (or SC_ERR_DH for a low-order
         * result); PN / N: too far, a duplicate or a bad tag. Never
         * success. */
        recv_fail_raw (rx, d, m->len, m->prefix_len, 0);
        d[i] = m->data[i];
      }
  if (m->prefix_len > 0)
    {
      recv_fail_raw (rx, d, m->len, 0, 0);
      recv_fail_raw (rx, d, m->len, m->prefix_len - 1, 0);
    }
  recv_fail_raw (rx, d, m->len, m->prefix_len + 1, 0);
  recv_ok (rx, m);
}

static void
test_header_binding (void)
{
  Pair p;
  Msg a[4], b0;

  pair_init (&p);
  for (guint i = 0; i < 4; i++)
    send_text (p.alice, A (i), &a[i]);
  g_assert_cmpuint (a[0].prefix_len, ==, PREFIX_LEN);
  check_header_flips (p.bob, &a[0]); /* a new chain */
  check_header_flips (p.bob, &a[1]); /* the current chain */
  recv_ok (p.bob, &a[3]);
  check_header_flips (p.bob, &a[2]); /* a stored key */
  send_text (p.bob, B (0), &b0);
  g_assert_cmpuint (b0.prefix_len, ==, 0);
  check_header_flips (p.alice, &b0); /* Alice's first chain, no prefix */
  for (guint i = 0; i < 4; i++)
    msg_clear (&a[i]);
  msg_clear (&b0);
  pair_clear (&p);
}

/* A low-order header DH on a new chain: SC_ERR_DH, state unchanged. */
static void
test_low_order_dh (void)
{
  static const guint8 points[][32] = {
    { 0 },
    { 1 },
    { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
      0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
      0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
    { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
  };
  Pair p;
  Msg a0;

  pair_init (&p);
  send_text (p.alice, A (0), &a0);
  for (gsize i = 0; i < G_N_ELEMENTS (points); i++)
    {
      g_autofree guint8 *d = g_memdup2 (a0.data, a0.len);
      memcpy (d + a0.prefix_len, points[i], 32);
      recv_fail_raw (p.bob, d, a0.len, a0.prefix_len, SC_ERR_DH);
    }
  g_assert_false (sc_ratchet_has_received (p.bob));
  recv_ok (p.bob, &a0);
  msg_clear (&a0);
  pair_clear (&p);
}

/* Sessions with different AD (other identity keys or usernames) never
 * decrypt each other's messages, in either direction. */
static void
test_ad_binding (void)
{
  static const guint8 ad_other[] = "AD: IK_A || IK_B || alice || eve";
  Pair p;
  Msg a0;

  pair_init_ad (&p, ad_ab, sizeof ad_ab - 1, ad_other, sizeof ad_other - 1);
  send_text (p.alice, A (0), &a0);
  recv_fail (p.bob, &a0, SC_ERR_DECRYPT);
  g_assert_false (sc_ratchet_has_received (p.bob));
  msg_clear (&a0);
  pair_clear (&p);

  /* A prefix of the AD is not the AD (the length is bound). */
  pair_init_ad (&p, ad_ab, sizeof ad_ab - 1, ad_ab, sizeof ad_ab - 2);
  send_text (p.alice, A (0), &a0);
  recv_fail (p.bob, &a0, SC_ERR_DECRYPT);
  msg_clear (&a0);
  pair_clear (&p);

  pair_init_ad (&p, NULL, 0, ad_ab, sizeof ad_ab - 1);
  send_text (p.alice, A (0), &a0);
  recv_fail (p.bob, &a0, SC_ERR_DECRYPT);
  msg_clear (&a0);
  pair_clear (&p);
}

/* ---- Serialization ---------------------------------------------------------
 */

static struct sc_ratchet *
restart (struct sc_ratchet *r)
{
  guint8 *buf = NULL, *buf2 = NULL;
  gsize len = 0, len2 = 0;
  struct sc_ratchet *n = NULL;

  g_assert_cmpint (sc_ratchet_serialize (r, &buf, &len), ==, SC_OK);
  sc_ratchet_free (r);
  g_assert_cmpint (
      sc_ratchet_deserialize (sc_dr_labels_default (), buf, len, &n), ==,
      SC_OK);
  g_assert_cmpint (sc_ratchet_serialize (n, &buf2, &len2), ==, SC_OK);
  g_assert_cmpmem (buf, len, buf2, len2);
  sc_wipe (buf, len);
  sc_wipe (buf2, len2);
  free (buf);
  free (buf2);
  return n;
}

/* Either side restarts at every stage: before anything, with messages in
 * flight, with skipped keys stored, on past chains. */
static void
test_restart (void)
{
  Pair p;
  Msg a[6], b[4];

  pair_init (&p);
  p.bob = restart (p.bob);
  p.alice = restart (p.alice);
  for (guint i = 0; i < 3; i++)
    send_text (p.alice, A (i), &a[i]);
  p.alice = restart (p.alice);
  send_text (p.alice, A (3), &a[3]);
  g_assert_cmpuint (a[3].prefix_len, ==, PREFIX_LEN);
  recv_ok (p.bob, &a[2]);
  p.bob = restart (p.bob);
  g_assert_true (sc_ratchet_has_received (p.bob));
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 2);
  recv_ok (p.bob, &a[0]);
  recv_fail (p.bob, &a[2], SC_ERR_DUPLICATE);

  send_text (p.bob, B (0), &b[0]);
  send_text (p.bob, B (1), &b[1]);
  p.bob = restart (p.bob);
  send_text (p.bob, B (2), &b[2]);
  recv_ok (p.alice, &b[2]);
  p.alice = restart (p.alice);
  g_assert_true (sc_ratchet_has_received (p.alice));
  recv_ok (p.alice, &b[1]);
  p.alice = restart (p.alice);
  recv_ok (p.alice, &b[0]);
  recv_fail (p.alice, &b[0], SC_ERR_DUPLICATE);

  send_text (p.alice, A (4), &a[4]);
  g_assert_cmpuint (a[4].prefix_len, ==, 0);
  recv_ok (p.bob, &a[4]);
  p.bob = restart (p.bob);
  /* Past chain after the restart: stored key and duplicate both kept. */
  recv_ok (p.bob, &a[1]);
  recv_fail (p.bob, &a[0], SC_ERR_DUPLICATE);
  recv_ok (p.bob, &a[3]);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 0);
  send_text (p.bob, B (3), &b[3]);
  p.bob = restart (p.bob);
  recv_ok (p.alice, &b[3]);
  send_text (p.alice, A (5), &a[5]);
  recv_ok (p.bob, &a[5]);

  for (guint i = 0; i < 6; i++)
    msg_clear (&a[i]);
  for (guint i = 0; i < 4; i++)
    msg_clear (&b[i]);
  pair_clear (&p);
}

/* Bob replies and alice reads it, drawing her next ratchet key from a
 * stream seeded with seed (NULL: the CSPRNG). */
static void
step_alice (Pair *p, guint tag, const char *seed)
{
  Msg b;

  send_text (p->bob, B (tag), &b);
  if (seed != NULL)
    sc_random_testing_seed ((const guint8 *) seed, strlen (seed));
  recv_ok (p->alice, &b);
  sc_random_testing_seed (NULL, 0);
  msg_clear (&b);
}

/* A peer that comes back to one of its old ratchet keys once bob has
 * forgotten that chain (more than OLD_CHAINS steps ago) while he still
 * holds a skipped key of it: the new chain's key takes the stale one's
 * place, and bob's state still loads. Found by the fuzz-ratchet harness:
 * the store held two keys for one (DH, N), which the deserializer
 * rightly refuses, so the session could no longer be loaded. */
static void
test_reused_ratchet_key (void)
{
  static const char seed[] = "the same ratchet key twice";
  Pair p;
  Msg m, a0, a1, x0, x1;
  guint tag = 1;

  pair_init (&p);
  send_text (p.alice, A (0), &m);
  recv_ok (p.bob, &m);
  msg_clear (&m);
  step_alice (&p, tag++, seed);
  send_text (p.alice, A (tag++), &a0);
  send_text (p.alice, A (tag++), &a1);
  recv_ok (p.bob, &a1);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 1);

  /* Enough steps each way for bob to forget that chain. */
  for (guint i = 0; i < OLD_CHAINS + 1; i++)
    {
      step_alice (&p, tag++, NULL);
      send_text (p.alice, A (tag++), &m);
      recv_ok (p.bob, &m);
      msg_clear (&m);
    }
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 1);

  /* alice's next key is the one of a0 and a1 again. */
  step_alice (&p, tag++, seed);
  send_text (p.alice, A (tag++), &x0);
  send_text (p.alice, A (tag++), &x1);
  g_assert_cmpmem (x0.data, 32, a0.data, 32);
  recv_ok (p.bob, &x1);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 1);
  p.bob = restart (p.bob);
  recv_ok (p.bob, &x0);
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 0);
  recv_fail (p.bob, &a0, 0);
  p.bob = restart (p.bob);

  msg_clear (&a0);
  msg_clear (&a1);
  msg_clear (&x0);
  msg_clear (&x1);
  pair_clear (&p);
}

static int
deser (const guint8 *buf, gsize len)
{
  struct sc_ratchet *r = (struct sc_ratchet *) &r;
  int ret = sc_ratchet_deserialize (sc_dr_labels_default (), buf, len, &r);

  if (ret == SC_OK)
    {
      g_assert_nonnull (r);
      sc_ratchet_free (r);
    }
  else
    g_assert_null (r);
  return ret;
}

/* A state with everything in it: AD, past chains, skipped keys. */
static struct sc_ratchet *
rich_state (struct sc_ratchet **peer)
{
  Pair p;
  Msg a[4], b;

  pair_init (&p);
  for (guint round = 0; round < 3; round++)
    {
      for (guint i = 0; i < 4; i++)
        send_text (p.alice, A (i), &a[i]);
      recv_ok (p.bob, &a[3]);
      recv_ok (p.bob, &a[1]);
      for (guint i = 0; i < 4; i++)
        msg_clear (&a[i]);
      send_text (p.bob, B (round), &b);
      recv_ok (p.alice, &b);
      msg_clear (&b);
    }
  g_assert_cmpuint (sc_ratchet_stored_keys (p.bob), ==, 6);
  *peer = p.alice;
  return p.bob;
}

static void
test_deserialize_strict (void)
{
  struct sc_ratchet *peer = NULL;
  struct sc_ratchet *bob = rich_state (&peer);
  struct sc_ratchet *fresh = NULL;
  guint8 *buf = NULL, *fbuf = NULL;
  gsize len = 0, flen = 0;
  g_autofree guint8 *d = NULL;
  guint8 key[32], pub[32], sk[32] = { 9 };
  gsize off_ad_len = OFF_NS + 12;
  gsize ad_len = sizeof ad_ab - 1;
  gsize off_old = off_ad_len + 2 + ad_len;
  gsize n_old;
  gsize off_sk;

  g_assert_cmpint (sc_ratchet_serialize (bob, &buf, &len), ==, SC_OK);
  g_assert_cmpint (deser (buf, len), ==, SC_OK);
  n_old = buf[off_old];
  g_assert_cmpuint (n_old, ==, 2);
  off_sk = off_old + 1 + n_old * SER_OLD;
  g_assert_cmpuint (len, ==, off_sk + 2 + 6 * SER_SKIPPED);

  /* Every truncation, and any trailing byte. */
  for (gsize l = 0; l < len; l++)
    g_assert_cmpint (deser (buf, l), !=, SC_OK);
  d = g_malloc0 (len + SER_SKIPPED);
  memcpy (d, buf, len);
  g_assert_cmpint (deser (d, len + 1), ==, SC_ERR_FIELD);
  g_assert_cmpint (deser (d, len + SER_SKIPPED), ==, SC_ERR_FIELD);

#define MUTATE(off, val, want)                                                 \
  do                                                                           \
    {                                                                          \
      memcpy (d, buf, len);                                                    \
      d[off] = (guint8) (val);                                                 \
      g_assert_cmpint (deser (d, len), ==, (want));                            \
    }                                                                          \
  while (0)

  MUTATE (0, 'X', SC_ERR_FIELD);
  MUTATE (4, 2, SC_ERR_UNSUPPORTED);
  MUTATE (4, 0, SC_ERR_UNSUPPORTED);
  MUTATE (OFF_FLAGS, buf[OFF_FLAGS] | 0x10, SC_ERR_FIELD);
  MUTATE (OFF_FLAGS, buf[OFF_FLAGS] & ~0x08, SC_ERR_FIELD); /* received */
  MUTATE (OFF_FLAGS, buf[OFF_FLAGS] & ~0x04, SC_ERR_FIELD); /* CKr */
  MUTATE (OFF_FLAGS, buf[OFF_FLAGS] & ~0x02, SC_ERR_FIELD); /* CKs */
  MUTATE (OFF_FLAGS, 0, SC_ERR_FIELD);
  /* DHs.pub must belong to DHs.priv. */
  MUTATE (OFF_DHS + 32, buf[OFF_DHS + 32] ^ 1, SC_ERR_FIELD);
  /* Lengths and counts over their limits or beyond the data. */
  MUTATE (off_ad_len, 0xff, SC_ERR_TOO_LARGE);
  MUTATE (off_old, OLD_CHAINS + 1, SC_ERR_TOO_LARGE);
  MUTATE (off_sk, 0x10, SC_ERR_TOO_LARGE);
  MUTATE (off_sk + 1, 7, SC_ERR_TRUNCATED);
  MUTATE (off_sk + 1, 5, SC_ERR_FIELD);
  /* Lengths that shift everything after them: some error, never success
   * (nor a read past the end, which ASan would catch). */
  for (gsize delta = 1; delta <= 3; delta++)
    {
      memcpy (d, buf, len);
      d[off_ad_len + 1] = (guint8) (ad_len + delta);
      g_assert_cmpint (deser (d, len), <, 0);
      d[off_ad_len + 1] = (guint8) (ad_len - delta);
      g_assert_cmpint (deser (d, len), <, 0);
      d[off_ad_len + 1] = (guint8) ad_len;
      d[off_old] = (guint8) (n_old + delta);
      g_assert_cmpint (deser (d, len), <, 0);
      d[off_old] = (guint8) (n_old - 1);
      g_assert_cmpint (deser (d, len), <, 0);
    }
  /* A past chain equal to the current DHr; two equal past chains. */
  memcpy (d, buf, len);
  memcpy (d + off_old + 1, d + OFF_DHS + 64, 32);
  g_assert_cmpint (deser (d, len), ==, SC_ERR_FIELD);
  memcpy (d, buf, len);
  memcpy (d + off_old + 1 + SER_OLD, d + off_old + 1, 32);
  g_assert_cmpint (deser (d, len), ==, SC_ERR_FIELD);
  /* Two skipped keys with the same (DH, N). */
  memcpy (d, buf, len);
  memcpy (d + off_sk + 2 + SER_SKIPPED, d + off_sk + 2, 36);
  g_assert_cmpint (deser (d, len), ==, SC_ERR_FIELD);
  memcpy (d, buf, len);
  g_assert_cmpint (deser (d, len), ==, SC_OK);

  /* A fresh Bob: no DHr, no chains, and absent keys must be zero. */
  g_assert_cmpint (sc_x25519_keypair (key, pub), ==, SC_OK);
  g_assert_cmpint (
      sc_ratchet_init_bob (sc_dr_labels_default (), sk, key, NULL, 0, &fresh),
      ==, SC_OK);
  g_assert_cmpint (sc_ratchet_serialize (fresh, &fbuf, &flen), ==, SC_OK);
  g_assert_cmpuint (flen, ==, SER_FIXED + 1 + 2);
  g_assert_cmpint (deser (fbuf, flen), ==, SC_OK);
  for (gsize l = 0; l < flen; l++)
    g_assert_cmpint (deser (fbuf, l), ==, SC_ERR_TRUNCATED);
  for (gsize k = 0; k < 3; k++)
    {
      /* DHr, CKs, CKr set while flagged absent. */
      gsize off = OFF_DHS + 64 + (k == 0 ? 0 : 32 + 32 * k);
      fbuf[off] ^= 1;
      g_assert_cmpint (deser (fbuf, flen), ==, SC_ERR_FIELD);
      fbuf[off] ^= 1;
    }
  fbuf[OFF_NS + 3] = 1; /* Ns without a sending chain */
  g_assert_cmpint (deser (fbuf, flen), ==, SC_ERR_FIELD);
  fbuf[OFF_NS + 3] = 0;
  fbuf[OFF_NS + 7] = 1; /* Nr without a receiving chain */
  g_assert_cmpint (deser (fbuf, flen), ==, SC_ERR_FIELD);
  fbuf[OFF_NS + 7] = 0;
  g_assert_cmpint (deser (fbuf, flen), ==, SC_OK);

  sc_wipe (buf, len);
  sc_wipe (fbuf, flen);
  free (buf);
  free (fbuf);
  sc_ratchet_free (fresh);
  sc_ratchet_free (bob);
  sc_ratchet_free (peer);
}

/* ---- B7: the seeded interaction test ---------------------------------------
 */

typedef struct
{
  guint8 dh[32];
  guint32 n;
} KeyId;

typedef struct
{
  guint8 dh[32];
  guint32 nr;
} OldChain;

/* What the receiver must know: the Double Ratchet's bookkeeping (not its
 * keys) for one side, replayed from the headers. */
typedef struct
{
  gboolean has_cur;
  guint8 cur[32];
  guint32 nr;
  GArray *old;        /* OldChain, oldest first, at most OLD_CHAINS */
  GArray *store;      /* KeyId, oldest first */
  GHashTable *seen;   /* every ratchet key ever taken (GBytes) */
  GHashTable *opened; /* message ids decrypted */
  guint evicted;
} Model;

typedef struct
{
  guint id;
  guint8 *data;
  gsize len;
  gsize prefix_len;
  guint8 *pt;
  gsize pt_len;
} Wire;

typedef struct
{
  struct sc_ratchet *r;
  GPtrArray *inbox; /* Wire */
  Model m;
  gboolean initiator;
} Party;

typedef struct
{
  guint ok;
  guint dup;
  guint lost_to_eviction;
  guint too_far;
  guint restarts;
  guint refused;
  guint evictions;
  gsize max_stored;
} Stats;

static void
wire_free (gpointer p)
{
  Wire *w = p;

  free (w->data);
  g_free (w->pt);
  g_free (w);
}

static Wire *
wire_copy (const Wire *w)
{
  Wire *c = g_new0 (Wire, 1);

  *c = *w;
  c->data = malloc (w->len);
  g_assert_nonnull (c->data);
  memcpy (c->data, w->data, w->len);
  c->pt = g_memdup2 (w->pt, w->pt_len ? w->pt_len : 1);
  return c;
}

static void
model_init (Model *m)
{
  memset (m, 0, sizeof *m);
  m->old = g_array_new (FALSE, FALSE, sizeof (OldChain));
  m->store = g_array_new (FALSE, FALSE, sizeof (KeyId));
  m->seen = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                   (GDestroyNotify) g_bytes_unref, NULL);
  m->opened = g_hash_table_new (g_direct_hash, g_direct_equal);
}

static void
model_clear (Model *m)
{
  g_array_unref (m->old);
  g_array_unref (m->store);
  g_hash_table_unref (m->seen);
  g_hash_table_unref (m->opened);
}

static void
model_push (Model *m, const guint8 dh[32], guint32 from, guint32 until)
{
  for (guint32 n = from; n < until; n++)
    {
      KeyId k;

      memcpy (k.dh, dh, 32);
      k.n = n;
      if (m->store->len == SC_DR_MAX_STORED_KEYS)
        {
          g_array_remove_index (m->store, 0);
          m->evicted++;
        }
      g_array_append_val (m->store, k);
    }
}

/* The result the ratchet must give for header (dh, pn, n); on success the
 * model moves on as the ratchet must. */
static int
model_expect (Model *m, const guint8 dh[32], guint32 pn, guint32 n)
{
  g_autoptr (GBytes) key = g_bytes_new (dh, 32);

  for (guint i = 0; i < m->store->len; i++)
    {
      KeyId *k = &g_array_index (m->store, KeyId, i);
      if (k->n == n && memcmp (k->dh, dh, 32) == 0)
        {
          g_array_remove_index (m->store, i);
          return SC_OK;
        }
    }
  if (m->has_cur && memcmp (dh, m->cur, 32) == 0)
    {
      if (n < m->nr)
        return SC_ERR_DUPLICATE;
      if (n - m->nr > SC_DR_MAX_SKIP)
        return SC_ERR_TOO_FAR;
      model_push (m, dh, m->nr, n);
      m->nr = n + 1;
      return SC_OK;
    }
  for (guint i = 0; i < m->old->len; i++)
    {
      OldChain *o = &g_array_index (m->old, OldChain, i);
      if (memcmp (o->dh, dh, 32) == 0)
        return n < o->nr ? SC_ERR_DUPLICATE : SC_ERR_DECRYPT;
    }
  if ((guint64) pn > (guint64) m->nr + SC_DR_MAX_SKIP || n > SC_DR_MAX_SKIP)
    return SC_ERR_TOO_FAR;
  /* A chain forgotten long ago looks new, and cannot decrypt. */
  if (g_hash_table_contains (m->seen, key))
    return SC_ERR_DECRYPT;
  if (m->has_cur)
    {
      OldChain o;

      if (pn > m->nr)
        model_push (m, m->cur, m->nr, pn);
      memcpy (o.dh, m->cur, 32);
      o.nr = MAX (m->nr, pn);
      if (m->old->len == OLD_CHAINS)
        g_array_remove_index (m->old, 0);
      g_array_append_val (m->old, o);
    }
  model_push (m, dh, 0, n);
  g_hash_table_add (m->seen, g_bytes_ref (key));
  memcpy (m->cur, dh, 32);
  m->has_cur = TRUE;
  m->nr = n + 1;
  return SC_OK;
}

static guint32
get_be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 |
         p[3];
}

static void
party_deliver_all (Party *rx, Stats *st)
{
  GPtrArray *inbox = rx->inbox;

  rx->inbox = g_ptr_array_new_with_free_func (wire_free);
  for (guint i = 0; i < inbox->len; i++)
    {
      Wire *w = g_ptr_array_index (inbox, i);
      const guint8 *h = w->data + w->prefix_len;
      gboolean opened =
          g_hash_table_contains (rx->m.opened, GUINT_TO_POINTER (w->id));
      int want = model_expect (&rx->m, h, get_be32 (h + 32), get_be32 (h + 36));
      guint8 *pt = NULL;
      gsize pt_len = 0;
      GBytes *before = NULL;
      int ret;

      /* A message is decrypted once; every later copy is a duplicate. */
      if (opened)
        g_assert_cmpint (want, ==, SC_ERR_DUPLICATE);
      if (want != SC_OK)
        before = snap (rx->r);
      ret = sc_ratchet_decrypt (rx->r, w->data, w->len, w->prefix_len, &pt,
                                &pt_len);
      g_assert_cmpint (ret, ==, want);
      if (ret == SC_OK)
        {
          g_assert_cmpmem (pt, pt_len, w->pt, w->pt_len);
          g_hash_table_add (rx->m.opened, GUINT_TO_POINTER (w->id));
          st->ok++;
        }
      else
        {
          g_assert_null (pt);
          assert_state (rx->r, before);
          g_bytes_unref (before);
          if (opened)
            st->dup++;
          else if (ret == SC_ERR_DUPLICATE)
            st->lost_to_eviction++;
          else
            st->too_far++;
        }
      free (pt);
      g_assert_cmpuint (sc_ratchet_stored_keys (rx->r), ==, rx->m.store->len);
      g_assert_cmpuint (sc_ratchet_stored_keys (rx->r), <=,
                        SC_DR_MAX_STORED_KEYS);
      st->max_stored = MAX (st->max_stored, sc_ratchet_stored_keys (rx->r));
    }
  g_ptr_array_unref (inbox);
}

static void
party_send (Party *tx, Party *rx, GRand *rnd, guint *next_id, Stats *st)
{
  guint k = (guint) g_rand_int_range (rnd, 1, 9);

  for (guint i = 0; i < k; i++)
    {
      Wire *w = g_new0 (Wire, 1);
      gboolean prefix = tx->initiator && !sc_ratchet_has_received (tx->r);
      int ret;

      w->id = (*next_id)++;
      w->pt_len = (gsize) g_rand_int_range (rnd, 0, 80);
      w->pt = g_malloc (w->pt_len + 1);
      for (gsize j = 0; j < w->pt_len; j++)
        w->pt[j] = (guint8) g_rand_int (rnd);
      w->prefix_len = prefix ? PREFIX_LEN : 0;
      ret =
          sc_ratchet_encrypt (tx->r, prefix ? x3dh_prefix : NULL, w->prefix_len,
                              w->pt, w->pt_len, &w->data, &w->len);
      if (!tx->initiator && !sc_ratchet_has_received (tx->r))
        {
          /* The responder cannot speak first. */
          g_assert_cmpint (ret, ==, SC_ERR_STATE);
          st->refused++;
          wire_free (w);
          return;
        }
      g_assert_cmpint (ret, ==, SC_OK);
      g_ptr_array_add (rx->inbox, w);
    }
}

typedef struct
{
  guint seed;
  guint actions;
  /* Cumulative weights out of 100: send, deliver, drop, shuffle,
   * duplicate; the rest restarts. */
  guint w[5];
  gboolean drop_many;
} Scenario;

static void
run_interaction (const Scenario *sc, Stats *st)
{
  g_autoptr (GRand) rnd = g_rand_new_with_seed (sc->seed);
  const struct sc_dr_labels *l = sc_dr_labels_default ();
  Party party[2];
  guint8 sk[32], spk_priv[32], spk_pub[32];
  guint next_id = 1;

  /* Keys from the seeded generator too: the whole run is reproducible. */
  for (gsize i = 0; i < 32; i++)
    {
      sk[i] = (guint8) g_rand_int (rnd);
      spk_priv[i] = (guint8) g_rand_int (rnd);
    }
  g_assert_cmpint (sc_x25519_public (spk_priv, spk_pub), ==, SC_OK);
  memset (party, 0, sizeof party);
  for (int i = 0; i < 2; i++)
    {
      party[i].inbox = g_ptr_array_new_with_free_func (wire_free);
      party[i].initiator = i == 0;
      model_init (&party[i].m);
    }
  g_assert_cmpint (sc_ratchet_init_alice (l, sk, spk_pub, ad_ab,
                                          sizeof ad_ab - 1, &party[0].r),
                   ==, SC_OK);
  g_assert_cmpint (sc_ratchet_init_bob (l, sk, spk_priv, ad_ab,
                                        sizeof ad_ab - 1, &party[1].r),
                   ==, SC_OK);

  for (guint step = 0; step < sc->actions; step++)
    {
      guint who = (guint) g_rand_int_range (rnd, 0, 2);
      Party *me = &party[who], *other = &party[1 - who];
      guint act = (guint) g_rand_int_range (rnd, 0, 100);
      guint qlen = me->inbox->len;

      if (act < sc->w[0])
        party_send (me, other, rnd, &next_id, st);
      else if (act < sc->w[1])
        party_deliver_all (me, st);
      else if (act < sc->w[2])
        {
          /* Drop one, or in the lossy runs up to the whole queue. */
          guint k = sc->drop_many && qlen > 0
                        ? (guint) g_rand_int_range (rnd, 1, (gint32) qlen + 1)
                        : MIN (qlen, 1);
          for (guint i = 0; i < k; i++)
            g_ptr_array_remove_index (
                me->inbox,
                (guint) g_rand_int_range (rnd, 0, (gint32) (qlen - i)));
        }
      else if (act < sc->w[3])
        {
          for (guint i = qlen; i > 1; i--)
            {
              guint j = (guint) g_rand_int_range (rnd, 0, (gint32) i);
              gpointer t = me->inbox->pdata[i - 1];
              me->inbox->pdata[i - 1] = me->inbox->pdata[j];
              me->inbox->pdata[j] = t;
            }
        }
      else if (act < sc->w[4])
        {
          if (qlen > 0)
            {
              Wire *w = g_ptr_array_index (
                  me->inbox, (guint) g_rand_int_range (rnd, 0, (gint32) qlen));
              g_ptr_array_insert (me->inbox,
                                  g_rand_int_range (rnd, 0, (gint32) qlen + 1),
                                  wire_copy (w));
            }
        }
      else
        {
          me->r = restart (me->r);
          st->restarts++;
        }
    }
  /* Drain, then both sides still talk. */
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 2; i++)
      {
        party_send (&party[i], &party[1 - i], rnd, &next_id, st);
        party_deliver_all (&party[1 - i], st);
      }
  g_assert_true (sc_ratchet_has_received (party[0].r));
  g_assert_true (sc_ratchet_has_received (party[1].r));

  for (int i = 0; i < 2; i++)
    {
      st->evictions += party[i].m.evicted;
      sc_ratchet_free (party[i].r);
      g_ptr_array_unref (party[i].inbox);
      model_clear (&party[i].m);
    }
  sc_wipe (sk, sizeof sk);
  sc_wipe (spk_priv, sizeof spk_priv);
}

/* 20 seeds of ordinary traffic (some loss, reordering, duplicates and
 * restarts) plus 2 very lossy ones that push the store to its limit. */
static void
test_interaction (void)
{
  Stats st = { 0 };
  Stats lossy = { 0 };

  for (guint seed = 1; seed <= 20; seed++)
    {
      Scenario sc = { seed, 2000, { 30, 58, 68, 78, 90 }, FALSE };
      run_interaction (&sc, &st);
    }
  g_test_message ("ordinary: %u decrypted, %u duplicates, %u restarts, "
                  "%u refused sends, max %zu stored",
                  st.ok, st.dup, st.restarts, st.refused, st.max_stored);
  g_assert_cmpuint (st.ok, >, 20000);
  g_assert_cmpuint (st.dup, >, 1000);
  g_assert_cmpuint (st.restarts, >, 1000);
  g_assert_cmpuint (st.evictions, ==, 0);
  g_assert_cmpuint (st.lost_to_eviction, ==, 0);
  g_assert_cmpuint (st.too_far, ==, 0);

  for (guint seed = 101; seed <= 102; seed++)
    {
      Scenario sc = { seed, 3000, { 45, 65, 90, 93, 97 }, TRUE };
      run_interaction (&sc, &lossy);
    }
  g_test_message ("lossy: %u decrypted, %u duplicates, %u too far, "
                  "%u evictions, %u lost to eviction, max %zu stored",
                  lossy.ok, lossy.dup, lossy.too_far, lossy.evictions,
                  lossy.lost_to_eviction, lossy.max_stored);
  g_assert_cmpuint (lossy.max_stored, ==, SC_DR_MAX_STORED_KEYS);
  g_assert_cmpuint (lossy.evictions, >, 0);
  g_assert_cmpuint (lossy.ok, >, 1000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/ratchet/labels", test_labels);
  g_test_add_func ("/common/ratchet/bad-args", test_bad_args);
  g_test_add_func ("/common/ratchet/bob-waits", test_bob_waits);
  g_test_add_func ("/common/ratchet/sizes", test_sizes);
  g_test_add_func ("/common/ratchet/long-conversation", test_long_conversation);
  g_test_add_func ("/common/ratchet/out-of-order", test_out_of_order);
  g_test_add_func ("/common/ratchet/duplicates", test_duplicates);
  g_test_add_func ("/common/ratchet/lost-bounded", test_lost_bounded);
  g_test_add_func ("/common/ratchet/max-skip", test_max_skip);
  g_test_add_func ("/common/ratchet/tamper", test_tamper);
  g_test_add_func ("/common/ratchet/header-binding", test_header_binding);
  g_test_add_func ("/common/ratchet/low-order-dh", test_low_order_dh);
  g_test_add_func ("/common/ratchet/ad-binding", test_ad_binding);
  g_test_add_func ("/common/ratchet/restart", test_restart);
  g_test_add_func ("/common/ratchet/reused-ratchet-key",
                   test_reused_ratchet_key);
  g_test_add_func ("/common/ratchet/deserialize-strict",
                   test_deserialize_strict);
  g_test_add_func ("/common/ratchet/interaction", test_interaction);
  return g_test_run ();
}
