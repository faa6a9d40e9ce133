/* SPDX-License-Identifier: GPL-3.0-or-later */
/* credentials.json, the seed's format: {"alice": "$y$...", "kitty":
 * "$2b$12$..."}. The whole JSON object is kept as loaded, so entries this
 * version cannot use survive every rewrite; a sorted index of the usable
 * ones (a valid username with a string value) serves lookups and listings.
 *
 * Writers serialise on an flock of DIR/credentials.json.lock and always
 * re-read the file under the lock before changing it, so two admin commands,
 * or an admin command and a running server, never lose each other's
 * changes. The new contents go to a temporary file in the same folder,
 * which is fsync'd and renamed over the old one, and the folder is fsync'd:
 * a reader sees the old file or the new one, never a mix. A writer killed
 * half-way leaves only its temporary file, which the next writer removes. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "util.h"
#include "securechat/crypto.h"
#include "securechat/msg.h"

/* Far beyond any real user list; a bound on what a corrupt file costs. */
#define STORE_MAX_SIZE (64 * 1024 * 1024)
/* Longest hash accepted for writing (libxcrypt's CRYPT_OUTPUT_SIZE). */
#define STORE_HASH_MAX 384

#define DUMP_FLAGS (JSON_INDENT (2) | JSON_SORT_KEYS | JSON_REAL_PRECISION (17))

struct store_entry
{
  const char *user; /* both point into root */
  const char *hash;
};

struct store_file_id
{
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtim;
  struct timespec ctim;
};

struct store
{
  char *path;
  char *lock_path;
  char *dir;
  json_t *root;
  struct store_entry *entries; /* usable users, sorted by name */
  size_t n_entries;
  size_t n_unusable;
  struct store_file_id id; /* of the file root was read from */
};

static void
file_id_from_stat (struct store_file_id *id, const struct stat *st)
{
  memset (id, 0, sizeof *id);
  id->dev = st->st_dev;
  id->ino = st->st_ino;
  id->size = st->st_size;
  id->mtim = st->st_mtim;
  id->ctim = st->st_ctim;
}

