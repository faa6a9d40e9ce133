/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sc-bench: load generator for securechatd, built on the same sans-I/O
 * client session (common/client.h) the real clients use, with plain
 * non-blocking sockets and poll(). Every phase is bounded in time:
 *
 *   logins    L complete logins (handshake, login, bye), C at a time;
 *   messages  P sender/receiver pairs, each sender keeping up to W sends
 *             in flight (paced at R a second with --rate) for D seconds;
 *             every send is timed until its "sent" (the server forwarded
 *             it to the receiver and acknowledged);
 *   load      with any of --storm, --half-open, --slow-readers or
 *             --flooders, the pairs go on for D more seconds while the
 *             load runs, and message latency is printed before, during
 *             and after it:
 *     --storm N        N logins at once (a share with wrong passwords),
 *                      each ending in ok, auth_failed, rate_limited,
 *                      server_busy, or refused (closed at accept);
 *     --half-open N    N connections that never send a byte, held (and
 *                      reopened when the server closes them, with
 *                      --half-open-reconnect);
 *     --slow-readers N N more pairs whose receivers stop reading;
 *     --flooders N     N more pairs whose senders send as fast as their
 *                      window allows, over the server's message_rate.
 *             Meanwhile a probe logs in again and again as a real user
 *             would and times it. The storm and the half-open flood run
 *             in a process of their own (at nice 10, --load-nice), so that
 *             their crypto does not stall the process timing the pairs.
 *             With --server-pid, the server's memory
 *             (VmRSS, VmHWM) and open sockets are sampled throughout.
 *
 * Users are PREFIX0 .. PREFIX(N-1), all with the same password: the pairs
 * first, then the flooders' and slow readers' pairs, the probe, and the
 * storm's users. Connections of the storm and the half-open flood can come
 * from 127.0.0.2, 127.0.0.3 ... (--storm-sources, --half-open-sources).
 * Prints a table; exits 0 when every login and message had an expected
 * outcome, 1 when some did not, 2 on bad usage. */
#define _GNU_SOURCE 1 /* pipe2 */
#include <arpa/inet.h>
#include <dirent.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-core.h"
#include "securechat/client.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/fingerprint.h"
#include "securechat/msg.h"

#define AGENT             "sc-bench/" SC_VERSION
#define MAX_CONNS         8192 /* sessions polled together */
#define MAX_PAIRS         1024
#define MAX_EXTRA_PAIRS   256 /* --slow-readers, --flooders */
#define MAX_STORM         4096
#define MAX_HALF_OPEN     20000
#define MAX_SOURCES       254 /* 127.0.0.2 .. 127.0.0.255 */
#define MAX_WINDOW        1024
#define MAX_RATE          100000
#define MAX_DURATION_S    600
#define MAX_LOGINS        1000000
#define BODY_MIN          8 /* room for the sequence number */
#define READ_CHUNK        65536
#define SETUP_TIMEOUT_MS  60000 /* connecting and logging in the pairs */
#define DRAIN_TIMEOUT_MS  10000 /* waiting for answers after the run */
#define PROBE_GAP_MS      200   /* between two probe logins */
#define PROBE_TIMEOUT_MS  30000 /* one probe login */
#define SAMPLE_EVERY_MS   100   /* server memory */
#define SOCKETS_EVERY_MS  500   /* server sockets (a walk of /proc/PID/fd) */
#define HALF_OPEN_POLL_MS 100
#define SLOW_RCVBUF       4096

enum role
{
  ROLE_LOGIN,
  ROLE_SENDER,       /* the pairs */
  ROLE_RECEIVER,     /* the pairs */
  ROLE_FLOOD_SENDER, /* --flooders */
  ROLE_FLOOD_RECEIVER,
  ROLE_SLOW_SENDER, /* --slow-readers */
  ROLE_SLOW_READER,
  ROLE_STORM, /* --storm */
  ROLE_PROBE, /* a real user logging in during the load */
};

enum phase
{
  PHASE_SETUP,
  PHASE_BASE, /* the pairs alone */
  PHASE_LOAD, /* the pairs and the load */
  PHASE_DRAIN,
};

/* When a send went out, for its latency: before, during or after the
 * load (during: while storm logins are outstanding, when there is a
 * storm). */
enum tag
{
  TAG_BEFORE,
  TAG_DURING,
  TAG_AFTER,
  TAG_N,
};

/* How one login of the storm or the probe ended. */
enum outcome
{
  OUT_NONE,
  OUT_OK,
  OUT_AUTH_FAILED,
  OUT_RATE_LIMITED,
  OUT_BUSY,
  OUT_FULL,
  OUT_REFUSED, /* closed before the handshake: the server's pending caps */
  OUT_OTHER,   /* anything else: a failure */
  OUT_N,
};

static const char *const outcome_names[OUT_N] = {
  [OUT_NONE] = "none",
  [OUT_OK] = "ok",
  [OUT_AUTH_FAILED] = "auth_failed",
  [OUT_RATE_LIMITED] = "rate_limited",
  [OUT_BUSY] = "server_busy",
  [OUT_FULL] = "server_full",
  [OUT_REFUSED] = "refused",
  [OUT_OTHER] = "other",
};

/* What one kind of pair did. */
struct group
{
  uint64_t acked;
  uint64_t delivered;
  uint64_t rate_limited; /* error rate_limited, with ref and retry_after */
  uint64_t offline;      /* error recipient_offline */
  uint64_t other_errors; /* any other answer: a failure */
  uint64_t no_retry;     /* rate_limited without retry_after: a failure */
  uint64_t bad_deliveries;
  uint64_t broken;
};

/* How a set of logins (the storm, the probes) ended. */
struct logins
{
  uint64_t n[OUT_N];
  uint64_t no_retry; /* rate_limited / server_busy without retry_after */
  struct bench_samples ok_lat;
};

struct sent_at
{
  int64_t ns;
  uint8_t tag;
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
  bool handshake_done; /* message 2 arrived */
  bool logged_in;
  bool quitting;
  bool failed; /* the session or socket broke */
  bool quiet;  /* failures are expected: do not print them */
  int64_t opened_ns;

  /* storm and probe */
  enum outcome outcome;
  /* setup: told server_busy, so try again at this time (0: not told) */
  int64_t retry_at_ns;

  /* senders: the peer, the send times of the window (FIFO: answers come
   * in the order of the sends), and the pace */
  char peer[SC_USERNAME_MAX + 1];
  struct sent_at *fifo;
  size_t fifo_head;
  size_t in_flight;
  uint64_t next_seq;
  int64_t period_ns; /* 0: as fast as the window allows */
  int64_t next_send_ns;

  /* receivers */
  uint64_t expect_seq;
};

struct half_open
{
  int *fd;
  int64_t *opened_ns;
  unsigned n;
  uint64_t opened;
  uint64_t connect_errors;
  uint64_t closed_fast; /* within a second: refused at accept */
  uint64_t closed_late; /* later: the handshake deadline */
  unsigned open_at_end; /* still open when the load ended */
  int64_t next_poll_ns;
  int last_errno;
};

struct server_stats
{
  bool ok;
  long rss_kb;
  long hwm_kb;
  long sockets;
};

/* What the load process (the storm and the half-open flood) found, sent to
 * the main one through a pipe, after a STORM_DONE byte when the last storm
 * login ended. */
#define LOAD_STORM_DONE 'S'
#define LOAD_REPORT     'R'

struct load_report
{
  uint64_t storm_n[OUT_N];
  uint64_t storm_no_retry;
  double storm_ok_p50_ms;
  double storm_ok_max_ms;
  double storm_s;
  uint64_t ho_opened;
  uint64_t ho_connect_errors;
  uint64_t ho_closed_fast;
  uint64_t ho_closed_late;
  uint64_t ho_open_at_end;
  int ho_last_errno;
};

struct bench
{
  /* options */
  char host[256];
  char port[8];
  char fingerprint[SC_FINGERPRINT_LEN + 1];
  const char *prefix;
  char *password;
  char *wrong_password;
  unsigned n_users;
  unsigned logins;
  unsigned concurrency;
  unsigned pairs;
  unsigned window;
  unsigned duration_ms;
  unsigned body_len;
  unsigned login_timeout_ms;
  unsigned rate;
  unsigned storm;
  unsigned storm_wrong_pct;
  unsigned storm_sources;
  unsigned half_open_n;
  unsigned half_open_sources;
  bool half_open_reconnect;
  unsigned slow_readers;
  unsigned slow_rate;
  unsigned slow_body;
  unsigned flooders;
  unsigned load_nice;
  long server_pid;

  struct sockaddr_storage addr;
  socklen_t addr_len;
  uint8_t *body;
  uint8_t *slow_body_buf;

