/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Noise code against the published test vectors (cacophony, snow,
 * noise-c): every entry for a fundamental pattern over 25519, AESGCM or
 * ChaChaPoly and SHA256/SHA512/BLAKE2s/BLAKE2b without PSK runs as both
 * initiator and responder with the vector's fixed ephemeral keys; every
 * handshake and transport ciphertext must be byte-equal to the vector. A
 * second pass flips one bit in each handshake message and requires the
 * handshake to fail. */
#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/noise-testing.h"
#include "securechat/noise.h"
#include "vectors.h"

#define MAX_MSG SC_NOISE_MAX_MESSAGE

static const char *const fundamental[] = {
  "N",  "K",  "X",  "NN", "NK", "NX", "XN", "XK",
  "XX", "KN", "KK", "KX", "IN", "IK", "IX",
};

/* Patterns whose first message has no DH token: its payload travels in
 * clear, so tampering with it can only be detected by the peer at the next
 * message. */
static const char *const first_unkeyed[] = {
  "NN", "NX", "XN", "XX", "KN", "KX", "IN", "IX",
};

static gboolean
in_list (const char *s, gsize len, const char *const *list, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (strlen (list[i]) == len && memcmp (list[i], s, len) == 0)
      return TRUE;
  return FALSE;
}

typedef struct
{
  char pattern[16];
  gboolean one_way;
  gboolean first_unkeyed;
  unsigned n_handshake;
} ProtoInfo;

/* Whether name is one we implement; fills info. */
static gboolean
select_name (const char *name, ProtoInfo *info)
{
  g_auto (GStrv) parts = g_strsplit (name, "_", -1);

  if (g_strv_length (parts) != 5 || strcmp (parts[0], "Noise") != 0)
    return FALSE;
  if (!in_list (parts[1], strlen (parts[1]), fundamental,
                G_N_ELEMENTS (fundamental)))
    return FALSE;
  if (strcmp (parts[2], "25519") != 0)
    return FALSE;
  if (strcmp (parts[3], "AESGCM") != 0 && strcmp (parts[3], "ChaChaPoly") != 0)
    return FALSE;
  if (strcmp (parts[4], "SHA256") != 0 && strcmp (parts[4], "SHA512") != 0 &&
      strcmp (parts[4], "BLAKE2s") != 0 && strcmp (parts[4], "BLAKE2b") != 0)
    return FALSE;
  g_strlcpy (info->pattern, parts[1], sizeof info->pattern);
  info->one_way = strlen (parts[1]) == 1;
  info->first_unkeyed = in_list (parts[1], strlen (parts[1]), first_unkeyed,
                                 G_N_ELEMENTS (first_unkeyed));
  if (info->one_way)
    info->n_handshake = 1;
  else if (parts[1][0] == 'X')
    info->n_handshake = 3;
  else
    info->n_handshake = 2;
  return TRUE;
}

static gboolean
has_psk (json_t *v)
{
  json_t *psks = json_object_get (v, "init_psks");

  if (json_is_array (psks) && json_array_size (psks) > 0)
    return TRUE;
  if (json_object_get (v, "init_psk") != NULL ||
      json_object_get (v, "resp_psk") != NULL)
    return TRUE;
  if (json_is_true (json_object_get (v, "fallback")) ||
      json_object_get (v, "hfs") != NULL)
    return TRUE;
  return FALSE;
}

static const char *
vector_name (json_t *v)
{
  json_t *n = json_object_get (v, "protocol_name");

  if (n == NULL)
    n = json_object_get (v, "name");
  g_assert_true (json_is_string (n));
  return json_string_value (n);
}

/* Decodes the hex string member key of obj; NULL when absent. */
static GBytes *
get_hex (json_t *obj, const char *key)
{
  json_t *j = json_object_get (obj, key);
  gsize len;
  guint8 *buf;

  if (j == NULL)
    return NULL;
  g_assert_true (json_is_string (j));
  buf = sc_test_unhex (json_string_value (j), &len);
  return g_bytes_new_take (buf, len);
}

static void
assert_bytes (const guint8 *got, gsize got_len, GBytes *want)
{
  gsize want_len;
  const guint8 *w = g_bytes_get_data (want, &want_len);

  g_assert_cmpmem (got, got_len, w, want_len);
}

