/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Noise handshake and cipher states beyond the vectors: tampering at every
 * bit, truncation at every length, low-order ephemeral keys, misuse of the
 * state machine, nonce exhaustion and rekeying. */
#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/noise-testing.h"
#include "securechat/noise.h"
#include "vectors.h"

#define NX      SC_NOISE_PROTOCOL
#define MAX_MSG SC_NOISE_MAX_MESSAGE

static const guint8 prologue[] = "SecureChat/1";
static const char hello1[] = "{\"type\":\"client_hello\",\"versions\":[1]}";
static const char hello2[] = "{\"type\":\"server_hello\",\"version\":1}";

typedef struct
{
  struct sc_noise_hs *init;
  struct sc_noise_hs *resp;
  guint8 server_priv[SC_X25519_LEN];
  guint8 server_pub[SC_X25519_LEN];
} Pair;

/* Fixed keys make every run of a sweep start from the same messages. */
static const guint8 fixed_server[SC_X25519_LEN] = {
  0x4a, 0x3a, 0xcb, 0xfd, 0xb1, 0x63, 0xde, 0xc6, 0x51, 0xdf, 0xa3,
  0x19, 0x4d, 0xec, 0xe6, 0x76, 0xd4, 0x37, 0x02, 0x9c, 0x62, 0xa4,
  0x08, 0xb4, 0xc5, 0xea, 0x91, 0x14, 0x24, 0x6e, 0x48, 0x93,
};
static const guint8 fixed_ie[SC_X25519_LEN] = {
  0x89, 0x3e, 0x28, 0xb9, 0xdc, 0x6c, 0xa8, 0xd6, 0x11, 0xab, 0x66,
  0x47, 0x54, 0xb8, 0xce, 0xb7, 0xba, 0xc5, 0x11, 0x73, 0x49, 0xa4,
  0x43, 0x9a, 0x6b, 0x05, 0x69, 0xda, 0x97, 0x7c, 0x46, 0x4a,
};
static const guint8 fixed_re[SC_X25519_LEN] = {
  0xbb, 0xdb, 0x4c, 0xdb, 0xd3, 0x09, 0xf1, 0xa1, 0xf2, 0xe1, 0x45,
  0x69, 0x67, 0xfe, 0x28, 0x8c, 0xad, 0xd6, 0xf7, 0x12, 0xd6, 0x5d,
  0xc7, 0xb7, 0x79, 0x3d, 0x5e, 0x63, 0xda, 0x6b, 0x37, 0x5b,
};

static void
pair_init (Pair *p, const char *name, gboolean fixed)
{
  memset (p, 0, sizeof *p);
  if (fixed)
    memcpy (p->server_priv, fixed_server, sizeof p->server_priv);
  else
    g_assert_cmpint (sc_random (p->server_priv, sizeof p->server_priv), ==,
                     SC_OK);
  g_assert_cmpint (sc_x25519_public (p->server_priv, p->server_pub), ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_new (name, SC_NOISE_INITIATOR, prologue,
                                    sizeof prologue - 1, &p->init),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_new (name, SC_NOISE_RESPONDER, prologue,
                                    sizeof prologue - 1, &p->resp),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_set_static (p->resp, p->server_priv), ==, SC_OK);
  if (fixed)
    {
      g_assert_cmpint (sc_noise_hs_set_fixed_ephemeral (p->init, fixed_ie), ==,
                       SC_OK);
      g_assert_cmpint (sc_noise_hs_set_fixed_ephemeral (p->resp, fixed_re), ==,
                       SC_OK);
    }
  g_assert_cmpint (sc_noise_hs_start (p->init), ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_start (p->resp), ==, SC_OK);
}

static void
pair_clear (Pair *p)
{
  sc_noise_hs_free (p->init);
  sc_noise_hs_free (p->resp);
  memset (p, 0, sizeof *p);
}

static void
write_ok (struct sc_noise_hs *hs,
          const char *payload,
          guint8 *out,
          gsize *out_len)
{
  g_assert_cmpint (sc_noise_hs_write_message (hs, (const guint8 *) payload,
                                              strlen (payload), out, MAX_MSG,
                                              out_len),
                   ==, SC_OK);
}

static void
read_ok (struct sc_noise_hs *hs, const guint8 *msg, gsize len, const char *want)
{
  guint8 pt[MAX_MSG];
  gsize plen = 0;

  g_assert_cmpint (
      sc_noise_hs_read_message (hs, msg, len, pt, sizeof pt, &plen), ==, SC_OK);
  g_assert_cmpmem (pt, plen, want, strlen (want));
}

typedef struct
{
  struct sc_noise_cipher *i_send, *i_recv, *r_send, *r_recv;
} Ciphers;