  /* run state */
  int64_t now_ns;
  enum phase phase;
  int64_t send_until_ns;
  bool storm_active;
  unsigned storm_user0; /* first account of the storm */
  unsigned storm_users; /* accounts it uses */
  unsigned probe_user;
  int64_t next_probe_ns;
  int64_t next_sample_ns;
  int64_t next_sockets_ns;
  struct pollfd *pfd;
  size_t *pidx;
  size_t pcap;
  struct half_open ho;

  /* results */
  uint64_t login_ok;
  uint64_t login_failed;
  struct bench_samples login_lat;
  struct group pairs_g;
  struct group flood_g;
  struct group slow_g;
  int64_t last_ack_ns;
  struct bench_samples msg_lat[TAG_N];
  /* The longest time without any "sent" for the pairs, by phase: a stall
   * of the relay shows here whatever the percentiles say. */
  int64_t ack_gap_ns[TAG_N];
  int64_t ack_gap_at_ns[TAG_N]; /* when it ended, from the load start */
  int64_t load_start_ns;
  struct logins storm_r;
  struct logins probe_r;
  double storm_s;
  double storm_ok_p50_ms;
  double storm_ok_max_ms;
  struct server_stats srv_before;
  struct server_stats srv_base_end;
  struct server_stats srv_load_peak; /* peak VmRSS and sockets in the load */
  struct server_stats srv_load_end;
  struct server_stats srv_after;
};

/* A percentile as this program reports it: 0 without samples. */
static double
quantile_ms (struct bench_samples *s, double p)
{
  double v = bench_samples_quantile_ms (s, p);

  return v < 0 ? 0.0 : v;
}

/* -- the server process ------------------------------------------------ */

/* VmRSS and VmHWM from /proc/PID/status; with sockets, also counts the
 * sockets among its open files. */
static struct server_stats
server_sample (const struct bench *b, bool sockets)
{
  struct server_stats st = { false, -1, -1, -1 };
  char path[64];

  if (b->server_pid <= 0)
    return st;
  bench_proc_mem ((pid_t) b->server_pid, &st.rss_kb, &st.hwm_kb);
  st.ok = st.rss_kb >= 0 && st.hwm_kb >= 0;
  if (sockets)
    {
      DIR *d;
      struct dirent *e;

      snprintf (path, sizeof path, "/proc/%ld/fd", b->server_pid);
      d = opendir (path);
      if (d != NULL)
        {
          st.sockets = 0;
          while ((e = readdir (d)) != NULL)
            {
              char link[PATH_MAX], target[64];
              ssize_t len;

              if (e->d_name[0] == '.')
                continue;
              snprintf (link, sizeof link, "%s/%s", path, e->d_name);
              len = readlink (link, target, sizeof target - 1);
              if (len > 0)
                {
                  target[len] = '\0';
                  if (strncmp (target, "socket:", 7) == 0)
                    st.sockets++;
                }
            }
          closedir (d);
        }
    }
  return st;
}

/* Samples the server now and then during the load; keeps the peaks. */
static void
server_watch (struct bench *b)
{
  struct server_stats st;
  bool sockets;

  if (b->server_pid <= 0 || b->now_ns < b->next_sample_ns)
    return;
  b->next_sample_ns = b->now_ns + (int64_t) SAMPLE_EVERY_MS * 1000000;
  sockets = b->now_ns >= b->next_sockets_ns;
  if (sockets)
    b->next_sockets_ns = b->now_ns + (int64_t) SOCKETS_EVERY_MS * 1000000;
  st = server_sample (b, sockets);
  if (!st.ok)
    return;
  b->srv_load_peak.ok = true;
  if (st.rss_kb > b->srv_load_peak.rss_kb)
    b->srv_load_peak.rss_kb = st.rss_kb;
  if (st.hwm_kb > b->srv_load_peak.hwm_kb)
    b->srv_load_peak.hwm_kb = st.hwm_kb;
  if (st.sockets > b->srv_load_peak.sockets)
    b->srv_load_peak.sockets = st.sockets;
}

/* -- one connection ---------------------------------------------------- */

static bool
is_sender (const struct conn *cn)
{
  return cn->role == ROLE_SENDER || cn->role == ROLE_FLOOD_SENDER ||
         cn->role == ROLE_SLOW_SENDER;
}

static struct group *
group_of (struct conn *cn)
{
  switch (cn->role)
    {
    case ROLE_FLOOD_SENDER:
    case ROLE_FLOOD_RECEIVER:
      return &cn->b->flood_g;
    case ROLE_SLOW_SENDER:
    case ROLE_SLOW_READER:
      return &cn->b->slow_g;
    default:
      return &cn->b->pairs_g;
    }
}

static enum tag
current_tag (const struct bench *b)
{
  if (b->phase <= PHASE_BASE)
    return TAG_BEFORE;
  if (b->storm > 0 && !b->storm_active)
    return TAG_AFTER;
  return TAG_DURING;
}

/* Sends the next message of a sender's window. */
static void
sender_push (struct conn *cn)
{
  struct bench *b = cn->b;
  bool slow = cn->role == ROLE_SLOW_SENDER;
  uint8_t *body = slow ? b->slow_body_buf : b->body;
  size_t body_len = slow ? b->slow_body : b->body_len;
  uint64_t ref = 0;
  size_t slot;
  int rc;

  bench_put_be64 (body, cn->next_seq);
  rc = sc_client_send (cn->client, cn->peer, body, body_len, &ref);
  if (rc < 0)
    {
      fprintf (stderr, "sc-bench: %s: cannot send: %s\n", cn->user,
               sc_strerror (rc));
      cn->failed = true;
      return;
    }
  cn->next_seq++;
  slot = (cn->fifo_head + cn->in_flight) % b->window;
  cn->fifo[slot].ns = b->now_ns;
  cn->fifo[slot].tag = (uint8_t) current_tag (b);
  cn->in_flight++;
}

static bool
sender_active (const struct conn *cn)
{
  const struct bench *b = cn->b;

  if (cn->failed || !cn->logged_in || b->now_ns >= b->send_until_ns)
    return false;
  if (cn->role == ROLE_SENDER)
    return b->phase == PHASE_BASE || b->phase == PHASE_LOAD;
  return b->phase == PHASE_LOAD;
}

/* Sends what the window and the pace allow. Behind its pace (the window
 * was full), a sender catches up at most one window's worth. */
static void
sender_fill (struct conn *cn)
{
  struct bench *b = cn->b;

  while (sender_active (cn) && cn->in_flight < b->window)
    {
      if (cn->period_ns > 0)
        {
          if (b->now_ns < cn->next_send_ns)
            break;
          cn->next_send_ns += cn->period_ns;
          if (cn->next_send_ns < b->now_ns - cn->period_ns * b->window)
            cn->next_send_ns = b->now_ns;
        }
      sender_push (cn);
    }
}

/* An answer (sent or error) to the oldest send in flight. */
static bool
sender_pop (struct conn *cn, struct sent_at *out)
{
  if (cn->in_flight == 0)
    return false;
  *out = cn->fifo[cn->fifo_head];
  cn->fifo_head = (cn->fifo_head + 1) % cn->b->window;
  cn->in_flight--;
  return true;
}

static void
conn_outcome (struct conn *cn, enum outcome o)
{
  struct bench *b = cn->b;
  struct logins *r = cn->role == ROLE_STORM ? &b->storm_r : &b->probe_r;

  if (cn->outcome != OUT_NONE)
    return;
  cn->outcome = o;
  r->n[o]++;
  if (o == OUT_OK)
    bench_samples_add (&r->ok_lat, b->now_ns - cn->opened_ns);
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
  cn->handshake_done = true;
  return 0;
}

static void
logged_in_cb (void *ud, const char *user)
{
  struct conn *cn = ud;

  (void) user;
  cn->logged_in = true;
  if (cn->role == ROLE_STORM || cn->role == ROLE_PROBE)
    conn_outcome (cn, OUT_OK);
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
  struct group *g = group_of (cn);
  uint64_t seq;

  (void) id;
  (void) ts;
  if ((cn->role != ROLE_RECEIVER && cn->role != ROLE_FLOOD_RECEIVER &&
       cn->role != ROLE_SLOW_READER) ||
      strcmp (from, cn->peer) != 0 || body_len < BODY_MIN)
    {
      g->bad_deliveries++;
      return;
    }
  seq = bench_get_be64 (body);
  /* A pair delivers every send in order; a flooder's refused sends leave
   * gaps, never reorderings. */
  if ((cn->role == ROLE_RECEIVER && seq != cn->expect_seq) ||
      seq < cn->expect_seq ||
      body_len != (cn->role == ROLE_SLOW_READER ? b->slow_body : b->body_len))
    {
      g->bad_deliveries++;
      return;
    }
  cn->expect_seq = seq + 1;
  g->delivered++;
}

