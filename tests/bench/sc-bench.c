/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sc-bench: load generator for securechatd, built on the same sans-I/O
 * client session (common/client.h) the real clients use, with plain
 * non-blocking sockets and poll(). Two phases, both bounded in time:
 *
 *   logins    L complete logins (handshake, login, bye), C at a time;
 *   messages  P sender/receiver pairs, each sender keeping W sends in
 *             flight for D seconds; every send is timed until its "sent"
 *             (the server forwarded it to the receiver and acknowledged).
 *
 * Users are PREFIX0 .. PREFIX(N-1), all with the same password. Prints a
 * small table; exits 0 when every login and message went through, 1 when
 * some failed, 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "securechat/client.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/fingerprint.h"
#include "securechat/msg.h"

#define AGENT             "sc-bench/" SC_VERSION
#define MAX_CONNS         2048
#define MAX_WINDOW        1024
#define MAX_DURATION_S    600
#define MAX_LOGINS        1000000
#define MAX_SAMPLES       (4u * 1024 * 1024)
#define BODY_MIN          8 /* room for the sequence number */
#define READ_CHUNK        65536
#define SETUP_TIMEOUT_MS  30000 /* connecting and logging in the pairs */
#define DRAIN_TIMEOUT_MS  10000 /* waiting for answers after the run */
#define PASSWORD_FILE_MAX (SC_PASSWORD_MAX + 2)

enum role
{
  ROLE_LOGIN,
  ROLE_SENDER,
  ROLE_RECEIVER,
};

struct samples
{
  uint32_t *us; /* microseconds */
  size_t n;
  size_t cap;
  uint64_t dropped; /* not stored: over MAX_SAMPLES */
};

struct bench;

struct conn
{
  struct bench *b;
  enum role role;
  int fd;
  struct sc_client *client;
  char user[SC_USERNAME_MAX + 1];
  bool connecting;
  bool logged_in;
  bool quitting;
  bool failed; /* the session or socket broke */
  int64_t opened_ns;

  /* sender: the peer's name and the send times of the window, FIFO
   * (answers come in the order of the sends) */
  char peer[SC_USERNAME_MAX + 1];
  int64_t *fifo;
  size_t fifo_head;
  size_t in_flight;
  uint64_t next_seq;

  /* receiver */
  uint64_t expect_seq;
};

struct bench
{
  /* options */
  char host[256];
  char port[8];
  char fingerprint[SC_FINGERPRINT_LEN + 1];
  const char *prefix;
  char *password;
  unsigned n_users;
  unsigned logins;
  unsigned concurrency;
  unsigned pairs;
  unsigned window;
  unsigned duration_ms;
  unsigned body_len;
  unsigned login_timeout_ms;

  struct sockaddr_storage addr;
  socklen_t addr_len;
  uint8_t *body;

  /* run state */
  int64_t now_ns;
  bool sending;
  int64_t send_until_ns;

  /* results */
  uint64_t login_ok;
  uint64_t login_failed;
  struct samples login_lat;
  uint64_t acked;
  uint64_t delivered;
  uint64_t send_errors;
  uint64_t bad_deliveries;
  int64_t last_ack_ns;
  struct samples msg_lat;
  uint64_t broken; /* sessions that broke during the message phase */
};

static int64_t
mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
samples_add (struct samples *s, int64_t ns)
{
  int64_t us = ns / 1000;

  if (us < 0)
    us = 0;
  if (us > UINT32_MAX)
    us = UINT32_MAX;
  if (s->n == s->cap)
    {
      size_t cap = s->cap > 0 ? s->cap * 2 : 4096;
      uint32_t *p;

      if (cap > MAX_SAMPLES)
        cap = MAX_SAMPLES;
      if (cap == s->n)
        {
          s->dropped++;
          return;
        }
      p = realloc (s->us, cap * sizeof *p);
      if (p == NULL)
        {
          s->dropped++;
          return;
        }
      s->us = p;
      s->cap = cap;
    }
  s->us[s->n++] = (uint32_t) us;
}

static int
cmp_u32 (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a;
  uint32_t y = *(const uint32_t *) b;

  return (x > y) - (x < y);
}

