/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The prekey store: one small JSON file per user, read on every call (bundle
 * requests are rare next to messages) and rewritten atomically on every
 * change. The loop thread is the only writer (securechatd userdel only
 * deletes a file), so no lock is needed; a crash between the write and the
 * rename leaves only a temporary file whose name ("." first) can never be a
 * user's, and which prekeys_sweep removes when the server starts again. */
#include "prekeys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "log.h"
#include "ratelimit.h"
#include "route.h"
#include "server.h"
#include "store.h"
#include "util.h"
#include "securechat/base64.h"
#include "securechat/error.h"
#include "securechat/identity.h"

/* 200 one-time prekeys take about 14 KiB: a file much larger is not ours,
 * and is not read. */
#define FILE_MAX_SIZE (64 * 1024)
#define PATH_CAP      4096
#define KEY_LEN       32 /* X25519 public key */
#define SIG_LEN       64 /* Ed25519 signature */
#define KEY_ID_MAX    UINT32_MAX
#define B64_CAP       (SC_BASE64_ENCODED_LEN (SC_IDENTITY_WIRE_LEN) + 1)
#define N_MEMBERS     5 /* identity, spk_id, spk, spk_sig, opks */
#define DUMP_FLAGS    (JSON_COMPACT | JSON_PRESERVE_ORDER)

_Static_assert(SC_OPK_UPLOAD_MAX <= PREKEYS_OPK_MAX,
               "one upload fits the store");
_Static_assert(SC_IDENTITY_WIRE_LEN == SC_X25519_LEN + SC_ED25519_LEN,
               "identity = X25519 key || Ed25519 key");
_Static_assert(SIG_LEN == SC_ED25519_SIG_LEN, "spk_sig is Ed25519");

struct prekeys
{
  char *dir; /* DATA_DIR/prekeys */
};

/* One user's bundle; one-time prekeys oldest first, ids distinct. */
struct bundle
{
  uint8_t identity[SC_IDENTITY_WIRE_LEN];
  uint32_t spk_id;
  uint8_t spk[KEY_LEN];
  uint8_t spk_sig[SIG_LEN];
  struct sc_msg_opk opks[PREKEYS_OPK_MAX];
  size_t n_opks;
};

int
prekeys_open (const char *data_dir,
              struct prekeys **out,
              char *err,
              size_t err_cap)
{
  struct prekeys *pk;
  size_t len;

  if (out != NULL)
    *out = NULL;
  if (data_dir == NULL || out == NULL || *data_dir == '\0')
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return PREKEYS_ERROR;
    }
  len = strlen (data_dir) + 1 + strlen (PREKEYS_DIR_NAME) + 1;
  pk = calloc (1, sizeof *pk);
  if (pk == NULL || (pk->dir = malloc (len)) == NULL)
    {
      free (pk);
      util_set_err (err, err_cap, "out of memory");
      return PREKEYS_ERROR;
    }
  snprintf (pk->dir, len, "%s/%s", data_dir, PREKEYS_DIR_NAME);
  *out = pk;
  return PREKEYS_OK;
}

void
prekeys_free (struct prekeys *pk)
{
  if (pk == NULL)
    return;
  free (pk->dir);
  free (pk);
}

/* Usernames are [a-z0-9._-] and start with a letter or digit, so they are
 * safe as file names; "." and ".." are refused all the same. */
static bool
user_ok (const char *user)
{
  return user != NULL &&
         sc_username_validate (user, strnlen (user, SC_USERNAME_MAX + 1)) ==
             SC_OK &&
         strcmp (user, ".") != 0 && strcmp (user, "..") != 0;
}

/* DIR/prekeys/<user>.json, or with tmp DIR/prekeys/.<user>.tmp. */
static int
user_path (const struct prekeys *pk,
           const char *user,
           bool tmp,
           char *out,
           size_t cap,
           char *err,
           size_t err_cap)
{
  int n = tmp ? snprintf (out, cap, "%s/.%s.tmp", pk->dir, user)
              : snprintf (out, cap, "%s/%s.json", pk->dir, user);

  if (n < 0 || (size_t) n >= cap)
    {
      util_set_err (err, err_cap, "the data folder path is too long");
      return PREKEYS_ERROR;
    }
  return PREKEYS_OK;
}

/* ---- Reading. ---- */