/* A full two-message handshake (NN, NX...) and Split(). */
static void
handshake (Pair *p, Ciphers *c)
{
  guint8 msg[MAX_MSG];
  gsize len;
  guint8 rs[SC_X25519_LEN];
  guint8 h1[SC_NOISE_MAX_HASH_LEN], h2[SC_NOISE_MAX_HASH_LEN];
  gsize l1, l2;

  write_ok (p->init, hello1, msg, &len);
  read_ok (p->resp, msg, len, hello1);
  write_ok (p->resp, hello2, msg, &len);
  read_ok (p->init, msg, len, hello2);
  g_assert_cmpint (sc_noise_hs_action (p->init), ==, SC_NOISE_ACTION_SPLIT);
  g_assert_cmpint (sc_noise_hs_action (p->resp), ==, SC_NOISE_ACTION_SPLIT);
  g_assert_cmpint (sc_noise_hs_handshake_hash (p->init, h1, sizeof h1, &l1), ==,
                   SC_OK);
  g_assert_cmpint (sc_noise_hs_handshake_hash (p->resp, h2, sizeof h2, &l2), ==,
                   SC_OK);
  g_assert_cmpmem (h1, l1, h2, l2);
  if (sc_noise_hs_remote_static (p->init, rs) == SC_OK)
    g_assert_cmpmem (rs, sizeof rs, p->server_pub, sizeof p->server_pub);
  g_assert_cmpint (sc_noise_hs_split (p->init, &c->i_send, &c->i_recv), ==,
                   SC_OK);
  g_assert_cmpint (sc_noise_hs_split (p->resp, &c->r_send, &c->r_recv), ==,
                   SC_OK);
  /* Split() is once only. */
  {
    struct sc_noise_cipher *a, *b;
    g_assert_cmpint (sc_noise_hs_split (p->init, &a, &b), ==, SC_ERR_STATE);
    g_assert_null (a);
    g_assert_null (b);
  }
}

static void
ciphers_clear (Ciphers *c)
{
  sc_noise_cipher_free (c->i_send);
  sc_noise_cipher_free (c->i_recv);
  sc_noise_cipher_free (c->r_send);
  sc_noise_cipher_free (c->r_recv);
  memset (c, 0, sizeof *c);
}

/* send -> recv, checking the plaintext. */
static void
transport_ok (struct sc_noise_cipher *s,
              struct sc_noise_cipher *r,
              const char *text)
{
  gsize len = strlen (text);
  guint8 ct[256], pt[256];

  g_assert_cmpuint (len + SC_NOISE_TAG_LEN, <=, sizeof ct);
  g_assert_cmpint (
      sc_noise_cipher_encrypt (s, NULL, 0, (const guint8 *) text, len, ct), ==,
      SC_OK);
  g_assert_cmpint (
      sc_noise_cipher_decrypt (r, NULL, 0, ct, len + SC_NOISE_TAG_LEN, pt), ==,
      SC_OK);
  g_assert_cmpmem (pt, len, text, len);
}

/* ---- Tests -------------------------------------------------------------- */

static void
test_nx_roundtrip (void)
{
  Pair p;
  Ciphers c = { 0 };
  guint8 rs[SC_X25519_LEN];

  pair_init (&p, NX, FALSE);
  /* The server key is unknown to the client until message 2. */
  g_assert_cmpint (sc_noise_hs_remote_static (p.init, rs), ==, SC_ERR_STATE);
  handshake (&p, &c);
  g_assert_cmpint (sc_noise_hs_remote_static (p.init, rs), ==, SC_OK);
  g_assert_cmpmem (rs, sizeof rs, p.server_pub, sizeof p.server_pub);
  /* NX: the server learns no client key. */
  g_assert_cmpint (sc_noise_hs_remote_static (p.resp, rs), ==, SC_ERR_STATE);
  for (int i = 0; i < 10; i++)
    {
      transport_ok (c.i_send, c.r_recv, "client to server");
      transport_ok (c.r_send, c.i_recv, "server to client");
    }
  g_assert_cmpuint (sc_noise_cipher_nonce (c.i_send), ==, 10);
  g_assert_cmpuint (sc_noise_cipher_nonce (c.r_recv), ==, 10);
  /* The directions use different keys. */
  {
    guint8 ct[32], pt[32];
    g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                              (const guint8 *) "x", 1, ct),
                     ==, SC_OK);
    g_assert_cmpint (sc_noise_cipher_decrypt (c.i_recv, NULL, 0, ct, 17, pt),
                     ==, SC_ERR_DECRYPT);
  }
  ciphers_clear (&c);
  pair_clear (&p);
}

/* NX with fixed keys gives the same messages on every run. */
static void
nx_messages (GByteArray *m1, GByteArray *m2)
{
  Pair p;
  guint8 msg[MAX_MSG];
  gsize len;

  pair_init (&p, NX, TRUE);
  write_ok (p.init, hello1, msg, &len);
  g_byte_array_append (m1, msg, (guint) len);
  read_ok (p.resp, msg, len, hello1);
  write_ok (p.resp, hello2, msg, &len);
  g_byte_array_append (m2, msg, (guint) len);
  pair_clear (&p);
}

static void
test_nx_bitflip_msg1 (void)
{
  g_autoptr (GByteArray) m1 = g_byte_array_new ();
  g_autoptr (GByteArray) m2 = g_byte_array_new ();
  unsigned n = 0;

  nx_messages (m1, m2);
  g_assert_cmpuint (m1->len, ==, SC_X25519_LEN + strlen (hello1));
  for (guint i = 0; i < m1->len; i++)
    for (guint bit = 0; bit < 8; bit++)
      {
        Pair p;
        guint8 msg[MAX_MSG], pt[MAX_MSG];
        gsize len, plen;
        int rc;

        pair_init (&p, NX, TRUE);
        write_ok (p.init, hello1, msg, &len);
        g_assert_cmpmem (msg, len, m1->data, m1->len);
        msg[i] ^= (guint8) (1u << bit);
        /* Message 1 is e and a clear payload: the responder cannot tell. */
        g_assert_cmpint (
            sc_noise_hs_read_message (p.resp, msg, len, pt, sizeof pt, &plen),
            ==, SC_OK);
        rc = sc_noise_hs_write_message (p.resp, (const guint8 *) hello2,
                                        strlen (hello2), msg, sizeof msg, &len);
        if (rc == SC_OK)
          {
            /* ...but the initiator's h differs, so message 2 fails. */
            rc = sc_noise_hs_read_message (p.init, msg, len, pt, sizeof pt,
                                           &plen);
            g_assert_cmpint (rc, ==, SC_ERR_DECRYPT);
            g_assert_cmpint (sc_noise_hs_action (p.init), ==,
                             SC_NOISE_ACTION_FAILED);
            g_assert_cmpuint (plen, ==, 0);
          }
        else
          {
            /* A flip that made e a low-order point. */
            g_assert_cmpint (rc, ==, SC_ERR_DH);
            g_assert_cmpint (sc_noise_hs_action (p.resp), ==,
                             SC_NOISE_ACTION_FAILED);
          }
        n++;
        pair_clear (&p);
      }
  g_test_message ("%u bit flips in message 1 rejected", n);
}

