/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "route.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SC_SERVER_TESTING
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

#include "client.h"
#include "log.h"
#include "ratelimit.h"
#include "server.h"
#include "store.h"
#include "strmap.h"

#include "securechat/channel.h"
#include "securechat/error.h"

struct route
{
  struct strmap *online; /* username -> struct client * */
};

int
route_new (struct route **out)
{
  struct route *r = calloc (1, sizeof (*r));

  *out = NULL;
  if (r == NULL || strmap_new (&r->online) != 0)
    {
      free (r);
      return -1;
    }
  *out = r;
  return 0;
}

void
route_free (struct route *r)
{
  if (r == NULL)
    return;
  strmap_free (r->online);
  free (r);
}

struct client *
route_find (const struct route *r, const char *user)
{
  return strmap_get (r->online, user);
}

size_t
route_count (const struct route *r)
{
  return strmap_count (r->online);
}

static void
broadcast_presence (struct server *srv, const char *user, bool online)
{
  uint8_t text[SC_MSG_PRESENCE_MAX];
  size_t len;
  struct client *c, *next;

  /* Written once, sealed for each recipient. */
  if (sc_msg_write_presence (user, online, text, sizeof text, &len) != SC_OK)
    {
      log_error ("cannot announce user=%s %s", user,
                 online ? "online" : "offline");
      return;
    }
  /* A send may close a slow client, which unlinks it: fetch next first. */
  for (c = TAILQ_FIRST (&srv->clients); c != NULL; c = next)
    {
      next = TAILQ_NEXT (c, entry);
      if (c->state == CLIENT_READY && strcmp (c->user, user) != 0)
        client_send_text (c, text, len);
    }
}

int
route_login (struct server *srv, struct client *c, struct client **old)
{
  struct route *r = srv->route;

  *old = strmap_get (r->online, c->user);
  if (strmap_set (r->online, c->user, c) != 0)
    {
      *old = NULL;
      return -1;
    }
  if (*old == NULL)
    broadcast_presence (srv, c->user, true);
  return 0;
}