static bool
decode_fixed (json_t *v, uint8_t *out, size_t n)
{
  size_t got = 0;

  return json_is_string (v) &&
         json_string_length (v) == SC_BASE64_ENCODED_LEN (n) &&
         sc_base64_decode (json_string_value (v), json_string_length (v), out,
                           n, &got) == SC_OK &&
         got == n;
}

static bool
decode_id (json_t *v, uint32_t *out)
{
  json_int_t n;

  if (!json_is_integer (v))
    return false;
  n = json_integer_value (v);
  if (n < 1 || n > (json_int_t) KEY_ID_MAX)
    return false;
  *out = (uint32_t) n;
  return true;
}

static bool
has_opk (const struct sc_msg_opk *opks, size_t n, uint32_t id)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (opks[i].id == id)
      return true;
  return false;
}

/* Checks root against the file format; NULL when it matches, else why
 * not. */
static const char *
parse_bundle (json_t *root, struct bundle *b)
{
  json_t *arr, *v;
  size_t i;

  memset (b, 0, sizeof *b);
  if (!json_is_object (root))
    return "not a JSON object";
  if (json_object_size (root) != N_MEMBERS)
    return "wrong set of members";
  if (!decode_fixed (json_object_get (root, "identity"), b->identity,
                     SC_IDENTITY_WIRE_LEN))
    return "bad identity";
  if (!decode_id (json_object_get (root, "spk_id"), &b->spk_id))
    return "bad spk_id";
  if (!decode_fixed (json_object_get (root, "spk"), b->spk, KEY_LEN))
    return "bad spk";
  if (!decode_fixed (json_object_get (root, "spk_sig"), b->spk_sig, SIG_LEN))
    return "bad spk_sig";
  arr = json_object_get (root, "opks");
  if (!json_is_array (arr))
    return "bad opks";
  if (json_array_size (arr) > PREKEYS_OPK_MAX)
    return "too many one-time prekeys";
  json_array_foreach (arr, i, v)
  {
    struct sc_msg_opk *o = &b->opks[i];

    if (!json_is_object (v) || json_object_size (v) != 2 ||
        !decode_id (json_object_get (v, "id"), &o->id) ||
        !decode_fixed (json_object_get (v, "key"), o->key, KEY_LEN))
      return "bad one-time prekey";
    if (has_opk (b->opks, i, o->id))
      return "duplicate one-time prekey id";
  }
  b->n_opks = json_array_size (arr);
  return NULL;
}

/* SC_OK, SC_ERR_SIGNATURE, or another error when verifying failed. */
static int
verify_spk (const uint8_t identity[SC_IDENTITY_WIRE_LEN],
            uint32_t spk_id,
            const uint8_t spk[KEY_LEN],
            const uint8_t spk_sig[SIG_LEN])
{
  struct sc_identity_public pub;

  memcpy (pub.dh, identity, SC_X25519_LEN);
  memcpy (pub.sig, identity + SC_X25519_LEN, SC_ED25519_LEN);
  return sc_spk_verify (&pub, spk_id, spk, spk_sig);
}

static int
unusable (const char *user, const char *why)
{
  log_warn ("prekeys of user=%s unusable, treated as not published: %s", user,
            why);
  return PREKEYS_NONE;
}

/* Reads the whole of fd (a regular file of at most FILE_MAX_SIZE bytes)
 * into buf. Returns the length, -1 on a read error, or FILE_MAX_SIZE + 1
 * when the file grew past the limit meanwhile. */
