/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScHistory: JSON lines under a private folder. Every file operation goes
 * through a descriptor of the folder (openat and friends) with
 * O_NOFOLLOW, so neither a renamed parent nor a planted symbolic link
 * redirects a read or a write, the same rule as common/keystore.c.
 *
 * The file is the journal: an "add" line per message, an "update" line
 * per delivery change. Appends are one write() of a whole line to an
 * O_APPEND descriptor followed by fdatasync, so a crash leaves at worst
 * one torn last line, which the loader skips and the next append steps
 * over by starting a fresh line. */
#include "sc-history.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "securechat/error.h"
#include "securechat/msg.h"

#define FILE_SUFFIX    ".jsonl"
#define FORMAT_VERSION 1
/* Delivery failure reasons are short sentences; more is not kept. */
#define ERROR_TEXT_MAX 1024
/* A notice's sender (usually empty); a message's is a user name. */
#define NOTICE_SENDER_MAX 64
/* Local ids stay exact in any JSON reader. */
#define LID_MAX ((G_GINT64_CONSTANT (1) << 53) - 1)
/* 9999-12-31T23:59:59.999Z: anything later is a corrupt number. */
#define TS_MAX     G_GINT64_CONSTANT (253402300799999)
#define READ_CHUNK (64 * 1024)
/* Compaction writes in pieces of about this size. */
#define WRITE_CHUNK (256 * 1024)
#define TMP_TRIES   8

G_STATIC_ASSERT (SC_HISTORY_LINE_MAX > 6 * SC_HISTORY_TEXT_MAX +
                                           6 * ERROR_TEXT_MAX +
                                           6 * NOTICE_SENDER_MAX + 256);

struct _ScHistory
{
  int dirfd;
  char *dir;
  /* peer -> guint64 * next local id, once known (loaded) */
  GHashTable *next_ids;
};

static const char *const kind_names[] = {
  [SC_MESSAGE_INCOMING] = "in",
  [SC_MESSAGE_OUTGOING] = "out",
  [SC_MESSAGE_NOTICE] = "notice",
};

static const char *const delivery_names[] = {
  [SC_DELIVERY_NONE] = "none",     [SC_DELIVERY_SENDING] = "sending",
  [SC_DELIVERY_SENT] = "sent",     [SC_DELIVERY_OFFLINE] = "offline",
  [SC_DELIVERY_FAILED] = "failed",
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

GQuark
sc_history_error_quark (void)
{
  return g_quark_from_static_string ("sc-history-error-quark");
}

static void
set_io_error (GError **error, int err, const char *what, const char *peer)
{
  if (peer != NULL)
    g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_IO,
                 /* Translators: first %s says what failed, second is a
                  * user name, third the system's reason. */
                 _ ("%s (chat history with %s): %s"), what, peer,
                 g_strerror (err));
  else
    g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_IO, "%s: %s", what,
                 g_strerror (err));
}

static gboolean
check_peer (const char *peer, GError **error)
{
  g_autofree char *cut = NULL;
  g_autofree char *shown = NULL;

  /* strnlen: a name one byte too long already fails the check. */
  if (peer != NULL &&
      sc_username_validate (peer, strnlen (peer, SC_USERNAME_MAX + 1)) == SC_OK)
    return TRUE;

  cut = g_strndup (peer != NULL ? peer : "", SC_USERNAME_MAX + 8);
  shown = g_strescape (cut, NULL);
  g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
               _ ("“%s” is not a user name, so it has no chat history. User "
                  "names are 1 to 32 lower-case letters, digits, dots, "
                  "underscores or hyphens."),
               shown);
  return FALSE;
}

static char *
file_name (const char *peer)
{
  return g_strconcat (peer, FILE_SUFFIX, NULL);
}

