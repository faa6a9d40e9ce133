/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/store.c: the seed's credentials.json, every operation and its
 * precondition, entries kept verbatim, atomic 0600 writes, and concurrent
 * writers in two processes. */
#include <glib.h>

#include "securechat/init.h"
#include <glib/gstdio.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

/* A bcrypt hash of "1234" in the seed's format. */
#define SEED_HASH "$2b$12$65/Be1E4hGtwfHia4vAU4ehRaWnaKym5UqEWIAqJg9rEeUZgMkimm"

struct fixture
{
  char *dir;
  char *path;
};

static void
fixture_setup (struct fixture *f, gconstpointer data)
{
  (void) data;
  f->dir = g_dir_make_tmp ("test-store-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, STORE_FILE_NAME, NULL);
}

static void
fixture_teardown (struct fixture *f, gconstpointer data)
{
  GDir *d = g_dir_open (f->dir, 0, NULL);
  const char *name;

  (void) data;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      char *p = g_build_filename (f->dir, name, NULL);
      g_unlink (p);
      g_free (p);
    }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static void
write_text (const char *path, const char *text)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_cmpint (chmod (path, 0600), ==, 0);
}

static char *
read_text (const char *path)
{
  char *s = NULL;

  g_assert_true (g_file_get_contents (path, &s, NULL, NULL));
  return s;
}

static struct store *
open_ok (const char *path)
{
  struct store *st = NULL;
  char err[512] = "";

  if (store_open (path, &st, err, sizeof err) != 0)
    g_error ("store_open: %s", err);
  g_assert_nonnull (st);
  return st;
}

/* The folder holds exactly the expected names (no temp files). */
static void
assert_dir_is (const char *dir, const char *const *names)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  GPtrArray *seen = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  size_t i;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (seen, g_strdup (name));
  g_dir_close (d);
  for (i = 0; names[i] != NULL; i++)
    g_assert_true (
        g_ptr_array_find_with_equal_func (seen, names[i], g_str_equal, NULL));
  g_assert_cmpuint (seen->len, ==, i);
  g_ptr_array_unref (seen);
}

static void
test_seed_format (struct fixture *f, gconstpointer data)
{
  struct store *st;

  (void) data;
  write_text (f->path, "{\"kitty\": \"" SEED_HASH "\"}");
  st = open_ok (f->path);
  g_assert_cmpuint (store_count (st), ==, 1);
  g_assert_cmpuint (store_count_unusable (st), ==, 0);
  g_assert_cmpstr (store_lookup (st, "kitty"), ==, SEED_HASH);
  g_assert_null (store_lookup (st, "kitt"));
  g_assert_null (store_lookup (st, "kitty2"));
  g_assert_null (store_lookup (st, ""));
  store_free (st);
}

static void
collect (const char *user, const char *hash, void *ud)
{
  GString *s = ud;

  g_string_append_printf (s, "%s=%s;", user, hash);
}

static void
test_unusable_kept (struct fixture *f, gconstpointer data)
{
  static const char text[] =
      "{\"zed\": \"h-z\", \"Bad Name\": \"$y$x\", \"bob\": 5,"
      " \"alice\": \"h-a\", \"nested\": {\"a\": [1, 2.5, null, true]},"
      " \"caf\\u00e9\": \"h\", \"-dash\": \"h\", \"big\": 1e300}";
  json_t *before, *after;
  json_error_t jerr;
  struct store *st;
  GString *s = g_string_new ("");
  char err[256];

  (void) data;
  write_text (f->path, text);
  before = json_loads (text, 0, &jerr);
  g_assert_nonnull (before);

  st = open_ok (f->path);
  g_assert_cmpuint (store_count (st), ==, 2);
  g_assert_cmpuint (store_count_unusable (st), ==, 6);
  store_foreach (st, collect, s);
  g_assert_cmpstr (s->str, ==, "alice=h-a;zed=h-z;");
  g_assert_null (store_lookup (st, "bob"));
  g_assert_null (store_lookup (st, "nested"));

  /* Adding over an entry we cannot use is refused: it stays as it is. */
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "bob", "$y$new", NULL, err, sizeof err), ==,
      1);
  /* passwd cannot target it either (not a usable user). */
  g_assert_cmpint (
      store_modify (st, STORE_SET, "bob", "$y$new", NULL, err, sizeof err), ==,
      1);

  g_assert_cmpint (
      store_modify (st, STORE_ADD, "carol", "h-c", NULL, err, sizeof err), ==,
      0);
  g_assert_cmpint (
      store_modify (st, STORE_DELETE, "zed", NULL, NULL, err, sizeof err), ==,
      0);

  after = json_load_file (f->path, JSON_REJECT_DUPLICATES, &jerr);
  g_assert_nonnull (after);
  json_object_del (before, "zed");
  json_object_set_new (before, "carol", json_string ("h-c"));
  g_assert_true (json_equal (before, after));

  /* userdel can remove an unusable entry with a valid name. */
  g_assert_cmpint (
      store_modify (st, STORE_DELETE, "bob", NULL, NULL, err, sizeof err), ==,
      0);
  g_assert_cmpuint (store_count_unusable (st), ==, 5);

  json_decref (before);
  json_decref (after);
  g_string_free (s, TRUE);
  store_free (st);
}

