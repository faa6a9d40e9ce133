/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "text.h"

#include <stdlib.h>

size_t
text_utf8_next (const uint8_t *s, size_t len, uint32_t *cp)
{
  uint32_t c;
  size_t n;
  uint32_t min;

  *cp = 0;
  if (len == 0)
    return 0;
  if (s[0] < 0x80)
    {
      *cp = s[0];
      return 1;
    }
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    {
      n = 2;
      c = s[0] & 0x1fu;
      min = 0x80;
    }
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    {
      n = 3;
      c = s[0] & 0x0fu;
      min = 0x800;
    }
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    {
      n = 4;
      c = s[0] & 0x07u;
      min = 0x10000;
    }
  else
    return 0;
  if (len < n)
    return 0;
  for (size_t i = 1; i < n; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return 0;
      c = (c << 6) | (s[i] & 0x3fu);
    }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return n;
}

static bool
is_bidi (uint32_t cp)
{
  return cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

static char *
put_hex (char *o, uint8_t b)
{
  static const char hex[] = "0123456789abcdef";

  *o++ = '\\';
  *o++ = 'x';
  *o++ = hex[b >> 4];
  *o++ = hex[b & 0x0f];
  return o;
}

char *
text_escape (const uint8_t *data, size_t len, unsigned flags)
{
  char *out;
  char *o;
  size_t i = 0;

  /* Every input byte becomes at most 4 output bytes. */
  if (len > (SIZE_MAX - 1) / 4)
    return NULL;
  out = malloc (len * 4 + 1);
  if (out == NULL)
    return NULL;
  o = out;
  while (i < len)
    {
      uint32_t cp = 0;
      size_t n = text_utf8_next (data + i, len - i, &cp);

      if (n == 0)
        {
          o = put_hex (o, data[i]);
          i++;
          continue;
        }
      if (cp == '\\')
        {
          *o++ = '\\';
          *o++ = '\\';
        }
      else if (cp == '\n')
        {
          *o++ = '\\';
          *o++ = 'n';
        }
      else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
               ((flags & TEXT_ESCAPE_BIDI) != 0 && is_bidi (cp)))
        {
          for (size_t k = 0; k < n; k++)
            o = put_hex (o, data[i + k]);
        }
      else
        {
          for (size_t k = 0; k < n; k++)
            *o++ = (char) data[i + k];
        }
      i += n;
    }
  *o = '\0';
  return out;
}
