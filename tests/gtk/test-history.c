/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScHistory against real files in a private temporary folder: round
 * trips, replayed updates, damaged and hostile files, permissions, peer
 * names, compaction and a long conversation. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "sc-history.h"

typedef struct
{
  char *dir;
} Fixture;

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);

  if (d != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
              !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            rm_rf (child);
          else
            g_unlink (child);
        }
      g_dir_close (d);
    }
  g_rmdir (path);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("sc-history-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_chmod (f->dir, 0700);
  rm_rf (f->dir);
  g_free (f->dir);
}

static char *
path_of (Fixture *f, const char *peer)
{
  g_autofree char *name = g_strconcat (peer, ".jsonl", NULL);

  return g_build_filename (f->dir, name, NULL);
}

/* Writes a history file by hand, private as the store wants it. */
static void
write_file (Fixture *f, const char *peer, const char *data, gsize len)
{
  g_autofree char *path = path_of (f, peer);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, len), ==, (gssize) len);
  g_assert_cmpint (close (fd), ==, 0);
}

static char *
read_file (Fixture *f, const char *peer, gsize *len)
{
  g_autofree char *path = path_of (f, peer);
  g_autoptr (GError) error = NULL;
  char *data = NULL;

  g_file_get_contents (path, &data, len, &error);
  g_assert_no_error (error);
  return data;
}

static gboolean
file_exists (Fixture *f, const char *peer)
{
  g_autofree char *path = path_of (f, peer);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
chmod_file (Fixture *f, const char *peer, mode_t mode)
{
  g_autofree char *path = path_of (f, peer);

  g_assert_cmpint (chmod (path, mode), ==, 0);
}

/* Appends bytes as they are, as a crash mid-write would leave them. */
static void
append_raw (Fixture *f, const char *peer, const char *data)
{
  g_autofree char *path = path_of (f, peer);
  int fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, strlen (data)), ==, (gssize) strlen (data));
  g_assert_cmpint (close (fd), ==, 0);
}

static guint
count_lines (const char *data)
{
  guint n = 0;

  for (const char *p = data; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}

static ScHistory *
open_history (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  ScHistory *h = sc_history_open (f->dir, &error);

  g_assert_no_error (error);
  g_assert_nonnull (h);
  return h;
}

static GPtrArray *
load_ok (ScHistory *h, const char *peer, guint *n_skipped)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *v = sc_history_load (h, peer, n_skipped, &error);

  g_assert_no_error (error);
  g_assert_nonnull (v);
  return v;
}

