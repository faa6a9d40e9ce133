/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "known-servers.h"
#include "securechat/error.h"

/* Three valid fingerprints, made from fixed keys. */
static char fp1[SC_FINGERPRINT_LEN + 1];
static char fp2[SC_FINGERPRINT_LEN + 1];
static char fp3[SC_FINGERPRINT_LEN + 1];

static void
make_fingerprints (void)
{
  uint8_t pub[SC_X25519_LEN];

  memset (pub, 1, sizeof pub);
  g_assert_cmpint (sc_fingerprint (pub, fp1), ==, SC_OK);
  memset (pub, 2, sizeof pub);
  g_assert_cmpint (sc_fingerprint (pub, fp2), ==, SC_OK);
  memset (pub, 3, sizeof pub);
  g_assert_cmpint (sc_fingerprint (pub, fp3), ==, SC_OK);
}

static struct known_servers *
parse (const char *text)
{
  struct known_servers *ks = NULL;

  g_assert_cmpint (known_servers_parse (text, strlen (text), &ks), ==, 0);
  g_assert_nonnull (ks);
  return ks;
}

static char *
format (const struct known_servers *ks)
{
  char *out = NULL;
  size_t len = 0;

  g_assert_cmpint (known_servers_format (ks, &out, &len), ==, 0);
  g_assert_cmpuint (strlen (out), ==, len);
  return out;
}

static void
test_parse_lookup (void)
{
  char *text = g_strdup_printf ("# my servers\n"
                                "\n"
                                "chat.example.org:12345 %s\n"
                                "  [::1]:4000\t%s  \n"
                                "localhost:99 %s\r\n"
                                "   # indented comment\n",
                                fp1, fp2, fp3);
  struct known_servers *ks = parse (text);
  size_t line = 99;

  g_assert_cmpuint (known_servers_n_problems (ks), ==, 0);
  g_assert_cmpstr (known_servers_lookup (ks, "chat.example.org:12345", &line),
                   ==, fp1);
  g_assert_cmpuint (line, ==, 3);
  g_assert_cmpstr (known_servers_lookup (ks, "[::1]:4000", &line), ==, fp2);
  g_assert_cmpuint (line, ==, 4);
  g_assert_cmpstr (known_servers_lookup (ks, "localhost:99", NULL), ==, fp3);
  /* Host names compare without case; ports must match exactly. */
  g_assert_cmpstr (known_servers_lookup (ks, "CHAT.example.org:12345", NULL),
                   ==, fp1);
  g_assert_null (known_servers_lookup (ks, "chat.example.org:1234", &line));
  g_assert_cmpuint (line, ==, 0);
  g_assert_null (known_servers_lookup (ks, "chat.example.org", NULL));
  g_assert_null (known_servers_lookup (ks, "# my servers", NULL));
  known_servers_free (ks);
  g_free (text);
}

static void
test_malformed (void)
{
  char *text = g_strdup_printf ("onlyonefield\n"             /* 1 */
                                "host:1 not-a-fingerprint\n" /* 2 */
                                "host %s\n"                  /* 3 */
                                "host:0 %s\n"                /* 4 */
                                "host:1 %s extra\n"          /* 5 */
                                "host:080 %s\n"              /* 6 */
                                "ho/st:1 %s\n"               /* 7 */
                                "::1:1 %s\n"                 /* 8 */
                                "host:65536 %s\n"            /* 9 */
                                "good.example:7 %s\n"        /* 10 */
                                "host:1 %.49s\n",            /* 11 */
                                fp1, fp1, fp1, fp1, fp1, fp1, fp1, fp2, fp1);
  struct known_servers *ks = parse (text);
  size_t line = 0;
  char *out;

  g_assert_cmpuint (known_servers_n_problems (ks), ==, 10);
  for (size_t i = 0; i < 9; i++)
    {
      g_assert_nonnull (known_servers_problem (ks, i, &line));
      g_assert_cmpuint (line, ==, i + 1);
    }
  g_assert_nonnull (known_servers_problem (ks, 9, &line));
  g_assert_cmpuint (line, ==, 11);
  g_assert_null (known_servers_problem (ks, 10, &line));
  g_assert_cmpuint (line, ==, 0);

  /* Malformed lines hide nothing and match nothing... */
  g_assert_null (known_servers_lookup (ks, "host:1", NULL));
  g_assert_cmpstr (known_servers_lookup (ks, "good.example:7", &line), ==, fp2);
  g_assert_cmpuint (line, ==, 10);
  /* ...and survive a rewrite unchanged. */
  out = format (ks);
  g_assert_cmpstr (out, ==, text);
  g_free (out);
  known_servers_free (ks);
  g_free (text);
}

