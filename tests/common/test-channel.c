/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SecureChat channel: an in-process client/server handshake, transport
 * frames both ways, limits, replay and tampering, and the rekey interval. */
#include <glib.h>
#include <string.h>

#include "securechat/channel-testing.h"
#include "securechat/channel.h"
#include "securechat/error.h"
#include "securechat/noise-testing.h"

#define FRAME_CAP (SC_FRAME_HEADER_LEN + SC_FRAME_MAX)

static const char hello1[] = "{\"type\":\"client_hello\",\"versions\":[1]}";
static const char hello2[] = "{\"type\":\"server_hello\",\"version\":1}";

typedef struct
{
  struct sc_channel *client;
  struct sc_channel *server;
  guint8 server_priv[SC_X25519_LEN];
  guint8 server_pub[SC_X25519_LEN];
} Fixture;

/* The 2-byte big-endian header must give the body length. */
static gsize
check_frame (const guint8 *frame, gsize len)
{
  gsize body;

  g_assert_cmpuint (len, >, SC_FRAME_HEADER_LEN);
  body = (gsize) frame[0] << 8 | frame[1];
  g_assert_cmpuint (body, ==, len - SC_FRAME_HEADER_LEN);
  return body;
}

static void
fixture_new (Fixture *f)
{
  memset (f, 0, sizeof *f);
  g_assert_cmpint (sc_x25519_keypair (f->server_priv, f->server_pub), ==,
                   SC_OK);
  g_assert_cmpint (sc_channel_new (SC_NOISE_INITIATOR, NULL, &f->client), ==,
                   SC_OK);
  g_assert_cmpint (
      sc_channel_new (SC_NOISE_RESPONDER, f->server_priv, &f->server), ==,
      SC_OK);
}

static void
fixture_free (Fixture *f)
{
  sc_channel_free (f->client);
  sc_channel_free (f->server);
  memset (f, 0, sizeof *f);
}

static void
handshake (Fixture *f)
{
  g_autofree guint8 *frame = g_malloc (FRAME_CAP);
  guint8 payload[256];
  gsize len, plen;

  g_assert_cmpint (sc_channel_action (f->client), ==, SC_NOISE_ACTION_WRITE);
  g_assert_cmpint (sc_channel_action (f->server), ==, SC_NOISE_ACTION_READ);
  g_assert_cmpint (
      sc_channel_write_handshake (f->client, (const guint8 *) hello1,
                                  strlen (hello1), frame, FRAME_CAP, &len),
      ==, SC_OK);
  /* Message 1: header, e, clear payload. */
  g_assert_cmpuint (check_frame (frame, len), ==,
                    SC_X25519_LEN + strlen (hello1));
  g_assert_cmpmem (frame + SC_FRAME_HEADER_LEN + SC_X25519_LEN, strlen (hello1),
                   hello1, strlen (hello1));
  g_assert_false (sc_channel_established (f->client));
  g_assert_cmpint (sc_channel_action (f->client), ==, SC_NOISE_ACTION_READ);
  g_assert_cmpint (sc_channel_read_handshake (f->server,
                                              frame + SC_FRAME_HEADER_LEN,
                                              len - SC_FRAME_HEADER_LEN,
                                              payload, sizeof payload, &plen),
                   ==, SC_OK);
  g_assert_cmpmem (payload, plen, hello1, strlen (hello1));
  g_assert_cmpint (sc_channel_action (f->server), ==, SC_NOISE_ACTION_WRITE);

  g_assert_cmpint (
      sc_channel_write_handshake (f->server, (const guint8 *) hello2,
                                  strlen (hello2), frame, FRAME_CAP, &len),
      ==, SC_OK);
  /* Message 2: e, ENC(s), ENC(payload). */
  g_assert_cmpuint (check_frame (frame, len), ==,
                    SC_X25519_LEN + SC_X25519_LEN + 16 + strlen (hello2) + 16);
  /* The server is established once it has written its last message. */
  g_assert_true (sc_channel_established (f->server));
  g_assert_cmpint (sc_channel_action (f->server), ==, SC_NOISE_ACTION_SPLIT);
  g_assert_false (sc_channel_established (f->client));
  g_assert_cmpint (sc_channel_read_handshake (f->client,
                                              frame + SC_FRAME_HEADER_LEN,
                                              len - SC_FRAME_HEADER_LEN,
                                              payload, sizeof payload, &plen),
                   ==, SC_OK);
  g_assert_cmpmem (payload, plen, hello2, strlen (hello2));
  g_assert_true (sc_channel_established (f->client));
  g_assert_cmpint (sc_channel_action (f->client), ==, SC_NOISE_ACTION_SPLIT);
}

