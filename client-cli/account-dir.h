/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Where a client keeps one account's files (identity keys, sessions,
 * history): shared by securechat-cli and the GTK client so that both
 * use the same keys for the same account. */
#pragma once

/* $XDG_DATA_HOME/securechat/HOST_PORT/USER (malloc'd), or
 * $HOME/.local/share/securechat/... when XDG_DATA_HOME is unset or not
 * absolute. server_key is the canonical "host:port" of net_parse_server,
 * made a folder name: [a-z0-9.-] kept (capitals lowered), anything else
 * '_'. NULL when there is no home to put it in. */
char *account_dir_path (const char *server_key, const char *user);