/* store_parse: the loader's parser over text in memory, with lookups and
 * listings, and no file to refresh or write. */
static void
test_parse_memory (struct fixture *f, gconstpointer data)
{
  static const char text[] = "{\"zed\": \"h-z\", \"Bad Name\": \"h\", "
                             "\"alice\": \"h-a\", \"bob\": 5}";
  struct store *st = NULL;
  GString *s = g_string_new ("");
  bool reloaded = true;
  char err[256] = "";

  (void) data;
  g_assert_cmpint (
      store_parse ("mem.json", text, sizeof text - 1, &st, err, sizeof err), ==,
      0);
  g_assert_nonnull (st);
  g_assert_cmpuint (store_count (st), ==, 2);
  g_assert_cmpuint (store_count_unusable (st), ==, 2);
  store_foreach (st, collect, s);
  g_assert_cmpstr (s->str, ==, "alice=h-a;zed=h-z;");
  g_assert_cmpstr (store_lookup (st, "zed"), ==, "h-z");

  g_assert_cmpint (store_refresh (st, &reloaded, err, sizeof err), ==, -1);
  g_assert_false (reloaded);
  g_assert_cmpint (store_reload (st, err, sizeof err), ==, -1);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "carol", "h-c", NULL, err, sizeof err), ==,
      -1);
  g_assert_cmpuint (store_count (st), ==, 2);
  /* Nothing was written anywhere. */
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  store_free (st);

  /* len bounds the text; NULL with 0 is an empty text (not JSON). */
  g_assert_cmpint (store_parse ("m", "{}junk", 2, &st, err, sizeof err), ==, 0);
  g_assert_cmpuint (store_count (st), ==, 0);
  store_free (st);
  g_assert_cmpint (store_parse ("m", NULL, 0, &st, err, sizeof err), ==, -1);
  g_assert_null (st);
  g_assert_true (g_str_has_prefix (err, "m:1:"));
  g_assert_cmpint (store_parse (NULL, "{}", 2, &st, err, sizeof err), ==, -1);
  g_string_free (s, TRUE);
}