static void
append_ok (ScHistory *h, const char *peer, ScMessage *m)
{
  g_autoptr (GError) error = NULL;

  gboolean ok = sc_history_append (h, peer, m, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
}

/* Appends a new message with the next id and returns it. */
static ScMessage *
add (ScHistory *h,
     const char *peer,
     ScMessageKind kind,
     const char *text,
     ScDelivery delivery)
{
  guint64 id = sc_history_next_id (h, peer);
  ScMessage *m;

  g_assert_cmpuint (id, >, 0);
  m = sc_message_new (id, kind,
                      kind == SC_MESSAGE_INCOMING ? peer
                      : kind == SC_MESSAGE_NOTICE ? ""
                                                  : "me",
                      text, 1700000000000 + (gint64) id, delivery);
  append_ok (h, peer, m);
  return m;
}

static void
assert_same (ScMessage *a, ScMessage *b)
{
  g_assert_cmpuint (sc_message_get_local_id (a), ==,
                    sc_message_get_local_id (b));
  g_assert_cmpint (sc_message_get_kind (a), ==, sc_message_get_kind (b));
  g_assert_cmpstr (sc_message_get_sender (a), ==, sc_message_get_sender (b));
  g_assert_cmpstr (sc_message_get_text (a), ==, sc_message_get_text (b));
  g_assert_cmpint (sc_message_get_timestamp (a), ==,
                   sc_message_get_timestamp (b));
  g_assert_cmpint (sc_message_get_delivery (a), ==,
                   sc_message_get_delivery (b));
  g_assert_cmpstr (sc_message_get_error (a), ==, sc_message_get_error (b));
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScHistory) h2 = NULL;
  g_autoptr (GPtrArray) written =
      g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) loaded = NULL;
  static const char *const texts[] = {
    "plain",
    "",
    "two\nlines and \"quotes\" and \\ backslash",
    "tab\tbell\a nul-free controls \x01\x1f",
    "unicode: héllo wörld — ελληνικά 日本語 😀",
    "{\"v\":1,\"op\":\"add\"} looks like a line\n{\"v\":1}",
  };
  static const ScDelivery out_states[] = {
    SC_DELIVERY_NONE,
    SC_DELIVERY_SENT,
    SC_DELIVERY_OFFLINE,
    SC_DELIVERY_FAILED,
  };
  guint skipped = 99;
  guint64 id = 1;

  for (guint t = 0; t < G_N_ELEMENTS (texts); t++)
    {
      g_ptr_array_add (written,
                       sc_message_new (id++, SC_MESSAGE_INCOMING, "bob",
                                       texts[t], 1 + t, SC_DELIVERY_NONE));
      g_ptr_array_add (written,
                       sc_message_new (id++, SC_MESSAGE_NOTICE, "", texts[t],
                                       1700000000000 + t, SC_DELIVERY_NONE));
      for (guint d = 0; d < G_N_ELEMENTS (out_states); d++)
        {
          ScMessage *m =
              sc_message_new (id++, SC_MESSAGE_OUTGOING, "alice", texts[t],
                              1700000000000 + 10 * t + d, out_states[d]);

          if (out_states[d] == SC_DELIVERY_FAILED)
            sc_message_set_delivery (m, SC_DELIVERY_FAILED,
                                     "Recipient not online — “bob”\n");
          if (out_states[d] == SC_DELIVERY_OFFLINE)
            sc_message_set_delivery (m, SC_DELIVERY_OFFLINE, "");
          g_ptr_array_add (written, m);
        }
    }
  /* A notice may name who it is about; ts 0 and the largest id. */
  g_ptr_array_add (written,
                   sc_message_new (id++, SC_MESSAGE_NOTICE, "SecureChat",
                                   "notice", 0, SC_DELIVERY_NONE));
  g_ptr_array_add (written, sc_message_new ((G_GUINT64_CONSTANT (1) << 53) - 1,
                                            SC_MESSAGE_INCOMING, "bob", "max",
                                            253402300799999, SC_DELIVERY_NONE));

  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 1);
  for (guint i = 0; i < written->len; i++)
    append_ok (h, "bob", written->pdata[i]);

  h2 = open_history (f);
  loaded = load_ok (h2, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, 0);
  g_assert_cmpuint (loaded->len, ==, written->len);
  for (guint i = 0; i < loaded->len; i++)
    assert_same (written->pdata[i], loaded->pdata[i]);
}

static void
test_updates (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScMessage) a = NULL;
  g_autoptr (ScMessage) b = NULL;
  g_autoptr (ScMessage) c = NULL;
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  guint skipped = 99;

  a = add (h, "bob", SC_MESSAGE_OUTGOING, "a", SC_DELIVERY_SENDING);
  b = add (h, "bob", SC_MESSAGE_OUTGOING, "b", SC_DELIVERY_SENDING);
  c = add (h, "bob", SC_MESSAGE_INCOMING, "c", SC_DELIVERY_NONE);

  /* a: failed, then sent with the server's time; order decides. */
  sc_message_set_delivery (a, SC_DELIVERY_FAILED, "timeout");
  g_assert_true (sc_history_update (h, "bob", a, &error));
  sc_message_set_delivery (a, SC_DELIVERY_SENT, NULL);
  sc_message_set_timestamp (a, 1800000000000);
  g_assert_true (sc_history_update (h, "bob", a, &error));
  /* b: offline. */
  sc_message_set_delivery (b, SC_DELIVERY_OFFLINE, "Recipient not online");
  g_assert_true (sc_history_update (h, "bob", b, &error));
  g_assert_no_error (error);
  before = read_file (f, "bob", NULL);
  g_assert_cmpuint (count_lines (before), ==, 6);

  loaded = load_ok (h, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, 0);
  g_assert_cmpuint (loaded->len, ==, 3);
  assert_same (a, loaded->pdata[0]);
  assert_same (b, loaded->pdata[1]);
  assert_same (c, loaded->pdata[2]);
  g_assert_cmpint (sc_message_get_timestamp (loaded->pdata[0]), ==,
                   1800000000000);
  g_assert_null (sc_message_get_error (loaded->pdata[0]));
  /* Three updates of six lines, not more than half: not compacted. */
  after = read_file (f, "bob", NULL);
  g_assert_cmpstr (after, ==, before);

  /* An update for an id never appended, or for a message that cannot
   * have a delivery state, is refused. */
  {
    g_autoptr (ScMessage) ghost = sc_message_new (99, SC_MESSAGE_OUTGOING, "me",
                                                  "x", 1, SC_DELIVERY_SENT);

    g_assert_false (sc_history_update (h, "bob", ghost, &error));
    g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
    g_clear_error (&error);
  }
  {
    g_autoptr (ScMessage) bad = sc_message_new (3, SC_MESSAGE_INCOMING, "bob",
                                                "c", 1, SC_DELIVERY_SENT);

    g_assert_false (sc_history_update (h, "bob", bad, &error));
    g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
    g_clear_error (&error);
  }
}