/* A folder we keep conversations in: ours, a directory, nobody else's. */
static gboolean
check_dir (int fd, const char *dir, GError **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    {
      set_io_error (error, errno, _ ("Could not check the chat history folder"),
                    NULL);
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    {
      set_io_error (error, ENOTDIR,
                    _ ("Could not open the chat history folder"), NULL);
      return FALSE;
    }
  if (st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    {
      g_set_error (
          error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_PERMISSIONS,
          _ ("Other users can open the chat history folder “%s”, so it "
             "is not used. Make it private (chmod 700) and try again."),
          dir);
      return FALSE;
    }
  return TRUE;
}

/* A history file we trust: a regular file of ours, private, not huge. */
static gboolean
check_file (int fd, const char *peer, struct stat *st, GError **error)
{
  if (fstat (fd, st) < 0)
    {
      set_io_error (error, errno, _ ("Could not check the file"), peer);
      return FALSE;
    }
  if (!S_ISREG (st->st_mode))
    {
      set_io_error (error, EINVAL, _ ("Could not use the file"), peer);
      return FALSE;
    }
  if (st->st_uid != geteuid () || (st->st_mode & 077) != 0)
    {
      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_PERMISSIONS,
                   _ ("Other users can open the chat history with %s, so it "
                      "is not used. Make the file private (chmod 600) and try "
                      "again."),
                   peer);
      return FALSE;
    }
  if (st->st_size < 0 || (guint64) st->st_size > SC_HISTORY_FILE_MAX)
    {
      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_TOO_LARGE,
                   _ ("The chat history with %s is larger than %u MB and is "
                      "not loaded."),
                   peer, SC_HISTORY_FILE_MAX / (1024 * 1024));
      return FALSE;
    }
  return TRUE;
}

static int
write_all (int fd, const char *buf, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return errno;
        }
      buf += n;
      len -= (gsize) n;
    }
  return 0;
}

/* The length of the longest prefix of s (valid UTF-8) of at most max
 * bytes that ends on a character boundary. */
static gsize
utf8_cut (const char *s, gsize len, gsize max)
{
  if (len <= max)
    return len;
  while (max > 0 && ((guchar) s[max] & 0xC0) == 0x80)
    max--;
  return max;
}

static gboolean
valid_sender (ScMessageKind kind, const char *s, gsize len)
{
  if (len == 0)
    return TRUE;
  if (kind != SC_MESSAGE_NOTICE)
    return sc_username_validate (s, len) == SC_OK;
  if (len > NOTICE_SENDER_MAX || !g_utf8_validate (s, (gssize) len, NULL))
    return FALSE;
  for (const char *p = s; p < s + len; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static int
kind_from_name (const char *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (strcmp (s, kind_names[i]) == 0)
      return (int) i;
  return -1;
}

static int
delivery_from_name (const char *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (delivery_names); i++)
    if (strcmp (s, delivery_names[i]) == 0)
      return (int) i;
  return -1;
}

static int
dump_cb (const char *buffer, size_t size, void *data)
{
  g_string_append_len (data, buffer, (gssize) size);
  return 0;
}

/* Adds "delivery", "ts" and "error" (when set) of m to obj. */
static gboolean
put_state (json_t *obj, ScMessage *m, GError **error)
{
  ScDelivery delivery = sc_message_get_delivery (m);
  gint64 ts = sc_message_get_timestamp (m);
  const char *err = sc_message_get_error (m);

  if (sc_message_get_kind (m) != SC_MESSAGE_OUTGOING &&
      delivery != SC_DELIVERY_NONE)
    {
      g_set_error_literal (
          error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
          _ ("Only a message you sent can have a delivery state."));
      return FALSE;
    }
  if (ts < 0 || ts > TS_MAX)
    {
      g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
                           _ ("The message has an impossible date."));
      return FALSE;
    }
  json_object_set_new (obj, "delivery", json_string (delivery_names[delivery]));
  json_object_set_new (obj, "ts", json_integer (ts));
  if (err != NULL)
    {
      json_t *s =
          json_stringn (err, utf8_cut (err, strlen (err), ERROR_TEXT_MAX));

      if (s == NULL)
        {
          g_set_error_literal (error, SC_HISTORY_ERROR,
                               SC_HISTORY_ERROR_INVALID,
                               _ ("The delivery error is not valid text."));
          return FALSE;
        }
      json_object_set_new (obj, "error", s);
    }
  return TRUE;
}