/* seal on from, open on to. */
static void
roundtrip (struct sc_channel *from, struct sc_channel *to, const char *text)
{
  guint8 frame[512], pt[512];
  gsize len, plen;

  g_assert_cmpint (sc_channel_seal (from, (const guint8 *) text, strlen (text),
                                    frame, sizeof frame, &len),
                   ==, SC_OK);
  g_assert_cmpuint (len, ==, SC_FRAME_HEADER_LEN + strlen (text) + 16);
  check_frame (frame, len);
  g_assert_cmpint (sc_channel_open (to, frame + SC_FRAME_HEADER_LEN,
                                    len - SC_FRAME_HEADER_LEN, pt, sizeof pt,
                                    &plen),
                   ==, SC_OK);
  g_assert_cmpmem (pt, plen, text, strlen (text));
}

static void
assert_dead (struct sc_channel *ch)
{
  guint8 frame[64], pt[64];
  gsize len, plen;

  g_assert_false (sc_channel_established (ch));
  g_assert_cmpint (sc_channel_action (ch), ==, SC_NOISE_ACTION_FAILED);
  g_assert_cmpint (
      sc_channel_seal (ch, (const guint8 *) "x", 1, frame, sizeof frame, &len),
      ==, SC_ERR_STATE);
  g_assert_cmpint (sc_channel_open (ch, frame, 17, pt, sizeof pt, &plen), ==,
                   SC_ERR_STATE);
  g_assert_null (sc_channel_testing_send_cipher (ch));
  g_assert_null (sc_channel_testing_recv_cipher (ch));
}

/* ---- Tests -------------------------------------------------------------- */

static void
test_handshake (void)
{
  Fixture f;
  guint8 rs[SC_X25519_LEN], h1[SC_SHA256_LEN], h2[SC_SHA256_LEN];

  fixture_new (&f);
  g_assert_cmpint (sc_channel_remote_static (f.client, rs), ==, SC_ERR_STATE);
  g_assert_cmpint (sc_channel_handshake_hash (f.client, h1), ==, SC_ERR_STATE);
  handshake (&f);
  /* The client learned the server's static key. */
  g_assert_cmpint (sc_channel_remote_static (f.client, rs), ==, SC_OK);
  g_assert_cmpmem (rs, sizeof rs, f.server_pub, sizeof f.server_pub);
  /* NX: the client has no static key. */
  g_assert_cmpint (sc_channel_remote_static (f.server, rs), ==, SC_ERR_STATE);
  g_assert_cmpint (sc_channel_handshake_hash (f.client, h1), ==, SC_OK);
  g_assert_cmpint (sc_channel_handshake_hash (f.server, h2), ==, SC_OK);
  g_assert_cmpmem (h1, sizeof h1, h2, sizeof h2);
  /* No more handshake once established. */
  {
    guint8 frame[128];
    gsize len;
    g_assert_cmpint (sc_channel_write_handshake (f.client, NULL, 0, frame,
                                                 sizeof frame, &len),
                     ==, SC_ERR_STATE);
    g_assert_true (sc_channel_established (f.client));
  }
  fixture_free (&f);
}

/* The channel speaks plain Noise_NX_25519_AESGCM_SHA256 with the prologue
 * "SecureChat/1": a bare HandshakeState configured that way interoperates,
 * one with another prologue does not. */
