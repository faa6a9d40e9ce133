/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/admin.c: the securechatd command line, run in-process with stdin,
 * stdout and stderr redirected: password input rules, exit codes, and what
 * each command leaves on disk. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "auth.h"
#include "store.h"
#include "securechat/msg.h"

static char *tmpdir;

/* A pipe whose read end holds data (then EOF). */
static int
pipe_with (const void *data, size_t len)
{
  int fds[2];

  g_assert_cmpint (pipe (fds), ==, 0);
  g_assert_cmpint (write (fds[1], data, len), ==, (ssize_t) len);
  close (fds[1]);
  return fds[0];
}

static void
test_password_line (void)
{
  static const struct
  {
    const char *in;
    size_t in_len;
    int rc;
    const char *want;
  } cases[] = {
    { "secret\n", 7, 0, "secret" },
    { "secret\r\n", 8, 0, "secret" },
    { "secret", 6, 0, "secret" },
    { "sec ret \n", 9, 0, "sec ret " },
    { "a\rb\n", 4, 0, "a\rb" },
    { "line1\nline2\n", 12, 0, "line1" },
    { "\n", 1, 0, "" },
    { "", 0, -1, "no password" },
  };
  char buf[SC_PASSWORD_MAX + 2], err[256];
  size_t i, len;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      int fd = pipe_with (cases[i].in, cases[i].in_len);
      int rc =
          admin_read_password_line (fd, buf, sizeof buf, &len, err, sizeof err);

      g_assert_cmpint (rc, ==, cases[i].rc);
      if (rc == 0)
        {
          g_assert_cmpuint (len, ==, strlen (cases[i].want));
          g_assert_cmpmem (buf, len, cases[i].want, strlen (cases[i].want));
          g_assert_cmpint (buf[len], ==, '\0');
        }
      else
        g_assert_nonnull (strstr (err, cases[i].want));
      close (fd);
    }

  /* Only the first line is consumed: the rest stays for the next reader. */
  {
    int fd = pipe_with ("one\ntwo\n", 8);
    g_assert_cmpint (
        admin_read_password_line (fd, buf, sizeof buf, &len, err, sizeof err),
        ==, 0);
    g_assert_cmpstr (buf, ==, "one");
    g_assert_cmpint (
        admin_read_password_line (fd, buf, sizeof buf, &len, err, sizeof err),
        ==, 0);
    g_assert_cmpstr (buf, ==, "two");
    close (fd);
  }

  /* 1024 bytes fit (with "\r\n"); 1026 do not. */
  {
    char *big = g_malloc (1100);
    int fd;

    memset (big, 'a', 1100);
    memcpy (big + 1024, "\r\n", 2);
    fd = pipe_with (big, 1026);
    g_assert_cmpint (
        admin_read_password_line (fd, buf, sizeof buf, &len, err, sizeof err),
        ==, 0);
    g_assert_cmpuint (len, ==, 1024);
    close (fd);
    memset (big, 'a', 1100);
    fd = pipe_with (big, 1100);
    g_assert_cmpint (
        admin_read_password_line (fd, buf, sizeof buf, &len, err, sizeof err),
        ==, -1);
    g_assert_nonnull (strstr (err, "too long"));
    close (fd);
    g_free (big);
  }
}

static void
test_password_check (void)
{
  char err[256], *big;

  g_assert_cmpint (admin_check_password ("pw", 2, err, sizeof err), ==, 0);
  g_assert_cmpint (admin_check_password ("caf\xc3\xa9", 5, err, sizeof err), ==,
                   0);
  g_assert_cmpint (admin_check_password ("", 0, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "empty"));
  g_assert_cmpint (admin_check_password ("a\0b", 3, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "NUL"));
  g_assert_cmpint (admin_check_password ("\xff\xfe", 2, err, sizeof err), ==,
                   -1);
  g_assert_nonnull (strstr (err, "UTF-8"));
  g_assert_cmpint (admin_check_password ("\xc3", 1, err, sizeof err), ==, -1);

  big = g_malloc (2000);
  memset (big, 'a', 2000);
  g_assert_cmpint (
      admin_check_password (big, AUTH_PASSWORD_MAX, err, sizeof err), ==, 0);
  g_assert_cmpint (
      admin_check_password (big, AUTH_PASSWORD_MAX + 1, err, sizeof err), ==,
      -1);
  g_assert_nonnull (strstr (err, "511"));
  g_assert_cmpint (admin_check_password (big, 1025, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "1024"));
  g_free (big);
}

