/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The file-backed storage: folder and file modes, atomic replacement,
 * name validation, the size bound, files it must not trust, the lock,
 * and the end-to-end manager on top of it. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "securechat/error.h"
#include "securechat/keystore.h"

struct fixture
{
  char *tmp; /* made by the test */
  char *dir; /* the store: tmp/a/b/store, created by sc_keystore_open */
  struct sc_keystore *ks;
};

static void
fixture_setup (struct fixture *f, gconstpointer data)
{
  f->tmp = g_dir_make_tmp ("test-keystore-XXXXXX", NULL);
  g_assert_nonnull (f->tmp);
  f->dir = g_build_filename (f->tmp, "a", "b", "store", NULL);
  g_assert_cmpint (sc_keystore_open (f->dir, &f->ks), ==, SC_OK);
}

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *p = g_build_filename (path, name, NULL);

      if (g_file_test (p, G_FILE_TEST_IS_DIR) &&
          !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        rm_rf (p);
      else
        g_unlink (p);
      g_free (p);
    }
  g_dir_close (d);
  g_rmdir (path);
}

static void
fixture_teardown (struct fixture *f, gconstpointer data)
{
  sc_keystore_free (f->ks);
  rm_rf (f->tmp);
  g_free (f->tmp);
  g_free (f->dir);
}

static unsigned
mode_of (const char *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static char *
path_in (struct fixture *f, const char *name)
{
  return g_build_filename (f->dir, name, NULL);
}

static gint
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names in a folder, sorted, joined with ','. */
static char *
listing (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  char *out;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (d);
  g_ptr_array_sort (names, cmp_names);
  g_ptr_array_add (names, NULL);
  out = g_strjoinv (",", (char **) names->pdata);
  g_ptr_array_unref (names);
  return out;
}

static void
expect_content (struct fixture *f, const char *name, const char *content)
{
  uint8_t *buf = NULL;
  size_t len = 0;

  g_assert_cmpint (sc_keystore_load (f->ks, name, &buf, &len), ==, SC_OK);
  g_assert_cmpmem (buf, len, content, strlen (content));
  free (buf);
}

static void
put_file (const char *path, const void *data, gsize len, unsigned mode)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, mode);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, len), ==, (ssize_t) len);
  g_assert_cmpint (fchmod (fd, mode), ==, 0);
  close (fd);
}

static void
test_open_creates (struct fixture *f, gconstpointer data)
{
  char *a = g_build_filename (f->tmp, "a", NULL);
  char *ab = g_build_filename (f->tmp, "a", "b", NULL);
  char *lock = path_in (f, ".lock");
  struct sc_keystore *again = NULL;

  g_assert_cmpuint (mode_of (a), ==, 0700);
  g_assert_cmpuint (mode_of (ab), ==, 0700);
  g_assert_cmpuint (mode_of (f->dir), ==, 0700);
  g_assert_cmpuint (mode_of (lock), ==, 0600);
  /* An existing folder is fine. */
  g_assert_cmpint (sc_keystore_open (f->dir, &again), ==, SC_OK);
  sc_keystore_free (again);
  sc_keystore_free (NULL);
  g_assert_cmpint (sc_keystore_open ("", &again), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_keystore_open (NULL, &again), ==, SC_ERR_INVALID);
  g_free (a);
  g_free (ab);
  g_free (lock);
}

static void
test_open_refused (struct fixture *f, gconstpointer data)
{
  char *open_dir = g_build_filename (f->tmp, "shared", NULL);
  char *file = g_build_filename (f->tmp, "file", NULL);
  char *link = g_build_filename (f->tmp, "link", NULL);
  struct sc_keystore *ks = (struct sc_keystore *) 1;

  /* A folder others can enter is not ours to keep secrets in. */
  g_assert_cmpint (g_mkdir (open_dir, 0700), ==, 0);
  g_assert_cmpint (chmod (open_dir, 0755), ==, 0);
  errno = 0;
  g_assert_cmpint (sc_keystore_open (open_dir, &ks), ==, SC_ERR_STORAGE);
  g_assert_cmpint (errno, ==, EPERM);
  g_assert_null (ks);
  /* Not a folder. */
  put_file (file, "x", 1, 0600);
  g_assert_cmpint (sc_keystore_open (file, &ks), ==, SC_ERR_STORAGE);
  /* A symbolic link as the last component. */
  g_assert_cmpint (symlink (f->dir, link), ==, 0);
  g_assert_cmpint (sc_keystore_open (link, &ks), ==, SC_ERR_STORAGE);
  g_free (open_dir);
  g_free (file);
  g_free (link);
}

