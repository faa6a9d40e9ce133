/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/admin.c: the securechatd command line, run in-process with stdin,
 * stdout and stderr redirected: password input rules, exit codes, and what
 * each command leaves on disk. */
#include <glib.h>

#include "securechat/init.h"
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "auth.h"
#include "prekeys.h"
#include "store.h"
#include "securechat/error.h"
#include "securechat/identity.h"
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
remove_tree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d == NULL)
    {
      g_remove (path);
      return;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *p = g_build_filename (path, name, NULL);
      struct stat sb;

      if (lstat (p, &sb) == 0 && S_ISDIR (sb.st_mode))
        remove_tree (p);
      else
        g_unlink (p);
      g_free (p);
    }
  g_dir_close (d);
  g_rmdir (path);
}

/* Publishes a bundle for user in dir/prekeys as the server would, with
 * n_opks one-time prekeys. */
static void
publish (const char *dir, const char *user, size_t n_opks)
{
  struct sc_msg_opk opks[4];
  struct sc_msg_prekeys_upload up;
  struct prekeys_upload_info info;
  struct sc_identity id;
  struct prekeys *pk = NULL;
  char err[256] = "";
  size_t i;

  g_assert_cmpuint (n_opks, <=, G_N_ELEMENTS (opks));
  g_assert_cmpint (sc_identity_generate (&id), ==, SC_OK);
  memset (&up, 0, sizeof up);
  memcpy (up.identity, id.pub.dh, SC_X25519_LEN);
  memcpy (up.identity + SC_X25519_LEN, id.pub.sig, SC_ED25519_LEN);
  up.spk_id = 1;
  memset (up.spk, 0x42, sizeof up.spk);
  g_assert_cmpint (sc_spk_sign (&id, up.spk_id, up.spk, up.spk_sig), ==, SC_OK);
  for (i = 0; i < n_opks; i++)
    {
      opks[i].id = (uint32_t) i + 1;
      memset (opks[i].key, (int) i + 1, sizeof opks[i].key);
    }
  up.opks = opks;
  up.n_opks = n_opks;
  g_assert_cmpint (prekeys_open (dir, &pk, err, sizeof err), ==, PREKEYS_OK);
  if (prekeys_upload (pk, user, &up, &info, err, sizeof err) != PREKEYS_OK)
    g_error ("prekeys_upload: %s", err);
  prekeys_free (pk);
  sc_identity_wipe (&id);
}

/* PREKEYS_OK with what the server would hand out for user, or
 * PREKEYS_NONE. */
static int
take_bundle (const char *dir, const char *user, struct sc_msg_bundle *b)
{
  struct prekeys *pk = NULL;
  char err[256] = "";
  uint32_t left;
  int rc;

  g_assert_cmpint (prekeys_open (dir, &pk, err, sizeof err), ==, PREKEYS_OK);
  rc = prekeys_take_bundle (pk, user, b, &left, err, sizeof err);
  if (rc == PREKEYS_ERROR)
    g_error ("prekeys_take_bundle: %s", err);
  prekeys_free (pk);
  return rc;
}

/* userdel deletes the user's published prekeys once the credentials are
 * gone, so that a new account of the same name starts with none. */