static void
test_nx_bitflip_msg2 (void)
{
  g_autoptr (GByteArray) m1 = g_byte_array_new ();
  g_autoptr (GByteArray) m2 = g_byte_array_new ();
  unsigned n = 0;

  nx_messages (m1, m2);
  g_assert_cmpuint (m2->len, ==,
                    SC_X25519_LEN + SC_X25519_LEN + 16 + strlen (hello2) + 16);
  for (guint i = 0; i < m2->len; i++)
    for (guint bit = 0; bit < 8; bit++)
      {
        Pair p;
        guint8 msg[MAX_MSG], pt[MAX_MSG];
        gsize len, plen = 1;
        int rc;

        pair_init (&p, NX, TRUE);
        write_ok (p.init, hello1, msg, &len);
        read_ok (p.resp, msg, len, hello1);
        write_ok (p.resp, hello2, msg, &len);
        g_assert_cmpmem (msg, len, m2->data, m2->len);
        msg[i] ^= (guint8) (1u << bit);
        memset (pt, 0xa5, sizeof pt);
        rc = sc_noise_hs_read_message (p.init, msg, len, pt, sizeof pt, &plen);
        g_assert_cmpint (rc, !=, SC_OK);
        g_assert_true (rc == SC_ERR_DECRYPT || rc == SC_ERR_DH);
        g_assert_cmpint (sc_noise_hs_action (p.init), ==,
                         SC_NOISE_ACTION_FAILED);
        g_assert_cmpuint (plen, ==, 0);
        /* No plaintext of the payload leaked into the buffer. */
        for (gsize j = 0; j < strlen (hello2); j++)
          g_assert_cmpuint (pt[j], !=, (guint8) hello2[j]);
        /* Dead for good. */
        g_assert_cmpint (sc_noise_hs_read_message (p.init, m2->data, m2->len,
                                                   pt, sizeof pt, &plen),
                         ==, SC_ERR_STATE);
        n++;
        pair_clear (&p);
      }
  g_test_message ("%u bit flips in message 2 rejected", n);
}

static void
test_transport_bitflip (void)
{
  Pair p;
  Ciphers c = { 0 };
  const char *text = "{\"type\":\"login\",\"user\":\"alice\"}";
  gsize len = strlen (text) + SC_NOISE_TAG_LEN;
  guint8 ct[128], bad[128], pt[128];
  unsigned n = 0;

  pair_init (&p, NX, FALSE);
  handshake (&p, &c);
  transport_ok (c.i_send, c.r_recv, "first");
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) text,
                                            strlen (text), ct),
                   ==, SC_OK);
  for (gsize i = 0; i < len; i++)
    for (guint bit = 0; bit < 8; bit++)
      {
        memcpy (bad, ct, len);
        bad[i] ^= (guint8) (1u << bit);
        memset (pt, 0xa5, sizeof pt);
        g_assert_cmpint (
            sc_noise_cipher_decrypt (c.r_recv, NULL, 0, bad, len, pt), ==,
            SC_ERR_DECRYPT);
        /* Nothing written, the nonce unchanged. */
        for (gsize j = 0; j < len - SC_NOISE_TAG_LEN; j++)
          g_assert_cmpuint (pt[j], ==, 0);
        g_assert_cmpuint (sc_noise_cipher_nonce (c.r_recv), ==, 1);
        n++;
      }
  /* Wrong AD fails too. */
  g_assert_cmpint (
      sc_noise_cipher_decrypt (c.r_recv, (const guint8 *) "x", 1, ct, len, pt),
      ==, SC_ERR_DECRYPT);
  /* The genuine frame still decrypts: failures did not advance n. */
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct, len, pt), ==,
                   SC_OK);
  g_assert_cmpmem (pt, len - SC_NOISE_TAG_LEN, text, strlen (text));
  g_assert_cmpuint (sc_noise_cipher_nonce (c.r_recv), ==, 2);
  /* A replay now fails (wrong nonce). */
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct, len, pt), ==,
                   SC_ERR_DECRYPT);
  g_test_message ("%u bit flips in a transport message rejected", n);
  ciphers_clear (&c);
  pair_clear (&p);
}

