/* SPDX-License-Identifier: GPL-3.0-or-later */
/* credentials.json: a JSON object of username -> crypt(3) hash, the seed's
 * format. Every change is read-modify-write under an flock on
 * DIR/credentials.json.lock and saved atomically (temp file, fsync, rename,
 * fsync of the folder), so the admin commands and a running server never
 * lose each other's users. Entries this version cannot use (a name outside
 * the username charset, a non-string value) are kept as they are. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define STORE_FILE_NAME "credentials.json"

struct store;

/* Loads path; a missing file is an error (init creates it). */
int
store_open (const char *path, struct store **out, char *err, size_t err_cap);
/* Parses the contents of a credentials file, as store_open does once it
 * has read the file; name stands for the file in error messages. The
 * result answers lookups and listings but has no file behind it:
 * store_refresh, store_reload and store_modify refuse it. */
int store_parse (const char *name,
                 const char *text,
                 size_t len,
                 struct store **out,
                 char *err,
                 size_t err_cap);
void store_free (struct store *st);

/* Re-reads the file when its inode, size or mtime changed since the last
 * read (cheap stat otherwise). *reloaded tells. On a parse error the old
 * contents stay and -1 is returned. */
int store_refresh (struct store *st, bool *reloaded, char *err, size_t err_cap);
/* Unconditional reload (SIGHUP). */
int store_reload (struct store *st, char *err, size_t err_cap);

/* The stored hash of a usable user, or NULL. Valid until the next
 * refresh/modify call. */
const char *store_lookup (const struct store *st, const char *user);
size_t store_count (const struct store *st);
/* Entries kept as they are because they are not usable. */
size_t store_count_unusable (const struct store *st);
/* Calls fn for each usable user in name order. */
void store_foreach (const struct store *st,
                    void (*fn) (const char *user, const char *hash, void *ud),
                    void *ud);

enum store_op
{
  STORE_ADD,     /* fails with 1 if the user exists */
  STORE_SET,     /* fails with 1 if the user does not exist (passwd) */
  STORE_DELETE,  /* fails with 1 if the user does not exist */
  STORE_UPGRADE, /* set only if the stored hash still equals old_hash */
};

/* Locked read-modify-write of one user. Returns 0 on success, 1 when the
 * precondition of op fails (nothing written), -1 on error (err set). The
 * in-memory copy reflects the file afterwards. */
int store_modify (struct store *st,
                  enum store_op op,
                  const char *user,
                  const char *new_hash,
                  const char *old_hash,
                  char *err,
                  size_t err_cap);

/* Creates an empty store file ("{}\n", 0600) with O_EXCL. */
int store_create (const char *path, char *err, size_t err_cap);