static void
test_sending_becomes_failed (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScHistory) h2 = NULL;
  g_autoptr (ScMessage) m = NULL;
  g_autoptr (GPtrArray) loaded = NULL;
  ScMessage *l;

  m = add (h, "bob", SC_MESSAGE_OUTGOING, "in flight", SC_DELIVERY_SENDING);
  h2 = open_history (f);
  loaded = load_ok (h2, "bob", NULL);
  g_assert_cmpuint (loaded->len, ==, 1);
  l = loaded->pdata[0];
  g_assert_cmpint (sc_message_get_delivery (l), ==, SC_DELIVERY_FAILED);
  g_assert_nonnull (sc_message_get_error (l));
  g_assert_cmpstr (sc_message_get_error (l), !=, "");
  g_assert_cmpstr (sc_message_get_text (l), ==, "in flight");
}

static void
test_torn_line (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScHistory) h2 = NULL;
  g_autoptr (ScHistory) h3 = NULL;
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autofree char *path = path_of (f, "bob");
  g_autofree char *data_after = NULL;
  struct stat st;
  guint skipped = 0;

  for (guint i = 0; i < 3; i++)
    g_object_unref (
        add (h, "bob", SC_MESSAGE_INCOMING, "a message", SC_DELIVERY_NONE));
  /* A crash in the middle of the third line. */
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (truncate (path, st.st_size - 10), ==, 0);

  h2 = open_history (f);
  loaded = load_ok (h2, "bob", &skipped);
  g_assert_cmpuint (loaded->len, ==, 2);
  g_assert_cmpuint (skipped, ==, 1);
  g_assert_cmpuint (sc_history_next_id (h2, "bob"), ==, 3);

  /* The next append starts a line of its own. */
  g_object_unref (add (h2, "bob", SC_MESSAGE_OUTGOING, "after the crash",
                       SC_DELIVERY_SENT));
  data_after = read_file (f, "bob", NULL);
  g_assert_true (g_str_has_suffix (data_after, "}\n"));

  h3 = open_history (f);
  again = load_ok (h3, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, 1);
  g_assert_cmpuint (again->len, ==, 3);
  g_assert_cmpstr (sc_message_get_text (again->pdata[2]), ==,
                   "after the crash");
  g_assert_cmpuint (sc_message_get_local_id (again->pdata[2]), ==, 3);
  g_assert_cmpuint (sc_history_next_id (h3, "bob"), ==, 4);
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (GString) file = g_string_new (NULL);
  g_autoptr (GString) huge = g_string_new (NULL);
  static const char *const bad[] = {
    "not json at all",
    "[1,2,3]",
    "\"a string\"",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,",
    /* wrong types */
    "{\"v\":1,\"op\":\"add\",\"lid\":\"2\",\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2.5,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":5,\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":\"1\",\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":null,"
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"out\",\"from\":\"me\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"failed\",\"error\":7}",
    /* missing members */
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"ts\":1,\"delivery\":\"none\"}",
    "{\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    /* unknown version, op, kind, delivery */
    "{\"v\":2,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"delete\",\"lid\":1}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"spam\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"out\",\"from\":\"me\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"read\"}",
    /* numbers out of range */
    "{\"v\":1,\"op\":\"add\",\"lid\":0,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":-4,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":9007199254740992,\"kind\":\"in\","
    "\"from\":\"bob\",\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":-1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":253402300800000,\"delivery\":\"none\"}",
    /* text that is not UTF-8, or has a NUL */
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"caf\xe9\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"a\\u0000b\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"\\ud800\",\"ts\":1,\"delivery\":\"none\"}",
    /* inconsistent */
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"sent\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"../bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"text\":\"y\",\"ts\":1,\"delivery\":\"none\"}",
    "{\"v\":1,\"op\":\"add\",\"lid\":2,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"x\",\"ts\":1,\"delivery\":\"none\"} trailing",
    /* a second add for an id already used */
    "{\"v\":1,\"op\":\"add\",\"lid\":1,\"kind\":\"in\",\"from\":\"bob\","
    "\"text\":\"dup\",\"ts\":1,\"delivery\":\"none\"}",
    /* updates: unknown id, not allowed for the kind, incomplete */
    "{\"v\":1,\"op\":\"update\",\"lid\":99,\"delivery\":\"sent\",\"ts\":5}",
    "{\"v\":1,\"op\":\"update\",\"lid\":1,\"delivery\":\"sent\",\"ts\":5}",
    "{\"v\":1,\"op\":\"update\",\"lid\":3,\"delivery\":\"sent\"}",
  };
  guint skipped = 0;

  g_string_append (file, "{\"v\":1,\"op\":\"add\",\"lid\":1,\"kind\":\"in\","
                         "\"from\":\"bob\",\"text\":\"first\",\"ts\":10,"
                         "\"delivery\":\"none\"}\n");
  g_string_append (file, "{\"v\":1,\"op\":\"add\",\"lid\":3,\"kind\":\"out\","
                         "\"from\":\"me\",\"text\":\"third\",\"ts\":30,"
                         "\"delivery\":\"sending\",\"extra\":[1,{}]}\n");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_string_append (file, bad[i]);
      g_string_append_c (file, '\n');
    }
  /* Blank lines are not damage. */
  g_string_append (file, "\n\n");
  /* A valid line longer than SC_HISTORY_LINE_MAX, then one that is not
   * JSON either, then a valid update. */
  g_string_append (huge, "{\"v\":1,\"op\":\"add\",\"lid\":7,\"kind\":\"in\","
                         "\"from\":\"bob\",\"text\":\"");
  while (huge->len <= SC_HISTORY_LINE_MAX)
    g_string_append (huge, "\\u0001");
  g_string_append (huge, "\",\"ts\":1,\"delivery\":\"none\"}\n");
  g_string_append_len (file, huge->str, (gssize) huge->len);
  g_string_append_len (file, huge->str, (gssize) SC_HISTORY_LINE_MAX + 10);
  g_string_append (file, "\n");
  g_string_append (file, "{\"v\":1,\"op\":\"update\",\"lid\":3,\"delivery\":"
                         "\"sent\",\"ts\":35}\n");
  write_file (f, "bob", file->str, file->len);

  loaded = load_ok (h, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, G_N_ELEMENTS (bad) + 2);
  g_assert_cmpuint (loaded->len, ==, 2);
  g_assert_cmpstr (sc_message_get_text (loaded->pdata[0]), ==, "first");
  g_assert_cmpstr (sc_message_get_text (loaded->pdata[1]), ==, "third");
  g_assert_cmpint (sc_message_get_delivery (loaded->pdata[1]), ==,
                   SC_DELIVERY_SENT);
  g_assert_cmpint (sc_message_get_timestamp (loaded->pdata[1]), ==, 35);
  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 4);
}