static void
test_operations (struct fixture *f, gconstpointer data)
{
  struct store *st;
  char err[256];
  char *text;

  (void) data;
  g_assert_cmpint (store_create (f->path, err, sizeof err), ==, 0);
  text = read_text (f->path);
  g_assert_cmpstr (text, ==, "{}\n");
  g_free (text);
  st = open_ok (f->path);
  g_assert_cmpuint (store_count (st), ==, 0);

  /* add */
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "bob", "$y$b1", NULL, err, sizeof err), ==,
      0);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "alice", "$y$a1", NULL, err, sizeof err), ==,
      0);
  g_assert_cmpstr (store_lookup (st, "alice"), ==, "$y$a1");
  g_assert_cmpuint (store_count (st), ==, 2);
  text = read_text (f->path);
  g_assert_cmpstr (text, ==,
                   "{\n  \"alice\": \"$y$a1\",\n  \"bob\": \"$y$b1\"\n}\n");
  g_free (text);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "alice", "$y$a2", NULL, err, sizeof err), ==,
      1);
  g_assert_cmpstr (store_lookup (st, "alice"), ==, "$y$a1");

  /* set (passwd) */
  g_assert_cmpint (
      store_modify (st, STORE_SET, "alice", "$y$a2", NULL, err, sizeof err), ==,
      0);
  g_assert_cmpstr (store_lookup (st, "alice"), ==, "$y$a2");
  g_assert_cmpint (
      store_modify (st, STORE_SET, "carol", "$y$c1", NULL, err, sizeof err), ==,
      1);
  g_assert_null (store_lookup (st, "carol"));

  /* upgrade: only while the old hash is still there */
  g_assert_cmpint (store_modify (st, STORE_UPGRADE, "alice", "$y$a3", "$2b$old",
                                 err, sizeof err),
                   ==, 1);
  g_assert_cmpstr (store_lookup (st, "alice"), ==, "$y$a2");
  g_assert_cmpint (store_modify (st, STORE_UPGRADE, "alice", "$y$a3", "$y$a2",
                                 err, sizeof err),
                   ==, 0);
  g_assert_cmpstr (store_lookup (st, "alice"), ==, "$y$a3");
  g_assert_cmpint (store_modify (st, STORE_UPGRADE, "nobody", "$y$n", "$y$a2",
                                 err, sizeof err),
                   ==, 1);
  g_assert_null (store_lookup (st, "nobody"));

  /* delete */
  g_assert_cmpint (
      store_modify (st, STORE_DELETE, "bob", NULL, NULL, err, sizeof err), ==,
      0);
  g_assert_null (store_lookup (st, "bob"));
  g_assert_cmpint (
      store_modify (st, STORE_DELETE, "bob", NULL, NULL, err, sizeof err), ==,
      1);
  g_assert_cmpuint (store_count (st), ==, 1);
  text = read_text (f->path);
  g_assert_cmpstr (text, ==, "{\n  \"alice\": \"$y$a3\"\n}\n");
  g_free (text);

  /* bad arguments */
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "Bad", "$y$x", NULL, err, sizeof err), ==,
      -1);
  g_assert_nonnull (strstr (err, "invalid username"));
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "", "$y$x", NULL, err, sizeof err), ==, -1);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "dave", NULL, NULL, err, sizeof err), ==,
      -1);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "dave", "", NULL, err, sizeof err), ==, -1);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "dave", "a b", NULL, err, sizeof err), ==,
      -1);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "dave", "x\n", NULL, err, sizeof err), ==,
      -1);
  g_assert_cmpint (
      store_modify (st, STORE_UPGRADE, "alice", "$y$x", NULL, err, sizeof err),
      ==, -1);
  g_assert_null (store_lookup (st, "dave"));

  /* create never overwrites */
  g_assert_cmpint (store_create (f->path, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "already exists"));
  g_assert_cmpstr (store_lookup (st, "alice"), ==, "$y$a3");
  store_free (st);
  store_free (NULL);
}

static void
test_precondition_writes_nothing (struct fixture *f, gconstpointer data)
{
  struct stat a, b;
  struct store *st;
  char err[256];

  (void) data;
  write_text (f->path, "{\"alice\":\"h\"}");
  st = open_ok (f->path);
  g_assert_cmpint (stat (f->path, &a), ==, 0);
  g_usleep (20000);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "alice", "h2", NULL, err, sizeof err), ==,
      1);
  g_assert_cmpint (
      store_modify (st, STORE_SET, "bob", "h2", NULL, err, sizeof err), ==, 1);
  g_assert_cmpint (
      store_modify (st, STORE_DELETE, "bob", NULL, NULL, err, sizeof err), ==,
      1);
  g_assert_cmpint (stat (f->path, &b), ==, 0);
  g_assert_cmpuint (a.st_ino, ==, b.st_ino);
  g_assert_cmpint (a.st_mtim.tv_nsec, ==, b.st_mtim.tv_nsec);
  g_assert_cmpint (a.st_mtim.tv_sec, ==, b.st_mtim.tv_sec);
  store_free (st);
}

