/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "lines.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lines
{
  int fd;
  size_t max;
  char *buf; /* max + 1 bytes of line, + 1 for a NUL */
  size_t len;
  size_t consumed; /* the line returned last, to drop on the next call */
  bool eof;
  bool skipping; /* dropping the rest of an overlong line */
};

struct lines *
lines_new (int fd, size_t max)
{
  struct lines *l = calloc (1, sizeof *l);

  if (l == NULL)
    return NULL;
  l->fd = fd;
  l->max = max;
  l->buf = malloc (max + 2);
  if (l->buf == NULL)
    {
      free (l);
      return NULL;
    }
  return l;
}

void
lines_free (struct lines *l)
{
  if (l == NULL)
    return;
  OPENSSL_cleanse (l->buf, l->max + 2);
  free (l->buf);
  free (l);
}

static void
drop_consumed (struct lines *l)
{
  if (l->consumed == 0)
    return;
  OPENSSL_cleanse (l->buf, l->consumed);
  memmove (l->buf, l->buf + l->consumed, l->len - l->consumed);
  l->len -= l->consumed;
  OPENSSL_cleanse (l->buf + l->len, l->consumed);
  l->consumed = 0;
}

long
lines_fill (struct lines *l)
{
  ssize_t n;

  drop_consumed (l);
  if (l->eof)
    return 0;
  if (l->len == l->max + 1)
    {
      /* Full without a newline: the line is too long. Keep looking for
       * its end in what follows. */
      l->skipping = true;
      l->len = 0;
    }
  do
    n = read (l->fd, l->buf + l->len, l->max + 1 - l->len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  if (n == 0)
    l->eof = true;
  l->len += (size_t) n;
  return (long) n;
}

enum lines_result
lines_next (struct lines *l, char **line, size_t *len)
{
  char *nl;

  *line = NULL;
  *len = 0;
  drop_consumed (l);
  nl = memchr (l->buf, '\n', l->len);
  if (l->skipping)
    {
      if (nl == NULL)
        {
          l->len = 0;
          if (!l->eof)
            return LINES_NONE;
          l->skipping = false;
          return LINES_TOO_LONG;
        }
      l->skipping = false;
      l->consumed = (size_t) (nl - l->buf) + 1;
      return LINES_TOO_LONG;
    }
  if (nl == NULL)
    {
      if (l->len == l->max + 1)
        {
          l->len = 0;
          if (!l->eof)
            {
              l->skipping = true;
              return LINES_NONE;
            }
          return LINES_TOO_LONG;
        }
      if (!l->eof)
        return LINES_NONE;
      if (l->len == 0)
        return LINES_EOF;
      nl = l->buf + l->len;
      l->consumed = l->len;
    }
  else
    l->consumed = (size_t) (nl - l->buf) + 1;
  *len = (size_t) (nl - l->buf);
  if (*len > 0 && l->buf[*len - 1] == '\r')
    (*len)--;
  /* Room for the NUL: the buffer has max + 2 bytes. */
  l->buf[*len] = '\0';
  *line = l->buf;
  return LINES_LINE;
}

bool
lines_ready (const struct lines *l)
{
  size_t avail = l->len - l->consumed;

  if (l->eof)
    return true;
  if (avail == l->max + 1)
    return true;
  return memchr (l->buf + l->consumed, '\n', avail) != NULL;
}

bool
lines_eof (const struct lines *l)
{
  return l->eof && l->len == l->consumed;
}