static void
test_nul_byte (void)
{
  static const char text[] = "a:1 x\0y\nb:2 z\n";
  struct known_servers *ks = NULL;
  size_t line = 0;

  g_assert_cmpint (known_servers_parse (text, sizeof text - 1, &ks), ==, 0);
  g_assert_cmpuint (known_servers_n_problems (ks), ==, 2);
  g_assert_nonnull (known_servers_problem (ks, 0, &line));
  g_assert_cmpuint (line, ==, 1);
  known_servers_free (ks);
}

static void
test_set (void)
{
  char *text = g_strdup_printf ("# keep me\n"
                                "a.example:1 %s\n"
                                "garbage line here\n"
                                "b.example:2 %s",
                                fp1, fp2);
  struct known_servers *ks = parse (text);
  char *out;
  char *want;

  /* Replacing changes that line only; adding appends; the missing final
   * newline is added. */
  g_assert_cmpint (known_servers_set (ks, "a.example:1", fp3), ==, 0);
  g_assert_cmpint (known_servers_set (ks, "[::1]:12345", fp1), ==, 0);
  g_assert_cmpstr (known_servers_lookup (ks, "a.example:1", NULL), ==, fp3);
  g_assert_cmpstr (known_servers_lookup (ks, "[::1]:12345", NULL), ==, fp1);
  out = format (ks);
  want = g_strdup_printf ("# keep me\n"
                          "a.example:1 %s\n"
                          "garbage line here\n"
                          "b.example:2 %s\n"
                          "[::1]:12345 %s\n",
                          fp3, fp2, fp1);
  g_assert_cmpstr (out, ==, want);
  g_free (out);
  g_free (want);

  /* Setting the same again is idempotent. */
  g_assert_cmpint (known_servers_set (ks, "[::1]:12345", fp1), ==, 0);
  out = format (ks);
  g_assert_nonnull (strstr (out, "[::1]:12345"));
  g_assert_null (strstr (strstr (out, "[::1]:12345") + 1, "[::1]:12345"));
  g_free (out);

  g_assert_cmpint (known_servers_set (ks, "no-port", fp1), ==, -EINVAL);
  g_assert_cmpint (known_servers_set (ks, "a:1", "SHA256:short"), ==, -EINVAL);
  g_assert_cmpint (known_servers_set (ks, "a b:1", fp1), ==, -EINVAL);
  g_assert_cmpint (known_servers_set (ks, "a:1\nb:2", fp1), ==, -EINVAL);
  known_servers_free (ks);
  g_free (text);
}

static void
test_duplicates (void)
{
  char *text = g_strdup_printf ("x.example:1 %s\nx.example:1 %s\n", fp1, fp2);
  struct known_servers *ks = parse (text);
  size_t line = 0;
  char *out;
  char *want;

  g_assert_cmpstr (known_servers_lookup (ks, "x.example:1", &line), ==, fp1);
  g_assert_cmpuint (line, ==, 1);
  g_assert_cmpint (known_servers_set (ks, "x.example:1", fp3), ==, 0);
  out = format (ks);
  want = g_strdup_printf ("x.example:1 %s\nx.example:1 %s\n", fp3, fp2);
  g_assert_cmpstr (out, ==, want);
  g_free (out);
  g_free (want);
  known_servers_free (ks);
  g_free (text);
}

static void
test_empty (void)
{
  struct known_servers *ks = parse ("");
  char *out = format (ks);

  g_assert_cmpstr (out, ==, "");
  g_assert_null (known_servers_lookup (ks, "a:1", NULL));
  g_free (out);
  known_servers_free (ks);
}