static void
test_userdel_prekeys (void)
{
  char *dir = g_build_filename (tmpdir, "userdel", NULL);
  char *pk_dir = g_build_filename (dir, PREKEYS_DIR_NAME, NULL);
  char *bob_file = g_build_filename (pk_dir, "bob.json", NULL);
  char *alice_file = g_build_filename (pk_dir, "alice.json", NULL);
  char *dave_file = g_build_filename (pk_dir, "dave.json", NULL);
  char *inner = g_build_filename (dave_file, "x", NULL);
  char *alice_before = NULL, *alice_after = NULL;
  struct sc_msg_bundle b;
  struct result r;

  r = run (NULL, "init", "--data-dir", dir, NULL);
  EXPECT (r, 0);
  result_clear (&r);
  r = run (NULL, "userdel", "--help", NULL);
  EXPECT (r, 0);
  g_assert_nonnull (strstr (r.out, "prekeys (DIR/prekeys/NAME.json)"));
  result_clear (&r);

  r = run ("pw\n", "useradd", "--data-dir", dir, "alice", NULL);
  EXPECT (r, 0);
  result_clear (&r);
  r = run ("pw\n", "useradd", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 0);
  result_clear (&r);
  publish (dir, "alice", 2);
  publish (dir, "bob", 3);
  g_assert_true (g_file_test (bob_file, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_get_contents (alice_file, &alice_before, NULL, NULL));

  /* A user that does not exist: nothing is touched. */
  r = run (NULL, "userdel", "--data-dir", dir, "carol", NULL);
  EXPECT (r, 1);
  g_assert_nonnull (strstr (r.err, "no such user"));
  result_clear (&r);
  g_assert_true (g_file_test (bob_file, G_FILE_TEST_IS_REGULAR));

  /* The bundle goes with the account, and only bob's; nothing of it is
   * printed. */
  r = run (NULL, "userdel", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==,
                   "deleted user bob\n"
                   "deleted the published prekeys of bob\n");
  g_assert_cmpstr (r.err, ==, "");
  result_clear (&r);
  g_assert_false (g_file_test (bob_file, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (alice_file, &alice_after, NULL, NULL));
  g_assert_cmpstr (alice_before, ==, alice_after);

  /* A new bob hands out nothing until he publishes his own. */
  r = run ("pw2\n", "useradd", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 0);
  result_clear (&r);
  g_assert_cmpint (take_bundle (dir, "bob", &b), ==, PREKEYS_NONE);
  g_assert_cmpint (take_bundle (dir, "alice", &b), ==, PREKEYS_OK);
  g_assert_true (b.has_opk);
  g_assert_cmpuint (b.opk_id, ==, 1);

  /* Without a bundle (bob's is gone), and without a prekeys folder at all:
   * only the account. */
  r = run (NULL, "userdel", "--data-dir", dir, "bob", NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==, "deleted user bob\n");
  g_assert_cmpstr (r.err, ==, "");
  result_clear (&r);
  remove_tree (pk_dir);
  r = run (NULL, "userdel", "--data-dir", dir, "alice", NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==, "deleted user alice\n");
  result_clear (&r);
  g_assert_false (g_file_test (pk_dir, G_FILE_TEST_EXISTS));

  /* A bundle that cannot be deleted fails the command, after the account
   * is gone, and says which file to remove. */
  r = run ("pw\n", "useradd", "--data-dir", dir, "dave", NULL);
  EXPECT (r, 0);
  result_clear (&r);
  g_assert_cmpint (g_mkdir_with_parents (inner, 0700), ==, 0);
  r = run (NULL, "userdel", "--data-dir", dir, "dave", NULL);
  EXPECT (r, 1);
  g_assert_cmpstr (r.out, ==, "deleted user dave\n");
  g_assert_nonnull (strstr (r.err, "cannot delete the prekeys of dave"));
  g_assert_nonnull (strstr (r.err, "/prekeys/dave.json before adding dave"));
  result_clear (&r);
  r = run (NULL, "users", "--data-dir", dir, NULL);
  EXPECT (r, 0);
  g_assert_cmpstr (r.out, ==, "");
  result_clear (&r);

  remove_tree (dir);
  g_free (alice_before);
  g_free (alice_after);
  g_free (inner);
  g_free (dave_file);
  g_free (alice_file);
  g_free (bob_file);
  g_free (pk_dir);
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
  /* As securechatd does: jansson's blocks come from the wiping allocator,
   * which the store's own dumps must not be mixed with. */
  g_assert_cmpint (sc_init (), ==, 0);
  tmpdir = g_dir_make_tmp ("test-admin-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_unsetenv ("STATE_DIRECTORY");
  g_test_add_func ("/server/admin/password/line", test_password_line);
  g_test_add_func ("/server/admin/password/check", test_password_check);
  g_test_add_func ("/server/admin/cli/usage", test_usage);
  g_test_add_func ("/server/admin/cli/accounts", test_accounts);
  g_test_add_func ("/server/admin/cli/missing-data-dir", test_missing_data_dir);
  g_test_add_func ("/server/admin/cli/userdel/prekeys", test_userdel_prekeys);
  rc = g_test_run ();
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return rc;
}