static bool
file_id_equal (const struct store_file_id *a, const struct store_file_id *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtim.tv_sec == b->mtim.tv_sec &&
         a->mtim.tv_nsec == b->mtim.tv_nsec &&
         a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

static const char *
shown_path (const struct store *st, char *buf, size_t cap)
{
  return log_escape (st->path, strlen (st->path), buf, cap);
}

/* Parses the text of a credentials file; *root_out is a JSON object on
 * success. shown names the file in messages. */
static int
parse_text (const char *shown,
            const char *text,
            size_t len,
            json_t **root_out,
            char *err,
            size_t err_cap)
{
  char msg[256];
  json_error_t jerr;
  json_t *root;

  *root_out = NULL;
  root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    {
      /* jansson may quote the token it stopped at ("... near '...'"),
       * which can be a hash: the position says where to look. */
      const char *near = strstr (jerr.text, " near '");
      size_t n =
          near != NULL ? (size_t) (near - jerr.text) : strlen (jerr.text);

      util_set_err (err, err_cap, "%s:%d:%d: %s", shown, jerr.line, jerr.column,
                    log_escape (jerr.text, n, msg, sizeof msg));
      return -1;
    }
  if (!json_is_object (root))
    {
      util_set_err (err, err_cap,
                    "%s: the top level must be a JSON object of user -> hash",
                    shown);
      json_decref (root);
      return -1;
    }
  *root_out = root;
  return 0;
}

/* Reads all of fd (a regular file of size bytes when it was opened, at
 * most STORE_MAX_SIZE) into a malloc'd buffer. */
static int
read_all (int fd, off_t size, char **out, size_t *out_len)
{
  size_t cap = (size_t) size + 1, len = 0;
  char *buf = malloc (cap);

  *out = NULL;
  *out_len = 0;
  if (buf == NULL)
    return -1;
  for (;;)
    {
      ssize_t n;

      if (len == cap)
        {
          /* The file grew since fstat: follow it up to the limit. */
          size_t grown =
              cap * 2 > STORE_MAX_SIZE + 1 ? STORE_MAX_SIZE + 1 : cap * 2;
          char *p;

          if (grown <= cap)
            {
              errno = EFBIG;
              goto fail;
            }
          p = malloc (grown);
          if (p == NULL)
            goto fail;
          memcpy (p, buf, len);
          sc_wipe (buf, len);
          free (buf);
          buf = p;
          cap = grown;
        }
      n = read (fd, buf + len, cap - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        goto fail;
      if (n == 0)
        break;
      len += (size_t) n;
    }
  *out = buf;
  *out_len = len;
  return 0;

fail:
  sc_wipe (buf, len);
  free (buf);
  return -1;
}

/* Reads and parses path; *root_out is a JSON object on success. */
static int
load_file (const char *path,
           json_t **root_out,
           struct store_file_id *id,
           char *err,
           size_t err_cap)
{
  char shown[256];
  struct stat sb;
  char *text = NULL;
  size_t len = 0;
  int fd, rc;

  *root_out = NULL;
  log_escape (path, strlen (path), shown, sizeof shown);
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    {
      util_set_err (err, err_cap, "cannot open %s: %s", shown,
                    strerror (errno));
      return -1;
    }
  if (fstat (fd, &sb) != 0)
    {
      util_set_err (err, err_cap, "cannot stat %s: %s", shown,
                    strerror (errno));
      close (fd);
      return -1;
    }
  if (!S_ISREG (sb.st_mode))
    {
      util_set_err (err, err_cap, "%s is not a regular file", shown);
      close (fd);
      return -1;
    }
  if (sb.st_size > STORE_MAX_SIZE)
    {
      util_set_err (err, err_cap, "%s is too large (%lld bytes, limit %d)",
                    shown, (long long) sb.st_size, STORE_MAX_SIZE);
      close (fd);
      return -1;
    }
  if (read_all (fd, sb.st_size, &text, &len) != 0)
    {
      if (errno == EFBIG)
        util_set_err (err, err_cap, "%s is too large (limit %d bytes)", shown,
                      STORE_MAX_SIZE);
      else
        util_set_err (err, err_cap, "cannot read %s: %s", shown,
                      strerror (errno));
      close (fd);
      return -1;
    }
  close (fd);

  rc = parse_text (shown, text, len, root_out, err, err_cap);
  sc_wipe (text, len);
  free (text);
  if (rc != 0)
    return -1;
  file_id_from_stat (id, &sb);
  return 0;
}

static int
entry_cmp (const void *a, const void *b)
{
  const struct store_entry *ea = a, *eb = b;

  return strcmp (ea->user, eb->user);
}

static bool
entry_usable (const char *user, const json_t *value)
{
  return sc_username_validate (user, strlen (user)) == 0 &&
         json_is_string (value);
}

/* Builds the sorted index of usable users of root. */
static int
build_index (json_t *root,
             struct store_entry **out,
             size_t *n_out,
             size_t *n_unusable,
             char *err,
             size_t err_cap)
{
  struct store_entry *entries = NULL;
  size_t n = 0, total = json_object_size (root);
  const char *key;
  json_t *value;

  *out = NULL;
  *n_out = 0;
  *n_unusable = 0;
  if (total > 0)
    {
      entries = calloc (total, sizeof *entries);
      if (entries == NULL)
        {
          util_set_err (err, err_cap, "out of memory");
          return -1;
        }
    }
  json_object_foreach (root, key, value)
  {
    if (entry_usable (key, value))
      {
        entries[n].user = key;
        entries[n].hash = json_string_value (value);
        n++;
      }
  }
  if (n > 1)
    qsort (entries, n, sizeof *entries, entry_cmp);
  *out = entries;
  *n_out = n;
  *n_unusable = total - n;
  return 0;
}

/* Takes root over as the store's contents. */
static int
store_adopt (struct store *st,
             json_t *root,
             const struct store_file_id *id,
             char *err,
             size_t err_cap)
{
  struct store_entry *entries;
  size_t n, n_unusable;

  if (build_index (root, &entries, &n, &n_unusable, err, err_cap) != 0)
    {
      json_decref (root);
      return -1;
    }
  free (st->entries);
  json_decref (st->root);
  st->root = root;
  st->entries = entries;
  st->n_entries = n;
  st->n_unusable = n_unusable;
  st->id = *id;
  return 0;
}

static char *
concat (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  char *s = malloc (la + lb + 1);

  if (s == NULL)
    return NULL;
  memcpy (s, a, la);
  memcpy (s + la, b, lb + 1);
  return s;
}

static char *
dir_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  char *dir;

  if (slash == NULL)
    return strdup (".");
  if (slash == path)
    return strdup ("/");
  dir = strndup (path, (size_t) (slash - path));
  return dir;
}

int
store_open (const char *path, struct store **out, char *err, size_t err_cap)
{
  struct store *st;
  struct store_file_id id;
  json_t *root;

  if (out != NULL)
    *out = NULL;
  if (path == NULL || out == NULL || *path == '\0')
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  st = calloc (1, sizeof *st);
  if (st == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      return -1;
    }
  st->path = strdup (path);
  st->lock_path = concat (path, ".lock");
  st->dir = dir_of (path);
  if (st->path == NULL || st->lock_path == NULL || st->dir == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      store_free (st);
      return -1;
    }
  if (load_file (path, &root, &id, err, err_cap) != 0 ||
      store_adopt (st, root, &id, err, err_cap) != 0)
    {
      store_free (st);
      return -1;
    }
  *out = st;
  return 0;
}

int
store_parse (const char *name,
             const char *text,
             size_t len,
             struct store **out,
             char *err,
             size_t err_cap)
{
  struct store_file_id id;
  struct store *st;
  char shown[256];
  json_t *root;

  if (out != NULL)
    *out = NULL;
  if (name == NULL || out == NULL || (text == NULL && len > 0))
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  st = calloc (1, sizeof *st);
  if (st == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      return -1;
    }
  log_escape (name, strlen (name), shown, sizeof shown);
  memset (&id, 0, sizeof id);
  if (parse_text (shown, len > 0 ? text : "", len, &root, err, err_cap) != 0 ||
      store_adopt (st, root, &id, err, err_cap) != 0)
    {
      store_free (st);
      return -1;
    }
  *out = st;
  return 0;
}

void
store_free (struct store *st)
{
  if (st == NULL)
    return;
  free (st->entries);
  json_decref (st->root);
  free (st->path);
  free (st->lock_path);
  free (st->dir);
  free (st);
}

int
store_reload (struct store *st, char *err, size_t err_cap)
{
  struct store_file_id id;
  json_t *root;

  if (st == NULL || st->path == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  if (load_file (st->path, &root, &id, err, err_cap) != 0)
    return -1;
  return store_adopt (st, root, &id, err, err_cap);
}

int
store_refresh (struct store *st, bool *reloaded, char *err, size_t err_cap)
{
  struct store_file_id id;
  struct stat sb;
  char shown[256];

  if (reloaded != NULL)
    *reloaded = false;
  if (st == NULL || st->path == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  if (stat (st->path, &sb) != 0)
    {
      util_set_err (err, err_cap, "cannot stat %s: %s",
                    shown_path (st, shown, sizeof shown), strerror (errno));
      return -1;
    }
  file_id_from_stat (&id, &sb);
  if (file_id_equal (&id, &st->id))
    return 0;
  if (store_reload (st, err, err_cap) != 0)
    return -1;
  if (reloaded != NULL)
    *reloaded = true;
  return 0;
}

const char *
store_lookup (const struct store *st, const char *user)
{
  struct store_entry key, *found;

  if (st == NULL || user == NULL || st->n_entries == 0)
    return NULL;
  key.user = user;
  key.hash = NULL;
  found = bsearch (&key, st->entries, st->n_entries, sizeof *st->entries,
                   entry_cmp);
  return found != NULL ? found->hash : NULL;
}

size_t
store_count (const struct store *st)
{
  return st != NULL ? st->n_entries : 0;
}

size_t
store_count_unusable (const struct store *st)
{
  return st != NULL ? st->n_unusable : 0;
}

void
store_foreach (const struct store *st,
               void (*fn) (const char *user, const char *hash, void *ud),
               void *ud)
{
  size_t i;

  if (st == NULL || fn == NULL)
    return;
  for (i = 0; i < st->n_entries; i++)
    fn (st->entries[i].user, st->entries[i].hash, ud);
}

/* Removes the temporary files (NAME.tmp.PID) that writers killed between
 * creating one and renaming it left behind. Every writer creates its
 * temporary file while holding the lock that our caller holds now, so any
 * such file that exists is stale, ours included. */
static void
sweep_temp_files (const struct store *st)
{
  const char *base = strrchr (st->path, '/');
  struct dirent *e;
  size_t base_len;
  DIR *d;

  base = base != NULL ? base + 1 : st->path;
  base_len = strlen (base);
  d = opendir (st->dir);
  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL)
    {
      const char *pid;

      if (strncmp (e->d_name, base, base_len) != 0 ||
          strncmp (e->d_name + base_len, ".tmp.", 5) != 0)
        continue;
      pid = e->d_name + base_len + 5;
      if (*pid == '\0' || strspn (pid, "0123456789") != strlen (pid))
        continue;
      /* A failure shows at the open below if it was our own name. */
      (void) unlinkat (dirfd (d), e->d_name, 0);
    }
  closedir (d);
}

/* Writes root to st->path atomically; *id receives the new file's id. */
static int
save_file (struct store *st,
           json_t *root,
           struct store_file_id *id,
           char *err,
           size_t err_cap)
{
  char shown[256], suffix[32];
  char *tmp = NULL, *text = NULL;
  struct stat sb;
  int fd = -1, ret = -1;

  shown_path (st, shown, sizeof shown);
  snprintf (suffix, sizeof suffix, ".tmp.%ld", (long) getpid ());
  tmp = concat (st->path, suffix);
  text = util_json_dump (root, DUMP_FLAGS);
  if (tmp == NULL || text == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      goto out;
    }

  sweep_temp_files (st);
  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      util_set_err (err, err_cap,
                    "cannot create a temporary file next to %s: %s", shown,
                    strerror (errno));
      goto out;
    }
  if (fchmod (fd, 0600) != 0 || util_write_all (fd, text, strlen (text)) != 0 ||
      fsync (fd) != 0)
    {
      util_set_err (err, err_cap, "cannot write %s: %s", shown,
                    strerror (errno));
      goto out;
    }
  if (rename (tmp, st->path) != 0)
    {
      util_set_err (err, err_cap, "cannot replace %s: %s", shown,
                    strerror (errno));
      goto out;
    }
  /* Without this the rename itself could be lost to a power failure, and
   * with it a change that was reported done. */
  if (util_fsync_dir (st->dir) != 0)
    {
      util_set_err (err, err_cap,
                    "cannot sync the folder of %s (the change is made but "
                    "may not survive a power failure): %s",
                    shown, strerror (errno));
      goto out;
    }
  /* The id after the rename (which changes ctime), of the very inode we
   * wrote: store_refresh then sees no change until someone else writes. */
  if (fstat (fd, &sb) == 0)
    file_id_from_stat (id, &sb);
  else
    memset (id, 0, sizeof *id); /* forces a reload next time */
  ret = 0;

out:
  if (fd >= 0)
    close (fd);
  if (ret != 0 && tmp != NULL)
    unlink (tmp);
  free (tmp);
  free (text);
  return ret;
}

static bool
hash_acceptable (const char *hash)
{
  size_t i, len;

  if (hash == NULL)
    return false;
  len = strnlen (hash, STORE_HASH_MAX + 1);
  if (len == 0 || len > STORE_HASH_MAX)
    return false;
  for (i = 0; i < len; i++)
    if (hash[i] <= 0x20 || hash[i] >= 0x7f)
      return false;
  return true;
}

static int
lock_open (struct store *st, char *err, size_t err_cap)
{
  char shown[256];
  int fd;

  log_escape (st->lock_path, strlen (st->lock_path), shown, sizeof shown);
  fd = open (st->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      util_set_err (err, err_cap, "cannot open the lock file %s: %s", shown,
                    strerror (errno));
      return -1;
    }
  while (flock (fd, LOCK_EX) != 0)
    {
      if (errno == EINTR)
        continue;
      util_set_err (err, err_cap, "cannot lock %s: %s", shown,
                    strerror (errno));
      close (fd);
      return -1;
    }
  return fd;
}

int
store_modify (struct store *st,
              enum store_op op,
              const char *user,
              const char *new_hash,
              const char *old_hash,
              char *err,
              size_t err_cap)
{
  struct store_file_id id;
  json_t *root = NULL, *cur;
  int lock_fd = -1, ret = -1;

  if (st == NULL || st->path == NULL || user == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  if (sc_username_validate (user, strlen (user)) != 0)
    {
      util_set_err (err, err_cap, "invalid username");
      return -1;
    }
  if (op != STORE_DELETE && !hash_acceptable (new_hash))
    {
      util_set_err (err, err_cap, "internal error: invalid new hash");
      return -1;
    }
  if (op == STORE_UPGRADE && old_hash == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing old hash");
      return -1;
    }
  if (op != STORE_ADD && op != STORE_SET && op != STORE_DELETE &&
      op != STORE_UPGRADE)
    {
      util_set_err (err, err_cap, "internal error: unknown operation");
      return -1;
    }

  lock_fd = lock_open (st, err, err_cap);
  if (lock_fd < 0)
    return -1;

  /* What is on disk now is what we change, not what we read earlier. */
  if (load_file (st->path, &root, &id, err, err_cap) != 0)
    goto out;

  cur = json_object_get (root, user);
  switch (op)
    {
    case STORE_ADD:
      /* Any entry of that name, even one we cannot use, is kept. */
      ret = cur != NULL ? 1 : 0;
      break;
    case STORE_SET:
      ret = json_is_string (cur) ? 0 : 1;
      break;
    case STORE_DELETE:
      ret = cur != NULL ? 0 : 1;
      break;
    case STORE_UPGRADE:
      ret = json_is_string (cur) &&
                    strcmp (json_string_value (cur), old_hash) == 0
                ? 0
                : 1;
      break;
    }

  if (ret == 0)
    {
      int rc;

      if (op == STORE_DELETE)
        rc = json_object_del (root, user);
      else
        rc = json_object_set_new (root, user, json_string (new_hash));
      if (rc != 0)
        {
          util_set_err (err, err_cap, "out of memory");
          ret = -1;
          goto out;
        }
      if (save_file (st, root, &id, err, err_cap) != 0)
        {
          ret = -1;
          goto out;
        }
    }

  /* The in-memory copy follows the file, whether or not we changed it. */
  {
    json_t *adopted = root;

    root = NULL;
    if (store_adopt (st, adopted, &id, err, err_cap) != 0)
      ret = -1;
  }

out:
  json_decref (root);
  if (lock_fd >= 0)
    close (lock_fd);
  return ret;
}

int
store_create (const char *path, char *err, size_t err_cap)
{
  static const char empty[] = "{}\n";
  char shown[256];
  char *dir;
  int fd;

  if (path == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  log_escape (path, strlen (path), shown, sizeof shown);
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      if (errno == EEXIST)
        util_set_err (err, err_cap, "%s already exists", shown);
      else
        util_set_err (err, err_cap, "cannot create %s: %s", shown,
                      strerror (errno));
      return -1;
    }
  if (fchmod (fd, 0600) != 0 ||
      util_write_all (fd, empty, sizeof empty - 1) != 0 || fsync (fd) != 0)
    {
      util_set_err (err, err_cap, "cannot write %s: %s", shown,
                    strerror (errno));
      close (fd);
      unlink (path);
      return -1;
    }
  if (close (fd) != 0)
    {
      util_set_err (err, err_cap, "cannot write %s: %s", shown,
                    strerror (errno));
      unlink (path);
      return -1;
    }
  dir = dir_of (path);
  if (dir != NULL)
    (void) util_fsync_dir (dir);
  free (dir);
  return 0;
}