static void
test_interop_noise (void)
{
  static const char *const prologues[] = { "SecureChat/1", "SecureChat/2" };

  for (gsize i = 0; i < G_N_ELEMENTS (prologues); i++)
    {
      Fixture f;
      struct sc_noise_hs *hs = NULL;
      g_autofree guint8 *frame = g_malloc (FRAME_CAP);
      guint8 payload[256];
      gsize len, plen;
      int rc;

      fixture_new (&f);
      g_assert_cmpint (sc_noise_hs_new ("Noise_NX_25519_AESGCM_SHA256",
                                        SC_NOISE_INITIATOR,
                                        (const guint8 *) prologues[i],
                                        strlen (prologues[i]), &hs),
                       ==, SC_OK);
      g_assert_cmpint (sc_noise_hs_start (hs), ==, SC_OK);
      g_assert_cmpint (sc_noise_hs_write_message (hs, (const guint8 *) hello1,
                                                  strlen (hello1), frame,
                                                  FRAME_CAP, &len),
                       ==, SC_OK);
      g_assert_cmpint (sc_channel_read_handshake (f.server, frame, len, payload,
                                                  sizeof payload, &plen),
                       ==, SC_OK);
      g_assert_cmpint (
          sc_channel_write_handshake (f.server, (const guint8 *) hello2,
                                      strlen (hello2), frame, FRAME_CAP, &len),
          ==, SC_OK);
      rc = sc_noise_hs_read_message (hs, frame + SC_FRAME_HEADER_LEN,
                                     len - SC_FRAME_HEADER_LEN, payload,
                                     sizeof payload, &plen);
      if (i == 0)
        {
          guint8 rs[SC_X25519_LEN];
          g_assert_cmpint (rc, ==, SC_OK);
          g_assert_cmpmem (payload, plen, hello2, strlen (hello2));
          g_assert_cmpint (sc_noise_hs_remote_static (hs, rs), ==, SC_OK);
          g_assert_cmpmem (rs, sizeof rs, f.server_pub, sizeof rs);
        }
      else
        g_assert_cmpint (rc, ==, SC_ERR_DECRYPT);
      sc_noise_hs_free (hs);
      fixture_free (&f);
    }
}

static void
test_seal_open (void)
{
  Fixture f;
  guint8 frame[64], pt[64];
  gsize len, plen;

  fixture_new (&f);
  handshake (&f);
  /* The client speaks first (login), then both directions interleave. */
  for (int i = 0; i < 20; i++)
    {
      roundtrip (f.client, f.server, "{\"type\":\"ping\"}");
      roundtrip (f.server, f.client, "{\"type\":\"pong\"}");
      if (i % 3 == 0)
        roundtrip (f.client, f.server, "{\"type\":\"who\"}");
    }
  /* An empty plaintext is a bare tag. */
  g_assert_cmpint (
      sc_channel_seal (f.server, NULL, 0, frame, sizeof frame, &len), ==,
      SC_OK);
  g_assert_cmpuint (check_frame (frame, len), ==, 16);
  g_assert_cmpint (
      sc_channel_open (f.client, frame + 2, len - 2, NULL, 0, &plen), ==,
      SC_OK);
  g_assert_cmpuint (plen, ==, 0);
  /* The two directions use different keys: a client frame does not open at
   * the client. */
  g_assert_cmpint (sc_channel_seal (f.client, (const guint8 *) "abc", 3, frame,
                                    sizeof frame, &len),
                   ==, SC_OK);
  g_assert_cmpint (
      sc_channel_open (f.client, frame + 2, len - 2, pt, sizeof pt, &plen), ==,
      SC_ERR_DECRYPT);
  assert_dead (f.client);
  fixture_free (&f);
}