/* Appends m's "add" line (with its '\n') to out. */
static gboolean
add_line (GString *out, ScMessage *m, GError **error)
{
  g_autoptr (json_t) obj = json_object ();
  guint64 lid = sc_message_get_local_id (m);
  ScMessageKind kind = sc_message_get_kind (m);
  const char *sender = sc_message_get_sender (m);
  const char *text = sc_message_get_text (m);
  json_t *s;

  if (lid == 0 || lid > (guint64) LID_MAX)
    {
      g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
                           _ ("The message has no valid local id."));
      return FALSE;
    }
  if (!valid_sender (kind, sender, strlen (sender)))
    {
      g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
                           _ ("The message’s sender is not a user name."));
      return FALSE;
    }
  s = json_stringn (text, utf8_cut (text, strlen (text), SC_HISTORY_TEXT_MAX));
  if (s == NULL)
    {
      g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
                           _ ("The message is not valid text."));
      return FALSE;
    }
  json_object_set_new (obj, "v", json_integer (FORMAT_VERSION));
  json_object_set_new (obj, "op", json_string ("add"));
  json_object_set_new (obj, "lid", json_integer ((json_int_t) lid));
  json_object_set_new (obj, "kind", json_string (kind_names[kind]));
  json_object_set_new (obj, "from", json_string (sender));
  json_object_set_new (obj, "text", s);
  if (!put_state (obj, m, error))
    return FALSE;
  if (json_dump_callback (obj, dump_cb, out, JSON_COMPACT) != 0)
    {
      set_io_error (error, ENOMEM, _ ("Could not write the chat history"),
                    NULL);
      return FALSE;
    }
  g_string_append_c (out, '\n');
  return TRUE;
}

static gboolean
update_line (GString *out, ScMessage *m, GError **error)
{
  g_autoptr (json_t) obj = json_object ();

  json_object_set_new (obj, "v", json_integer (FORMAT_VERSION));
  json_object_set_new (obj, "op", json_string ("update"));
  json_object_set_new (obj, "lid",
                       json_integer ((json_int_t) sc_message_get_local_id (m)));
  if (!put_state (obj, m, error))
    return FALSE;
  if (json_dump_callback (obj, dump_cb, out, JSON_COMPACT) != 0)
    {
      set_io_error (error, ENOMEM, _ ("Could not write the chat history"),
                    NULL);
      return FALSE;
    }
  g_string_append_c (out, '\n');
  return TRUE;
}

/* ---- loading ---- */

typedef struct
{
  GPtrArray *messages;
  /* local id (guint64 *, owned) -> ScMessage (borrowed from messages) */
  GHashTable *by_id;
  guint64 max_id;
  guint n_lines;
  guint n_updates;
  guint n_skipped;
} Load;

/* An integer member within [min, max]. */
static gboolean
get_int (json_t *obj, const char *key, gint64 min, gint64 max, gint64 *out)
{
  json_t *v = json_object_get (obj, key);

  if (!json_is_integer (v))
    return FALSE;
  *out = json_integer_value (v);
  return *out >= min && *out <= max;
}

/* A string member, or NULL when it is not one. */
static const char *
get_str (json_t *obj, const char *key, gsize *len)
{
  json_t *v = json_object_get (obj, key);

  if (!json_is_string (v))
    return NULL;
  *len = json_string_length (v);
  return json_string_value (v);
}

/* "delivery", "ts" and "error" of an add or update line, checked against
 * the message kind. error_out borrows from obj (NULL: none). */
static gboolean
get_state (json_t *obj,
           ScMessageKind kind,
           ScDelivery *delivery,
           gint64 *ts,
           char **error_out)
{
  json_t *err = json_object_get (obj, "error");
  const char *s;
  gsize len;
  int d;

  s = get_str (obj, "delivery", &len);
  if (s == NULL || (d = delivery_from_name (s)) < 0)
    return FALSE;
  if (kind != SC_MESSAGE_OUTGOING && d != SC_DELIVERY_NONE)
    return FALSE;
  if (!get_int (obj, "ts", 0, TS_MAX, ts))
    return FALSE;
  *delivery = (ScDelivery) d;
  *error_out = NULL;
  if (err == NULL || json_is_null (err))
    return TRUE;
  if (!json_is_string (err))
    return FALSE;
  s = json_string_value (err);
  len = json_string_length (err);
  *error_out = g_strndup (s, utf8_cut (s, len, ERROR_TEXT_MAX));
  return TRUE;
}

