/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Strict base64 of base64.h: RFC 4648 section 10 vectors and every way a
 * text can fail to be canonical. */
#include <glib.h>
#include <string.h>

#include "securechat/base64.h"
#include "securechat/error.h"

static const struct
{
  const char *plain;
  const char *b64;
} rfc4648[] = {
  { "", "" },
  { "f", "Zg==" },
  { "fo", "Zm8=" },
  { "foo", "Zm9v" },
  { "foob", "Zm9vYg==" },
  { "fooba", "Zm9vYmE=" },
  { "foobar", "Zm9vYmFy" },
};

static void
test_rfc4648_encode (void)
{
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (rfc4648); i++)
    {
      size_t len = strlen (rfc4648[i].plain);
      char out[16];

      memset (out, 'X', sizeof out);
      g_assert_cmpuint (SC_BASE64_ENCODED_LEN (len), ==,
                        strlen (rfc4648[i].b64));
      g_assert_cmpint (sc_base64_encode ((const uint8_t *) rfc4648[i].plain,
                                         len, out, sizeof out),
                       ==, SC_OK);
      g_assert_cmpstr (out, ==, rfc4648[i].b64);
    }
}

static void
test_rfc4648_decode (void)
{
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (rfc4648); i++)
    {
      const char *b64 = rfc4648[i].b64;
      uint8_t out[16];
      size_t n = 99;

      g_assert_cmpint (sc_base64_validate (b64, strlen (b64)), ==, SC_OK);
      g_assert_cmpint (
          sc_base64_decode (b64, strlen (b64), out, sizeof out, &n), ==, SC_OK);
      g_assert_cmpmem (out, n, rfc4648[i].plain, strlen (rfc4648[i].plain));
    }
}