static void
test_limits (void)
{
  Fixture f;
  g_autofree guint8 *big = g_malloc0 (SC_CHANNEL_MAX_PLAINTEXT + 1);
  g_autofree guint8 *frame = g_malloc (FRAME_CAP + 1);
  g_autofree guint8 *pt = g_malloc (SC_CHANNEL_MAX_PLAINTEXT + 1);
  gsize len, plen;

  fixture_new (&f);
  handshake (&f);
  /* One byte too many is refused, and the channel stays usable. */
  g_assert_cmpint (sc_channel_seal (f.client, big, SC_CHANNEL_MAX_PLAINTEXT + 1,
                                    frame, FRAME_CAP + 1, &len),
                   ==, SC_ERR_TOO_LARGE);
  g_assert_cmpuint (len, ==, 0);
  /* So is a buffer too small. */
  g_assert_cmpint (sc_channel_seal (f.client, big, 100, frame, 117, &len), ==,
                   SC_ERR_BUFFER);
  g_assert_true (sc_channel_established (f.client));
  /* The largest frame: 65535 bytes of body. */
  memset (big, 'a', SC_CHANNEL_MAX_PLAINTEXT);
  g_assert_cmpint (sc_channel_seal (f.client, big, SC_CHANNEL_MAX_PLAINTEXT,
                                    frame, FRAME_CAP, &len),
                   ==, SC_OK);
  g_assert_cmpuint (len, ==, FRAME_CAP);
  g_assert_cmpuint (check_frame (frame, len), ==, SC_FRAME_MAX);
  g_assert_cmpint (sc_channel_open (f.server, frame + 2, len - 2, pt,
                                    SC_CHANNEL_MAX_PLAINTEXT, &plen),
                   ==, SC_OK);
  g_assert_cmpmem (pt, plen, big, SC_CHANNEL_MAX_PLAINTEXT);
  roundtrip (f.client, f.server, "after the big one");
  /* A body over 65535 bytes is refused on open, and kills the channel. */
  g_assert_cmpint (sc_channel_open (f.server, frame, SC_FRAME_MAX + 1, pt,
                                    SC_CHANNEL_MAX_PLAINTEXT + 1, &plen),
                   ==, SC_ERR_TOO_LARGE);
  assert_dead (f.server);
  fixture_free (&f);

  /* Shorter than a tag. */
  fixture_new (&f);
  handshake (&f);
  g_assert_cmpint (sc_channel_open (f.server, frame, 15, pt, 100, &plen), ==,
                   SC_ERR_TRUNCATED);
  assert_dead (f.server);
  fixture_free (&f);

  /* A plaintext buffer too small. */
  fixture_new (&f);
  handshake (&f);
  g_assert_cmpint (sc_channel_seal (f.client, big, 10, frame, FRAME_CAP, &len),
                   ==, SC_OK);
  g_assert_cmpint (sc_channel_open (f.server, frame + 2, len - 2, pt, 9, &plen),
                   ==, SC_ERR_BUFFER);
  assert_dead (f.server);
  fixture_free (&f);
}

static void
test_replay_reorder_tamper (void)
{
  Fixture f;
  guint8 a[64], b[64], pt[64];
  gsize alen, blen, plen;

  /* Replay. */
  fixture_new (&f);
  handshake (&f);
  g_assert_cmpint (
      sc_channel_seal (f.client, (const guint8 *) "one", 3, a, sizeof a, &alen),
      ==, SC_OK);
  g_assert_cmpint (
      sc_channel_open (f.server, a + 2, alen - 2, pt, sizeof pt, &plen), ==,
      SC_OK);
  g_assert_cmpint (
      sc_channel_open (f.server, a + 2, alen - 2, pt, sizeof pt, &plen), ==,
      SC_ERR_DECRYPT);
  g_assert_cmpuint (plen, ==, 0);
  assert_dead (f.server);
  /* The other side is unaffected by the receiver's failure. */
  g_assert_true (sc_channel_established (f.client));
  fixture_free (&f);

  /* Reorder. */
  fixture_new (&f);
  handshake (&f);
  g_assert_cmpint (
      sc_channel_seal (f.client, (const guint8 *) "one", 3, a, sizeof a, &alen),
      ==, SC_OK);
  g_assert_cmpint (
      sc_channel_seal (f.client, (const guint8 *) "two", 3, b, sizeof b, &blen),
      ==, SC_OK);
  memset (pt, 0xa5, sizeof pt);
  g_assert_cmpint (
      sc_channel_open (f.server, b + 2, blen - 2, pt, sizeof pt, &plen), ==,
      SC_ERR_DECRYPT);
  g_assert_cmpmem (pt, 3, "\0\0\0", 3);
  assert_dead (f.server);
  /* Dead for good: even the right frame is refused now. */
  g_assert_cmpint (
      sc_channel_open (f.server, a + 2, alen - 2, pt, sizeof pt, &plen), ==,
      SC_ERR_STATE);
  fixture_free (&f);

  /* Every bit of a frame. */
  for (gsize i = 0; i < 3 + 16; i++)
    for (guint bit = 0; bit < 8; bit += 3)
      {
        fixture_new (&f);
        handshake (&f);
        g_assert_cmpint (sc_channel_seal (f.server, (const guint8 *) "one", 3,
                                          a, sizeof a, &alen),
                         ==, SC_OK);
        a[2 + i] ^= (guint8) (1u << bit);
        g_assert_cmpint (
            sc_channel_open (f.client, a + 2, alen - 2, pt, sizeof pt, &plen),
            ==, SC_ERR_DECRYPT);
        assert_dead (f.client);
        fixture_free (&f);
      }
}

