/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Small helpers the server modules share. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* Formats a message into the caller's error buffer err (err_cap bytes,
 * always NUL-terminated, truncated when too long). Does nothing when err is
 * NULL or err_cap is 0. */
void util_set_err (char *err, size_t err_cap, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Writes all of buf to fd, retrying after EINTR and short writes. Returns
 * 0, or -1 with errno set. */
int util_write_all (int fd, const void *buf, size_t len);
/* fsyncs the folder dir, so that a rename or unlink in it is durable.
 * Returns 0, or -1 with errno set. */
int util_fsync_dir (const char *dir);

/* json_dumpb into a malloc'd buffer ending in "\n" and a NUL: jansson's own
 * buffers come from the allocator sc_init installs and must not be handed
 * to free(). Returns NULL when out of memory or on an encoding failure. */
char *util_json_dump (const json_t *root, size_t flags);
