/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechatd.conf: "key = value" lines, '#' starts a comment, blank lines
 * are ignored. Parsing is strict: an unknown key, a value that is not a
 * plain decimal number, a number out of range, a key given twice or an
 * over-long line is an error naming the file and line. The file is parsed
 * into a copy, so a failed load leaves the caller's config untouched. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Longest accepted line, without its newline. */
#define CONFIG_LINE_MAX 1024

struct config_key
{
  const char *name;
  size_t offset; /* of a uint32_t in struct config; unused for listen */
  uint32_t min;
  uint32_t max;
};

#define KEY(field, lo, hi)                                                     \
  {                                                                            \
#field, offsetof(struct config, field), lo, hi                             \
  }

/* "listen" comes first and is special-cased; the others are numbers.
 * Each range keeps the server meaningful: a timeout of 0 or a limit of 0
 * connections is never what the operator wants. */
static const struct config_key config_keys[] = {
  { "listen", 0, 0, 0 },
  KEY (max_frame, 64, 65535),
  KEY (handshake_timeout, 1, 3600),
  KEY (idle_timeout, 1, 86400),
  KEY (output_buffer_max, 1024, 1073741824),
  KEY (max_connections, 1, 1000000),
  KEY (max_pending, 1, 1000000),
  KEY (max_pending_per_ip, 1, 1000000),
  KEY (hash_workers, 1, 64),
  KEY (hash_queue_max, 1, 65536),
  KEY (auth_fail_limit, 1, 1000),
  KEY (auth_backoff_ms, 1, 86400000),
  KEY (auth_backoff_max_ms, 1, 86400000),
  KEY (message_rate, 1, 1000000),
  KEY (message_burst, 1, 1000000),
};

#define N_KEYS (sizeof config_keys / sizeof config_keys[0])

void
config_defaults (struct config *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  snprintf (cfg->listen, sizeof cfg->listen, "%s", CONFIG_DEFAULT_LISTEN);
  cfg->max_frame = 65535;
  cfg->handshake_timeout = 10;
  cfg->idle_timeout = 90;
  cfg->output_buffer_max = 1048576;
  cfg->max_connections = 1024;
  cfg->max_pending = 256;
  cfg->max_pending_per_ip = 32;
  cfg->hash_workers = 2;
  cfg->hash_queue_max = 64;
  cfg->auth_fail_limit = 5;
  cfg->auth_backoff_ms = 1000;
  cfg->auth_backoff_max_ms = 900000;
  cfg->message_rate = 200;
  cfg->message_burst = 400;
}

