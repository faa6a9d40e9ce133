/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "auth.h"
#include "client.h"
#include "keyfile.h"
#include "log.h"
#include "prekeys.h"
#include "ratelimit.h"
#include "route.h"
#include "store.h"
#include "strmap.h"

#include "securechat/channel.h"

/* Clients get this long to receive "bye" before the loop ends anyway. */
#define SHUTDOWN_GRACE_SECONDS 3
/* After EMFILE/ENFILE, accepting pauses this long instead of spinning. */
#define ACCEPT_RETRY_MS 200
/* Failure counters tracked per key space (user names, addresses). */
#define RATELIMIT_ENTRIES 65536

int64_t
server_now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
server_mono_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
server_client_gone (struct server *srv, struct client *c)
{
  (void) c;
  srv->n_clients--;
  if (srv->shutting_down && srv->n_clients == 0)
    event_base_loopexit (srv->base, NULL);
}

void
server_refresh_users (struct server *srv)
{
  bool reloaded = false;
  char err[256];

  if (store_refresh (srv->store, &reloaded, err, sizeof (err)) != 0)
    log_warn ("credentials not reloaded, keeping the previous users: %s", err);
  else if (reloaded)
    log_info ("credentials reloaded: %zu users", store_count (srv->store));
}

static void
accept_cb (struct evconnlistener *l,
           evutil_socket_t fd,
           struct sockaddr *sa,
           int salen,
           void *ud)
{
  struct server *srv = ud;

  if (srv->shutting_down)
    {
      evutil_closesocket (fd);
      return;
    }
  client_accept (srv, fd, sa, salen);
}

static void
listener_retry_cb (evutil_socket_t fd, short what, void *ud)
{
  struct server *srv = ud;

  if (!srv->shutting_down)
    evconnlistener_enable (srv->listener);
}

static void
accept_error_cb (struct evconnlistener *l, void *ud)
{
  struct server *srv = ud;
  int err = EVUTIL_SOCKET_ERROR ();
  struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

  log_warn ("accept failed: %s; pausing new connections for %d ms",
            evutil_socket_error_to_string (err), ACCEPT_RETRY_MS);
  evconnlistener_disable (l);
  evtimer_add (srv->listener_retry, &tv);
}

static void
flush_cb (evutil_socket_t fd, short what, void *ud)
{
  client_flush_all (ud);
}

static void
shed_cb (evutil_socket_t fd, short what, void *ud)
{
  client_shed_idle (ud);
}

static void
handshake_window_cb (evutil_socket_t fd, short what, void *ud)
{
  client_run_deferred (ud);
}

static void
shutdown_timeout_cb (evutil_socket_t fd, short what, void *ud)
{
  struct server *srv = ud;

  log_info ("shutdown: %u connections did not finish in time, closing",
            srv->n_clients);
  event_base_loopexit (srv->base, NULL);
}

static void
begin_shutdown (struct server *srv, const char *why)
{
  struct client *c, *next;
  struct timeval tv = { SHUTDOWN_GRACE_SECONDS, 0 };

  if (srv->shutting_down)
    return;
  srv->shutting_down = true;
  log_info ("%s: shutting down, telling %u clients", why, srv->n_clients);
  evconnlistener_disable (srv->listener);
  for (c = TAILQ_FIRST (&srv->clients); c != NULL; c = next)
    {
      next = TAILQ_NEXT (c, entry);
      if (sc_channel_established (c->ch))
        client_bye (c, SC_CODE_SERVER_SHUTDOWN, "server-shutdown");
      else
        client_close (c, "server-shutdown", false);
    }
  if (srv->n_clients == 0)
    event_base_loopexit (srv->base, NULL);
  else
    evtimer_add (srv->shutdown_timer, &tv);
}

