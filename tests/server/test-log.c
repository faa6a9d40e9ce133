/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/log.c: escaping of untrusted text and the line format. */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void
test_escape_plain (void)
{
  char out[64];

  g_assert_true (log_escape ("alice", 5, out, sizeof out) == out);
  g_assert_cmpstr (out, ==, "alice");
  log_escape ("a b.c-d_e@f", 11, out, sizeof out);
  g_assert_cmpstr (out, ==, "a b.c-d_e@f");
  log_escape ("", 0, out, sizeof out);
  g_assert_cmpstr (out, ==, "");
  log_escape (NULL, 5, out, sizeof out);
  g_assert_cmpstr (out, ==, "");
  /* Only in_len bytes are read. */
  log_escape ("abcdef", 3, out, sizeof out);
  g_assert_cmpstr (out, ==, "abc");
}

static void
test_escape_control (void)
{
  char out[64];

  log_escape ("a\nb", 3, out, sizeof out);
  g_assert_cmpstr (out, ==, "a\\x0ab");
  log_escape ("\r\t\x1b[31m", 7, out, sizeof out);
  g_assert_cmpstr (out, ==, "\\x0d\\x09\\x1b[31m");
  log_escape ("x\x7fy", 3, out, sizeof out);
  g_assert_cmpstr (out, ==, "x\\x7fy");
  /* An embedded NUL is escaped, not a terminator. */
  log_escape ("a\0b", 3, out, sizeof out);
  g_assert_cmpstr (out, ==, "a\\x00b");
}

static void
test_escape_quotes (void)
{
  char out[64];

  log_escape ("say \"hi\"", 8, out, sizeof out);
  g_assert_cmpstr (out, ==, "say \\x22hi\\x22");
  log_escape ("it's", 4, out, sizeof out);
  g_assert_cmpstr (out, ==, "it\\x27s");
  log_escape ("a\\b", 3, out, sizeof out);
  g_assert_cmpstr (out, ==, "a\\x5cb");
}

static void
test_escape_non_ascii (void)
{
  char out[64];

  /* "é" in UTF-8, and a lone invalid byte. */
  log_escape ("caf\xc3\xa9", 5, out, sizeof out);
  g_assert_cmpstr (out, ==, "caf\\xc3\\xa9");
  log_escape ("\xff", 1, out, sizeof out);
  g_assert_cmpstr (out, ==, "\\xff");
}

static void
test_escape_truncation (void)
{
  char out[16];
  char big[8];

  /* Exactly fits: 15 characters + NUL. */
  log_escape ("abcdefghijklmno", 15, out, sizeof out);
  g_assert_cmpstr (out, ==, "abcdefghijklmno");
  /* One more: 12 characters and "...". */
  log_escape ("abcdefghijklmnop", 16, out, sizeof out);
  g_assert_cmpstr (out, ==, "abcdefghijkl...");
  g_assert_cmpuint (strlen (out), ==, sizeof out - 1);

  /* An escape sequence is never cut in half. */
  log_escape ("abcdefghij\n\n\n", 13, out, sizeof out);
  g_assert_cmpstr (out, ==, "abcdefghij...");
  log_escape ("abcdefgh\nzzzzzzzzz", 18, out, sizeof out);
  g_assert_cmpstr (out, ==, "abcdefgh\\x0a...");

  /* Escapes that exactly fill the buffer are not truncated. */
  log_escape ("\n\n\n", 3, out, 13);
  g_assert_cmpstr (out, ==, "\\x0a\\x0a\\x0a");
  log_escape ("\n\n\n", 3, out, 12);
  g_assert_cmpstr (out, ==, "\\x0a\\x0a...");

  /* Tiny buffers: as many dots as fit, always terminated. */
  memset (big, 'X', sizeof big);
  log_escape ("abcdef", 6, big, 3);
  g_assert_cmpstr (big, ==, "..");
  g_assert_cmpint (big[3], ==, 'X');
  memset (big, 'X', sizeof big);
  log_escape ("abcdef", 6, big, 1);
  g_assert_cmpstr (big, ==, "");
  g_assert_cmpint (big[1], ==, 'X');
  /* out_cap 0 writes nothing at all. */
  log_escape ("abcdef", 6, big, 0);
  g_assert_cmpint (big[0], ==, '\0');
  g_assert_cmpint (big[1], ==, 'X');
}

/* Runs fn with stderr redirected to a temporary file; returns what it
 * wrote. */