static void
sent_cb (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  struct conn *cn = ud;
  struct bench *b = cn->b;
  struct sent_at t;

  (void) ref;
  (void) id;
  (void) ts;
  if (!sender_pop (cn, &t))
    return;
  group_of (cn)->acked++;
  if (cn->role == ROLE_SENDER)
    {
      enum tag now_tag = current_tag (b);

      bench_samples_add (&b->msg_lat[t.tag], b->now_ns - t.ns);
      /* Gaps count while the senders send, not after. */
      if (b->last_ack_ns > 0 && b->now_ns < b->send_until_ns &&
          (b->phase == PHASE_BASE || b->phase == PHASE_LOAD) &&
          b->now_ns - b->last_ack_ns > b->ack_gap_ns[now_tag])
        {
          b->ack_gap_ns[now_tag] = b->now_ns - b->last_ack_ns;
          b->ack_gap_at_ns[now_tag] = b->now_ns - b->load_start_ns;
        }
      b->last_ack_ns = b->now_ns;
    }
  sender_fill (cn);
}

static enum outcome
login_error_outcome (enum sc_code code)
{
  switch (code)
    {
    case SC_CODE_AUTH_FAILED:
      return OUT_AUTH_FAILED;
    case SC_CODE_RATE_LIMITED:
      return OUT_RATE_LIMITED;
    case SC_CODE_SERVER_BUSY:
      return OUT_BUSY;
    case SC_CODE_SERVER_FULL:
      return OUT_FULL;
    default:
      return OUT_OTHER;
    }
}

static void
error_cb (void *ud, const struct sc_msg_error *e)
{
  struct conn *cn = ud;
  struct bench *b = cn->b;

  if ((cn->role == ROLE_STORM || cn->role == ROLE_PROBE) && !cn->logged_in)
    {
      enum outcome o = login_error_outcome (e->code);
      struct logins *r = cn->role == ROLE_STORM ? &b->storm_r : &b->probe_r;

      if ((o == OUT_BUSY || o == OUT_RATE_LIMITED) && e->retry_after == 0)
        r->no_retry++;
      if (o == OUT_OTHER)
        fprintf (stderr, "sc-bench: %s: login answered %s: %s\n", cn->user,
                 sc_code_name (e->code), e->message);
      conn_outcome (cn, o);
      return;
    }
  /* Setting up, the pairs log in as any client would: told the server is
   * busy, they come back when it says. */
  if (b->phase == PHASE_SETUP && !cn->logged_in &&
      e->code == SC_CODE_SERVER_BUSY)
    {
      int64_t ms = e->retry_after > 100 ? e->retry_after : 100;

      cn->retry_at_ns = b->now_ns + ms * 1000000;
      return;
    }
  if (e->has_ref && is_sender (cn))
    {
      struct group *g = group_of (cn);
      struct sent_at t;

      if (sender_pop (cn, &t))
        {
          if (e->code == SC_CODE_RATE_LIMITED)
            {
              g->rate_limited++;
              if (e->retry_after == 0)
                g->no_retry++;
            }
          else if (e->code == SC_CODE_RECIPIENT_OFFLINE &&
                   cn->role == ROLE_SLOW_SENDER)
            g->offline++;
          else
            {
              g->other_errors++;
              fprintf (stderr, "sc-bench: %s: server error %s: %s\n", cn->user,
                       sc_code_name (e->code), e->message);
            }
        }
      sender_fill (cn);
      return;
    }
  fprintf (stderr, "sc-bench: %s: server error %s: %s\n", cn->user,
           sc_code_name (e->code), e->message);
  group_of (cn)->other_errors++;
}

static void
closed_cb (void *ud, int err, enum sc_code code, const char *message)
{
  struct conn *cn = ud;

  cn->failed = true;
  if (cn->role == ROLE_STORM || cn->role == ROLE_PROBE)
    {
      /* A storm login that logged in may be replaced by a later one of the
       * same user before it says bye: it counted already. */
      if (cn->outcome == OUT_NONE)
        {
          fprintf (stderr,
                   "sc-bench: %s: login ended without an answer: %s "
                   "(%s)\n",
                   cn->user,
                   err == SC_OK ? sc_code_name (code) : sc_strerror (err),
                   message != NULL ? message : "");
          conn_outcome (cn, OUT_OTHER);
        }
      return;
    }
  if (err == SC_OK)
    fprintf (stderr, "sc-bench: %s: server said bye (%s): %s\n", cn->user,
             sc_code_name (code), message != NULL ? message : "");
  else
    fprintf (stderr, "sc-bench: %s: session closed: %s (%s)\n", cn->user,
             sc_strerror (err), message != NULL ? message : "");
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
  cn->handshake_done = false;
  cn->logged_in = false;
  cn->quitting = false;
}

/* 127.0.0.(2 + index % sources): a source address of its own, so that the
 * server's per-address limits see several peers. */
