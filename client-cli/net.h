/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sockets for securechat-cli: address parsing, a connect with a deadline,
 * the monotonic clock. */
#pragma once

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define NET_DEFAULT_PORT "12345"
#define NET_HOST_MAX     253
#define NET_PORT_MAX     5
/* "[" host "]:" port */
#define NET_KEY_MAX (NET_HOST_MAX + 3 + NET_PORT_MAX)

enum
{
  NET_OK = 0,
  NET_FAILED = -1,      /* the message says why */
  NET_INTERRUPTED = -2, /* a signal arrived while waiting */
};

/* Splits "HOST:PORT", "[IPV6]:PORT" or "HOST" (port NET_DEFAULT_PORT).
 * host receives the name without brackets, port the decimal port (1..65535,
 * no leading zeros kept), key the canonical "host:port" (lower case, IPv6
 * literals in brackets) used to name the server in messages and in the
 * known-servers file. Returns 0, or -1 with a message in err. */
int net_parse_server (const char *s,
                      char host[NET_HOST_MAX + 1],
                      char port[NET_PORT_MAX + 1],
                      char key[NET_KEY_MAX + 1],
                      char *err,
                      size_t err_len);

/* Resolves host and connects a non-blocking TCP socket to the first
 * address that answers before deadline_ms (net_now_ms time). Waits with
 * wait_mask as the signal mask (see ppoll). On NET_FAILED err holds the
 * reason, e.g. strerror (ECONNREFUSED). */
int net_connect (const char *host,
                 const char *port,
                 int64_t deadline_ms,
                 const sigset_t *wait_mask,
                 int *fd_out,
                 char *err,
                 size_t err_len);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t net_now_ms (void);