static void
test_atomic_and_mode (struct fixture *f, gconstpointer data)
{
  static const char *const names[] = { STORE_FILE_NAME, STORE_FILE_NAME ".lock",
                                       NULL };
  struct store *st;
  struct stat sb;
  char err[256];
  mode_t old;
  int i;

  (void) data;
  /* An existing file readable by others becomes 0600 on the first write,
   * whatever the umask. */
  g_assert_true (g_file_set_contents (f->path, "{}", -1, NULL));
  g_assert_cmpint (chmod (f->path, 0644), ==, 0);
  st = open_ok (f->path);
  old = umask (0);
  for (i = 0; i < 20; i++)
    {
      char user[16];
      snprintf (user, sizeof user, "u%d", i);
      g_assert_cmpint (
          store_modify (st, STORE_ADD, user, "$y$h", NULL, err, sizeof err), ==,
          0);
    }
  umask (old);
  g_assert_cmpint (stat (f->path, &sb), ==, 0);
  g_assert_cmpuint (sb.st_mode & 07777, ==, 0600);
  {
    char *lock = g_strconcat (f->path, ".lock", NULL);
    g_assert_cmpint (stat (lock, &sb), ==, 0);
    g_assert_cmpuint (sb.st_mode & 07777, ==, 0600);
    g_free (lock);
  }
  assert_dir_is (f->dir, names);
  g_assert_cmpuint (store_count (st), ==, 20);

  /* A stale temp file of our pid (a crash) does not block the next
   * write and is gone afterwards. */
  {
    char *tmp = g_strdup_printf ("%s.tmp.%ld", f->path, (long) getpid ());
    g_assert_true (g_file_set_contents (tmp, "junk", -1, NULL));
    g_assert_cmpint (
        store_modify (st, STORE_ADD, "u99", "$y$h", NULL, err, sizeof err), ==,
        0);
    assert_dir_is (f->dir, names);
    g_free (tmp);
  }

  /* A write that cannot happen (read-only folder) leaves no temp file
   * and the old contents. Root ignores permissions: skip that part. */
  if (geteuid () != 0)
    {
      g_assert_cmpint (chmod (f->dir, 0500), ==, 0);
      g_assert_cmpint (
          store_modify (st, STORE_ADD, "x1", "$y$h", NULL, err, sizeof err), ==,
          -1);
      g_assert_nonnull (strstr (err, "temporary file"));
      g_assert_cmpint (chmod (f->dir, 0700), ==, 0);
      assert_dir_is (f->dir, names);
      g_assert_null (store_lookup (st, "x1"));
    }
  store_free (st);
}

static void
test_parse_errors (struct fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *text;
    const char *needle;
  } cases[] = {
    { "{\"a\": \"x\", \"a\": \"y\"}", "duplicate" },
    { "[\"alice\"]", "top level must be a JSON object" },
    { "{\"a\": \"x\"", ":1:" },
    { "{\n\"a\": \"x\",\n}", ":3:" },
    { "", "" },
    { "{\"a\": \"\xff\"}", "" },
    { "{\"a\": \"x\\u0000y\"}", "" },
    { "{} {}", "" },
  };
  struct store *st = (struct store *) 1;
  char err[512], err2[512];
  size_t i;

  (void) data;
  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      write_text (f->path, cases[i].text);
      err[0] = '\0';
      st = (struct store *) 1;
      g_assert_cmpint (store_open (f->path, &st, err, sizeof err), ==, -1);
      g_assert_null (st);
      g_assert_true (g_str_has_prefix (err, f->path));
      if (strstr (err, cases[i].needle) == NULL)
        g_error ("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].needle);
      /* The same text from memory: the same message. */
      err2[0] = '\0';
      st = (struct store *) 1;
      g_assert_cmpint (store_parse (f->path, cases[i].text,
                                    strlen (cases[i].text), &st, err2,
                                    sizeof err2),
                       ==, -1);
      g_assert_null (st);
      g_assert_cmpstr (err2, ==, err);
    }

  g_unlink (f->path);
  g_assert_cmpint (store_open (f->path, &st, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "No such file"));

  g_assert_cmpint (g_mkdir (f->path, 0700), ==, 0);
  g_assert_cmpint (store_open (f->path, &st, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "not a regular file"));
  g_rmdir (f->path);
}

/* A damaged file must not put a hash, or part of one, in the error (which
 * goes to the server log): jansson quotes the token it stopped at. */