static ssize_t
read_all (int fd, char *buf)
{
  size_t len = 0;

  for (;;)
    {
      ssize_t n = read (fd, buf + len, FILE_MAX_SIZE + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        return (ssize_t) len;
      len += (size_t) n;
      if (len > FILE_MAX_SIZE)
        return FILE_MAX_SIZE + 1;
    }
}

/* PREKEYS_OK with b filled; PREKEYS_NONE when there is no file, or one that
 * is not usable (logged); PREKEYS_ERROR when it cannot be read. */
static int
load_bundle (const struct prekeys *pk,
             const char *user,
             struct bundle *b,
             char *err,
             size_t err_cap)
{
  char path[PATH_CAP], why[64];
  json_error_t jerr;
  const char *bad;
  struct stat sb;
  json_t *root;
  char *buf;
  ssize_t len;
  int fd, rc, saved;

  if (user_path (pk, user, false, path, sizeof path, err, err_cap) != 0)
    return PREKEYS_ERROR;
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return PREKEYS_NONE;
      if (errno == ELOOP)
        return unusable (user, "the file is a symbolic link");
      util_set_err (err, err_cap, "cannot open the prekeys of %s: %s", user,
                    strerror (errno));
      return PREKEYS_ERROR;
    }
  if (fstat (fd, &sb) != 0)
    {
      util_set_err (err, err_cap, "cannot stat the prekeys of %s: %s", user,
                    strerror (errno));
      close (fd);
      return PREKEYS_ERROR;
    }
  if (!S_ISREG (sb.st_mode))
    {
      close (fd);
      return unusable (user, "not a regular file");
    }
  if (sb.st_size > FILE_MAX_SIZE)
    {
      close (fd);
      return unusable (user, "file too large");
    }
  buf = malloc (FILE_MAX_SIZE + 1);
  if (buf == NULL)
    {
      close (fd);
      util_set_err (err, err_cap, "out of memory");
      return PREKEYS_ERROR;
    }
  len = read_all (fd, buf);
  saved = errno;
  close (fd);
  if (len < 0)
    {
      util_set_err (err, err_cap, "cannot read the prekeys of %s: %s", user,
                    strerror (saved));
      free (buf);
      return PREKEYS_ERROR;
    }
  if (len > FILE_MAX_SIZE)
    {
      free (buf);
      return unusable (user, "file too large");
    }

  memset (&jerr, 0, sizeof jerr);
  root = json_loadb (buf, (size_t) len, JSON_REJECT_DUPLICATES, &jerr);
  free (buf);
  if (root == NULL)
    {
      if (json_error_code (&jerr) == json_error_out_of_memory)
        {
          util_set_err (err, err_cap, "out of memory");
          return PREKEYS_ERROR;
        }
      /* Position only: jansson's text quotes the file, keys included. */
      snprintf (why, sizeof why, "not JSON (line %d, column %d)", jerr.line,
                jerr.column);
      return unusable (user, why);
    }
  bad = parse_bundle (root, b);
  json_decref (root);
  if (bad != NULL)
    return unusable (user, bad);

  /* What is handed out always verifies, whoever wrote the file. */
  rc = verify_spk (b->identity, b->spk_id, b->spk, b->spk_sig);
  if (rc == SC_ERR_SIGNATURE)
    return unusable (user, "the signed prekey signature does not verify");
  if (rc != SC_OK)
    {
      util_set_err (err, err_cap, "cannot verify the prekeys of %s: %s", user,
                    sc_strerror (rc));
      return PREKEYS_ERROR;
    }
  return PREKEYS_OK;
}

/* ---- Writing. ---- */

static int
set_new (json_t *obj, const char *key, json_t *v)
{
  if (v == NULL)
    return -1;
  return json_object_set_new_nocheck (obj, key, v);
}

static int
set_fixed (json_t *obj, const char *key, const uint8_t *in, size_t n)
{
  char text[B64_CAP];

  if (sc_base64_encode (in, n, text, sizeof text) != SC_OK)
    return -1;
  return set_new (obj, key, json_string (text));
}

/* The file's text (JSON and a newline, NUL-terminated, malloc'd), or NULL
 * when out of memory. */
static char *
dump_bundle (const struct bundle *b)
{
  json_t *root = json_object (), *arr = json_array ();
  char *text = NULL;
  size_t i;

  if (root == NULL || arr == NULL)
    goto out;
  if (set_fixed (root, "identity", b->identity, SC_IDENTITY_WIRE_LEN) != 0 ||
      set_new (root, "spk_id", json_integer (b->spk_id)) != 0 ||
      set_fixed (root, "spk", b->spk, KEY_LEN) != 0 ||
      set_fixed (root, "spk_sig", b->spk_sig, SIG_LEN) != 0)
    goto out;
  for (i = 0; i < b->n_opks; i++)
    {
      json_t *o = json_object ();

      if (o == NULL || json_array_append_new (arr, o) != 0 ||
          set_new (o, "id", json_integer (b->opks[i].id)) != 0 ||
          set_fixed (o, "key", b->opks[i].key, KEY_LEN) != 0)
        goto out;
    }
  if (json_object_set_nocheck (root, "opks", arr) != 0)
    goto out;
  text = util_json_dump (root, DUMP_FLAGS);

out:
  json_decref (arr);
  json_decref (root);
  return text;
}