static void
test_alphabet (void)
{
  /* Every character of the alphabet in order: the bytes 0x00 0x10 0x83
   * ... 0xf3 0xdf 0xbf encode to "ABCD...+/". */
  static const char all[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t bytes[48];
  char back[65];
  size_t n;

  g_assert_cmpint (sc_base64_decode (all, 64, bytes, sizeof bytes, &n), ==,
                   SC_OK);
  g_assert_cmpuint (n, ==, 48);
  g_assert_cmpuint (bytes[0], ==, 0x00);
  g_assert_cmpuint (bytes[1], ==, 0x10);
  g_assert_cmpuint (bytes[2], ==, 0x83);
  g_assert_cmpuint (bytes[45], ==, 0xf3);
  g_assert_cmpuint (bytes[46], ==, 0xdf);
  g_assert_cmpuint (bytes[47], ==, 0xbf);
  g_assert_cmpint (sc_base64_encode (bytes, n, back, sizeof back), ==, SC_OK);
  g_assert_cmpstr (back, ==, all);
}

static void
test_roundtrip_all_lengths (void)
{
  uint8_t in[300], out[300];
  char b64[SC_BASE64_ENCODED_LEN (300) + 1];
  size_t len, i, n;

  for (i = 0; i < sizeof in; i++)
    in[i] = (uint8_t) (i * 131 + 17);
  for (len = 0; len <= sizeof in; len++)
    {
      g_assert_cmpint (sc_base64_encode (in, len, b64, sizeof b64), ==, SC_OK);
      g_assert_cmpuint (strlen (b64), ==, SC_BASE64_ENCODED_LEN (len));
      g_assert_cmpint (
          sc_base64_decode (b64, strlen (b64), out, sizeof out, &n), ==, SC_OK);
      g_assert_cmpmem (out, n, in, len);
    }
}

/* Each of these must be refused by validate and decode with SC_ERR_BASE64. */
static const struct
{
  const char *name;
  const char *text;
  size_t len; /* 0: strlen */
} invalid[] = {
  { "length-1", "Z", 0 },
  { "length-2", "Zg", 0 },
  { "length-3", "Zm8", 0 },
  { "length-5", "Zm9vY", 0 },
  { "missing-padding", "Zm9vYg", 0 },
  { "space", "Zm9v Zg==", 0 },
  { "leading-space", " Zm9", 0 },
  { "newline", "Zm9v\nZm9v", 0 },
  { "crlf", "Zm9vYmFy\r\n", 0 },
  { "tab", "Zm\t9", 0 },
  { "url-safe-minus", "Zm9-", 0 },
  { "url-safe-underscore", "Zm9_", 0 },
  { "dot", "Zm9.", 0 },
  { "non-ascii", "Zm9\xc3\xa9", 0 },
  { "high-byte", "Zm9\xff", 0 },
  { "nul", "Zm\0v", 4 },
  { "pad-only", "====", 0 },
  { "three-pads", "Z===", 0 },
  { "pad-in-middle", "Zg==Zm9v", 0 },
  { "pad-inside-quad", "Zg=v", 0 },
  { "pad-first", "=Zm9", 0 },
  { "pad-after-pad-quad", "Zm8=Zm8=", 0 },
  { "nonzero-pad-bits-2", "Zh==", 0 },
  { "nonzero-pad-bits-2-low", "Zl==", 0 },
  { "nonzero-pad-bits-1", "Zm9=", 0 },
  { "nonzero-pad-bits-1-low", "Zm+=", 0 },
  { "too-much-padding", "Zm9vYg===", 0 },
};

static void
test_invalid (gconstpointer data)
{
  size_t i = GPOINTER_TO_SIZE (data);
  const char *t = invalid[i].text;
  size_t len = invalid[i].len ? invalid[i].len : strlen (t);
  uint8_t out[64];
  size_t n = 99;

  memset (out, 0xaa, sizeof out);
  g_assert_cmpint (sc_base64_validate (t, len), ==, SC_ERR_BASE64);
  g_assert_cmpint (sc_base64_decode (t, len, out, sizeof out, &n), ==,
                   SC_ERR_BASE64);
  g_assert_cmpuint (n, ==, 0);
}

static void
test_pad_bits_zero_accepted (void)
{
  /* The canonical neighbours of the nonzero-pad-bits cases. */
  size_t n;
  uint8_t out[4];

  g_assert_cmpint (sc_base64_validate ("Zg==", 4), ==, SC_OK);
  g_assert_cmpint (sc_base64_validate ("Zm8=", 4), ==, SC_OK);
  g_assert_cmpint (sc_base64_decode ("AA==", 4, out, sizeof out, &n), ==,
                   SC_OK);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpint (sc_base64_decode ("//8=", 4, out, sizeof out, &n), ==,
                   SC_OK);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (out[0], ==, 0xff);
  g_assert_cmpuint (out[1], ==, 0xff);
  g_assert_cmpint (sc_base64_validate ("//9=", 4), ==, SC_ERR_BASE64);
}

static void
test_encode_buffer (void)
{
  char out[9];

  /* "foob" needs 8 characters and the NUL. */
  g_assert_cmpint (sc_base64_encode ((const uint8_t *) "foob", 4, out, 8), ==,
                   SC_ERR_BUFFER);
  g_assert_cmpint (sc_base64_encode ((const uint8_t *) "foob", 4, out, 9), ==,
                   SC_OK);
  g_assert_cmpstr (out, ==, "Zm9vYg==");
  g_assert_cmpint (sc_base64_encode ((const uint8_t *) "", 0, out, 0), ==,
                   SC_ERR_BUFFER);
  g_assert_cmpint (sc_base64_encode (NULL, 0, out, 1), ==, SC_OK);
  g_assert_cmpstr (out, ==, "");
}

static void
test_encode_overflow (void)
{
  char out[8];
  static const uint8_t one = 0;

  /* Lengths whose encoded size does not fit a size_t are refused before
   * any arithmetic can wrap (and before in is read). */
  g_assert_cmpint (sc_base64_encode (&one, SIZE_MAX, out, sizeof out), ==,
                   SC_ERR_TOO_LARGE);
  g_assert_cmpint (
      sc_base64_encode (&one, SIZE_MAX / 4 * 3 + 1, out, sizeof out), ==,
      SC_ERR_TOO_LARGE);
  /* Large but representable: the buffer check fails instead. */
  g_assert_cmpint (
      sc_base64_encode (&one, SIZE_MAX / 4 * 3 - 3, out, sizeof out), ==,
      SC_ERR_BUFFER);
}

static void
test_decode_buffer (void)
{
  uint8_t out[6];
  size_t n = 99;

  g_assert_cmpint (sc_base64_decode ("Zm9vYmE=", 8, out, 4, &n), ==,
                   SC_ERR_BUFFER);
  g_assert_cmpuint (n, ==, 0);
  g_assert_cmpint (sc_base64_decode ("Zm9vYmE=", 8, out, 5, &n), ==, SC_OK);
  g_assert_cmpmem (out, n, "fooba", 5);
  g_assert_cmpint (sc_base64_decode ("Zm9vYmFy", 8, out, 6, &n), ==, SC_OK);
  g_assert_cmpmem (out, n, "foobar", 6);
  g_assert_cmpint (sc_base64_decode ("", 0, NULL, 0, &n), ==, SC_OK);
  g_assert_cmpuint (n, ==, 0);
  /* Invalid input is reported as such even when the buffer is too small. */
  g_assert_cmpint (sc_base64_decode ("Zm9v!!!!", 8, out, 1, &n), ==,
                   SC_ERR_BASE64);
}

static void
test_bad_args (void)
{
  uint8_t out[4];
  size_t n;

  g_assert_cmpint (sc_base64_encode (NULL, 1, (char *) out, 4), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_base64_encode ((const uint8_t *) "a", 1, NULL, 4), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_base64_decode (NULL, 4, out, 4, &n), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_base64_decode ("Zg==", 4, out, 4, NULL), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_base64_decode ("Zg==", 4, NULL, 4, &n), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_base64_validate (NULL, 4), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_base64_validate (NULL, 0), ==, SC_OK);
}

/* Validation checks sixteen characters at a time: one character outside
 * the alphabet is found at every position of bodies of every length
 * around those blocks, exactly when decoding refuses the text too. */
static void
test_validate_every_position (void)
{
  static const unsigned char strangers[] = { '=',  '-',  '_',  ' ', '\n',
                                             '\0', '@',  '[',  '`', '{',
                                             '.',  0x80, 0xff, ':', '*' };
  guint8 raw[64], out[64];
  char b64[128];

  for (size_t i = 0; i < sizeof raw; i++)
    raw[i] = (guint8) (i * 37 + 11);
  for (size_t n = 1; n <= 60; n++)
    {
      size_t len = SC_BASE64_ENCODED_LEN (n), got;

      g_assert_cmpint (sc_base64_encode (raw, n, b64, sizeof b64), ==, SC_OK);
      g_assert_cmpint (sc_base64_validate (b64, len), ==, SC_OK);
      for (size_t pos = 0; pos < len; pos++)
        for (size_t k = 0; k < sizeof strangers; k++)
          {
            char saved = b64[pos];

            b64[pos] = (char) strangers[k];
            g_assert_cmpint (
                sc_base64_validate (b64, len), ==,
                sc_base64_decode (b64, len, out, sizeof out, &got));
            if (strangers[k] != '=')
              g_assert_cmpint (sc_base64_validate (b64, len), ==,
                               SC_ERR_BASE64);
            b64[pos] = saved;
          }
    }
}

int
main (int argc, char **argv)
{
  size_t i;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/base64/rfc4648/encode", test_rfc4648_encode);
  g_test_add_func ("/common/base64/rfc4648/decode", test_rfc4648_decode);
  g_test_add_func ("/common/base64/alphabet", test_alphabet);
  g_test_add_func ("/common/base64/roundtrip", test_roundtrip_all_lengths);
  for (i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      char *path =
          g_strdup_printf ("/common/base64/invalid/%s", invalid[i].name);
      g_test_add_data_func (path, GSIZE_TO_POINTER (i), test_invalid);
      g_free (path);
    }
  g_test_add_func ("/common/base64/pad-bits-zero", test_pad_bits_zero_accepted);
  g_test_add_func ("/common/base64/encode/buffer", test_encode_buffer);
  g_test_add_func ("/common/base64/encode/overflow", test_encode_overflow);
  g_test_add_func ("/common/base64/decode/buffer", test_decode_buffer);
  g_test_add_func ("/common/base64/bad-args", test_bad_args);
  g_test_add_func ("/common/base64/validate/every-position",
                   test_validate_every_position);
  return g_test_run ();
}