static void
test_roundtrip (struct fixture *f, gconstpointer data)
{
  char *file = path_in (f, "identity");
  char *sub = path_in (f, "session");
  char *subfile = path_in (f, "session/bob");
  char *list;
  uint8_t *buf = (uint8_t *) 1;
  size_t len = 1;

  g_assert_cmpint (sc_keystore_load (f->ks, "identity", &buf, &len), ==,
                   SC_ERR_NOT_FOUND);
  g_assert_null (buf);
  g_assert_cmpuint (len, ==, 0);
  g_assert_cmpint (sc_keystore_load (f->ks, "session/bob", &buf, &len), ==,
                   SC_ERR_NOT_FOUND);

  g_assert_cmpint (
      sc_keystore_store (f->ks, "identity", (const uint8_t *) "secret", 6), ==,
      SC_OK);
  expect_content (f, "identity", "secret");
  g_assert_cmpuint (mode_of (file), ==, 0600);

  g_assert_cmpint (
      sc_keystore_store (f->ks, "session/bob", (const uint8_t *) "s1", 2), ==,
      SC_OK);
  g_assert_cmpuint (mode_of (sub), ==, 0700);
  g_assert_cmpuint (mode_of (subfile), ==, 0600);
  g_assert_cmpint (
      sc_keystore_store (f->ks, "session/bob", (const uint8_t *) "second", 6),
      ==, SC_OK);
  expect_content (f, "session/bob", "second");
  /* An empty record is a record. */
  g_assert_cmpint (sc_keystore_store (f->ks, "session/carol", NULL, 0), ==,
                   SC_OK);
  g_assert_cmpint (sc_keystore_load (f->ks, "session/carol", &buf, &len), ==,
                   SC_OK);
  g_assert_cmpuint (len, ==, 0);
  free (buf);

  /* No temporary file is left behind. */
  list = listing (sub);
  g_assert_cmpstr (list, ==, "bob,carol");
  g_free (list);
  list = listing (f->dir);
  g_assert_cmpstr (list, ==, ".lock,identity,session");
  g_free (list);

  g_assert_cmpint (sc_keystore_remove (f->ks, "session/bob"), ==, SC_OK);
  g_assert_cmpint (sc_keystore_load (f->ks, "session/bob", &buf, &len), ==,
                   SC_ERR_NOT_FOUND);
  g_assert_cmpint (sc_keystore_remove (f->ks, "session/bob"), ==, SC_OK);
  g_assert_cmpint (sc_keystore_remove (f->ks, "contact/bob"), ==, SC_OK);
  g_assert_cmpint (sc_keystore_remove (f->ks, "identity"), ==, SC_OK);
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  g_assert_cmpstr (sc_keystore_last_error (f->ks), ==, "");

  g_free (file);
  g_free (sub);
  g_free (subfile);
}

static void
test_names (void)
{
  static const char *const good[] = {
    "identity", "session/bob", "contact/a..b", "a", "0", "a-b_c.d", "x/y",
  };
  static const char *const bad[] = {
    "",          ".",     "..",   ".lock",       "a/.b", "a/../b",
    "../a",      "a/b/c", "/a",   "a/",          "a//b", "A",
    "session/B", "a b",   "a\\b", "caf\xc3\xa9", "a\nb", "a:b",
  };
  char longest[SC_KEYSTORE_NAME_MAX + 2];

  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_cmpint (sc_keystore_validate_name (good[i]), ==, SC_OK);
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      if (sc_keystore_validate_name (bad[i]) != SC_ERR_INVALID)
        g_error ("accepted %s", bad[i]);
    }
  g_assert_cmpint (sc_keystore_validate_name (NULL), ==, SC_ERR_INVALID);
  memset (longest, 'a', sizeof longest);
  longest[SC_KEYSTORE_NAME_MAX] = '\0';
  g_assert_cmpint (sc_keystore_validate_name (longest), ==, SC_OK);
  longest[SC_KEYSTORE_NAME_MAX] = 'a';
  longest[SC_KEYSTORE_NAME_MAX + 1] = '\0';
  g_assert_cmpint (sc_keystore_validate_name (longest), ==, SC_ERR_INVALID);
}

static void
test_bad_names_refused (struct fixture *f, gconstpointer data)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  char *outside = g_build_filename (f->tmp, "a", "b", "escaped", NULL);

  g_assert_cmpint (
      sc_keystore_store (f->ks, "../escaped", (const uint8_t *) "x", 1), ==,
      SC_ERR_INVALID);
  g_assert_false (g_file_test (outside, G_FILE_TEST_EXISTS));
  g_assert_cmpint (sc_keystore_load (f->ks, ".lock", &buf, &len), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_keystore_remove (f->ks, ".lock"), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_keystore_store (f->ks, "a/b/c", (const uint8_t *) "x", 1),
                   ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_keystore_store (f->ks, "ok", NULL, 1), ==,
                   SC_ERR_INVALID);
  g_free (outside);
}

