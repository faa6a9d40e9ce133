/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

struct pipe_fixture
{
  int fds[2];
  struct lines *l;
};

static void
setup (struct pipe_fixture *f, size_t max)
{
  g_assert_cmpint (pipe (f->fds), ==, 0);
  f->l = lines_new (f->fds[0], max);
  g_assert_nonnull (f->l);
}

static void
teardown (struct pipe_fixture *f)
{
  lines_free (f->l);
  close (f->fds[0]);
  if (f->fds[1] >= 0)
    close (f->fds[1]);
}

static void
put (struct pipe_fixture *f, const char *s)
{
  g_assert_cmpint (write (f->fds[1], s, strlen (s)), ==, (ssize_t) strlen (s));
}

static void
close_writer (struct pipe_fixture *f)
{
  close (f->fds[1]);
  f->fds[1] = -1;
}

/* The next result, filling once if nothing is buffered. */
static enum lines_result
next (struct pipe_fixture *f, char **line, size_t *len)
{
  enum lines_result r = lines_next (f->l, line, len);

  if (r == LINES_NONE && lines_fill (f->l) >= 0)
    r = lines_next (f->l, line, len);
  return r;
}

/* The next result once one is there: only for input already written. */
static enum lines_result
next_available (struct pipe_fixture *f, char **line, size_t *len)
{
  enum lines_result r;

  while ((r = lines_next (f->l, line, len)) == LINES_NONE)
    g_assert_cmpint (lines_fill (f->l), >, 0);
  return r;
}

static void
expect_line (struct pipe_fixture *f, const char *want)
{
  char *line = NULL;
  size_t len = 0;

  g_assert_cmpint (next (f, &line, &len), ==, LINES_LINE);
  g_assert_cmpuint (len, ==, strlen (want));
  g_assert_cmpstr (line, ==, want);
}

static void
test_basic (void)
{
  struct pipe_fixture f;
  char *line = NULL;
  size_t len = 0;

  setup (&f, 100);
  g_assert_false (lines_ready (f.l));
  put (&f, "one\ntwo\r\n\nthree");
  g_assert_cmpint (lines_fill (f.l), ==, 15);
  g_assert_true (lines_ready (f.l));
  expect_line (&f, "one");
  expect_line (&f, "two");
  expect_line (&f, "");
  /* "three" has no newline yet. */
  g_assert_cmpint (lines_next (f.l, &line, &len), ==, LINES_NONE);
  g_assert_false (lines_ready (f.l));
  put (&f, " four\nfive");
  expect_line (&f, "three four");
  close_writer (&f);
  /* The last line without a newline still counts at the end. */
  expect_line (&f, "five");
  g_assert_cmpint (next (&f, &line, &len), ==, LINES_EOF);
  g_assert_true (lines_eof (f.l));
  g_assert_cmpint (lines_next (f.l, &line, &len), ==, LINES_EOF);
  teardown (&f);
}

static void
test_too_long (void)
{
  struct pipe_fixture f;
  char *line = NULL;
  size_t len = 0;

  setup (&f, 8);
  /* Exactly the limit is fine. */
  put (&f, "12345678\n");
  expect_line (&f, "12345678");
  /* One more is dropped, in however many reads it comes, and the next
   * line is intact. */
  put (&f, "123456789");
  g_assert_cmpint (next (&f, &line, &len), ==, LINES_NONE);
  put (&f, "0123456789abcdef");
  put (&f, "xyz\nok\n");
  g_assert_cmpint (next_available (&f, &line, &len), ==, LINES_TOO_LONG);
  expect_line (&f, "ok");
  /* An overlong last line at the end of input. */
  put (&f, "waytoolongline");
  close_writer (&f);
  {
    enum lines_result r;

    do
      {
        r = lines_next (f.l, &line, &len);
        if (r == LINES_NONE)
          g_assert_cmpint (lines_fill (f.l), >=, 0);
      }
    while (r == LINES_NONE);
    g_assert_cmpint (r, ==, LINES_TOO_LONG);
  }
  g_assert_cmpint (next (&f, &line, &len), ==, LINES_EOF);
  teardown (&f);
}

static void
test_empty_input (void)
{
  struct pipe_fixture f;
  char *line = NULL;
  size_t len = 0;

  setup (&f, 10);
  close_writer (&f);
  g_assert_cmpint (lines_fill (f.l), ==, 0);
  g_assert_true (lines_ready (f.l));
  g_assert_cmpint (lines_next (f.l, &line, &len), ==, LINES_EOF);
  g_assert_null (line);
  teardown (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli/lines/basic", test_basic);
  g_test_add_func ("/cli/lines/too-long", test_too_long);
  g_test_add_func ("/cli/lines/empty-input", test_empty_input);

  return g_test_run ();
}
