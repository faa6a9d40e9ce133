/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A folder of small secret files behind the sc_e2e_storage callbacks: the
 * one module of common/ that touches the file system (POSIX only).
 *
 * The folder (and any missing parent) is created 0700; a folder or file
 * that other users can access is refused. A name maps to a file; a name
 * with one '/' to a file in a subfolder (created 0700). Files are written
 * 0600 to a temporary file, fsync'd, renamed over the old one and the
 * folder fsync'd, so a crash leaves the old or the new content. A lock
 * file (fcntl) serialises the processes sharing the folder. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "securechat/e2e.h"

#define SC_KEYSTORE_FILE_MAX SC_E2E_RECORD_MAX
#define SC_KEYSTORE_NAME_MAX 128

struct sc_keystore;

/* SC_ERR_STORAGE with errno set when the folder cannot be created or
 * opened, or is accessible by other users (errno EPERM). */
int sc_keystore_open (const char *dir, struct sc_keystore **out);
void sc_keystore_free (struct sc_keystore *ks);

/* The callbacks for sc_e2e_open; valid while ks lives. */
const struct sc_e2e_storage *sc_keystore_storage (struct sc_keystore *ks);

/* 1..SC_KEYSTORE_NAME_MAX bytes of [a-z0-9._-] with at most one '/'
 * between two non-empty components, none starting with '.'. */
int sc_keystore_validate_name (const char *name);

/* The storage operations themselves (see struct sc_e2e_storage). */
int sc_keystore_load (struct sc_keystore *ks,
                      const char *name,
                      uint8_t **buf,
                      size_t *len);
int sc_keystore_store (struct sc_keystore *ks,
                       const char *name,
                       const uint8_t *buf,
                       size_t len);
int sc_keystore_remove (struct sc_keystore *ks, const char *name);
int sc_keystore_lock (struct sc_keystore *ks);
void sc_keystore_unlock (struct sc_keystore *ks);

/* What the last failed operation ran into, for people ("" when none):
 * e.g. "session/bob: Permission denied". */
const char *sc_keystore_last_error (const struct sc_keystore *ks);
