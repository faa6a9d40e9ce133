/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechat-bench: one load generator for securechatd and the servers it
 * is measured against.
 *
 * One libevent loop drives every connection through a protocol driver:
 * securechat (the real Noise handshake and login through common/'s
 * sans-I/O sc_client), line (sc-relay's bare line protocol), irc
 * (NICK/USER registration, PRIVMSG) and mqtt (MQTT 3.1.1, QoS 0, one
 * topic per receiver), each optionally inside TLS 1.3. Everything except
 * the driver is shared, so between two runs only the server differs.
 *
 * Every message carries its sequence number and the monotonic time at
 * which it was queued; its receiver, in this same process, times it. A
 * sender keeps W messages in flight: sent and not yet received by its
 * partner.
 *
 * Modes:
 *   relay    P pairs, W in flight each; a warm-up, then D seconds measured;
 *   idle     N clients log in and stay; server memory per connection;
 *   login    relay while C clients log in and out again and again with
 *            full-cost password hashes (securechat only);
 *   connect  C clients connect, register or log in, leave, and start over.
 *
 * With --server-pid the server's CPU time (user + sys from /proc/PID/stat)
 * over the measured window and its RSS and peak RSS are reported. Output:
 * a table, then a CSV header and row. Exit status: 0 the run went through,
 * 1 it failed (setup, errors, nothing delivered), 2 bad usage. Every phase
 * has a deadline, and an alarm ends the process should the loop stall. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench-core.h"
#include "securechat/client.h"
#include "securechat/crypto.h"
#include "securechat/e2e.h"
#include "securechat/error.h"
#include "securechat/fingerprint.h"
#include "securechat/init.h"
#include "securechat/msg.h"
#include "securechat/ratchet.h"

#define AGENT          "securechat-bench/" SC_VERSION
#define MAX_CONNS      20000
#define MAX_WINDOW     4096
#define MAX_DURATION_S 600
#define MAX_TEXT       SC_E2E_CONTENT_MAX
#define STAMP_HEX_LEN  32 /* the same as hex digits in text protocols */
#define TICK_MS        1000
#define DRAIN_MS       5000 /* waiting for the last messages in flight */
#define CLOSE_MS       3000 /* waiting for goodbyes to be answered */
#define RETRY_MS       100  /* a failed churn slot waits before it retries */
#define QUIT_WAIT_MS   2000 /* a leaving client waits for the server's EOF */
#define LOG_BUDGET     20   /* connection problems printed per run */
#define CPU_TICKS_MIN  10   /* server CPU needed for a per-message figure */

/* Lines of the text protocols. IRC: RFC 1459's 512 bytes plus room for
 * IRCv3 message tags; the bare relay allows any payload this program
 * sends. */
#define IRC_LINE_MAX  (8191 + 512)
#define LINE_LINE_MAX (64 * 1024)
/* The longest IRC payload kept well inside 512 bytes, with the
 * ":nick!user@host PRIVMSG nick :" the server puts in front. */
#define IRC_PAYLOAD_MAX 400

/* MQTT 3.1.1 (OASIS standard, 2014). */
#define MQTT_CONNECT      1
#define MQTT_CONNACK      2
#define MQTT_PUBLISH      3
#define MQTT_SUBSCRIBE    8
#define MQTT_SUBACK       9
#define MQTT_PINGREQ      12
#define MQTT_PINGRESP     13
#define MQTT_DISCONNECT   14
#define MQTT_PACKET_MAX   (64 * 1024) /* larger than anything we expect */
#define MQTT_KEEPALIVE_S  60
#define MQTT_TOPIC_PREFIX "sc/"

enum proto
{
  PROTO_SECURECHAT,
  PROTO_LINE,
  PROTO_IRC,
  PROTO_MQTT,
};

enum mode
{
  MODE_RELAY,
  MODE_IDLE,
  MODE_LOGIN,
  MODE_CONNECT,
};

enum role
{
  ROLE_SENDER,
  ROLE_RECEIVER,
  ROLE_IDLE,
  ROLE_CHURN, /* connect mode: cheap accounts */
  ROLE_STORM, /* login mode: accounts with the real password cost */
};

enum cstate
{
  CS_CLOSED,
  CS_CONNECTING, /* TCP (and TLS) */
  CS_REGISTERING,
  CS_READY,
  CS_QUITTING,
};

enum phase
{
  PH_SETUP,
  PH_WARMUP,
  PH_MEASURE,
  PH_DRAIN,
  PH_CLOSE,
  PH_DONE,
};

struct bench;

struct conn
{
  struct bench *b;
  size_t id;
  enum role role;
  enum cstate state;
  char name[SC_USERNAME_MAX + 1];
  struct bufferevent *bev;
  int64_t opened_ns;
  bool dead;           /* queued for the reaper */
  bool ok;             /* ... after a clean goodbye */
  bool shut;           /* our write side is shut after a goodbye */
  bool in_cb;          /* inside a driver's input function */
  bool setup_counted;  /* a setup connection that left the pending set */
  struct event *timer; /* churn slots: retry and goodbye deadline */
  int64_t retry_ms;    /* the server asked to wait this long */

  struct conn *peer; /* pairs */
  uint64_t next_seq; /* sender */
  unsigned in_flight;
  uint64_t expect_seq; /* receiver */

  /* securechat */
  struct sc_client *sc;
  bool sc_closed;
  char sc_why[160];
  /* mqtt */
  uint16_t mqtt_sub_id;
  bool mqtt_connacked;
  int64_t last_tx_ns;
};

struct driver
{
  const char *name;
  /* The transport is up: queue what registers or logs in. */
  int (*start) (struct conn *cn);
  /* Consumes what it can of in; -1 with a reason noted on failure. */
  int (*input) (struct conn *cn, struct evbuffer *in);
  /* Queues one message carrying seq and ts_ns to the partner. */
  int (*send) (struct conn *cn, uint64_t seq, int64_t ts_ns);
  /* Queues the protocol's goodbye (possibly nothing). */
  int (*quit) (struct conn *cn);
  /* Keepalive, once a second. */
  void (*tick) (struct conn *cn, int64_t now_ns);
  /* Frees the driver's per-connection state. */
  void (*reset) (struct conn *cn);
};

struct bench
{
  /* options */
  enum proto proto;
  enum mode mode;
  bool tls;
  const char *tls_ca;
  char host[256];
  char port[8];
  unsigned pairs;
  unsigned window;
  unsigned idle_conns;
  unsigned concurrency;
  unsigned connect_concurrency;
  unsigned warmup_ms;
  unsigned duration_ms;
  unsigned setup_timeout_ms;
  unsigned text_len;
  const char *prefix;
  const char *storm_prefix;
  const char *label;
  char *password;
  char fingerprint[SC_FINGERPRINT_LEN + 1];
  pid_t server_pid;

  /* derived */
  size_t body_len;    /* securechat: decoded body, an E2E message's size */
  size_t payload_len; /* bytes of message text on the wire */
  struct sockaddr_storage addr;
  socklen_t addr_len;
  bool host_is_ip;
  uint8_t *body;
  char *filler;

  struct event_base *base;
  SSL_CTX *ssl_ctx;
  const struct driver *drv;
  struct conn *conns;
  size_t n_conns;
  size_t n_setup; /* conns[0 .. n_setup) connect before the clock starts */
  size_t next_open;
  size_t setup_pending;
  size_t setup_ready;
  size_t open_conns;
  uint64_t in_flight_total;

  enum phase phase;
  bool sending;
  struct event *phase_timer;
  struct event *tick_timer;
  struct event *reaper;
  size_t *dead;
  size_t n_dead;

  int64_t t_start;
  int64_t t_setup_done;
  int64_t t0;
  int64_t t1;
  bool have_cpu;
  bool have_setup_cpu;
  uint64_t cpu_setup0; /* server CPU when setting up began and ended */
  uint64_t cpu_setup1;
  uint64_t cpu0;
  uint64_t cpu1;
  long rss_base;
  long rss_end;
  long hwm_end;
  struct rusage ru0;
  struct rusage ru1;

  /* results; the measured window only unless said */
  uint64_t sent_total;
  uint64_t delivered_total;
  uint64_t delivered;
  uint64_t acked_total;
  uint64_t send_errors;
  uint64_t bad;
  uint64_t lost;
  uint64_t server_errors;
  uint64_t broken;
  struct bench_samples lat;
  uint64_t ops;
  uint64_t ops_total;
  uint64_t op_failures;
  uint64_t busy;
  struct bench_samples op_lat;
  unsigned log_budget;
  bool failed;
  char fail_why[256];
  char tls_desc[96];
};

/* -- small helpers ------------------------------------------------------ */

static void
put_hex64 (char *p, uint64_t v)
{
  static const char digits[] = "0123456789abcdef";

  for (int i = 15; i >= 0; i--)
    {
      p[i] = digits[v & 0xf];
      v >>= 4;
    }
}

static int
get_hex64 (const char *p, uint64_t *out)
{
  uint64_t v = 0;

  for (int i = 0; i < 16; i++)
    {
      char c = p[i];
      unsigned d;

      if (c >= '0' && c <= '9')
        d = (unsigned) (c - '0');
      else if (c >= 'a' && c <= 'f')
        d = (unsigned) (c - 'a' + 10);
      else
        return -1;
      v = (v << 4) | d;
    }
  *out = v;
  return 0;
}

/* PROTOCOL.md section 12.5: a NORMAL end-to-end message is the version
 * and kind bytes (2), the ratchet header (DH key 32 + PN 4 + N 4 = 40),
 * the AES-256-CBC ciphertext of content type (1) + text under PKCS#7
 * padding (always at least one byte of padding, so 16 * (floor((1 + T) /
 * 16) + 1) bytes), and the 16-byte truncated HMAC tag:
 *
 *   binary(T) = 2 + 40 + 16 * (floor((T + 1) / 16) + 1) + 16
 *   body(T)   = 4 * ceil(binary(T) / 3)      (base64 with padding, §5.1)
 *
 * e.g. T = 100 gives 170 bytes and a 228-character body. */
static size_t
e2e_binary_len (size_t text_len)
{
  size_t plain = 1 + text_len;
  size_t cipher = (plain / SC_AES_CBC_IV_LEN + 1) * SC_AES_CBC_IV_LEN;

  return SC_E2E_NORMAL_PREFIX_LEN + SC_DR_HEADER_LEN + cipher + SC_DR_MAC_LEN;
}

static size_t
base64_len (size_t n)
{
  return (n + 2) / 3 * 4;
}

/* -- connection core ---------------------------------------------------- */

static void conn_open (struct conn *cn);
static void conn_fail (struct conn *cn, const char *why);
static void setup_complete (struct bench *b);
static void close_start (struct bench *b);
static void finish (struct bench *b);

__attribute__ ((format (printf, 2, 3))) static void
conn_note (struct conn *cn, const char *fmt, ...)
{
  struct bench *b = cn->b;
  va_list ap;

  if (b->log_budget == 0)
    return;
  if (--b->log_budget == 0)
    {
      fprintf (stderr, "securechat-bench: (further connection problems "
                       "are counted, not printed)\n");
      return;
    }
  fprintf (stderr, "securechat-bench: %s: ", cn->name);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

static void
bench_fail (struct bench *b, const char *why)
{
  if (!b->failed)
    {
      b->failed = true;
      snprintf (b->fail_why, sizeof b->fail_why, "%s", why);
      fprintf (stderr, "securechat-bench: %s\n", why);
    }
  finish (b);
}

static void
conn_shutdown_write (struct conn *cn)
{
  evutil_socket_t fd;

  if (cn->shut || cn->bev == NULL)
    return;
  if (evbuffer_get_length (bufferevent_get_output (cn->bev)) > 0)
    return;
  fd = bufferevent_getfd (cn->bev);
  if (fd >= 0)
    (void) shutdown (fd, SHUT_WR);
  cn->shut = true;
}

/* Queues the goodbye and waits for the server to close. */
static void
conn_quit (struct conn *cn)
{
  struct bench *b = cn->b;

  if (cn->dead || cn->bev == NULL || cn->state == CS_QUITTING)
    return;
  if (cn->state != CS_READY || b->drv->quit (cn) < 0)
    {
      /* Nothing to say goodbye with: just go. */
      cn->ok = true;
      conn_fail (cn, NULL);
      return;
    }
  cn->state = CS_QUITTING;
  /* Inside a driver's input the goodbye may not be queued yet: read_cb
   * shuts down after it. */
  if (!cn->in_cb)
    conn_shutdown_write (cn);
  if (cn->timer != NULL)
    {
      struct timeval tv = { QUIT_WAIT_MS / 1000, (QUIT_WAIT_MS % 1000) * 1000 };

      evtimer_add (cn->timer, &tv);
    }
}

static void
pair_fill (struct conn *s)
{
  struct bench *b = s->b;

  while (b->sending && s->state == CS_READY && !s->dead &&
         s->in_flight < b->window)
    {
      if (b->drv->send (s, s->next_seq, bench_mono_ns ()) < 0)
        {
          conn_fail (s, "cannot queue a message");
          return;
        }
      s->next_seq++;
      s->in_flight++;
      b->in_flight_total++;
      b->sent_total++;
    }
}

static void
in_flight_done (struct conn *s)
{
  struct bench *b = s->b;

  if (s->in_flight > 0)
    {
      s->in_flight--;
      b->in_flight_total--;
    }
  if (b->phase == PH_DRAIN && b->in_flight_total == 0)
    close_start (b);
}

/* The server refused one of s's messages (it answers in order). */
static void
core_send_error (struct conn *s)
{
  struct bench *b = s->b;

  b->send_errors++;
  if (s->role != ROLE_SENDER)
    return;
  in_flight_done (s);
  pair_fill (s);
}

/* A message arrived at receiver r. */
static void
core_delivered (struct conn *r, uint64_t seq, int64_t ts_ns)
{
  struct bench *b = r->b;
  struct conn *s = r->peer;
  int64_t now = bench_mono_ns ();

  if (r->role != ROLE_RECEIVER || s == NULL)
    {
      b->bad++;
      return;
    }
  if (seq < r->expect_seq)
    {
      b->bad++; /* duplicate or reordered */
      return;
    }
  if (seq > r->expect_seq)
    b->lost += seq - r->expect_seq;
  r->expect_seq = seq + 1;
  b->delivered_total++;
  if (b->phase == PH_MEASURE)
    {
      b->delivered++;
      bench_samples_add (&b->lat, now - ts_ns);
    }
  in_flight_done (s);
  pair_fill (s);
}

static void
open_more (struct bench *b)
{
  while (b->phase == PH_SETUP && b->next_open < b->n_setup &&
         b->setup_pending < b->connect_concurrency)
    {
      struct conn *cn = &b->conns[b->next_open++];

      b->setup_pending++;
      conn_open (cn);
    }
}

/* Registration or login finished. */
static void
core_ready (struct conn *cn)
{
  struct bench *b = cn->b;

  if (cn->state != CS_REGISTERING)
    return;
  cn->state = CS_READY;
  switch (cn->role)
    {
    case ROLE_SENDER:
    case ROLE_RECEIVER:
    case ROLE_IDLE:
      if (!cn->setup_counted)
        {
          cn->setup_counted = true;
          b->setup_pending--;
          b->setup_ready++;
        }
      if (b->phase == PH_SETUP)
        {
          if (b->setup_ready == b->n_setup)
            setup_complete (b);
          else
            open_more (b);
        }
      break;
    case ROLE_CHURN:
    case ROLE_STORM:
      b->ops_total++;
      if (b->phase == PH_MEASURE)
        {
          b->ops++;
          bench_samples_add (&b->op_lat, bench_mono_ns () - cn->opened_ns);
        }
      conn_quit (cn);
      break;
    }
}

static void
conn_close (struct conn *cn)
{
  struct bench *b = cn->b;

  if (cn->timer != NULL)
    evtimer_del (cn->timer);
  if (cn->bev == NULL)
    return;
  b->drv->reset (cn);
  bufferevent_free (cn->bev);
  cn->bev = NULL;
  cn->state = CS_CLOSED;
  if (cn->role == ROLE_SENDER)
    {
      b->in_flight_total -= cn->in_flight;
      cn->in_flight = 0;
    }
  b->open_conns--;
}

/* After a connection closed: what its role does next. */
static void
conn_after (struct conn *cn)
{
  struct bench *b = cn->b;

  switch (cn->role)
    {
    case ROLE_SENDER:
    case ROLE_RECEIVER:
    case ROLE_IDLE:
      if (!cn->setup_counted)
        {
          cn->setup_counted = true;
          b->setup_pending--;
        }
      if (b->phase == PH_SETUP)
        {
          char why[256];

          snprintf (why, sizeof why,
                    "%s could not connect and log in: %s; setting up "
                    "failed",
                    cn->name, cn->sc_why[0] ? cn->sc_why : "see above");
          bench_fail (b, why);
          return;
        }
      if (!cn->ok && b->phase < PH_CLOSE)
        {
          b->broken++;
          if (cn->role == ROLE_RECEIVER && cn->peer != NULL)
            {
              /* Its partner's messages can no longer arrive. */
              b->in_flight_total -= cn->peer->in_flight;
              cn->peer->in_flight = 0;
              if (b->phase == PH_DRAIN && b->in_flight_total == 0)
                close_start (b);
            }
        }
      break;
    case ROLE_CHURN:
    case ROLE_STORM:
      if (!cn->ok && cn->retry_ms == 0 && b->phase == PH_MEASURE)
        b->op_failures++;
      if (b->phase < PH_DRAIN)
        {
          int64_t ms = cn->ok ? 0 : RETRY_MS;
          struct timeval tv;

          if (cn->retry_ms > ms)
            ms = cn->retry_ms > 1000 ? 1000 : cn->retry_ms;
          cn->retry_ms = 0;
          if (ms == 0)
            conn_open (cn);
          else
            {
              tv.tv_sec = (time_t) (ms / 1000);
              tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
              evtimer_add (cn->timer, &tv);
            }
        }
      break;
    }
  if (b->phase == PH_CLOSE && b->open_conns == 0)
    finish (b);
  else if (b->open_conns == 0 && b->n_setup > 0 && b->phase > PH_SETUP &&
           b->phase < PH_CLOSE && b->mode != MODE_LOGIN)
    bench_fail (b, "every connection closed before the end of the run");
}

static void
reaper_cb (evutil_socket_t fd, short what, void *arg)
{
  struct bench *b = arg;

  (void) fd;
  (void) what;
  while (b->n_dead > 0)
    {
      struct conn *cn = &b->conns[b->dead[--b->n_dead]];

      conn_close (cn);
      cn->dead = false;
      conn_after (cn);
      if (b->phase == PH_DONE)
        return;
    }
}

/* Marks the connection for closing; the reaper closes it outside any
 * callback of its own. why == NULL: a clean end (cn->ok says so). */
static void
conn_fail (struct conn *cn, const char *why)
{
  struct bench *b = cn->b;

  if (cn->dead || cn->bev == NULL)
    return;
  cn->dead = true;
  if (why != NULL)
    {
      cn->ok = false;
      if (cn->sc_why[0] == '\0')
        snprintf (cn->sc_why, sizeof cn->sc_why, "%s", why);
      if (b->phase < PH_CLOSE && cn->retry_ms == 0)
        conn_note (cn, "%s", cn->sc_why);
    }
  bufferevent_disable (cn->bev, EV_READ | EV_WRITE);
  b->dead[b->n_dead++] = cn->id;
  event_active (b->reaper, EV_TIMEOUT, 0);
}

/* Acknowledges at once what was read. Without it a receiver, which only
 * reads, delays its ACKs (40 ms on Linux), and a server that leaves
 * Nagle's algorithm on (ngircd) then holds back its next small write
 * until that ACK: latency would measure the two timers, not the server.
 * Linux clears the flag by itself, so it is set after every read. */
static void
quickack (struct bufferevent *bev)
{
#ifdef TCP_QUICKACK
  evutil_socket_t fd = bufferevent_getfd (bev);
  int one = 1;

  if (fd >= 0)
    (void) setsockopt (fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
  (void) bev;
#endif
}

static void
read_cb (struct bufferevent *bev, void *arg)
{
  struct conn *cn = arg;
  int rc;

  if (cn->dead)
    return;
  quickack (bev);
  cn->in_cb = true;
  rc = cn->b->drv->input (cn, bufferevent_get_input (bev));
  cn->in_cb = false;
  if (rc < 0)
    conn_fail (cn, cn->sc_why[0] ? cn->sc_why : "protocol error");
  else if (!cn->dead && cn->state == CS_QUITTING)
    conn_shutdown_write (cn);
}

static void
write_cb (struct bufferevent *bev, void *arg)
{
  struct conn *cn = arg;

  (void) bev;
  if (!cn->dead && cn->state == CS_QUITTING)
    conn_shutdown_write (cn);
}

static void
describe_tls (struct conn *cn)
{
  struct bench *b = cn->b;
  SSL *ssl = bufferevent_openssl_get_ssl (cn->bev);

  if (ssl == NULL || b->tls_desc[0] != '\0')
    return;
  snprintf (b->tls_desc, sizeof b->tls_desc, "%s %s", SSL_get_version (ssl),
            SSL_get_cipher_name (ssl));
}

static void
event_cb (struct bufferevent *bev, short what, void *arg)
{
  struct conn *cn = arg;
  struct bench *b = cn->b;
  char why[200];

  if (cn->dead)
    return;
  if (what & BEV_EVENT_CONNECTED)
    {
      evutil_socket_t fd = bufferevent_getfd (bev);
      int one = 1;

      if (fd >= 0)
        (void) setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (b->tls)
        describe_tls (cn);
      cn->state = CS_REGISTERING;
      cn->in_cb = true;
      if (b->drv->start (cn) < 0)
        {
          cn->in_cb = false;
          conn_fail (cn, cn->sc_why[0] ? cn->sc_why : "cannot start");
          return;
        }
      cn->in_cb = false;
      return;
    }
  if (what & BEV_EVENT_EOF)
    {
      if (cn->state == CS_QUITTING)
        {
          cn->ok = true;
          conn_fail (cn, NULL);
        }
      else
        conn_fail (cn, "the server closed the connection");
      return;
    }
  if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
    {
      unsigned long e = b->tls ? bufferevent_get_openssl_error (bev) : 0;

      if (cn->state == CS_QUITTING)
        {
          /* A reset after our goodbye is still a goodbye. */
          cn->ok = true;
          conn_fail (cn, NULL);
          return;
        }
      if (e != 0)
        {
          char err[160];

          ERR_error_string_n (e, err, sizeof err);
          snprintf (why, sizeof why, "TLS: %s", err);
        }
      else
        snprintf (why, sizeof why, "%s",
                  evutil_socket_error_to_string (EVUTIL_SOCKET_ERROR ()));
      conn_fail (cn, why);
    }
}

static void
slot_timer_cb (evutil_socket_t fd, short what, void *arg)
{
  struct conn *cn = arg;

  (void) fd;
  (void) what;
  if (cn->bev == NULL)
    {
      if (cn->b->phase < PH_DRAIN)
        conn_open (cn);
      return;
    }
  if (cn->state == CS_QUITTING)
    {
      /* The server did not close after our goodbye; we do. */
      cn->ok = true;
      conn_fail (cn, NULL);
    }
}

static void
conn_open (struct conn *cn)
{
  struct bench *b = cn->b;
  SSL *ssl = NULL;

  cn->state = CS_CONNECTING;
  cn->ok = false;
  cn->shut = false;
  cn->dead = false;
  cn->sc_closed = false;
  cn->sc_why[0] = '\0';
  cn->mqtt_connacked = false;
  cn->opened_ns = bench_mono_ns ();
  cn->last_tx_ns = cn->opened_ns;
  if (b->tls)
    {
      ssl = SSL_new (b->ssl_ctx);
      if (ssl == NULL)
        goto fail;
      if (b->host_is_ip)
        X509_VERIFY_PARAM_set1_ip_asc (SSL_get0_param (ssl), b->host);
      else
        {
          X509_VERIFY_PARAM_set1_host (SSL_get0_param (ssl), b->host, 0);
          SSL_set_tlsext_host_name (ssl, b->host);
        }
      cn->bev = bufferevent_openssl_socket_new (
          b->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
      /* A server that closes without close_notify has still closed. */
      if (cn->bev != NULL)
        bufferevent_openssl_set_allow_dirty_shutdown (cn->bev, 1);
    }
  else
    cn->bev = bufferevent_socket_new (b->base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (cn->bev == NULL)
    {
      if (ssl != NULL)
        SSL_free (ssl);
      goto fail;
    }
  b->open_conns++;
  bufferevent_setcb (cn->bev, read_cb, write_cb, event_cb, cn);
  bufferevent_enable (cn->bev, EV_READ | EV_WRITE);
  if (bufferevent_socket_connect (cn->bev, (struct sockaddr *) &b->addr,
                                  (int) b->addr_len) < 0)
    {
      conn_fail (cn, "cannot connect");
      return;
    }
  return;

fail:
  /* Out of memory or descriptors: nothing to reap, account directly. */
  snprintf (cn->sc_why, sizeof cn->sc_why, "cannot create a connection");
  conn_note (cn, "cannot create a connection");
  cn->state = CS_CLOSED;
  if (cn->role == ROLE_CHURN || cn->role == ROLE_STORM)
    {
      struct timeval tv = { 0, RETRY_MS * 1000 };

      if (b->phase == PH_MEASURE)
        b->op_failures++;
      evtimer_add (cn->timer, &tv);
      return;
    }
  bench_fail (b, "cannot create a connection (out of memory or file "
                 "descriptors?)");
}

/* -- phases ------------------------------------------------------------- */

static void
arm_phase_timer (struct bench *b, unsigned ms)
{
  struct timeval tv = { ms / 1000, (suseconds_t) (ms % 1000) * 1000 };

  evtimer_add (b->phase_timer, &tv);
}

static void
sample_server (struct bench *b, bool start)
{
  uint64_t ticks = 0;

  if (b->server_pid <= 0)
    return;
  if (!bench_proc_cpu_ticks (b->server_pid, &ticks))
    {
      b->have_cpu = false;
      return;
    }
  if (start)
    {
      b->cpu0 = ticks;
      b->have_cpu = true;
    }
  else
    {
      b->cpu1 = ticks;
      bench_proc_mem (b->server_pid, &b->rss_end, &b->hwm_end);
    }
}

static void
setup_complete (struct bench *b)
{
  b->t_setup_done = bench_mono_ns ();
  if (b->server_pid > 0 && b->have_setup_cpu &&
      !bench_proc_cpu_ticks (b->server_pid, &b->cpu_setup1))
    b->have_setup_cpu = false;
  b->phase = PH_WARMUP;
  if (b->mode == MODE_RELAY || b->mode == MODE_LOGIN)
    {
      b->sending = true;
      for (size_t i = 0; i < b->n_setup; i++)
        if (b->conns[i].role == ROLE_SENDER)
          pair_fill (&b->conns[i]);
    }
  for (size_t i = b->n_setup; i < b->n_conns; i++)
    conn_open (&b->conns[i]);
  arm_phase_timer (b, b->warmup_ms);
}

static void
measure_start (struct bench *b)
{
  b->phase = PH_MEASURE;
  b->t0 = bench_mono_ns ();
  getrusage (RUSAGE_SELF, &b->ru0);
  sample_server (b, true);
  arm_phase_timer (b, b->duration_ms);
}

static void
measure_end (struct bench *b)
{
  b->t1 = bench_mono_ns ();
  getrusage (RUSAGE_SELF, &b->ru1);
  sample_server (b, false);
  b->phase = PH_DRAIN;
  b->sending = false;
  if (b->in_flight_total == 0)
    close_start (b);
  else
    arm_phase_timer (b, DRAIN_MS);
}

static void
close_start (struct bench *b)
{
  if (b->phase >= PH_CLOSE)
    return;
  b->phase = PH_CLOSE;
  evtimer_del (b->phase_timer);
  for (size_t i = 0; i < b->n_conns; i++)
    {
      struct conn *cn = &b->conns[i];

      if (cn->timer != NULL && cn->bev == NULL)
        evtimer_del (cn->timer);
      if (cn->bev == NULL || cn->dead)
        continue;
      if (cn->state == CS_READY)
        conn_quit (cn);
      else if (cn->state != CS_QUITTING)
        {
          cn->ok = true;
          conn_fail (cn, NULL);
        }
    }
  if (b->open_conns == 0)
    finish (b);
  else
    arm_phase_timer (b, CLOSE_MS);
}

static void
finish (struct bench *b)
{
  if (b->phase == PH_DONE)
    return;
  if (b->t1 == 0 && b->t0 != 0)
    {
      b->t1 = bench_mono_ns ();
      getrusage (RUSAGE_SELF, &b->ru1);
      sample_server (b, false);
    }
  b->phase = PH_DONE;
  event_base_loopexit (b->base, NULL);
}

static void
phase_timer_cb (evutil_socket_t fd, short what, void *arg)
{
  struct bench *b = arg;

  (void) fd;
  (void) what;
  switch (b->phase)
    {
    case PH_SETUP:
      {
        char why[256];

        snprintf (why, sizeof why,
                  "only %zu of %zu connections were ready after %u s; "
                  "setting up failed",
                  b->setup_ready, b->n_setup, b->setup_timeout_ms / 1000);
        bench_fail (b, why);
      }
      break;
    case PH_WARMUP:
      measure_start (b);
      break;
    case PH_MEASURE:
      measure_end (b);
      break;
    case PH_DRAIN:
      close_start (b);
      break;
    case PH_CLOSE:
      finish (b);
      break;
    case PH_DONE:
      break;
    }
}

static void
tick_cb (evutil_socket_t fd, short what, void *arg)
{
  struct bench *b = arg;
  int64_t now = bench_mono_ns ();

  (void) fd;
  (void) what;
  for (size_t i = 0; i < b->n_conns; i++)
    {
      struct conn *cn = &b->conns[i];

      if (cn->bev != NULL && !cn->dead && cn->state >= CS_REGISTERING)
        b->drv->tick (cn, now);
    }
}

/* -- driver: securechat -------------------------------------------------- */

static void
sc_flush (struct conn *cn)
{
  struct evbuffer *out = bufferevent_get_output (cn->bev);

  for (;;)
    {
      size_t len = 0;
      const uint8_t *p = sc_client_pending (cn->sc, &len);

      if (len == 0)
        return;
      if (evbuffer_add (out, p, len) < 0)
        {
          conn_fail (cn, "out of memory");
          return;
        }
      sc_client_consume (cn->sc, len);
    }
}

static int
sc_verify_cb (void *ud, const uint8_t pub[SC_X25519_LEN], const char *fp)
{
  struct conn *cn = ud;

  (void) pub;
  if (!sc_fingerprint_equal (fp, cn->b->fingerprint))
    {
      snprintf (cn->sc_why, sizeof cn->sc_why,
                "the server key %s is not the pinned one", fp);
      return -1;
    }
  return 0;
}

static void
sc_logged_in_cb (void *ud, const char *user)
{
  (void) user;
  core_ready (ud);
}

static void
sc_message_cb (void *ud,
               uint64_t id,
               const char *from,
               int64_t ts,
               const uint8_t *body,
               size_t body_len)
{
  struct conn *cn = ud;

  (void) id;
  (void) ts;
  if (cn->peer == NULL || strcmp (from, cn->peer->name) != 0 ||
      body_len != cn->b->body_len)
    {
      cn->b->bad++;
      return;
    }
  core_delivered (cn, bench_get_be64 (body),
                  (int64_t) bench_get_be64 (body + 8));
}

static void
sc_sent_cb (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  struct conn *cn = ud;

  (void) ref;
  (void) id;
  (void) ts;
  cn->b->acked_total++;
}

static void
sc_error_cb (void *ud, const struct sc_msg_error *e)
{
  struct conn *cn = ud;

  if (e->has_ref)
    {
      core_send_error (cn);
      return;
    }
  if (e->code == SC_CODE_SERVER_BUSY || e->code == SC_CODE_RATE_LIMITED)
    {
      /* Load shedding, not a failure: the client retries later. */
      cn->b->busy++;
      cn->retry_ms = e->retry_after > 0 ? e->retry_after : 1;
      return;
    }
  cn->b->server_errors++;
  snprintf (cn->sc_why, sizeof cn->sc_why, "server error %s: %.100s",
            sc_code_name (e->code), e->message);
}

static void
sc_closed_cb (void *ud, int err, enum sc_code code, const char *message)
{
  struct conn *cn = ud;

  cn->sc_closed = true;
  if (err == SC_OK)
    snprintf (cn->sc_why, sizeof cn->sc_why, "the server said bye (%s): %.100s",
              sc_code_name (code), message != NULL ? message : "");
  else if (cn->sc_why[0] == '\0')
    snprintf (cn->sc_why, sizeof cn->sc_why, "session closed: %s",
              sc_strerror (err));
}

static const struct sc_client_callbacks sc_callbacks = {
  .verify_server_key = sc_verify_cb,
  .logged_in = sc_logged_in_cb,
  .message = sc_message_cb,
  .sent = sc_sent_cb,
  .error = sc_error_cb,
  .closed = sc_closed_cb,
};

static int
sc_start (struct conn *cn)
{
  struct sc_client_config cfg;
  int rc;

  memset (&cfg, 0, sizeof cfg);
  cfg.user = cn->name;
  cfg.password = cn->b->password;
  cfg.agent = AGENT;
  rc = sc_client_new (&cfg, &sc_callbacks, cn, &cn->sc);
  if (rc == SC_OK)
    rc = sc_client_start (cn->sc, bench_mono_ns () / 1000000);
  if (rc < 0)
    {
      snprintf (cn->sc_why, sizeof cn->sc_why, "cannot start a session: %s",
                sc_strerror (rc));
      return -1;
    }
  sc_flush (cn);
  return 0;
}

static int
sc_input (struct conn *cn, struct evbuffer *in)
{
  int64_t now_ms = bench_mono_ns () / 1000000;

  while (evbuffer_get_length (in) > 0)
    {
      struct evbuffer_iovec v;
      int rc;

      if (evbuffer_peek (in, -1, NULL, &v, 1) < 1)
        break;
      rc = sc_client_recv (cn->sc, v.iov_base, v.iov_len, now_ms);
      evbuffer_drain (in, v.iov_len);
      if (rc < 0 || cn->sc_closed)
        return -1;
    }
  if (cn->state == CS_QUITTING && sc_client_state (cn->sc) == SC_CLIENT_CLOSED)
    return 0;
  sc_flush (cn);
  return 0;
}

static int
sc_send (struct conn *cn, uint64_t seq, int64_t ts_ns)
{
  struct bench *b = cn->b;
  uint64_t ref = 0;
  int rc;

  bench_put_be64 (b->body, seq);
  bench_put_be64 (b->body + 8, (uint64_t) ts_ns);
  rc = sc_client_send (cn->sc, cn->peer->name, b->body, b->body_len, &ref);
  if (rc < 0)
    {
      snprintf (cn->sc_why, sizeof cn->sc_why, "cannot send: %s",
                sc_strerror (rc));
      return -1;
    }
  if (!cn->in_cb)
    sc_flush (cn);
  return 0;
}

static int
sc_quit (struct conn *cn)
{
  if (sc_client_quit (cn->sc) < 0)
    return -1;
  if (!cn->in_cb)
    sc_flush (cn);
  return 0;
}

static void
sc_tick (struct conn *cn, int64_t now_ns)
{
  if (cn->sc == NULL)
    return;
  (void) sc_client_tick (cn->sc, now_ns / 1000000);
  if (cn->sc_closed || (sc_client_state (cn->sc) == SC_CLIENT_CLOSED &&
                        cn->state != CS_QUITTING))
    {
      conn_fail (cn, cn->sc_why[0] ? cn->sc_why : "the session timed out");
      return;
    }
  sc_flush (cn);
}

static void
sc_reset (struct conn *cn)
{
  sc_client_free (cn->sc);
  cn->sc = NULL;
}

static const struct driver driver_securechat = {
  .name = "securechat",
  .start = sc_start,
  .input = sc_input,
  .send = sc_send,
  .quit = sc_quit,
  .tick = sc_tick,
  .reset = sc_reset,
};

/* -- text payloads (line, irc, mqtt) ------------------------------------- */

/* The payload: sequence number and send time as 32 hex digits, then
 * filler up to the size of a real end-to-end body. */
static int
text_payload_add (struct evbuffer *out,
                  const struct bench *b,
                  uint64_t seq,
                  int64_t ts_ns)
{
  char stamp[STAMP_HEX_LEN];

  put_hex64 (stamp, seq);
  put_hex64 (stamp + 16, (uint64_t) ts_ns);
  if (evbuffer_add (out, stamp, sizeof stamp) < 0 ||
      evbuffer_add (out, b->filler, b->payload_len - STAMP_HEX_LEN) < 0)
    return -1;
  return 0;
}

static void
text_payload_got (struct conn *cn, const char *p, size_t len)
{
  uint64_t seq;
  uint64_t ts;

  if (len != cn->b->payload_len || get_hex64 (p, &seq) < 0 ||
      get_hex64 (p + 16, &ts) < 0)
    {
      cn->b->bad++;
      return;
    }
  core_delivered (cn, seq, (int64_t) ts);
}

/* One line of in, without its end, or NULL (*need: more input, else a
 * line over max). */
static char *
line_next (struct evbuffer *in,
           size_t max,
           size_t *len,
           size_t *eol_len,
           bool *too_long)
{
  struct evbuffer_ptr pos;
  size_t el = 0;

  *too_long = false;
  pos = evbuffer_search_eol (in, NULL, &el, EVBUFFER_EOL_CRLF);
  if (pos.pos < 0)
    {
      if (evbuffer_get_length (in) > max)
        *too_long = true;
      return NULL;
    }
  if ((size_t) pos.pos > max)
    {
      *too_long = true;
      return NULL;
    }
  *len = (size_t) pos.pos;
  *eol_len = el;
  return (char *) evbuffer_pullup (in, (ev_ssize_t) (pos.pos + el));
}

/* -- driver: line (sc-relay) --------------------------------------------- */

static int
line_start (struct conn *cn)
{
  return evbuffer_add_printf (bufferevent_get_output (cn->bev), "LOGIN %s\n",
                              cn->name) < 0
             ? -1
             : 0;
}

static int
line_input (struct conn *cn, struct evbuffer *in)
{
  for (;;)
    {
      size_t len = 0;
      size_t el = 0;
      bool too_long;
      char *l = line_next (in, LINE_LINE_MAX, &len, &el, &too_long);

      if (l == NULL)
        {
          if (too_long)
            {
              snprintf (cn->sc_why, sizeof cn->sc_why,
                        "a line longer than %d bytes", LINE_LINE_MAX);
              return -1;
            }
          return 0;
        }
      if (len > 5 && memcmp (l, "FROM ", 5) == 0)
        {
          const char *sp = memchr (l + 5, ' ', len - 5);
          size_t nlen = sp != NULL ? (size_t) (sp - (l + 5)) : 0;

          if (sp == NULL || cn->peer == NULL ||
              strlen (cn->peer->name) != nlen ||
              memcmp (l + 5, cn->peer->name, nlen) != 0)
            cn->b->bad++;
          else
            text_payload_got (cn, sp + 1, len - (size_t) (sp + 1 - l));
        }
      else if (len >= 2 && memcmp (l, "OK", 2) == 0)
        core_ready (cn);
      else if (len >= 3 && memcmp (l, "ERR", 3) == 0)
        {
          if (cn->state != CS_READY)
            {
              snprintf (cn->sc_why, sizeof cn->sc_why, "refused: %.*s",
                        (int) (len < 100 ? len : 100), l);
              return -1;
            }
          core_send_error (cn);
        }
      else
        {
          snprintf (cn->sc_why, sizeof cn->sc_why, "unexpected line: %.*s",
                    (int) (len < 60 ? len : 60), l);
          return -1;
        }
      evbuffer_drain (in, len + el);
      if (cn->dead)
        return 0;
    }
}

static int
line_send (struct conn *cn, uint64_t seq, int64_t ts_ns)
{
  struct evbuffer *out = bufferevent_get_output (cn->bev);

  if (evbuffer_add_printf (out, "TO %s ", cn->peer->name) < 0 ||
      text_payload_add (out, cn->b, seq, ts_ns) < 0 ||
      evbuffer_add (out, "\n", 1) < 0)
    return -1;
  return 0;
}

static int
line_quit (struct conn *cn)
{
  (void) cn;
  return 0; /* the protocol ends with EOF */
}

static void
line_tick (struct conn *cn, int64_t now_ns)
{
  (void) cn;
  (void) now_ns;
}

static void
line_reset (struct conn *cn)
{
  (void) cn;
}

static const struct driver driver_line = {
  .name = "line",
  .start = line_start,
  .input = line_input,
  .send = line_send,
  .quit = line_quit,
  .tick = line_tick,
  .reset = line_reset,
};

/* -- driver: irc --------------------------------------------------------- */

static int
irc_start (struct conn *cn)
{
  return evbuffer_add_printf (bufferevent_get_output (cn->bev),
                              "NICK %s\r\nUSER %s 0 * :securechat-bench\r\n",
                              cn->name, cn->name) < 0
             ? -1
             : 0;
}

/* Splits one IRC line (RFC 1459 section 2.3.1, with IRCv3 tags) into
 * the source nick, the command and the parameters after it. */
static int
irc_parse (char *l,
           size_t len,
           const char **nick,
           size_t *nick_len,
           const char **cmd,
           size_t *cmd_len,
           const char **rest,
           size_t *rest_len)
{
  size_t i = 0;

  *nick = NULL;
  *nick_len = 0;
  if (i < len && l[i] == '@')
    {
      while (i < len && l[i] != ' ')
        i++;
      while (i < len && l[i] == ' ')
        i++;
    }
  if (i < len && l[i] == ':')
    {
      size_t s = ++i;

      while (i < len && l[i] != ' ')
        i++;
      *nick = l + s;
      *nick_len = i - s;
      for (size_t k = s; k < i; k++)
        if (l[k] == '!' || l[k] == '@')
          {
            *nick_len = k - s;
            break;
          }
      while (i < len && l[i] == ' ')
        i++;
    }
  if (i >= len)
    return -1;
  *cmd = l + i;
  while (i < len && l[i] != ' ')
    i++;
  *cmd_len = (size_t) (l + i - *cmd);
  while (i < len && l[i] == ' ')
    i++;
  *rest = l + i;
  *rest_len = len - i;
  return 0;
}

static bool
irc_is (const char *cmd, size_t len, const char *word)
{
  return strlen (word) == len && memcmp (cmd, word, len) == 0;
}

/* The trailing parameter (after " :"), or the last one. */
static const char *
irc_trailing (const char *rest, size_t len, size_t *out_len)
{
  if (len > 0 && rest[0] == ':')
    {
      *out_len = len - 1;
      return rest + 1;
    }
  for (size_t i = 0; i + 1 < len; i++)
    if (rest[i] == ' ' && rest[i + 1] == ':')
      {
        *out_len = len - i - 2;
        return rest + i + 2;
      }
  for (size_t i = len; i > 0; i--)
    if (rest[i - 1] == ' ')
      {
        *out_len = len - i;
        return rest + i;
      }
  *out_len = len;
  return rest;
}

static int
irc_line (struct conn *cn, char *l, size_t len)
{
  struct evbuffer *out = bufferevent_get_output (cn->bev);
  const char *nick;
  const char *cmd;
  const char *rest;
  size_t nick_len;
  size_t cmd_len;
  size_t rest_len;

  if (len == 0)
    return 0;
  if (irc_parse (l, len, &nick, &nick_len, &cmd, &cmd_len, &rest, &rest_len) <
      0)
    {
      snprintf (cn->sc_why, sizeof cn->sc_why, "unparsable IRC line");
      return -1;
    }
  if (irc_is (cmd, cmd_len, "PING"))
    return evbuffer_add_printf (out, "PONG %.*s\r\n", (int) rest_len, rest) < 0
               ? -1
               : 0;
  if (irc_is (cmd, cmd_len, "PRIVMSG"))
    {
      size_t tlen = 0;
      const char *t = irc_trailing (rest, rest_len, &tlen);

      if (cn->peer == NULL || nick == NULL ||
          nick_len != strlen (cn->peer->name) ||
          memcmp (nick, cn->peer->name, nick_len) != 0)
        cn->b->bad++;
      else
        text_payload_got (cn, t, tlen);
      return 0;
    }
  if (irc_is (cmd, cmd_len, "ERROR"))
    {
      if (cn->state == CS_QUITTING)
        return 0;
      snprintf (cn->sc_why, sizeof cn->sc_why, "server ERROR %.*s",
                (int) (rest_len < 120 ? rest_len : 120), rest);
      return -1;
    }
  if (cmd_len == 3 && cmd[0] >= '0' && cmd[0] <= '9')
    {
      int num = (cmd[0] - '0') * 100 + (cmd[1] - '0') * 10 + (cmd[2] - '0');

      if (num == 1)
        {
          core_ready (cn);
          return 0;
        }
      /* 422: no message of the day, informational. */
      if (num >= 400 && num < 600 && num != 422)
        {
          if (cn->state == CS_REGISTERING)
            {
              snprintf (cn->sc_why, sizeof cn->sc_why,
                        "registration refused: %03d %.*s", num,
                        (int) (rest_len < 120 ? rest_len : 120), rest);
              return -1;
            }
          if (num == 401 || num == 404 || num == 412)
            core_send_error (cn);
          else
            {
              cn->b->server_errors++;
              conn_note (cn, "server error %03d %.*s", num,
                         (int) (rest_len < 120 ? rest_len : 120), rest);
            }
        }
    }
  return 0; /* NOTICE, MODE, numerics of the welcome burst, ... */
}

static int
irc_input (struct conn *cn, struct evbuffer *in)
{
  for (;;)
    {
      size_t len = 0;
      size_t el = 0;
      bool too_long;
      char *l = line_next (in, IRC_LINE_MAX, &len, &el, &too_long);

      if (l == NULL)
        {
          if (too_long)
            {
              snprintf (cn->sc_why, sizeof cn->sc_why,
                        "an IRC line longer than %d bytes", IRC_LINE_MAX);
              return -1;
            }
          return 0;
        }
      if (irc_line (cn, l, len) < 0)
        return -1;
      evbuffer_drain (in, len + el);
      if (cn->dead)
        return 0;
    }
}

static int
irc_send (struct conn *cn, uint64_t seq, int64_t ts_ns)
{
  struct evbuffer *out = bufferevent_get_output (cn->bev);

  if (evbuffer_add_printf (out, "PRIVMSG %s :", cn->peer->name) < 0 ||
      text_payload_add (out, cn->b, seq, ts_ns) < 0 ||
      evbuffer_add (out, "\r\n", 2) < 0)
    return -1;
  return 0;
}

static int
irc_quit (struct conn *cn)
{
  return evbuffer_add (bufferevent_get_output (cn->bev), "QUIT :bye\r\n", 11);
}

static const struct driver driver_irc = {
  .name = "irc",
  .start = irc_start,
  .input = irc_input,
  .send = irc_send,
  .quit = irc_quit,
  .tick = line_tick,
  .reset = line_reset,
};

/* -- driver: mqtt (3.1.1, QoS 0) ----------------------------------------- */

/* The fixed header: type and flags, then the remaining length in 1-4
 * bytes of 7 bits each (section 2.2.3). */
static size_t
mqtt_header (uint8_t *p, unsigned type, unsigned flags, size_t remaining)
{
  size_t n = 0;

  p[n++] = (uint8_t) (type << 4 | flags);
  do
    {
      uint8_t d = (uint8_t) (remaining % 128);

      remaining /= 128;
      if (remaining > 0)
        d |= 0x80;
      p[n++] = d;
    }
  while (remaining > 0 && n < 5);
  return n;
}

static void
mqtt_put16 (uint8_t *p, size_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) (v & 0xff);
}

static int
mqtt_add_string (struct evbuffer *out, const char *s, size_t len)
{
  uint8_t l[2];

  mqtt_put16 (l, len);
  if (evbuffer_add (out, l, 2) < 0 || evbuffer_add (out, s, len) < 0)
    return -1;
  return 0;
}

static int
mqtt_start (struct conn *cn)
{
  static const uint8_t proto[] = { 0, 4, 'M', 'Q', 'T', 'T', 4 };
  struct evbuffer *out = bufferevent_get_output (cn->bev);
  size_t id_len = strlen (cn->name);
  uint8_t hdr[5];
  uint8_t flags_ka[3];
  size_t n;

  /* Variable header: protocol name and level, flags (clean session),
   * keep alive; payload: the client identifier. */
  n = mqtt_header (hdr, MQTT_CONNECT, 0, sizeof proto + 3 + 2 + id_len);
  flags_ka[0] = 0x02;
  flags_ka[1] = (uint8_t) (MQTT_KEEPALIVE_S >> 8);
  flags_ka[2] = (uint8_t) (MQTT_KEEPALIVE_S & 0xff);
  if (evbuffer_add (out, hdr, n) < 0 ||
      evbuffer_add (out, proto, sizeof proto) < 0 ||
      evbuffer_add (out, flags_ka, 3) < 0 ||
      mqtt_add_string (out, cn->name, id_len) < 0)
    return -1;
  cn->last_tx_ns = bench_mono_ns ();
  return 0;
}

static int
mqtt_subscribe (struct conn *cn)
{
  struct evbuffer *out = bufferevent_get_output (cn->bev);
  char topic[sizeof MQTT_TOPIC_PREFIX + SC_USERNAME_MAX];
  int tlen = snprintf (topic, sizeof topic, MQTT_TOPIC_PREFIX "%s", cn->name);
  uint8_t hdr[5];
  uint8_t id[2];
  uint8_t qos = 0;
  size_t n;

  cn->mqtt_sub_id = 1;
  n = mqtt_header (hdr, MQTT_SUBSCRIBE, 2, 2 + 2 + (size_t) tlen + 1);
  mqtt_put16 (id, cn->mqtt_sub_id);
  if (evbuffer_add (out, hdr, n) < 0 || evbuffer_add (out, id, 2) < 0 ||
      mqtt_add_string (out, topic, (size_t) tlen) < 0 ||
      evbuffer_add (out, &qos, 1) < 0)
    return -1;
  return 0;
}

static int
mqtt_packet (
    struct conn *cn, unsigned type, unsigned flags, uint8_t *p, size_t len)
{
  switch (type)
    {
    case MQTT_CONNACK:
      if (flags != 0 || len != 2 || cn->mqtt_connacked)
        goto bad;
      if (p[1] != 0)
        {
          snprintf (cn->sc_why, sizeof cn->sc_why,
                    "the broker refused the connection (code %u)", p[1]);
          return -1;
        }
      cn->mqtt_connacked = true;
      return mqtt_subscribe (cn);
    case MQTT_SUBACK:
      if (flags != 0 || len != 3 || !cn->mqtt_connacked ||
          (((unsigned) p[0] << 8) | p[1]) != cn->mqtt_sub_id)
        goto bad;
      if (p[2] != 0)
        {
          snprintf (cn->sc_why, sizeof cn->sc_why,
                    "the broker refused the subscription (code 0x%02x)", p[2]);
          return -1;
        }
      core_ready (cn);
      return 0;
    case MQTT_PUBLISH:
      {
        unsigned qos = (flags >> 1) & 3;
        size_t tlen;
        size_t off;
        char want[sizeof MQTT_TOPIC_PREFIX + SC_USERNAME_MAX];
        int wlen;

        /* We subscribed at QoS 0: anything else is the broker's error. */
        if (qos != 0 || (flags & 0x08) != 0 || len < 2)
          goto bad;
        tlen = ((size_t) p[0] << 8) | p[1];
        if (tlen > len - 2)
          goto bad;
        off = 2 + tlen;
        wlen = snprintf (want, sizeof want, MQTT_TOPIC_PREFIX "%s", cn->name);
        if ((size_t) wlen != tlen || memcmp (p + 2, want, tlen) != 0)
          {
            cn->b->bad++;
            return 0;
          }
        text_payload_got (cn, (const char *) p + off, len - off);
        return 0;
      }
    case MQTT_PINGRESP:
      if (flags != 0 || len != 0)
        goto bad;
      return 0;
    default:
      break;
    }
bad:
  snprintf (cn->sc_why, sizeof cn->sc_why,
            "a malformed or unexpected MQTT packet (type %u, %zu bytes)", type,
            len);
  return -1;
}

static int
mqtt_input (struct conn *cn, struct evbuffer *in)
{
  for (;;)
    {
      size_t avail = evbuffer_get_length (in);
      uint8_t hdr[5];
      size_t have = avail < sizeof hdr ? avail : sizeof hdr;
      size_t remaining = 0;
      size_t hlen = 0;
      unsigned mult = 1;
      uint8_t *p;

      if (avail < 2)
        return 0;
      evbuffer_copyout (in, hdr, have);
      for (size_t i = 1;; i++)
        {
          if (i >= have)
            {
              if (have == sizeof hdr)
                goto bad_length; /* a fifth length byte */
              return 0;          /* more to come */
            }
          remaining += (size_t) (hdr[i] & 0x7f) * mult;
          mult *= 128;
          if ((hdr[i] & 0x80) == 0)
            {
              hlen = i + 1;
              break;
            }
        }
      if (remaining > MQTT_PACKET_MAX)
        goto bad_length;
      if (avail < hlen + remaining)
        return 0;
      p = evbuffer_pullup (in, (ev_ssize_t) (hlen + remaining));
      if (p == NULL)
        {
          snprintf (cn->sc_why, sizeof cn->sc_why, "out of memory");
          return -1;
        }
      if (mqtt_packet (cn, hdr[0] >> 4, hdr[0] & 0x0f, p + hlen, remaining) < 0)
        return -1;
      evbuffer_drain (in, hlen + remaining);
      if (cn->dead)
        return 0;
    }

bad_length:
  snprintf (cn->sc_why, sizeof cn->sc_why,
            "an MQTT packet longer than %d bytes or a bad length",
            MQTT_PACKET_MAX);
  return -1;
}

static int
mqtt_send (struct conn *cn, uint64_t seq, int64_t ts_ns)
{
  struct bench *b = cn->b;
  struct evbuffer *out = bufferevent_get_output (cn->bev);
  char topic[sizeof MQTT_TOPIC_PREFIX + SC_USERNAME_MAX];
  int tlen =
      snprintf (topic, sizeof topic, MQTT_TOPIC_PREFIX "%s", cn->peer->name);
  uint8_t hdr[5];
  size_t n;

  /* QoS 0: no packet identifier (section 3.3.2.2). */
  n = mqtt_header (hdr, MQTT_PUBLISH, 0, 2 + (size_t) tlen + b->payload_len);
  if (evbuffer_add (out, hdr, n) < 0 ||
      mqtt_add_string (out, topic, (size_t) tlen) < 0 ||
      text_payload_add (out, b, seq, ts_ns) < 0)
    return -1;
  cn->last_tx_ns = bench_mono_ns ();
  return 0;
}

static int
mqtt_quit (struct conn *cn)
{
  static const uint8_t disconnect[] = { MQTT_DISCONNECT << 4, 0 };

  return evbuffer_add (bufferevent_get_output (cn->bev), disconnect,
                       sizeof disconnect);
}

static void
mqtt_tick (struct conn *cn, int64_t now_ns)
{
  static const uint8_t pingreq[] = { MQTT_PINGREQ << 4, 0 };

  if (now_ns - cn->last_tx_ns < (int64_t) MQTT_KEEPALIVE_S * 1000000000 / 2)
    return;
  if (evbuffer_add (bufferevent_get_output (cn->bev), pingreq, sizeof pingreq) <
      0)
    {
      conn_fail (cn, "out of memory");
      return;
    }
  cn->last_tx_ns = now_ns;
}

static const struct driver driver_mqtt = {
  .name = "mqtt",
  .start = mqtt_start,
  .input = mqtt_input,
  .send = mqtt_send,
  .quit = mqtt_quit,
  .tick = mqtt_tick,
  .reset = line_reset,
};

/* -- report -------------------------------------------------------------- */

static const char *const mode_names[] = { "relay", "idle", "login", "connect" };
static const char *const proto_names[] = { "securechat", "line", "irc",
                                           "mqtt" };

static double
tv_s (const struct timeval *tv)
{
  return (double) tv->tv_sec + (double) tv->tv_usec / 1e6;
}

struct figures
{
  double seconds;
  double msgs_per_s;
  double cpu_s; /* -1: unknown */
  double cpu_pct;
  double us_per_msg;
  double kib_per_conn;
  double ops_per_s;
  double us_per_op;
  double gen_cpu_pct;
  double setup_s;
  double setup_cpu_s; /* -1: unknown */
  uint64_t errors;
};

static void
figures_compute (struct bench *b, struct figures *f)
{
  long clk = sysconf (_SC_CLK_TCK);

  memset (f, 0, sizeof *f);
  f->seconds = b->t1 > b->t0 ? (double) (b->t1 - b->t0) / 1e9 : 0.0;
  f->cpu_s = -1.0;
  f->us_per_msg = -1.0;
  f->us_per_op = -1.0;
  f->kib_per_conn = -1.0;
  f->setup_cpu_s = -1.0;
  f->setup_s = b->t_setup_done > 0
                   ? (double) (b->t_setup_done - b->t_start) / 1e9
                   : -1.0;
  if (b->have_setup_cpu && clk > 0 && b->t_setup_done > 0 &&
      b->cpu_setup1 >= b->cpu_setup0)
    f->setup_cpu_s = (double) (b->cpu_setup1 - b->cpu_setup0) / (double) clk;
  if (f->seconds > 0)
    {
      f->msgs_per_s = (double) b->delivered / f->seconds;
      f->ops_per_s = (double) b->ops / f->seconds;
      f->gen_cpu_pct = 100.0 *
                       (tv_s (&b->ru1.ru_utime) - tv_s (&b->ru0.ru_utime) +
                        tv_s (&b->ru1.ru_stime) - tv_s (&b->ru0.ru_stime)) /
                       f->seconds;
    }
  if (b->have_cpu && clk > 0 && b->cpu1 >= b->cpu0 && f->seconds > 0)
    {
      f->cpu_s = (double) (b->cpu1 - b->cpu0) / (double) clk;
      f->cpu_pct = 100.0 * f->cpu_s / f->seconds;
      /* /proc/PID/stat counts in clock ticks: below CPU_TICKS_MIN of them
       * a figure per message would be mostly rounding. */
      if (b->cpu1 - b->cpu0 >= CPU_TICKS_MIN && b->delivered > 0)
        f->us_per_msg = f->cpu_s * 1e6 / (double) b->delivered;
      if (b->cpu1 - b->cpu0 >= CPU_TICKS_MIN && b->ops > 0)
        f->us_per_op = f->cpu_s * 1e6 / (double) b->ops;
    }
  if (b->mode == MODE_IDLE && b->rss_base >= 0 && b->rss_end >= 0 &&
      b->n_setup > 0)
    f->kib_per_conn = (double) (b->rss_end - b->rss_base) / (double) b->n_setup;
  f->errors = b->send_errors + b->bad + b->lost + b->server_errors + b->broken +
              b->op_failures;
}

static void
row_u (const char *name, uint64_t v)
{
  printf ("%-26s %14" PRIu64 "\n", name, v);
}

static void
row_f (const char *name, double v, int prec)
{
  if (v < 0)
    printf ("%-26s %14s\n", name, "-");
  else
    printf ("%-26s %14.*f\n", name, prec, v);
}

/* A CSV cell: empty when unknown. */
static void
csv_f (double v, int prec)
{
  if (v >= 0)
    printf ("%.*f", prec, v);
  putchar (',');
}

static void
print_report (struct bench *b)
{
  struct figures f;
  bool pairs = b->mode == MODE_RELAY || b->mode == MODE_LOGIN;
  bool churn = b->mode == MODE_CONNECT || b->mode == MODE_LOGIN;
  double q50 = bench_samples_quantile_ms (&b->lat, 0.50);
  double q90 = bench_samples_quantile_ms (&b->lat, 0.90);
  double q99 = bench_samples_quantile_ms (&b->lat, 0.99);
  double q999 = bench_samples_quantile_ms (&b->lat, 0.999);
  double o50 = bench_samples_quantile_ms (&b->op_lat, 0.50);
  double o99 = bench_samples_quantile_ms (&b->op_lat, 0.99);

  figures_compute (b, &f);
  printf ("securechat-bench %s: %s over %s%s%s to %s:%s\n", SC_VERSION,
          mode_names[b->mode], proto_names[b->proto], b->tls ? " in " : "",
          b->tls ? b->tls_desc : "", b->host, b->port);
  if (pairs)
    printf ("%u pairs, %u in flight each; ", b->pairs, b->window);
  if (b->mode == MODE_IDLE)
    printf ("%u idle connections; ", b->idle_conns);
  if (churn)
    printf ("%u connecting clients; ", b->concurrency);
  printf ("text %u B = payload %zu B; warm-up %.1f s, measured %.2f s\n",
          b->text_len, b->payload_len, b->warmup_ms / 1000.0, f.seconds);
  printf ("%-26s %14s\n", "metric", "value");
  row_f ("setup s", f.setup_s, 2);
  row_f ("setup server cpu s", f.setup_cpu_s, 2);
  if (pairs)
    {
      row_u ("delivered", b->delivered);
      row_f ("msgs/s", f.msgs_per_s, 1);
      row_f ("latency p50 ms", q50, 3);
      row_f ("latency p90 ms", q90, 3);
      row_f ("latency p99 ms", q99, 3);
      row_f ("latency p99.9 ms", q999, 3);
    }
  if (churn)
    {
      const char *what = b->mode == MODE_LOGIN ? "logins" : "connections";
      char name[40];

      row_u (what, b->ops);
      snprintf (name, sizeof name, "%s/s", what);
      row_f (name, f.ops_per_s, 1);
      snprintf (name, sizeof name, "%s p50 ms",
                b->mode == MODE_LOGIN ? "login" : "connection");
      row_f (name, o50, 3);
      snprintf (name, sizeof name, "%s p99 ms",
                b->mode == MODE_LOGIN ? "login" : "connection");
      row_f (name, o99, 3);
      row_u ("server busy answers", b->busy);
    }
  row_f ("server cpu s", f.cpu_s, 3);
  row_f ("server cpu %", f.cpu_s < 0 ? -1 : f.cpu_pct, 1);
  if (pairs)
    row_f ("server cpu us/msg", f.us_per_msg, 2);
  if (b->mode == MODE_CONNECT)
    row_f ("server cpu us/connection", f.us_per_op, 1);
  row_f ("server rss KiB", b->rss_end < 0 ? -1 : (double) b->rss_end, 0);
  row_f ("server peak rss KiB", b->hwm_end < 0 ? -1 : (double) b->hwm_end, 0);
  if (b->mode == MODE_IDLE)
    {
      row_f ("server rss before KiB", b->rss_base < 0 ? -1 : b->rss_base, 0);
      row_f ("server KiB/connection", f.kib_per_conn, 2);
    }
  row_f ("generator cpu %", f.gen_cpu_pct, 1);
  row_u ("errors", f.errors);
  if (f.errors > 0)
    printf ("  (send errors %" PRIu64 ", bad %" PRIu64 ", lost %" PRIu64
            ", server errors %" PRIu64 ", broken %" PRIu64
            ", failed connections %" PRIu64 ")\n",
            b->send_errors, b->bad, b->lost, b->server_errors, b->broken,
            b->op_failures);
  if (b->lat.dropped > 0 || b->op_lat.dropped > 0)
    printf ("(percentiles over the first %u samples)\n", BENCH_MAX_SAMPLES);
  if (b->failed)
    printf ("FAILED: %s\n", b->fail_why);

  printf ("\nmode,proto,tls,pairs,window,conns,text,payload,warmup_s,"
          "duration_s,delivered,msgs_per_s,lat_p50_ms,lat_p90_ms,lat_p99_ms,"
          "lat_p999_ms,server_cpu_s,server_cpu_pct,cpu_us_per_msg,"
          "server_rss_kib,server_peak_rss_kib,kib_per_conn,ops,ops_per_s,"
          "op_p50_ms,op_p99_ms,cpu_us_per_op,setup_s,setup_cpu_s,gen_cpu_pct,"
          "errors,"
          "ok,label\n");
  printf ("%s,%s,%d,%u,%u,%zu,%u,%zu,%.1f,%.3f,%" PRIu64 ",",
          mode_names[b->mode], proto_names[b->proto], b->tls ? 1 : 0,
          pairs ? b->pairs : 0, pairs ? b->window : 0,
          b->mode == MODE_IDLE ? b->n_setup : b->n_conns, b->text_len,
          b->payload_len, b->warmup_ms / 1000.0, f.seconds, b->delivered);
  csv_f (pairs ? f.msgs_per_s : -1, 1);
  csv_f (pairs ? q50 : -1, 3);
  csv_f (pairs ? q90 : -1, 3);
  csv_f (pairs ? q99 : -1, 3);
  csv_f (pairs ? q999 : -1, 3);
  csv_f (f.cpu_s, 3);
  csv_f (f.cpu_s < 0 ? -1 : f.cpu_pct, 1);
  csv_f (pairs ? f.us_per_msg : -1, 3);
  csv_f (b->rss_end < 0 ? -1 : (double) b->rss_end, 0);
  csv_f (b->hwm_end < 0 ? -1 : (double) b->hwm_end, 0);
  csv_f (f.kib_per_conn, 3);
  printf ("%" PRIu64 ",", churn ? b->ops : 0);
  csv_f (churn ? f.ops_per_s : -1, 1);
  csv_f (churn ? o50 : -1, 3);
  csv_f (churn ? o99 : -1, 3);
  csv_f (b->mode == MODE_CONNECT ? f.us_per_op : -1, 2);
  csv_f (f.setup_s, 2);
  csv_f (f.setup_cpu_s, 2);
  csv_f (f.gen_cpu_pct, 1);
  printf ("%" PRIu64 ",%d,", f.errors, b->failed || f.errors > 0 ? 0 : 1);
  /* The label is ours (run-peers'); keep the CSV well-formed anyway. */
  for (const char *p = b->label != NULL ? b->label : ""; *p != '\0'; p++)
    putchar (*p == ',' || *p == '\n' || *p == '"' ? '_' : *p);
  putchar ('\n');
  fflush (stdout);
}

/* -- options ------------------------------------------------------------- */

static void
usage (FILE *f)
{
  fprintf (
      f,
      "usage: securechat-bench --proto securechat|line|irc|mqtt --server "
      "HOST:PORT\n"
      "         [--mode relay|idle|login|connect] [--tls [--tls-ca FILE]]\n"
      "         [--pairs P] [--window W] [--duration S] [--warmup S]\n"
      "         [--text BYTES] [--conns N] [--concurrency C]\n"
      "         [--connect-concurrency K] [--setup-timeout S]\n"
      "         [--user-prefix PREFIX] [--storm-prefix PREFIX]\n"
      "         [--password-file FILE] [--fingerprint SHA256:...]\n"
      "         [--server-pid PID] [--label TEXT]\n"
      "       securechat-bench --sizes [--text BYTES]\n"
      "Names are PREFIX0, PREFIX1, ...: relay pairs use 0..2P-1 (even\n"
      "indices send to the next odd one), idle clients 0..N-1, connecting\n"
      "clients 0..C-1; login mode logs in STORM-PREFIX0..C-1 over and over.\n"
      "securechat needs --password-file (every account has that password)\n"
      "and --fingerprint. Defaults: relay, P=10 W=16 D=5 warm-up 1, text\n"
      "100, N=1000, C=8, K=64, setup timeout 120, prefixes b and s.\n"
      "--sizes prints the size of the end-to-end message of that text and\n"
      "of its base64 body (the payload every protocol carries), and exits.\n");
}

static int
resolve (struct bench *b)
{
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  unsigned char probe[sizeof (struct in6_addr)];
  int rc;

  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  rc = getaddrinfo (b->host, b->port, &hints, &res);
  if (rc != 0 || res == NULL)
    {
      fprintf (stderr, "securechat-bench: cannot resolve %s: %s\n", b->host,
               gai_strerror (rc));
      return -1;
    }
  memcpy (&b->addr, res->ai_addr, res->ai_addrlen);
  b->addr_len = res->ai_addrlen;
  freeaddrinfo (res);
  b->host_is_ip = evutil_inet_pton (AF_INET, b->host, probe) == 1 ||
                  evutil_inet_pton (AF_INET6, b->host, probe) == 1;
  return 0;
}

static int
check_names (const char *prefix, unsigned count)
{
  char probe[SC_USERNAME_MAX + 2];
  int len;

  if (count == 0)
    return 0;
  len = snprintf (probe, sizeof probe, "%s%u", prefix, count - 1);
  /* Valid for every protocol: a securechat user name (which is also a
   * valid IRC nick and MQTT client id when it starts with a letter). */
  if (len < 0 || (size_t) len > SC_USERNAME_MAX ||
      sc_username_validate (probe, (size_t) len) < 0 || prefix[0] < 'a' ||
      prefix[0] > 'z')
    {
      fprintf (stderr,
               "securechat-bench: %s0..%s are not valid names (a lowercase "
               "letter, then letters and digits, at most %d bytes)\n",
               prefix, probe, SC_USERNAME_MAX);
      return -1;
    }
  return 0;
}

static int
setup_tls (struct bench *b)
{
  b->ssl_ctx = SSL_CTX_new (TLS_client_method ());
  if (b->ssl_ctx == NULL ||
      SSL_CTX_set_min_proto_version (b->ssl_ctx, TLS1_3_VERSION) != 1)
    {
      fprintf (stderr, "securechat-bench: cannot set up TLS 1.3\n");
      return -1;
    }
  /* Every connection pays a full handshake, as a new client would. */
  SSL_CTX_set_session_cache_mode (b->ssl_ctx, SSL_SESS_CACHE_OFF);
  if (b->tls_ca != NULL)
    {
      if (SSL_CTX_load_verify_locations (b->ssl_ctx, b->tls_ca, NULL) != 1)
        {
          fprintf (stderr, "securechat-bench: cannot load %s as a CA file\n",
                   b->tls_ca);
          return -1;
        }
      SSL_CTX_set_verify (b->ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
  else
    {
      fprintf (stderr, "securechat-bench: the server's certificate is not "
                       "checked (no --tls-ca)\n");
      SSL_CTX_set_verify (b->ssl_ctx, SSL_VERIFY_NONE, NULL);
    }
  return 0;
}

static void
raise_fd_limit (size_t need)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      (void) setrlimit (RLIMIT_NOFILE, &rl);
    }
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
    fprintf (stderr,
             "securechat-bench: the file descriptor limit (%llu) is below "
             "the %zu this run needs; raise it (ulimit -n)\n",
             (unsigned long long) rl.rlim_cur, need);
}

static int
bench_init (struct bench *b)
{
  size_t n_setup = 0;
  size_t n_slots = 0;

  switch (b->mode)
    {
    case MODE_RELAY:
      n_setup = (size_t) b->pairs * 2;
      break;
    case MODE_IDLE:
      n_setup = b->idle_conns;
      break;
    case MODE_LOGIN:
      n_setup = (size_t) b->pairs * 2;
      n_slots = b->concurrency;
      break;
    case MODE_CONNECT:
      n_slots = b->concurrency;
      break;
    }
  b->n_setup = n_setup;
  b->n_conns = n_setup + n_slots;
  if (b->n_conns > MAX_CONNS)
    {
      fprintf (stderr, "securechat-bench: at most %d connections\n", MAX_CONNS);
      return -1;
    }
  raise_fd_limit (b->n_conns + 64);
  b->conns = calloc (b->n_conns > 0 ? b->n_conns : 1, sizeof *b->conns);
  b->dead = calloc (b->n_conns > 0 ? b->n_conns : 1, sizeof *b->dead);
  b->body_len = e2e_binary_len (b->text_len);
  b->payload_len = base64_len (b->body_len);
  b->body = calloc (1, b->body_len);
  b->filler = malloc (b->payload_len);
  if (b->conns == NULL || b->dead == NULL || b->body == NULL ||
      b->filler == NULL)
    return -1;
  memset (b->filler, 'x', b->payload_len);

  b->base = event_base_new ();
  if (b->base == NULL)
    return -1;
  b->phase_timer = evtimer_new (b->base, phase_timer_cb, b);
  b->tick_timer = event_new (b->base, -1, EV_PERSIST, tick_cb, b);
  b->reaper = event_new (b->base, -1, 0, reaper_cb, b);
  if (b->phase_timer == NULL || b->tick_timer == NULL || b->reaper == NULL)
    return -1;

  for (size_t i = 0; i < b->n_conns; i++)
    {
      struct conn *cn = &b->conns[i];

      cn->b = b;
      cn->id = i;
      if (i < n_setup)
        {
          if (b->mode == MODE_IDLE)
            cn->role = ROLE_IDLE;
          else
            {
              cn->role = i % 2 == 0 ? ROLE_SENDER : ROLE_RECEIVER;
              cn->peer = &b->conns[i % 2 == 0 ? i + 1 : i - 1];
            }
          snprintf (cn->name, sizeof cn->name, "%s%zu", b->prefix, i);
        }
      else
        {
          size_t k = i - n_setup;

          cn->role = b->mode == MODE_LOGIN ? ROLE_STORM : ROLE_CHURN;
          snprintf (cn->name, sizeof cn->name, "%s%zu",
                    b->mode == MODE_LOGIN ? b->storm_prefix : b->prefix, k);
          cn->timer = evtimer_new (b->base, slot_timer_cb, cn);
          if (cn->timer == NULL)
            return -1;
        }
    }
  return 0;
}

static void
bench_free (struct bench *b)
{
  for (size_t i = 0; i < b->n_conns; i++)
    {
      struct conn *cn = &b->conns[i];

      if (cn->bev != NULL)
        {
          b->drv->reset (cn);
          bufferevent_free (cn->bev);
        }
      if (cn->timer != NULL)
        event_free (cn->timer);
    }
  if (b->phase_timer != NULL)
    event_free (b->phase_timer);
  if (b->tick_timer != NULL)
    event_free (b->tick_timer);
  if (b->reaper != NULL)
    event_free (b->reaper);
  if (b->base != NULL)
    event_base_free (b->base);
  if (b->ssl_ctx != NULL)
    SSL_CTX_free (b->ssl_ctx);
  free (b->conns);
  free (b->dead);
  free (b->body);
  free (b->filler);
  free (b->lat.us);
  free (b->op_lat.us);
  if (b->password != NULL)
    {
      sc_wipe (b->password, strlen (b->password));
      free (b->password);
    }
}

static int
lookup (const char *name,
        const char *value,
        const char *const *names,
        size_t n,
        int *out)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (value, names[i]) == 0)
      {
        *out = (int) i;
        return 0;
      }
  fprintf (stderr, "securechat-bench: unknown --%s %s\n", name, value);
  return -1;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "proto", required_argument, NULL, 'p' },
    { "server", required_argument, NULL, 's' },
    { "mode", required_argument, NULL, 'm' },
    { "tls", no_argument, NULL, 'T' },
    { "tls-ca", required_argument, NULL, 'A' },
    { "pairs", required_argument, NULL, 'r' },
    { "window", required_argument, NULL, 'w' },
    { "duration", required_argument, NULL, 'd' },
    { "warmup", required_argument, NULL, 'W' },
    { "text", required_argument, NULL, 't' },
    { "conns", required_argument, NULL, 'n' },
    { "concurrency", required_argument, NULL, 'c' },
    { "connect-concurrency", required_argument, NULL, 'k' },
    { "setup-timeout", required_argument, NULL, 'S' },
    { "user-prefix", required_argument, NULL, 'u' },
    { "storm-prefix", required_argument, NULL, 'U' },
    { "password-file", required_argument, NULL, 'P' },
    { "fingerprint", required_argument, NULL, 'f' },
    { "server-pid", required_argument, NULL, 'i' },
    { "label", required_argument, NULL, 'l' },
    { "sizes", no_argument, NULL, 'z' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  static const struct driver *const drivers[] = {
    &driver_securechat,
    &driver_line,
    &driver_irc,
    &driver_mqtt,
  };
  struct bench b;
  const char *server = NULL;
  const char *fp = NULL;
  const char *password_file = NULL;
  bool have_proto = false;
  bool sizes = false;
  unsigned pid = 0;
  int status = 2;
  int opt;
  unsigned bound_s;

  memset (&b, 0, sizeof b);
  b.mode = MODE_RELAY;
  b.pairs = 10;
  b.window = 16;
  b.duration_ms = 5000;
  b.warmup_ms = 1000;
  b.text_len = 100;
  b.idle_conns = 1000;
  b.concurrency = 8;
  b.connect_concurrency = 64;
  b.setup_timeout_ms = 120000;
  b.prefix = "b";
  b.storm_prefix = "s";
  b.rss_base = -1;
  b.rss_end = -1;
  b.hwm_end = -1;
  b.log_budget = LOG_BUDGET;

  while ((opt = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    {
      int rc = 0;
      int v = 0;

      switch (opt)
        {
        case 'p':
          rc = lookup ("proto", optarg, proto_names, 4, &v);
          b.proto = (enum proto) v;
          have_proto = rc == 0;
          break;
        case 's':
          server = optarg;
          break;
        case 'm':
          rc = lookup ("mode", optarg, mode_names, 4, &v);
          b.mode = (enum mode) v;
          break;
        case 'T':
          b.tls = true;
          break;
        case 'A':
          b.tls_ca = optarg;
          break;
        case 'r':
          rc = bench_parse_uint ("securechat-bench", "pairs", optarg, 1,
                                 MAX_CONNS / 2, &b.pairs);
          break;
        case 'w':
          rc = bench_parse_uint ("securechat-bench", "window", optarg, 1,
                                 MAX_WINDOW, &b.window);
          break;
        case 'd':
          rc = bench_parse_seconds ("securechat-bench", "duration", optarg,
                                    false, MAX_DURATION_S, &b.duration_ms);
          break;
        case 'W':
          rc = bench_parse_seconds ("securechat-bench", "warmup", optarg, true,
                                    MAX_DURATION_S, &b.warmup_ms);
          break;
        case 't':
          rc = bench_parse_uint ("securechat-bench", "text", optarg, 0,
                                 MAX_TEXT, &b.text_len);
          break;
        case 'n':
          rc = bench_parse_uint ("securechat-bench", "conns", optarg, 1,
                                 MAX_CONNS, &b.idle_conns);
          break;
        case 'c':
          rc = bench_parse_uint ("securechat-bench", "concurrency", optarg, 1,
                                 MAX_CONNS, &b.concurrency);
          break;
        case 'k':
          rc = bench_parse_uint ("securechat-bench", "connect-concurrency",
                                 optarg, 1, MAX_CONNS, &b.connect_concurrency);
          break;
        case 'S':
          rc = bench_parse_seconds ("securechat-bench", "setup-timeout", optarg,
                                    false, 3600, &b.setup_timeout_ms);
          break;
        case 'u':
          b.prefix = optarg;
          break;
        case 'U':
          b.storm_prefix = optarg;
          break;
        case 'P':
          password_file = optarg;
          break;
        case 'f':
          fp = optarg;
          break;
        case 'i':
          rc = bench_parse_uint ("securechat-bench", "server-pid", optarg, 1,
                                 INT_MAX, &pid);
          b.server_pid = (pid_t) pid;
          break;
        case 'l':
          b.label = optarg;
          break;
        case 'z':
          sizes = true;
          break;
        case 'h':
          usage (stdout);
          return 0;
        default:
          usage (stderr);
          return 2;
        }
      if (rc < 0)
        return 2;
    }
  if (sizes && optind == argc)
    {
      printf ("text %u bytes: end-to-end message %zu bytes, body %zu bytes "
              "(base64)\n",
              b.text_len, e2e_binary_len (b.text_len),
              base64_len (e2e_binary_len (b.text_len)));
      return 0;
    }
  if (optind != argc || server == NULL || !have_proto)
    {
      usage (stderr);
      return 2;
    }
  if (bench_split_hostport (server, b.host, sizeof b.host, b.port,
                            sizeof b.port) < 0)
    {
      fprintf (stderr, "securechat-bench: --server wants HOST:PORT, not %s\n",
               server);
      return 2;
    }
  if (b.proto == PROTO_SECURECHAT)
    {
      if (b.tls)
        {
          fprintf (stderr, "securechat-bench: securechat runs over Noise, "
                           "not TLS\n");
          return 2;
        }
      if (fp == NULL || password_file == NULL)
        {
          fprintf (stderr, "securechat-bench: securechat needs "
                           "--fingerprint and --password-file\n");
          return 2;
        }
      if (sc_fingerprint_validate (fp) < 0)
        {
          fprintf (stderr,
                   "securechat-bench: %s is not a SHA256:... "
                   "fingerprint\n",
                   fp);
          return 2;
        }
      memcpy (b.fingerprint, fp, SC_FINGERPRINT_LEN + 1);
    }
  else if (b.mode == MODE_LOGIN)
    {
      fprintf (stderr, "securechat-bench: login mode measures password "
                       "logins: securechat only\n");
      return 2;
    }
  if (b.tls_ca != NULL && !b.tls)
    {
      fprintf (stderr, "securechat-bench: --tls-ca without --tls\n");
      return 2;
    }
  if (check_names (b.prefix, b.mode == MODE_IDLE      ? b.idle_conns
                             : b.mode == MODE_CONNECT ? b.concurrency
                                                      : b.pairs * 2) < 0 ||
      (b.mode == MODE_LOGIN && check_names (b.storm_prefix, b.concurrency) < 0))
    return 2;
  b.drv = drivers[b.proto];
  if (b.proto == PROTO_IRC &&
      base64_len (e2e_binary_len (b.text_len)) > IRC_PAYLOAD_MAX)
    {
      fprintf (stderr,
               "securechat-bench: an IRC line holds a payload of at most %d "
               "bytes; --text %u makes %zu\n",
               IRC_PAYLOAD_MAX, b.text_len,
               base64_len (e2e_binary_len (b.text_len)));
      return 2;
    }

  if (sc_init () < 0)
    return 1;
  signal (SIGPIPE, SIG_IGN);
  status = 1;
  if (password_file != NULL)
    {
      b.password = bench_read_password_file ("securechat-bench", password_file);
      if (b.password == NULL ||
          sc_password_validate (b.password, strlen (b.password)) < 0)
        {
          fprintf (stderr, "securechat-bench: %s holds no valid password\n",
                   password_file);
          goto out;
        }
    }
  if (resolve (&b) < 0 || (b.tls && setup_tls (&b) < 0))
    goto out;
  if (bench_init (&b) < 0)
    {
      fprintf (stderr, "securechat-bench: out of memory\n");
      goto out;
    }

  /* The last resort against a stalled loop: every phase has its own
   * deadline below this one. */
  bound_s = b.setup_timeout_ms / 1000 + b.warmup_ms / 1000 +
            b.duration_ms / 1000 + (DRAIN_MS + CLOSE_MS) / 1000 + 30;
  alarm (bound_s);

  if (b.server_pid > 0)
    {
      long hwm;

      bench_proc_mem (b.server_pid, &b.rss_base, &hwm);
      b.have_setup_cpu = bench_proc_cpu_ticks (b.server_pid, &b.cpu_setup0);
      if (b.rss_base < 0)
        fprintf (stderr,
                 "securechat-bench: cannot read the server's "
                 "/proc/%u/status\n",
                 pid);
    }
  b.t_start = bench_mono_ns ();
  {
    struct timeval tick = { TICK_MS / 1000, 0 };

    event_add (b.tick_timer, &tick);
  }
  if (b.n_setup == 0)
    setup_complete (&b);
  else
    {
      arm_phase_timer (&b, b.setup_timeout_ms);
      open_more (&b);
    }
  event_base_dispatch (b.base);
  alarm (0);

  print_report (&b);
  {
    struct figures f;

    figures_compute (&b, &f);
    status = 0;
    if (b.failed || f.errors > 0)
      status = 1;
    if ((b.mode == MODE_RELAY || b.mode == MODE_LOGIN) && b.delivered == 0)
      status = 1;
    if ((b.mode == MODE_CONNECT || b.mode == MODE_LOGIN) && b.ops == 0)
      status = 1;
  }

out:
  bench_free (&b);
  return status;
}