static struct sc_noise_hs *
setup_side (json_t *v, const char *name, enum sc_noise_role role)
{
  const char *pre = role == SC_NOISE_INITIATOR ? "init_" : "resp_";
  g_autofree char *k_prologue = g_strconcat (pre, "prologue", NULL);
  g_autofree char *k_static = g_strconcat (pre, "static", NULL);
  g_autofree char *k_eph = g_strconcat (pre, "ephemeral", NULL);
  g_autofree char *k_rs = g_strconcat (pre, "remote_static", NULL);
  g_autoptr (GBytes) prologue = get_hex (v, k_prologue);
  g_autoptr (GBytes) s = get_hex (v, k_static);
  g_autoptr (GBytes) e = get_hex (v, k_eph);
  g_autoptr (GBytes) rs = get_hex (v, k_rs);
  struct sc_noise_hs *hs = NULL;
  gsize len = 0;
  const guint8 *p = prologue ? g_bytes_get_data (prologue, &len) : NULL;

  g_assert_cmpint (sc_noise_hs_new (name, role, p, len, &hs), ==, SC_OK);
  g_assert_nonnull (hs);
  if (s != NULL)
    {
      g_assert_cmpuint (g_bytes_get_size (s), ==, SC_X25519_LEN);
      g_assert_cmpint (sc_noise_hs_set_static (hs, g_bytes_get_data (s, NULL)),
                       ==, SC_OK);
    }
  if (rs != NULL)
    {
      g_assert_cmpuint (g_bytes_get_size (rs), ==, SC_X25519_LEN);
      g_assert_cmpint (
          sc_noise_hs_set_remote_static (hs, g_bytes_get_data (rs, NULL)), ==,
          SC_OK);
    }
  if (e != NULL)
    {
      g_assert_cmpuint (g_bytes_get_size (e), ==, SC_X25519_LEN);
      g_assert_cmpint (
          sc_noise_hs_set_fixed_ephemeral (hs, g_bytes_get_data (e, NULL)), ==,
          SC_OK);
    }
  g_assert_cmpint (sc_noise_hs_start (hs), ==, SC_OK);
  return hs;
}

/* Runs vector v. With flip < 0 the whole vector runs and the number of
 * handshake messages is returned; otherwise the handshake runs up to
 * message flip, which is delivered with bit (bit_seed % 8) of byte
 * (byte_seed % len) flipped, and the handshake must fail. */