static void
test_size_bound (struct fixture *f, gconstpointer data)
{
  uint8_t *big = g_malloc0 (SC_KEYSTORE_FILE_MAX + 1);
  char *path = path_in (f, "big");
  uint8_t *buf = NULL;
  size_t len = 0;

  g_assert_cmpint (sc_keystore_store (f->ks, "big", (const uint8_t *) "old", 3),
                   ==, SC_OK);
  g_assert_cmpint (
      sc_keystore_store (f->ks, "big", big, SC_KEYSTORE_FILE_MAX + 1), ==,
      SC_ERR_TOO_LARGE);
  expect_content (f, "big", "old");
  g_assert_cmpint (sc_keystore_store (f->ks, "big", big, SC_KEYSTORE_FILE_MAX),
                   ==, SC_OK);
  g_assert_cmpint (sc_keystore_load (f->ks, "big", &buf, &len), ==, SC_OK);
  g_assert_cmpuint (len, ==, SC_KEYSTORE_FILE_MAX);
  free (buf);
  /* A file that grew beyond the bound by other means is not read. */
  put_file (path, big, SC_KEYSTORE_FILE_MAX + 1, 0600);
  g_assert_cmpint (sc_keystore_load (f->ks, "big", &buf, &len), ==,
                   SC_ERR_TOO_LARGE);
  g_assert_null (buf);
  g_free (big);
  g_free (path);
}

static void
test_untrusted_files (struct fixture *f, gconstpointer data)
{
  char *path = path_in (f, "identity");
  char *target = g_build_filename (f->tmp, "elsewhere", NULL);
  char *sub = path_in (f, "contact");
  uint8_t *buf = NULL;
  size_t len = 0;

  g_assert_cmpint (
      sc_keystore_store (f->ks, "identity", (const uint8_t *) "k", 1), ==,
      SC_OK);
  /* Readable by the group: refused, with a reason. */
  g_assert_cmpint (chmod (path, 0640), ==, 0);
  g_assert_cmpint (sc_keystore_load (f->ks, "identity", &buf, &len), ==,
                   SC_ERR_STORAGE);
  g_assert_null (buf);
  g_assert_nonnull (strstr (sc_keystore_last_error (f->ks), "identity"));
  g_assert_cmpint (chmod (path, 0604), ==, 0);
  g_assert_cmpint (sc_keystore_load (f->ks, "identity", &buf, &len), ==,
                   SC_ERR_STORAGE);
  /* Storing replaces it with a private file again. */
  g_assert_cmpint (
      sc_keystore_store (f->ks, "identity", (const uint8_t *) "k2", 2), ==,
      SC_OK);
  g_assert_cmpuint (mode_of (path), ==, 0600);
  expect_content (f, "identity", "k2");

  /* A symbolic link is never followed. */
  put_file (target, "evil", 4, 0600);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (symlink (target, path), ==, 0);
  g_assert_cmpint (sc_keystore_load (f->ks, "identity", &buf, &len), ==,
                   SC_ERR_STORAGE);
  /* ... and storing replaces the link, not its target. */
  g_assert_cmpint (
      sc_keystore_store (f->ks, "identity", (const uint8_t *) "k3", 2), ==,
      SC_OK);
  expect_content (f, "identity", "k3");
  {
    char *t = NULL;

    g_assert_true (g_file_get_contents (target, &t, NULL, NULL));
    g_assert_cmpstr (t, ==, "evil");
    g_free (t);
  }

  /* A folder where a file should be. */
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  g_assert_cmpint (
      sc_keystore_store (f->ks, "contact/bob", (const uint8_t *) "c", 1), ==,
      SC_OK);
  g_assert_cmpint (sc_keystore_load (f->ks, "contact", &buf, &len), ==,
                   SC_ERR_STORAGE);
  /* A subfolder others can enter. */
  g_assert_cmpint (chmod (sub, 0755), ==, 0);
  g_assert_cmpint (sc_keystore_load (f->ks, "contact/bob", &buf, &len), ==,
                   SC_ERR_STORAGE);
  g_assert_cmpint (
      sc_keystore_store (f->ks, "contact/bob", (const uint8_t *) "c", 1), ==,
      SC_ERR_STORAGE);
  g_assert_cmpint (chmod (sub, 0700), ==, 0);
  expect_content (f, "contact/bob", "c");
  g_free (path);
  g_free (target);
  g_free (sub);
}