/* The folder, 0700, created when missing. */
static int
ensure_dir (const struct prekeys *pk, char *err, size_t err_cap)
{
  struct stat sb;

  if (mkdir (pk->dir, 0700) == 0)
    {
      /* The folder's own entry must be on disk too, or a crash could take
       * every bundle written in it along. On failure the folder goes, so
       * that the next write tries again. */
      char parent[PATH_CAP];
      const char *slash = strrchr (pk->dir, '/');
      size_t n = slash != NULL ? (size_t) (slash - pk->dir) : 0;

      if (n >= sizeof parent)
        {
          util_set_err (err, err_cap, "the data folder path is too long");
          rmdir (pk->dir);
          return PREKEYS_ERROR;
        }
      if (n == 0)
        snprintf (parent, sizeof parent, "%s", slash != NULL ? "/" : ".");
      else
        {
          memcpy (parent, pk->dir, n);
          parent[n] = '\0';
        }
      if (util_fsync_dir (parent) != 0)
        {
          util_set_err (err, err_cap, "cannot sync the data folder: %s",
                        strerror (errno));
          rmdir (pk->dir);
          return PREKEYS_ERROR;
        }
      return PREKEYS_OK;
    }
  if (errno != EEXIST)
    {
      util_set_err (err, err_cap, "cannot create the prekeys folder: %s",
                    strerror (errno));
      return PREKEYS_ERROR;
    }
  if (stat (pk->dir, &sb) != 0 || !S_ISDIR (sb.st_mode))
    {
      util_set_err (err, err_cap, "the prekeys folder is not a folder");
      return PREKEYS_ERROR;
    }
  return PREKEYS_OK;
}

/* Replaces user's file with b: temp file, fsync, rename, fsync of the
 * folder. */
static int
save_bundle (const struct prekeys *pk,
             const char *user,
             const struct bundle *b,
             char *err,
             size_t err_cap)
{
  char path[PATH_CAP], tmp[PATH_CAP];
  char *text = NULL;
  int fd = -1, ret = PREKEYS_ERROR;
  bool created = false;

  if (user_path (pk, user, false, path, sizeof path, err, err_cap) != 0 ||
      user_path (pk, user, true, tmp, sizeof tmp, err, err_cap) != 0 ||
      ensure_dir (pk, err, err_cap) != 0)
    return PREKEYS_ERROR;
  text = dump_bundle (b);
  if (text == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      return PREKEYS_ERROR;
    }

  /* Only a write of ours that died half-way can have left this name. */
  unlink (tmp);
  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      util_set_err (err, err_cap,
                    "cannot create a file for the prekeys of %s: %s", user,
                    strerror (errno));
      goto out;
    }
  created = true;
  if (fchmod (fd, 0600) != 0 || util_write_all (fd, text, strlen (text)) != 0 ||
      fsync (fd) != 0)
    {
      util_set_err (err, err_cap, "cannot write the prekeys of %s: %s", user,
                    strerror (errno));
      goto out;
    }
  if (close (fd) != 0)
    {
      fd = -1;
      util_set_err (err, err_cap, "cannot write the prekeys of %s: %s", user,
                    strerror (errno));
      goto out;
    }
  fd = -1;
  if (rename (tmp, path) != 0)
    {
      util_set_err (err, err_cap, "cannot replace the prekeys of %s: %s", user,
                    strerror (errno));
      goto out;
    }
  created = false;
  if (util_fsync_dir (pk->dir) != 0)
    {
      util_set_err (err, err_cap, "cannot sync the prekeys folder: %s",
                    strerror (errno));
      goto out;
    }
  ret = PREKEYS_OK;

out:
  if (fd >= 0)
    close (fd);
  if (created)
    unlink (tmp);
  free (text);
  return ret;
}

/* ---- The operations. ---- */

static void
fill_status (const struct bundle *b, struct sc_msg_prekey_status *out)
{
  memset (out, 0, sizeof *out);
  out->has_identity = true;
  memcpy (out->identity, b->identity, SC_IDENTITY_WIRE_LEN);
  out->spk_id = b->spk_id;
  out->opks = (uint32_t) b->n_opks;
}