static unsigned
run_vector (json_t *v,
            const char *name,
            const ProtoInfo *info,
            int flip,
            guint byte_seed,
            guint bit_seed)
{
  struct sc_noise_hs *init = setup_side (v, name, SC_NOISE_INITIATOR);
  struct sc_noise_hs *resp = setup_side (v, name, SC_NOISE_RESPONDER);
  json_t *msgs = json_object_get (v, "messages");
  struct sc_noise_cipher *i_send = NULL, *i_recv = NULL;
  struct sc_noise_cipher *r_send = NULL, *r_recv = NULL;
  g_autofree guint8 *buf = g_malloc (MAX_MSG);
  g_autofree guint8 *pt = g_malloc (MAX_MSG);
  guint8 h_i[SC_NOISE_MAX_HASH_LEN], h_r[SC_NOISE_MAX_HASH_LEN];
  gsize len, plen, hl_i, hl_r;
  unsigned n_hs = 0;
  gsize i;

  g_assert_true (json_is_array (msgs));
  for (i = 0; i < json_array_size (msgs); i++)
    {
      json_t *m = json_array_get (msgs, i);
      g_autoptr (GBytes) payload = get_hex (m, "payload");
      g_autoptr (GBytes) ct = get_hex (m, "ciphertext");
      struct sc_noise_hs *w = i % 2 == 0 ? init : resp;
      struct sc_noise_hs *r = i % 2 == 0 ? resp : init;
      int rc;

      g_assert_nonnull (payload);
      g_assert_nonnull (ct);
      if (sc_noise_hs_action (init) == SC_NOISE_ACTION_SPLIT)
        break;
      g_assert_cmpint (sc_noise_hs_action (w), ==, SC_NOISE_ACTION_WRITE);
      g_assert_cmpint (sc_noise_hs_action (r), ==, SC_NOISE_ACTION_READ);
      g_assert_cmpint (sc_noise_hs_write_message (
                           w, g_bytes_get_data (payload, NULL),
                           g_bytes_get_size (payload), buf, MAX_MSG, &len),
                       ==, SC_OK);
      assert_bytes (buf, len, ct);
      n_hs++;

      if ((int) i == flip)
        {
          buf[byte_seed % len] ^= (guint8) (1u << (bit_seed % 8));
          rc = sc_noise_hs_read_message (r, buf, len, pt, MAX_MSG, &plen);
          if (rc == SC_OK)
            {
              /* Only a first message without any DH can pass; then the
               * peer's answer must fail at the original sender. */
              json_t *m2 = json_array_get (msgs, i + 1);
              g_autoptr (GBytes) p2 = get_hex (m2, "payload");

              g_assert_cmpint (i, ==, 0);
              g_assert_true (info->first_unkeyed);
              g_assert_nonnull (p2);
              g_assert_cmpint (sc_noise_hs_write_message (
                                   r, g_bytes_get_data (p2, NULL),
                                   g_bytes_get_size (p2), buf, MAX_MSG, &len),
                               ==, SC_OK);
              rc = sc_noise_hs_read_message (w, buf, len, pt, MAX_MSG, &plen);
              g_assert_cmpint (rc, !=, SC_OK);
              g_assert_cmpint (sc_noise_hs_action (w), ==,
                               SC_NOISE_ACTION_FAILED);
              g_assert_cmpint (
                  sc_noise_hs_read_message (w, buf, len, pt, MAX_MSG, &plen),
                  ==, SC_ERR_STATE);
            }
          else
            {
              g_assert_false (i == 0 && info->first_unkeyed);
              g_assert_cmpint (sc_noise_hs_action (r), ==,
                               SC_NOISE_ACTION_FAILED);
              g_assert_cmpuint (plen, ==, 0);
              g_assert_cmpint (
                  sc_noise_hs_read_message (r, buf, len, pt, MAX_MSG, &plen),
                  ==, SC_ERR_STATE);
            }
          sc_noise_hs_free (init);
          sc_noise_hs_free (resp);
          return n_hs;
        }

      g_assert_cmpint (
          sc_noise_hs_read_message (r, buf, len, pt, MAX_MSG, &plen), ==,
          SC_OK);
      assert_bytes (pt, plen, payload);
    }
  g_assert_cmpint (flip, <, 0);
  g_assert_cmpuint (n_hs, ==, info->n_handshake);
  g_assert_cmpint (sc_noise_hs_action (init), ==, SC_NOISE_ACTION_SPLIT);
  g_assert_cmpint (sc_noise_hs_action (resp), ==, SC_NOISE_ACTION_SPLIT);

  g_assert_cmpint (sc_noise_hs_handshake_hash (init, h_i, sizeof h_i, &hl_i),
                   ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_handshake_hash (resp, h_r, sizeof h_r, &hl_r),
                   ==, SC_OK);
  g_assert_cmpmem (h_i, hl_i, h_r, hl_r);
  {
    g_autoptr (GBytes) hh = get_hex (v, "handshake_hash");
    if (hh != NULL)
      assert_bytes (h_i, hl_i, hh);
  }

  g_assert_cmpint (sc_noise_hs_split (init, &i_send, &i_recv), ==, SC_OK);
  g_assert_cmpint (sc_noise_hs_split (resp, &r_send, &r_recv), ==, SC_OK);
  g_assert_nonnull (i_send);
  g_assert_nonnull (r_recv);
  if (info->one_way)
    {
      g_assert_null (i_recv);
      g_assert_null (r_send);
    }
  else
    {
      g_assert_nonnull (i_recv);
      g_assert_nonnull (r_send);
    }
  /* The hash and the remote key survive Split(). */
  g_assert_cmpint (sc_noise_hs_handshake_hash (init, h_i, sizeof h_i, &hl_i),
                   ==, SC_OK);
  g_assert_cmpmem (h_i, hl_i, h_r, hl_r);

  for (; i < json_array_size (msgs); i++)
    {
      json_t *m = json_array_get (msgs, i);
      g_autoptr (GBytes) payload = get_hex (m, "payload");
      g_autoptr (GBytes) ct = get_hex (m, "ciphertext");
      gboolean from_init = info->one_way || i % 2 == 0;
      struct sc_noise_cipher *s = from_init ? i_send : r_send;
      struct sc_noise_cipher *r = from_init ? r_recv : i_recv;
      gsize pl;

      g_assert_nonnull (payload);
      g_assert_nonnull (ct);
      pl = g_bytes_get_size (payload);
      g_assert_cmpint (
          sc_noise_cipher_encrypt (s, NULL, 0, g_bytes_get_data (payload, NULL),
                                   pl, buf),
          ==, SC_OK);
      assert_bytes (buf, pl + SC_NOISE_TAG_LEN, ct);
      g_assert_cmpint (
          sc_noise_cipher_decrypt (r, NULL, 0, buf, pl + SC_NOISE_TAG_LEN, pt),
          ==, SC_OK);
      assert_bytes (pt, pl, payload);
    }

  sc_noise_cipher_free (i_send);
  sc_noise_cipher_free (i_recv);
  sc_noise_cipher_free (r_send);
  sc_noise_cipher_free (r_recv);
  sc_noise_hs_free (init);
  sc_noise_hs_free (resp);
  return n_hs;
}