static void
test_truncated (void)
{
  g_autoptr (GByteArray) m1 = g_byte_array_new ();
  g_autoptr (GByteArray) m2 = g_byte_array_new ();
  guint8 pt[MAX_MSG];
  gsize plen;

  nx_messages (m1, m2);
  /* Message 1: shorter than e fails at once; a shorter clear payload is
   * caught by the initiator at message 2. */
  for (guint cut = 0; cut < m1->len; cut++)
    {
      Pair p;
      guint8 msg[MAX_MSG];
      gsize len;
      int rc;

      pair_init (&p, NX, TRUE);
      write_ok (p.init, hello1, msg, &len);
      rc = sc_noise_hs_read_message (p.resp, msg, cut, pt, sizeof pt, &plen);
      if (cut < SC_X25519_LEN)
        {
          g_assert_cmpint (rc, ==, SC_ERR_TRUNCATED);
          g_assert_cmpint (sc_noise_hs_action (p.resp), ==,
                           SC_NOISE_ACTION_FAILED);
        }
      else
        {
          g_assert_cmpint (rc, ==, SC_OK);
          g_assert_cmpuint (plen, ==, cut - SC_X25519_LEN);
          write_ok (p.resp, hello2, msg, &len);
          g_assert_cmpint (
              sc_noise_hs_read_message (p.init, msg, len, pt, sizeof pt, &plen),
              ==, SC_ERR_DECRYPT);
          g_assert_cmpint (sc_noise_hs_action (p.init), ==,
                           SC_NOISE_ACTION_FAILED);
        }
      pair_clear (&p);
    }
  /* Message 2: every prefix fails at the initiator. */
  for (guint cut = 0; cut < m2->len; cut++)
    {
      Pair p;
      guint8 msg[MAX_MSG];
      gsize len;
      int rc;

      pair_init (&p, NX, TRUE);
      write_ok (p.init, hello1, msg, &len);
      read_ok (p.resp, msg, len, hello1);
      write_ok (p.resp, hello2, msg, &len);
      rc = sc_noise_hs_read_message (p.init, msg, cut, pt, sizeof pt, &plen);
      if (cut < SC_X25519_LEN + SC_X25519_LEN + 16 + 16)
        g_assert_cmpint (rc, ==, SC_ERR_TRUNCATED);
      else
        g_assert_cmpint (rc, ==, SC_ERR_DECRYPT);
      g_assert_cmpint (sc_noise_hs_action (p.init), ==, SC_NOISE_ACTION_FAILED);
      pair_clear (&p);
    }
  /* Transport: every prefix. */
  {
    Pair p;
    Ciphers c = { 0 };
    guint8 ct[64];

    pair_init (&p, NX, FALSE);
    handshake (&p, &c);
    g_assert_cmpint (sc_noise_cipher_encrypt (c.r_send, NULL, 0,
                                              (const guint8 *) "hello", 5, ct),
                     ==, SC_OK);
    for (gsize cut = 0; cut < 5 + SC_NOISE_TAG_LEN; cut++)
      g_assert_cmpint (
          sc_noise_cipher_decrypt (c.i_recv, NULL, 0, ct, cut, pt), ==,
          cut < SC_NOISE_TAG_LEN ? SC_ERR_TRUNCATED : SC_ERR_DECRYPT);
    g_assert_cmpint (sc_noise_cipher_decrypt (c.i_recv, NULL, 0, ct,
                                              5 + SC_NOISE_TAG_LEN, pt),
                     ==, SC_OK);
    ciphers_clear (&c);
    pair_clear (&p);
  }
}

/* The distinct public keys of the Wycheproof cases whose shared secret is
 * zero (points of small order, and their non-canonical encodings). */
static GPtrArray *
low_order_points (void)
{
  GPtrArray *points = g_ptr_array_new_with_free_func (g_free);
  json_t *root = sc_test_load_vectors ("wycheproof", "x25519_test.json");
  json_t *g, *t;
  gsize gi, ti;

  json_array_foreach (json_object_get (root, "testGroups"), gi, g)
  {
    json_array_foreach (json_object_get (g, "tests"), ti, t)
    {
      json_t *flags = json_object_get (t, "flags"), *f;
      gsize fi;
      gboolean zero = FALSE;
      const char *hex;

      json_array_foreach (flags, fi, f)
      {
        if (strcmp (json_string_value (f), "ZeroSharedSecret") == 0)
          zero = TRUE;
      }
      if (!zero)
        continue;
      hex = json_string_value (json_object_get (t, "public"));
      g_assert_nonnull (hex);
      g_assert_cmpuint (strlen (hex), ==, 2 * SC_X25519_LEN);
      if (!g_ptr_array_find_with_equal_func (points, hex, g_str_equal, NULL))
        g_ptr_array_add (points, g_strdup (hex));
    }
  }
  json_decref (root);
  return points;
}

static void
test_low_order_ephemeral (void)
{
  g_autoptr (GPtrArray) points = low_order_points ();

  g_test_message ("%u distinct low-order public keys", points->len);
  /* 31 ZeroSharedSecret cases, 14 distinct encodings. */
  g_assert_cmpuint (points->len, ==, 14);
  for (guint k = 0; k < points->len; k++)
    {
      guint8 bad[SC_X25519_LEN];
      guint8 msg[MAX_MSG], pt[MAX_MSG];
      gsize len, plen;
      Pair p;

      sc_test_unhex_into (g_ptr_array_index (points, k), bad, sizeof bad);

      /* As e in message 1: the responder's ee aborts its message 2. */
      pair_init (&p, NX, FALSE);
      write_ok (p.init, hello1, msg, &len);
      memcpy (msg, bad, SC_X25519_LEN);
      read_ok (p.resp, msg, len, hello1);
      g_assert_cmpint (
          sc_noise_hs_write_message (p.resp, (const guint8 *) hello2,
                                     strlen (hello2), msg, sizeof msg, &len),
          ==, SC_ERR_DH);
      g_assert_cmpuint (len, ==, 0);
      g_assert_cmpint (sc_noise_hs_action (p.resp), ==, SC_NOISE_ACTION_FAILED);
      pair_clear (&p);

      /* As e in message 2: the initiator's ee aborts. */
      pair_init (&p, NX, FALSE);
      write_ok (p.init, hello1, msg, &len);
      read_ok (p.resp, msg, len, hello1);
      write_ok (p.resp, hello2, msg, &len);
      memcpy (msg, bad, SC_X25519_LEN);
      g_assert_cmpint (
          sc_noise_hs_read_message (p.init, msg, len, pt, sizeof pt, &plen), ==,
          SC_ERR_DH);
      g_assert_cmpint (sc_noise_hs_action (p.init), ==, SC_NOISE_ACTION_FAILED);
      pair_clear (&p);
    }
}