static bool
args_ok (const struct prekeys *pk, const char *user, char *err, size_t err_cap)
{
  if (pk == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return false;
    }
  if (!user_ok (user))
    {
      util_set_err (err, err_cap, "internal error: invalid username");
      return false;
    }
  return true;
}

int
prekeys_upload (struct prekeys *pk,
                const char *user,
                const struct sc_msg_prekeys_upload *up,
                struct prekeys_upload_info *info,
                char *err,
                size_t err_cap)
{
  struct sc_msg_opk fresh[SC_OPK_UPLOAD_MAX];
  size_t i, n_old, n_fresh = 0;
  struct bundle b;
  int rc;

  if (info != NULL)
    memset (info, 0, sizeof *info);
  if (!args_ok (pk, user, err, err_cap))
    return PREKEYS_ERROR;
  if (up == NULL || info == NULL || up->spk_id == 0 ||
      up->n_opks > SC_OPK_UPLOAD_MAX || (up->opks == NULL && up->n_opks > 0))
    {
      util_set_err (err, err_cap, "internal error: invalid upload");
      return PREKEYS_ERROR;
    }

  rc = verify_spk (up->identity, up->spk_id, up->spk, up->spk_sig);
  if (rc == SC_ERR_SIGNATURE)
    return PREKEYS_BAD_SIGNATURE;
  if (rc != SC_OK)
    {
      util_set_err (err, err_cap, "cannot verify the signed prekey: %s",
                    sc_strerror (rc));
      return PREKEYS_ERROR;
    }

  rc = load_bundle (pk, user, &b, err, err_cap);
  if (rc == PREKEYS_ERROR)
    return rc;
  if (rc == PREKEYS_OK &&
      memcmp (b.identity, up->identity, SC_IDENTITY_WIRE_LEN) != 0)
    {
      /* A reinstalled client: nothing of the old identity stays. */
      info->new_identity = true;
      rc = PREKEYS_NONE;
    }
  if (rc == PREKEYS_NONE)
    {
      memset (&b, 0, sizeof b);
      memcpy (b.identity, up->identity, SC_IDENTITY_WIRE_LEN);
    }
  b.spk_id = up->spk_id;
  memcpy (b.spk, up->spk, KEY_LEN);
  memcpy (b.spk_sig, up->spk_sig, SIG_LEN);
  n_old = b.n_opks;

  /* The ids not stored before this upload (each once) go after the stored
   * ones; over the cap, the oldest go. */
  for (i = 0; i < up->n_opks; i++)
    if (!has_opk (b.opks, n_old, up->opks[i].id) &&
        !has_opk (fresh, n_fresh, up->opks[i].id))
      fresh[n_fresh++] = up->opks[i];
  if (b.n_opks + n_fresh > PREKEYS_OPK_MAX)
    {
      size_t drop = b.n_opks + n_fresh - PREKEYS_OPK_MAX;

      memmove (&b.opks[0], &b.opks[drop], (b.n_opks - drop) * sizeof b.opks[0]);
      b.n_opks -= drop;
      info->dropped = (uint32_t) drop;
    }
  memcpy (&b.opks[b.n_opks], fresh, n_fresh * sizeof fresh[0]);
  b.n_opks += n_fresh;
  info->added = (uint32_t) n_fresh;

  rc = save_bundle (pk, user, &b, err, err_cap);
  if (rc != PREKEYS_OK)
    {
      info->new_identity = false;
      info->added = info->dropped = 0;
      return rc;
    }
  fill_status (&b, &info->status);
  return PREKEYS_OK;
}

int
prekeys_take_bundle (struct prekeys *pk,
                     const char *user,
                     struct sc_msg_bundle *out,
                     uint32_t *left,
                     char *err,
                     size_t err_cap)
{
  struct bundle b;
  int rc;

  if (out != NULL)
    memset (out, 0, sizeof *out);
  if (left != NULL)
    *left = 0;
  if (!args_ok (pk, user, err, err_cap))
    return PREKEYS_ERROR;
  if (out == NULL || left == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return PREKEYS_ERROR;
    }

  rc = load_bundle (pk, user, &b, err, err_cap);
  if (rc != PREKEYS_OK)
    return rc;
  if (b.n_opks > 0)
    {
      struct sc_msg_opk opk = b.opks[0];

      /* Gone from the disk before anyone sees it: handed out once. */
      memmove (&b.opks[0], &b.opks[1], (b.n_opks - 1) * sizeof b.opks[0]);
      b.n_opks--;
      rc = save_bundle (pk, user, &b, err, err_cap);
      if (rc != PREKEYS_OK)
        return rc;
      out->has_opk = true;
      out->opk_id = opk.id;
      memcpy (out->opk, opk.key, KEY_LEN);
    }
  snprintf (out->user, sizeof out->user, "%s", user);
  memcpy (out->identity, b.identity, SC_IDENTITY_WIRE_LEN);
  out->spk_id = b.spk_id;
  memcpy (out->spk, b.spk, KEY_LEN);
  memcpy (out->spk_sig, b.spk_sig, SIG_LEN);
  *left = (uint32_t) b.n_opks;
  return PREKEYS_OK;
}

