/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `securechatd run`: the event loop, listener, signals and the state shared
 * by the connection (client.c) and routing (route.c) modules. One thread
 * owns all of it; only auth.c's workers run elsewhere, and they touch only
 * their jobs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config.h"
#include "securechat/crypto.h"
#include "securechat/fingerprint.h"

struct event_base;
struct event;
struct evconnlistener;
struct client;
struct store;
struct auth_pool;
struct ratelimit;
struct ratelimit_buckets;
struct route;
struct strmap;
struct prekeys_service;

TAILQ_HEAD (client_list, client);

/* Noise handshakes the loop runs in one window of
 * SERVER_HANDSHAKE_WINDOW_MS (message 1 costs the server three X25519
 * operations); the others wait, oldest first, for the next window with
 * their reading paused. A burst of new connections then takes at most a
 * quarter of the loop's time, and relaying goes on in between, instead of
 * waiting for every handshake of the burst. 1,600 handshakes a second is
 * far more than the hashing pool can log in. */
#define SERVER_HANDSHAKES_PER_WINDOW 16
#define SERVER_HANDSHAKE_WINDOW_MS   10

struct server
{
  struct event_base *base;
  struct evconnlistener *listener;
  struct event *sig_int;
  struct event *sig_term;
  struct event *sig_hup;
  struct event *shutdown_timer;
  struct event *listener_retry; /* re-enables accept after EMFILE */

  struct config cfg;
  const char *data_dir;
  uint8_t static_priv[SC_X25519_LEN];
  uint8_t static_pub[SC_X25519_LEN];
  char fingerprint[SC_FINGERPRINT_LEN + 1];

  struct store *store;
  struct auth_pool *auth;
  struct ratelimit *fail_by_user;
  struct ratelimit *fail_by_addr;
  struct ratelimit_buckets *sends; /* user -> message_rate budget */
  struct route *route;
  struct strmap *pending_by_addr;  /* address -> (uintptr_t) count */
  struct strmap *checks_by_user;   /* user -> (uintptr_t) hash jobs running */
  struct prekeys_service *prekeys; /* DIR/prekeys and the fetch limits */

  struct client_list clients;
  struct client_list zombies;     /* closed, still referenced by a hash job */
  TAILQ_HEAD (, client) pending;  /* not logged in yet, oldest first */
  TAILQ_HEAD (, client) deferred; /* handshakes waiting for a window */
  TAILQ_HEAD (, client) flushq;   /* output queued during this pass */
  TAILQ_HEAD (, client) hot;      /* holding cipher contexts or buffers */
  struct event *flush_ev;         /* activated when flushq gets its first */
  bool flush_armed;
  struct event *shed_timer; /* runs client_shed_idle while hot */
  uint8_t *rbuf;            /* CLIENT_READ_MAX: one recv() */
  /* Both clocks, read once for all the frames of one read (client.c):
   * a frame's receipt, its message's timestamp, its message_rate. */
  int64_t frames_mono_ms;
  int64_t frames_wall_ms;
  struct event *handshake_timer; /* opens the next window */
  int64_t handshake_window_ms;   /* when the current window began */
  unsigned handshakes_left;      /* in the current window */
  struct client *resuming;       /* taken off deferred, running now */
  unsigned n_clients;
  unsigned n_pending; /* not yet logged in */
  uint64_t next_conn_id;
  uint64_t next_msg_id;
  bool shutting_down;

  uint8_t *scratch; /* one frame of plaintext, reused on the loop thread */
  /* The plaintext of a frame being written (a relayed message), beside
   * scratch, which still holds the frame it answers. */
  uint8_t *out_scratch;
};

/* Serves until SIGINT/SIGTERM. Loads DIR/server.key and
 * DIR/credentials.json. Returns the process exit status (0 after a clean
 * shutdown, 1 when it cannot start). */
int server_run (const char *data_dir, const struct config *cfg);

/* Wall-clock milliseconds since the Unix epoch (message timestamps). */
int64_t server_now_ms (void);
/* Monotonic milliseconds (deadlines, back-off). */
int64_t server_mono_ms (void);

/* Re-reads credentials.json when it changed since it was last read (a
 * stat otherwise), so that answers follow accounts added or deleted while
 * the server runs; a file that does not load is logged and the previous
 * users stay. */
void server_refresh_users (struct server *srv);

/* Called by client.c when a connection is gone, to drop its bookkeeping
 * and end the shutdown once the last one has left. */
void server_client_gone (struct server *srv, struct client *c);
