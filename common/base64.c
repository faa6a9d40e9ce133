/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "securechat/base64.h"

#include <stdbool.h>
#include <string.h>

#include "securechat/error.h"

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A character's value plus one; 0 for anything outside the alphabet
 * (including '=', which is handled by position). */
static const uint8_t value_plus_one[256] = {
  ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,
  ['G'] = 7,  ['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12,
  ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
  ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
  ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
  ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
  ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
  ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
  ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
  ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
  ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* Value of a base64 character, or -1 for anything outside the alphabet
 * (including '=', which the decoder handles by position). */
static int
char_value (unsigned char c)
{
  return (int) value_plus_one[c] - 1;
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

/* 1 for a character of the alphabet ('=' excluded), else 0. */
static inline unsigned char
in_alphabet (unsigned char c)
{
  return (unsigned char) ((unsigned char) ((c | 0x20) - 'a') < 26) |
         (unsigned char) ((unsigned char) (c - '0') < 10) |
         (unsigned char) (c == '+') | (unsigned char) (c == '/');
}

#define ONES  UINT64_C (0x0101010101010101)
#define HIGHS UINT64_C (0x8080808080808080)
#define LOW7S UINT64_C (0x7f7f7f7f7f7f7f7f)

/* The high bit of each byte of w (all below 0x80) that lies in lo..hi. */
static inline uint64_t
bytes_in_range (uint64_t w, unsigned lo, unsigned hi)
{
  return (w + ONES * (0x80 - lo)) & ~(w + ONES * (0x7f - hi)) & HIGHS;
}

/* The high bit of each byte of w (all below 0x80) that equals c. */
static inline uint64_t
bytes_equal (uint64_t w, unsigned c)
{
  uint64_t x = w ^ (ONES * c);

  return ~(((x & LOW7S) + LOW7S) | x) & HIGHS;
}

/* Eight characters at once (SWAR): 0 when all are in the alphabet. Plain
 * loops were compiled very differently at -O2 and -O3, and the -O3 one,
 * unrolled, took 12 % of the server's time per relayed message. */
static inline uint64_t
bad_in_word (uint64_t w)
{
  uint64_t ok;

  if (w & HIGHS)
    return 1;
  ok = bytes_in_range (w | ONES * 0x20, 'a', 'z') |
       bytes_in_range (w, '0', '9') | bytes_equal (w, '+') |
       bytes_equal (w, '/');
  return ok ^ HIGHS;
}

/* The checks of sc_base64_decode() without its output: a message body is
 * validated on every relayed message. */
int
sc_base64_validate (const char *in, size_t in_len)
{
  const unsigned char *p = (const unsigned char *) in;
  size_t body, pad = 0, i = 0;
  uint64_t bad = 0;
  int c2, c3;

  if (in == NULL && in_len > 0)
    return SC_ERR_INVALID;
  if (in_len % 4 != 0)
    return SC_ERR_BASE64;
  if (in_len == 0)
    return SC_OK;
  if (p[in_len - 1] == '=')
    pad = p[in_len - 2] == '=' ? 2 : 1;
  body = in_len - pad;
  for (; i + 8 <= body; i += 8)
    {
      uint64_t w;

      memcpy (&w, p + i, sizeof w); /* byte order does not matter here */
      bad |= bad_in_word (w);
    }
  for (; i < body; i++)
    bad |= in_alphabet (p[i]) ^ 1;
  if (bad)
    return SC_ERR_BASE64;
  /* Canonical form: the bits that padding leaves over must be zero. */
  c2 = char_value (p[in_len - 3]);
  c3 = char_value (p[in_len - 2]);
  if (pad == 2 && (c2 & 0x0f) != 0)
    return SC_ERR_BASE64;
  if (pad == 1 && (c3 & 0x03) != 0)
    return SC_ERR_BASE64;
  return SC_OK;
}

int
sc_base64_decode (const char *in,
                  size_t in_len,
                  uint8_t *out,
                  size_t out_cap,
                  size_t *out_len)
{
  const unsigned char *p = (const unsigned char *) in;
  size_t n, pad = 0, i, o;
  uint32_t v;
  int rc;

  if (out_len == NULL)
    return SC_ERR_INVALID;
  *out_len = 0;
  if ((in == NULL && in_len > 0) || (out == NULL && out_cap > 0))
    return SC_ERR_INVALID;
  /* Checked first, so that the loop below only converts. */
  rc = sc_base64_validate (in, in_len);
  if (rc != SC_OK)
    return rc;
  if (in_len == 0)
    return SC_OK;
  if (p[in_len - 1] == '=')
    pad = p[in_len - 2] == '=' ? 2 : 1;
  n = in_len / 4 * 3 - pad;
  if (n > out_cap)
    return SC_ERR_BUFFER;

  for (i = 0, o = 0; i + 4 < in_len; i += 4, o += 3)
    {
      v = (uint32_t) char_value (p[i]) << 18 |
          (uint32_t) char_value (p[i + 1]) << 12 |
          (uint32_t) char_value (p[i + 2]) << 6 |
          (uint32_t) char_value (p[i + 3]);
      out[o] = (uint8_t) (v >> 16);
      out[o + 1] = (uint8_t) (v >> 8);
      out[o + 2] = (uint8_t) v;
    }
  /* The last group, which may be padded. */
  v = (uint32_t) char_value (p[i]) << 18 | (uint32_t) char_value (p[i + 1])
                                               << 12;
  if (pad < 2)
    v |= (uint32_t) char_value (p[i + 2]) << 6;
  if (pad < 1)
    v |= (uint32_t) char_value (p[i + 3]);
  out[o] = (uint8_t) (v >> 16);
  if (pad < 2)
    out[o + 1] = (uint8_t) (v >> 8);
  if (pad < 1)
    out[o + 2] = (uint8_t) v;
  *out_len = n;
  return SC_OK;
}