int
prekeys_status (struct prekeys *pk,
                const char *user,
                struct sc_msg_prekey_status *out,
                char *err,
                size_t err_cap)
{
  struct bundle b;
  int rc;

  if (out != NULL)
    memset (out, 0, sizeof *out);
  if (!args_ok (pk, user, err, err_cap))
    return PREKEYS_ERROR;
  if (out == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return PREKEYS_ERROR;
    }
  rc = load_bundle (pk, user, &b, err, err_cap);
  if (rc == PREKEYS_ERROR)
    return rc;
  if (rc == PREKEYS_OK)
    fill_status (&b, out);
  return PREKEYS_OK;
}

int
prekeys_delete (struct prekeys *pk, const char *user, char *err, size_t err_cap)
{
  char path[PATH_CAP];

  if (!args_ok (pk, user, err, err_cap) ||
      user_path (pk, user, false, path, sizeof path, err, err_cap) != 0)
    return PREKEYS_ERROR;
  if (unlink (path) != 0)
    {
      if (errno == ENOENT)
        return PREKEYS_NONE;
      util_set_err (err, err_cap, "cannot delete the prekeys of %s: %s", user,
                    strerror (errno));
      return PREKEYS_ERROR;
    }
  if (util_fsync_dir (pk->dir) != 0)
    {
      util_set_err (err, err_cap, "cannot sync the prekeys folder: %s",
                    strerror (errno));
      return PREKEYS_ERROR;
    }
  return PREKEYS_OK;
}

int
prekeys_sweep (struct prekeys *pk, unsigned *removed, char *err, size_t err_cap)
{
  struct dirent *e;
  DIR *d;
  int ret = PREKEYS_OK;

  if (removed != NULL)
    *removed = 0;
  if (pk == NULL || removed == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return PREKEYS_ERROR;
    }
  d = opendir (pk->dir);
  if (d == NULL)
    {
      if (errno == ENOENT)
        return PREKEYS_OK;
      util_set_err (err, err_cap, "cannot read the prekeys folder: %s",
                    strerror (errno));
      return PREKEYS_ERROR;
    }
  while ((e = readdir (d)) != NULL)
    {
      size_t len = strlen (e->d_name);
      char user[SC_USERNAME_MAX + 1];

      /* ".USER.tmp", exactly the names user_path gives temporary files. */
      if (len < 1 + 1 + 4 || len - 5 > SC_USERNAME_MAX || e->d_name[0] != '.' ||
          strcmp (e->d_name + len - 4, ".tmp") != 0)
        continue;
      memcpy (user, e->d_name + 1, len - 5);
      user[len - 5] = '\0';
      if (!user_ok (user))
        continue;
      if (unlinkat (dirfd (d), e->d_name, 0) != 0 && errno != ENOENT)
        {
          util_set_err (err, err_cap,
                        "cannot remove a temporary file of the prekeys of "
                        "%s: %s",
                        user, strerror (errno));
          ret = PREKEYS_ERROR;
          break;
        }
      (*removed)++;
    }
  closedir (d);
  return ret;
}

/* ---- Server handlers, on the loop thread. ---- */

/* Buckets are kept per user, not per connection, so reconnecting does not
 * refill them. */
_Static_assert(PREKEYS_FETCH_PER_MINUTE % 60 == 0,
               "the buckets refill in whole requests a second");

#define SIGNATURE_TEXT "signed prekey signature does not verify"

struct prekeys_service
{
  struct prekeys *store;
  struct ratelimit_buckets *fetches; /* bundle_request, per requesting user */
  struct ratelimit_buckets *uploads; /* prekeys_upload, per user */
};