static void
signal_cb (evutil_socket_t sig, short what, void *ud)
{
  struct server *srv = ud;
  char err[256];

  if (sig == SIGHUP)
    {
      if (store_reload (srv->store, err, sizeof (err)) == 0)
        log_info ("SIGHUP: credentials reloaded: %zu users",
                  store_count (srv->store));
      else
        log_warn ("SIGHUP: credentials not reloaded, keeping the previous "
                  "users: %s",
                  err);
      return;
    }
  begin_shutdown (srv, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static int
open_listener (struct server *srv)
{
  char host[256], portstr[16], shown[300];
  uint16_t port;
  struct addrinfo hints, *res = NULL, *ai;
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof (bound);
  int r;

  if (config_parse_hostport (srv->cfg.listen, host, sizeof (host), &port) != 0)
    {
      log_error ("invalid listen address \"%s\" (expected HOST:PORT)",
                 srv->cfg.listen);
      return -1;
    }
  snprintf (portstr, sizeof (portstr), "%u", port);
  memset (&hints, 0, sizeof (hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  r = getaddrinfo (host, portstr, &hints, &res);
  if (r != 0)
    {
      log_error ("cannot resolve listen address %s: %s", srv->cfg.listen,
                 gai_strerror (r));
      return -1;
    }
  for (ai = res; ai != NULL && srv->listener == NULL; ai = ai->ai_next)
    srv->listener = evconnlistener_new_bind (
        srv->base, accept_cb, srv,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
        ai->ai_addr, (int) ai->ai_addrlen);
  freeaddrinfo (res);
  if (srv->listener == NULL)
    {
      log_error ("cannot listen on %s: %s", srv->cfg.listen,
                 evutil_socket_error_to_string (EVUTIL_SOCKET_ERROR ()));
      return -1;
    }
  evconnlistener_set_error_cb (srv->listener, accept_error_cb);

  /* Show the address actually bound, so that port 0 is useful. */
  if (getsockname (evconnlistener_get_fd (srv->listener),
                   (struct sockaddr *) &bound, &bound_len) == 0 &&
      getnameinfo ((struct sockaddr *) &bound, bound_len, host, sizeof (host),
                   portstr, sizeof (portstr),
                   NI_NUMERICHOST | NI_NUMERICSERV) == 0)
    {
      if (bound.ss_family == AF_INET6)
        snprintf (shown, sizeof (shown), "[%s]:%s", host, portstr);
      else
        snprintf (shown, sizeof (shown), "%s:%s", host, portstr);
    }
  else
    snprintf (shown, sizeof (shown), "%s", srv->cfg.listen);
  log_info ("listening on %s", shown);
  return 0;
}

static int
server_init (struct server *srv, const char *data_dir, const struct config *cfg)
{
  char path[4096], err[512];

  srv->cfg = *cfg;
  srv->data_dir = data_dir;
  TAILQ_INIT (&srv->clients);
  TAILQ_INIT (&srv->zombies);
  TAILQ_INIT (&srv->pending);
  TAILQ_INIT (&srv->deferred);
  TAILQ_INIT (&srv->flushq);
  TAILQ_INIT (&srv->hot);

  snprintf (path, sizeof (path), "%s/%s", data_dir, KEYFILE_NAME);
  if (keyfile_load (path, srv->static_priv, srv->static_pub, err,
                    sizeof (err)) != 0)
    {
      log_error ("%s", err);
      return -1;
    }
  sc_fingerprint (srv->static_pub, srv->fingerprint);

  snprintf (path, sizeof (path), "%s/%s", data_dir, STORE_FILE_NAME);
  if (store_open (path, &srv->store, err, sizeof (err)) != 0)
    {
      log_error ("%s", err);
      return -1;
    }
  if (prekeys_service_new (data_dir, &srv->prekeys, err, sizeof (err)) !=
      PREKEYS_OK)
    {
      log_error ("prekeys unavailable: %s", err);
      return -1;
    }
  {
    unsigned swept = 0;

    if (prekeys_sweep (prekeys_service_store (srv->prekeys), &swept, err,
                       sizeof (err)) != PREKEYS_OK)
      log_warn ("%s", err);
    if (swept > 0)
      log_info ("removed %u temporary file%s of the prekey store left by "
                "an interrupted write",
                swept, swept == 1 ? "" : "s");
  }

  srv->base = event_base_new ();
  if (srv->base == NULL)
    {
      log_error ("cannot create the event loop");
      return -1;
    }
  srv->scratch = malloc (SC_CHANNEL_MAX_PLAINTEXT);
  srv->out_scratch = malloc (SC_CHANNEL_MAX_PLAINTEXT);
  srv->sig_int = evsignal_new (srv->base, SIGINT, signal_cb, srv);
  srv->sig_term = evsignal_new (srv->base, SIGTERM, signal_cb, srv);
  srv->sig_hup = evsignal_new (srv->base, SIGHUP, signal_cb, srv);
  srv->shutdown_timer = evtimer_new (srv->base, shutdown_timeout_cb, srv);
  srv->listener_retry = evtimer_new (srv->base, listener_retry_cb, srv);
  srv->handshake_timer = evtimer_new (srv->base, handshake_window_cb, srv);
  srv->flush_ev = event_new (srv->base, -1, 0, flush_cb, srv);
  srv->shed_timer = evtimer_new (srv->base, shed_cb, srv);
  srv->rbuf = malloc (CLIENT_READ_MAX);
  if (srv->scratch == NULL || srv->out_scratch == NULL ||
      srv->flush_ev == NULL || srv->shed_timer == NULL || srv->rbuf == NULL ||
      srv->sig_int == NULL || srv->sig_term == NULL ||
      srv->handshake_timer == NULL || srv->sig_hup == NULL ||
      srv->shutdown_timer == NULL || srv->listener_retry == NULL ||
      route_new (&srv->route) != 0 || strmap_new (&srv->pending_by_addr) != 0 ||
      strmap_new (&srv->checks_by_user) != 0 ||
      ratelimit_new (RATELIMIT_ENTRIES, cfg->auth_fail_limit,
                     cfg->auth_backoff_ms, cfg->auth_backoff_max_ms,
                     &srv->fail_by_user) != 0 ||
      ratelimit_new (RATELIMIT_ENTRIES, cfg->auth_fail_limit,
                     cfg->auth_backoff_ms, cfg->auth_backoff_max_ms,
                     &srv->fail_by_addr) != 0 ||
      ratelimit_buckets_new (cfg->message_rate, cfg->message_burst,
                             &srv->sends) != 0)
    {
      log_error ("out of memory while starting");
      return -1;
    }
  if (auth_pool_new (srv->base, cfg->hash_workers, cfg->hash_queue_max,
                     &srv->auth) != 0)
    {
      log_error ("cannot start %u password-hashing workers", cfg->hash_workers);
      return -1;
    }
  evsignal_add (srv->sig_int, NULL);
  evsignal_add (srv->sig_term, NULL);
  evsignal_add (srv->sig_hup, NULL);
  return open_listener (srv);
}

static void
server_cleanup (struct server *srv)
{
  struct client *c;

  /* Close what is left; clients a hashing job still refers to become
   * zombies, freed once the pool is gone. */
  while ((c = TAILQ_FIRST (&srv->clients)) != NULL)
    client_close (c, "server-shutdown", false);
  if (srv->auth != NULL)
    auth_pool_free (srv->auth);
  /* The pool dropped its jobs, and with them the last references. */
  while ((c = TAILQ_FIRST (&srv->zombies)) != NULL)
    client_free_zombie (c);
  if (srv->listener != NULL)
    evconnlistener_free (srv->listener);
  if (srv->sig_int != NULL)
    event_free (srv->sig_int);
  if (srv->sig_term != NULL)
    event_free (srv->sig_term);
  if (srv->sig_hup != NULL)
    event_free (srv->sig_hup);
  if (srv->shutdown_timer != NULL)
    event_free (srv->shutdown_timer);
  if (srv->listener_retry != NULL)
    event_free (srv->listener_retry);
  if (srv->handshake_timer != NULL)
    event_free (srv->handshake_timer);
  if (srv->flush_ev != NULL)
    event_free (srv->flush_ev);
  if (srv->shed_timer != NULL)
    event_free (srv->shed_timer);
  free (srv->rbuf);
  route_free (srv->route);
  strmap_free (srv->pending_by_addr);
  strmap_free (srv->checks_by_user);
  ratelimit_free (srv->fail_by_user);
  ratelimit_free (srv->fail_by_addr);
  ratelimit_buckets_free (srv->sends);
  store_free (srv->store);
  prekeys_service_free (srv->prekeys);
  if (srv->base != NULL)
    event_base_free (srv->base);
  free (srv->scratch);
  free (srv->out_scratch);
  sc_wipe (srv->static_priv, sizeof (srv->static_priv));
}

int
server_run (const char *data_dir, const struct config *cfg)
{
  struct server srv;
  int status = 1;

  memset (&srv, 0, sizeof (srv));
  signal (SIGPIPE, SIG_IGN);
  log_route_libevent ();
  if (server_init (&srv, data_dir, cfg) != 0)
    goto out;

  log_info ("securechatd %s started: %zu users, server key %s", SC_VERSION,
            store_count (srv.store), srv.fingerprint);
  log_info ("Server is running...");
  if (event_base_dispatch (srv.base) < 0)
    log_error ("event loop failed");
  else
    status = 0;
  log_info ("securechatd stopped");

out:
  server_cleanup (&srv);
  return status;
}
