/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one human-checkable form of a server key, used by every program:
 * "SHA256:" followed by the unpadded standard base64 of SHA-256 over the
 * 32-byte X25519 public key (43 characters), as OpenSSH prints its keys. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "securechat/crypto.h"

#define SC_FINGERPRINT_PREFIX "SHA256:"
#define SC_FINGERPRINT_LEN    (7 + 43)

int sc_fingerprint (const uint8_t pub[SC_X25519_LEN],
                    char out[SC_FINGERPRINT_LEN + 1]);
/* Checks that s is a well-formed fingerprint (SC_ERR_INVALID otherwise). */
int sc_fingerprint_validate (const char *s);
/* Constant-time comparison of two fingerprints: 1 equal, 0 not. */
int sc_fingerprint_equal (const char *a, const char *b);