static void
test_state_misuse (void)
{
  guint8 msg[MAX_MSG], pt[MAX_MSG];
  gsize len, plen;
  struct sc_noise_hs *hs = NULL;
  struct sc_noise_cipher *a = NULL, *b = NULL;
  guint8 key[SC_X25519_LEN] = { 1 };
  Pair p;

  /* Write when READ is expected. */
  pair_init (&p, NX, FALSE);
  g_assert_cmpint (sc_noise_hs_action (p.resp), ==, SC_NOISE_ACTION_READ);
  g_assert_cmpint (
      sc_noise_hs_write_message (p.resp, NULL, 0, msg, sizeof msg, &len), ==,
      SC_ERR_STATE);
  g_assert_cmpint (sc_noise_hs_action (p.resp), ==, SC_NOISE_ACTION_FAILED);
  g_assert_cmpint (
      sc_noise_hs_write_message (p.resp, NULL, 0, msg, sizeof msg, &len), ==,
      SC_ERR_STATE);
  /* Read when WRITE is expected. */
  g_assert_cmpint (sc_noise_hs_action (p.init), ==, SC_NOISE_ACTION_WRITE);
  g_assert_cmpint (
      sc_noise_hs_read_message (p.init, msg, 48, pt, sizeof pt, &plen), ==,
      SC_ERR_STATE);
  g_assert_cmpint (sc_noise_hs_action (p.init), ==, SC_NOISE_ACTION_FAILED);
  pair_clear (&p);

  /* Split before the end. */
  pair_init (&p, NX, FALSE);
  g_assert_cmpint (sc_noise_hs_split (p.init, &a, &b), ==, SC_ERR_STATE);
  g_assert_null (a);
  g_assert_null (b);
  g_assert_cmpint (sc_noise_hs_handshake_hash (p.resp, pt, sizeof pt, &plen),
                   ==, SC_ERR_STATE);
  pair_clear (&p);

  /* Messages before start, keys after start. */
  g_assert_cmpint (sc_noise_hs_new (NX, SC_NOISE_INITIATOR, NULL, 0, &hs), ==,
                   SC_OK);
  g_assert_cmpint (
      sc_noise_hs_write_message (hs, NULL, 0, msg, sizeof msg, &len), ==,
      SC_ERR_STATE);
  sc_noise_hs_free (hs);
  g_assert_cmpint (sc_noise_hs_new (NX, SC_NOISE_INITIATOR, NULL, 0, &hs), ==,
                   SC_OK);
  g_assert_cmpint (sc_noise_hs_start (hs), ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_set_static (hs, key), ==, SC_ERR_STATE);
  sc_noise_hs_free (hs);
  /* NX has no pre-message: a remote static key cannot be given. */
  g_assert_cmpint (sc_noise_hs_new (NX, SC_NOISE_INITIATOR, NULL, 0, &hs), ==,
                   SC_OK);
  g_assert_cmpint (sc_noise_hs_set_remote_static (hs, key), ==, SC_ERR_INVALID);
  sc_noise_hs_free (hs);
  /* The NX responder needs its static key. */
  g_assert_cmpint (sc_noise_hs_new (NX, SC_NOISE_RESPONDER, NULL, 0, &hs), ==,
                   SC_OK);
  g_assert_cmpint (sc_noise_hs_start (hs), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_noise_hs_action (hs), ==, SC_NOISE_ACTION_FAILED);
  sc_noise_hs_free (hs);
  /* NK: the initiator needs the responder's key in advance. */
  g_assert_cmpint (sc_noise_hs_new ("Noise_NK_25519_AESGCM_SHA256",
                                    SC_NOISE_INITIATOR, NULL, 0, &hs),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_start (hs), ==, SC_ERR_INVALID);
  sc_noise_hs_free (hs);
  sc_noise_hs_free (NULL);
  sc_noise_cipher_free (NULL);
}

