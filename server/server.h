/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `securechatd run`: the event loop, listener, signals and connections. */
#pragma once

#include "config.h"

/* Serves until SIGINT/SIGTERM. Loads DIR/server.key and
 * DIR/credentials.json. Returns the process exit status (0 after a clean
 * shutdown, 1 when it cannot start). */
int server_run (const char *data_dir, const struct config *cfg);