/* The p-quantile (0 < p <= 1) in milliseconds; the samples get sorted. */
static double
samples_quantile_ms (struct samples *s, double p)
{
  size_t i;

  if (s->n == 0)
    return 0.0;
  qsort (s->us, s->n, sizeof *s->us, cmp_u32);
  i = (size_t) (p * (double) s->n);
  if (i >= s->n)
    i = s->n - 1;
  return s->us[i] / 1000.0;
}

/* -- one connection ---------------------------------------------------- */

static void
put_be64 (uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--)
    {
      p[i] = (uint8_t) (v & 0xff);
      v >>= 8;
    }
}

static uint64_t
get_be64 (const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

/* Sends the next message of a sender's window. */
static void
sender_push (struct conn *cn)
{
  struct bench *b = cn->b;
  uint64_t ref = 0;
  size_t slot;
  int rc;

  put_be64 (b->body, cn->next_seq);
  rc = sc_client_send (cn->client, cn->peer, b->body, b->body_len, &ref);
  if (rc < 0)
    {
      fprintf (stderr, "sc-bench: %s: cannot send: %s\n", cn->user,
               sc_strerror (rc));
      cn->failed = true;
      return;
    }
  cn->next_seq++;
  slot = (cn->fifo_head + cn->in_flight) % b->window;
  cn->fifo[slot] = b->now_ns;
  cn->in_flight++;
}

static void
sender_fill (struct conn *cn)
{
  struct bench *b = cn->b;

  while (b->sending && !cn->failed && cn->in_flight < b->window &&
         b->now_ns < b->send_until_ns)
    sender_push (cn);
}

/* An answer (sent or error) to the oldest send in flight. */
static int64_t
sender_pop (struct conn *cn)
{
  int64_t t;

  if (cn->in_flight == 0)
    return -1;
  t = cn->fifo[cn->fifo_head];
  cn->fifo_head = (cn->fifo_head + 1) % cn->b->window;
  cn->in_flight--;
  return t;
}

static int
verify_key_cb (void *ud, const uint8_t pub[SC_X25519_LEN], const char *fp)
{
  struct conn *cn = ud;

  (void) pub;
  if (!sc_fingerprint_equal (fp, cn->b->fingerprint))
    {
      fprintf (stderr, "sc-bench: server key %s does not match %s\n", fp,
               cn->b->fingerprint);
      return -1;
    }
  return 0;
}

static void
logged_in_cb (void *ud, const char *user)
{
  struct conn *cn = ud;

  (void) user;
  cn->logged_in = true;
}

static void
message_cb (void *ud,
            uint64_t id,
            const char *from,
            int64_t ts,
            const uint8_t *body,
            size_t body_len)
{
  struct conn *cn = ud;
  struct bench *b = cn->b;

  (void) id;
  (void) ts;
  if (cn->role != ROLE_RECEIVER || strcmp (from, cn->peer) != 0 ||
      body_len != b->body_len || get_be64 (body) != cn->expect_seq)
    {
      b->bad_deliveries++;
      return;
    }
  cn->expect_seq++;
  b->delivered++;
}

static void
sent_cb (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  struct conn *cn = ud;
  struct bench *b = cn->b;
  int64_t t;

  (void) ref;
  (void) id;
  (void) ts;
  t = sender_pop (cn);
  if (t < 0)
    return;
  samples_add (&b->msg_lat, b->now_ns - t);
  b->acked++;
  b->last_ack_ns = b->now_ns;
  sender_fill (cn);
}

static void
error_cb (void *ud, const struct sc_msg_error *e)
{
  struct conn *cn = ud;
  struct bench *b = cn->b;

  fprintf (stderr, "sc-bench: %s: server error %s: %s\n", cn->user,
           sc_code_name (e->code), e->message);
  if (e->has_ref && cn->role == ROLE_SENDER)
    {
      if (sender_pop (cn) >= 0)
        b->send_errors++;
      sender_fill (cn);
    }
}

static void
closed_cb (void *ud, int err, enum sc_code code, const char *message)
{
  struct conn *cn = ud;

  if (err == SC_OK)
    fprintf (stderr, "sc-bench: %s: server said bye (%s): %s\n", cn->user,
             sc_code_name (code), message != NULL ? message : "");
  else
    fprintf (stderr, "sc-bench: %s: session closed: %s (%s)\n", cn->user,
             sc_strerror (err), message != NULL ? message : "");
  cn->failed = true;
}

static const struct sc_client_callbacks callbacks = {
  .verify_server_key = verify_key_cb,
  .logged_in = logged_in_cb,
  .message = message_cb,
  .sent = sent_cb,
  .error = error_cb,
  .closed = closed_cb,
};

static void
conn_close (struct conn *cn)
{
  if (cn->fd >= 0)
    close (cn->fd);
  cn->fd = -1;
  sc_client_free (cn->client);
  cn->client = NULL;
  cn->connecting = false;
  cn->logged_in = false;
  cn->quitting = false;
}

/* Opens a connection and queues handshake message 1. */
static int
conn_open (struct conn *cn, unsigned user_index)
{
  struct bench *b = cn->b;
  struct sc_client_config cfg;
  int one = 1;
  int rc;

  conn_close (cn);
  cn->failed = false;
  snprintf (cn->user, sizeof cn->user, "%s%u", b->prefix, user_index);
  cn->fd =
      socket (b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (cn->fd < 0)
    {
      fprintf (stderr, "sc-bench: socket: %s\n", strerror (errno));
      cn->failed = true;
      return -1;
    }
  (void) setsockopt (cn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (cn->fd, (const struct sockaddr *) &b->addr, b->addr_len) < 0)
    {
      if (errno != EINPROGRESS)
        {
          fprintf (stderr, "sc-bench: cannot connect to %s:%s: %s\n", b->host,
                   b->port, strerror (errno));
          cn->failed = true;
          return -1;
        }
      cn->connecting = true;
    }

  memset (&cfg, 0, sizeof cfg);
  cfg.user = cn->user;
  cfg.password = b->password;
  cfg.agent = AGENT;
  rc = sc_client_new (&cfg, &callbacks, cn, &cn->client);
  if (rc == SC_OK)
    rc = sc_client_start (cn->client, b->now_ns / 1000000);
  if (rc < 0)
    {
      fprintf (stderr, "sc-bench: cannot start a session: %s\n",
               sc_strerror (rc));
      cn->failed = true;
      return -1;
    }
  cn->opened_ns = b->now_ns;
  return 0;
}

/* Writes what the session has queued, as far as the socket takes it. */
static void
conn_flush (struct conn *cn)
{
  while (cn->fd >= 0 && !cn->connecting && !cn->failed)
    {
      size_t len = 0;
      const uint8_t *p = sc_client_pending (cn->client, &len);
      ssize_t n;

      if (len == 0)
        return;
      n = send (cn->fd, p, len, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            {
              fprintf (stderr, "sc-bench: %s: send: %s\n", cn->user,
                       strerror (errno));
              cn->failed = true;
            }
          return;
        }
      sc_client_consume (cn->client, (size_t) n);
    }
}

static bool
conn_wants_write (const struct conn *cn)
{
  size_t len = 0;

  if (cn->connecting)
    return true;
  (void) sc_client_pending (cn->client, &len);
  return len > 0;
}

static void
conn_read (struct conn *cn)
{
  static uint8_t buf[READ_CHUNK];

  for (int rounds = 0; rounds < 16 && !cn->failed; rounds++)
    {
      ssize_t n = recv (cn->fd, buf, sizeof buf, 0);
      int rc;

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            {
              fprintf (stderr, "sc-bench: %s: recv: %s\n", cn->user,
                       strerror (errno));
              cn->failed = true;
            }
          return;
        }
      if (n == 0)
        {
          if (!cn->quitting)
            fprintf (stderr,
                     "sc-bench: %s: the server closed the "
                     "connection\n",
                     cn->user);
          cn->failed = true;
          return;
        }
      cn->b->now_ns = mono_ns ();
      rc =
          sc_client_recv (cn->client, buf, (size_t) n, cn->b->now_ns / 1000000);
      if (rc < 0)
        {
          cn->failed = true; /* closed_cb said why */
          return;
        }
    }
}

static void
conn_event (struct conn *cn, short revents)
{
  if (cn->connecting && (revents & (POLLOUT | POLLERR | POLLHUP)))
    {
      int err = 0;
      socklen_t len = sizeof err;

      if (getsockopt (cn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
      if (err != 0)
        {
          fprintf (stderr, "sc-bench: cannot connect to %s:%s: %s\n",
                   cn->b->host, cn->b->port, strerror (err));
          cn->failed = true;
          return;
        }
      cn->connecting = false;
    }
  if (revents & (POLLIN | POLLERR | POLLHUP))
    conn_read (cn);
  if (!cn->failed)
    conn_flush (cn);
}

/* One round of poll() over the open connections, at most timeout_ms. */
static int
pump (struct bench *b, struct conn *conns, size_t n, int timeout_ms)
{
  struct pollfd pfd[MAX_CONNS];
  size_t idx[MAX_CONNS];
  size_t m = 0;
  int rc;

  for (size_t i = 0; i < n; i++)
    {
      if (conns[i].fd < 0 || conns[i].failed)
        continue;
      conn_flush (&conns[i]);
      pfd[m].fd = conns[i].fd;
      pfd[m].events = POLLIN;
      if (conn_wants_write (&conns[i]))
        pfd[m].events |= POLLOUT;
      pfd[m].revents = 0;
      idx[m] = i;
      m++;
    }
  rc = poll (pfd, m, timeout_ms);
  if (rc < 0)
    {
      if (errno == EINTR)
        return 0;
      fprintf (stderr, "sc-bench: poll: %s\n", strerror (errno));
      return -1;
    }
  b->now_ns = mono_ns ();
  for (size_t j = 0; j < m && rc > 0; j++)
    if (pfd[j].revents != 0)
      conn_event (&conns[idx[j]], pfd[j].revents);
  for (size_t i = 0; i < n; i++)
    if (conns[i].client != NULL && !conns[i].failed)
      {
        (void) sc_client_tick (conns[i].client, b->now_ns / 1000000);
        if (sc_client_state (conns[i].client) == SC_CLIENT_CLOSED &&
            !conns[i].quitting)
          conns[i].failed = true;
      }
  return 0;
}

static int
ms_until (const struct bench *b, int64_t deadline_ns, int cap_ms)
{
  int64_t ms = (deadline_ns - b->now_ns) / 1000000 + 1;

  if (ms < 0)
    return 0;
  return ms > cap_ms ? cap_ms : (int) ms;
}

/* -- phases ------------------------------------------------------------ */

static int
run_logins (struct bench *b, double *seconds)
{
  unsigned n = b->concurrency;
  struct conn *slots = calloc (n, sizeof *slots);
  unsigned started = 0;
  unsigned finished = 0;
  int64_t t0;
  int64_t deadline;
  int ret = 0;

  if (slots == NULL)
    return -1;
  for (unsigned i = 0; i < n; i++)
    {
      slots[i].b = b;
      slots[i].fd = -1;
      slots[i].role = ROLE_LOGIN;
    }
  b->now_ns = mono_ns ();
  t0 = b->now_ns;
  deadline = t0 + (int64_t) b->login_timeout_ms * 1000000;

  while (finished < b->logins)
    {
      for (unsigned i = 0; i < n; i++)
        {
          struct conn *cn = &slots[i];

          if (cn->client == NULL && started < b->logins)
            {
              started++;
              if (conn_open (cn, i % b->n_users) < 0)
                {
                  b->login_failed++;
                  finished++;
                  conn_close (cn);
                }
            }
        }
      if (b->now_ns >= deadline)
        {
          fprintf (stderr, "sc-bench: logins did not finish within %u ms\n",
                   b->login_timeout_ms);
          ret = -1;
          break;
        }
      if (pump (b, slots, n, ms_until (b, deadline, 100)) < 0)
        {
          ret = -1;
          break;
        }
      for (unsigned i = 0; i < n; i++)
        {
          struct conn *cn = &slots[i];
          size_t pending = 0;

          if (cn->client == NULL)
            continue;
          if (cn->failed)
            {
              b->login_failed++;
              finished++;
              conn_close (cn);
              continue;
            }
          if (cn->logged_in && !cn->quitting)
            {
              if (sc_client_quit (cn->client) < 0)
                {
                  cn->failed = true;
                  continue;
                }
              cn->quitting = true;
              samples_add (&b->login_lat, b->now_ns - cn->opened_ns);
              conn_flush (cn);
            }
          (void) sc_client_pending (cn->client, &pending);
          if (cn->quitting && pending == 0)
            {
              b->login_ok++;
              finished++;
              conn_close (cn);
            }
        }
    }
  *seconds = (double) (mono_ns () - t0) / 1e9;
  for (unsigned i = 0; i < n; i++)
    conn_close (&slots[i]);
  free (slots);
  return ret;
}

static bool
all_logged_in (const struct conn *conns, size_t n, bool *broken)
{
  bool all = true;

  *broken = false;
  for (size_t i = 0; i < n; i++)
    {
      if (conns[i].failed)
        *broken = true;
      if (!conns[i].logged_in)
        all = false;
    }
  return all;
}

static int
run_messages (struct bench *b, double *seconds)
{
  size_t n = (size_t) b->pairs * 2;
  struct conn *conns = calloc (n, sizeof *conns);
  int64_t deadline;
  int64_t t0;
  bool broken = false;
  int ret = -1;

  if (conns == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      conns[i].b = b;
      conns[i].fd = -1;
    }
  b->now_ns = mono_ns ();
  for (size_t i = 0; i < n; i++)
    {
      struct conn *cn = &conns[i];

      cn->role = (i % 2 == 0) ? ROLE_SENDER : ROLE_RECEIVER;
      if (conn_open (cn, (unsigned) i) < 0)
        goto out;
      snprintf (cn->peer, sizeof cn->peer, "%s%zu", b->prefix,
                i % 2 == 0 ? i + 1 : i - 1);
      if (cn->role == ROLE_SENDER)
        {
          cn->fifo = calloc (b->window, sizeof *cn->fifo);
          if (cn->fifo == NULL)
            goto out;
        }
    }

  /* Everyone logged in before the clock starts. */
  deadline = b->now_ns + (int64_t) SETUP_TIMEOUT_MS * 1000000;
  while (!all_logged_in (conns, n, &broken))
    {
      if (broken)
        {
          fprintf (stderr, "sc-bench: a session of the message phase "
                           "failed to log in\n");
          goto out;
        }
      if (b->now_ns >= deadline)
        {
          fprintf (stderr,
                   "sc-bench: the message phase could not log in "
                   "within %d ms\n",
                   SETUP_TIMEOUT_MS);
          goto out;
        }
      if (pump (b, conns, n, ms_until (b, deadline, 100)) < 0)
        goto out;
    }

  b->now_ns = mono_ns ();
  t0 = b->now_ns;
  b->last_ack_ns = t0;
  b->sending = true;
  b->send_until_ns = t0 + (int64_t) b->duration_ms * 1000000;
  for (size_t i = 0; i < n; i += 2)
    sender_fill (&conns[i]);
  while (b->now_ns < b->send_until_ns)
    if (pump (b, conns, n, ms_until (b, b->send_until_ns, 100)) < 0)
      goto out;

  /* Drain: no new sends; wait for the answers still outstanding. */
  b->sending = false;
  deadline = b->now_ns + (int64_t) DRAIN_TIMEOUT_MS * 1000000;
  for (;;)
    {
      size_t in_flight = 0;

      for (size_t i = 0; i < n; i += 2)
        if (!conns[i].failed)
          in_flight += conns[i].in_flight;
      if (in_flight == 0 || b->now_ns >= deadline)
        break;
      if (pump (b, conns, n, ms_until (b, deadline, 100)) < 0)
        goto out;
    }
  *seconds = (double) (b->last_ack_ns - t0) / 1e9;

  /* Let the receivers catch the last deliveries, then say goodbye. */
  deadline = b->now_ns + 2000 * (int64_t) 1000000;
  while (b->delivered + b->bad_deliveries < b->acked && b->now_ns < deadline)
    if (pump (b, conns, n, ms_until (b, deadline, 100)) < 0)
      goto out;
  for (size_t i = 0; i < n; i++)
    {
      if (conns[i].failed)
        b->broken++;
      else if (sc_client_quit (conns[i].client) == SC_OK)
        conns[i].quitting = true;
    }
  deadline = b->now_ns + 2000 * (int64_t) 1000000;
  for (;;)
    {
      bool pending = false;

      for (size_t i = 0; i < n; i++)
        if (!conns[i].failed && conn_wants_write (&conns[i]))
          pending = true;
      if (!pending || b->now_ns >= deadline)
        break;
      if (pump (b, conns, n, ms_until (b, deadline, 100)) < 0)
        goto out;
    }
  ret = 0;

out:
  for (size_t i = 0; i < n; i++)
    {
      conn_close (&conns[i]);
      free (conns[i].fifo);
    }
  free (conns);
  return ret;
}

/* -- options ------------------------------------------------------------ */

static void
usage (FILE *f)
{
  fprintf (f, "usage: sc-bench --server HOST:PORT --fingerprint SHA256:...\n"
              "                --user-prefix PREFIX (--password PW | "
              "--password-file FILE)\n"
              "                [--users N] [--logins L] [--concurrency C]\n"
              "                [--pairs P] [--window W] [--duration SECONDS]\n"
              "                [--body BYTES] [--login-timeout SECONDS]\n"
              "Users are PREFIX0 .. PREFIX(N-1), all with the same password.\n"
              "Defaults: L=200 C=16 P=4 W=16 D=5 BYTES=64, N=max(C, 2P).\n");
}

static int
parse_uint (
    const char *name, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
  char *end = NULL;
  unsigned long v;

  errno = 0;
  if (s[0] < '0' || s[0] > '9')
    goto bad;
  v = strtoul (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
    goto bad;
  *out = (unsigned) v;
  return 0;
bad:
  fprintf (stderr, "sc-bench: --%s must be an integer in %u..%u\n", name, lo,
           hi);
  return -1;
}

/* Seconds with up to three decimals, e.g. "2" or "0.5". */
static int
parse_seconds (const char *name,
               const char *s,
               unsigned max_s,
               unsigned *out_ms)
{
  char *end = NULL;
  double v;

  errno = 0;
  if (s[0] < '0' || s[0] > '9')
    goto bad;
  v = strtod (s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v > 0.0) ||
      v > (double) max_s)
    goto bad;
  *out_ms = (unsigned) (v * 1000.0 + 0.5);
  if (*out_ms == 0)
    goto bad;
  return 0;
bad:
  fprintf (stderr,
           "sc-bench: --%s must be a number of seconds in "
           "(0, %u]\n",
           name, max_s);
  return -1;
}

static int
split_hostport (
    const char *s, char *host, size_t host_cap, char *port, size_t port_cap)
{
  const char *colon;
  size_t hlen;

  if (s[0] == '[')
    {
      const char *close = strchr (s, ']');

      if (close == NULL || close[1] != ':')
        return -1;
      hlen = (size_t) (close - s - 1);
      s++;
      colon = close + 1;
    }
  else
    {
      colon = strrchr (s, ':');
      if (colon == NULL)
        return -1;
      hlen = (size_t) (colon - s);
    }
  if (hlen == 0 || hlen >= host_cap || strlen (colon + 1) == 0 ||
      strlen (colon + 1) >= port_cap)
    return -1;
  memcpy (host, s, hlen);
  host[hlen] = '\0';
  strcpy (port, colon + 1);
  for (const char *p = port; *p != '\0'; p++)
    if (*p < '0' || *p > '9')
      return -1;
  return 0;
}

static int
resolve (struct bench *b)
{
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  int rc;

  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  rc = getaddrinfo (b->host, b->port, &hints, &res);
  if (rc != 0 || res == NULL)
    {
      fprintf (stderr, "sc-bench: cannot resolve %s: %s\n", b->host,
               gai_strerror (rc));
      return -1;
    }
  memcpy (&b->addr, res->ai_addr, res->ai_addrlen);
  b->addr_len = res->ai_addrlen;
  freeaddrinfo (res);
  return 0;
}

/* The first line of path, without its line end. */
static char *
read_password_file (const char *path)
{
  char buf[PASSWORD_FILE_MAX + 1];
  FILE *f = fopen (path, "r");
  size_t n;
  char *pw;

  if (f == NULL)
    {
      fprintf (stderr, "sc-bench: %s: %s\n", path, strerror (errno));
      return NULL;
    }
  n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  buf[strcspn (buf, "\r\n")] = '\0';
  pw = strdup (buf);
  sc_wipe (buf, sizeof buf);
  return pw;
}

static void
print_results (struct bench *b, double login_s, double msg_s)
{
  double logins_per_s = login_s > 0 ? (double) b->login_ok / login_s : 0.0;
  double msgs_per_s = msg_s > 0 ? (double) b->acked / msg_s : 0.0;

  printf ("sc-bench: %s:%s, %u logins %u at a time; %u pairs x %u in "
          "flight for %.1f s, %u-byte bodies\n",
          b->host, b->port, b->logins, b->concurrency, b->pairs, b->window,
          b->duration_ms / 1000.0, b->body_len);
  printf ("%-18s %12s\n", "metric", "value");
  printf ("%-18s %12" PRIu64 "\n", "logins", b->login_ok);
  printf ("%-18s %12" PRIu64 "\n", "logins failed", b->login_failed);
  printf ("%-18s %12.1f\n", "logins/s", logins_per_s);
  printf ("%-18s %12.2f\n", "login p50 ms",
          samples_quantile_ms (&b->login_lat, 0.50));
  printf ("%-18s %12.2f\n", "login p99 ms",
          samples_quantile_ms (&b->login_lat, 0.99));
  printf ("%-18s %12" PRIu64 "\n", "messages", b->acked);
  printf ("%-18s %12" PRIu64 "\n", "delivered", b->delivered);
  printf ("%-18s %12" PRIu64 "\n", "send errors", b->send_errors);
  printf ("%-18s %12" PRIu64 "\n", "bad deliveries", b->bad_deliveries);
  printf ("%-18s %12" PRIu64 "\n", "broken sessions", b->broken);
  printf ("%-18s %12.1f\n", "msgs/s", msgs_per_s);
  printf ("%-18s %12.2f\n", "latency p50 ms",
          samples_quantile_ms (&b->msg_lat, 0.50));
  printf ("%-18s %12.2f\n", "latency p99 ms",
          samples_quantile_ms (&b->msg_lat, 0.99));
  if (b->msg_lat.dropped > 0 || b->login_lat.dropped > 0)
    printf ("(latency percentiles over the first %u samples)\n", MAX_SAMPLES);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "server", required_argument, NULL, 's' },
    { "fingerprint", required_argument, NULL, 'f' },
    { "user-prefix", required_argument, NULL, 'u' },
    { "password", required_argument, NULL, 'p' },
    { "password-file", required_argument, NULL, 'P' },
    { "users", required_argument, NULL, 'n' },
    { "logins", required_argument, NULL, 'l' },
    { "concurrency", required_argument, NULL, 'c' },
    { "pairs", required_argument, NULL, 'r' },
    { "window", required_argument, NULL, 'w' },
    { "duration", required_argument, NULL, 'd' },
    { "body", required_argument, NULL, 'b' },
    { "login-timeout", required_argument, NULL, 't' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct bench b;
  const char *server = NULL;
  const char *fp = NULL;
  const char *password_file = NULL;
  double login_s = 0.0;
  double msg_s = 0.0;
  int status = 2;
  int opt;

  memset (&b, 0, sizeof b);
  b.logins = 200;
  b.concurrency = 16;
  b.pairs = 4;
  b.window = 16;
  b.duration_ms = 5000;
  b.body_len = 64;
  b.login_timeout_ms = 60000;

  while ((opt = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    {
      int rc = 0;

      switch (opt)
        {
        case 's':
          server = optarg;
          break;
        case 'f':
          fp = optarg;
          break;
        case 'u':
          b.prefix = optarg;
          break;
        case 'p':
          free (b.password);
          b.password = strdup (optarg);
          if (b.password == NULL)
            goto out;
          break;
        case 'P':
          password_file = optarg;
          break;
        case 'n':
          rc = parse_uint ("users", optarg, 1, MAX_CONNS, &b.n_users);
          break;
        case 'l':
          rc = parse_uint ("logins", optarg, 0, MAX_LOGINS, &b.logins);
          break;
        case 'c':
          rc = parse_uint ("concurrency", optarg, 1, MAX_CONNS, &b.concurrency);
          break;
        case 'r':
          rc = parse_uint ("pairs", optarg, 0, MAX_CONNS / 2, &b.pairs);
          break;
        case 'w':
          rc = parse_uint ("window", optarg, 1, MAX_WINDOW, &b.window);
          break;
        case 'd':
          rc = parse_seconds ("duration", optarg, MAX_DURATION_S,
                              &b.duration_ms);
          break;
        case 'b':
          rc = parse_uint ("body", optarg, BODY_MIN, SC_BODY_MAX, &b.body_len);
          break;
        case 't':
          rc = parse_seconds ("login-timeout", optarg, MAX_DURATION_S,
                              &b.login_timeout_ms);
          break;
        case 'h':
          usage (stdout);
          status = 0;
          goto out;
        default:
          usage (stderr);
          goto out;
        }
      if (rc < 0)
        goto out;
    }
  if (optind != argc || server == NULL || fp == NULL || b.prefix == NULL ||
      (b.password == NULL) == (password_file == NULL))
    {
      usage (stderr);
      goto out;
    }
  if (password_file != NULL)
    {
      b.password = read_password_file (password_file);
      if (b.password == NULL)
        goto out;
    }
  if (sc_password_validate (b.password, strlen (b.password)) < 0)
    {
      fprintf (stderr, "sc-bench: the password is not a valid password\n");
      goto out;
    }
  if (split_hostport (server, b.host, sizeof b.host, b.port, sizeof b.port) < 0)
    {
      fprintf (stderr, "sc-bench: --server wants HOST:PORT, not %s\n", server);
      goto out;
    }
  if (sc_fingerprint_validate (fp) < 0)
    {
      fprintf (stderr, "sc-bench: %s is not a SHA256:... fingerprint\n", fp);
      goto out;
    }
  memcpy (b.fingerprint, fp, SC_FINGERPRINT_LEN + 1);
  if (b.n_users == 0)
    b.n_users = b.concurrency > b.pairs * 2 ? b.concurrency : b.pairs * 2;
  if (b.n_users < b.concurrency || b.n_users < b.pairs * 2)
    {
      fprintf (stderr, "sc-bench: need at least max(concurrency, "
                       "2 * pairs) users\n");
      goto out;
    }
  {
    char probe[SC_USERNAME_MAX + 2];
    int len = snprintf (probe, sizeof probe, "%s%u", b.prefix, b.n_users - 1);

    if (len < 0 || (size_t) len > SC_USERNAME_MAX ||
        sc_username_validate (probe, (size_t) len) < 0)
      {
        fprintf (stderr, "sc-bench: %s0.. are not valid usernames\n", b.prefix);
        goto out;
      }
  }
  b.body = calloc (1, b.body_len);
  if (b.body == NULL || resolve (&b) < 0)
    {
      status = 1;
      goto out;
    }
  signal (SIGPIPE, SIG_IGN);

  status = 0;
  if (b.logins > 0 && run_logins (&b, &login_s) < 0)
    status = 1;
  if (status == 0 && b.pairs > 0 && run_messages (&b, &msg_s) < 0)
    status = 1;
  print_results (&b, login_s, msg_s);
  if (b.login_failed > 0 || b.send_errors > 0 || b.bad_deliveries > 0 ||
      b.broken > 0 || b.login_ok != b.logins ||
      (b.pairs > 0 && (b.acked == 0 || b.delivered != b.acked)))
    status = 1;

out:
  if (b.password != NULL)
    {
      sc_wipe (b.password, strlen (b.password));
      free (b.password);
    }
  free (b.body);
  free (b.login_lat.us);
  free (b.msg_lat.us);
  return status;
}
