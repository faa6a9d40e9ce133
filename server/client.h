/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One connection on the server: handshake, login, dispatch, limits and
 * teardown. A client is closed with client_close(); it is freed later, when
 * no callback or hashing job still refers to it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "securechat/msg.h"

struct server;
struct evbuffer;
struct event;
struct sc_channel;

/* One recv() per readable event reads at most this much: dozens of
 * frames, and the loop turns to the other connections in between. */
#define CLIENT_READ_MAX 65536
/* A connection that neither sent nor received a frame for a whole period
 * of this length sheds its cipher contexts and its empty output buffer:
 * an idle connection keeps only keys and counters. */
#define CLIENT_SHED_INTERVAL_MS 1000
/* Connections shed in one sweep after which the heap is trimmed. */
#define CLIENT_SHED_TRIM_MIN 256

enum client_state
{
  CLIENT_HANDSHAKE,      /* waiting for Noise message 1 */
  CLIENT_LOGIN,          /* channel up, waiting for "login" */
  CLIENT_AUTHENTICATING, /* hash job running; reading paused */
  CLIENT_READY,          /* logged in */
  CLIENT_CLOSING,        /* flushing a last message, then freed */
  CLIENT_DEAD,           /* closed; freed when refs drop to 0 */
};

struct client
{
  TAILQ_ENTRY (client) entry;
  TAILQ_ENTRY (client) pending_entry;  /* on srv->pending while pending */
  TAILQ_ENTRY (client) deferred_entry; /* on srv->deferred while deferred */
  struct server *srv;
  uint64_t id;
  unsigned refs;
  TAILQ_ENTRY (client) flush_entry; /* on srv->flushq while flushing */
  TAILQ_ENTRY (client) hot_entry;   /* on srv->hot while hot */
  int fd;
  struct event *rev;    /* readable; added while reading */
  struct event *wev;    /* writable; added only while the kernel is full */
  struct evbuffer *out; /* frames not yet written; NULL when shed */
  uint8_t *in;          /* bytes read, not yet handled: a partial frame, or
                           frames held back while reading is paused */
  size_t in_len;
  size_t in_cap;
  struct event *timer;  /* handshake deadline, then idle check */
  struct event *linger; /* bound on the final flush */
  struct event *resume; /* ends a pause of reading (client_pause_reading) */
  struct sc_channel *ch;
  enum client_state state;
  bool pending;    /* counted in the server's pending totals */
  bool over_limit; /* accepted over max_connections: server_full */
  bool replaced;   /* a newer session took over this user */
  bool zombie;     /* closed but referenced: on the server's zombies */
  bool checking;   /* counted in the server's checks_by_user */
  char addr[64];   /* source address, for logs */
  char source[64]; /* what per-address limits count: the IPv4 address,
                      or the /64 of an IPv6 one (client_source_key) */
  char user[33];   /* once logged in (or attempting) */
  int64_t last_rx_ms;

  /* message_rate: sends refused since the last log line about them, and
   * when that line was written (route.c). */
  uint64_t sends_refused;
  int64_t sends_refused_log_ms;
  bool read_paused;
  bool deferred; /* its handshake waits for a window (server.h) */
  bool reading;  /* rev is added */
  bool writing;  /* wev is added */
  bool flushing; /* on srv->flushq: output waits for the end of the pass */
  bool hot;      /* on srv->hot: holds cipher contexts and buffers */
  bool active;   /* a frame went either way since the last shed sweep */
};

/* The key per-address limits count a peer under: an IPv4 address as
 * is (also when mapped into IPv6), an IPv6 address by its /64, since one
 * host commonly holds a whole /64. */
void client_source_key (const struct sockaddr *sa, char *out, size_t cap);
/* Takes ownership of fd. */
int client_accept (struct server *srv,
                   int fd,
                   const struct sockaddr *sa,
                   int salen);
/* Encodes, encrypts and queues m. Returns 0, or -1 when nothing was
 * queued: the client is closing or closed (output over its cap, say, which
 * leaves it CLOSING and tears it down on the next loop pass, never from
 * inside the send), or m could not be encoded. */
int client_send_msg (struct client *c, const struct sc_msg *m);
/* The same for a message already written as JSON text (msg-fast.h). */
int client_send_text (struct client *c, const uint8_t *text, size_t len);
int client_send_error (struct client *c,
                       enum sc_code code,
                       const uint64_t *ref,
                       uint32_t retry_after);
/* Reads nothing more from a logged-in client for ms (at most
 * CLIENT_PAUSE_MAX_MS), frames already buffered included: a client over
 * its message rate waits in TCP instead of costing the loop a refusal per
 * frame. */
#define CLIENT_PAUSE_MAX_MS 250
void client_pause_reading (struct client *c, uint32_t ms);
/* Sends "bye" (when the channel is up) and closes after the flush. */
void client_bye (struct client *c, enum sc_code code, const char *reason);
/* Logs "disconnected reason=..." and tears the connection down; with
 * flush, queued output is written first (bounded in time). */
void client_close (struct client *c, const char *reason, bool flush);
void client_unref (struct client *c);
/* Opens a new handshake window and runs the waiting handshakes, oldest
 * first, as far as it allows; arms srv->handshake_timer for the rest. */
void client_run_deferred (struct server *srv);
/* Frees a closed client whatever its references (end of the process, after
 * the hashing pool has been stopped). */
void client_free_zombie (struct client *c);
/* Writes what every connection queued during this pass of the loop: one
 * writev per connection, however many frames it was sent (srv->flush_ev). */
void client_flush_all (struct server *srv);
/* Sheds the cipher contexts and empty buffers of connections idle for a
 * whole CLIENT_SHED_INTERVAL_MS (srv->shed_timer). */
void client_shed_idle (struct server *srv);
