/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void
util_set_err (char *err, size_t err_cap, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || err_cap == 0)
    return;
  va_start (ap, fmt);
  vsnprintf (err, err_cap, fmt, ap);
  va_end (ap);
}

int
util_write_all (int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
util_fsync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc, saved;

  if (fd < 0)
    return -1;
  rc = fsync (fd);
  saved = errno;
  close (fd);
  errno = saved;
  return rc;
}

char *
util_json_dump (const json_t *root, size_t flags)
{
  size_t len = json_dumpb (root, NULL, 0, flags);
  char *text;

  if (len == 0 || (text = malloc (len + 2)) == NULL)
    return NULL;
  if (json_dumpb (root, text, len, flags) != len)
    {
      free (text);
      return NULL;
    }
  text[len] = '\n';
  text[len + 1] = '\0';
  return text;
}
