/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Making untrusted text from the network safe to print. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum text_flags
{
  /* Also escape the Unicode bidirectional controls (U+200E, U+200F,
   * U+202A..U+202E, U+2066..U+2069), which can make a terminal line read
   * differently from its bytes. */
  TEXT_ESCAPE_BIDI = 1 << 0,
};

/* Escapes len bytes for printing on one line: a backslash becomes "\\",
 * a newline "\n", and every other control character (U+0000..U+001F,
 * U+007F, U+0080..U+009F) and every byte that is not part of valid UTF-8
 * becomes "\xNN" per byte (two lowercase hex digits). Valid UTF-8 is kept
 * as it is. Returns a malloc'd NUL-terminated string, NULL when out of
 * memory. */
char *text_escape (const uint8_t *data, size_t len, unsigned flags);

/* Length of the valid UTF-8 sequence at s[0..len), 0 if it is not one
 * (overlong forms, surrogates and values over U+10FFFF are invalid).
 * *cp receives the code point. */
size_t text_utf8_next (const uint8_t *s, size_t len, uint32_t *cp);