static void
test_text_cut (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScHistory) h2 = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GString) line = g_string_new (NULL);
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (GPtrArray) from_file = NULL;
  g_autoptr (ScMessage) m = NULL;
  const char *got;
  guint skipped = 99;

  /* 3-byte characters after one ASCII byte: the limit falls inside a
   * character. */
  g_string_append_c (text, 'x');
  while (text->len < 2 * SC_HISTORY_TEXT_MAX)
    g_string_append (text, "€");
  m = sc_message_new (1, SC_MESSAGE_INCOMING, "bob", text->str, 1,
                      SC_DELIVERY_NONE);
  append_ok (h, "bob", m);

  h2 = open_history (f);
  loaded = load_ok (h2, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, 0);
  got = sc_message_get_text (loaded->pdata[0]);
  g_assert_cmpuint (strlen (got), <=, SC_HISTORY_TEXT_MAX);
  g_assert_cmpuint (strlen (got), >, SC_HISTORY_TEXT_MAX - 3);
  g_assert_true (g_utf8_validate (got, -1, NULL));
  g_assert_true (strncmp (got, text->str, strlen (got)) == 0);

  /* A long text written by someone else is cut on load as well. */
  g_string_append (line, "{\"v\":1,\"op\":\"add\",\"lid\":1,\"kind\":\"in\","
                         "\"from\":\"bob\",\"text\":\"");
  g_string_append (line, text->str);
  g_string_append (line, "\",\"ts\":1,\"delivery\":\"none\"}\n");
  write_file (f, "carol", line->str, line->len);
  from_file = load_ok (h2, "carol", &skipped);
  g_assert_cmpuint (skipped, ==, 0);
  /* (not cmpstr: a failure would print 64 KiB) */
  g_assert_true (g_str_equal (sc_message_get_text (from_file->pdata[0]), got));
}

