/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The frame decoder (common/frame.c) on a byte stream from the network.
 *
 * Input: one byte choosing the frame limit, then the stream. The stream is
 * decoded twice, whole and in small pieces through a buffer the way the
 * client and the server receive it; both must find the same frames, each
 * inside the input, within the limit and with a header that re-encodes to
 * the bytes it came from. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/error.h"
#include "securechat/frame.h"

#define MAX_FRAMES 4096

struct frame
{
  size_t off; /* of the body in the stream */
  size_t len;
};

/* Frames of the whole stream; returns their number, *end_rc the result of
 * the call that stopped (0: more bytes needed). */
static size_t
decode_whole (
    const uint8_t *s, size_t len, size_t max, struct frame *out, long *end_rc)
{
  size_t off = 0, n = 0;

  for (;;)
    {
      const uint8_t *body = NULL;
      size_t body_len = 99;
      size_t hdr_len = 0;
      long rc = sc_frame_next (s + off, len - off, max, &body, &body_len);

      if (rc <= 0)
        {
          FUZZ_CHECK (body == NULL && body_len == 0);
          if (rc < 0)
            {
              /* Only a bad header stops the decoder. */
              FUZZ_CHECK (len - off >= SC_FRAME_HEADER_LEN);
              FUZZ_CHECK (sc_frame_header_parse (s + off, max, &hdr_len) ==
                          (int) rc);
              FUZZ_CHECK (rc == SC_ERR_PROTOCOL || rc == SC_ERR_TOO_LARGE);
            }
          else if (len - off >= SC_FRAME_HEADER_LEN)
            {
              FUZZ_CHECK (sc_frame_header_parse (s + off, max, &hdr_len) ==
                          SC_OK);
              FUZZ_CHECK (hdr_len > len - off - SC_FRAME_HEADER_LEN);
            }
          *end_rc = rc;
          return n;
        }
      FUZZ_CHECK ((size_t) rc <= len - off);
      FUZZ_CHECK (body == s + off + SC_FRAME_HEADER_LEN);
      FUZZ_CHECK (body_len >= 1 && body_len <= max);
      FUZZ_CHECK ((size_t) rc == SC_FRAME_HEADER_LEN + body_len);
      {
        uint8_t hdr[SC_FRAME_HEADER_LEN];

        FUZZ_CHECK (sc_frame_header_write (body_len, hdr) == SC_OK);
        FUZZ_CHECK (memcmp (hdr, s + off, SC_FRAME_HEADER_LEN) == 0);
      }
      if (n < MAX_FRAMES)
        {
          out[n].off = (size_t) (body - s);
          out[n].len = body_len;
        }
      n++;
      off += (size_t) rc;
    }
}

/* The same stream fed in pieces of `piece` bytes into a buffer that holds
 * at most one frame, as sc_client_recv does. */
static void
decode_pieces (const uint8_t *s,
               size_t len,
               size_t max,
               size_t piece,
               const struct frame *want,
               size_t n_want,
               long want_rc)
{
  static uint8_t buf[SC_FRAME_HEADER_LEN + SC_FRAME_MAX];
  size_t have = 0, fed = 0, n = 0, consumed = 0;
  long rc = 0;

  while (fed < len)
    {
      size_t k = len - fed < piece ? len - fed : piece;
      size_t room = SC_FRAME_HEADER_LEN + SC_FRAME_MAX - have;
      size_t off = 0;

      if (k > room)
        k = room;
      memcpy (buf + have, s + fed, k);
      have += k;
      fed += k;
      for (;;)
        {
          const uint8_t *body = NULL;
          size_t body_len = 0;

          rc = sc_frame_next (buf + off, have - off, max, &body, &body_len);
          if (rc <= 0)
            break;
          if (n < MAX_FRAMES && n < n_want)
            {
              FUZZ_CHECK (want[n].len == body_len);
              FUZZ_CHECK (memcmp (s + want[n].off, body, body_len) == 0);
              FUZZ_CHECK (want[n].off == consumed + off + SC_FRAME_HEADER_LEN);
            }
          n++;
          off += (size_t) rc;
        }
      if (off > 0)
        {
          memmove (buf, buf + off, have - off);
          have -= off;
          consumed += off;
        }
      if (rc < 0)
        break;
    }
  FUZZ_CHECK (n == n_want);
  FUZZ_CHECK (rc == want_rc);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct frame frames[MAX_FRAMES];
  size_t max, n;
  long end_rc = 0;

  if (size < 1)
    return 0;
  /* 0xff: the protocol's limit; otherwise a server's smaller max_frame. */
  max = data[0] == 0xff ? SC_FRAME_MAX : 1 + (size_t) data[0] * 257;
  n = decode_whole (data + 1, size - 1, max, frames, &end_rc);
  decode_pieces (data + 1, size - 1, max, 1 + data[0] % 7, frames, n, end_rc);
  return 0;
}

/* ---- seeds ---- */

static void
add_frame (struct fuzz_buf *b, const char *body, size_t len)
{
  uint8_t hdr[SC_FRAME_HEADER_LEN];

  if (sc_frame_header_write (len, hdr) != SC_OK)
    fuzz_fail ("bad frame length %zu", len);
  fuzz_buf_put (b, hdr, sizeof hdr);
  fuzz_buf_put (b, body, len);
}

void
fuzz_generate (void)
{
  struct fuzz_buf b = { 0 };
  char *big = malloc (SC_FRAME_MAX);

  if (big == NULL)
    fuzz_fail ("out of memory");
  memset (big, 'x', SC_FRAME_MAX);

  fuzz_buf_u8 (&b, 0xff);
  add_frame (&b, "{\"type\":\"ping\"}", 15);
  fuzz_buf_emit (&b, "one-frame");

  fuzz_buf_u8 (&b, 0xff);
  add_frame (&b, "a", 1);
  add_frame (&b, "{\"type\":\"who\"}", 14);
  add_frame (&b, big, 300);
  fuzz_buf_put (&b,
                "\x00\x05"
                "ab",
                4); /* the start of a fourth */
  fuzz_buf_emit (&b, "three-frames-and-a-half");

  fuzz_buf_u8 (&b, 0xff);
  add_frame (&b, big, SC_FRAME_MAX);
  fuzz_buf_emit (&b, "largest-frame");

  fuzz_buf_u8 (&b, 0); /* limit 1 */
  add_frame (&b, "a", 1);
  add_frame (&b, "ab", 2);
  fuzz_buf_emit (&b, "over-small-limit");

  fuzz_buf_u8 (&b, 3); /* limit 772 */
  add_frame (&b, big, 772);
  add_frame (&b, big, 773);
  fuzz_buf_emit (&b, "over-limit-by-one");

  fuzz_buf_u8 (&b, 0xff);
  add_frame (&b, "a", 1);
  fuzz_buf_put (&b, "\x00\x00", 2);
  fuzz_buf_emit (&b, "zero-length");

  fuzz_buf_u8 (&b, 0xff);
  fuzz_buf_put (&b, "\xff", 1);
  fuzz_buf_emit (&b, "half-header");

  fuzz_buf_u8 (&b, 0xff);
  fuzz_buf_put (&b, "\xff\xff", 2);
  fuzz_buf_put (&b, big, 1000);
  fuzz_buf_emit (&b, "truncated-body");

  fuzz_buf_free (&b);
  free (big);
}
