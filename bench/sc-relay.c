/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sc-relay: the bare relay securechatd is measured against. One thread,
 * one libevent loop, bufferevents, no crypto, no JSON, no accounts: the
 * practical ceiling of a libevent message relay on this machine.
 *
 * The line protocol (every line ends with "\n"):
 *   client  LOGIN name              server  OK name
 *                                           ERR reason        (then closes)
 *   client  TO name payload         name gets  FROM sender payload
 *                                   sender gets ERR offline name, when name
 *                                   is not connected
 * Names are 1..32 bytes of [a-z0-9._-]; a second LOGIN for a name in use
 * is refused. The payload is forwarded byte for byte without a copy of
 * the line. Limits: a line of at most 64 KiB, and 4 MiB queued to one
 * client; beyond either that client is disconnected.
 *
 * Usage: sc-relay [--listen HOST:PORT] (default 127.0.0.1:0, a free port).
 * Prints "listening on HOST:PORT" on stdout once ready; SIGINT or SIGTERM
 * stop it (exit 0). */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define NAME_MAX_LEN 32
#define LINE_MAX_LEN (64 * 1024)
#define OUT_MAX      (4 * 1024 * 1024)
#define BUCKETS_MIN  1024

struct relay;

struct client
{
  struct relay *r;
  struct bufferevent *bev;
  struct client *next; /* in its hash bucket */
  size_t all_idx;      /* in relay.all */
  size_t name_len;     /* 0 before LOGIN */
  char name[NAME_MAX_LEN + 1];
};

struct relay
{
  struct event_base *base;
  struct evconnlistener *listener;
  struct client **buckets;
  size_t n_buckets;
  size_t n_named;
  struct client **all; /* every client, for the final clean-up */
  size_t n_all;
  size_t cap_all;
};

static uint64_t
name_hash (const char *s, size_t len)
{
  uint64_t h = 1469598103934665603u; /* FNV-1a */

  for (size_t i = 0; i < len; i++)
    {
      h ^= (unsigned char) s[i];
      h *= 1099511628211u;
    }
  return h;
}

static struct client **
relay_slot (struct relay *r, const char *name, size_t len)
{
  struct client **p = &r->buckets[name_hash (name, len) & (r->n_buckets - 1)];

  while (*p != NULL &&
         ((*p)->name_len != len || memcmp ((*p)->name, name, len) != 0))
    p = &(*p)->next;
  return p;
}

static int
relay_grow (struct relay *r)
{
  size_t n = r->n_buckets * 2;
  struct client **nb = calloc (n, sizeof *nb);

  if (nb == NULL)
    return -1;
  for (size_t i = 0; i < r->n_buckets; i++)
    while (r->buckets[i] != NULL)
      {
        struct client *c = r->buckets[i];
        size_t k = name_hash (c->name, c->name_len) & (n - 1);

        r->buckets[i] = c->next;
        c->next = nb[k];
        nb[k] = c;
      }
  free (r->buckets);
  r->buckets = nb;
  r->n_buckets = n;
  return 0;
}

static bool
name_valid (const char *s, size_t len)
{
  if (len == 0 || len > NAME_MAX_LEN)
    return false;
  for (size_t i = 0; i < len; i++)
    {
      char c = s[i];

      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
            c == '_' || c == '-'))
        return false;
    }
  return true;
}

static void
client_free (struct client *c)
{
  struct relay *r = c->r;

  if (c->name_len > 0)
    {
      struct client **p = relay_slot (r, c->name, c->name_len);

      if (*p == c)
        {
          *p = c->next;
          r->n_named--;
        }
    }
  r->all[c->all_idx] = r->all[--r->n_all];
  r->all[c->all_idx]->all_idx = c->all_idx;
  bufferevent_free (c->bev);
  free (c);
}

/* A client that does not read what is queued for it is dropped. */
static void
client_check_output (struct client *c)
{
  if (evbuffer_get_length (bufferevent_get_output (c->bev)) <= OUT_MAX)
    return;
  fprintf (stderr, "sc-relay: %s reads too slowly; disconnected\n",
           c->name_len > 0 ? c->name : "a client");
  client_free (c);
}