static void
test_handshake_failures (void)
{
  Fixture f;
  g_autofree guint8 *frame = g_malloc (FRAME_CAP);
  guint8 payload[256], priv[SC_X25519_LEN] = { 7 };
  gsize len, plen;
  struct sc_channel *ch = (struct sc_channel *) 1;

  /* Keys: the responder needs one, the initiator must not have one. */
  g_assert_cmpint (sc_channel_new (SC_NOISE_RESPONDER, NULL, &ch), ==,
                   SC_ERR_INVALID);
  g_assert_null (ch);
  g_assert_cmpint (sc_channel_new (SC_NOISE_INITIATOR, priv, &ch), ==,
                   SC_ERR_INVALID);
  g_assert_null (ch);
  sc_channel_free (NULL);

  /* Out of turn: the server cannot speak first. */
  fixture_new (&f);
  g_assert_cmpint (
      sc_channel_write_handshake (f.server, NULL, 0, frame, FRAME_CAP, &len),
      ==, SC_ERR_STATE);
  g_assert_cmpint (sc_channel_action (f.server), ==, SC_NOISE_ACTION_FAILED);
  fixture_free (&f);

  /* Transport before the handshake. */
  fixture_new (&f);
  g_assert_cmpint (sc_channel_seal (f.client, (const guint8 *) "x", 1, frame,
                                    FRAME_CAP, &len),
                   ==, SC_ERR_STATE);
  g_assert_cmpint (
      sc_channel_open (f.server, frame, 17, payload, sizeof payload, &plen), ==,
      SC_ERR_STATE);
  g_assert_cmpint (sc_channel_action (f.server), ==, SC_NOISE_ACTION_FAILED);
  fixture_free (&f);

  /* A tampered message 2 fails the client. */
  fixture_new (&f);
  g_assert_cmpint (
      sc_channel_write_handshake (f.client, NULL, 0, frame, FRAME_CAP, &len),
      ==, SC_OK);
  g_assert_cmpint (sc_channel_read_handshake (f.server, frame + 2, len - 2,
                                              payload, sizeof payload, &plen),
                   ==, SC_OK);
  g_assert_cmpint (
      sc_channel_write_handshake (f.server, NULL, 0, frame, FRAME_CAP, &len),
      ==, SC_OK);
  frame[len - 1] ^= 1;
  g_assert_cmpint (sc_channel_read_handshake (f.client, frame + 2, len - 2,
                                              payload, sizeof payload, &plen),
                   ==, SC_ERR_DECRYPT);
  assert_dead (f.client);
  g_assert_cmpint (sc_channel_read_handshake (f.client, frame + 2, len - 2,
                                              payload, sizeof payload, &plen),
                   ==, SC_ERR_STATE);
  fixture_free (&f);

  /* A message 2 for another server key is still a valid handshake: the
   * channel reports the key, and pinning is the caller's check. */
  fixture_new (&f);
  {
    struct sc_channel *other = NULL;
    guint8 other_priv[SC_X25519_LEN], other_pub[SC_X25519_LEN];
    guint8 rs[SC_X25519_LEN];

    g_assert_cmpint (sc_x25519_keypair (other_priv, other_pub), ==, SC_OK);
    g_assert_cmpint (sc_channel_new (SC_NOISE_RESPONDER, other_priv, &other),
                     ==, SC_OK);
    g_assert_cmpint (
        sc_channel_write_handshake (f.client, NULL, 0, frame, FRAME_CAP, &len),
        ==, SC_OK);
    g_assert_cmpint (sc_channel_read_handshake (other, frame + 2, len - 2,
                                                payload, sizeof payload, &plen),
                     ==, SC_OK);
    g_assert_cmpint (
        sc_channel_write_handshake (other, NULL, 0, frame, FRAME_CAP, &len), ==,
        SC_OK);
    g_assert_cmpint (sc_channel_read_handshake (f.client, frame + 2, len - 2,
                                                payload, sizeof payload, &plen),
                     ==, SC_OK);
    g_assert_cmpint (sc_channel_remote_static (f.client, rs), ==, SC_OK);
    g_assert_cmpmem (rs, sizeof rs, other_pub, sizeof other_pub);
    g_assert_false (sc_memeq (rs, f.server_pub, sizeof rs));
    sc_channel_free (other);
    sc_wipe (other_priv, sizeof other_priv);
  }
  fixture_free (&f);
}

