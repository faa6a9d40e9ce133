/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "securechat/base64.h"

#include <stdbool.h>

#include "securechat/error.h"

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 character, or -1 for anything outside the alphabet
 * (including '=', which the decoder handles by position). */
static int
char_value (unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int
sc_base64_encode (const uint8_t *in, size_t len, char *out, size_t out_cap)
{
  size_t groups, need, i, o;

  if ((in == NULL && len > 0) || out == NULL)
    return SC_ERR_INVALID;

  groups = len / 3 + (len % 3 != 0);
  if (groups > (SIZE_MAX - 1) / 4)
    return SC_ERR_TOO_LARGE;
  need = groups * 4 + 1;
  if (out_cap < need)
    return SC_ERR_BUFFER;

  for (i = 0, o = 0; len - i >= 3; i += 3, o += 4)
    {
      uint32_t v =
          ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];
      out[o] = alphabet[(v >> 18) & 0x3f];
      out[o + 1] = alphabet[(v >> 12) & 0x3f];
      out[o + 2] = alphabet[(v >> 6) & 0x3f];
      out[o + 3] = alphabet[v & 0x3f];
    }
  if (len - i == 1)
    {
      uint32_t v = (uint32_t) in[i] << 16;
      out[o] = alphabet[(v >> 18) & 0x3f];
      out[o + 1] = alphabet[(v >> 12) & 0x3f];
      out[o + 2] = '=';
      out[o + 3] = '=';
      o += 4;
    }
  else if (len - i == 2)
    {
      uint32_t v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8);
      out[o] = alphabet[(v >> 18) & 0x3f];
      out[o + 1] = alphabet[(v >> 12) & 0x3f];
      out[o + 2] = alphabet[(v >> 6) & 0x3f];
      out[o + 3] = '=';
      o += 4;
    }
  out[o] = '\0';
  return SC_OK;
}

/* Checks that in is canonical padded base64 and returns the decoded length
 * in *out_len; when out is not NULL also writes the decoded bytes (the
 * caller has checked that *out_len bytes fit). */
static int
decode (const char *in, size_t in_len, uint8_t *out, size_t *out_len)
{
  size_t i, o, pad = 0;

  *out_len = 0;
  if (in_len % 4 != 0)
    return SC_ERR_BASE64;
  if (in_len == 0)
    return SC_OK;

  if (in[in_len - 1] == '=')
    pad = in[in_len - 2] == '=' ? 2 : 1;

  for (i = 0, o = 0; i < in_len; i += 4)
    {
      bool last = i + 4 == in_len;
      int c[4];
      uint32_t v;
      size_t k, n_chars = last ? 4 - pad : 4;

      for (k = 0; k < 4; k++)
        c[k] = k < n_chars ? char_value ((unsigned char) in[i + k]) : 0;
      for (k = 0; k < n_chars; k++)
        if (c[k] < 0)
          return SC_ERR_BASE64;

      v = ((uint32_t) c[0] << 18) | ((uint32_t) c[1] << 12) |
          ((uint32_t) c[2] << 6) | (uint32_t) c[3];
      /* Canonical form: the bits that padding leaves over must be zero. */
      if (last && pad == 2 && (v & 0xffff) != 0)
        return SC_ERR_BASE64;
      if (last && pad == 1 && (v & 0xff) != 0)
        return SC_ERR_BASE64;

      if (out != NULL)
        {
          out[o] = (uint8_t) (v >> 16);
          if (n_chars > 2)
            out[o + 1] = (uint8_t) (v >> 8);
          if (n_chars > 3)
            out[o + 2] = (uint8_t) v;
        }
      o += n_chars - 1;
    }
  *out_len = o;
  return SC_OK;
}

int
sc_base64_validate (const char *in, size_t in_len)
{
  size_t n;

  if (in == NULL && in_len > 0)
    return SC_ERR_INVALID;
  return decode (in, in_len, NULL, &n);
}

int
sc_base64_decode (const char *in,
                  size_t in_len,
                  uint8_t *out,
                  size_t out_cap,
                  size_t *out_len)
{
  size_t n;
  int rc;

  if (out_len == NULL)
    return SC_ERR_INVALID;
  *out_len = 0;
  if ((in == NULL && in_len > 0) || (out == NULL && out_cap > 0))
    return SC_ERR_INVALID;

  rc = decode (in, in_len, NULL, &n);
  if (rc != SC_OK)
    return rc;
  if (n > out_cap)
    return SC_ERR_BUFFER;
  if (n > 0)
    {
      rc = decode (in, in_len, out, &n);
      if (rc != SC_OK)
        return rc;
    }
  *out_len = n;
  return SC_OK;
}
