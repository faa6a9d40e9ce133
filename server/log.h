/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Server logging on stderr: "2026-11-25T19:33:17.123Z INFO message".
 * Untrusted text goes through log_escape before it reaches a format. Never
 * log a password, key or message body. */
#pragma once

#include <stddef.h>

enum log_level
{
  LOG_LEVEL_ERROR,
  LOG_LEVEL_WARN,
  LOG_LEVEL_INFO,
  LOG_LEVEL_DEBUG,
};

void log_set_level (enum log_level level);
enum log_level log_get_level (void);
/* Routes libevent's own warnings into this log. */
void log_route_libevent (void);

void log_msg (enum log_level level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
#define log_error(...) log_msg (LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg (LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg (LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg (LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Copies at most in_len bytes of in into out (always NUL-terminated),
 * replacing control characters, quotes, backslashes and non-ASCII bytes by
 * \xNN and truncating with "..." to fit. Returns out. */
char *log_escape (const char *in, size_t in_len, char *out, size_t out_cap);