int
prekeys_service_new (const char *data_dir,
                     struct prekeys_service **out,
                     char *err,
                     size_t err_cap)
{
  struct prekeys_service *svc;

  if (out != NULL)
    *out = NULL;
  if (out == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return PREKEYS_ERROR;
    }
  svc = calloc (1, sizeof *svc);
  if (svc == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      return PREKEYS_ERROR;
    }
  if (prekeys_open (data_dir, &svc->store, err, err_cap) != PREKEYS_OK)
    {
      free (svc);
      return PREKEYS_ERROR;
    }
  if (ratelimit_buckets_new (PREKEYS_FETCH_PER_MINUTE / 60, PREKEYS_FETCH_BURST,
                             &svc->fetches) != 0 ||
      ratelimit_buckets_new (PREKEYS_FETCH_PER_MINUTE / 60, PREKEYS_FETCH_BURST,
                             &svc->uploads) != 0)
    {
      ratelimit_buckets_free (svc->fetches);
      prekeys_free (svc->store);
      free (svc);
      util_set_err (err, err_cap, "out of memory");
      return PREKEYS_ERROR;
    }
  *out = svc;
  return PREKEYS_OK;
}

void
prekeys_service_free (struct prekeys_service *svc)
{
  if (svc == NULL)
    return;
  ratelimit_buckets_free (svc->fetches);
  ratelimit_buckets_free (svc->uploads);
  prekeys_free (svc->store);
  free (svc);
}

struct prekeys *
prekeys_service_store (struct prekeys_service *svc)
{
  return svc->store;
}

int64_t
prekeys_fetch_check (struct prekeys_service *svc, const char *user, int64_t now)
{
  return ratelimit_buckets_take (svc->fetches, user, now);
}

static int
send_status (struct client *c, const struct sc_msg_prekey_status *st)
{
  struct sc_msg m;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_PREKEY_STATUS;
  m.u.prekey_status = *st;
  return client_send_msg (c, &m);
}

int64_t
prekeys_upload_check (struct prekeys_service *svc,
                      const char *user,
                      int64_t now_ms)
{
  return ratelimit_buckets_take (svc->uploads, user, now_ms);
}

void
prekeys_handle_upload (struct server *srv,
                       struct client *c,
                       const struct sc_msg_prekeys_upload *m)
{
  struct prekeys_upload_info info;
  struct sc_msg reply;
  char err[256];
  bool reloaded;
  int rc;

  /* An account deleted while its session is open must not publish keys
   * that a later account of the same name would hand out. */
  if (store_refresh (srv->store, &reloaded, err, sizeof err) != 0)
    log_warn ("credentials not reloaded, keeping the previous users: %s", err);
  if (store_lookup (srv->store, c->user) == NULL)
    {
      log_info ("conn %" PRIu64 " user=%s prekeys refused "
                "reason=account-deleted",
                c->id, c->user);
      client_send_error (c, SC_CODE_UNKNOWN_USER, NULL, 0);
      return;
    }
  /* Each upload costs two fsyncs on the loop thread: bound them. */
  {
    int64_t wait =
        prekeys_upload_check (srv->prekeys, c->user, server_mono_ms ());
    if (wait != 0)
      {
        log_info ("conn %" PRIu64 " user=%s prekeys refused "
                  "reason=rate-limited",
                  c->id, c->user);
        client_send_error (c,
                           wait > 0 ? SC_CODE_RATE_LIMITED : SC_CODE_INTERNAL,
                           NULL, wait > 0 ? (uint32_t) wait : 0);
        return;
      }
  }
  rc = prekeys_upload (srv->prekeys->store, c->user, m, &info, err, sizeof err);
  switch (rc)
    {
    case PREKEYS_OK:
      break;
    case PREKEYS_BAD_SIGNATURE:
      log_info ("conn %" PRIu64 " user=%s prekeys refused reason=bad-signature "
                "spk_id=%" PRIu32,
                c->id, c->user, m->spk_id);
      memset (&reply, 0, sizeof reply);
      reply.type = SC_MSG_ERROR;
      reply.u.error.code = SC_CODE_BAD_REQUEST;
      snprintf (reply.u.error.message, sizeof reply.u.error.message, "%s",
                SIGNATURE_TEXT);
      client_send_msg (c, &reply);
      return;
    default:
      log_error ("user=%s prekeys not stored: %s", c->user, err);
      client_send_error (c, SC_CODE_INTERNAL, NULL, 0);
      return;
    }

  if (info.new_identity)
    log_info ("user=%s published a new identity key", c->user);
  log_info ("user=%s uploaded prekeys spk_id=%" PRIu32 " opks=+%" PRIu32
            " total=%" PRIu32 "%s",
            c->user, m->spk_id, info.added, info.status.opks,
            info.dropped > 0 ? " (oldest dropped)" : "");
  send_status (c, &info.status);
}