static void
client_login (struct client *c, const char *name, size_t len)
{
  struct relay *r = c->r;
  struct evbuffer *out = bufferevent_get_output (c->bev);
  struct client **slot;

  if (c->name_len > 0)
    {
      evbuffer_add_printf (out, "ERR already logged in\n");
      return;
    }
  if (!name_valid (name, len))
    {
      evbuffer_add_printf (out, "ERR bad name\n");
      return;
    }
  slot = relay_slot (r, name, len);
  if (*slot != NULL)
    {
      evbuffer_add_printf (out, "ERR name in use\n");
      return;
    }
  memcpy (c->name, name, len);
  c->name[len] = '\0';
  c->name_len = len;
  c->next = NULL;
  *slot = c;
  r->n_named++;
  evbuffer_add_printf (out, "OK %s\n", c->name);
  if (r->n_named > r->n_buckets && relay_grow (r) < 0)
    fprintf (stderr, "sc-relay: out of memory growing the name table\n");
}

/* Handles the line at the front of in (len bytes before its "\n"). */
static void
client_line (struct client *c, struct evbuffer *in, size_t len)
{
  char head[6 + NAME_MAX_LEN + 2];
  size_t n = len < sizeof head ? len : sizeof head;
  struct evbuffer *out = bufferevent_get_output (c->bev);

  evbuffer_copyout (in, head, n);
  if (n > 6 && memcmp (head, "LOGIN ", 6) == 0)
    {
      if (len <= 6 + NAME_MAX_LEN)
        client_login (c, head + 6, len - 6);
      else
        evbuffer_add_printf (out, "ERR bad name\n");
      evbuffer_drain (in, len + 1);
      return;
    }
  if (n > 3 && memcmp (head, "TO ", 3) == 0)
    {
      const char *sp = memchr (head + 3, ' ', n - 3);
      size_t nlen = sp != NULL ? (size_t) (sp - head - 3) : 0;
      struct client *to;
      struct evbuffer *dst;

      if (c->name_len == 0)
        {
          evbuffer_add_printf (out, "ERR log in first\n");
          evbuffer_drain (in, len + 1);
          return;
        }
      if (sp == NULL || !name_valid (head + 3, nlen))
        {
          evbuffer_add_printf (out, "ERR bad name\n");
          evbuffer_drain (in, len + 1);
          return;
        }
      to = *relay_slot (c->r, head + 3, nlen);
      if (to == NULL || to == c)
        {
          evbuffer_add_printf (out, "ERR offline %.*s\n", (int) nlen, head + 3);
          evbuffer_drain (in, len + 1);
          return;
        }
      dst = bufferevent_get_output (to->bev);
      /* "TO name " becomes "FROM sender "; the rest moves over whole. */
      evbuffer_add (dst, "FROM ", 5);
      evbuffer_add (dst, c->name, c->name_len);
      evbuffer_add (dst, " ", 1);
      evbuffer_drain (in, 3 + nlen + 1);
      evbuffer_remove_buffer (in, dst, len - (3 + nlen + 1) + 1);
      client_check_output (to);
      return;
    }
  evbuffer_add_printf (out, "ERR unknown command\n");
  evbuffer_drain (in, len + 1);
}

static void
read_cb (struct bufferevent *bev, void *arg)
{
  struct client *c = arg;
  struct evbuffer *in = bufferevent_get_input (bev);

  for (;;)
    {
      size_t eol_len = 0;
      struct evbuffer_ptr pos =
          evbuffer_search_eol (in, NULL, &eol_len, EVBUFFER_EOL_LF);

      if (pos.pos < 0)
        {
          if (evbuffer_get_length (in) > LINE_MAX_LEN)
            {
              fprintf (stderr,
                       "sc-relay: a line over %d bytes; "
                       "disconnected\n",
                       LINE_MAX_LEN);
              client_free (c);
            }
          return;
        }
      if ((size_t) pos.pos > LINE_MAX_LEN)
        {
          fprintf (stderr, "sc-relay: a line over %d bytes; disconnected\n",
                   LINE_MAX_LEN);
          client_free (c);
          return;
        }
      client_line (c, in, (size_t) pos.pos);
    }
}

static void
event_cb (struct bufferevent *bev, short what, void *arg)
{
  (void) bev;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    client_free (arg);
}

