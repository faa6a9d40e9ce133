/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Frame header encoding and the stream splitter of frame.h. */
#include <glib.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/frame.h"

static void
test_header_roundtrip (void)
{
  static const size_t lens[] = { 1, 2, 255, 256, 257, 4096, 65534, 65535 };
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (lens); i++)
    {
      uint8_t hdr[SC_FRAME_HEADER_LEN];
      size_t n = 0;

      g_assert_cmpint (sc_frame_header_write (lens[i], hdr), ==, SC_OK);
      g_assert_cmpuint (hdr[0], ==, lens[i] >> 8);
      g_assert_cmpuint (hdr[1], ==, lens[i] & 0xff);
      g_assert_cmpint (sc_frame_header_parse (hdr, SC_FRAME_MAX, &n), ==,
                       SC_OK);
      g_assert_cmpuint (n, ==, lens[i]);
    }
}

static void
test_header_big_endian (void)
{
  const uint8_t hdr[2] = { 0x12, 0x34 };
  uint8_t out[2];
  size_t n = 0;

  g_assert_cmpint (sc_frame_header_parse (hdr, SC_FRAME_MAX, &n), ==, SC_OK);
  g_assert_cmpuint (n, ==, 0x1234);
  g_assert_cmpint (sc_frame_header_write (0x1234, out), ==, SC_OK);
  g_assert_cmpmem (out, 2, hdr, 2);
}

static void
test_header_zero (void)
{
  const uint8_t hdr[2] = { 0, 0 };
  uint8_t out[2] = { 0xaa, 0xaa };
  size_t n = 99;

  g_assert_cmpint (sc_frame_header_parse (hdr, SC_FRAME_MAX, &n), ==,
                   SC_ERR_PROTOCOL);
  g_assert_cmpuint (n, ==, 0);
  g_assert_cmpint (sc_frame_header_write (0, out), ==, SC_ERR_INVALID);
}

static void
test_header_over_limit (void)
{
  uint8_t hdr[2];
  size_t n = 99;

  /* Exactly at the limit is accepted, one more is not. */
  g_assert_cmpint (sc_frame_header_write (1000, hdr), ==, SC_OK);
  g_assert_cmpint (sc_frame_header_parse (hdr, 1000, &n), ==, SC_OK);
  g_assert_cmpuint (n, ==, 1000);
  g_assert_cmpint (sc_frame_header_write (1001, hdr), ==, SC_OK);
  g_assert_cmpint (sc_frame_header_parse (hdr, 1000, &n), ==, SC_ERR_TOO_LARGE);
  g_assert_cmpuint (n, ==, 0);

  g_assert_cmpint (sc_frame_header_write (65535, hdr), ==, SC_OK);
  g_assert_cmpint (sc_frame_header_parse (hdr, 65534, &n), ==,
                   SC_ERR_TOO_LARGE);
  g_assert_cmpint (sc_frame_header_parse (hdr, 64, &n), ==, SC_ERR_TOO_LARGE);

  g_assert_cmpint (sc_frame_header_write (65536, hdr), ==, SC_ERR_TOO_LARGE);
  g_assert_cmpint (sc_frame_header_write ((size_t) -1, hdr), ==,
                   SC_ERR_TOO_LARGE);
}

static void
test_header_bad_args (void)
{
  const uint8_t hdr[2] = { 0, 1 };
  size_t n = 0;

  g_assert_cmpint (sc_frame_header_parse (NULL, SC_FRAME_MAX, &n), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_frame_header_parse (hdr, SC_FRAME_MAX, NULL), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_frame_header_parse (hdr, SC_FRAME_MAX + 1, &n), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_frame_header_write (1, NULL), ==, SC_ERR_INVALID);
}

/* Builds one frame with a body of len bytes of a pattern. */
static GByteArray *
make_frame (size_t len, uint8_t seed)
{
  GByteArray *a = g_byte_array_new ();
  uint8_t hdr[SC_FRAME_HEADER_LEN];
  size_t i;

  g_assert_cmpint (sc_frame_header_write (len, hdr), ==, SC_OK);
  g_byte_array_append (a, hdr, sizeof hdr);
  for (i = 0; i < len; i++)
    {
      uint8_t b = (uint8_t) (seed + i * 7);
      g_byte_array_append (a, &b, 1);
    }
  return a;
}

