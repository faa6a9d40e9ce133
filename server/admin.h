/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The securechatd command line: init, useradd, passwd, userdel, users,
 * fingerprint and run (the default). Exit status 0 on success, 1 on
 * failure, 2 on a usage error. */
#pragma once

#include <stddef.h>

#define ADMIN_EXIT_OK    0
#define ADMIN_EXIT_FAIL  1
#define ADMIN_EXIT_USAGE 2

#define ADMIN_DEFAULT_DATA_DIR "./securechat-data"

int admin_main (int argc, char **argv);

/* Reads one password line from fd (not a terminal): at most
 * SC_PASSWORD_MAX bytes plus "\n" or "\r\n", which are stripped. Returns
 * 0 and sets *len, or -1 with a message in err. */
int admin_read_password_line (
    int fd, char *buf, size_t cap, size_t *len, char *err, size_t err_cap);
/* Checks a password for useradd/passwd: non-empty, no NUL, valid UTF-8,
 * short enough for crypt(3). Returns 0, or -1 with a message in err. */
int
admin_check_password (const char *pw, size_t len, char *err, size_t err_cap);