static gboolean
parse_add (Load *ld, json_t *obj, guint64 lid)
{
  g_autofree char *text = NULL;
  g_autofree char *err = NULL;
  const char *s;
  const char *from = "";
  gsize len;
  gsize from_len = 0;
  ScDelivery delivery;
  gint64 ts;
  int kind;
  ScMessage *m;

  if (g_hash_table_contains (ld->by_id, &lid))
    return FALSE;
  s = get_str (obj, "kind", &len);
  if (s == NULL || (kind = kind_from_name (s)) < 0)
    return FALSE;
  if (json_object_get (obj, "from") != NULL)
    {
      from = get_str (obj, "from", &from_len);
      if (from == NULL || !valid_sender (kind, from, from_len))
        return FALSE;
    }
  s = get_str (obj, "text", &len);
  if (s == NULL)
    return FALSE;
  if (!get_state (obj, kind, &delivery, &ts, &err))
    return FALSE;
  text = g_strndup (s, utf8_cut (s, len, SC_HISTORY_TEXT_MAX));

  m = sc_message_new (lid, kind, from, text, ts, delivery);
  if (err != NULL)
    sc_message_set_delivery (m, delivery, err);
  g_ptr_array_add (ld->messages, m);
  g_hash_table_insert (ld->by_id, g_memdup2 (&lid, sizeof lid), m);
  ld->max_id = MAX (ld->max_id, lid);
  return TRUE;
}

static gboolean
parse_update (Load *ld, json_t *obj, guint64 lid)
{
  g_autofree char *err = NULL;
  ScMessage *m = g_hash_table_lookup (ld->by_id, &lid);
  ScDelivery delivery;
  gint64 ts;

  if (m == NULL)
    return FALSE;
  if (!get_state (obj, sc_message_get_kind (m), &delivery, &ts, &err))
    return FALSE;
  sc_message_set_delivery (m, delivery, err);
  sc_message_set_timestamp (m, ts);
  ld->n_updates++;
  return TRUE;
}

/* One line without its '\n'. FALSE: unusable. */
static gboolean
parse_line (Load *ld, const char *line, gsize len)
{
  g_autoptr (json_t) obj = NULL;
  json_error_t jerr;
  const char *op;
  gsize op_len;
  gint64 v;
  gint64 lid;

  obj = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object (obj))
    return FALSE;
  if (!get_int (obj, "v", FORMAT_VERSION, FORMAT_VERSION, &v))
    return FALSE;
  if (!get_int (obj, "lid", 1, LID_MAX, &lid))
    return FALSE;
  op = get_str (obj, "op", &op_len);
  if (op == NULL)
    return FALSE;
  if (strcmp (op, "add") == 0)
    return parse_add (ld, obj, (guint64) lid);
  if (strcmp (op, "update") == 0)
    return parse_update (ld, obj, (guint64) lid);
  return FALSE;
}

static void
take_line (Load *ld, const char *line, gsize len)
{
  /* Blank lines are harmless, not damage. */
  if (len == 0)
    return;
  ld->n_lines++;
  if (!parse_line (ld, line, len))
    ld->n_skipped++;
}

/* Replays fd's lines into ld. Lines longer than SC_HISTORY_LINE_MAX are
 * skipped without being held in memory. */
static gboolean
read_lines (Load *ld, int fd, const char *peer, GError **error)
{
  gsize cap = SC_HISTORY_LINE_MAX + READ_CHUNK;
  g_autofree char *buf = g_malloc (cap);
  gsize start = 0;
  gsize end = 0;
  guint64 total = 0;
  gboolean discarding = FALSE;

  for (;;)
    {
      ssize_t n;
      char *nl;

      /* Every complete line in the buffer. */
      while ((nl = memchr (buf + start, '\n', end - start)) != NULL)
        {
          gsize len = (gsize) (nl - (buf + start));

          if (discarding)
            discarding = FALSE;
          else if (len > SC_HISTORY_LINE_MAX)
            {
              ld->n_lines++;
              ld->n_skipped++;
            }
          else
            take_line (ld, buf + start, len);
          start += len + 1;
        }
      if (discarding)
        start = end;
      else if (end - start > SC_HISTORY_LINE_MAX)
        {
          /* Too long already: count it once, drop it up to its end. */
          ld->n_lines++;
          ld->n_skipped++;
          discarding = TRUE;
          start = end;
        }
      if (start > 0)
        {
          memmove (buf, buf + start, end - start);
          end -= start;
          start = 0;
        }

      n = read (fd, buf + end, MIN (cap - end, READ_CHUNK));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          set_io_error (error, errno, _ ("Could not read the file"), peer);
          return FALSE;
        }
      if (n == 0)
        break;
      total += (guint64) n;
      if (total > SC_HISTORY_FILE_MAX)
        {
          g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_TOO_LARGE,
                       _ ("The chat history with %s is larger than %u MB and "
                          "is not loaded."),
                       peer, SC_HISTORY_FILE_MAX / (1024 * 1024));
          return FALSE;
        }
      end += (gsize) n;
    }
  /* A last line without '\n' was cut short by a crash. */
  if (end > 0 && !discarding)
    {
      ld->n_lines++;
      ld->n_skipped++;
    }
  return TRUE;
}