static char *
capture_stderr (void (*fn) (void))
{
  char path[] = "/tmp/test-log-XXXXXX";
  char *contents = NULL;
  gboolean ok;
  int fd, saved;

  fd = mkstemp (path);
  g_assert_cmpint (fd, >=, 0);
  fflush (stderr);
  saved = dup (2);
  g_assert_cmpint (saved, >=, 0);
  g_assert_cmpint (dup2 (fd, 2), ==, 2);
  fn ();
  fflush (stderr);
  g_assert_cmpint (dup2 (saved, 2), ==, 2);
  close (saved);
  close (fd);
  ok = g_file_get_contents (path, &contents, NULL, NULL);
  g_assert_true (ok);
  unlink (path);
  return contents;
}

static void
emit_info (void)
{
  log_set_level (LOG_LEVEL_INFO);
  log_info ("conn %d user=%s connected", 42, "bob");
  log_debug ("not shown");
  log_warn ("careful");
  log_error ("broken");
}

static void
test_line_format (void)
{
  g_autofree char *out = capture_stderr (emit_info);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  GRegex *re;

  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_assert_cmpstr (lines[3], ==, "");
  re = g_regex_new ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                    "\\.[0-9]{3}Z (INFO|WARN|ERROR) ",
                    0, 0, NULL);
  g_assert_nonnull (re);
  g_assert_true (g_regex_match (re, lines[0], 0, NULL));
  g_assert_true (
      g_str_has_suffix (lines[0], " INFO conn 42 user=bob connected"));
  g_assert_true (g_regex_match (re, lines[1], 0, NULL));
  g_assert_true (g_str_has_suffix (lines[1], " WARN careful"));
  g_assert_true (g_regex_match (re, lines[2], 0, NULL));
  g_assert_true (g_str_has_suffix (lines[2], " ERROR broken"));
  g_regex_unref (re);
}

static void
emit_levels (void)
{
  log_set_level (LOG_LEVEL_ERROR);
  log_warn ("hidden warn");
  log_error ("shown error");
  log_set_level (LOG_LEVEL_DEBUG);
  log_debug ("shown debug");
  log_set_level (LOG_LEVEL_INFO);
  log_debug ("hidden debug");
}

static void
test_levels (void)
{
  g_autofree char *out = capture_stderr (emit_levels);

  g_assert_null (strstr (out, "hidden"));
  g_assert_nonnull (strstr (out, " ERROR shown error\n"));
  g_assert_nonnull (strstr (out, " DEBUG shown debug\n"));
  g_assert_cmpint (log_get_level (), ==, LOG_LEVEL_INFO);
}

static void
emit_injection (void)
{
  log_set_level (LOG_LEVEL_INFO);
  /* A caller that forgot log_escape still cannot forge a second line. */
  log_info ("user=%s", "x\n2026-01-01T00:00:00.000Z INFO forged");
}

static void
test_no_line_injection (void)
{
  g_autofree char *out = capture_stderr (emit_injection);
  size_t len = strlen (out);

  /* The only newline ends the text. */
  g_assert_cmpuint (len, >, 0);
  g_assert_cmpuint (strcspn (out, "\n"), ==, len - 1);
  g_assert_nonnull (strstr (out, "user=x?2026"));
}

static void
emit_long (void)
{
  char *big = g_malloc (10000);

  memset (big, 'a', 9999);
  big[9999] = '\0';
  log_set_level (LOG_LEVEL_INFO);
  log_info ("%s", big);
  log_info ("after");
  g_free (big);
}

static void
test_long_line (void)
{
  g_autofree char *out = capture_stderr (emit_long);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);

  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_true (g_str_has_suffix (lines[0], "aaa..."));
  g_assert_cmpuint (strlen (lines[0]), <, 4096);
  g_assert_true (g_str_has_suffix (lines[1], " INFO after"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/log/escape/plain", test_escape_plain);
  g_test_add_func ("/server/log/escape/control", test_escape_control);
  g_test_add_func ("/server/log/escape/quotes", test_escape_quotes);
  g_test_add_func ("/server/log/escape/non-ascii", test_escape_non_ascii);
  g_test_add_func ("/server/log/escape/truncation", test_escape_truncation);
  g_test_add_func ("/server/log/line/format", test_line_format);
  g_test_add_func ("/server/log/line/levels", test_levels);
  g_test_add_func ("/server/log/line/no-injection", test_no_line_injection);
  g_test_add_func ("/server/log/line/long", test_long_line);
  return g_test_run ();
}
