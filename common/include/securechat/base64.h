/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Standard base64 (RFC 4648 section 4, with padding). Decoding is strict:
 * canonical encodings only, no whitespace. Not for secrets (table-based). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SC_BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes SC_BASE64_ENCODED_LEN(len) characters and a NUL into out. */
int sc_base64_encode (const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Decodes exactly in_len characters; SC_ERR_BASE64 when not canonical. */
int sc_base64_decode (const char *in,
                      size_t in_len,
                      uint8_t *out,
                      size_t out_cap,
                      size_t *out_len);
/* Same checks as decode, without output. */
int sc_base64_validate (const char *in, size_t in_len);