/* A crash mid-write leaves a temporary file that changes nothing; a
 * store that cannot complete leaves the old content and no temporary
 * file. */
static void
test_atomic (struct fixture *f, gconstpointer data)
{
  char *tmpfile = path_in (f, ".identity.tmp.0123456789abcdef");
  char *sub = path_in (f, "session");
  char *list;

  g_assert_cmpint (
      sc_keystore_store (f->ks, "identity", (const uint8_t *) "old", 3), ==,
      SC_OK);
  put_file (tmpfile, "half", 4, 0600);
  expect_content (f, "identity", "old");
  g_assert_cmpint (
      sc_keystore_store (f->ks, "identity", (const uint8_t *) "new", 3), ==,
      SC_OK);
  expect_content (f, "identity", "new");

  /* "session" is a folder: a record of that name cannot replace it. */
  g_assert_cmpint (
      sc_keystore_store (f->ks, "session/bob", (const uint8_t *) "s", 1), ==,
      SC_OK);
  g_assert_cmpint (
      sc_keystore_store (f->ks, "session", (const uint8_t *) "x", 1), ==,
      SC_ERR_STORAGE);
  g_assert_cmpstr (sc_keystore_last_error (f->ks), !=, "");
  list = listing (f->dir);
  g_assert_cmpstr (list, ==,
                   ".identity.tmp.0123456789abcdef,.lock,identity,session");
  g_free (list);
  list = listing (sub);
  g_assert_cmpstr (list, ==, "bob");
  g_free (list);
  g_free (tmpfile);
  g_free (sub);
}

static void
test_lock (struct fixture *f, gconstpointer data)
{
  char *lock = path_in (f, ".lock");
  pid_t pid;
  int status = 0;

  g_assert_cmpint (sc_keystore_lock (f->ks), ==, SC_OK);
  g_assert_cmpint (sc_keystore_lock (f->ks), ==, SC_ERR_STATE);

  /* Another process sees the lock held. */
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      int fd = open (lock, O_RDWR);
      struct flock fl;

      memset (&fl, 0, sizeof fl);
      fl.l_type = F_WRLCK;
      fl.l_whence = SEEK_SET;
      if (fd < 0 || fcntl (fd, F_GETLK, &fl) < 0)
        _exit (2);
      _exit (fl.l_type == F_WRLCK && fl.l_pid == getppid () ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  sc_keystore_unlock (f->ks);
  sc_keystore_unlock (f->ks);
  g_assert_cmpint (sc_keystore_lock (f->ks), ==, SC_OK);
  sc_keystore_unlock (f->ks);
  g_free (lock);
}

/* The manager on the real storage: files private, state kept. */
static void
test_with_e2e (struct fixture *f, gconstpointer data)
{
  const struct sc_e2e_storage *st = sc_keystore_storage (f->ks);
  struct sc_e2e *e = NULL;
  struct sc_identity_public a, b;
  char *identity = path_in (f, "identity");

  g_assert_nonnull (st);
  g_assert_null (sc_keystore_storage (NULL));
  g_assert_cmpint (sc_e2e_open (st, "localhost:12345", "alice", &e), ==, SC_OK);
  g_assert_true (sc_e2e_identity_created (e));
  sc_e2e_identity (e, &a);
  sc_e2e_free (e);
  g_assert_cmpuint (mode_of (identity), ==, 0600);

  g_assert_cmpint (sc_e2e_open (st, "localhost:12345", "alice", &e), ==, SC_OK);
  g_assert_false (sc_e2e_identity_created (e));
  sc_e2e_identity (e, &b);
  g_assert_true (sc_identity_public_equal (&a, &b));
  sc_e2e_free (e);
  g_free (identity);
}

#define ADD(path, fn)                                                          \
  g_test_add (path, struct fixture, NULL, fixture_setup, fn, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  ADD ("/common/keystore/open/creates", test_open_creates);
  ADD ("/common/keystore/open/refused", test_open_refused);
  ADD ("/common/keystore/roundtrip", test_roundtrip);
  g_test_add_func ("/common/keystore/names", test_names);
  ADD ("/common/keystore/names/refused", test_bad_names_refused);
  ADD ("/common/keystore/size-bound", test_size_bound);
  ADD ("/common/keystore/untrusted-files", test_untrusted_files);
  ADD ("/common/keystore/atomic", test_atomic);
  ADD ("/common/keystore/lock", test_lock);
  ADD ("/common/keystore/e2e", test_with_e2e);

  return g_test_run ();
}