void
prekeys_handle_bundle_request (struct server *srv,
                               struct client *c,
                               const struct sc_msg_bundle_request *m)
{
  uint64_t ref = m->id;
  struct sc_msg reply;
  struct client *owner;
  uint32_t left = 0;
  int64_t wait;
  char err[256];
  int rc;

  wait = prekeys_fetch_check (srv->prekeys, c->user, server_mono_ms ());
  if (wait < 0)
    {
      log_error ("conn %" PRIu64 " user=%s bundle for %s not handed out: "
                 "out of memory",
                 c->id, c->user, m->user);
      client_send_error (c, SC_CODE_INTERNAL, &ref, 0);
      return;
    }
  if (wait > 0)
    {
      log_info ("conn %" PRIu64 " user=%s bundle for %s refused "
                "reason=rate-limited retry_after_ms=%" PRId64,
                c->id, c->user, m->user, wait);
      client_send_error (c, SC_CODE_RATE_LIMITED, &ref, (uint32_t) wait);
      return;
    }
  if (strcmp (m->user, c->user) == 0)
    {
      client_send_error (c, SC_CODE_SELF_MESSAGE, &ref, 0);
      return;
    }
  server_refresh_users (srv);
  if (store_lookup (srv->store, m->user) == NULL)
    {
      log_info ("conn %" PRIu64 " user=%s bundle for %s refused "
                "reason=unknown-user",
                c->id, c->user, m->user);
      client_send_error (c, SC_CODE_UNKNOWN_USER, &ref, 0);
      return;
    }

  memset (&reply, 0, sizeof reply);
  reply.type = SC_MSG_BUNDLE;
  rc = prekeys_take_bundle (srv->prekeys->store, m->user, &reply.u.bundle,
                            &left, err, sizeof err);
  if (rc == PREKEYS_NONE)
    {
      log_info ("conn %" PRIu64 " user=%s bundle for %s refused "
                "reason=no-prekeys",
                c->id, c->user, m->user);
      client_send_error (c, SC_CODE_NO_PREKEYS, &ref, 0);
      return;
    }
  if (rc != PREKEYS_OK)
    {
      log_error ("conn %" PRIu64 " user=%s bundle for %s not handed out: %s",
                 c->id, c->user, m->user, err);
      client_send_error (c, SC_CODE_INTERNAL, &ref, 0);
      return;
    }
  reply.u.bundle.ref = ref;
  if (reply.u.bundle.has_opk)
    log_info ("bundle for %s handed to %s opk=%" PRIu32 " left=%" PRIu32,
              m->user, c->user, reply.u.bundle.opk_id, left);
  else
    log_info ("bundle for %s handed to %s opk=none left=0", m->user, c->user);
  client_send_msg (c, &reply);

  /* The owner is told while it can still top up. */
  owner = route_find (srv->route, m->user);
  if (reply.u.bundle.has_opk && left < PREKEYS_OPK_LOW && owner != NULL &&
      owner->state == CLIENT_READY)
    {
      struct sc_msg_prekey_status st;

      memset (&st, 0, sizeof st);
      st.has_identity = true;
      memcpy (st.identity, reply.u.bundle.identity, SC_IDENTITY_WIRE_LEN);
      st.spk_id = reply.u.bundle.spk_id;
      st.opks = left;
      send_status (owner, &st);
    }
}

int
prekeys_send_status (struct server *srv, struct client *c)
{
  struct sc_msg_prekey_status st;
  char err[256];

  if (prekeys_status (srv->prekeys->store, c->user, &st, err, sizeof err) !=
      PREKEYS_OK)
    {
      log_warn ("user=%s prekey status not sent: %s", c->user, err);
      return 0;
    }
  return send_status (c, &st);
}
