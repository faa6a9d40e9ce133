/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "securechat/frame.h"

#include "securechat/error.h"

int
sc_frame_header_parse (const uint8_t hdr[SC_FRAME_HEADER_LEN],
                       size_t max,
                       size_t *body_len)
{
  size_t n;

  if (body_len == NULL)
    return SC_ERR_INVALID;
  *body_len = 0;
  if (hdr == NULL || max > SC_FRAME_MAX)
    return SC_ERR_INVALID;

  n = ((size_t) hdr[0] << 8) | hdr[1];
  if (n == 0)
    return SC_ERR_PROTOCOL;
  if (n > max)
    return SC_ERR_TOO_LARGE;
  *body_len = n;
  return SC_OK;
}

int
sc_frame_header_write (size_t len, uint8_t hdr[SC_FRAME_HEADER_LEN])
{
  if (hdr == NULL || len == 0)
    return SC_ERR_INVALID;
  if (len > SC_FRAME_MAX)
    return SC_ERR_TOO_LARGE;
  hdr[0] = (uint8_t) (len >> 8);
  hdr[1] = (uint8_t) (len & 0xff);
  return SC_OK;
}

long
sc_frame_next (const uint8_t *buf,
               size_t len,
               size_t max,
               const uint8_t **body,
               size_t *body_len)
{
  size_t n;
  int rc;

  if (body == NULL || body_len == NULL)
    return SC_ERR_INVALID;
  *body = NULL;
  *body_len = 0;
  if ((buf == NULL && len > 0) || max > SC_FRAME_MAX)
    return SC_ERR_INVALID;

  if (len < SC_FRAME_HEADER_LEN)
    return 0;
  rc = sc_frame_header_parse (buf, max, &n);
  if (rc != SC_OK)
    return rc;
  /* n <= SC_FRAME_MAX, so neither the comparison nor the sum can wrap. */
  if (len - SC_FRAME_HEADER_LEN < n)
    return 0;

  *body = buf + SC_FRAME_HEADER_LEN;
  *body_len = n;
  return (long) (SC_FRAME_HEADER_LEN + n);
}