static void
test_sizes (void)
{
  guint8 *big = g_malloc0 (MAX_MSG + 1);
  guint8 msg[MAX_MSG], pt[MAX_MSG];
  gsize len, plen;
  Pair p;

  /* NX message 1: 32 + payload must stay within 65535. */
  pair_init (&p, NX, FALSE);
  g_assert_cmpint (sc_noise_hs_write_message (p.init, big,
                                              MAX_MSG - SC_X25519_LEN + 1, msg,
                                              sizeof msg, &len),
                   ==, SC_ERR_TOO_LARGE);
  g_assert_cmpint (sc_noise_hs_action (p.init), ==, SC_NOISE_ACTION_FAILED);
  pair_clear (&p);
  pair_init (&p, NX, FALSE);
  g_assert_cmpint (sc_noise_hs_write_message (p.init, big,
                                              MAX_MSG - SC_X25519_LEN, msg,
                                              sizeof msg, &len),
                   ==, SC_OK);
  g_assert_cmpuint (len, ==, MAX_MSG);
  /* A payload buffer too small fails the read. */
  g_assert_cmpint (sc_noise_hs_read_message (p.resp, msg, len, pt, 10, &plen),
                   ==, SC_ERR_BUFFER);
  pair_clear (&p);
  /* An output buffer too small. */
  pair_init (&p, NX, FALSE);
  g_assert_cmpint (sc_noise_hs_write_message (p.init, big, 10, msg, 41, &len),
                   ==, SC_ERR_BUFFER);
  pair_clear (&p);
  /* An over-long message. */
  pair_init (&p, NX, FALSE);
  g_assert_cmpint (
      sc_noise_hs_read_message (p.resp, big, MAX_MSG + 1, pt, sizeof pt, &plen),
      ==, SC_ERR_TOO_LARGE);
  pair_clear (&p);
  /* Transport limits. */
  {
    Ciphers c = { 0 };
    guint8 *out = g_malloc (MAX_MSG + 16);

    pair_init (&p, NX, FALSE);
    handshake (&p, &c);
    g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0, big,
                                              MAX_MSG - SC_NOISE_TAG_LEN + 1,
                                              out),
                     ==, SC_ERR_TOO_LARGE);
    g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0, big,
                                              MAX_MSG - SC_NOISE_TAG_LEN, out),
                     ==, SC_OK);
    g_assert_cmpint (
        sc_noise_cipher_decrypt (c.r_recv, NULL, 0, out, MAX_MSG, big), ==,
        SC_OK);
    g_free (out);
    ciphers_clear (&c);
    pair_clear (&p);
  }
  g_free (big);
}

static void
test_unsupported_names (void)
{
  static const char *const bad[] = {
    "",
    "Noise",
    "Noise_NX",
    "Noise_NX_25519_AESGCM",
    "Noise_NX_25519_AESGCM_SHA256_",
    "Noise_NX_25519_AESGCM_SHA256_x",
    "Noise__NX_25519_AESGCM_SHA256",
    "noise_NX_25519_AESGCM_SHA256",
    "Noise_nx_25519_AESGCM_SHA256",
    "Noise_NX1_25519_AESGCM_SHA256",
    "Noise_XXpsk3_25519_AESGCM_SHA256",
    "Noise_XXfallback_25519_AESGCM_SHA256",
    "Noise_XXhfs_25519+Kyber1024_AESGCM_SHA256",
    "NoisePSK_NX_25519_AESGCM_SHA256",
    "Noise_NX_448_AESGCM_SHA256",
    "Noise_NX_25519_AESGCM_SHA1",
    "Noise_NX_25519_AESGCM_BLAKE2",
    "Noise_NX_25519_AES256GCM_SHA256",
    "Noise_NX_25519_ChaChaPoly1305_SHA256",
    "Noise_NX_25519_AESGCM_SHA256 ",
    " Noise_NX_25519_AESGCM_SHA256",
    "Noise_NX_25519_AESGCM_sha256",
  };
  static const char *const pats[] = {
    "N",  "K",  "X",  "NN", "NK", "NX", "XN", "XK",
    "XX", "KN", "KK", "KX", "IN", "IK", "IX",
  };
  static const char *const ciphers[] = { "AESGCM", "ChaChaPoly" };
  static const char *const hashes[] = { "SHA256", "SHA512", "BLAKE2s",
                                        "BLAKE2b" };
  struct sc_noise_hs *hs = (struct sc_noise_hs *) 1;
  g_autofree char *longname = NULL;
  unsigned ok = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_cmpint (
          sc_noise_hs_new (bad[i], SC_NOISE_INITIATOR, NULL, 0, &hs), ==,
          SC_ERR_UNSUPPORTED);
      g_assert_null (hs);
    }
  longname = g_strnfill (4096, 'N');
  g_assert_cmpint (sc_noise_hs_new (longname, SC_NOISE_INITIATOR, NULL, 0, &hs),
                   ==, SC_ERR_UNSUPPORTED);
  g_assert_cmpint (sc_noise_hs_new (NULL, SC_NOISE_INITIATOR, NULL, 0, &hs), ==,
                   SC_ERR_INVALID);
  /* Every supported combination is accepted. */
  for (gsize a = 0; a < G_N_ELEMENTS (pats); a++)
    for (gsize b = 0; b < G_N_ELEMENTS (ciphers); b++)
      for (gsize c = 0; c < G_N_ELEMENTS (hashes); c++)
        {
          g_autofree char *name = g_strdup_printf (
              "Noise_%s_25519_%s_%s", pats[a], ciphers[b], hashes[c]);
          g_assert_cmpint (
              sc_noise_hs_new (name, SC_NOISE_RESPONDER, NULL, 0, &hs), ==,
              SC_OK);
          sc_noise_hs_free (hs);
          ok++;
        }
  g_assert_cmpuint (ok, ==, 120);
}