/* Feeds the stream to sc_frame_next one prefix at a time, copying each
 * prefix into an exactly-sized heap buffer so that ASan catches any read
 * past len. */
static void
test_next_every_split (void)
{
  GByteArray *stream = make_frame (300, 1);
  GByteArray *second = make_frame (5, 9);
  size_t first_len = stream->len, cut;

  g_byte_array_append (stream, second->data, second->len);

  for (cut = 0; cut <= stream->len; cut++)
    {
      uint8_t *copy = g_memdup2 (stream->data, cut);
      const uint8_t *body = (const uint8_t *) "x";
      size_t body_len = 99;
      long n = sc_frame_next (copy, cut, SC_FRAME_MAX, &body, &body_len);

      if (cut < first_len)
        {
          g_assert_cmpint (n, ==, 0);
          g_assert_null (body);
          g_assert_cmpuint (body_len, ==, 0);
        }
      else
        {
          g_assert_cmpint (n, ==, (long) first_len);
          g_assert_true (body == copy + SC_FRAME_HEADER_LEN);
          g_assert_cmpuint (body_len, ==, 300);
          g_assert_cmpmem (body, body_len, stream->data + SC_FRAME_HEADER_LEN,
                           300);

          /* The rest of the buffer is the second frame, possibly cut. */
          n = sc_frame_next (copy + first_len, cut - first_len, SC_FRAME_MAX,
                             &body, &body_len);
          if (cut < stream->len)
            g_assert_cmpint (n, ==, 0);
          else
            {
              g_assert_cmpint (n, ==, (long) second->len);
              g_assert_cmpmem (body, body_len,
                               second->data + SC_FRAME_HEADER_LEN, 5);
            }
        }
      g_free (copy);
    }
  g_byte_array_unref (second);
  g_byte_array_unref (stream);
}

static void
test_next_zero_length (void)
{
  const uint8_t buf[] = { 0, 0, 'a', 'b' };
  const uint8_t *body;
  size_t body_len;

  g_assert_cmpint (
      sc_frame_next (buf, sizeof buf, SC_FRAME_MAX, &body, &body_len), ==,
      SC_ERR_PROTOCOL);
  g_assert_null (body);
  /* Rejected as soon as the header is complete, without the body. */
  g_assert_cmpint (sc_frame_next (buf, 2, SC_FRAME_MAX, &body, &body_len), ==,
                   SC_ERR_PROTOCOL);
  /* An empty or one-byte buffer is simply incomplete. */
  g_assert_cmpint (sc_frame_next (buf, 1, SC_FRAME_MAX, &body, &body_len), ==,
                   0);
  g_assert_cmpint (sc_frame_next (NULL, 0, SC_FRAME_MAX, &body, &body_len), ==,
                   0);
}

static void
test_next_over_limit (void)
{
  /* Only the header is present: the limit is enforced before the body
   * arrives, so the receiver never waits for or buffers it. */
  const uint8_t big[] = { 0xff, 0xff };
  const uint8_t just_over[] = { 0x01, 0x01 }; /* 257 */
  const uint8_t *body;
  size_t body_len;

  g_assert_cmpint (sc_frame_next (big, sizeof big, 1024, &body, &body_len), ==,
                   SC_ERR_TOO_LARGE);
  g_assert_cmpint (
      sc_frame_next (just_over, sizeof just_over, 256, &body, &body_len), ==,
      SC_ERR_TOO_LARGE);
  g_assert_null (body);
  g_assert_cmpuint (body_len, ==, 0);
  /* At the limit the header is fine and more bytes are needed. */
  g_assert_cmpint (
      sc_frame_next (just_over, sizeof just_over, 257, &body, &body_len), ==,
      0);
}