struct result
{
  int rc;
  char *out;
  char *err;
};

static void
result_clear (struct result *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Runs "securechatd ARGS..." in-process; stdin gets `input` (not a tty). */
static struct result
run (const char *input, ...)
{
  char out_path[] = "/tmp/test-admin-out-XXXXXX";
  char err_path[] = "/tmp/test-admin-err-XXXXXX";
  GPtrArray *args = g_ptr_array_new ();
  struct result r;
  int out_fd, err_fd, in_fd, saved[3];
  const char *a;
  va_list ap;

  g_ptr_array_add (args, (char *) "securechatd");
  va_start (ap, input);
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (char *) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  out_fd = mkstemp (out_path);
  err_fd = mkstemp (err_path);
  g_assert_cmpint (out_fd, >=, 0);
  g_assert_cmpint (err_fd, >=, 0);
  in_fd = pipe_with (input != NULL ? input : "",
                     input != NULL ? strlen (input) : 0);
  fflush (stdout);
  fflush (stderr);
  saved[0] = dup (0);
  saved[1] = dup (1);
  saved[2] = dup (2);
  dup2 (in_fd, 0);
  dup2 (out_fd, 1);
  dup2 (err_fd, 2);

  r.rc = admin_main ((int) args->len - 1, (char **) args->pdata);

  fflush (stdout);
  fflush (stderr);
  dup2 (saved[0], 0);
  dup2 (saved[1], 1);
  dup2 (saved[2], 2);
  close (saved[0]);
  close (saved[1]);
  close (saved[2]);
  close (in_fd);
  close (out_fd);
  close (err_fd);
  g_assert_true (g_file_get_contents (out_path, &r.out, NULL, NULL));
  g_assert_true (g_file_get_contents (err_path, &r.err, NULL, NULL));
  unlink (out_path);
  unlink (err_path);
  g_ptr_array_free (args, TRUE);
  return r;
}

#define EXPECT(r, code)                                                        \
  do                                                                           \
    {                                                                          \
      if ((r).rc != (code))                                                    \
        g_error ("exit %d, want %d; stdout: %s; stderr: %s", (r).rc, (code),   \
                 (r).out, (r).err);                                            \
    }                                                                          \
  while (0)

static void
test_usage (void)
{
  struct result r;

  r = run (NULL, "--version", NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==, "securechatd " SC_VERSION "\n");
  result_clear (&r);

  r = run (NULL, "--help", NULL);
  EXPECT (r, 0);
  g_assert_true (g_str_has_prefix (r.out, "Usage: securechatd [COMMAND]"));
  g_assert_cmpstr (r.err, ==, "");
  result_clear (&r);

  r = run (NULL, "help", NULL);
  EXPECT (r, 0);
  g_assert_true (g_str_has_prefix (r.out, "Usage: securechatd [COMMAND]"));
  result_clear (&r);

  r = run (NULL, "help", "useradd", NULL);
  EXPECT (r, 0);
  g_assert_true (g_str_has_prefix (r.out, "Usage: securechatd useradd"));
  result_clear (&r);

  {
    static const char *const cmds[] = { "run",        "init",  "useradd",
                                        "passwd",     "users", "userdel",
                                        "fingerprint" };
    for (size_t i = 0; i < G_N_ELEMENTS (cmds); i++)
      {
        char *want = g_strdup_printf ("Usage: securechatd %s", cmds[i]);
        r = run (NULL, cmds[i], "--help", NULL);
        EXPECT (r, 0);
        g_assert_true (g_str_has_prefix (r.out, want));
        result_clear (&r);
        r = run (NULL, cmds[i], "--bogus", NULL);
        EXPECT (r, 2);
        g_assert_cmpstr (r.out, ==, "");
        g_assert_nonnull (strstr (r.err, want));
        result_clear (&r);
        g_free (want);
      }
  }

  r = run (NULL, "frobnicate", NULL);
  EXPECT (r, 2);
  g_assert_nonnull (strstr (r.err, "unknown command"));
  result_clear (&r);

  r = run (NULL, "useradd", "--data-dir", tmpdir, NULL);
  EXPECT (r, 2);
  g_assert_nonnull (strstr (r.err, "missing argument"));
  result_clear (&r);

  r = run (NULL, "useradd", "--data-dir", tmpdir, "a", "b", NULL);
  EXPECT (r, 2);
  g_assert_nonnull (strstr (r.err, "unexpected argument"));
  result_clear (&r);

  r = run (NULL, "users", "--data-dir", NULL);
  EXPECT (r, 2);
  result_clear (&r);

  r = run (NULL, "run", "--verbose", "--quiet", NULL);
  EXPECT (r, 2);
  result_clear (&r);

  r = run (NULL, "--data-dir", tmpdir, "users", NULL);
  EXPECT (r, 2);
  g_assert_nonnull (strstr (r.err, "put the command first"));
  result_clear (&r);

  r = run (NULL, "run", "--data-dir", tmpdir, "--listen", "nope", NULL);
  EXPECT (r, 2);
  result_clear (&r);
}

static void
test_accounts (void)
{
  char *dir = g_build_filename (tmpdir, "data", NULL);
  char *key = g_build_filename (dir, "server.key", NULL);
  char *creds = g_build_filename (dir, STORE_FILE_NAME, NULL);
  char *key_before = NULL, *key_after = NULL, *fp = NULL;
  struct result r;
  struct stat sb;

  r = run (NULL, "init", "--data-dir", dir, NULL);
  EXPECT (r, 0);
  g_assert_true (g_str_has_prefix (r.out, "SHA256:"));
  g_assert_cmpuint (strlen (r.out), ==, 7 + 43 + 1);
  fp = g_strdup (r.out);
  result_clear (&r);
  g_assert_cmpint (stat (dir, &sb), ==, 0);
  g_assert_cmpuint (sb.st_mode & 07777, ==, 0700);
  g_assert_cmpint (stat (key, &sb), ==, 0);
  g_assert_cmpuint (sb.st_mode & 07777, ==, 0600);
  g_assert_cmpint (stat (creds, &sb), ==, 0);
  g_assert_cmpuint (sb.st_mode & 07777, ==, 0600);
  g_assert_true (g_file_get_contents (creds, &key_after, NULL, NULL));
  g_assert_cmpstr (key_after, ==, "{}\n");
  g_clear_pointer (&key_after, g_free);

  /* init never replaces the key. */
  g_assert_true (g_file_get_contents (key, &key_before, NULL, NULL));
  r = run (NULL, "init", "--data-dir", dir, NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "already exists"));
  result_clear (&r);
  g_assert_true (g_file_get_contents (key, &key_after, NULL, NULL));
  g_assert_cmpstr (key_before, ==, key_after);

  r = run (NULL, "fingerprint", "--data-dir", dir, NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==, fp);
  result_clear (&r);

  r = run ("pw-bob\n", "useradd", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 0);
  result_clear (&r);
  r = run ("pw-alice\r\n", "useradd", "alice", "-d", dir, NULL);
  EXPECT (r, 0);
  result_clear (&r);
  r = run ("other\n", "useradd", "--data-dir", dir, "alice", NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "already exists"));
  result_clear (&r);
  r = run ("pw\n", "useradd", "--data-dir", dir, "Alice", NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "a-z, 0-9"));
  result_clear (&r);
  r = run ("\n", "useradd", "--data-dir", dir, "carol", NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "empty"));
  result_clear (&r);
  r = run (NULL, "useradd", "--data-dir", dir, "carol", NULL);
  EXPECT (r, 1);
  result_clear (&r);

  r = run (NULL, "users", "--data-dir", dir, NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==, "alice\nbob\n");
  result_clear (&r);

  /* The stored hashes are yescrypt of exactly the line without "\r\n". */
  {
    struct store *st = NULL;
    char err[256];

    g_assert_cmpint (store_open (creds, &st, err, sizeof err), ==, 0);
    g_assert_true (g_str_has_prefix (store_lookup (st, "alice"), "$y$"));
    g_assert_cmpint (
        auth_verify_password ("pw-alice", 8, store_lookup (st, "alice")), ==,
        1);
    g_assert_cmpint (
        auth_verify_password ("pw-bob", 6, store_lookup (st, "bob")), ==, 1);
    store_free (st);
  }

  r = run ("new-bob\n", "passwd", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 0);
  result_clear (&r);
  r = run ("x\n", "passwd", "--data-dir", dir, "nobody", NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "no such user"));
  result_clear (&r);
  {
    struct store *st = NULL;
    char err[256];

    g_assert_cmpint (store_open (creds, &st, err, sizeof err), ==, 0);
    g_assert_cmpint (
        auth_verify_password ("new-bob", 7, store_lookup (st, "bob")), ==, 1);
    store_free (st);
  }

  r = run (NULL, "userdel", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 0);
  result_clear (&r);
  r = run (NULL, "userdel", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 1);
  result_clear (&r);
  r = run (NULL, "users", "--data-dir", dir, NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==, "alice\n");
  result_clear (&r);

  r = run (NULL, "run", "--data-dir", dir, "--check-config", NULL);
  EXPECT (r, 0);
  g_assert_true (g_str_has_prefix (r.out, "configuration OK"));
  g_assert_nonnull (strstr (r.out, fp));
  result_clear (&r);

  /* A bad config file fails the check, naming FILE:LINE. */
  {
    char *conf = g_build_filename (dir, "securechatd.conf", NULL);

    g_assert_true (g_file_set_contents (
        conf, "idle_timeout = 5\nmax_frame = 1\n", -1, NULL));
    r = run (NULL, "--data-dir", dir, "--check-config", NULL);
    EXPECT (r, 1);
    g_assert_nonnull (strstr (r.err, "securechatd.conf:2: max_frame"));
    result_clear (&r);
    g_unlink (conf);
    g_free (conf);
  }

  /* A key readable by others is refused. */
  g_assert_cmpint (chmod (key, 0644), ==, 0);
  r = run (NULL, "fingerprint", "--data-dir", dir, NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "chmod 600"));
  result_clear (&r);

  {
    char *lock = g_strconcat (creds, ".lock", NULL);
    g_unlink (lock);
    g_free (lock);
  }
  g_unlink (key);
  g_unlink (creds);
  g_rmdir (dir);
  g_free (fp);
  g_free (key_before);
  g_free (key_after);
  g_free (key);
  g_free (creds);
  g_free (dir);
}

static void
test_missing_data_dir (void)
{
  char *dir = g_build_filename (tmpdir, "absent", NULL);
  struct result r;

  r = run (NULL, "users", "--data-dir", dir, NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "init"));
  result_clear (&r);
  r = run (NULL, "run", "--data-dir", dir, NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "does not exist"));
  result_clear (&r);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_free (dir);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("test-admin-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_unsetenv ("STATE_DIRECTORY");
  g_test_add_func ("/server/admin/password/line", test_password_line);
  g_test_add_func ("/server/admin/password/check", test_password_check);
  g_test_add_func ("/server/admin/cli/usage", test_usage);
  g_test_add_func ("/server/admin/cli/accounts", test_accounts);
  g_test_add_func ("/server/admin/cli/missing-data-dir", test_missing_data_dir);
  rc = g_test_run ();
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return rc;
}
