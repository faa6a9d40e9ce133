/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by every fuzz harness (see fuzz.h): seeds, failures,
 * scripted inputs. Nothing here needs the protocol core. */
#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void (*fuzz_emit_fn) (const char *name, const void *data, size_t len);

void
fuzz_emit (const char *name, const void *data, size_t len)
{
  if (fuzz_emit_fn != NULL)
    fuzz_emit_fn (name, data, len);
}

void
fuzz_trace (const char *fmt, ...)
{
  static int on = -1;
  va_list ap;

  if (on < 0)
    on = getenv ("FUZZ_TRACE") != NULL;
  if (!on)
    return;
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

void
fuzz_fail (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  abort ();
}

bool
fuzz_next (struct fuzz_reader *r,
           uint8_t *op,
           const uint8_t **data,
           size_t *len)
{
  size_t n;

  if (r->left == 0)
    return false;
  *op = r->p[0];
  n = r->left >= 3 ? (size_t) r->p[1] << 8 | r->p[2] : 0;
  if (r->left < 3)
    {
      r->p += r->left;
      r->left = 0;
    }
  else
    {
      r->p += 3;
      r->left -= 3;
    }
  if (n > r->left)
    n = r->left;
  *data = r->p;
  *len = n;
  r->p += n;
  r->left -= n;
  return true;
}

void
fuzz_buf_put (struct fuzz_buf *b, const void *data, size_t len)
{
  if (b->len + len > b->cap)
    {
      size_t cap = b->cap > 0 ? b->cap : 256;
      uint8_t *p;

      while (cap < b->len + len)
        cap *= 2;
      p = realloc (b->p, cap);
      if (p == NULL)
        fuzz_fail ("out of memory");
      b->p = p;
      b->cap = cap;
    }
  if (len > 0)
    memcpy (b->p + b->len, data, len);
  b->len += len;
}

void
fuzz_buf_u8 (struct fuzz_buf *b, uint8_t v)
{
  fuzz_buf_put (b, &v, 1);
}

void
fuzz_buf_record (struct fuzz_buf *b, uint8_t op, const void *data, size_t len)
{
  uint8_t hdr[3] = { op, (uint8_t) (len >> 8), (uint8_t) len };

  if (len > 0xffff)
    fuzz_fail ("a record of %zu bytes does not fit", len);
  fuzz_buf_put (b, hdr, sizeof hdr);
  fuzz_buf_put (b, data, len);
}

void
fuzz_buf_record_str (struct fuzz_buf *b, uint8_t op, const char *s)
{
  fuzz_buf_record (b, op, s, strlen (s));
}

void
fuzz_buf_free (struct fuzz_buf *b)
{
  free (b->p);
  memset (b, 0, sizeof *b);
}

void
fuzz_buf_emit (struct fuzz_buf *b, const char *name)
{
  fuzz_emit (name, b->p, b->len);
  b->len = 0;
}
