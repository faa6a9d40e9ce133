/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Framing on the TCP stream: a 2-byte big-endian length, then that many
 * bytes (one Noise message). The length is checked against the limit before
 * anything is allocated or waited for. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SC_FRAME_HEADER_LEN 2
#define SC_FRAME_MAX        65535

/* Decodes a header: SC_ERR_PROTOCOL for a zero length, SC_ERR_TOO_LARGE
 * when the length exceeds max (max <= SC_FRAME_MAX). */
int sc_frame_header_parse (const uint8_t hdr[SC_FRAME_HEADER_LEN],
                           size_t max,
                           size_t *body_len);
/* SC_ERR_TOO_LARGE when len > SC_FRAME_MAX, SC_ERR_INVALID for 0. */
int sc_frame_header_write (size_t len, uint8_t hdr[SC_FRAME_HEADER_LEN]);

/* Finds the first complete frame in buf. Returns the number of bytes the
 * frame occupies (header + body) and points *body into buf; 0 when more
 * bytes are needed; a negative sc_error for a bad header. */
long sc_frame_next (const uint8_t *buf,
                    size_t len,
                    size_t max,
                    const uint8_t **body,
                    size_t *body_len);