static void
fsync_dir (ScHistory *h)
{
  /* Durability of a new or renamed name; the data itself is already
   * synced, so a failure here is not worth failing the operation. */
  if (fsync (h->dirfd) < 0)
    g_debug ("fsync of %s: %s", h->dir, g_strerror (errno));
}

/* Rewrites peer's file with one "add" line per message, atomically: a
 * private temporary file in the same folder, synced, renamed over. */
static gboolean
compact (ScHistory *h, const char *peer, GPtrArray *messages, GError **error)
{
  g_autofree char *name = file_name (peer);
  g_autofree char *tmp = NULL;
  g_autoptr (GString) out = g_string_sized_new (WRITE_CHUNK + 4096);
  int fd = -1;
  int err = 0;

  for (int i = 0; i < TMP_TRIES && fd < 0; i++)
    {
      g_free (tmp);
      tmp = g_strdup_printf (".%s.tmp.%08x%08x", name, g_random_int (),
                             g_random_int ());
      fd = openat (h->dirfd, tmp,
                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW |
                       O_NOCTTY,
                   0600);
      if (fd < 0 && errno != EEXIST)
        break;
    }
  if (fd < 0)
    {
      set_io_error (error, errno, _ ("Could not tidy up the file"), peer);
      return FALSE;
    }
  if (fchmod (fd, 0600) < 0)
    err = errno;

  for (guint i = 0; err == 0 && i < messages->len; i++)
    {
      if (!add_line (out, messages->pdata[i], error))
        goto fail;
      if (out->len >= WRITE_CHUNK || i + 1 == messages->len)
        {
          err = write_all (fd, out->str, out->len);
          g_string_truncate (out, 0);
        }
    }
  if (err == 0 && fsync (fd) < 0)
    err = errno;
  if (close (fd) < 0 && err == 0)
    err = errno;
  fd = -1;
  if (err == 0 && renameat (h->dirfd, tmp, h->dirfd, name) < 0)
    err = errno;
  if (err != 0)
    {
      set_io_error (error, err, _ ("Could not tidy up the file"), peer);
      goto fail;
    }
  fsync_dir (h);
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  unlinkat (h->dirfd, tmp, 0);
  return FALSE;
}

static void
set_next_id (ScHistory *h, const char *peer, guint64 next)
{
  guint64 *slot = g_hash_table_lookup (h->next_ids, peer);

  if (slot == NULL)
    {
      slot = g_new (guint64, 1);
      g_hash_table_insert (h->next_ids, g_strdup (peer), slot);
      *slot = next;
    }
  else
    *slot = MAX (*slot, next);
}

/* ---- public ---- */

ScHistory *
sc_history_open (const char *dir, GError **error)
{
  g_autoptr (ScHistory) h = NULL;

  g_return_val_if_fail (dir != NULL && dir[0] != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int e = errno;

      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_IO,
                   _ ("Could not create the chat history folder “%s”: %s"), dir,
                   g_strerror (e));
      return NULL;
    }

  h = g_new0 (ScHistory, 1);
  h->dir = g_strdup (dir);
  h->next_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (h->dirfd < 0)
    {
      int e = errno;

      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_IO,
                   _ ("Could not open the chat history folder “%s”: %s"), dir,
                   g_strerror (e));
      return NULL;
    }
  if (!check_dir (h->dirfd, dir, error))
    return NULL;
  return g_steal_pointer (&h);
}

