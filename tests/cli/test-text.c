/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static void
check (const char *in, size_t len, unsigned flags, const char *want)
{
  char *out = text_escape ((const uint8_t *) in, len, flags);

  g_assert_nonnull (out);
  g_assert_cmpstr (out, ==, want);
  free (out);
}

#define CHECK(in, want) check (in, sizeof in - 1, 0, want)

static void
test_plain (void)
{
  CHECK ("", "");
  CHECK ("hello, world", "hello, world");
  CHECK ("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
         "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
  CHECK ("~!@#$%^&*()_+{}|:\"<>?`-=[];',./",
         "~!@#$%^&*()_+{}|:\"<>?`-=[];',./");
}

static void
test_escapes (void)
{
  CHECK ("a\\b", "a\\\\b");
  CHECK ("\\n", "\\\\n");
  CHECK ("one\ntwo", "one\\ntwo");
  CHECK ("\r\t", "\\x0d\\x09");
  CHECK ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
  CHECK ("nul\0here", "nul\\x00here");
  CHECK ("del\x7f", "del\\x7f");
  CHECK ("\x01\x1f", "\\x01\\x1f");
  /* C1 controls (valid UTF-8 for U+0080..U+009F), byte by byte. */
  CHECK ("\xc2\x85\xc2\x9b", "\\xc2\\x85\\xc2\\x9b");
  /* U+00A0 is the first code point after them, and is kept. */
  CHECK ("\xc2\xa0", "\xc2\xa0");
}

static void
test_invalid_utf8 (void)
{
  CHECK ("\xff", "\\xff");
  CHECK ("a\x80z", "a\\x80z");
  /* Truncated sequences, at the end and in the middle. */
  CHECK ("\xe2\x82", "\\xe2\\x82");
  CHECK ("\xe2\x82z", "\\xe2\\x82z");
  /* Overlong forms, surrogates, beyond U+10FFFF. */
  CHECK ("\xc0\xaf", "\\xc0\\xaf");
  CHECK ("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
  CHECK ("\xed\xa0\x80", "\\xed\\xa0\\x80");
  CHECK ("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
  CHECK ("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
  /* A valid character right after an invalid byte survives. */
  CHECK ("\xff\xc3\xa9", "\\xff\xc3\xa9");
  /* The largest code point is valid. */
  CHECK ("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
}

static void
test_bidi (void)
{
  static const char rlo[] = "a\xe2\x80\xae"
                            "b";

  check (rlo, sizeof rlo - 1, 0, rlo);
  check (rlo, sizeof rlo - 1, TEXT_ESCAPE_BIDI, "a\\xe2\\x80\\xaeb");
  check ("\xe2\x81\xa6x\xe2\x81\xa9", 7, TEXT_ESCAPE_BIDI,
         "\\xe2\\x81\\xa6x\\xe2\\x81\\xa9");
  check ("\xe2\x80\x8f", 3, TEXT_ESCAPE_BIDI, "\\xe2\\x80\\x8f");
  /* Other punctuation nearby is left alone. */
  check ("\xe2\x80\x94", 3, TEXT_ESCAPE_BIDI, "\xe2\x80\x94");
}

/* The worst case: every byte becomes four characters. */
static void
test_expansion (void)
{
  uint8_t in[256];
  char *out;

  memset (in, 0x01, sizeof in);
  out = text_escape (in, sizeof in, 0);
  g_assert_nonnull (out);
  g_assert_cmpuint (strlen (out), ==, 4 * sizeof in);
  free (out);

  memset (in, 0xff, sizeof in);
  out = text_escape (in, sizeof in, TEXT_ESCAPE_BIDI);
  g_assert_cmpuint (strlen (out), ==, 4 * sizeof in);
  free (out);
}

/* Whatever the input, the output has no control bytes and is valid
 * UTF-8, so nothing reaches the terminal as a command. */
static void
test_random (void)
{
  GRand *rand = g_rand_new_with_seed (42);

  for (int round = 0; round < 2000; round++)
    {
      uint8_t in[64];
      size_t len = (size_t) g_rand_int_range (rand, 0, sizeof in + 1);
      char *out;

      for (size_t i = 0; i < len; i++)
        in[i] = (uint8_t) g_rand_int_range (rand, 0, 256);
      out = text_escape (in, len, TEXT_ESCAPE_BIDI);
      g_assert_nonnull (out);
      g_assert_true (g_utf8_validate (out, -1, NULL));
      for (const char *p = out; *p != '\0'; p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);

          g_assert_false (g_unichar_iscntrl (c));
        }
      free (out);
    }
  g_rand_free (rand);
}

static void
test_utf8_next (void)
{
  uint32_t cp = 1;

  g_assert_cmpuint (text_utf8_next ((const uint8_t *) "", 0, &cp), ==, 0);
  g_assert_cmpuint (cp, ==, 0);
  g_assert_cmpuint (text_utf8_next ((const uint8_t *) "A", 1, &cp), ==, 1);
  g_assert_cmpuint (cp, ==, 'A');
  g_assert_cmpuint (text_utf8_next ((const uint8_t *) "\xc3\xa9", 2, &cp), ==,
                    2);
  g_assert_cmpuint (cp, ==, 0xe9);
  g_assert_cmpuint (
      text_utf8_next ((const uint8_t *) "\xf0\x9f\x98\x80", 4, &cp), ==, 4);
  g_assert_cmpuint (cp, ==, 0x1f600);
  /* Not enough bytes given. */
  g_assert_cmpuint (
      text_utf8_next ((const uint8_t *) "\xf0\x9f\x98\x80", 3, &cp), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli/text/escape/plain", test_plain);
  g_test_add_func ("/cli/text/escape/controls", test_escapes);
  g_test_add_func ("/cli/text/escape/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/cli/text/escape/bidi", test_bidi);
  g_test_add_func ("/cli/text/escape/expansion", test_expansion);
  g_test_add_func ("/cli/text/escape/random", test_random);
  g_test_add_func ("/cli/text/utf8-next", test_utf8_next);

  return g_test_run ();
}
