/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One log line per call, on stderr:
 *   2026-11-25T19:33:17.123Z INFO message
 * The line is formatted completely in a local buffer and handed to stdio in
 * one call, so lines from the worker threads never interleave. Control
 * characters that reach the formatted message (a caller that forgot
 * log_escape) are replaced, so one call can never forge a second line. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

/* A log line is at most this long, newline included; longer messages end
 * in "...". */
#define LOG_LINE_MAX 2048

static int log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
  [LOG_LEVEL_ERROR] = "ERROR",
  [LOG_LEVEL_WARN] = "WARN",
  [LOG_LEVEL_INFO] = "INFO",
  [LOG_LEVEL_DEBUG] = "DEBUG",
};

void
log_set_level (enum log_level level)
{
  if (level > LOG_LEVEL_DEBUG)
    level = LOG_LEVEL_DEBUG;
  __atomic_store_n (&log_level, (int) level, __ATOMIC_RELAXED);
}

enum log_level
log_get_level (void)
{
  return (enum log_level) __atomic_load_n (&log_level, __ATOMIC_RELAXED);
}

static size_t
format_time (char *out, size_t cap)
{
  struct timespec ts;
  struct tm tm;
  size_t n;
  int rc;

  if (clock_gettime (CLOCK_REALTIME, &ts) != 0 ||
      gmtime_r (&ts.tv_sec, &tm) == NULL)
    {
      memset (&tm, 0, sizeof tm);
      ts.tv_nsec = 0;
      tm.tm_year = 70;
      tm.tm_mday = 1;
    }
  n = strftime (out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  if (n == 0)
    return 0;
  rc = snprintf (out + n, cap - n, ".%03ldZ", (long) (ts.tv_nsec / 1000000));
  if (rc < 0 || (size_t) rc >= cap - n)
    return 0;
  return n + (size_t) rc;
}

static void log_vmsg (enum log_level level, const char *fmt, va_list ap)
    __attribute__ ((format (printf, 2, 0)));

static void
log_vmsg (enum log_level level, const char *fmt, va_list ap)
{
  char line[LOG_LINE_MAX];
  size_t len, start, i;
  int rc;

  if ((int) level > __atomic_load_n (&log_level, __ATOMIC_RELAXED))
    return;
  if (level > LOG_LEVEL_DEBUG)
    level = LOG_LEVEL_DEBUG;

  len = format_time (line, sizeof line);
  rc = snprintf (line + len, sizeof line - len, " %s ", level_names[level]);
  if (rc < 0)
    return;
  len += (size_t) rc;
  start = len;

  /* Leave room for the newline and the terminating NUL. */
  rc = vsnprintf (line + len, sizeof line - len - 1, fmt, ap);
  if (rc < 0)
    {
      snprintf (line + len, sizeof line - len - 1, "(log format error)");
      len += strlen (line + len);
    }
  else if ((size_t) rc >= sizeof line - len - 1)
    {
      len = sizeof line - 2;
      memcpy (line + len - 3, "...", 3);
    }
  else
    len += (size_t) rc;

  for (i = start; i < len; i++)
    {
      unsigned char c = (unsigned char) line[i];
      if (c < 0x20 || c == 0x7f)
        line[i] = '?';
    }
  line[len++] = '\n';
  line[len] = '\0';
  fputs (line, stderr);
}

void
log_msg (enum log_level level, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  log_vmsg (level, fmt, ap);
  va_end (ap);
}

static void
libevent_log_cb (int severity, const char *msg)
{
  enum log_level level;

  switch (severity)
    {
    case EVENT_LOG_DEBUG:
      level = LOG_LEVEL_DEBUG;
      break;
    case EVENT_LOG_MSG:
      level = LOG_LEVEL_INFO;
      break;
    case EVENT_LOG_WARN:
      level = LOG_LEVEL_WARN;
      break;
    default:
      level = LOG_LEVEL_ERROR;
      break;
    }
  log_msg (level, "libevent: %s", msg != NULL ? msg : "(null)");
}

void
log_route_libevent (void)
{
  event_set_log_callback (libevent_log_cb);
}

static size_t
escaped_len (unsigned char c)
{
  if (c < 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
    return 4;
  return 1;
}

char *
log_escape (const char *in, size_t in_len, char *out, size_t out_cap)
{
  static const char hex[] = "0123456789abcdef";
  size_t need = 0, pos = 0, limit, i;
  bool fits;

  if (out == NULL || out_cap == 0)
    return out;
  if (in == NULL)
    in_len = 0;

  /* Does everything fit? Stop counting as soon as it cannot. */
  for (i = 0; i < in_len && need < out_cap; i++)
    need += escaped_len ((unsigned char) in[i]);
  fits = need < out_cap;

  /* When it does not, keep room for "..." (or what fits of it). */
  if (fits)
    limit = out_cap - 1;
  else
    limit = out_cap - 1 >= 3 ? out_cap - 1 - 3 : 0;

  for (i = 0; i < in_len; i++)
    {
      unsigned char c = (unsigned char) in[i];
      size_t n = escaped_len (c);

      if (pos + n > limit)
        break;
      if (n == 1)
        out[pos++] = (char) c;
      else
        {
          out[pos++] = '\\';
          out[pos++] = 'x';
          out[pos++] = hex[c >> 4];
          out[pos++] = hex[c & 0xf];
        }
    }
  if (!fits)
    {
      size_t dots = out_cap - 1 >= 3 ? 3 : out_cap - 1;

      while (dots-- > 0)
        out[pos++] = '.';
    }
  out[pos] = '\0';
  return out;
}