/* Seals on from and opens the body with the raw receiving cipher of to,
 * bypassing the channel's rekey rule: SC_OK when no rekey happened. */
static int
raw_open (struct sc_channel *from,
          struct sc_channel *to,
          const char *text,
          guint8 *frame,
          gsize *len)
{
  guint8 pt[128];

  g_assert_cmpint (sc_channel_seal (from, (const guint8 *) text, strlen (text),
                                    frame, 128, len),
                   ==, SC_OK);
  return sc_noise_cipher_decrypt (sc_channel_testing_recv_cipher (to), NULL, 0,
                                  frame + 2, *len - 2, pt);
}

static void
test_rekey_interval (void)
{
  const guint64 interval = SC_CHANNEL_REKEY_INTERVAL;
  Fixture f;
  guint8 frame[128], pt[128];
  gsize len, plen;

  g_assert_cmpuint (interval, ==, 1u << 20);
  fixture_new (&f);
  handshake (&f);
  for (int dir = 0; dir < 2; dir++)
    {
      struct sc_channel *from = dir == 0 ? f.client : f.server;
      struct sc_channel *to = dir == 0 ? f.server : f.client;

      /* Nonce 0 (the first message) is not a rekey point. */
      g_assert_cmpint (raw_open (from, to, "first", frame, &len), ==, SC_OK);
      /* Nor is interval - 1. */
      sc_noise_cipher_set_nonce (sc_channel_testing_send_cipher (from),
                                 interval - 1);
      sc_noise_cipher_set_nonce (sc_channel_testing_recv_cipher (to),
                                 interval - 1);
      g_assert_cmpint (raw_open (from, to, "no rekey", frame, &len), ==, SC_OK);
      g_assert_cmpuint (
          sc_noise_cipher_nonce (sc_channel_testing_send_cipher (from)), ==,
          interval);
      /* At the interval the sender rekeys: the old key no longer opens the
       * frame (and the failed raw attempt changes nothing)... */
      g_assert_cmpint (raw_open (from, to, "rekeyed", frame, &len), ==,
                       SC_ERR_DECRYPT);
      g_assert_cmpuint (
          sc_noise_cipher_nonce (sc_channel_testing_recv_cipher (to)), ==,
          interval);
      /* ...but the receiving channel rekeys too, and opens it. */
      g_assert_cmpint (
          sc_channel_open (to, frame + 2, len - 2, pt, sizeof pt, &plen), ==,
          SC_OK);
      g_assert_cmpmem (pt, plen, "rekeyed", 7);
      /* interval + 1: no further rekey. */
      g_assert_cmpint (raw_open (from, to, "after", frame, &len), ==, SC_OK);
      roundtrip (from, to, "in sync");
      /* Every later multiple rekeys on both sides. */
      for (guint64 k = 2; k <= 4; k++)
        {
          sc_noise_cipher_set_nonce (sc_channel_testing_send_cipher (from),
                                     k * interval);
          sc_noise_cipher_set_nonce (sc_channel_testing_recv_cipher (to),
                                     k * interval);
          roundtrip (from, to, "multiple");
          roundtrip (from, to, "multiple + 1");
        }
    }
  /* Far out: the last multiple of 2^20 below 2^64. */
  sc_noise_cipher_set_nonce (sc_channel_testing_send_cipher (f.client),
                             UINT64_MAX - interval + 1);
  sc_noise_cipher_set_nonce (sc_channel_testing_recv_cipher (f.server),
                             UINT64_MAX - interval + 1);
  roundtrip (f.client, f.server, "high");
  fixture_free (&f);
}

