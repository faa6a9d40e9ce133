/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechatd limits and settings: defaults, then the config file
 * (DIR/securechatd.conf, or --config FILE), then command-line flags. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:12345"
#define CONFIG_FILE_NAME      "securechatd.conf"

struct config
{
  char listen[256];            /* HOST:PORT, [v6]:PORT */
  uint32_t max_frame;          /* bytes, 64..65535 */
  uint32_t handshake_timeout;  /* s: accept -> logged in, absolute */
  uint32_t idle_timeout;       /* s without a frame from a client */
  uint32_t output_buffer_max;  /* bytes queued to one client */
  uint32_t max_connections;    /* all connections */
  uint32_t max_pending;        /* connections not yet logged in */
  uint32_t max_pending_per_ip; /* the same, per source address */
  uint32_t hash_workers;       /* password-hashing threads */
  uint32_t hash_queue_max;     /* hash jobs waiting; beyond: server_busy */
  uint32_t auth_fail_limit;    /* failures before back-off starts */
  uint32_t auth_backoff_ms;    /* first back-off; doubles per failure */
  uint32_t auth_backoff_max_ms;
  uint32_t message_rate;  /* sends a second per user, after the burst */
  uint32_t message_burst; /* sends a user may make at once */
};

void config_defaults (struct config *cfg);
/* Reads "key = value" lines ('#' comments). A missing file is not an error
 * when optional is nonzero. On error, err receives one line naming the file,
 * line and problem, and -1 is returned. */
int config_load (const char *path,
                 int optional,
                 struct config *cfg,
                 char *err,
                 size_t err_cap);
/* The same parser over text already in memory (a file's contents); name
 * stands for the file in error messages. */
int config_parse (const char *name,
                  const char *text,
                  size_t len,
                  struct config *cfg,
                  char *err,
                  size_t err_cap);
/* Checks the settings against each other (auth_backoff_ms <=
 * auth_backoff_max_ms; output_buffer_max >= max_frame + 2). Call it once
 * every source has been applied. */
int config_validate (const struct config *cfg, char *err, size_t err_cap);
/* Sets one key from its text value (also used by the file parser). */
int config_set (struct config *cfg,
                const char *key,
                const char *value,
                char *err,
                size_t err_cap);
/* Splits "HOST:PORT" / "[V6]:PORT"; host_cap includes the NUL. */
int config_parse_hostport (const char *s,
                           char *host,
                           size_t host_cap,
                           uint16_t *port);