static void
accept_cb (struct evconnlistener *l,
           evutil_socket_t fd,
           struct sockaddr *sa,
           int socklen,
           void *arg)
{
  struct relay *r = arg;
  struct client *c;
  int one = 1;

  (void) l;
  (void) sa;
  (void) socklen;
  (void) setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c = calloc (1, sizeof *c);
  if (c == NULL || (r->n_all == r->cap_all && r->cap_all > SIZE_MAX / 4))
    goto fail;
  if (r->n_all == r->cap_all)
    {
      size_t cap = r->cap_all > 0 ? r->cap_all * 2 : 1024;
      struct client **p = realloc (r->all, cap * sizeof *p);

      if (p == NULL)
        goto fail;
      r->all = p;
      r->cap_all = cap;
    }
  c->r = r;
  c->bev = bufferevent_socket_new (r->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (c->bev == NULL)
    goto fail;
  c->all_idx = r->n_all;
  r->all[r->n_all++] = c;
  bufferevent_setcb (c->bev, read_cb, NULL, event_cb, c);
  bufferevent_enable (c->bev, EV_READ | EV_WRITE);
  return;

fail:
  fprintf (stderr, "sc-relay: out of memory; connection refused\n");
  free (c);
  evutil_closesocket (fd);
}

static void
signal_cb (evutil_socket_t sig, short what, void *arg)
{
  (void) sig;
  (void) what;
  event_base_loopexit (arg, NULL);
}

static int
listen_on (struct relay *r, const char *hostport)
{
  char host[256];
  const char *colon = strrchr (hostport, ':');
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char hbuf[NI_MAXHOST];
  char pbuf[NI_MAXSERV];
  size_t hlen;
  int rc;

  if (colon == NULL || colon == hostport || colon[1] == '\0')
    {
      fprintf (stderr, "sc-relay: --listen wants HOST:PORT\n");
      return -1;
    }
  hlen = (size_t) (colon - hostport);
  if (hostport[0] == '[' && hlen >= 2 && hostport[hlen - 1] == ']')
    {
      hostport++;
      hlen -= 2;
    }
  if (hlen >= sizeof host)
    return -1;
  memcpy (host, hostport, hlen);
  host[hlen] = '\0';
  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  rc = getaddrinfo (host, colon + 1, &hints, &res);
  if (rc != 0 || res == NULL)
    {
      fprintf (stderr, "sc-relay: cannot resolve %s: %s\n", host,
               gai_strerror (rc));
      return -1;
    }
  r->listener = evconnlistener_new_bind (
      r->base, accept_cb, r, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096,
      res->ai_addr, (int) res->ai_addrlen);
  freeaddrinfo (res);
  if (r->listener == NULL)
    {
      fprintf (stderr, "sc-relay: cannot listen on %s: %s\n", hostport,
               strerror (errno));
      return -1;
    }
  if (getsockname (evconnlistener_get_fd (r->listener), (struct sockaddr *) &ss,
                   &sl) != 0 ||
      getnameinfo ((struct sockaddr *) &ss, sl, hbuf, sizeof hbuf, pbuf,
                   sizeof pbuf, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return -1;
  printf (ss.ss_family == AF_INET6 ? "listening on [%s]:%s\n"
                                   : "listening on %s:%s\n",
          hbuf, pbuf);
  fflush (stdout);
  return 0;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "listen", required_argument, NULL, 'l' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *listen_addr = "127.0.0.1:0";
  struct relay r;
  struct event *sigint = NULL;
  struct event *sigterm = NULL;
  struct rlimit rl;
  int status = 1;
  int opt;

  while ((opt = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    switch (opt)
      {
      case 'l':
        listen_addr = optarg;
        break;
      case 'h':
        printf ("usage: sc-relay [--listen HOST:PORT]\n");
        return 0;
      default:
        fprintf (stderr, "usage: sc-relay [--listen HOST:PORT]\n");
        return 2;
      }
  if (optind != argc)
    {
      fprintf (stderr, "usage: sc-relay [--listen HOST:PORT]\n");
      return 2;
    }

  /* As many connections as the hard limit allows. */
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      (void) setrlimit (RLIMIT_NOFILE, &rl);
    }
  signal (SIGPIPE, SIG_IGN);
  memset (&r, 0, sizeof r);
  r.n_buckets = BUCKETS_MIN;
  r.buckets = calloc (r.n_buckets, sizeof *r.buckets);
  r.base = event_base_new ();
  if (r.buckets == NULL || r.base == NULL)
    goto out;
  sigint = evsignal_new (r.base, SIGINT, signal_cb, r.base);
  sigterm = evsignal_new (r.base, SIGTERM, signal_cb, r.base);
  if (sigint == NULL || sigterm == NULL || evsignal_add (sigint, NULL) < 0 ||
      evsignal_add (sigterm, NULL) < 0)
    goto out;
  if (listen_on (&r, listen_addr) < 0)
    goto out;
  event_base_dispatch (r.base);
  status = 0;

out:
  while (r.n_all > 0)
    client_free (r.all[r.n_all - 1]);
  if (r.listener != NULL)
    evconnlistener_free (r.listener);
  if (sigint != NULL)
    event_free (sigint);
  if (sigterm != NULL)
    event_free (sigterm);
  if (r.base != NULL)
    event_base_free (r.base);
  free (r.buckets);
  free (r.all);
  return status;
}