static int
bind_source (int fd, unsigned index, unsigned sources)
{
  struct sockaddr_in sin;

  memset (&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (0x7f000002u + index % sources);
  return bind (fd, (const struct sockaddr *) &sin, sizeof sin);
}

/* Opens a connection as user with password (from 127.0.0.1, or from
 * the source given by index when sources > 0) and queues handshake
 * message 1. */
static int
conn_open_as (struct conn *cn,
              const char *user,
              const char *password,
              unsigned index,
              unsigned sources)
{
  struct bench *b = cn->b;
  struct sc_client_config cfg;
  int one = 1;
  int rc;

  conn_close (cn);
  cn->failed = false;
  cn->outcome = OUT_NONE;
  snprintf (cn->user, sizeof cn->user, "%s", user);
  cn->opened_ns = b->now_ns;
  cn->fd =
      socket (b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (cn->fd < 0)
    {
      fprintf (stderr, "sc-bench: socket: %s\n", strerror (errno));
      cn->failed = true;
      return -1;
    }
  (void) setsockopt (cn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cn->role == ROLE_SLOW_READER)
    {
      int size = SLOW_RCVBUF;

      (void) setsockopt (cn->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  if (sources > 0 && bind_source (cn->fd, index, sources) < 0)
    {
      fprintf (stderr, "sc-bench: cannot bind to a 127.0.0.x source: %s\n",
               strerror (errno));
      cn->failed = true;
      return -1;
    }
  if (connect (cn->fd, (const struct sockaddr *) &b->addr, b->addr_len) < 0)
    {
      if (errno != EINPROGRESS)
        {
          if (!cn->quiet)
            fprintf (stderr, "sc-bench: cannot connect to %s:%s: %s\n", b->host,
                     b->port, strerror (errno));
          cn->failed = true;
          return -1;
        }
      cn->connecting = true;
    }

  memset (&cfg, 0, sizeof cfg);
  cfg.user = cn->user;
  cfg.password = password;
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
  return 0;
}

static int
conn_open (struct conn *cn, unsigned user_index)
{
  char user[SC_USERNAME_MAX + 1];

  snprintf (user, sizeof user, "%s%u", cn->b->prefix, user_index);
  return conn_open_as (cn, user, cn->b->password, 0, 0);
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
              if (!cn->quiet)
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

/* A slow reader stops reading once the load starts. */
static bool
conn_reads (const struct conn *cn)
{
  return !(cn->role == ROLE_SLOW_READER && cn->b->phase >= PHASE_LOAD);
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
              if (!cn->quiet)
                fprintf (stderr, "sc-bench: %s: recv: %s\n", cn->user,
                         strerror (errno));
              cn->failed = true;
            }
          return;
        }
      if (n == 0)
        {
          if (!cn->quitting && !cn->quiet)
            fprintf (stderr,
                     "sc-bench: %s: the server closed the "
                     "connection\n",
                     cn->user);
          cn->failed = true;
          return;
        }
      cn->b->now_ns = bench_mono_ns ();
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
          if (!cn->quiet)
            fprintf (stderr, "sc-bench: cannot connect to %s:%s: %s\n",
                     cn->b->host, cn->b->port, strerror (err));
          cn->failed = true;
          return;
        }
      cn->connecting = false;
    }
  if ((revents & (POLLIN | POLLERR | POLLHUP)) && conn_reads (cn))
    conn_read (cn);
  if (!cn->failed)
    conn_flush (cn);
}

static int
pollfds_reserve (struct bench *b, size_t n)
{
  struct pollfd *pfd;
  size_t *idx;

  if (n <= b->pcap)
    return 0;
  pfd = realloc (b->pfd, n * sizeof *pfd);
  if (pfd == NULL)
    return -1;
  b->pfd = pfd;
  idx = realloc (b->pidx, n * sizeof *idx);
  if (idx == NULL)
    return -1;
  b->pidx = idx;
  b->pcap = n;
  return 0;
}

/* One round of poll() over the open connections, at most timeout_ms. */
static int
pump (struct bench *b, struct conn *conns, size_t n, int timeout_ms)
{
  size_t m = 0;
  int rc;

  if (pollfds_reserve (b, n) < 0)
    {
      fprintf (stderr, "sc-bench: out of memory\n");
      return -1;
    }
  for (size_t i = 0; i < n; i++)
    {
      struct pollfd *p = &b->pfd[m];

      if (conns[i].fd < 0 || conns[i].failed)
        continue;
      conn_flush (&conns[i]);
      p->fd = conns[i].fd;
      p->events = conn_reads (&conns[i]) ? POLLIN : 0;
      if (conn_wants_write (&conns[i]))
        p->events |= POLLOUT;
      if (p->events == 0)
        continue;
      p->revents = 0;
      b->pidx[m] = i;
      m++;
    }
  rc = poll (b->pfd, m, timeout_ms);
  if (rc < 0)
    {
      if (errno == EINTR)
        return 0;
      fprintf (stderr, "sc-bench: poll: %s\n", strerror (errno));
      return -1;
    }
  b->now_ns = bench_mono_ns ();
  for (size_t j = 0; j < m && rc > 0; j++)
    if (b->pfd[j].revents != 0)
      conn_event (&conns[b->pidx[j]], b->pfd[j].revents);
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

/* -- the logins phase --------------------------------------------------- */

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
  b->now_ns = bench_mono_ns ();
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
              bench_samples_add (&b->login_lat, b->now_ns - cn->opened_ns);
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
  *seconds = (double) (bench_mono_ns () - t0) / 1e9;
  for (unsigned i = 0; i < n; i++)
    conn_close (&slots[i]);
  free (slots);
  return ret;
}

/* -- the half-open flood ------------------------------------------------- */

static void
half_open_one (struct bench *b, unsigned i)
{
  struct half_open *ho = &b->ho;
  int fd;

  fd =
      socket (b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      ho->connect_errors++;
      ho->last_errno = errno;
      return;
    }
  if (b->half_open_sources > 0 && bind_source (fd, i, b->half_open_sources) < 0)
    {
      ho->connect_errors++;
      ho->last_errno = errno;
      close (fd);
      return;
    }
  if (connect (fd, (const struct sockaddr *) &b->addr, b->addr_len) < 0 &&
      errno != EINPROGRESS)
    {
      ho->connect_errors++;
      ho->last_errno = errno;
      close (fd);
      return;
    }
  ho->fd[i] = fd;
  ho->opened_ns[i] = b->now_ns;
  ho->opened++;
}

static int
half_open_start (struct bench *b)
{
  struct half_open *ho = &b->ho;

  ho->n = b->half_open_n;
  ho->fd = malloc (ho->n * sizeof *ho->fd);
  ho->opened_ns = calloc (ho->n, sizeof *ho->opened_ns);
  if (ho->fd == NULL || ho->opened_ns == NULL)
    return -1;
  for (unsigned i = 0; i < ho->n; i++)
    ho->fd[i] = -1;
  for (unsigned i = 0; i < ho->n; i++)
    half_open_one (b, i);
  ho->next_poll_ns = b->now_ns;
  return 0;
}

/* Notices the connections the server closed (and reopens them with
 * --half-open-reconnect while the load lasts). */
static void
half_open_poll (struct bench *b)
{
  struct half_open *ho = &b->ho;
  struct pollfd *pfd;
  unsigned *which;
  unsigned m = 0;

  if (ho->n == 0 || b->now_ns < ho->next_poll_ns)
    return;
  ho->next_poll_ns = b->now_ns + (int64_t) HALF_OPEN_POLL_MS * 1000000;
  pfd = malloc (ho->n * sizeof *pfd);
  which = malloc (ho->n * sizeof *which);
  if (pfd == NULL || which == NULL)
    goto out;
  for (unsigned i = 0; i < ho->n; i++)
    if (ho->fd[i] >= 0)
      {
        pfd[m].fd = ho->fd[i];
        pfd[m].events = POLLIN;
        pfd[m].revents = 0;
        which[m++] = i;
      }
  if (m > 0 && poll (pfd, m, 0) <= 0)
    goto reopen;
  for (unsigned j = 0; j < m; j++)
    {
      unsigned i = which[j];
      uint8_t buf[256];
      ssize_t n;

      if (pfd[j].revents == 0)
        continue;
      n = recv (ho->fd[i], buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        continue;
      if (n > 0)
        continue; /* the server never writes first: ignore */
      if (b->now_ns - ho->opened_ns[i] < (int64_t) 1000 * 1000000)
        ho->closed_fast++;
      else
        ho->closed_late++;
      close (ho->fd[i]);
      ho->fd[i] = -1;
    }
reopen:
  if (b->half_open_reconnect && b->phase == PHASE_LOAD)
    for (unsigned i = 0; i < ho->n; i++)
      if (ho->fd[i] < 0)
        half_open_one (b, i);
out:
  free (pfd);
  free (which);
}

static unsigned
half_open_held (const struct bench *b)
{
  unsigned n = 0;

  for (unsigned i = 0; i < b->ho.n; i++)
    if (b->ho.fd[i] >= 0)
      n++;
  return n;
}

static void
half_open_stop (struct bench *b)
{
  for (unsigned i = 0; i < b->ho.n; i++)
    if (b->ho.fd[i] >= 0)
      close (b->ho.fd[i]);
  free (b->ho.fd);
  free (b->ho.opened_ns);
  b->ho.fd = NULL;
  b->ho.opened_ns = NULL;
  b->ho.n = 0;
}

/* -- the messages phase, with its load ------------------------------------ */

static bool
all_logged_in (const struct conn *conns, size_t n, bool *broken)
{
  bool all = true;

  *broken = false;
  for (size_t i = 0; i < n; i++)
    {
      if (conns[i].role == ROLE_STORM || conns[i].role == ROLE_PROBE)
        continue;
      if (conns[i].failed)
        *broken = true;
      if (!conns[i].logged_in)
        all = false;
    }
  return all;
}

static bool
has_load (const struct bench *b)
{
  return b->storm > 0 || b->half_open_n > 0 || b->slow_readers > 0 ||
         b->flooders > 0;
}

/* Storm login i: a storm account, with the wrong password for
 * storm_wrong_pct in every hundred. */
static void
storm_open (struct bench *b, struct conn *cn, unsigned i)
{
  char user[SC_USERNAME_MAX + 1];
  bool wrong = i % 100 < b->storm_wrong_pct;

  snprintf (user, sizeof user, "%s%u", b->prefix,
            b->storm_user0 + i % b->storm_users);
  /* Failing to even start is the bench's own problem (descriptors,
   * ports), not an answer from the server. */
  if (conn_open_as (cn, user, wrong ? b->wrong_password : b->password, i,
                    b->storm_sources) < 0)
    conn_outcome (cn, OUT_OTHER);
}

/* Storm and probe logins: quit the ones that logged in, close the ones
 * that ended, count the ones that gave no answer in time. */
static void
logins_step (struct bench *b, struct conn *cn, int64_t timeout_ns)
{
  size_t pending = 0;

  if (cn->client == NULL && cn->fd < 0)
    return;
  if (cn->outcome == OUT_NONE && cn->failed)
    conn_outcome (cn, cn->handshake_done ? OUT_OTHER : OUT_REFUSED);
  if (cn->outcome == OUT_NONE && b->now_ns - cn->opened_ns >= timeout_ns)
    {
      fprintf (stderr,
               "sc-bench: %s: no answer to the login within %" PRId64 " ms\n",
               cn->user, timeout_ns / 1000000);
      conn_outcome (cn, OUT_OTHER);
    }
  if (cn->outcome == OUT_NONE)
    return;
  if (cn->logged_in && !cn->quitting && !cn->failed)
    {
      if (sc_client_quit (cn->client) == SC_OK)
        {
          cn->quitting = true;
          conn_flush (cn);
        }
      else
        cn->failed = true;
    }
  if (cn->client != NULL && !cn->failed)
    (void) sc_client_pending (cn->client, &pending);
  if (cn->failed || !cn->logged_in || (cn->quitting && pending == 0))
    conn_close (cn);
}

static void
storm_step (struct bench *b, struct conn *storm, int64_t t0)
{
  bool active = false;

  for (unsigned i = 0; i < b->storm; i++)
    {
      logins_step (b, &storm[i], (int64_t) b->login_timeout_ms * 1000000);
      if (storm[i].outcome == OUT_NONE)
        active = true;
    }
  if (b->storm_active && !active)
    b->storm_s = (double) (b->now_ns - t0) / 1e9;
  b->storm_active = active;
}

static void
probe_step (struct bench *b, struct conn *probe)
{
  bool idle = probe->client == NULL && probe->fd < 0;

  if (!idle)
    {
      logins_step (b, probe, (int64_t) PROBE_TIMEOUT_MS * 1000000);
      if (probe->client == NULL && probe->fd < 0)
        b->next_probe_ns = b->now_ns + (int64_t) PROBE_GAP_MS * 1000000;
      return;
    }
  if (b->phase != PHASE_LOAD || b->now_ns < b->next_probe_ns)
    return;
  if (conn_open (probe, b->probe_user) < 0)
    {
      conn_outcome (probe, OUT_OTHER);
      b->next_probe_ns = b->now_ns + (int64_t) PROBE_GAP_MS * 1000000;
    }
}

/* -- the load process: the storm and the half-open flood --------------- */

/* The storm's handshakes cost the client as much as the server (two
 * X25519 each): run in the process that times the pairs, they would stall
 * it and show up as message latency that the server never caused. So
 * they run in a process of their own. */
struct load
{
  pid_t pid;
  int rfd; /* the pipe from it, non-blocking */
  size_t got;
  bool reported;
  uint8_t buf[1 + 1 + sizeof (struct load_report)];
};

static void
write_all (int fd, const void *p, size_t len)
{
  const uint8_t *q = p;

  while (len > 0)
    {
      ssize_t n = write (fd, q, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      q += n;
      len -= (size_t) n;
    }
}

static void __attribute__ ((noreturn)) load_child (struct bench *b, int wfd)
{
  struct conn *storm = calloc (b->storm > 0 ? b->storm : 1, sizeof *storm);
  struct load_report rep;
  int64_t t_load = b->now_ns;
  int64_t deadline = t_load + (int64_t) b->login_timeout_ms * 1000000;
  bool told = false;
  uint8_t tag;

  if (storm == NULL)
    _exit (1);
  /* The storm's clients would be other machines: here they run at a lower
   * priority, so that their crypto takes a core only when the server and
   * the pairs being timed leave one idle. */
  (void) setpriority (PRIO_PROCESS, 0, (int) b->load_nice);
  b->ho.n = 0;
  if (b->half_open_n > 0 && half_open_start (b) < 0)
    _exit (1);
  for (unsigned i = 0; i < b->storm; i++)
    {
      storm[i].b = b;
      storm[i].fd = -1;
      storm[i].role = ROLE_STORM;
      storm[i].quiet = true;
      storm_open (b, &storm[i], i);
    }
  b->storm_active = b->storm > 0;
  while (b->now_ns < b->send_until_ns ||
         (b->storm_active && b->now_ns < deadline))
    {
      if (pump (b, storm, b->storm, b->storm_active ? 1 : 50) < 0)
        _exit (1);
      storm_step (b, storm, t_load);
      if (!b->storm_active && !told)
        {
          tag = LOAD_STORM_DONE;
          write_all (wfd, &tag, 1);
          told = true;
        }
      half_open_poll (b);
    }
  b->phase = PHASE_DRAIN;
  b->ho.next_poll_ns = b->now_ns;
  half_open_poll (b);

  memset (&rep, 0, sizeof rep);
  memcpy (rep.storm_n, b->storm_r.n, sizeof rep.storm_n);
  rep.storm_no_retry = b->storm_r.no_retry;
  rep.storm_ok_p50_ms = quantile_ms (&b->storm_r.ok_lat, 0.50);
  rep.storm_ok_max_ms = quantile_ms (&b->storm_r.ok_lat, 1.0);
  rep.storm_s = b->storm_s;
  rep.ho_opened = b->ho.opened;
  rep.ho_connect_errors = b->ho.connect_errors;
  rep.ho_closed_fast = b->ho.closed_fast;
  rep.ho_closed_late = b->ho.closed_late;
  rep.ho_open_at_end = half_open_held (b);
  rep.ho_last_errno = b->ho.last_errno;
  half_open_stop (b);
  for (unsigned i = 0; i < b->storm; i++)
    conn_close (&storm[i]);
  free (storm);
  if (!told)
    {
      tag = LOAD_STORM_DONE;
      write_all (wfd, &tag, 1);
    }
  tag = LOAD_REPORT;
  write_all (wfd, &tag, 1);
  write_all (wfd, &rep, sizeof rep);
  _exit (0);
}

static int
load_start (struct bench *b, struct conn *conns, size_t n, struct load *ld)
{
  int fds[2];

  if (pipe2 (fds, O_CLOEXEC) < 0)
    {
      fprintf (stderr, "sc-bench: pipe: %s\n", strerror (errno));
      return -1;
    }
  fflush (stdout);
  fflush (stderr);
  ld->pid = fork ();
  if (ld->pid < 0)
    {
      fprintf (stderr, "sc-bench: fork: %s\n", strerror (errno));
      close (fds[0]);
      close (fds[1]);
      return -1;
    }
  if (ld->pid == 0)
    {
      /* The pairs' sockets belong to the main process. */
      for (size_t i = 0; i < n; i++)
        if (conns[i].fd >= 0)
          close (conns[i].fd);
      close (fds[0]);
      load_child (b, fds[1]);
    }
  close (fds[1]);
  ld->rfd = fds[0];
  if (fcntl (ld->rfd, F_SETFL, O_NONBLOCK) < 0)
    return -1;
  return 0;
}

/* Takes in what the load process said so far. */
static int
load_read (struct bench *b, struct load *ld)
{
  for (;;)
    {
      ssize_t r;

      if (ld->rfd < 0 || ld->reported || ld->got == sizeof ld->buf)
        return 0;
      r = read (ld->rfd, ld->buf + ld->got, sizeof ld->buf - ld->got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
      if (r <= 0)
        {
          fprintf (stderr, "sc-bench: the load process ended without a "
                           "report\n");
          return -1;
        }
      ld->got += (size_t) r;
      if (ld->got >= 1 && ld->buf[0] == LOAD_STORM_DONE && b->storm_active)
        {
          b->storm_active = false;
          b->storm_s =
              (double) (b->now_ns - (b->send_until_ns -
                                     (int64_t) b->duration_ms * 1000000)) /
              1e9;
        }
      if (ld->got == sizeof ld->buf)
        {
          struct load_report rep;

          if (ld->buf[1] != LOAD_REPORT)
            return -1;
          memcpy (&rep, ld->buf + 2, sizeof rep);
          memcpy (b->storm_r.n, rep.storm_n, sizeof rep.storm_n);
          b->storm_r.no_retry = rep.storm_no_retry;
          b->storm_ok_p50_ms = rep.storm_ok_p50_ms;
          b->storm_ok_max_ms = rep.storm_ok_max_ms;
          b->storm_s = rep.storm_s;
          b->ho.opened = rep.ho_opened;
          b->ho.connect_errors = rep.ho_connect_errors;
          b->ho.closed_fast = rep.ho_closed_fast;
          b->ho.closed_late = rep.ho_closed_late;
          b->ho.open_at_end = (unsigned) rep.ho_open_at_end;
          b->ho.last_errno = rep.ho_last_errno;
          ld->reported = true;
        }
    }
}

/* Waits (bounded) for the load process's report, then for its exit. */
static int
load_finish (struct bench *b, struct load *ld)
{
  int64_t deadline = b->now_ns + (int64_t) DRAIN_TIMEOUT_MS * 1000000;

  if (ld->pid <= 0)
    return 0;
  while (!ld->reported && b->now_ns < deadline)
    {
      struct pollfd p = { ld->rfd, POLLIN, 0 };

      (void) poll (&p, 1, ms_until (b, deadline, 100));
      b->now_ns = bench_mono_ns ();
      if (load_read (b, ld) < 0)
        return -1;
    }
  if (!ld->reported)
    {
      fprintf (stderr, "sc-bench: no report from the load process\n");
      return -1;
    }
  return 0;
}

/* Stops the load process by its pid if it is still there, and reaps it. */
static void
load_stop (struct load *ld)
{
  if (ld->rfd >= 0)
    close (ld->rfd);
  ld->rfd = -1;
  if (ld->pid > 0)
    {
      int st;

      for (int i = 0; i < 50 && waitpid (ld->pid, &st, WNOHANG) == 0; i++)
        {
          struct timespec ts = { 0, 100 * 1000000 };

          nanosleep (&ts, NULL);
        }
      if (waitpid (ld->pid, &st, WNOHANG) == 0)
        {
          kill (ld->pid, SIGKILL);
          (void) waitpid (ld->pid, &st, 0);
        }
      ld->pid = -1;
    }
}

static void
fill_all (struct conn *conns, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (is_sender (&conns[i]))
      sender_fill (&conns[i]);
}

static int
run_messages (struct bench *b, double *seconds)
{
  size_t n_pairs = (size_t) b->pairs * 2;
  size_t n_flood = (size_t) b->flooders * 2;
  size_t n_slow = (size_t) b->slow_readers * 2;
  size_t n_fixed = n_pairs + n_flood + n_slow;
  bool probing = b->storm > 0 || b->half_open_n > 0;
  size_t n = n_fixed + (probing ? 1 : 0);
  struct conn *conns = calloc (n, sizeof *conns);
  struct conn *probe = probing ? &conns[n_fixed] : NULL;
  struct load load = { .pid = -1, .rfd = -1 };
  unsigned senders = 0, sender_i = 0;
  int64_t deadline;
  int64_t t0, t_load = 0;
  bool broken = false;
  int ret = -1;

  if (conns == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      conns[i].b = b;
      conns[i].fd = -1;
    }
  b->now_ns = bench_mono_ns ();
  b->phase = PHASE_SETUP;
  for (size_t i = 0; i < n_fixed; i++)
    {
      struct conn *cn = &conns[i];
      bool first = i % 2 == 0;

      if (i < n_pairs)
        cn->role = first ? ROLE_SENDER : ROLE_RECEIVER;
      else if (i < n_pairs + n_flood)
        cn->role = first ? ROLE_FLOOD_SENDER : ROLE_FLOOD_RECEIVER;
      else
        cn->role = first ? ROLE_SLOW_SENDER : ROLE_SLOW_READER;
      snprintf (cn->peer, sizeof cn->peer, "%s%zu", b->prefix,
                first ? i + 1 : i - 1);
      if (is_sender (cn))
        {
          cn->fifo = calloc (b->window, sizeof *cn->fifo);
          if (cn->fifo == NULL)
            goto out;
          if (cn->role == ROLE_SENDER && b->rate > 0)
            cn->period_ns = 1000000000 / (int64_t) b->rate;
          else if (cn->role == ROLE_SLOW_SENDER)
            cn->period_ns = 1000000000 / (int64_t) b->slow_rate;
          if (cn->period_ns > 0)
            senders++;
        }
    }
  if (probe != NULL)
    {
      probe->role = ROLE_PROBE;
      probe->quiet = true;
    }

  /* Everyone logged in before the clock starts, concurrency at a time so
   * as not to flood the server's password checks. */
  deadline = b->now_ns + (int64_t) SETUP_TIMEOUT_MS * 1000000;
  while (!all_logged_in (conns, n_fixed, &broken))
    {
      size_t opening = 0;

      for (size_t i = 0; i < n_fixed; i++)
        {
          struct conn *cn = &conns[i];

          if (cn->failed && !cn->logged_in && cn->retry_at_ns > 0 &&
              b->now_ns >= cn->retry_at_ns)
            {
              cn->retry_at_ns = 0;
              if (conn_open (cn, (unsigned) i) < 0)
                goto out;
            }
          if (cn->failed && cn->retry_at_ns == 0)
            {
              fprintf (stderr, "sc-bench: a session of the message phase "
                               "failed to log in\n");
              goto out;
            }
          if (cn->client != NULL && !cn->logged_in)
            opening++;
          else if (cn->client == NULL && !cn->failed &&
                   opening < b->concurrency)
            {
              if (conn_open (cn, (unsigned) i) < 0)
                goto out;
              opening++;
            }
        }
      if (b->now_ns >= deadline)
        {
          fprintf (stderr,
                   "sc-bench: the message phase could not log in "
                   "within %d ms\n",
                   SETUP_TIMEOUT_MS);
          goto out;
        }
      if (pump (b, conns, n_fixed, ms_until (b, deadline, 100)) < 0)
        goto out;
    }

  /* Before the load: the pairs alone. Paced senders start spread over
   * one period, not all at once. */
  b->now_ns = bench_mono_ns ();
  t0 = b->now_ns;
  b->srv_before = server_sample (b, true);
  b->last_ack_ns = t0;
  b->phase = PHASE_BASE;
  b->send_until_ns = t0 + (int64_t) b->duration_ms * 1000000;
  for (size_t i = 0; i < n_fixed; i++)
    if (conns[i].period_ns > 0)
      conns[i].next_send_ns =
          t0 + conns[i].period_ns * (int64_t) sender_i++ / (int64_t) senders;
  fill_all (conns, n_fixed);
  while (b->now_ns < b->send_until_ns)
    {
      if (pump (b, conns, n_fixed,
                ms_until (b, b->send_until_ns, senders > 0 ? 1 : 100)) < 0)
        goto out;
      fill_all (conns, n_fixed);
    }

  if (has_load (b))
    {
      b->srv_base_end = server_sample (b, true);
      b->srv_load_peak = b->srv_base_end;
      b->phase = PHASE_LOAD;
      t_load = b->now_ns;
      b->load_start_ns = t_load;
      b->send_until_ns = t_load + (int64_t) b->duration_ms * 1000000;
      b->next_probe_ns = t_load;
      b->next_sample_ns = t_load;
      b->next_sockets_ns = t_load;
      for (size_t i = 0; i < n_fixed; i++)
        if (conns[i].role == ROLE_SLOW_SENDER)
          conns[i].next_send_ns = t_load;
      b->storm_active = b->storm > 0;
      if ((b->storm > 0 || b->half_open_n > 0) &&
          load_start (b, conns, n, &load) < 0)
        goto out;
      fill_all (conns, n_fixed);
      /* The load lasts the duration, and at least until the storm ended
       * (the login timeout bounds it). */
      deadline = t_load + (int64_t) b->login_timeout_ms * 1000000;
      while (b->now_ns < b->send_until_ns ||
             (b->storm_active && b->now_ns < deadline))
        {
          if (pump (b, conns, n, 1) < 0)
            goto out;
          fill_all (conns, n_fixed);
          if (probe != NULL)
            probe_step (b, probe);
          server_watch (b);
          if (load_read (b, &load) < 0)
            goto out;
        }
      b->srv_load_end = server_sample (b, true);
      b->phase = PHASE_DRAIN;
      if (load_finish (b, &load) < 0)
        goto out;
    }

  /* Drain: no new sends; wait for the answers still outstanding. */
  b->phase = PHASE_DRAIN;
  deadline = b->now_ns + (int64_t) DRAIN_TIMEOUT_MS * 1000000;
  for (;;)
    {
      size_t in_flight = 0;

      for (size_t i = 0; i < n_fixed; i++)
        if (is_sender (&conns[i]) && !conns[i].failed &&
            conns[i].role != ROLE_SLOW_SENDER)
          in_flight += conns[i].in_flight;
      if (probe != NULL && (probe->client != NULL || probe->fd >= 0))
        in_flight++;
      if (in_flight == 0 || b->now_ns >= deadline)
        break;
      if (pump (b, conns, n, ms_until (b, deadline, 100)) < 0)
        goto out;
      if (probe != NULL)
        probe_step (b, probe);
    }
  *seconds = (double) (b->last_ack_ns - t0) / 1e9;

  /* Let the receivers catch the last deliveries, then say goodbye. */
  deadline = b->now_ns + 2000 * (int64_t) 1000000;
  while (
      (b->pairs_g.delivered + b->pairs_g.bad_deliveries < b->pairs_g.acked ||
       b->flood_g.delivered + b->flood_g.bad_deliveries < b->flood_g.acked) &&
      b->now_ns < deadline)
    if (pump (b, conns, n_fixed, ms_until (b, deadline, 100)) < 0)
      goto out;
  for (size_t i = 0; i < n_fixed; i++)
    {
      struct group *g = group_of (&conns[i]);

      if (conns[i].role == ROLE_SLOW_READER)
        continue; /* not reading: dropped by the server, as it should be */
      if (conns[i].failed)
        g->broken++;
      else if (sc_client_quit (conns[i].client) == SC_OK)
        conns[i].quitting = true;
    }
  deadline = b->now_ns + 2000 * (int64_t) 1000000;
  for (;;)
    {
      bool pending = false;

      for (size_t i = 0; i < n_fixed; i++)
        if (conns[i].role != ROLE_SLOW_READER && !conns[i].failed &&
            conns[i].quitting && conn_wants_write (&conns[i]))
          pending = true;
      if (!pending || b->now_ns >= deadline)
        break;
      if (pump (b, conns, n_fixed, ms_until (b, deadline, 100)) < 0)
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
  load_stop (&load);
  if (ret == 0 && has_load (b) && b->server_pid > 0)
    {
      /* What the server keeps once the load is gone. */
      struct timespec ts = { 1, 0 };

      nanosleep (&ts, NULL);
      b->srv_after = server_sample (b, true);
    }
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
              "                [--rate R] [--body BYTES] [--login-timeout "
              "SECONDS]\n"
              "                [--storm N] [--storm-wrong PERCENT] "
              "[--storm-sources K]\n"
              "                [--half-open N] [--half-open-sources K] "
              "[--half-open-reconnect]\n"
              "                [--slow-readers N] [--slow-rate R] [--slow-body "
              "BYTES]\n"
              "                [--flooders N] [--server-pid PID] [--load-nice "
              "NICE]\n"
              "Users are PREFIX0 .. PREFIX(N-1), all with the same password.\n"
              "Defaults: L=200 C=16 P=4 W=16 D=5 R=0 (no pace) BYTES=64,\n"
              "N=max(C, 2P + 2 flooders + 2 slow readers, + 1 + storm users).\n"
              "Storm: 50%% wrong passwords; slow senders 100 a second, 16384 "
              "bytes.\n"
              "Sources K: connections come from 127.0.0.2 .. 127.0.0.(K+1).\n"
              "The storm and the half-open flood run in a process of their own "
              "at nice 10.\n");
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

/* Only loopback: other source addresses make sense on 127.0.0.0/8 only. */
static bool
is_ipv4_loopback (const struct bench *b)
{
  const struct sockaddr_in *sin = (const struct sockaddr_in *) &b->addr;

  return b->addr.ss_family == AF_INET &&
         (ntohl (sin->sin_addr.s_addr) >> 24) == 127;
}

/* Many connections need many descriptors: the soft limit goes up to the
 * hard one. */
static void
raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      (void) setrlimit (RLIMIT_NOFILE, &rl);
    }
}

#define ROW_U64(name, v)  printf ("%-26s %12" PRIu64 "\n", name, (uint64_t) (v))
#define ROW_F(name, v, p) printf ("%-26s %12.*f\n", name, p, (double) (v))

static void
print_server (const char *when, const struct server_stats *st)
{
  char name[64];

  if (!st->ok)
    return;
  snprintf (name, sizeof name, "server rss MiB %s", when);
  ROW_F (name, st->rss_kb / 1024.0, 1);
  if (st->sockets >= 0)
    {
      snprintf (name, sizeof name, "server sockets %s", when);
      ROW_U64 (name, st->sockets);
    }
}

static void
print_logins (const char *what, struct logins *r, double p50, double max)
{
  char name[64];

  for (int o = OUT_OK; o < OUT_N; o++)
    {
      snprintf (name, sizeof name, "%s %s", what, outcome_names[o]);
      ROW_U64 (name, r->n[o]);
    }
  snprintf (name, sizeof name, "%s without retry", what);
  ROW_U64 (name, r->no_retry);
  snprintf (name, sizeof name, "%s ok p50 ms", what);
  ROW_F (name, p50, 2);
  snprintf (name, sizeof name, "%s ok max ms", what);
  ROW_F (name, max, 2);
}

static void
print_group (const char *what, const struct group *g)
{
  char name[64];

  snprintf (name, sizeof name, "%s accepted", what);
  ROW_U64 (name, g->acked);
  snprintf (name, sizeof name, "%s delivered", what);
  ROW_U64 (name, g->delivered);
  snprintf (name, sizeof name, "%s rate_limited", what);
  ROW_U64 (name, g->rate_limited);
  snprintf (name, sizeof name, "%s offline", what);
  ROW_U64 (name, g->offline);
  snprintf (name, sizeof name, "%s other errors", what);
  ROW_U64 (name, g->other_errors + g->no_retry + g->bad_deliveries);
}

static void
print_results (struct bench *b, double login_s, double msg_s)
{
  double logins_per_s = login_s > 0 ? (double) b->login_ok / login_s : 0.0;
  uint64_t base_acked = b->msg_lat[TAG_BEFORE].n;
  double msgs_per_s = msg_s > 0 ? (double) b->pairs_g.acked / msg_s : 0.0;

  if (has_load (b))
    msgs_per_s = b->duration_ms > 0
                     ? (double) base_acked / (b->duration_ms / 1000.0)
                     : 0.0;
  printf ("sc-bench: %s:%s, %u logins %u at a time; %u pairs x %u in "
          "flight for %.1f s, %u-byte bodies",
          b->host, b->port, b->logins, b->concurrency, b->pairs, b->window,
          b->duration_ms / 1000.0, b->body_len);
  if (b->rate > 0)
    printf (", %u a second each", b->rate);
  printf ("\n");
  if (has_load (b))
    printf ("load for %.1f s more: storm %u (%u%% wrong, %u sources), "
            "half-open %u (%u sources%s), slow readers %u, flooders %u\n",
            b->duration_ms / 1000.0, b->storm, b->storm_wrong_pct,
            b->storm_sources, b->half_open_n, b->half_open_sources,
            b->half_open_reconnect ? ", reconnecting" : "", b->slow_readers,
            b->flooders);
  printf ("%-26s %12s\n", "metric", "value");
  ROW_U64 ("logins", b->login_ok);
  ROW_U64 ("logins failed", b->login_failed);
  ROW_F ("logins/s", logins_per_s, 1);
  ROW_F ("login p50 ms", quantile_ms (&b->login_lat, 0.50), 2);
  ROW_F ("login p99 ms", quantile_ms (&b->login_lat, 0.99), 2);
  ROW_U64 ("messages", b->pairs_g.acked);
  ROW_U64 ("delivered", b->pairs_g.delivered);
  ROW_U64 ("send errors", b->pairs_g.other_errors + b->pairs_g.rate_limited);
  ROW_U64 ("bad deliveries", b->pairs_g.bad_deliveries);
  ROW_U64 ("broken sessions", b->pairs_g.broken);
  ROW_F ("msgs/s", msgs_per_s, 1);
  ROW_F ("latency p50 ms", quantile_ms (&b->msg_lat[TAG_BEFORE], 0.50), 2);
  ROW_F ("latency p99 ms", quantile_ms (&b->msg_lat[TAG_BEFORE], 0.99), 2);
  if (b->rate > 0)
    ROW_F ("longest ack gap ms", b->ack_gap_ns[TAG_BEFORE] / 1e6, 2);
  if (has_load (b))
    {
      ROW_U64 ("load messages", b->msg_lat[TAG_DURING].n);
      ROW_F ("load latency p50 ms", quantile_ms (&b->msg_lat[TAG_DURING], 0.50),
             2);
      ROW_F ("load latency p99 ms", quantile_ms (&b->msg_lat[TAG_DURING], 0.99),
             2);
      ROW_F ("load latency max ms", quantile_ms (&b->msg_lat[TAG_DURING], 1.0),
             2);
      if (b->rate > 0)
        {
          ROW_F ("load longest ack gap ms", b->ack_gap_ns[TAG_DURING] / 1e6, 2);
          ROW_F ("load gap ended at s", b->ack_gap_at_ns[TAG_DURING] / 1e9, 2);
        }
      if (b->storm > 0)
        {
          ROW_U64 ("after messages", b->msg_lat[TAG_AFTER].n);
          ROW_F ("after latency p50 ms",
                 quantile_ms (&b->msg_lat[TAG_AFTER], 0.50), 2);
          ROW_F ("after latency p99 ms",
                 quantile_ms (&b->msg_lat[TAG_AFTER], 0.99), 2);
          print_logins ("storm", &b->storm_r, b->storm_ok_p50_ms,
                        b->storm_ok_max_ms);
          ROW_F ("storm seconds", b->storm_s, 2);
        }
      if (b->storm > 0 || b->half_open_n > 0)
        print_logins ("probe", &b->probe_r,
                      quantile_ms (&b->probe_r.ok_lat, 0.50),
                      quantile_ms (&b->probe_r.ok_lat, 1.0));
      if (b->half_open_n > 0)
        {
          ROW_U64 ("half-open opened", b->ho.opened);
          ROW_U64 ("half-open connect errors", b->ho.connect_errors);
          ROW_U64 ("half-open closed <1 s", b->ho.closed_fast);
          ROW_U64 ("half-open closed later", b->ho.closed_late);
          ROW_U64 ("half-open open at end", b->ho.open_at_end);
          if (b->srv_base_end.sockets >= 0 &&
              b->srv_load_peak.sockets >= b->srv_base_end.sockets)
            ROW_U64 ("half-open held by server",
                     b->srv_load_peak.sockets - b->srv_base_end.sockets);
        }
      if (b->flooders > 0)
        print_group ("flood", &b->flood_g);
      if (b->slow_readers > 0)
        print_group ("slow", &b->slow_g);
      print_server ("before", &b->srv_before);
      print_server ("load start", &b->srv_base_end);
      print_server ("load peak", &b->srv_load_peak);
      print_server ("load end", &b->srv_load_end);
      print_server ("after", &b->srv_after);
      if (b->srv_after.ok)
        ROW_F ("server hwm MiB", b->srv_after.hwm_kb / 1024.0, 1);
    }
  if (b->msg_lat[TAG_BEFORE].dropped > 0 || b->login_lat.dropped > 0)
    printf ("(latency percentiles over the first %u samples)\n",
            BENCH_MAX_SAMPLES);
  if (b->ho.last_errno != 0)
    printf ("(last half-open connect error: %s)\n",
            strerror (b->ho.last_errno));
  fflush (stdout);
}

static bool
group_failed (const struct group *g, bool check_delivery)
{
  return g->other_errors > 0 || g->no_retry > 0 || g->bad_deliveries > 0 ||
         g->broken > 0 || (check_delivery && g->delivered != g->acked);
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
    { "rate", required_argument, NULL, 'R' },
    { "storm", required_argument, NULL, 'S' },
    { "storm-wrong", required_argument, NULL, 'W' },
    { "storm-sources", required_argument, NULL, 'K' },
    { "half-open", required_argument, NULL, 'H' },
    { "half-open-sources", required_argument, NULL, 'k' },
    { "half-open-reconnect", no_argument, NULL, 'C' },
    { "slow-readers", required_argument, NULL, 'L' },
    { "slow-rate", required_argument, NULL, 'T' },
    { "slow-body", required_argument, NULL, 'B' },
    { "flooders", required_argument, NULL, 'F' },
    { "server-pid", required_argument, NULL, 'D' },
    { "load-nice", required_argument, NULL, 'N' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct bench b;
  const char *server = NULL;
  const char *fp = NULL;
  const char *password_file = NULL;
  unsigned pid = 0, fixed_users;
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
  b.storm_wrong_pct = 50;
  b.slow_rate = 100;
  b.slow_body = 16384;
  b.load_nice = 10;

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
          rc = bench_parse_uint ("sc-bench", "users", optarg, 1, MAX_CONNS,
                                 &b.n_users);
          break;
        case 'l':
          rc = bench_parse_uint ("sc-bench", "logins", optarg, 0, MAX_LOGINS,
                                 &b.logins);
          break;
        case 'c':
          rc = bench_parse_uint ("sc-bench", "concurrency", optarg, 1,
                                 MAX_CONNS, &b.concurrency);
          break;
        case 'r':
          rc = bench_parse_uint ("sc-bench", "pairs", optarg, 0, MAX_PAIRS,
                                 &b.pairs);
          break;
        case 'w':
          rc = bench_parse_uint ("sc-bench", "window", optarg, 1, MAX_WINDOW,
                                 &b.window);
          break;
        case 'd':
          rc = bench_parse_seconds ("sc-bench", "duration", optarg, false,
                                    MAX_DURATION_S, &b.duration_ms);
          break;
        case 'b':
          rc = bench_parse_uint ("sc-bench", "body", optarg, BODY_MIN,
                                 SC_BODY_MAX, &b.body_len);
          break;
        case 't':
          rc = bench_parse_seconds ("sc-bench", "login-timeout", optarg, false,
                                    MAX_DURATION_S, &b.login_timeout_ms);
          break;
        case 'R':
          rc = bench_parse_uint ("sc-bench", "rate", optarg, 0, MAX_RATE,
                                 &b.rate);
          break;
        case 'S':
          rc = bench_parse_uint ("sc-bench", "storm", optarg, 0, MAX_STORM,
                                 &b.storm);
          break;
        case 'W':
          rc = bench_parse_uint ("sc-bench", "storm-wrong", optarg, 0, 100,
                                 &b.storm_wrong_pct);
          break;
        case 'K':
          rc = bench_parse_uint ("sc-bench", "storm-sources", optarg, 0,
                                 MAX_SOURCES, &b.storm_sources);
          break;
        case 'H':
          rc = bench_parse_uint ("sc-bench", "half-open", optarg, 0,
                                 MAX_HALF_OPEN, &b.half_open_n);
          break;
        case 'k':
          rc = bench_parse_uint ("sc-bench", "half-open-sources", optarg, 0,
                                 MAX_SOURCES, &b.half_open_sources);
          break;
        case 'C':
          b.half_open_reconnect = true;
          break;
        case 'L':
          rc = bench_parse_uint ("sc-bench", "slow-readers", optarg, 0,
                                 MAX_EXTRA_PAIRS, &b.slow_readers);
          break;
        case 'T':
          rc = bench_parse_uint ("sc-bench", "slow-rate", optarg, 1, MAX_RATE,
                                 &b.slow_rate);
          break;
        case 'B':
          rc = bench_parse_uint ("sc-bench", "slow-body", optarg, BODY_MIN,
                                 SC_BODY_MAX, &b.slow_body);
          break;
        case 'F':
          rc = bench_parse_uint ("sc-bench", "flooders", optarg, 0,
                                 MAX_EXTRA_PAIRS, &b.flooders);
          break;
        case 'N':
          rc = bench_parse_uint ("sc-bench", "load-nice", optarg, 0, 19,
                                 &b.load_nice);
          break;
        case 'D':
          rc = bench_parse_uint ("sc-bench", "server-pid", optarg, 1, INT_MAX,
                                 &pid);
          b.server_pid = pid;
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
      b.password = bench_read_password_file ("sc-bench", password_file);
      if (b.password == NULL)
        goto out;
    }
  if (sc_password_validate (b.password, strlen (b.password)) < 0)
    {
      fprintf (stderr, "sc-bench: the password is not a valid password\n");
      goto out;
    }
  /* A different password of the same length: a wrong guess. */
  b.wrong_password = strdup (b.password);
  if (b.wrong_password == NULL)
    goto out;
  b.wrong_password[0] = b.wrong_password[0] == 'x' ? 'y' : 'x';
  if (bench_split_hostport (server, b.host, sizeof b.host, b.port,
                            sizeof b.port) < 0)
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
  if (has_load (&b) && b.pairs == 0)
    {
      fprintf (stderr, "sc-bench: the load options need --pairs 1 or more\n");
      goto out;
    }
  fixed_users = (b.pairs + b.flooders + b.slow_readers) * 2;
  if (b.storm > 0 || b.half_open_n > 0)
    b.probe_user = fixed_users++;
  if (b.n_users == 0)
    {
      b.n_users = b.concurrency > fixed_users ? b.concurrency : fixed_users;
      if (b.storm > 0)
        b.n_users = fixed_users + 1;
    }
  if (b.n_users < b.concurrency || b.n_users < fixed_users ||
      (b.storm > 0 && b.n_users <= fixed_users))
    {
      fprintf (stderr,
               "sc-bench: need at least max(concurrency, %u) users, and "
               "one more for a storm\n",
               fixed_users);
      goto out;
    }
  b.storm_user0 = fixed_users;
  b.storm_users = b.n_users - fixed_users;
  if ((size_t) fixed_users + 1 + b.storm > MAX_CONNS)
    {
      fprintf (stderr, "sc-bench: more than %d sessions at once\n", MAX_CONNS);
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
  b.slow_body_buf = calloc (1, b.slow_body);
  if (b.body == NULL || b.slow_body_buf == NULL || resolve (&b) < 0)
    {
      status = 1;
      goto out;
    }
  if ((b.storm_sources > 0 || b.half_open_sources > 0) &&
      !is_ipv4_loopback (&b))
    {
      fprintf (stderr, "sc-bench: --storm-sources and --half-open-sources "
                       "need a server on 127.0.0.0/8\n");
      goto out;
    }
  signal (SIGPIPE, SIG_IGN);
  raise_nofile ();

  status = 0;
  if (b.logins > 0 && run_logins (&b, &login_s) < 0)
    status = 1;
  if (status == 0 && b.pairs > 0 && run_messages (&b, &msg_s) < 0)
    status = 1;
  print_results (&b, login_s, msg_s);
  if (b.login_failed > 0 || b.login_ok != b.logins ||
      group_failed (&b.pairs_g, true) || b.pairs_g.rate_limited > 0 ||
      (b.pairs > 0 && b.pairs_g.acked == 0) ||
      group_failed (&b.flood_g, true) || group_failed (&b.slow_g, false) ||
      b.storm_r.n[OUT_OTHER] > 0 || b.storm_r.no_retry > 0 ||
      b.probe_r.n[OUT_OTHER] > 0 || b.probe_r.no_retry > 0)
    status = 1;

out:
  if (b.password != NULL)
    {
      sc_wipe (b.password, strlen (b.password));
      free (b.password);
    }
  if (b.wrong_password != NULL)
    {
      sc_wipe (b.wrong_password, strlen (b.wrong_password));
      free (b.wrong_password);
    }
  free (b.body);
  free (b.slow_body_buf);
  free (b.login_lat.us);
  for (int t = 0; t < TAG_N; t++)
    free (b.msg_lat[t].us);
  free (b.storm_r.ok_lat.us);
  free (b.probe_r.ok_lat.us);
  free (b.pfd);
  free (b.pidx);
  return status;
}