static void
test_parse_error_hides_hashes (struct fixture *f, gconstpointer data)
{
  static const char *const texts[] = {
    "{\"alice\": \"$y$j9T$SECRETSALT$SECRETHASH",
    "{\"alice\": \"$y$j9T$SECRETSALT$SECRETHASH\\q\"}",
    "{\"alice\": \"$y$j9T$SECRETSALT$SECRETHASH\" \"bob\"}",
    "{\"alice\": $y$j9T$SECRETSALT$SECRETHASH}",
    "{\"alice\" \"$y$j9T$SECRETSALT$SECRETHASH\"}",
    "{\"bob\": \"x\" \"$y$j9T$SECRETSALT$SECRETHASH\"}",
    "{\"bob\": \"x\" \"SECRETj9TxHASH\"}",
  };
  struct store *st = NULL;
  char err[512];
  size_t i;

  (void) data;
  for (i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      write_text (f->path, texts[i]);
      err[0] = '\0';
      g_assert_cmpint (store_open (f->path, &st, err, sizeof err), ==, -1);
      g_assert_null (st);
      g_assert_true (g_str_has_prefix (err, f->path));
      g_test_message ("%s", err);
      g_assert_nonnull (strstr (err, ":1:"));
      if (strstr (err, "SECRET") != NULL || strstr (err, "j9T") != NULL)
        g_error ("case %zu: the error quotes the hash: %s", i, err);
    }
}

static void
test_refresh (struct fixture *f, gconstpointer data)
{
  struct store *a, *b;
  bool reloaded = true;
  char err[512];

  (void) data;
  write_text (f->path, "{\"alice\": \"h-a\"}");
  a = open_ok (f->path);
  b = open_ok (f->path);

  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, 0);
  g_assert_false (reloaded);

  /* Our own write is not a change to reload. */
  g_assert_cmpint (
      store_modify (a, STORE_ADD, "zoe", "h-z", NULL, err, sizeof err), ==, 0);
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, 0);
  g_assert_false (reloaded);
  g_assert_cmpint (
      store_modify (a, STORE_DELETE, "zoe", NULL, NULL, err, sizeof err), ==,
      0);
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, 0);
  g_assert_false (reloaded);
  g_assert_cmpint (store_refresh (b, &reloaded, err, sizeof err), ==, 0);
  g_assert_true (reloaded);

  /* Another writer (the admin command) adds a user. */
  g_assert_cmpint (
      store_modify (b, STORE_ADD, "bob", "h-b", NULL, err, sizeof err), ==, 0);
  g_assert_null (store_lookup (a, "bob"));
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, 0);
  g_assert_true (reloaded);
  g_assert_cmpstr (store_lookup (a, "bob"), ==, "h-b");
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, 0);
  g_assert_false (reloaded);

  /* A modify through a stale handle works on the current file: b's
   * later delete of alice does not bring back anything a removed. */
  g_assert_cmpint (
      store_modify (a, STORE_DELETE, "bob", NULL, NULL, err, sizeof err), ==,
      0);
  g_assert_cmpint (
      store_modify (b, STORE_DELETE, "alice", NULL, NULL, err, sizeof err), ==,
      0);
  g_assert_cmpuint (store_count (b), ==, 0);
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, 0);
  g_assert_cmpuint (store_count (a), ==, 0);

  /* A broken file: the old contents stay, -1. */
  g_assert_cmpint (
      store_modify (b, STORE_ADD, "carol", "h-c", NULL, err, sizeof err), ==,
      0);
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, 0);
  g_assert_true (reloaded);
  write_text (f->path, "{\"carol\": ");
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, -1);
  g_assert_false (reloaded);
  g_assert_cmpstr (store_lookup (a, "carol"), ==, "h-c");
  g_assert_cmpint (store_reload (a, err, sizeof err), ==, -1);
  g_assert_cmpstr (store_lookup (a, "carol"), ==, "h-c");
  /* ...and modify refuses to write over it. */
  g_assert_cmpint (
      store_modify (a, STORE_ADD, "dave", "h-d", NULL, err, sizeof err), ==,
      -1);
  {
    char *text = read_text (f->path);
    g_assert_cmpstr (text, ==, "{\"carol\": ");
    g_free (text);
  }

  /* A vanished file is an error too, and keeps the contents. */
  g_unlink (f->path);
  g_assert_cmpint (store_refresh (a, &reloaded, err, sizeof err), ==, -1);
  g_assert_cmpstr (store_lookup (a, "carol"), ==, "h-c");

  store_free (a);
  store_free (b);
}

#define USERS_PER_CHILD 25

static void
child_adds (const char *path, const char *prefix)
{
  struct store *st = NULL;
  char err[512];
  int i;

  if (store_open (path, &st, err, sizeof err) != 0)
    _exit (10);
  for (i = 0; i < USERS_PER_CHILD; i++)
    {
      char user[32];
      snprintf (user, sizeof user, "%s%d", prefix, i);
      if (store_modify (st, STORE_ADD, user, "$y$h", NULL, err, sizeof err) !=
          0)
        _exit (11);
    }
  store_free (st);
  _exit (0);
}