void
sc_history_free (ScHistory *h)
{
  if (h == NULL)
    return;
  if (h->dirfd >= 0)
    close (h->dirfd);
  g_clear_pointer (&h->next_ids, g_hash_table_unref);
  g_free (h->dir);
  g_free (h);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GStrv
sc_history_list_peers (ScHistory *h, GError **error)
{
  g_autoptr (GPtrArray) peers = g_ptr_array_new_with_free_func (g_free);
  struct dirent *ent;
  DIR *d;
  int fd;

  g_return_val_if_fail (h != NULL, NULL);

  /* A descriptor of our own: readdir moves its offset. */
  fd = openat (h->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      int e = errno;

      if (fd >= 0)
        close (fd);
      set_io_error (error, e, _ ("Could not list the chat histories"), NULL);
      return NULL;
    }
  for (;;)
    {
      gsize len;

      errno = 0;
      ent = readdir (d);
      if (ent == NULL)
        break;
      len = strlen (ent->d_name);
      if (len <= strlen (FILE_SUFFIX) ||
          !g_str_has_suffix (ent->d_name, FILE_SUFFIX))
        continue;
      len -= strlen (FILE_SUFFIX);
      if (sc_username_validate (ent->d_name, len) != SC_OK)
        continue;
      if (ent->d_type != DT_REG)
        {
          struct stat st;

          if (ent->d_type != DT_UNKNOWN ||
              fstatat (dirfd (d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
              !S_ISREG (st.st_mode))
            continue;
        }
      g_ptr_array_add (peers, g_strndup (ent->d_name, len));
    }
  if (errno != 0)
    {
      int e = errno;

      closedir (d);
      set_io_error (error, e, _ ("Could not list the chat histories"), NULL);
      return NULL;
    }
  closedir (d);
  g_ptr_array_sort (peers, compare_names);
  g_ptr_array_add (peers, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&peers), FALSE);
}

GPtrArray *
sc_history_load (ScHistory *h,
                 const char *peer,
                 guint *n_skipped,
                 GError **error)
{
  g_autofree char *name = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GHashTable) by_id = NULL;
  struct stat st;
  Load ld = { 0 };
  gboolean ok;
  int fd;

  if (n_skipped != NULL)
    *n_skipped = 0;
  g_return_val_if_fail (h != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (!check_peer (peer, error))
    return NULL;

  messages = g_ptr_array_new_with_free_func (g_object_unref);
  name = file_name (peer);
  fd = openat (h->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0)
    {
      int e = errno;

      if (e != ENOENT)
        {
          set_io_error (error, e, _ ("Could not open the file"), peer);
          return NULL;
        }
      set_next_id (h, peer, 1);
      return g_steal_pointer (&messages);
    }
  if (!check_file (fd, peer, &st, error))
    {
      close (fd);
      return NULL;
    }

  by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  ld.messages = messages;
  ld.by_id = by_id;
  ok = read_lines (&ld, fd, peer, error);
  close (fd);
  if (!ok)
    return NULL;

  /* Whatever was in flight when the app stopped never got an answer. */
  for (guint i = 0; i < messages->len; i++)
    if (sc_message_get_delivery (messages->pdata[i]) == SC_DELIVERY_SENDING)
      sc_message_set_delivery (messages->pdata[i], SC_DELIVERY_FAILED,
                               _ ("Not sent before the app closed"));

  if ((guint64) ld.n_updates * 2 > ld.n_lines)
    {
      g_autoptr (GError) cerr = NULL;

      /* Only tidiness is lost if this fails: the file as it is loads. */
      if (!compact (h, peer, messages, &cerr))
        g_message ("%s", cerr->message);
    }

  set_next_id (h, peer, ld.max_id + 1);
  if (n_skipped != NULL)
    *n_skipped = ld.n_skipped;
  return g_steal_pointer (&messages);
}

/* peer's next id, loading the file if this session has not yet. */
static gboolean
known_next_id (ScHistory *h, const char *peer, guint64 *out, GError **error)
{
  guint64 *slot = g_hash_table_lookup (h->next_ids, peer);

  if (slot == NULL)
    {
      g_autoptr (GPtrArray) messages = sc_history_load (h, peer, NULL, error);

      if (messages == NULL)
        return FALSE;
      slot = g_hash_table_lookup (h->next_ids, peer);
    }
  *out = *slot;
  return TRUE;
}

guint64
sc_history_next_id (ScHistory *h, const char *peer)
{
  g_autoptr (GError) error = NULL;
  guint64 next = 0;

  g_return_val_if_fail (h != NULL, 0);

  if (!check_peer (peer, &error) || !known_next_id (h, peer, &next, &error))
    {
      g_debug ("no next id: %s", error->message);
      return 0;
    }
  return next;
}

/* Appends line to peer's file: one write of whole lines, then fdatasync.
 * If the file does not end with '\n' (a torn line from a crash), a '\n'
 * goes first so the new line stands alone. */
static gboolean
append_lines (ScHistory *h, const char *peer, GString *line, GError **error)
{
  g_autofree char *name = file_name (peer);
  /* Read too: the last byte says whether a torn line needs ending. */
  const int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
  gboolean created = FALSE;
  struct stat st;
  int fd;
  int err;

  fd = openat (h->dirfd, name, flags);
  if (fd < 0 && errno == ENOENT)
    {
      fd = openat (h->dirfd, name, flags | O_CREAT | O_EXCL, 0600);
      created = fd >= 0;
      /* The umask may have taken more than group and other bits. */
      if (created && fchmod (fd, 0600) < 0)
        {
          err = errno;
          close (fd);
          set_io_error (error, err, _ ("Could not create the file"), peer);
          return FALSE;
        }
    }
  if (fd < 0)
    {
      set_io_error (error, errno, _ ("Could not open the file"), peer);
      return FALSE;
    }
  if (!check_file (fd, peer, &st, error))
    {
      close (fd);
      return FALSE;
    }
  if (st.st_size > 0)
    {
      char last = '\n';
      ssize_t n;

      do
        n = pread (fd, &last, 1, st.st_size - 1);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          set_io_error (error, errno, _ ("Could not read the file"), peer);
          close (fd);
          return FALSE;
        }
      if (last != '\n')
        g_string_prepend_c (line, '\n');
    }
  if ((guint64) st.st_size + line->len > SC_HISTORY_FILE_MAX)
    {
      close (fd);
      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_TOO_LARGE,
                   _ ("The chat history with %s has reached %u MB; no more "
                      "is saved."),
                   peer, SC_HISTORY_FILE_MAX / (1024 * 1024));
      return FALSE;
    }

  err = write_all (fd, line->str, line->len);
  if (err != 0)
    {
      /* Take back a partial line rather than leave it for the loader. */
      if (ftruncate (fd, st.st_size) < 0)
        g_debug ("truncating %s: %s", name, g_strerror (errno));
    }
  else if (fdatasync (fd) < 0)
    err = errno;
  if (close (fd) < 0 && err == 0)
    err = errno;
  if (err != 0)
    {
      set_io_error (error, err, _ ("Could not save the message"), peer);
      return FALSE;
    }
  if (created)
    fsync_dir (h);
  return TRUE;
}

