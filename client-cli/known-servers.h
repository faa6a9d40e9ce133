/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The known-servers file: the pinned key fingerprint of every server this
 * user has connected to (trust on first use, as OpenSSH's known_hosts).
 *
 *   # comment
 *   HOST:PORT SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
 *
 * One entry per line, fields separated by spaces or tabs; blank lines and
 * lines starting with '#' are comments. HOST:PORT is the canonical form of
 * net_parse_server. Lines that are not well formed are reported and kept
 * as they are when the file is rewritten; so are comments. When a server
 * appears twice, the first entry counts.
 *
 * Functions return 0 or a negative errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "securechat/fingerprint.h"

/* Larger files are refused (-EFBIG). */
#define KNOWN_SERVERS_FILE_MAX (1024 * 1024)

struct known_servers;

/* Parses text (need not end with a newline). Only allocation fails. */
int
known_servers_parse (const char *text, size_t len, struct known_servers **out);
/* Reads path; a missing file is an empty list. */
int known_servers_load (const char *path, struct known_servers **out);
void known_servers_free (struct known_servers *ks);

/* The malformed lines: their number (from 1) and what is wrong. */
size_t known_servers_n_problems (const struct known_servers *ks);
const char *
known_servers_problem (const struct known_servers *ks, size_t i, size_t *line);

/* The pinned fingerprint of server ("host:port"), or NULL; *line (may be
 * NULL) receives its line number. */
const char *known_servers_lookup (const struct known_servers *ks,
                                  const char *server,
                                  size_t *line);
/* Pins fp for server: replaces the first entry's fingerprint or appends a
 * line. -EINVAL for a malformed server name or fingerprint. */
int known_servers_set (struct known_servers *ks,
                       const char *server,
                       const char *fp);

/* The file's text, every line ending in "\n"; malloc'd. */
int
known_servers_format (const struct known_servers *ks, char **out, size_t *len);
/* Writes the file atomically: a temporary file in the same directory,
 * mode 0600, synced, then renamed over path. Missing parent directories
 * are created with mode 0700. */
int known_servers_save (const struct known_servers *ks, const char *path);

/* Creates the parent directories of path (mode 0700) and takes an
 * exclusive lock on the directory holding it, so that processes updating
 * the file do not lose each other's entries. Returns a descriptor for
 * known_servers_unlock, or a negative errno. */
int known_servers_lock (const char *path);
void known_servers_unlock (int lock_fd);

/* $XDG_CONFIG_HOME/securechat/known_servers, or
 * $HOME/.config/securechat/known_servers when XDG_CONFIG_HOME is unset,
 * empty or not absolute; malloc'd, NULL when neither gives a path. */
char *known_servers_default_path (void);

/* A well-formed "host:port" as this file stores it. */
bool known_servers_valid_server (const char *server, size_t len);
