/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "bench-core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "securechat/crypto.h"
#include "securechat/msg.h"

int64_t
bench_mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
bench_put_be64 (uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--)
    {
      p[i] = (uint8_t) (v & 0xff);
      v >>= 8;
    }
}

uint64_t
bench_get_be64 (const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

void
bench_samples_add (struct bench_samples *s, int64_t ns)
{
  int64_t us = ns / 1000;

  if (us < 0)
    us = 0;
  if (us > UINT32_MAX)
    us = UINT32_MAX;
  if (s->n == s->cap)
    {
      size_t cap = s->cap > 0 ? s->cap * 2 : 65536;
      uint32_t *p;

      if (cap > BENCH_MAX_SAMPLES)
        cap = BENCH_MAX_SAMPLES;
      if (cap == s->n)
        {
          s->dropped++;
          return;
        }
      p = realloc (s->us, cap * sizeof *p);
      if (p == NULL)
        {
          s->dropped++;
          return;
        }
      s->us = p;
      s->cap = cap;
    }
  s->us[s->n++] = (uint32_t) us;
  s->sorted = false;
}

static int
cmp_u32 (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a;
  uint32_t y = *(const uint32_t *) b;

  return (x > y) - (x < y);
}

double
bench_samples_quantile_ms (struct bench_samples *s, double p)
{
  size_t rank;

  if (s->n == 0)
    return -1.0;
  if (!s->sorted)
    {
      qsort (s->us, s->n, sizeof *s->us, cmp_u32);
      s->sorted = true;
    }
  rank = (size_t) (p * (double) s->n + 0.999999);
  if (rank < 1)
    rank = 1;
  if (rank > s->n)
    rank = s->n;
  return s->us[rank - 1] / 1000.0;
}

void
bench_samples_free (struct bench_samples *s)
{
  free (s->us);
  memset (s, 0, sizeof *s);
}

bool
bench_proc_cpu_ticks (pid_t pid, uint64_t *ticks)
{
  char path[64];
  char buf[4096];
  FILE *f;
  size_t n;
  char *p;
  char *save = NULL;
  unsigned long long ut = 0;
  int field = 2; /* the last token before p is field 2, (comm) */

  snprintf (path, sizeof path, "/proc/%ld/stat", (long) pid);
  f = fopen (path, "r");
  if (f == NULL)
    return false;
  n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  /* comm may hold spaces and parentheses: fields start after the last ')'. */
  p = strrchr (buf, ')');
  if (p == NULL)
    return false;
  for (char *tok = strtok_r (p + 1, " ", &save); tok != NULL;
       tok = strtok_r (NULL, " ", &save))
    {
      field++;
      if (field == 14)
        ut = strtoull (tok, NULL, 10);
      else if (field == 15)
        {
          *ticks = ut + strtoull (tok, NULL, 10);
          return true;
        }
    }
  return false;
}

void
bench_proc_mem (pid_t pid, long *rss_kib, long *hwm_kib)
{
  char path[64];
  char line[256];
  FILE *f;

  *rss_kib = -1;
  *hwm_kib = -1;
  snprintf (path, sizeof path, "/proc/%ld/status", (long) pid);
  f = fopen (path, "r");
  if (f == NULL)
    return;
  while (fgets (line, sizeof line, f) != NULL)
    {
      if (strncmp (line, "VmRSS:", 6) == 0)
        *rss_kib = strtol (line + 6, NULL, 10);
      else if (strncmp (line, "VmHWM:", 6) == 0)
        *hwm_kib = strtol (line + 6, NULL, 10);
    }
  fclose (f);
}

int
bench_parse_uint (const char *prog,
                  const char *name,
                  const char *s,
                  unsigned lo,
                  unsigned hi,
                  unsigned *out)
{
  char *end = NULL;
  unsigned long v;

  errno = 0;
  if (s[0] < '0' || s[0] > '9')
    goto bad;
  v = strtoul (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
    goto bad;
  *out = (unsigned) v;
  return 0;
bad:
  fprintf (stderr, "%s: --%s must be an integer in %u..%u\n", prog, name, lo,
           hi);
  return -1;
}

int
bench_parse_seconds (const char *prog,
                     const char *name,
                     const char *s,
                     bool zero_ok,
                     unsigned max_s,
                     unsigned *out_ms)
{
  char *end = NULL;
  double v;

  errno = 0;
  if (s[0] < '0' || s[0] > '9')
    goto bad;
  v = strtod (s, &end);
  if (errno != 0 || end == s || *end != '\0' || v < 0.0 || v > (double) max_s ||
      (!zero_ok && v < 0.001))
    goto bad;
  *out_ms = (unsigned) (v * 1000.0 + 0.5);
  return 0;
bad:
  fprintf (stderr, "%s: --%s must be a number of seconds in %s0, %u]\n", prog,
           name, zero_ok ? "[" : "(", max_s);
  return -1;
}

int
bench_split_hostport (
    const char *s, char *host, size_t host_cap, char *port, size_t port_cap)
{
  const char *colon;
  size_t hlen;

  if (s[0] == '[')
    {
      const char *close = strchr (s, ']');

      if (close == NULL || close[1] != ':')
        return -1;
      hlen = (size_t) (close - s - 1);
      s++;
      colon = close + 1;
    }
  else
    {
      colon = strrchr (s, ':');
      if (colon == NULL)
        return -1;
      hlen = (size_t) (colon - s);
    }
  if (hlen == 0 || hlen >= host_cap || strlen (colon + 1) == 0 ||
      strlen (colon + 1) >= port_cap)
    return -1;
  memcpy (host, s, hlen);
  host[hlen] = '\0';
  strcpy (port, colon + 1);
  for (const char *p = port; *p != '\0'; p++)
    if (*p < '0' || *p > '9')
      return -1;
  return 0;
}

char *
bench_read_password_file (const char *prog, const char *path)
{
  /* A password, its line end, and one byte to see it is too long. */
  char buf[SC_PASSWORD_MAX + 3];
  FILE *f = fopen (path, "r");
  size_t n;
  char *pw;

  if (f == NULL)
    {
      fprintf (stderr, "%s: %s: %s\n", prog, path, strerror (errno));
      return NULL;
    }
  n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  buf[strcspn (buf, "\r\n")] = '\0';
  pw = strdup (buf);
  sc_wipe (buf, sizeof buf);
  return pw;
}
