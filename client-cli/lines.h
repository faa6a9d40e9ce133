/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Splitting a file descriptor's bytes into lines, with a bound on the
 * length of one line. The descriptor is left as it is (blocking or not):
 * lines_fill reads once, so call it when poll says it is readable. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct lines;

enum lines_result
{
  LINES_NONE = 0,     /* no complete line buffered */
  LINES_LINE = 1,     /* *line / *len hold one line (no "\n", no "\r") */
  LINES_TOO_LONG = 2, /* a line over the limit was dropped */
  LINES_EOF = 3,      /* end of input and nothing buffered */
};

/* max is the longest line accepted, in bytes without the newline. */
struct lines *lines_new (int fd, size_t max);
/* Wipes the buffer (it may have held a password). */
void lines_free (struct lines *l);

/* One read(2): >0 bytes read, 0 at end of input, -1 with errno. */
long lines_fill (struct lines *l);
/* The next line, valid until the next call on l. A last line without a
 * newline is returned at end of input. */
enum lines_result lines_next (struct lines *l, char **line, size_t *len);
/* True when lines_next would return something other than LINES_NONE
 * without reading. */
bool lines_ready (const struct lines *l);
bool lines_eof (const struct lines *l);