static bool
is_host_char (unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool
is_v6_char (unsigned char c)
{
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
         (c >= '0' && c <= '9') || c == ':' || c == '.';
}

/* A plain unsigned decimal number: digits only, no sign, no spaces. */
static int
parse_u32 (const char *s, uint32_t *out, bool *overflow)
{
  uint64_t v = 0;

  *overflow = false;
  if (*s == '\0')
    return -1;
  for (; *s != '\0'; s++)
    {
      if (*s < '0' || *s > '9')
        return -1;
      if (!*overflow)
        {
          v = v * 10 + (uint64_t) (*s - '0');
          if (v > UINT32_MAX)
            *overflow = true;
        }
    }
  if (*overflow)
    return -1;
  *out = (uint32_t) v;
  return 0;
}

int
config_parse_hostport (const char *s,
                       char *host,
                       size_t host_cap,
                       uint16_t *port)
{
  const char *host_start, *host_end, *colon;
  uint32_t p;
  bool overflow;
  size_t host_len, i;

  if (s == NULL || host == NULL || host_cap == 0 || port == NULL)
    return -1;
  host[0] = '\0';

  if (s[0] == '[')
    {
      const char *close = strchr (s, ']');
      const char *zone;

      if (close == NULL || close[1] != ':')
        return -1;
      host_start = s + 1;
      host_end = close;
      colon = close + 1;
      if (host_end == host_start ||
          memchr (host_start, ':', (size_t) (host_end - host_start)) == NULL)
        return -1;
      /* An optional zone ("fe80::1%eth0") after the address. */
      zone = memchr (host_start, '%', (size_t) (host_end - host_start));
      for (i = 0; host_start + i < (zone != NULL ? zone : host_end); i++)
        if (!is_v6_char ((unsigned char) host_start[i]))
          return -1;
      if (zone != NULL)
        {
          if (zone + 1 == host_end)
            return -1;
          for (i = 1; zone + i < host_end; i++)
            if (!is_host_char ((unsigned char) zone[i]))
              return -1;
        }
    }
  else
    {
      colon = strrchr (s, ':');
      if (colon == NULL)
        return -1;
      host_start = s;
      host_end = colon;
      if (host_end == host_start)
        return -1;
      /* A bare IPv6 address is ambiguous: it needs brackets. */
      for (i = 0; host_start + i < host_end; i++)
        if (!is_host_char ((unsigned char) host_start[i]))
          return -1;
    }

  if (parse_u32 (colon + 1, &p, &overflow) != 0 || p > 65535 ||
      strlen (colon + 1) > 5)
    return -1;

  host_len = (size_t) (host_end - host_start);
  if (host_len >= host_cap)
    return -1;
  memcpy (host, host_start, host_len);
  host[host_len] = '\0';
  *port = (uint16_t) p;
  return 0;
}

static const struct config_key *
find_key (const char *key)
{
  size_t i;

  for (i = 0; i < N_KEYS; i++)
    if (strcmp (config_keys[i].name, key) == 0)
      return &config_keys[i];
  return NULL;
}

int
config_set (struct config *cfg,
            const char *key,
            const char *value,
            char *err,
            size_t err_cap)
{
  const struct config_key *k;
  char shown[128];
  uint32_t v;
  bool overflow;

  if (cfg == NULL || key == NULL || value == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  k = find_key (key);
  if (k == NULL)
    {
      util_set_err (err, err_cap, "unknown key \"%s\"",
                    log_escape (key, strlen (key), shown, sizeof shown));
      return -1;
    }
  log_escape (value, strlen (value), shown, sizeof shown);

  if (k == &config_keys[0])
    {
      char host[sizeof cfg->listen];
      uint16_t port;

      if (strlen (value) >= sizeof cfg->listen ||
          config_parse_hostport (value, host, sizeof host, &port) != 0)
        {
          util_set_err (err, err_cap,
                        "listen: \"%s\" is not HOST:PORT or [IPV6]:PORT "
                        "(port 0..65535)",
                        shown);
          return -1;
        }
      snprintf (cfg->listen, sizeof cfg->listen, "%s", value);
      return 0;
    }

  if (parse_u32 (value, &v, &overflow) != 0)
    {
      if (overflow)
        util_set_err (err, err_cap, "%s: %s is too large (maximum %" PRIu32 ")",
                      k->name, shown, k->max);
      else
        util_set_err (err, err_cap,
                      "%s: \"%s\" is not a number (expected decimal digits)",
                      k->name, shown);
      return -1;
    }
  if (v < k->min || v > k->max)
    {
      util_set_err (err, err_cap,
                    "%s: %" PRIu32 " is out of range (%" PRIu32 "..%" PRIu32
                    ")",
                    k->name, v, k->min, k->max);
      return -1;
    }
  memcpy ((char *) cfg + k->offset, &v, sizeof v);
  return 0;
}

int
config_validate (const struct config *cfg, char *err, size_t err_cap)
{
  if (cfg->auth_backoff_ms > cfg->auth_backoff_max_ms)
    {
      util_set_err (err, err_cap,
                    "auth_backoff_ms (%" PRIu32
                    ") is larger than auth_backoff_max_ms (%" PRIu32 ")",
                    cfg->auth_backoff_ms, cfg->auth_backoff_max_ms);
      return -1;
    }
  if (cfg->output_buffer_max < cfg->max_frame + 2u)
    {
      util_set_err (err, err_cap,
                    "output_buffer_max (%" PRIu32
                    ") must hold at least one frame: max_frame + 2 = %" PRIu32,
                    cfg->output_buffer_max, cfg->max_frame + 2u);
      return -1;
    }
  return 0;
}

static char *
trim (char *s)
{
  char *end;

  while (*s == ' ' || *s == '\t' || *s == '\r')
    s++;
  end = s + strlen (s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    *--end = '\0';
  return s;
}

/* Reads one line without its newline. Returns 1 for a line, 0 at the end
 * of the file, -1 for an over-long line (the rest of it is skipped), -2 for
 * a NUL byte in it, -3 for a read error. */
static int
read_line (FILE *f, char *buf, size_t cap)
{
  size_t len = 0;
  bool too_long = false, nul = false;
  int c;

  for (;;)
    {
      c = getc (f);
      if (c == EOF)
        {
          if (ferror (f))
            return -3;
          if (len == 0 && !too_long && !nul)
            return 0;
          break;
        }
      if (c == '\n')
        break;
      if (c == '\0')
        nul = true;
      if (len + 1 < cap)
        buf[len++] = (char) c;
      else
        too_long = true;
    }
  buf[len] = '\0';
  if (too_long)
    return -1;
  if (nul)
    return -2;
  return 1;
}

/* The lines of f, applied to a copy of *cfg that replaces it only when
 * every line was good. shown_path names the file in messages. */
static int
parse_stream (FILE *f,
              const char *shown_path,
              struct config *cfg,
              char *err,
              size_t err_cap)
{
  char line[CONFIG_LINE_MAX + 1];
  bool seen[N_KEYS] = { false };
  struct config tmp;
  unsigned long lineno = 0;

  tmp = *cfg;
  for (;;)
    {
      char msg[512];
      char *p, *eq, *key, *value;
      const struct config_key *k;
      int rc;

      rc = read_line (f, line, sizeof line);
      if (rc == 0)
        break;
      lineno++;
      if (rc == -3)
        {
          util_set_err (err, err_cap, "%s:%lu: read error: %s", shown_path,
                        lineno, strerror (errno));
          return -1;
        }
      if (rc == -1)
        {
          util_set_err (err, err_cap, "%s:%lu: line longer than %d bytes",
                        shown_path, lineno, CONFIG_LINE_MAX);
          return -1;
        }
      if (rc == -2)
        {
          util_set_err (err, err_cap, "%s:%lu: NUL byte in line", shown_path,
                        lineno);
          return -1;
        }

      p = strchr (line, '#');
      if (p != NULL)
        *p = '\0';
      p = trim (line);
      if (*p == '\0')
        continue;

      eq = strchr (p, '=');
      if (eq == NULL)
        {
          util_set_err (err, err_cap, "%s:%lu: expected \"key = value\"",
                        shown_path, lineno);
          return -1;
        }
      *eq = '\0';
      key = trim (p);
      value = trim (eq + 1);
      if (*key == '\0')
        {
          util_set_err (err, err_cap, "%s:%lu: missing key before '='",
                        shown_path, lineno);
          return -1;
        }
      if (*value == '\0')
        {
          util_set_err (err, err_cap, "%s:%lu: %s: missing value", shown_path,
                        lineno, log_escape (key, strlen (key), msg, 128));
          return -1;
        }
      k = find_key (key);
      if (k != NULL && seen[k - config_keys])
        {
          util_set_err (err, err_cap, "%s:%lu: duplicate key \"%s\"",
                        shown_path, lineno, k->name);
          return -1;
        }
      if (config_set (&tmp, key, value, msg, sizeof msg) != 0)
        {
          util_set_err (err, err_cap, "%s:%lu: %s", shown_path, lineno, msg);
          return -1;
        }
      seen[k - config_keys] = true;
    }

  *cfg = tmp;
  return 0;
}

int
config_load (const char *path,
             int optional,
             struct config *cfg,
             char *err,
             size_t err_cap)
{
  char shown_path[256];
  FILE *f;
  int ret;

  if (path == NULL || cfg == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  log_escape (path, strlen (path), shown_path, sizeof shown_path);

  f = fopen (path, "re");
  if (f == NULL)
    {
      if (errno == ENOENT && optional)
        return 0;
      util_set_err (err, err_cap, "%s: cannot open: %s", shown_path,
                    strerror (errno));
      return -1;
    }
  ret = parse_stream (f, shown_path, cfg, err, err_cap);
  fclose (f);
  return ret;
}

int
config_parse (const char *name,
              const char *text,
              size_t len,
              struct config *cfg,
              char *err,
              size_t err_cap)
{
  static char empty[1];
  char shown_path[256];
  FILE *f;
  int ret;

  if (name == NULL || (text == NULL && len > 0) || cfg == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  log_escape (name, strlen (name), shown_path, sizeof shown_path);
  /* A read-only memory stream: the very line reader config_load uses,
   * NUL bytes and all. */
  f = fmemopen (len > 0 ? (void *) text : empty, len, "r");
  if (f == NULL)
    {
      util_set_err (err, err_cap, "%s: cannot read: %s", shown_path,
                    strerror (errno));
      return -1;
    }
  ret = parse_stream (f, shown_path, cfg, err, err_cap);
  fclose (f);
  return ret;
}