static void
test_two_processes (struct fixture *f, gconstpointer data)
{
  struct store *st;
  pid_t pids[2];
  char err[256];
  int i;

  (void) data;
  g_assert_cmpint (store_create (f->path, err, sizeof err), ==, 0);
  /* Each process starts from the same old view of the file. */
  st = open_ok (f->path);
  for (i = 0; i < 2; i++)
    {
      pids[i] = fork ();
      g_assert_cmpint (pids[i], >=, 0);
      if (pids[i] == 0)
        child_adds (f->path, i == 0 ? "left" : "right");
    }
  for (i = 0; i < 2; i++)
    {
      int status = 0;
      g_assert_cmpint (waitpid (pids[i], &status, 0), ==, pids[i]);
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    }
  g_assert_cmpint (store_reload (st, err, sizeof err), ==, 0);
  g_assert_cmpuint (store_count (st), ==, 2 * USERS_PER_CHILD);
  for (i = 0; i < USERS_PER_CHILD; i++)
    {
      char user[32];
      snprintf (user, sizeof user, "left%d", i);
      g_assert_nonnull (store_lookup (st, user));
      snprintf (user, sizeof user, "right%d", i);
      g_assert_nonnull (store_lookup (st, user));
    }
  store_free (st);
}

/* Writers killed between creating their temporary file and renaming it
 * (any pid, not only ours) leave files that the next write removes; names
 * that only look alike are not touched. */
static void
test_stale_temp_files_swept (struct fixture *f, gconstpointer data)
{
  static const char *const stale[] = { STORE_FILE_NAME ".tmp.1",
                                       STORE_FILE_NAME ".tmp.4194303", NULL };
  static const char *const kept[] = { STORE_FILE_NAME ".tmp.",
                                      STORE_FILE_NAME ".tmp.12x",
                                      "other.json.tmp.5", NULL };
  static const char *const after[] = {
    STORE_FILE_NAME,         STORE_FILE_NAME ".lock",
    STORE_FILE_NAME ".tmp.", STORE_FILE_NAME ".tmp.12x",
    "other.json.tmp.5",      NULL
  };
  struct store *st;
  char err[256];
  int i;

  (void) data;
  write_text (f->path, "{}");
  st = open_ok (f->path);
  for (i = 0; stale[i] != NULL; i++)
    {
      char *p = g_build_filename (f->dir, stale[i], NULL);
      write_text (p, "{\"half\": ");
      g_free (p);
    }
  for (i = 0; kept[i] != NULL; i++)
    {
      char *p = g_build_filename (f->dir, kept[i], NULL);
      write_text (p, "not ours");
      g_free (p);
    }
  /* Reading does not sweep: only a writer holds the lock. */
  g_assert_cmpuint (store_count (st), ==, 0);
  g_assert_cmpint (
      store_modify (st, STORE_ADD, "alice", "$y$h", NULL, err, sizeof err), ==,
      0);
  assert_dir_is (f->dir, after);
  g_assert_cmpstr (store_lookup (st, "alice"), ==, "$y$h");
  store_free (st);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* As securechatd does: jansson's blocks come from the wiping allocator,
   * which the store's own dumps must not be mixed with. */
  g_assert_cmpint (sc_init (), ==, 0);
#define ADD(path, fn)                                                          \
  g_test_add (path, struct fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/server/store/seed-format", test_seed_format);
  ADD ("/server/store/unusable-kept", test_unusable_kept);
  ADD ("/server/store/operations", test_operations);
  ADD ("/server/store/precondition-writes-nothing",
       test_precondition_writes_nothing);
  ADD ("/server/store/atomic-and-mode", test_atomic_and_mode);
  ADD ("/server/store/stale-temp-files-swept", test_stale_temp_files_swept);
  ADD ("/server/store/parse-errors", test_parse_errors);
  ADD ("/server/store/parse-memory", test_parse_memory);
  ADD ("/server/store/parse-error-hides-hashes", test_parse_error_hides_hashes);
  ADD ("/server/store/refresh", test_refresh);
  ADD ("/server/store/two-processes", test_two_processes);
#undef ADD
  return g_test_run ();
}
