/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Where securechat-cli gets the password from: a file, a line of standard
 * input, or the terminal with echo off. Each returns 0 or a negative errno:
 * -EMSGSIZE when the line does not fit in cap - 1 bytes, -ENODATA at end of
 * input before any line. buf receives a NUL-terminated line without its
 * "\n" (or "\r\n"); the caller wipes it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lines.h"

/* Asks on stderr and reads from the terminal fd with echo off. The
 * terminal settings are restored on every path: if a signal arrives, they
 * are restored before the signal takes its usual effect (and after a
 * stop and continue, the prompt is asked again). */
int prompt_password_tty (
    int fd, const char *prompt, char *buf, size_t cap, size_t *len);

/* The first line of path. *loose is set when the file is readable by its
 * group or by others. */
int prompt_password_file (
    const char *path, char *buf, size_t cap, size_t *len, bool *loose);

/* The next line from l, reading (blocking) as needed. */
int prompt_password_lines (struct lines *l, char *buf, size_t cap, size_t *len);