static void
test_next_max_exact (void)
{
  GByteArray *f = make_frame (SC_FRAME_MAX, 3);
  uint8_t *copy = g_memdup2 (f->data, f->len);
  const uint8_t *body;
  size_t body_len;

  g_assert_cmpuint (f->len, ==, SC_FRAME_MAX + 2);
  g_assert_cmpint (sc_frame_next (copy, f->len, SC_FRAME_MAX, &body, &body_len),
                   ==, SC_FRAME_MAX + 2);
  g_assert_cmpuint (body_len, ==, SC_FRAME_MAX);
  g_assert_cmpmem (body, body_len, f->data + 2, SC_FRAME_MAX);
  /* One byte short. */
  g_assert_cmpint (
      sc_frame_next (copy, f->len - 1, SC_FRAME_MAX, &body, &body_len), ==, 0);
  g_free (copy);
  g_byte_array_unref (f);
}

static void
test_next_trailing (void)
{
  /* A complete frame followed by garbage: only the frame is consumed and
   * the trailing bytes are left for the next call. */
  const uint8_t buf[] = { 0, 3, 'a', 'b', 'c', 0xde, 0xad };
  const uint8_t *body;
  size_t body_len;
  long n;

  n = sc_frame_next (buf, sizeof buf, SC_FRAME_MAX, &body, &body_len);
  g_assert_cmpint (n, ==, 5);
  g_assert_cmpmem (body, body_len, "abc", 3);
  /* The leftovers form a header announcing 0xdead bytes: over a limit of
   * 1024, and incomplete under the maximum limit. */
  g_assert_cmpint (
      sc_frame_next (buf + n, sizeof buf - (size_t) n, 1024, &body, &body_len),
      ==, SC_ERR_TOO_LARGE);
  g_assert_cmpint (sc_frame_next (buf + n, sizeof buf - (size_t) n,
                                  SC_FRAME_MAX, &body, &body_len),
                   ==, 0);
}

static void
test_next_bad_args (void)
{
  const uint8_t buf[] = { 0, 1, 'a' };
  const uint8_t *body;
  size_t body_len;

  g_assert_cmpint (sc_frame_next (NULL, 3, SC_FRAME_MAX, &body, &body_len), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_frame_next (buf, 3, SC_FRAME_MAX, NULL, &body_len), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_frame_next (buf, 3, SC_FRAME_MAX, &body, NULL), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_frame_next (buf, 3, SC_FRAME_MAX + 1, &body, &body_len),
                   ==, SC_ERR_INVALID);
}

static void
test_strerror (void)
{
  int e;

  /* Every code has its own text; unknown values share one. */
  for (e = SC_OK; e >= SC_ERR_AGAIN; e--)
    {
      const char *s = sc_strerror (e);
      int f;

      g_assert_nonnull (s);
      g_assert_cmpstr (s, !=, "unknown error");
      for (f = SC_OK; f > e; f--)
        g_assert_cmpstr (sc_strerror (f), !=, s);
    }
  g_assert_cmpstr (sc_strerror (SC_ERR_AGAIN - 1), ==, "unknown error");
  g_assert_cmpstr (sc_strerror (1), ==, "unknown error");
  g_assert_cmpstr (sc_strerror (G_MININT), ==, "unknown error");
  g_assert_cmpstr (sc_strerror (SC_ERR_NOMEM), ==, "out of memory");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/frame/header/roundtrip", test_header_roundtrip);
  g_test_add_func ("/common/frame/header/big-endian", test_header_big_endian);
  g_test_add_func ("/common/frame/header/zero", test_header_zero);
  g_test_add_func ("/common/frame/header/over-limit", test_header_over_limit);
  g_test_add_func ("/common/frame/header/bad-args", test_header_bad_args);
  g_test_add_func ("/common/frame/next/every-split", test_next_every_split);
  g_test_add_func ("/common/frame/next/zero-length", test_next_zero_length);
  g_test_add_func ("/common/frame/next/over-limit", test_next_over_limit);
  g_test_add_func ("/common/frame/next/max-exact", test_next_max_exact);
  g_test_add_func ("/common/frame/next/trailing", test_next_trailing);
  g_test_add_func ("/common/frame/next/bad-args", test_next_bad_args);
  g_test_add_func ("/common/error/strerror", test_strerror);
  return g_test_run ();
}
