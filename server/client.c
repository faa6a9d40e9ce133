/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif

#include "auth.h"
#include "log.h"
#include "prekeys.h"
#include "ratelimit.h"
#include "route.h"
#include "server.h"
#include "store.h"
#include "strmap.h"

#include "securechat/channel.h"
#include "securechat/error.h"
#include "securechat/frame.h"

/* How long a closing connection may take to drain its last message. */
#define LINGER_SECONDS 5
/* Retry hint for "server_busy". */
#define BUSY_RETRY_MS 1000

static void read_cb (evutil_socket_t fd, short what, void *ud);
static void write_cb (evutil_socket_t fd, short what, void *ud);
static void timer_cb (evutil_socket_t fd, short what, void *ud);
static void linger_cb (evutil_socket_t fd, short what, void *ud);
static void resume_cb (evutil_socket_t fd, short what, void *ud);
static void process_input (struct client *c);
static void client_ref (struct client *c);

/* A socket error that only means "not now". */
static bool
retriable (int e)
{
  return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static const char *
who (const struct client *c)
{
  return c->user[0] != '\0' ? c->user : "-";
}

static void
pending_adjust (struct server *srv, const char *addr, int delta)
{
  uintptr_t n = (uintptr_t) strmap_get (srv->pending_by_addr, addr);

  if (delta > 0)
    {
      /* Allocation failure only loses the per-address count, never the
       * connection bookkeeping; the global cap still holds. */
      if (strmap_set (srv->pending_by_addr, addr, (void *) (n + 1)) != 0)
        log_warn ("pending count for %s not recorded: out of memory", addr);
      srv->n_pending++;
      return;
    }
  if (n <= 1)
    strmap_remove (srv->pending_by_addr, addr);
  else
    strmap_set (srv->pending_by_addr, addr, (void *) (n - 1));
  srv->n_pending--;
}

/* Password checks running for c->user, counted while c waits for one. */
static void
checking_start (struct client *c)
{
  uintptr_t n = (uintptr_t) strmap_get (c->srv->checks_by_user, c->user);

  if (strmap_set (c->srv->checks_by_user, c->user, (void *) (n + 1)) != 0)
    log_warn ("running checks for user=%s not recorded: out of memory",
              c->user);
  else
    c->checking = true;
}

static void
checking_done (struct client *c)
{
  uintptr_t n;

  if (!c->checking)
    return;
  c->checking = false;
  n = (uintptr_t) strmap_get (c->srv->checks_by_user, c->user);
  if (n <= 1)
    strmap_remove (c->srv->checks_by_user, c->user);
  else
    strmap_set (c->srv->checks_by_user, c->user, (void *) (n - 1));
}

static void
pending_done (struct client *c)
{
  if (!c->pending)
    return;
  c->pending = false;
  TAILQ_REMOVE (&c->srv->pending, c, pending_entry);
  pending_adjust (c->srv, c->source, -1);
}

/* max_pending is reached and a connection from source (holding per_addr
 * pending ones) arrives. Refusing it would let a flood from a handful of
 * addresses, each under max_pending_per_ip, keep out everyone else until
 * its connections time out, and then take the freed places again. So when
 * some address holds at least as many pending connections as source would
 * with this one, one of that address's connections makes room: its oldest
 * one that has not finished the handshake, or else its oldest one waiting
 * for "login", which is told server_busy first. Connections whose password
 * is being checked are never evicted. Returns whether a place was freed. */
static bool
pending_evict (struct server *srv, const char *source, uintptr_t per_addr)
{
  uintptr_t most = 0;
  size_t pos = 0;
  const char *key;
  void *value;
  struct client *c, *victim = NULL;

  while (strmap_next (srv->pending_by_addr, &pos, &key, &value))
    if ((uintptr_t) value > most)
      most = (uintptr_t) value;
  if (per_addr + 1 > most)
    return false;
  TAILQ_FOREACH (c, &srv->pending, pending_entry)
  {
    if (c->state != CLIENT_HANDSHAKE && c->state != CLIENT_LOGIN)
      continue;
    if ((uintptr_t) strmap_get (srv->pending_by_addr, c->source) != most)
      continue;
    if (victim == NULL || c->state == CLIENT_HANDSHAKE)
      victim = c;
    if (c->state == CLIENT_HANDSHAKE)
      break;
  }
  if (victim == NULL)
    return false;
  log_warn ("conn %" PRIu64 " from %s makes room for a connection from %s: "
            "max_pending reached pending=%u from-that-address=%" PRIuPTR,
            victim->id, victim->addr, source, srv->n_pending, most);
  /* Its place is free at once, whether or not its last words need a
   * flush. */
  pending_done (victim);
  if (victim->state == CLIENT_LOGIN &&
      client_send_error (victim, SC_CODE_SERVER_BUSY, NULL, BUSY_RETRY_MS) == 0)
    client_close (victim, "pending-evicted", true);
  else
    client_close (victim, "pending-evicted", false);
  return true;
}

static void
client_free (struct client *c)
{
  if (c->zombie)
    TAILQ_REMOVE (&c->srv->zombies, c, entry);
  if (c->timer != NULL)
    event_free (c->timer);
  if (c->linger != NULL)
    event_free (c->linger);
  if (c->resume != NULL)
    event_free (c->resume);
  if (c->rev != NULL)
    event_free (c->rev);
  if (c->wev != NULL)
    event_free (c->wev);
  if (c->out != NULL)
    evbuffer_free (c->out);
  free (c->in);
  if (c->fd >= 0)
    close (c->fd);
  sc_channel_free (c->ch);
  free (c);
}

/* ---- reading and writing ------------------------------------------------ */

static void
reading_on (struct client *c)
{
  if (!c->reading && event_add (c->rev, NULL) == 0)
    c->reading = true;
}

static void
reading_off (struct client *c)
{
  if (c->reading)
    {
      event_del (c->rev);
      c->reading = false;
    }
}

static void
shed_timer_arm (struct server *srv)
{
  struct timeval tv = { CLIENT_SHED_INTERVAL_MS / 1000,
                        (CLIENT_SHED_INTERVAL_MS % 1000) * 1000 };

  evtimer_add (srv->shed_timer, &tv);
}

/* A frame went to or came from c: it keeps its contexts and buffers until
 * it has been quiet for a whole shed period. */
static void
mark_active (struct client *c)
{
  struct server *srv = c->srv;

  c->active = true;
  if (c->hot)
    return;
  c->hot = true;
  TAILQ_INSERT_TAIL (&srv->hot, c, hot_entry);
  if (!evtimer_pending (srv->shed_timer, NULL))
    shed_timer_arm (srv);
}

void
client_shed_idle (struct server *srv)
{
  struct client *c, *next;
  unsigned shed = 0;

  for (c = TAILQ_FIRST (&srv->hot); c != NULL; c = next)
    {
      next = TAILQ_NEXT (c, hot_entry);
      if (c->active)
        {
          c->active = false;
          continue;
        }
      TAILQ_REMOVE (&srv->hot, c, hot_entry);
      c->hot = false;
      shed++;
      sc_channel_shed (c->ch);
      if (c->out != NULL && evbuffer_get_length (c->out) == 0)
        {
          evbuffer_free (c->out);
          c->out = NULL;
        }
    }
#ifdef __GLIBC__
  /* Contexts and buffers freed by many connections at once (after a burst
   * of logins or of traffic) lie between live allocations, where malloc
   * keeps them: give their pages back to the system. At most once per
   * sweep; on a heap shaped like this one (40,000 freed 1.2 KiB blocks
   * between live small ones) it took 0.02 ms. */
  if (shed >= CLIENT_SHED_TRIM_MIN)
    malloc_trim (0);
#endif
  if (!TAILQ_EMPTY (&srv->hot))
    shed_timer_arm (srv);
}

/* Output is written at the end of the loop's pass (client_flush_all), so
 * that every frame queued for c in one pass leaves in one writev. */
static void
schedule_flush (struct client *c)
{
  struct server *srv = c->srv;

  if (c->flushing)
    return;
  c->flushing = true;
  TAILQ_INSERT_TAIL (&srv->flushq, c, flush_entry);
  if (!srv->flush_armed)
    {
      srv->flush_armed = true;
      event_active (srv->flush_ev, EV_TIMEOUT, 1);
    }
}

static void
unschedule_flush (struct client *c)
{
  if (c->flushing)
    {
      TAILQ_REMOVE (&c->srv->flushq, c, flush_entry);
      c->flushing = false;
    }
  if (c->writing)
    {
      event_del (c->wev);
      c->writing = false;
    }
}

static void finalize (struct client *c);

/* Writes as much of c's output as the kernel takes; waits for writability
 * for the rest. A CLOSING client is finalized once all is written. */
static void
client_flush (struct client *c)
{
  char reason[128];

  if (c->state == CLIENT_DEAD)
    return;
  while (c->out != NULL && evbuffer_get_length (c->out) > 0)
    {
      int n = evbuffer_write (c->out, c->fd);
      int e;

      if (n > 0)
        continue;
      e = errno;
      if (n < 0 && retriable (e))
        break;
      snprintf (reason, sizeof (reason), "io-error (%s)",
                n == 0 ? "nothing written" : evutil_socket_error_to_string (e));
      client_close (c, reason, false);
      return;
    }
  if (c->out != NULL && evbuffer_get_length (c->out) > 0)
    {
      if (c->wev == NULL)
        c->wev =
            event_new (c->srv->base, c->fd, EV_WRITE | EV_PERSIST, write_cb, c);
      if (c->wev == NULL)
        {
          client_close (c, "out-of-memory", false);
          return;
        }
      if (!c->writing && event_add (c->wev, NULL) == 0)
        c->writing = true;
      return;
    }
  if (c->writing)
    {
      event_del (c->wev);
      c->writing = false;
    }
  if (c->state == CLIENT_CLOSING)
    finalize (c);
}

void
client_flush_all (struct server *srv)
{
  struct client *c;

  srv->flush_armed = false;
  /* A close while flushing may queue presence for others: they are
   * appended and written in this same loop. */
  while ((c = TAILQ_FIRST (&srv->flushq)) != NULL)
    {
      TAILQ_REMOVE (&srv->flushq, c, flush_entry);
      c->flushing = false;
      client_ref (c);
      client_flush (c);
      client_unref (c);
    }
}

/* Queues bytes already framed (handshake message 2). */
static int
queue_raw (struct client *c, const uint8_t *data, size_t len)
{
  if (c->out == NULL && (c->out = evbuffer_new ()) == NULL)
    return -1;
  if (evbuffer_add (c->out, data, len) != 0)
    return -1;
  mark_active (c);
  schedule_flush (c);
  return 0;
}

static void
client_ref (struct client *c)
{
  c->refs++;
}

void
client_unref (struct client *c)
{
  if (--c->refs == 0)
    client_free (c);
}

static void
format_addr (const struct sockaddr *sa, char *out, size_t cap)
{
  const void *raw = NULL;

  if (sa->sa_family == AF_INET)
    raw = &((const struct sockaddr_in *) (const void *) sa)->sin_addr;
  else if (sa->sa_family == AF_INET6)
    raw = &((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr;
  if (raw == NULL ||
      inet_ntop (sa->sa_family, raw, out, (socklen_t) cap) == NULL)
    snprintf (out, cap, "unknown");
}

void
client_source_key (const struct sockaddr *sa, char *out, size_t cap)
{
  char text[INET6_ADDRSTRLEN];

  if (sa->sa_family == AF_INET6)
    {
      struct in6_addr a =
          ((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr;

      if (IN6_IS_ADDR_V4MAPPED (&a))
        {
          if (inet_ntop (AF_INET, &a.s6_addr[12], text, sizeof text) != NULL)
            {
              snprintf (out, cap, "%s", text);
              return;
            }
        }
      else
        {
          memset (&a.s6_addr[8], 0, 8);
          if (inet_ntop (AF_INET6, &a, text, sizeof text) != NULL)
            {
              snprintf (out, cap, "%s/64", text);
              return;
            }
        }
      snprintf (out, cap, "unknown");
      return;
    }
  format_addr (sa, out, cap);
}

int
client_accept (struct server *srv, int fd, const struct sockaddr *sa, int salen)
{
  const struct config *cfg = &srv->cfg;
  struct client *c;
  char addr[64], source[64];
  uintptr_t per_addr;
  int one = 1;
  struct timeval tv;

  (void) salen;
  format_addr (sa, addr, sizeof (addr));
  client_source_key (sa, source, sizeof (source));
  per_addr = (uintptr_t) strmap_get (srv->pending_by_addr, source);
  if (per_addr < cfg->max_pending_per_ip && srv->n_pending >= cfg->max_pending)
    (void) pending_evict (srv, source, per_addr);
  if (srv->n_pending >= cfg->max_pending || per_addr >= cfg->max_pending_per_ip)
    {
      log_warn ("connection from %s refused reason=too-many-pending "
                "pending=%u from-this-address=%" PRIuPTR,
                addr, srv->n_pending, per_addr);
      close (fd);
      return -1;
    }

  c = calloc (1, sizeof (*c));
  if (c == NULL)
    {
      log_error ("connection from %s refused reason=out-of-memory", addr);
      close (fd);
      return -1;
    }
  c->srv = srv;
  c->fd = fd;
  c->refs = 1;
  c->id = ++srv->next_conn_id;
  c->state = CLIENT_HANDSHAKE;
  snprintf (c->addr, sizeof (c->addr), "%s", addr);
  snprintf (c->source, sizeof (c->source), "%s", source);
  c->last_rx_ms = server_mono_ms ();
  c->over_limit = srv->n_clients >= cfg->max_connections;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  if (evutil_make_socket_nonblocking (fd) != 0)
    goto fail;
  c->rev = event_new (srv->base, fd, EV_READ | EV_PERSIST, read_cb, c);
  c->timer = evtimer_new (srv->base, timer_cb, c);
  /* Made now, so that a close from inside a send never needs memory. */
  c->linger = evtimer_new (srv->base, linger_cb, c);
  /* The Noise state (an X25519 operation to set up) waits for the first
   * frame: a connection that never sends one costs no crypto. */
  if (c->rev == NULL || c->timer == NULL || c->linger == NULL)
    goto fail;
  reading_on (c);
  if (!c->reading)
    goto fail;

  /* An absolute deadline for handshake + login: read timeouts restart on
   * every byte, so they cannot stop a client that dribbles. */
  tv.tv_sec = cfg->handshake_timeout;
  tv.tv_usec = 0;
  evtimer_add (c->timer, &tv);

  c->pending = true;
  TAILQ_INSERT_TAIL (&srv->pending, c, pending_entry);
  pending_adjust (srv, c->source, +1);
  TAILQ_INSERT_TAIL (&srv->clients, c, entry);
  srv->n_clients++;
  log_debug ("conn %" PRIu64 " accepted from %s", c->id, c->addr);
  return 0;

fail:
  log_error ("connection from %s refused reason=out-of-memory", addr);
  client_free (c);
  return -1;
}

static void
finalize (struct client *c)
{
  struct server *srv = c->srv;

  if (c->state == CLIENT_DEAD)
    return;
  if (c->state == CLIENT_READY || c->state == CLIENT_CLOSING)
    route_logout (srv, c);
  c->state = CLIENT_DEAD;
  pending_done (c);
  if (c->deferred)
    {
      TAILQ_REMOVE (&srv->deferred, c, deferred_entry);
      c->deferred = false;
    }
  if (c->timer != NULL)
    evtimer_del (c->timer);
  if (c->linger != NULL)
    evtimer_del (c->linger);
  if (c->resume != NULL)
    evtimer_del (c->resume);
  reading_off (c);
  unschedule_flush (c);
  if (c->hot)
    {
      TAILQ_REMOVE (&srv->hot, c, hot_entry);
      c->hot = false;
    }
  TAILQ_REMOVE (&srv->clients, c, entry);
  if (c->refs > 1)
    {
      c->zombie = true;
      TAILQ_INSERT_TAIL (&srv->zombies, c, entry);
    }
  server_client_gone (srv, c);
  client_unref (c);
}

void
client_free_zombie (struct client *c)
{
  client_free (c);
}

static void
log_close (const struct client *c, const char *reason)
{
  if (c->user[0] != '\0' && c->state != CLIENT_LOGIN &&
      c->state != CLIENT_AUTHENTICATING)
    log_info ("conn %" PRIu64 " user=%s disconnected reason=%s", c->id, c->user,
              reason);
  else
    log_info ("conn %" PRIu64 " from %s closed reason=%s", c->id, c->addr,
              reason);
}

void
client_close (struct client *c, const char *reason, bool flush)
{
  struct timeval tv = { LINGER_SECONDS, 0 };

  if (c->state == CLIENT_DEAD)
    return;
  if (c->state != CLIENT_CLOSING)
    log_close (c, reason);
  if (!flush || c->state == CLIENT_CLOSING)
    {
      finalize (c);
      return;
    }

  if (c->out == NULL || evbuffer_get_length (c->out) == 0)
    {
      finalize (c);
      return;
    }
  /* Keep the user routed until the flush ends so that presence stays
   * consistent; stop reading, and bound the wait. The output is on its
   * way: queued for the end of this pass, or waiting for the kernel. */
  c->state = CLIENT_CLOSING;
  reading_off (c);
  if (c->timer != NULL)
    evtimer_del (c->timer);
  if (c->linger == NULL)
    c->linger = evtimer_new (c->srv->base, linger_cb, c);
  if (c->linger == NULL || evtimer_add (c->linger, &tv) != 0)
    finalize (c);
}

/* Closes c, without a flush, on the next pass of the loop. Sends use it:
 * their callers may be walking the list of clients (presence fan-out,
 * shutdown), and tearing c down at once would announce it offline from
 * inside that walk, which can close and free the very client the walk
 * goes to next. Until then c is CLOSING: nothing is read, written or
 * queued, and routing treats it as offline. */
static void
client_close_soon (struct client *c, const char *reason)
{
  static const struct timeval now = { 0, 0 };

  if (c->state == CLIENT_DEAD || c->state == CLIENT_CLOSING)
    return;
  log_close (c, reason);
  c->state = CLIENT_CLOSING;
  reading_off (c);
  unschedule_flush (c);
  if (c->timer != NULL)
    evtimer_del (c->timer);
  if (c->linger == NULL || evtimer_add (c->linger, &now) != 0)
    finalize (c);
}

static void
linger_cb (evutil_socket_t fd, short what, void *ud)
{
  struct client *c = ud;

  log_debug ("conn %" PRIu64 " final flush timed out", c->id);
  finalize (c);
}

int
client_send_text (struct client *c, const uint8_t *pt, size_t len)
{
  struct evbuffer_iovec v;
  size_t frame_len = SC_FRAME_HEADER_LEN + len + SC_NOISE_TAG_LEN;
  size_t written;
  int r;

  if (c->state == CLIENT_DEAD || c->state == CLIENT_CLOSING ||
      !sc_channel_established (c->ch))
    return -1;
  if (c->out == NULL && (c->out = evbuffer_new ()) == NULL)
    {
      client_close_soon (c, "out-of-memory");
      return -1;
    }
  if (evbuffer_get_length (c->out) + frame_len > c->srv->cfg.output_buffer_max)
    {
      log_warn ("conn %" PRIu64 " user=%s output buffer over %" PRIu32 " bytes",
                c->id, who (c), c->srv->cfg.output_buffer_max);
      client_close_soon (c, "outbuf-limit");
      return -1;
    }
  /* Sealed in place, at the end of the output buffer. */
  if (evbuffer_reserve_space (c->out, (ev_ssize_t) frame_len, &v, 1) < 1)
    {
      client_close_soon (c, "out-of-memory");
      return -1;
    }
  r = sc_channel_seal (c->ch, pt, len, v.iov_base, v.iov_len, &written);
  if (r != SC_OK)
    {
      log_error ("conn %" PRIu64 " cannot encrypt: %s", c->id, sc_strerror (r));
      client_close_soon (c, "encrypt-failed");
      return -1;
    }
  v.iov_len = written;
  evbuffer_commit_space (c->out, &v, 1);
  mark_active (c);
  schedule_flush (c);
  return 0;
}

int
client_send_msg (struct client *c, const struct sc_msg *m)
{
  char *json = NULL;
  size_t len = 0;
  int r;

  r = sc_msg_encode (m, &json, &len);
  if (r != SC_OK)
    {
      log_error ("conn %" PRIu64 " cannot encode %s: %s", c->id,
                 sc_msg_type_name (m->type), sc_strerror (r));
      return -1;
    }
  r = client_send_text (c, (const uint8_t *) json, len);
  free (json);
  return r;
}

int
client_send_error (struct client *c,
                   enum sc_code code,
                   const uint64_t *ref,
                   uint32_t retry_after)
{
  struct sc_msg m;

  memset (&m, 0, sizeof (m));
  m.type = SC_MSG_ERROR;
  m.u.error.code = code;
  snprintf (m.u.error.message, sizeof (m.u.error.message), "%s",
            sc_code_text (code));
  if (ref != NULL)
    {
      m.u.error.has_ref = true;
      m.u.error.ref = *ref;
    }
  m.u.error.retry_after = retry_after;
  return client_send_msg (c, &m);
}

void
client_bye (struct client *c, enum sc_code code, const char *reason)
{
  struct sc_msg m;

  if (c->state == CLIENT_DEAD || c->state == CLIENT_CLOSING)
    return;
  memset (&m, 0, sizeof (m));
  m.type = SC_MSG_BYE;
  m.u.bye.code = code;
  snprintf (m.u.bye.message, sizeof (m.u.bye.message), "%s",
            sc_code_text (code));
  if (sc_channel_established (c->ch) && client_send_msg (c, &m) != 0)
    return; /* already closed by the failed send */
  client_close (c, reason, true);
}

/* Handshake message 1 -> message 2. */
static void
handle_handshake (struct client *c, const uint8_t *body, size_t len)
{
  struct server *srv = c->srv;
  uint8_t out[1024];
  size_t out_len, plen;
  struct sc_msg m, reply;
  char *json = NULL;
  size_t json_len = 0;
  bool version_ok = false;
  int r;

  if (c->ch == NULL && (r = sc_channel_new (SC_NOISE_RESPONDER,
                                            srv->static_priv, &c->ch)) != SC_OK)
    {
      log_error ("conn %" PRIu64 " cannot start a handshake: %s", c->id,
                 sc_strerror (r));
      client_close (c, "handshake-failed", false);
      return;
    }
  r = sc_channel_read_handshake (c->ch, body, len, srv->scratch,
                                 SC_CHANNEL_MAX_PLAINTEXT, &plen);
  if (r != SC_OK)
    {
      client_close (c, "bad-handshake", false);
      return;
    }
  r = sc_msg_parse (srv->scratch, plen, &m);
  if (r != SC_OK || m.type != SC_MSG_CLIENT_HELLO)
    {
      if (r == SC_OK)
        sc_msg_clear (&m);
      client_close (c, "bad-client-hello", false);
      return;
    }
  for (size_t i = 0; i < m.u.client_hello.n_versions; i++)
    if (m.u.client_hello.versions[i] == SC_PROTOCOL_VERSION)
      version_ok = true;
  if (m.u.client_hello.agent[0] != '\0')
    {
      char agent[SC_AGENT_MAX * 4 + 1];
      log_escape (m.u.client_hello.agent, strlen (m.u.client_hello.agent),
                  agent, sizeof (agent));
      log_debug ("conn %" PRIu64 " client agent \"%s\"", c->id, agent);
    }
  sc_msg_clear (&m);

  memset (&reply, 0, sizeof (reply));
  if (version_ok)
    {
      reply.type = SC_MSG_SERVER_HELLO;
      reply.u.server_hello.version = SC_PROTOCOL_VERSION;
      snprintf (reply.u.server_hello.agent, sizeof (reply.u.server_hello.agent),
                "securechatd/%s", SC_VERSION);
      reply.u.server_hello.max_frame = srv->cfg.max_frame;
      reply.u.server_hello.idle_timeout = srv->cfg.idle_timeout;
    }
  else
    {
      reply.type = SC_MSG_ERROR;
      reply.u.error.code = SC_CODE_UNSUPPORTED_VERSION;
      snprintf (reply.u.error.message, sizeof (reply.u.error.message), "%s",
                sc_code_text (SC_CODE_UNSUPPORTED_VERSION));
    }
  r = sc_msg_encode (&reply, &json, &json_len);
  if (r == SC_OK)
    r = sc_channel_write_handshake (c->ch, (const uint8_t *) json, json_len,
                                    out, sizeof (out), &out_len);
  free (json);
  if (r != SC_OK)
    {
      log_error ("conn %" PRIu64 " cannot write handshake: %s", c->id,
                 sc_strerror (r));
      client_close (c, "handshake-failed", false);
      return;
    }
  if (queue_raw (c, out, out_len) != 0)
    {
      client_close (c, "out-of-memory", false);
      return;
    }
  if (!version_ok)
    {
      client_close (c, "unsupported-version", true);
      return;
    }
  c->state = CLIENT_LOGIN;
  if (c->over_limit)
    {
      log_warn ("conn %" PRIu64 " from %s refused reason=server-full "
                "connections=%u",
                c->id, c->addr, srv->n_clients);
      client_send_error (c, SC_CODE_SERVER_FULL, NULL, 0);
      client_close (c, "server-full", true);
    }
}

static void
login_done (struct auth_job *job, void *ud)
{
  struct client *c = ud;
  struct server *srv = c->srv;
  struct client *old = NULL;
  struct sc_msg m;
  char err[256];

  checking_done (c);
  if (c->state != CLIENT_AUTHENTICATING)
    goto out; /* the connection went away while the hash ran */

  if (!job->ok)
    {
      int64_t now = server_mono_ms ();
      ratelimit_fail (srv->fail_by_user, job->user, now);
      ratelimit_fail (srv->fail_by_addr, c->source, now);
      log_info ("conn %" PRIu64 " user=%s authentication failed reason=%s "
                "from=%s",
                c->id, job->user,
                job->hash != NULL ? "bad-password" : "unknown-user", c->addr);
      c->state = CLIENT_LOGIN;
      client_send_error (c, SC_CODE_AUTH_FAILED, NULL, 0);
      client_close (c, "auth-failed", true);
      goto out;
    }

  ratelimit_success (srv->fail_by_user, job->user);
  ratelimit_success (srv->fail_by_addr, c->source);
  if (job->new_hash != NULL)
    {
      int r = store_modify (srv->store, STORE_UPGRADE, job->user, job->new_hash,
                            job->hash, err, sizeof (err));
      if (r == 0)
        log_info ("user=%s password hash upgraded to yescrypt", job->user);
      else if (r < 0)
        log_warn ("user=%s password hash not upgraded: %s", job->user, err);
    }

  pending_done (c);
  c->state = CLIENT_READY;
  c->last_rx_ms = server_mono_ms ();
  if (route_login (srv, c, &old) != 0)
    {
      client_send_error (c, SC_CODE_INTERNAL, NULL, 0);
      client_close (c, "out-of-memory", true);
      goto out;
    }
  log_info ("conn %" PRIu64 " user=%s authenticated from %s", c->id, c->user,
            c->addr);
  if (old != NULL)
    {
      old->replaced = true;
      log_info ("conn %" PRIu64 " user=%s replaced by conn %" PRIu64, old->id,
                old->user, c->id);
      client_bye (old, SC_CODE_SESSION_REPLACED, "session-replaced");
    }

  memset (&m, 0, sizeof (m));
  m.type = SC_MSG_LOGIN_OK;
  snprintf (m.u.login_ok.user, sizeof (m.u.login_ok.user), "%s", c->user);
  if (client_send_msg (c, &m) != 0 || route_send_presence_list (srv, c) != 0 ||
      prekeys_send_status (srv, c) != 0)
    goto out;

  {
    struct timeval tv = { srv->cfg.idle_timeout, 0 };
    evtimer_del (c->timer);
    evtimer_add (c->timer, &tv);
  }
  reading_on (c);
  /* Frames read with the login wait in c->in. */
  process_input (c);

out:
  auth_job_free (job);
  client_unref (c);
}

static void
handle_login (struct client *c, struct sc_msg_login *lg)
{
  struct server *srv = c->srv;
  int64_t now = server_mono_ms ();
  uint32_t wait_user, wait_addr, wait;
  uintptr_t running;
  struct auth_job *job;
  const char *hash, *by;
  bool reloaded = false;
  char err[256];

  snprintf (c->user, sizeof (c->user), "%s", lg->user);
  wait_user = ratelimit_check (srv->fail_by_user, lg->user, now);
  wait_addr = ratelimit_check (srv->fail_by_addr, c->source, now);
  wait = wait_user > wait_addr ? wait_user : wait_addr;
  by = wait_user >= wait_addr ? "user" : "address";
  /* Checks still running count as failures until their verdict: a burst
   * of parallel guesses gets no more answers than a sequence would. */
  running = (uintptr_t) strmap_get (srv->checks_by_user, lg->user);
  if (wait == 0 && running > 0 &&
      (uint64_t) ratelimit_failures (srv->fail_by_user, lg->user, now) +
              running >=
          srv->cfg.auth_fail_limit)
    {
      wait = srv->cfg.auth_backoff_ms;
      by = "user-checks-running";
    }
  if (wait > 0)
    {
      log_info ("conn %" PRIu64 " user=%s login refused reason=rate-limited "
                "by=%s retry_after_ms=%" PRIu32 " from=%s",
                c->id, c->user, by, wait, c->addr);
      client_send_error (c, SC_CODE_RATE_LIMITED, NULL, wait);
      client_close (c, "rate-limited", true);
      return;
    }

  if (store_refresh (srv->store, &reloaded, err, sizeof (err)) != 0)
    log_warn ("credentials not reloaded, keeping the previous users: %s", err);
  else if (reloaded)
    log_info ("credentials reloaded: %zu users", store_count (srv->store));
  hash = store_lookup (srv->store, lg->user);

  job = auth_job_new ();
  if (job == NULL)
    goto busy;
  job->conn_id = c->id;
  snprintf (job->user, sizeof (job->user), "%s", lg->user);
  job->password = lg->password;
  job->password_len = lg->password_len;
  lg->password = NULL;
  lg->password_len = 0;
  if (hash != NULL && (job->hash = strdup (hash)) == NULL)
    {
      auth_job_free (job);
      goto busy;
    }
  job->done = login_done;
  job->ud = c;
  client_ref (c);
  if (auth_pool_submit (srv->auth, job) != 0)
    {
      client_unref (c);
      auth_job_free (job);
      goto busy;
    }
  c->state = CLIENT_AUTHENTICATING;
  checking_start (c);
  /* Further frames wait in the socket (or in c->in) until the verdict. */
  reading_off (c);
  return;

busy:
  log_warn ("conn %" PRIu64 " user=%s login refused reason=server-busy "
            "queue=%u",
            c->id, c->user, auth_pool_load (srv->auth));
  client_send_error (c, SC_CODE_SERVER_BUSY, NULL, BUSY_RETRY_MS);
  client_close (c, "server-busy", true);
}

static enum sc_code
parse_error_code (int err)
{
  switch (err)
    {
    case SC_ERR_UNKNOWN_TYPE:
      return SC_CODE_UNKNOWN_TYPE;
    case SC_ERR_TOO_LARGE:
      return SC_CODE_TOO_LARGE;
    case SC_ERR_NOMEM:
      return SC_CODE_INTERNAL;
    default:
      return SC_CODE_BAD_REQUEST;
    }
}

static void
handle_ready (struct client *c, struct sc_msg *m)
{
  struct server *srv = c->srv;
  struct sc_msg reply;

  switch (m->type)
    {
    case SC_MSG_SEND:
      {
        struct sc_send_view v = { .id = m->u.send.id,
                                  .body = m->u.send.body,
                                  .body_len = m->u.send.body_len };

        memcpy (v.to, m->u.send.to, sizeof v.to);
        route_send (srv, c, &v);
      }
      break;
    case SC_MSG_WHO:
      route_send_presence_list (srv, c);
      break;
    case SC_MSG_PREKEYS_UPLOAD:
      prekeys_handle_upload (srv, c, &m->u.prekeys_upload);
      break;
    case SC_MSG_BUNDLE_REQUEST:
      prekeys_handle_bundle_request (srv, c, &m->u.bundle_request);
      break;
    case SC_MSG_PING:
      memset (&reply, 0, sizeof (reply));
      reply.type = SC_MSG_PONG;
      client_send_msg (c, &reply);
      break;
    case SC_MSG_PONG:
      break;
    case SC_MSG_BYE:
      client_close (c, "client-quit", false);
      break;
    case SC_MSG_LOGIN:
      client_send_error (c, SC_CODE_ALREADY_LOGGED_IN, NULL, 0);
      break;
    default:
      log_info ("conn %" PRIu64 " user=%s bad request: unexpected %s", c->id,
                c->user, sc_msg_type_name (m->type));
      client_send_error (c, SC_CODE_BAD_REQUEST, NULL, 0);
      break;
    }
}

/* The id of a "send" or "bundle_request" that the strict parser refused,
 * so that the error still answers it with "ref" (PROTOCOL.md 5.5, 5.14):
 * true when text is one JSON object of either type whose "id" is a valid
 * identifier, whatever else is wrong with it. */
static bool
refused_request_id (const uint8_t *text, size_t len, uint64_t *id)
{
  json_error_t jerr;
  json_t *root, *type, *v;
  json_int_t n;
  bool found = false;

  root = json_loadb ((const char *) text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return false;
  type = json_object_get (root, "type");
  v = json_object_get (root, "id");
  if (json_is_string (type) && json_is_integer (v) &&
      ((json_string_length (type) == 4 &&
        memcmp (json_string_value (type), "send", 4) == 0) ||
       (json_string_length (type) == 14 &&
        memcmp (json_string_value (type), "bundle_request", 14) == 0)))
    {
      n = json_integer_value (v);
      if (n >= 1 && (uint64_t) n <= SC_ID_MAX)
        {
          *id = (uint64_t) n;
          found = true;
        }
    }
  json_decref (root);
  return found;
}

static void
handle_frame (struct client *c, const uint8_t *body, size_t len)
{
  struct server *srv = c->srv;
  struct sc_msg m;
  size_t plen;
  uint64_t ref = 0;
  bool has_ref;
  int r;

  if (c->state == CLIENT_HANDSHAKE)
    {
      handle_handshake (c, body, len);
      return;
    }

  r = sc_channel_open (c->ch, body, len, srv->scratch, SC_CHANNEL_MAX_PLAINTEXT,
                       &plen);
  if (r != SC_OK)
    {
      log_warn ("conn %" PRIu64 " user=%s frame rejected: %s", c->id, who (c),
                sc_strerror (r));
      client_close (c, "decrypt-failed", false);
      return;
    }
  c->last_rx_ms = srv->frames_mono_ms;
  mark_active (c);
  if (c->state == CLIENT_READY)
    {
      struct sc_send_view v;

      /* Nearly every frame after login is a send: read it in place, with
       * no JSON tree (msg-fast.h). What the scanner declines, it leaves
       * to the strict parser below, which gives the precise answer. A
       * send holds no secret, so there is nothing to wipe. */
      if (sc_msg_scan_send (srv->scratch, plen, &v) == SC_OK)
        {
          route_send (srv, c, &v);
          return;
        }
    }
  r = sc_msg_parse (srv->scratch, plen, &m);
  has_ref = r != SC_OK && c->state == CLIENT_READY &&
            refused_request_id (srv->scratch, plen, &ref);
  /* A login frame holds a password, also one sent again after login or
   * refused by the parser: no copy may outlive the parse. */
  sc_wipe (srv->scratch, plen);

  if (r != SC_OK)
    {
      log_info ("conn %" PRIu64 " user=%s bad request: %s", c->id, who (c),
                sc_strerror (r));
      client_send_error (c, parse_error_code (r), has_ref ? &ref : NULL, 0);
      if (c->state == CLIENT_LOGIN)
        client_close (c, "bad-login", true);
      return;
    }

  if (c->state == CLIENT_LOGIN)
    {
      if (m.type == SC_MSG_LOGIN)
        handle_login (c, &m.u.login);
      else
        {
          log_info ("conn %" PRIu64 " from %s sent %s before login", c->id,
                    c->addr, sc_msg_type_name (m.type));
          client_send_error (c, SC_CODE_NOT_LOGGED_IN, NULL, 0);
          client_close (c, "not-logged-in", true);
        }
    }
  else
    handle_ready (c, &m);
  sc_msg_clear (&m);
}

static void
handshake_timer_arm (struct server *srv, int64_t now)
{
  int64_t ms = srv->handshake_window_ms + SERVER_HANDSHAKE_WINDOW_MS - now;
  struct timeval tv;

  if (evtimer_pending (srv->handshake_timer, NULL))
    return;
  if (ms < 1)
    ms = 1;
  tv.tv_sec = 0;
  tv.tv_usec = (suseconds_t) ms * 1000;
  evtimer_add (srv->handshake_timer, &tv);
}

/* Whether c may run its handshake now (server.h): there is room in the
 * current window and nobody was waiting before it. Otherwise c waits on
 * srv->deferred with its reading paused. */
static bool
handshake_admit (struct client *c)
{
  struct server *srv = c->srv;
  int64_t now = server_mono_ms ();

  if (now - srv->handshake_window_ms >= SERVER_HANDSHAKE_WINDOW_MS)
    {
      srv->handshake_window_ms = now;
      srv->handshakes_left = SERVER_HANDSHAKES_PER_WINDOW;
    }
  if (srv->handshakes_left > 0 &&
      (TAILQ_EMPTY (&srv->deferred) || srv->resuming == c))
    {
      srv->handshakes_left--;
      return true;
    }
  if (!c->deferred)
    {
      TAILQ_INSERT_TAIL (&srv->deferred, c, deferred_entry);
      c->deferred = true;
      reading_off (c);
    }
  handshake_timer_arm (srv, now);
  return false;
}

void
client_run_deferred (struct server *srv)
{
  struct client *c;
  int64_t now = server_mono_ms ();

  srv->handshake_window_ms = now;
  srv->handshakes_left = SERVER_HANDSHAKES_PER_WINDOW;
  while (srv->handshakes_left > 0 && (c = TAILQ_FIRST (&srv->deferred)) != NULL)
    {
      TAILQ_REMOVE (&srv->deferred, c, deferred_entry);
      c->deferred = false;
      reading_on (c);
      /* Its message 1 is already read: no read event will come. */
      srv->resuming = c;
      process_input (c);
      srv->resuming = NULL;
    }
  if (!TAILQ_EMPTY (&srv->deferred))
    handshake_timer_arm (srv, now);
}

/* Handles the whole frames at the start of buf, as long as c may go on
 * (not closed, not paused, its handshake admitted). Returns the bytes
 * handled; c may be DEAD on return. */
static size_t
handle_bytes (struct client *c, const uint8_t *buf, size_t len)
{
  size_t off = 0;

  c->srv->frames_mono_ms = server_mono_ms ();
  c->srv->frames_wall_ms = server_now_ms ();
  while ((c->state == CLIENT_HANDSHAKE || c->state == CLIENT_LOGIN ||
          c->state == CLIENT_READY) &&
         !c->read_paused && len - off >= SC_FRAME_HEADER_LEN)
    {
      const uint8_t *hdr = buf + off;
      size_t body_len;
      int r = sc_frame_header_parse (hdr, c->srv->cfg.max_frame, &body_len);

      if (r != SC_OK)
        {
          log_warn ("conn %" PRIu64 " user=%s bad frame header: %s "
                    "length=%u limit=%" PRIu32,
                    c->id, who (c), sc_strerror (r),
                    (unsigned) ((hdr[0] << 8) | hdr[1]), c->srv->cfg.max_frame);
          client_close (
              c, r == SC_ERR_TOO_LARGE ? "frame-too-large" : "empty-frame",
              false);
          break;
        }
      if (len - off - SC_FRAME_HEADER_LEN < body_len)
        break;
      /* The frame stays where it is until its window comes. */
      if (c->state == CLIENT_HANDSHAKE && !handshake_admit (c))
        break;
      handle_frame (c, hdr + SC_FRAME_HEADER_LEN, body_len);
      off += SC_FRAME_HEADER_LEN + body_len;
    }
  return off;
}

static int
in_reserve (struct client *c, size_t need)
{
  uint8_t *p;

  if (c->in_cap >= need)
    return 0;
  p = realloc (c->in, need);
  if (p == NULL)
    return -1;
  c->in = p;
  c->in_cap = need;
  return 0;
}

/* Handles what waits in c->in (after a pause, a deferred handshake, a
 * login, or a frame completed by a read) and keeps the rest. */
static void
process_input (struct client *c)
{
  size_t n;

  if (c->in_len == 0)
    return;
  client_ref (c);
  n = handle_bytes (c, c->in, c->in_len);
  if (c->state != CLIENT_DEAD)
    {
      memmove (c->in, c->in + n, c->in_len - n);
      c->in_len -= n;
      if (c->in_len == 0)
        {
          free (c->in);
          c->in = NULL;
          c->in_cap = 0;
        }
    }
  client_unref (c);
}

/* What completes the first frame in c->in: the rest of its header, or of
 * its body. 0 when it is complete (waiting to be handled) or its header is
 * invalid (process_input closes the connection). */
static size_t
in_missing (const struct client *c)
{
  size_t body_len;

  if (c->in_len < SC_FRAME_HEADER_LEN)
    return SC_FRAME_HEADER_LEN - c->in_len;
  if (sc_frame_header_parse (c->in, c->srv->cfg.max_frame, &body_len) != SC_OK)
    return 0;
  if (c->in_len >= SC_FRAME_HEADER_LEN + body_len)
    return 0;
  return SC_FRAME_HEADER_LEN + body_len - c->in_len;
}

/* Keeps the len bytes of a read that were not handled: the start of a
 * frame, or frames held back. */
static int
in_keep (struct client *c, const uint8_t *data, size_t len)
{
  if (in_reserve (c, len) != 0)
    return -1;
  memcpy (c->in, data, len);
  c->in_len = len;
  return 0;
}

void
client_pause_reading (struct client *c, uint32_t ms)
{
  struct timeval tv;

  if (c->state != CLIENT_READY || c->read_paused)
    return;
  if (ms > CLIENT_PAUSE_MAX_MS)
    ms = CLIENT_PAUSE_MAX_MS;
  if (c->resume == NULL)
    c->resume = evtimer_new (c->srv->base, resume_cb, c);
  tv.tv_sec = 0;
  tv.tv_usec = (suseconds_t) ms * 1000;
  /* Timers count from the time the loop cached when this pass began,
   * which may be well before now: the pause would end before the token it
   * waits for is there, and the next send would be refused again. */
  event_base_update_cache_time (c->srv->base);
  /* Without a timer there is no way back: keep reading. */
  if (c->resume == NULL || evtimer_add (c->resume, &tv) != 0)
    return;
  c->read_paused = true;
  reading_off (c);
}

static void
resume_cb (evutil_socket_t fd, short what, void *ud)
{
  struct client *c = ud;

  c->read_paused = false;
  if (c->state != CLIENT_READY)
    return;
  reading_on (c);
  /* Frames that arrived before the pause are already read: no read event
   * will announce them. */
  process_input (c);
}

/* Most reads start between frames and go to the loop's shared buffer,
 * where the frames are handled in place; only a partial frame (or frames
 * held back by a pause) is copied to c->in. While c->in holds a partial
 * frame, a read takes just what completes it. */
static void
read_cb (evutil_socket_t fd, short what, void *ud)
{
  struct client *c = ud;
  struct server *srv = c->srv;
  char reason[128];
  ssize_t n;

  client_ref (c);
  if (c->in_len > 0)
    {
      size_t missing = in_missing (c);

      if (missing == 0)
        {
          /* Complete but held back, or a bad header: never read on. */
          process_input (c);
          if (c->state != CLIENT_DEAD && c->in_len > 0)
            reading_off (c);
          goto out;
        }
      if (in_reserve (c, c->in_len + missing) != 0)
        {
          client_close (c, "out-of-memory", false);
          goto out;
        }
      n = recv (fd, c->in + c->in_len, missing, 0);
      if (n > 0)
        {
          c->in_len += (size_t) n;
          process_input (c);
        }
    }
  else
    {
      n = recv (fd, srv->rbuf, CLIENT_READ_MAX, 0);
      if (n > 0)
        {
          size_t used = handle_bytes (c, srv->rbuf, (size_t) n);

          if (c->state != CLIENT_DEAD && used < (size_t) n &&
              in_keep (c, srv->rbuf + used, (size_t) n - used) != 0)
            client_close (c, "out-of-memory", false);
        }
    }
  if (n == 0)
    client_close (c,
                  c->state == CLIENT_HANDSHAKE ? "closed-during-handshake"
                                               : "peer-closed",
                  false);
  else if (n < 0 && !retriable (errno))
    {
      snprintf (reason, sizeof (reason), "io-error (%s)",
                evutil_socket_error_to_string (errno));
      client_close (c, reason, false);
    }
out:
  client_unref (c);
}

static void
write_cb (evutil_socket_t fd, short what, void *ud)
{
  struct client *c = ud;

  client_ref (c);
  client_flush (c);
  client_unref (c);
}

static void
timer_cb (evutil_socket_t fd, short what, void *ud)
{
  struct client *c = ud;
  struct server *srv = c->srv;

  if (c->state == CLIENT_READY)
    {
      int64_t idle_ms = (int64_t) srv->cfg.idle_timeout * 1000;
      int64_t quiet = server_mono_ms () - c->last_rx_ms;
      if (quiet >= idle_ms)
        {
          client_bye (c, SC_CODE_IDLE_TIMEOUT, "idle-timeout");
          return;
        }
      struct timeval tv = { (time_t) ((idle_ms - quiet) / 1000),
                            (suseconds_t) (((idle_ms - quiet) % 1000) * 1000) };
      evtimer_add (c->timer, &tv);
      return;
    }
  client_close (c, "handshake-timeout", false);
}