static void
test_append_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  struct
  {
    guint64 id;
    ScMessageKind kind;
    const char *sender;
    const char *text;
    gint64 ts;
    ScDelivery delivery;
  } cases[] = {
    { 0, SC_MESSAGE_INCOMING, "bob", "no id", 1, SC_DELIVERY_NONE },
    { 5, SC_MESSAGE_INCOMING, "bob", "bad \xff text", 1, SC_DELIVERY_NONE },
    { 5, SC_MESSAGE_INCOMING, "Bob", "bad sender", 1, SC_DELIVERY_NONE },
    { 5, SC_MESSAGE_OUTGOING, "a/b", "bad sender", 1, SC_DELIVERY_SENT },
    { 5, SC_MESSAGE_NOTICE, "line\nbreak", "bad sender", 1, SC_DELIVERY_NONE },
    { 5, SC_MESSAGE_INCOMING, "bob", "delivered?", 1, SC_DELIVERY_SENT },
    { 5, SC_MESSAGE_NOTICE, "", "delivered?", 1, SC_DELIVERY_FAILED },
    { 5, SC_MESSAGE_INCOMING, "bob", "before 1970", -1, SC_DELIVERY_NONE },
    { 5, SC_MESSAGE_INCOMING, "bob", "year 10000", 253402300800000,
      SC_DELIVERY_NONE },
    { G_GUINT64_CONSTANT (1) << 53, SC_MESSAGE_INCOMING, "bob", "id too large",
      1, SC_DELIVERY_NONE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (ScMessage) m =
          sc_message_new (cases[i].id, cases[i].kind, cases[i].sender,
                          cases[i].text, cases[i].ts, cases[i].delivery);

      g_assert_false (sc_history_append (h, "bob", m, &error));
      g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
      g_assert_cmpstr (error->message, !=, "");
      g_clear_error (&error);
    }
  /* Nothing was written. */
  g_assert_false (file_exists (f, "bob"));

  /* An id already used. */
  g_object_unref (add (h, "bob", SC_MESSAGE_INCOMING, "one", SC_DELIVERY_NONE));
  g_object_unref (add (h, "bob", SC_MESSAGE_INCOMING, "two", SC_DELIVERY_NONE));
  {
    g_autoptr (ScMessage) dup = sc_message_new (2, SC_MESSAGE_INCOMING, "bob",
                                                "again", 1, SC_DELIVERY_NONE);

    g_assert_false (sc_history_append (h, "bob", dup, &error));
    g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
    g_clear_error (&error);
  }
  contents = read_file (f, "bob", NULL);
  g_assert_cmpuint (count_lines (contents), ==, 2);
}