void
route_logout (struct server *srv, struct client *c)
{
  struct route *r = srv->route;

  if (c->user[0] == '\0' || strmap_get (r->online, c->user) != c)
    return; /* never routed, or replaced by a newer session */
  strmap_remove (r->online, c->user);
  broadcast_presence (srv, c->user, false);
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

int
route_send_presence_list (struct server *srv, struct client *c)
{
  struct route *r = srv->route;
  size_t n = strmap_count (r->online);
  const char **names = NULL;
  size_t pos = 0, i = 0, sent = 0;
  const char *key;
  void *value;
  struct sc_msg m;
  int ret = 0;

  if (n > 0 && (names = calloc (n, sizeof (*names))) == NULL)
    {
      client_send_error (c, SC_CODE_INTERNAL, NULL, 0);
      return -1;
    }
  while (strmap_next (r->online, &pos, &key, &value) && i < n)
    names[i++] = key;
  qsort (names, i, sizeof (*names), cmp_names);

  memset (&m, 0, sizeof (m));
  m.type = SC_MSG_PRESENCE_LIST;
  m.u.presence_list.users =
      calloc (SC_PRESENCE_CHUNK, sizeof (*m.u.presence_list.users));
  if (m.u.presence_list.users == NULL)
    {
      free (names);
      client_send_error (c, SC_CODE_INTERNAL, NULL, 0);
      return -1;
    }
  /* Always at least one message, even for an empty list. */
  do
    {
      size_t chunk =
          i - sent < SC_PRESENCE_CHUNK ? i - sent : SC_PRESENCE_CHUNK;
      for (size_t k = 0; k < chunk; k++)
        snprintf (m.u.presence_list.users[k],
                  sizeof (m.u.presence_list.users[k]), "%s", names[sent + k]);
      m.u.presence_list.n_users = chunk;
      sent += chunk;
      m.u.presence_list.more = sent < i;
      if (client_send_msg (c, &m) != 0)
        {
          ret = -1;
          break;
        }
    }
  while (sent < i);

  free (m.u.presence_list.users);
  free (names);
  return ret;
}

#ifdef SC_SERVER_TESTING
/* Test builds only (securechatd-testing): appends "TO BODY\n" for every
 * send routing receives to the file named by SC_TEST_ROUTE_DUMP, so the
 * integration tests can check that the server never handles message text.
 * Errors are ignored: the hook must not change what the server does. */
static void
test_dump_send (const struct sc_send_view *s)
{
  const char *path = getenv ("SC_TEST_ROUTE_DUMP");
  struct iovec iov[4];
  ssize_t n;
  int fd;

  if (path == NULL || path[0] == '\0')
    return;
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  iov[0].iov_base = (void *) s->to;
  iov[0].iov_len = strlen (s->to);
  iov[1].iov_base = (void *) " ";
  iov[1].iov_len = 1;
  iov[2].iov_base = s->body != NULL ? (void *) s->body : (void *) "";
  iov[2].iov_len = s->body != NULL ? s->body_len : 0;
  iov[3].iov_base = (void *) "\n";
  iov[3].iov_len = 1;
  n = writev (fd, iov, 4);
  (void) n; /* a test that needs the dump fails on its content */
  close (fd);
}
#endif

/* A flooding client is logged at its first refused send, then at most
 * this often, with the number refused in between. */
#define SENDS_REFUSED_LOG_MS 10000

/* message_rate: true when c may send now. Otherwise the send is answered
 * (rate_limited with its ref and when to retry) and the sender's other
 * sends, and everyone else's, go on: the excess is refused, never
 * dropped silently and never queued. */
static bool
send_allowed (struct server *srv, struct client *c, uint64_t ref)
{
  int64_t now = srv->frames_mono_ms;
  int64_t wait = ratelimit_buckets_take (srv->sends, c->user, now);
  struct sc_msg m;

  if (wait == 0)
    return true;
  if (wait < 0)
    {
      log_error ("conn %" PRIu64 " user=%s send refused reason=out-of-memory",
                 c->id, c->user);
      client_send_error (c, SC_CODE_INTERNAL, &ref, 0);
      return false;
    }
  /* Not one line per refused send: a flood would flood the log too. */
  c->sends_refused++;
  if (c->sends_refused_log_ms == 0 ||
      now - c->sends_refused_log_ms >= SENDS_REFUSED_LOG_MS)
    {
      log_info ("conn %" PRIu64 " user=%s sends refused reason=rate-limited "
                "refused=%" PRIu64 " message_rate=%" PRIu32
                " message_burst=%" PRIu32,
                c->id, c->user, c->sends_refused, srv->cfg.message_rate,
                srv->cfg.message_burst);
      c->sends_refused = 0;
      c->sends_refused_log_ms = now;
    }
  memset (&m, 0, sizeof (m));
  m.type = SC_MSG_ERROR;
  m.u.error.code = SC_CODE_RATE_LIMITED;
  snprintf (m.u.error.message, sizeof (m.u.error.message), "%s",
            "sending too fast, slow down");
  m.u.error.has_ref = true;
  m.u.error.ref = ref;
  m.u.error.retry_after = (uint32_t) wait;
  if (client_send_msg (c, &m) == 0)
    client_pause_reading (c, (uint32_t) wait);
  return false;
}

void
route_send (struct server *srv, struct client *c, const struct sc_send_view *s)
{
  uint8_t sent[SC_MSG_SENT_MAX];
  struct client *to;
  uint64_t ref = s->id, id;
  size_t len;
  int64_t ts;

  if (!send_allowed (srv, c, ref))
    return;
#ifdef SC_SERVER_TESTING
  test_dump_send (s);
#endif
  if (strcmp (s->to, c->user) == 0)
    {
      client_send_error (c, SC_CODE_SELF_MESSAGE, &ref, 0);
      return;
    }
  to = route_find (srv->route, s->to);
  if (to == NULL || to->state != CLIENT_READY)
    {
      bool known;

      server_refresh_users (srv);
      known = store_lookup (srv->store, s->to) != NULL;
      log_info ("message from %s to %s not forwarded reason=%s", c->user, s->to,
                known ? "recipient-offline" : "unknown-user");
      client_send_error (
          c, known ? SC_CODE_RECIPIENT_OFFLINE : SC_CODE_UNKNOWN_USER, &ref, 0);
      return;
    }

  id = ++srv->next_msg_id;
  ts = srv->frames_wall_ms;
  /* The body is forwarded as the sender wrote it: the server never decodes
   * it, and writes the message text around it without a JSON tree. */
  if (sc_msg_write_message (id, c->user, ts, s->body, s->body_len,
                            srv->out_scratch, SC_CHANNEL_MAX_PLAINTEXT,
                            &len) != SC_OK)
    {
      log_error ("conn %" PRIu64 " user=%s cannot write a message of %zu "
                 "bytes",
                 c->id, c->user, s->body_len);
      client_send_error (c, SC_CODE_INTERNAL, &ref, 0);
      return;
    }
  if (client_send_text (to, srv->out_scratch, len) != 0)
    {
      log_info ("message from %s to %s not forwarded reason=recipient-gone",
                c->user, s->to);
      client_send_error (c, SC_CODE_RECIPIENT_OFFLINE, &ref, 0);
      return;
    }
  /* Debug only: at full speed one line per message is tens of thousands of
   * lines a second, and a record of who talks to whom. */
  log_debug ("message forwarded %s->%s size=%zu id=%" PRIu64, c->user, s->to,
             s->body_len, id);

  if (sc_msg_write_sent (ref, id, ts, sent, sizeof sent, &len) == SC_OK)
    client_send_text (c, sent, len);
  else
    log_error ("conn %" PRIu64 " user=%s cannot acknowledge send ref=%" PRIu64,
               c->id, c->user, ref);
}