static void
test_valid_server (void)
{
  static const char *const good[] = {
    "a:1",       "localhost:12345",   "chat.example.org:65535",
    "[::1]:1",   "[fe80::1%eth0]:80", "10.0.0.1:443",
    "A-b_c.D:9",
  };
  static const char *const bad[] = {
    "",     "a",     "a:",   ":1",    "a:0",   "a:01", "a:65536", "a:123456",
    "a:1x", "::1:1", "[]:1", "[::1]", "a b:1", "a#:1", "a:1 ",    "[a]b:1",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (known_servers_valid_server (good[i], strlen (good[i])));
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("bad: '%s'", bad[i]);
      g_assert_false (known_servers_valid_server (bad[i], strlen (bad[i])));
    }
  /* The length counts, not a NUL. */
  g_assert_true (known_servers_valid_server ("a:12 junk", 4));
}

/* ---- files ---- */

static char *
temp_dir (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("test-known-servers-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *path)
{
  char *cmd = g_strdup_printf ("rm -rf '%s'", path);

  g_assert_cmpint (system (cmd), ==, 0);
  g_free (cmd);
}

static char *
read_text (const char *path)
{
  char *text = NULL;
  GError *error = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

static void
test_load_save (void)
{
  char *dir = temp_dir ();
  char *path =
      g_build_filename (dir, "cfg", "securechat", "known_servers", NULL);
  char *sub = g_build_filename (dir, "cfg", NULL);
  char *sub2 = g_build_filename (dir, "cfg", "securechat", NULL);
  struct known_servers *ks = NULL;
  struct stat st;
  char *text;
  char *want;
  GDir *d;
  const char *name;
  int n_files = 0;
  mode_t old_umask;

  /* A missing file is an empty list. */
  g_assert_cmpint (known_servers_load (path, &ks), ==, 0);
  g_assert_null (known_servers_lookup (ks, "a:1", NULL));
  g_assert_cmpint (known_servers_set (ks, "a:1", fp1), ==, 0);

  /* Missing folders are created 0700, the file is 0600 whatever the
   * umask. */
  old_umask = umask (0);
  g_assert_cmpint (known_servers_save (ks, path), ==, 0);
  umask (old_umask);
  known_servers_free (ks);
  g_assert_cmpint (stat (sub, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpint (stat (sub2, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  text = read_text (path);
  want = g_strdup_printf ("a:1 %s\n", fp1);
  g_assert_cmpstr (text, ==, want);
  g_free (text);
  g_free (want);

  /* A hand-edited file with loose permissions: the rewrite keeps its
   * comments and tightens the mode. */
  want = g_strdup_printf ("# hand-written\na:1 %s\nbroken\n", fp1);
  g_assert_true (g_file_set_contents (path, want, -1, NULL));
  g_assert_cmpint (chmod (path, 0644), ==, 0);
  g_assert_cmpint (known_servers_load (path, &ks), ==, 0);
  g_assert_cmpuint (known_servers_n_problems (ks), ==, 1);
  g_assert_cmpstr (known_servers_lookup (ks, "a:1", NULL), ==, fp1);
  g_assert_cmpint (known_servers_set (ks, "b:2", fp2), ==, 0);
  g_assert_cmpint (known_servers_save (ks, path), ==, 0);
  known_servers_free (ks);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  text = read_text (path);
  g_free (want);
  want = g_strdup_printf ("# hand-written\na:1 %s\nbroken\nb:2 %s\n", fp1, fp2);
  g_assert_cmpstr (text, ==, want);
  g_free (text);
  g_free (want);

  /* No temporary file is left behind. */
  d = g_dir_open (sub2, 0, NULL);
  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_assert_cmpstr (name, ==, "known_servers");
      n_files++;
    }
  g_dir_close (d);
  g_assert_cmpint (n_files, ==, 1);

  rm_rf (dir);
  g_free (sub);
  g_free (sub2);
  g_free (path);
  g_free (dir);
}

static void
test_load_errors (void)
{
  char *dir = temp_dir ();
  char *path = g_build_filename (dir, "known_servers", NULL);
  struct known_servers *ks = (struct known_servers *) 1;
  char *big;
  int fd;

  /* A folder where the file should be. */
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_assert_cmpint (known_servers_load (path, &ks), ==, -EISDIR);
  g_assert_null (ks);
  g_assert_cmpint (g_rmdir (path), ==, 0);

  /* Too large. */
  big = g_malloc (KNOWN_SERVERS_FILE_MAX + 1);
  memset (big, '#', KNOWN_SERVERS_FILE_MAX + 1);
  g_assert_true (
      g_file_set_contents (path, big, KNOWN_SERVERS_FILE_MAX + 1, NULL));
  g_assert_cmpint (known_servers_load (path, &ks), ==, -EFBIG);
  g_free (big);

  /* Unreadable (root reads anything, so only check as another user). */
  if (geteuid () != 0)
    {
      g_assert_true (g_file_set_contents (path, "", 0, NULL));
      g_assert_cmpint (chmod (path, 0), ==, 0);
      g_assert_cmpint (known_servers_load (path, &ks), ==, -EACCES);
    }

  /* A save into a place that cannot hold a folder. */
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  {
    char *under_file = g_build_filename (path, "sub", "known_servers", NULL);
    struct known_servers *empty = parse ("");

    g_assert_cmpint (known_servers_save (empty, under_file), <, 0);
    g_assert_cmpint (known_servers_lock (under_file), <, 0);
    known_servers_free (empty);
    g_free (under_file);
  }

  rm_rf (dir);
  g_free (path);
  g_free (dir);
}

static void
test_lock (void)
{
  char *dir = temp_dir ();
  char *path = g_build_filename (dir, "new", "known_servers", NULL);
  char *sub = g_build_filename (dir, "new", NULL);
  int lock;
  int other;

  lock = known_servers_lock (path);
  g_assert_cmpint (lock, >=, 0);
  /* The folder now exists, and another holder is kept out. */
  other = open (sub, O_RDONLY | O_DIRECTORY);
  g_assert_cmpint (other, >=, 0);
  g_assert_cmpint (flock (other, LOCK_EX | LOCK_NB), ==, -1);
  g_assert_cmpint (errno, ==, EWOULDBLOCK);
  known_servers_unlock (lock);
  g_assert_cmpint (flock (other, LOCK_EX | LOCK_NB), ==, 0);
  close (other);

  rm_rf (dir);
  g_free (sub);
  g_free (path);
  g_free (dir);
}

static void
test_default_path (void)
{
  char *p;

  g_setenv ("XDG_CONFIG_HOME", "/xdg", TRUE);
  g_setenv ("HOME", "/home/someone", TRUE);
  p = known_servers_default_path ();
  g_assert_cmpstr (p, ==, "/xdg/securechat/known_servers");
  free (p);

  /* A relative XDG_CONFIG_HOME is ignored, as the spec says. */
  g_setenv ("XDG_CONFIG_HOME", "relative", TRUE);
  p = known_servers_default_path ();
  g_assert_cmpstr (p, ==, "/home/someone/.config/securechat/known_servers");
  free (p);

  g_setenv ("XDG_CONFIG_HOME", "", TRUE);
  p = known_servers_default_path ();
  g_assert_cmpstr (p, ==, "/home/someone/.config/securechat/known_servers");
  free (p);

  g_unsetenv ("XDG_CONFIG_HOME");
  p = known_servers_default_path ();
  g_assert_cmpstr (p, ==, "/home/someone/.config/securechat/known_servers");
  free (p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  make_fingerprints ();

  g_test_add_func ("/cli/known-servers/parse/lookup", test_parse_lookup);
  g_test_add_func ("/cli/known-servers/parse/malformed", test_malformed);
  g_test_add_func ("/cli/known-servers/parse/nul-byte", test_nul_byte);
  g_test_add_func ("/cli/known-servers/parse/empty", test_empty);
  g_test_add_func ("/cli/known-servers/set/add-replace", test_set);
  g_test_add_func ("/cli/known-servers/set/duplicates", test_duplicates);
  g_test_add_func ("/cli/known-servers/valid-server", test_valid_server);
  g_test_add_func ("/cli/known-servers/file/load-save", test_load_save);
  g_test_add_func ("/cli/known-servers/file/errors", test_load_errors);
  g_test_add_func ("/cli/known-servers/file/lock", test_lock);
  g_test_add_func ("/cli/known-servers/default-path", test_default_path);

  return g_test_run ();
}
