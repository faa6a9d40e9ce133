/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "securechat/fingerprint.h"

#include <string.h>

#include "securechat/base64.h"
#include "securechat/error.h"

#define PREFIX_LEN (sizeof SC_FINGERPRINT_PREFIX - 1)
#define B64_LEN    (SC_FINGERPRINT_LEN - PREFIX_LEN) /* 43: 44 minus the '=' */

_Static_assert(SC_BASE64_ENCODED_LEN (SC_SHA256_LEN) == B64_LEN + 1,
               "a SHA-256 digest is 43 base64 characters plus one '='");

int
sc_fingerprint (const uint8_t pub[SC_X25519_LEN],
                char out[SC_FINGERPRINT_LEN + 1])
{
  uint8_t digest[SC_SHA256_LEN];
  char b64[SC_BASE64_ENCODED_LEN (SC_SHA256_LEN) + 1];
  int rc;

  if (out == NULL)
    return SC_ERR_INVALID;
  out[0] = '\0';
  if (pub == NULL)
    return SC_ERR_INVALID;

  rc = sc_sha256 (pub, SC_X25519_LEN, digest);
  if (rc != SC_OK)
    return rc;
  rc = sc_base64_encode (digest, sizeof digest, b64, sizeof b64);
  if (rc != SC_OK)
    return rc;

  memcpy (out, SC_FINGERPRINT_PREFIX, PREFIX_LEN);
  memcpy (out + PREFIX_LEN, b64, B64_LEN);
  out[SC_FINGERPRINT_LEN] = '\0';
  return SC_OK;
}

int
sc_fingerprint_validate (const char *s)
{
  char b64[B64_LEN + 1];

  if (s == NULL)
    return SC_ERR_INVALID;
  if (strnlen (s, SC_FINGERPRINT_LEN + 1) != SC_FINGERPRINT_LEN)
    return SC_ERR_INVALID;
  if (memcmp (s, SC_FINGERPRINT_PREFIX, PREFIX_LEN) != 0)
    return SC_ERR_INVALID;

  /* Put the padding back and let the strict decoder check the alphabet and
   * that the two bits left over in the last character are zero. */
  memcpy (b64, s + PREFIX_LEN, B64_LEN);
  b64[B64_LEN] = '=';
  if (sc_base64_validate (b64, sizeof b64) != SC_OK)
    return SC_ERR_INVALID;
  return SC_OK;
}

int
sc_fingerprint_equal (const char *a, const char *b)
{
  if (sc_fingerprint_validate (a) != SC_OK ||
      sc_fingerprint_validate (b) != SC_OK)
    return 0;
  return sc_memeq (a, b, SC_FINGERPRINT_LEN);
}