gboolean
sc_history_append (ScHistory *h,
                   const char *peer,
                   ScMessage *message,
                   GError **error)
{
  g_autoptr (GString) line = g_string_sized_new (256);
  guint64 lid;
  guint64 next;

  g_return_val_if_fail (h != NULL, FALSE);
  g_return_val_if_fail (SC_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_peer (peer, error) || !known_next_id (h, peer, &next, error))
    return FALSE;
  lid = sc_message_get_local_id (message);
  /* 0 is refused below, as not an id at all. */
  if (lid != 0 && lid < next)
    {
      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
                   _ ("The chat history with %s already has a message with "
                      "this local id."),
                   peer);
      return FALSE;
    }
  if (!add_line (line, message, error) || !append_lines (h, peer, line, error))
    return FALSE;
  set_next_id (h, peer, lid + 1);
  return TRUE;
}

gboolean
sc_history_update (ScHistory *h,
                   const char *peer,
                   ScMessage *message,
                   GError **error)
{
  g_autoptr (GString) line = g_string_sized_new (128);
  guint64 lid;
  guint64 next;

  g_return_val_if_fail (h != NULL, FALSE);
  g_return_val_if_fail (SC_IS_MESSAGE (message), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_peer (peer, error) || !known_next_id (h, peer, &next, error))
    return FALSE;
  lid = sc_message_get_local_id (message);
  if (lid == 0 || lid >= next)
    {
      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_INVALID,
                   _ ("The chat history with %s has no message with this "
                      "local id."),
                   peer);
      return FALSE;
    }
  return update_line (line, message, error) &&
         append_lines (h, peer, line, error);
}

gboolean
sc_history_remove (ScHistory *h, const char *peer, GError **error)
{
  g_autofree char *name = NULL;

  g_return_val_if_fail (h != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_peer (peer, error))
    return FALSE;
  name = file_name (peer);
  if (unlinkat (h->dirfd, name, 0) < 0 && errno != ENOENT)
    {
      set_io_error (error, errno, _ ("Could not delete the file"), peer);
      return FALSE;
    }
  fsync_dir (h);
  /* Ids start again at 1, as for any empty history. */
  g_hash_table_remove (h->next_ids, peer);
  return TRUE;
}