typedef struct
{
  const char *path;  /* gtest path */
  const char *file;  /* under $SC_VECTORS_DIR/noise */
  unsigned expected; /* entries we implement in that file */
  gboolean bitflip;  /* the second pass */
} VectorFile;

static void
test_vector_file (gconstpointer data)
{
  const VectorFile *vf = data;
  json_t *root = sc_test_load_vectors ("noise", vf->file);
  json_t *vectors = json_object_get (root, "vectors");
  unsigned run = 0, flips = 0, transport = 0;
  gboolean seen_nx = FALSE, seen_xx = FALSE;

  g_assert_true (json_is_array (vectors));
  for (gsize idx = 0; idx < json_array_size (vectors); idx++)
    {
      json_t *v = json_array_get (vectors, idx);
      const char *name = vector_name (v);
      ProtoInfo info;
      unsigned n_hs;

      if (!select_name (name, &info) || has_psk (v))
        continue;
      n_hs = vf->bitflip ? info.n_handshake
                         : run_vector (v, name, &info, -1, 0, 0);
      transport +=
          (unsigned) json_array_size (json_object_get (v, "messages")) - n_hs;
      run++;
      if (strcmp (name, "Noise_NX_25519_AESGCM_SHA256") == 0)
        seen_nx = TRUE;
      if (strcmp (name, "Noise_XX_25519_AESGCM_SHA256") == 0)
        seen_xx = TRUE;
      if (!vf->bitflip)
        continue;
      for (unsigned m = 0; m < n_hs; m++)
        {
          /* Spread the flipped bit over keys, payloads and tags. */
          run_vector (v, name, &info, (int) m, (guint) (idx * 31 + m * 17),
                      (guint) (idx + 3 * m));
          flips++;
        }
    }
  if (vf->bitflip)
    g_test_message ("%s: %u vectors, %u bit-flipped handshake messages "
                    "rejected",
                    vf->file, run, flips);
  else
    g_test_message ("%s: %u vectors run (%u transport messages)", vf->file, run,
                    transport);
  g_assert_cmpuint (run, ==, vf->expected);
  g_assert_true (seen_nx);
  g_assert_true (seen_xx);
  json_decref (root);
}

/* 15 fundamental patterns x {AESGCM, ChaChaPoly} x 4 hashes = 120 in each
 * file (the 448, PSK, deferred and old NoisePSK_ entries are skipped). */
static const VectorFile files[] = {
  { "/common/noise/vectors/cacophony", "cacophony/cacophony.txt", 120, FALSE },
  { "/common/noise/vectors/snow", "snow/snow.txt", 120, FALSE },
  { "/common/noise/vectors/noise-c-basic", "noise-c/noise-c-basic.txt", 120,
    FALSE },
  { "/common/noise/vectors/noise-c-cacophony", "noise-c/cacophony.txt", 120,
    FALSE },
  { "/common/noise/vectors/cacophony/bitflip", "cacophony/cacophony.txt", 120,
    TRUE },
  { "/common/noise/vectors/snow/bitflip", "snow/snow.txt", 120, TRUE },
  { "/common/noise/vectors/noise-c-basic/bitflip", "noise-c/noise-c-basic.txt",
    120, TRUE },
  { "/common/noise/vectors/noise-c-cacophony/bitflip", "noise-c/cacophony.txt",
    120, TRUE },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    g_test_add_data_func (files[i].path, &files[i], test_vector_file);
  return g_test_run ();
}