static void
test_prologue_mismatch (void)
{
  struct sc_noise_hs *init = NULL, *resp = NULL;
  guint8 priv[SC_X25519_LEN], msg[MAX_MSG], pt[MAX_MSG];
  gsize len, plen;

  g_assert_cmpint (sc_random (priv, sizeof priv), ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_new (NX, SC_NOISE_INITIATOR,
                                    (const guint8 *) "SecureChat/1", 12, &init),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_new (NX, SC_NOISE_RESPONDER,
                                    (const guint8 *) "SecureChat/2", 12, &resp),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_set_static (resp, priv), ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_start (init), ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_start (resp), ==, SC_OK);
  write_ok (init, hello1, msg, &len);
  read_ok (resp, msg, len, hello1);
  write_ok (resp, hello2, msg, &len);
  g_assert_cmpint (
      sc_noise_hs_read_message (init, msg, len, pt, sizeof pt, &plen), ==,
      SC_ERR_DECRYPT);
  sc_noise_hs_free (init);
  sc_noise_hs_free (resp);
}

static const char *const cipher_protocols[] = {
  SC_NOISE_PROTOCOL,
  "Noise_NN_25519_ChaChaPoly_BLAKE2s",
};

static void
test_nonce_exhaustion (gconstpointer data)
{
  const char *name = data;
  Pair p;
  Ciphers c = { 0 };
  guint8 ct[64], ct2[64], pt[64];

  pair_init (&p, name, FALSE);
  handshake (&p, &c);
  sc_noise_cipher_set_nonce (c.i_send, UINT64_MAX - 1);
  sc_noise_cipher_set_nonce (c.r_recv, UINT64_MAX - 1);
  /* The last usable nonce, 2^64-2, works... */
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "last", 4, ct),
                   ==, SC_OK);
  g_assert_cmpuint (sc_noise_cipher_nonce (c.i_send), ==, UINT64_MAX);
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct, 20, pt), ==,
                   SC_OK);
  g_assert_cmpmem (pt, 4, "last", 4);
  /* ...2^64-1 is refused, and the state is dead afterwards. */
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "more", 4, ct2),
                   ==, SC_ERR_NONCE_EXHAUSTED);
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "more", 4, ct2),
                   ==, SC_ERR_STATE);
  g_assert_cmpint (sc_noise_cipher_rekey (c.i_send), ==, SC_ERR_STATE);
  sc_noise_cipher_set_nonce (c.i_send, 0);
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "more", 4, ct2),
                   ==, SC_ERR_STATE);
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct, 20, pt), ==,
                   SC_ERR_NONCE_EXHAUSTED);
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct, 20, pt), ==,
                   SC_ERR_STATE);
  /* The other direction is unaffected. */
  transport_ok (c.r_send, c.i_recv, "still fine");
  ciphers_clear (&c);
  pair_clear (&p);
}

static void
test_rekey (gconstpointer data)
{
  const char *name = data;
  Pair p;
  Ciphers c = { 0 };
  guint8 ct1[64], ct2[64], pt[64];

  pair_init (&p, name, FALSE);
  handshake (&p, &c);
  transport_ok (c.i_send, c.r_recv, "before");
  /* Same nonce, same plaintext: only the key can make them differ. */
  sc_noise_cipher_set_nonce (c.i_send, 5);
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "same", 4, ct1),
                   ==, SC_OK);
  sc_noise_cipher_set_nonce (c.i_send, 5);
  g_assert_cmpint (sc_noise_cipher_rekey (c.i_send), ==, SC_OK);
  /* REKEY does not touch the nonce. */
  g_assert_cmpuint (sc_noise_cipher_nonce (c.i_send), ==, 5);
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "same", 4, ct2),
                   ==, SC_OK);
  g_assert_false (memcmp (ct1, ct2, 20) == 0);
  /* The receiver with the old key fails; after its own rekey it works. */
  sc_noise_cipher_set_nonce (c.r_recv, 5);
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct2, 20, pt), ==,
                   SC_ERR_DECRYPT);
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct1, 20, pt), ==,
                   SC_OK);
  sc_noise_cipher_set_nonce (c.r_recv, 5);
  g_assert_cmpint (sc_noise_cipher_rekey (c.r_recv), ==, SC_OK);
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct2, 20, pt), ==,
                   SC_OK);
  g_assert_cmpmem (pt, 4, "same", 4);
  /* Repeated rekeys on both sides stay in sync, in both directions. */
  for (int i = 0; i < 5; i++)
    {
      g_assert_cmpint (sc_noise_cipher_rekey (c.i_send), ==, SC_OK);
      g_assert_cmpint (sc_noise_cipher_rekey (c.r_recv), ==, SC_OK);
      g_assert_cmpint (sc_noise_cipher_rekey (c.r_send), ==, SC_OK);
      g_assert_cmpint (sc_noise_cipher_rekey (c.i_recv), ==, SC_OK);
      transport_ok (c.i_send, c.r_recv, "after rekey");
      transport_ok (c.r_send, c.i_recv, "after rekey, back");
    }
  /* A rekey on one side only breaks that direction. */
  g_assert_cmpint (sc_noise_cipher_rekey (c.i_send), ==, SC_OK);
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "same", 4, ct1),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_cipher_decrypt (c.r_recv, NULL, 0, ct1, 20, pt), ==,
                   SC_ERR_DECRYPT);
  ciphers_clear (&c);
  pair_clear (&p);
}

/* REKEY against an independent computation. NN's keys depend only on ck,
 * which for a name of at most 32 bytes starts as the padded name; so the
 * split keys follow from §4.3 with sc_hmac_sha256, and REKEY from §4.2 with
 * sc_aead_encrypt. */
static void
nonce_bytes (enum sc_aead_alg alg, guint64 n, guint8 iv[SC_AEAD_NONCE_LEN])
{
  memset (iv, 0, SC_AEAD_NONCE_LEN);
  for (int i = 0; i < 8; i++)
    iv[alg == SC_AEAD_AES256GCM ? 11 - i : 4 + i] = (guint8) (n >> (8 * i));
}