/* A shed channel keeps its keys and nonces: frames go on flowing both
 * ways, across a rekey too, whichever side shed its contexts and when. */
static void
test_shed (void)
{
  const guint64 interval = SC_CHANNEL_REKEY_INTERVAL;
  Fixture f;

  fixture_new (&f);
  sc_channel_shed (NULL);
  sc_channel_shed (f.server); /* before the handshake: nothing to shed */
  handshake (&f);
  for (int i = 0; i < 12; i++)
    {
      if (i % 2 == 0)
        sc_channel_shed (f.server);
      if (i % 3 == 0)
        sc_channel_shed (f.client);
      roundtrip (f.client, f.server, "{\"type\":\"ping\"}");
      roundtrip (f.server, f.client, "{\"type\":\"pong\"}");
    }
  /* Shed just before a rekey point, and again between the rekey and the
   * next frame: the new key is what the next context is keyed with. */
  sc_noise_cipher_set_nonce (sc_channel_testing_send_cipher (f.server),
                             interval - 1);
  sc_noise_cipher_set_nonce (sc_channel_testing_recv_cipher (f.client),
                             interval - 1);
  sc_channel_shed (f.server);
  sc_channel_shed (f.client);
  roundtrip (f.server, f.client, "before");
  roundtrip (f.server, f.client, "rekeyed");
  sc_channel_shed (f.server);
  roundtrip (f.server, f.client, "after, sender shed");
  sc_channel_shed (f.client);
  roundtrip (f.server, f.client, "after, receiver shed");
  roundtrip (f.client, f.server, "the other way");
  fixture_free (&f);
}

static void
test_nonce_exhaustion (void)
{
  Fixture f;
  guint8 frame[128], pt[128];
  gsize len, plen;

  fixture_new (&f);
  handshake (&f);
  sc_noise_cipher_set_nonce (sc_channel_testing_send_cipher (f.client),
                             UINT64_MAX - 1);
  sc_noise_cipher_set_nonce (sc_channel_testing_recv_cipher (f.server),
                             UINT64_MAX - 1);
  roundtrip (f.client, f.server, "the last one");
  g_assert_cmpint (sc_channel_seal (f.client, (const guint8 *) "x", 1, frame,
                                    sizeof frame, &len),
                   ==, SC_ERR_NONCE_EXHAUSTED);
  g_assert_cmpuint (len, ==, 0);
  assert_dead (f.client);
  g_assert_cmpint (
      sc_channel_open (f.server, frame + 2, 17, pt, sizeof pt, &plen), ==,
      SC_ERR_NONCE_EXHAUSTED);
  assert_dead (f.server);
  fixture_free (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/channel/handshake", test_handshake);
  g_test_add_func ("/common/channel/handshake/interop-noise",
                   test_interop_noise);
  g_test_add_func ("/common/channel/handshake/failures",
                   test_handshake_failures);
  g_test_add_func ("/common/channel/seal-open", test_seal_open);
  g_test_add_func ("/common/channel/limits", test_limits);
  g_test_add_func ("/common/channel/replay-reorder-tamper",
                   test_replay_reorder_tamper);
  g_test_add_func ("/common/channel/rekey-interval", test_rekey_interval);
  g_test_add_func ("/common/channel/nonce-exhaustion", test_nonce_exhaustion);
  g_test_add_func ("/common/channel/shed", test_shed);
  return g_test_run ();
}