static void
test_permissions (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *nested = g_build_filename (f->dir, "a", "b", "c", NULL);
  g_autofree char *open_dir = g_build_filename (f->dir, "open", NULL);
  g_autofree char *link_dir = g_build_filename (f->dir, "link", NULL);
  g_autofree char *bob = NULL;
  g_autofree char *carol = NULL;
  g_autofree char *target = NULL;
  g_autoptr (ScMessage) m =
      sc_message_new (1, SC_MESSAGE_INCOMING, "bob", "x", 1, SC_DELIVERY_NONE);
  struct stat st;
  mode_t old_umask;

  /* New folders (with parents) are private, whatever the umask. */
  old_umask = umask (0);
  {
    g_autoptr (ScHistory) hn = sc_history_open (nested, &error);

    g_assert_no_error (error);
    g_assert_nonnull (hn);
    g_assert_cmpint (stat (nested, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0700);
    /* New files too. */
    append_ok (hn, "bob", m);
    bob = g_build_filename (nested, "bob.jsonl", NULL);
    g_assert_cmpint (stat (bob, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
    g_assert_true (S_ISREG (st.st_mode));
  }
  umask (old_umask);

  /* A folder others can read is refused. */
  g_assert_cmpint (g_mkdir (open_dir, 0700), ==, 0);
  g_assert_cmpint (chmod (open_dir, 0755), ==, 0);
  g_assert_null (sc_history_open (open_dir, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_PERMISSIONS);
  g_clear_error (&error);
  g_assert_cmpint (chmod (open_dir, 0701), ==, 0);
  g_assert_null (sc_history_open (open_dir, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_PERMISSIONS);
  g_clear_error (&error);

  /* A folder that is a symbolic link is not followed. */
  g_assert_cmpint (symlink (nested, link_dir), ==, 0);
  g_assert_null (sc_history_open (link_dir, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_IO);
  g_clear_error (&error);

  /* A file others can read is refused for loading and appending. */
  h = open_history (f);
  write_file (f, "bob", "", 0);
  chmod_file (f, "bob", 0644);
  g_assert_null (sc_history_load (h, "bob", NULL, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_PERMISSIONS);
  g_clear_error (&error);
  g_assert_false (sc_history_append (h, "bob", m, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_PERMISSIONS);
  g_clear_error (&error);
  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 0);
  chmod_file (f, "bob", 0620);
  g_assert_null (sc_history_load (h, "bob", NULL, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_PERMISSIONS);
  g_clear_error (&error);
  /* It can still be removed. */
  g_assert_true (sc_history_remove (h, "bob", &error));
  g_assert_no_error (error);

  /* A file that is a symbolic link is not followed, for reading or
   * writing. */
  carol = path_of (f, "carol");
  target = g_build_filename (nested, "bob.jsonl", NULL);
  g_assert_cmpint (symlink (target, carol), ==, 0);
  g_assert_null (sc_history_load (h, "carol", NULL, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_IO);
  g_clear_error (&error);
  {
    g_autoptr (ScMessage) m2 = sc_message_new (5, SC_MESSAGE_INCOMING, "carol",
                                               "x", 1, SC_DELIVERY_NONE);
    g_autofree char *target_data = NULL;

    g_assert_false (sc_history_append (h, "carol", m2, &error));
    g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_IO);
    g_clear_error (&error);
    g_file_get_contents (target, &target_data, NULL, NULL);
    g_assert_cmpuint (count_lines (target_data), ==, 1);
  }
}

static void
test_too_large (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) m =
      sc_message_new (1, SC_MESSAGE_INCOMING, "bob", "x", 1, SC_DELIVERY_NONE);
  g_autofree char *path = path_of (f, "bob");
  struct stat st;

  /* Sparse: no disk space, but the size says too large. */
  write_file (f, "bob", "", 0);
  g_assert_cmpint (truncate (path, (off_t) SC_HISTORY_FILE_MAX + 1), ==, 0);
  g_assert_null (sc_history_load (h, "bob", NULL, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 0);
  g_assert_false (sc_history_append (h, "bob", m, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* Exactly full: it loads (as damage), but nothing more is added. */
  g_assert_cmpint (truncate (path, (off_t) SC_HISTORY_FILE_MAX), ==, 0);
  {
    g_autoptr (GPtrArray) v = NULL;
    guint skipped = 0;

    /* All NUL bytes: one over-long line. */
    v = load_ok (h, "bob", &skipped);
    g_assert_cmpuint (v->len, ==, 0);
    g_assert_cmpuint (skipped, ==, 1);
  }
  g_assert_false (sc_history_append (h, "bob", m, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, (off_t) SC_HISTORY_FILE_MAX);
}

static void
test_invalid_peers (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScMessage) m =
      sc_message_new (1, SC_MESSAGE_INCOMING, "bob", "x", 1, SC_DELIVERY_NONE);
  static const char *const names[] = {
    "../x",
    "",
    "a/b",
    "/etc/passwd",
    ".hidden",
    "..",
    "Bob",
    "bob\n",
    "bob.jsonl/x",
    "-dash",
    "abcdefghijklmnopqrstuvwxyz0123456",
    "caf\xc3\xa9",
  };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) peers = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_null (sc_history_load (h, names[i], NULL, &error));
      g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (sc_history_append (h, names[i], m, &error));
      g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (sc_history_update (h, names[i], m, &error));
      g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (sc_history_remove (h, names[i], &error));
      g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_cmpuint (sc_history_next_id (h, names[i]), ==, 0);
    }
  g_assert_null (sc_history_load (h, NULL, NULL, &error));
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID);
  g_clear_error (&error);

  /* The longest valid name works; nothing else was created. */
  append_ok (h, "abcdefghijklmnopqrstuvwxyz012345", m);
  peers = sc_history_list_peers (h, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (peers), ==, 1);
  g_assert_cmpstr (peers[0], ==, "abcdefghijklmnopqrstuvwxyz012345");
}

static void
test_list_and_remove (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) empty = NULL;
  g_auto (GStrv) peers = NULL;
  g_auto (GStrv) after = NULL;
  g_autofree char *sub = g_build_filename (f->dir, "dave.jsonl", NULL);
  g_autofree char *link = g_build_filename (f->dir, "erin.jsonl", NULL);
  g_autofree char *readme = g_build_filename (f->dir, "README", NULL);
  g_autoptr (GPtrArray) gone = NULL;

  empty = sc_history_list_peers (h, &error);
  g_assert_no_error (error);
  g_assert_nonnull (empty);
  g_assert_cmpuint (g_strv_length (empty), ==, 0);

  g_object_unref (add (h, "carol", SC_MESSAGE_NOTICE, "c", SC_DELIVERY_NONE));
  g_object_unref (add (h, "alice", SC_MESSAGE_INCOMING, "a", SC_DELIVERY_NONE));
  g_object_unref (
      add (h, "bob.smith", SC_MESSAGE_INCOMING, "b", SC_DELIVERY_NONE));
  g_object_unref (add (h, "bob", SC_MESSAGE_INCOMING, "b", SC_DELIVERY_NONE));
  g_object_unref (add (h, "bob", SC_MESSAGE_INCOMING, "b2", SC_DELIVERY_NONE));
  /* Strays that are not histories. */
  write_file (f, "Bad", "", 0);
  write_file (f, ".alice.jsonl.tmp.0011", "", 0);
  write_file (f, "", "", 0); /* ".jsonl" */
  g_assert_true (g_file_set_contents (readme, "x", 1, NULL));
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  g_assert_cmpint (symlink ("alice.jsonl", link), ==, 0);

  peers = sc_history_list_peers (h, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (peers), ==, 4);
  g_assert_cmpstr (peers[0], ==, "alice");
  g_assert_cmpstr (peers[1], ==, "bob");
  g_assert_cmpstr (peers[2], ==, "bob.smith");
  g_assert_cmpstr (peers[3], ==, "carol");

  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 3);
  g_assert_true (sc_history_remove (h, "bob", &error));
  g_assert_no_error (error);
  g_assert_false (file_exists (f, "bob"));
  /* Removing what is not there is fine. */
  g_assert_true (sc_history_remove (h, "bob", &error));
  g_assert_true (sc_history_remove (h, "nobody", &error));
  g_assert_no_error (error);

  after = sc_history_list_peers (h, &error);
  g_assert_cmpuint (g_strv_length (after), ==, 3);
  g_assert_cmpstr (after[1], ==, "bob.smith");
  gone = load_ok (h, "bob", NULL);
  g_assert_cmpuint (gone->len, ==, 0);
  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 1);
}

static void
test_compaction (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScHistory) h2 = NULL;
  g_autoptr (ScHistory) h3 = NULL;
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *compacted = NULL;
  g_autofree char *path = path_of (f, "bob");
  const char *name;
  GDir *d;
  struct stat st;
  guint skipped = 99;

  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (
        sent, add (h, "bob", SC_MESSAGE_OUTGOING, "out", SC_DELIVERY_SENDING));
  g_ptr_array_add (sent,
                   add (h, "bob", SC_MESSAGE_INCOMING, "in", SC_DELIVERY_NONE));
  /* A torn line in the middle of the journal: dropped by compaction. */
  append_raw (f, "bob", "{\"v\":1,\"op");
  for (guint i = 0; i < 4; i++)
    {
      sc_message_set_delivery (sent->pdata[i], SC_DELIVERY_OFFLINE, "later");
      g_assert_true (sc_history_update (h, "bob", sent->pdata[i], &error));
      sc_message_set_delivery (sent->pdata[i], SC_DELIVERY_SENT, NULL);
      sc_message_set_timestamp (sent->pdata[i], 1900000000000 + i);
      g_assert_true (sc_history_update (h, "bob", sent->pdata[i], &error));
      g_assert_no_error (error);
    }
  before = read_file (f, "bob", NULL);
  g_assert_cmpuint (count_lines (before), ==, 14);

  /* 8 updates of 14 lines: the load rewrites the file. */
  h2 = open_history (f);
  loaded = load_ok (h2, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, 1);
  g_assert_cmpuint (loaded->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    assert_same (sent->pdata[i], loaded->pdata[i]);

  compacted = read_file (f, "bob", NULL);
  g_assert_cmpuint (count_lines (compacted), ==, 5);
  g_assert_null (strstr (compacted, "\"update\""));
  g_assert_true (g_str_has_suffix (compacted, "\n"));
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  /* No temporary file is left behind. */
  d = g_dir_open (f->dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    g_assert_cmpstr (name, ==, "bob.jsonl");
  g_dir_close (d);

  /* Same content from the compacted file; appends carry on. */
  h3 = open_history (f);
  again = load_ok (h3, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, 0);
  g_assert_cmpuint (again->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    assert_same (sent->pdata[i], again->pdata[i]);
  g_assert_cmpuint (sc_history_next_id (h3, "bob"), ==, 6);
  g_object_unref (
      add (h3, "bob", SC_MESSAGE_INCOMING, "six", SC_DELIVERY_NONE));
}

static void
test_next_id (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScHistory) h2 = NULL;
  g_autoptr (ScHistory) h3 = NULL;
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (ScMessage) jump = NULL;

  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 1);
  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 1);
  for (guint i = 0; i < 5; i++)
    g_object_unref (add (h, "bob", SC_MESSAGE_INCOMING, "x", SC_DELIVERY_NONE));
  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 6);
  /* Ids may jump ahead; the next one follows the largest. */
  jump = sc_message_new (40, SC_MESSAGE_INCOMING, "bob", "jump", 1,
                         SC_DELIVERY_NONE);
  append_ok (h, "bob", jump);
  g_assert_cmpuint (sc_history_next_id (h, "bob"), ==, 41);
  /* Peers count separately. */
  g_assert_cmpuint (sc_history_next_id (h, "carol"), ==, 1);

  /* Without a load first, the file is read. */
  h2 = open_history (f);
  g_assert_cmpuint (sc_history_next_id (h2, "bob"), ==, 41);
  h3 = open_history (f);
  loaded = load_ok (h3, "bob", NULL);
  g_assert_cmpuint (loaded->len, ==, 6);
  g_assert_cmpuint (sc_history_next_id (h3, "bob"), ==, 41);
}

static void
test_ten_thousand (Fixture *f, gconstpointer data)
{
  g_autoptr (ScHistory) h = open_history (f);
  g_autoptr (ScHistory) h2 = NULL;
  g_autoptr (GPtrArray) loaded = NULL;
  const guint n = 10000;
  guint skipped = 99;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_autoptr (ScMessage) m = sc_message_new (
          sc_history_next_id (h, "bob"),
          i % 3 == 0 ? SC_MESSAGE_OUTGOING : SC_MESSAGE_INCOMING,
          i % 3 == 0 ? "me" : "bob", text, 1700000000000 + i,
          i % 3 == 0 ? SC_DELIVERY_SENT : SC_DELIVERY_NONE);

      append_ok (h, "bob", m);
    }

  h2 = open_history (f);
  loaded = load_ok (h2, "bob", &skipped);
  g_assert_cmpuint (skipped, ==, 0);
  g_assert_cmpuint (loaded->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      ScMessage *m = loaded->pdata[i];
      g_autofree char *text = g_strdup_printf ("message %u", i);

      g_assert_cmpuint (sc_message_get_local_id (m), ==, i + 1);
      g_assert_cmpstr (sc_message_get_text (m), ==, text);
      g_assert_cmpint (sc_message_get_timestamp (m), ==, 1700000000000 + i);
    }
  g_assert_cmpuint (sc_history_next_id (h2, "bob"), ==, n + 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                        \
  g_test_add ("/gtk/history/" path, Fixture, NULL, fixture_set_up, func,       \
              fixture_tear_down)
  ADD ("round-trip", test_round_trip);
  ADD ("updates", test_updates);
  ADD ("sending-becomes-failed", test_sending_becomes_failed);
  ADD ("torn-line", test_torn_line);
  ADD ("malformed", test_malformed);
  ADD ("text-cut", test_text_cut);
  ADD ("append-refused", test_append_refused);
  ADD ("permissions", test_permissions);
  ADD ("too-large", test_too_large);
  ADD ("invalid-peers", test_invalid_peers);
  ADD ("list-and-remove", test_list_and_remove);
  ADD ("compaction", test_compaction);
  ADD ("next-id", test_next_id);
  ADD ("ten-thousand", test_ten_thousand);
#undef ADD
  return g_test_run ();
}