static void
test_rekey_known_answer (gconstpointer data)
{
  const char *name = data;
  enum sc_aead_alg alg =
      strstr (name, "AESGCM") != NULL ? SC_AEAD_AES256GCM : SC_AEAD_CHACHAPOLY;
  static const guint8 one = 1;
  guint8 ck[32] = { 0 }, t[32], k1[32], re_pub[SC_X25519_LEN];
  guint8 ee[SC_X25519_LEN], iv[SC_AEAD_NONCE_LEN], zeros[32] = { 0 };
  guint8 rk[32 + SC_AEAD_TAG_LEN], want[64], got[64];
  Pair p;
  Ciphers c = { 0 };

  g_assert_cmpuint (strlen (name), <=, sizeof ck);
  memcpy (ck, name, strlen (name));
  g_assert_cmpint (sc_x25519_public (fixed_re, re_pub), ==, SC_OK);
  g_assert_cmpint (sc_x25519 (ee, fixed_ie, re_pub), ==, SC_OK);
  /* MixKey(ee): ck = HMAC(HMAC(ck, ee), 0x01). */
  g_assert_cmpint (sc_hmac_sha256 (ck, 32, ee, sizeof ee, t), ==, SC_OK);
  g_assert_cmpint (sc_hmac_sha256 (t, 32, &one, 1, ck), ==, SC_OK);
  /* Split(): k1 = HMAC(HMAC(ck, ""), 0x01). */
  g_assert_cmpint (sc_hmac_sha256 (ck, 32, NULL, 0, t), ==, SC_OK);
  g_assert_cmpint (sc_hmac_sha256 (t, 32, &one, 1, k1), ==, SC_OK);

  pair_init (&p, name, TRUE);
  handshake (&p, &c);
  /* Transport message 0 with k1. */
  nonce_bytes (alg, 0, iv);
  g_assert_cmpint (
      sc_aead_encrypt (alg, k1, iv, NULL, 0, (const guint8 *) "abc", 3, want),
      ==, SC_OK);
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, NULL, 0,
                                            (const guint8 *) "abc", 3, got),
                   ==, SC_OK);
  g_assert_cmpmem (got, 3 + SC_AEAD_TAG_LEN, want, 3 + SC_AEAD_TAG_LEN);
  /* REKEY: k = ENCRYPT(k, 2^64-1, "", zeros)[0:32]; the next message,
   * nonce 1, uses it. */
  nonce_bytes (alg, UINT64_MAX, iv);
  g_assert_cmpint (
      sc_aead_encrypt (alg, k1, iv, NULL, 0, zeros, sizeof zeros, rk), ==,
      SC_OK);
  nonce_bytes (alg, 1, iv);
  g_assert_cmpint (sc_aead_encrypt (alg, rk, iv, (const guint8 *) "ad", 2,
                                    (const guint8 *) "defg", 4, want),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_cipher_rekey (c.i_send), ==, SC_OK);
  g_assert_cmpint (sc_noise_cipher_encrypt (c.i_send, (const guint8 *) "ad", 2,
                                            (const guint8 *) "defg", 4, got),
                   ==, SC_OK);
  g_assert_cmpmem (got, 4 + SC_AEAD_TAG_LEN, want, 4 + SC_AEAD_TAG_LEN);
  sc_wipe (k1, sizeof k1);
  sc_wipe (rk, sizeof rk);
  ciphers_clear (&c);
  pair_clear (&p);
}

static const char *const kat_protocols[] = {
  "Noise_NN_25519_AESGCM_SHA256",
  "Noise_NN_25519_ChaChaPoly_SHA256",
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/noise/nx/roundtrip", test_nx_roundtrip);
  g_test_add_func ("/common/noise/nx/bitflip/msg1", test_nx_bitflip_msg1);
  g_test_add_func ("/common/noise/nx/bitflip/msg2", test_nx_bitflip_msg2);
  g_test_add_func ("/common/noise/nx/truncated", test_truncated);
  g_test_add_func ("/common/noise/nx/low-order-ephemeral",
                   test_low_order_ephemeral);
  g_test_add_func ("/common/noise/nx/prologue-mismatch",
                   test_prologue_mismatch);
  g_test_add_func ("/common/noise/transport/bitflip", test_transport_bitflip);
  g_test_add_func ("/common/noise/state/misuse", test_state_misuse);
  g_test_add_func ("/common/noise/sizes", test_sizes);
  g_test_add_func ("/common/noise/name/unsupported", test_unsupported_names);
  g_test_add_data_func ("/common/noise/cipher/nonce-exhaustion/aesgcm",
                        cipher_protocols[0], test_nonce_exhaustion);
  g_test_add_data_func ("/common/noise/cipher/nonce-exhaustion/chachapoly",
                        cipher_protocols[1], test_nonce_exhaustion);
  g_test_add_data_func ("/common/noise/cipher/rekey/aesgcm",
                        cipher_protocols[0], test_rekey);
  g_test_add_data_func ("/common/noise/cipher/rekey/chachapoly",
                        cipher_protocols[1], test_rekey);
  g_test_add_data_func ("/common/noise/cipher/rekey/known-answer/aesgcm",
                        kat_protocols[0], test_rekey_known_answer);
  g_test_add_data_func ("/common/noise/cipher/rekey/known-answer/chachapoly",
                        kat_protocols[1], test_rekey_known_answer);
  return g_test_run ();
}
