/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The server's static X25519 key: DIR/server.key, PKCS#8 PEM, mode 0600. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define KEYFILE_NAME "server.key"

/* Generates a key and writes it with O_EXCL (never overwrites). */
int
keyfile_create (const char *path, uint8_t pub[32], char *err, size_t err_cap);
/* Loads the private key; refuses a file readable by group or others. */
int keyfile_load (const char *path,
                  uint8_t priv[32],
                  uint8_t pub[32],
                  char *err,
                  size_t err_cap);
