/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechat-cli: command line, modes (interactive, send, recv) and the
 * connection loop around the sans-I/O sc_client. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net.h"
#include "securechat/fingerprint.h"

/* Exit statuses; scripts depend on them (listed in --help). */
enum cli_exit
{
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILURE = 1,
  CLI_EXIT_USAGE = 2,
  CLI_EXIT_CONNECT = 3,     /* cannot connect, or connection lost */
  CLI_EXIT_AUTH = 4,        /* authentication failed or rate limited */
  CLI_EXIT_KEY = 5,         /* server key mismatch */
  CLI_EXIT_UNDELIVERED = 6, /* send: message not delivered */
  CLI_EXIT_TIMEOUT = 7,     /* recv: timeout */
};

enum cli_mode
{
  CLI_MODE_INTERACTIVE,
  CLI_MODE_SEND,
  CLI_MODE_RECV,
  CLI_MODE_VERIFY, /* verify NAME [confirm]: the safety number */
  CLI_MODE_ACCEPT, /* accept NAME: trust a changed identity key */
};

#define CLI_DEFAULT_CONNECT_TIMEOUT_MS 10000

struct cli_options
{
  bool help;
  bool version;
  const char *server; /* as given */
  char host[NET_HOST_MAX + 1];
  char port[NET_PORT_MAX + 1];
  char key[NET_KEY_MAX + 1]; /* canonical "host:port" */
  const char *user;
  const char *password_file;
  char fingerprint[SC_FINGERPRINT_LEN + 1]; /* "" unless --fingerprint */
  int64_t connect_timeout_ms;
  enum cli_mode mode;
  const char *to;   /* send; verify and accept: NAME */
  bool confirm;     /* verify NAME confirm */
  const char *text; /* send */
  size_t text_len;
  uint64_t count;     /* recv; 0: no limit */
  int64_t timeout_ms; /* recv; 0: none */
};

/* Parses argv into o. Returns 0, or -1 with a one-line message in err
 * (a usage error). --help and --version stop the parsing. */
int cli_parse_args (
    int argc, char **argv, struct cli_options *o, char *err, size_t err_len);
void cli_usage (FILE *out);

/* The whole program; returns the exit status. */
int cli_main (int argc, char **argv);
