/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScConnection over GIO. Each attempt is a Link: the socket, the sans-I/O
 * session of common/client.c and the timers of that one TCP connection.
 * The connection object owns at most one Link at a time; a Link that is
 * dropped is detached (its back pointer cleared) at once, so that late
 * completions of its asynchronous operations find nothing to report to,
 * and it is freed when the last of them has returned. A Link detached by
 * a logout first flushes the "bye" on its own, bounded in time.
 *
 * The session's callbacks run inside sc_client_recv: they only record
 * what ended the Link and emit the signals of ordinary events; ending a
 * Link (and the signals that says so) happens after sc_client_recv has
 * returned, where handlers may do anything, including dropping the last
 * reference to the connection. */
#include "sc-connection.h"

#include <errno.h>
#include <gio/gnetworking.h>
#include <glib/gi18n.h>
#include <string.h>

#include "account-dir.h"
#include "known-servers.h"
#include "net.h"
#include "sc-errors.h"
#include "securechat/client.h"
#include "securechat/crypto.h"
#include "securechat/e2e.h"
#include "securechat/error.h"
#include "securechat/fingerprint.h"
#include "securechat/keystore.h"
#include "securechat/msg.h"

#define AGENT "securechat-gtk/" SC_VERSION
/* The TCP connect, then the handshake and login, each get this long. */
#define CONNECT_TIMEOUT_MS (10 * 1000)
#define LOGIN_TIMEOUT_MS   (15 * 1000)
/* How long a "bye" may take to leave, and how long we then wait for the
 * server to close first (so that our close does not reset a connection
 * it has not read to the end). */
#define QUIT_GRACE_MS    2000
#define CLOSE_WAIT_MS    500
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   30000
#define READ_CHUNK       16384
/* Most bytes copied for one write (the session may queue up to
 * SC_CLIENT_OUT_MAX). */
#define WRITE_CHUNK (256 * 1024)
/* Reads per wakeup, so that a busy server cannot starve the main loop. */
#define READS_PER_WAKEUP 8
/* A recipient who has just logged in may not have published keys yet:
 * a send answered "no_prekeys" while they are online is tried again. */
#define SEND_RETRIES  10
#define SEND_RETRY_MS 200

G_DEFINE_QUARK (sc - connection - error - quark, sc_connection_error)

G_DEFINE_ENUM_TYPE (ScConnectionState,
                    sc_connection_state,
                    G_DEFINE_ENUM_VALUE (SC_CONNECTION_IDLE, "idle"),
                    G_DEFINE_ENUM_VALUE (SC_CONNECTION_CONNECTING,
                                         "connecting"),
                    G_DEFINE_ENUM_VALUE (SC_CONNECTION_ONLINE, "online"),
                    G_DEFINE_ENUM_VALUE (SC_CONNECTION_WAITING, "waiting"),
                    G_DEFINE_ENUM_VALUE (SC_CONNECTION_STOPPED, "stopped"))

G_DEFINE_ENUM_TYPE (
    ScStopReason,
    sc_stop_reason,
    G_DEFINE_ENUM_VALUE (SC_STOP_USER, "user"),
    G_DEFINE_ENUM_VALUE (SC_STOP_CONNECT_FAILED, "connect-failed"),
    G_DEFINE_ENUM_VALUE (SC_STOP_AUTH_FAILED, "auth-failed"),
    G_DEFINE_ENUM_VALUE (SC_STOP_RATE_LIMITED, "rate-limited"),
    G_DEFINE_ENUM_VALUE (SC_STOP_SERVER_KEY_UNKNOWN, "server-key-unknown"),
    G_DEFINE_ENUM_VALUE (SC_STOP_SERVER_KEY_CHANGED, "server-key-changed"),
    G_DEFINE_ENUM_VALUE (SC_STOP_REPLACED, "replaced"),
    G_DEFINE_ENUM_VALUE (SC_STOP_PROTOCOL, "protocol"),
    G_DEFINE_ENUM_VALUE (SC_STOP_LOCAL, "local"))

/* The account's key store and end-to-end manager. Shared by the
 * connection and its Links: the session borrows the manager, and a Link
 * flushing its "bye" may outlive the connection. */
typedef struct
{
  grefcount ref;
  struct sc_keystore *store;
  struct sc_e2e *e2e;
} Account;

static Account *
account_ref (Account *a)
{
  g_ref_count_inc (&a->ref);
  return a;
}

static void
account_unref (Account *a)
{
  if (a == NULL || !g_ref_count_dec (&a->ref))
    return;
  sc_e2e_free (a->e2e);
  sc_keystore_free (a->store);
  g_free (a);
}

/* What ended a Link (the first decision counts). */
typedef enum
{
  END_NONE,
  END_LOST,  /* broke: wait and retry once logged in before, else stop */
  END_RETRY, /* server busy: wait (retry_after at least) and retry */
  END_STOP,  /* stop for good with reason */
} EndKind;

typedef struct
{
  EndKind kind;
  ScStopReason reason;
  char *message;
  int code; /* END_RETRY: the server's code, for "server-error" */
  guint retry_after_ms;
  /* SC_STOP_SERVER_KEY_CHANGED: the pinned key and where it is */
  char pinned[SC_FINGERPRINT_LEN + 1];
  guint line;
} End;

typedef struct
{
  grefcount ref;
  ScConnection *self; /* NULL once detached */
  Account *account;
  GCancellable *cancellable;
  struct sc_client *client;
  GSocketConnection *conn;
  GSource *read_source;
  GSource *tick_source;
  /* the connect timeout, then the login timeout, then the quit grace */
  GSource *deadline_source;
  GSource *idle_source; /* ends the Link outside an API call */
  gboolean connect_timed_out;
  gboolean writing;
  gboolean in_recv;
  gboolean logged_in;
  gboolean closing; /* detached, flushing the "bye" */
  gboolean shut;    /* write side shut down, waiting for the server */
  gboolean dead;
  End end;
} Link;

/* A send without an answer yet. */
typedef struct
{
  guint64 ref;        /* ours, unique for the connection's lifetime */
  guint64 client_ref; /* the session's, for the current Link */
  char to[SC_USERNAME_MAX + 1];
  char *text; /* kept (wiped when done) for a retry after no_prekeys */
  gsize len;
  guint retries;
} PendingSend;

struct _ScConnection
{
  GObject parent_instance;

  char host[NET_HOST_MAX + 1];
  char port[NET_PORT_MAX + 1];
  char key[NET_KEY_MAX + 1];
  char *user;
  char *known_servers_path;
  char *data_dir;

  GSocketClient *socket_client;
  Account *account;
  char *password; /* for reconnects only; wiped */
  gsize password_len;

  ScConnectionState state;
  gint64 retry_at;
  /* Bumped by everything that changes what the connection is doing, so
   * that code emitting signals can tell a handler did something. */
  guint epoch;
  char fingerprint[SC_FINGERPRINT_LEN + 1]; /* last seen */
  char pinned[SC_FINGERPRINT_LEN + 1];      /* accepted in this run */
  char trusted[SC_FINGERPRINT_LEN + 1];     /* confirmed by the user */
  gboolean ever_logged_in;
  guint backoff_attempt;
  GSource *retry_source;

  Link *link;
  GHashTable *pending; /* &client_ref -> PendingSend, on the current Link */
  GPtrArray *resend;   /* PendingSend waiting to be sent again */
  GSource *resend_source;
  guint64 next_ref;
  GHashTable *online; /* user names, as the current Link saw them */
};

G_DEFINE_FINAL_TYPE (ScConnection, sc_connection, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_STATE,
  PROP_RETRY_AT,
  PROP_FINGERPRINT,
  PROP_SERVER,
  PROP_USER,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

enum
{
  SIGNAL_LOGGED_IN,
  SIGNAL_PRESENCE_LIST,
  SIGNAL_PRESENCE,
  SIGNAL_MESSAGE,
  SIGNAL_SENT,
  SIGNAL_SEND_ERROR,
  SIGNAL_SEND_FAILED,
  SIGNAL_SEND_LOST,
  SIGNAL_SERVER_ERROR,
  SIGNAL_IDENTITY_CHANGED,
  SIGNAL_UNDECRYPTABLE,
  SIGNAL_KEYS_READY,
  SIGNAL_KEYS_FETCHED,
  SIGNAL_STOPPED,
  SIGNAL_SERVER_KEY_UNKNOWN,
  SIGNAL_SERVER_KEY_CHANGED,
  SIGNAL_CONNECTION_LOST,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void link_end (Link *link);
static void link_after_batch (Link *link, gboolean may_end);

static gint64
now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

static GSource *
add_timeout (guint ms, GSourceFunc func, gpointer data)
{
  GSource *s = g_timeout_source_new (ms);

  g_source_set_callback (s, func, data, NULL);
  g_source_attach (s, g_main_context_get_thread_default ());
  return s;
}

static void
clear_source (GSource **s)
{
  if (*s != NULL)
    {
      g_source_destroy (*s);
      g_source_unref (*s);
      *s = NULL;
    }
}

/* ---- small helpers ---- */

static void
set_state (ScConnection *self, ScConnectionState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

static void
set_retry_at (ScConnection *self, gint64 retry_at)
{
  if (self->retry_at == retry_at)
    return;
  self->retry_at = retry_at;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RETRY_AT]);
}

static void
wipe_password (ScConnection *self)
{
  if (self->password != NULL)
    {
      sc_wipe (self->password, self->password_len);
      g_free (self->password);
      self->password = NULL;
      self->password_len = 0;
    }
}

static void
pending_send_free (gpointer data)
{
  PendingSend *p = data;

  if (p == NULL)
    return;
  if (p->text != NULL)
    {
      sc_wipe (p->text, p->len);
      g_free (p->text);
    }
  g_free (p);
}

static gint
pending_send_compare (gconstpointer a, gconstpointer b)
{
  const PendingSend *pa = *(PendingSend *const *) a;
  const PendingSend *pb = *(PendingSend *const *) b;

  return pa->ref < pb->ref ? -1 : pa->ref > pb->ref;
}

/* Every send without an answer gets "send-lost", oldest first. */
static void
fail_pending_sends (ScConnection *self)
{
  g_autoptr (GPtrArray) lost =
      g_ptr_array_new_with_free_func (pending_send_free);
  GHashTableIter it;
  gpointer value;
  g_autofree gpointer *waiting = NULL;
  gsize n_waiting = 0;

  g_hash_table_iter_init (&it, self->pending);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      g_ptr_array_add (lost, value);
      g_hash_table_iter_steal (&it);
    }
  waiting = g_ptr_array_steal (self->resend, &n_waiting);
  for (gsize i = 0; i < n_waiting; i++)
    g_ptr_array_add (lost, waiting[i]);
  clear_source (&self->resend_source);
  g_ptr_array_sort (lost, pending_send_compare);
  for (guint i = 0; i < lost->len; i++)
    {
      PendingSend *p = lost->pdata[i];

      g_signal_emit (self, signals[SIGNAL_SEND_LOST], 0, p->ref);
    }
}

/* The connection stops for good: STOPPED and "stopped". FALSE when a
 * handler already had it do something else. */
static gboolean
stop_with (ScConnection *self,
           ScStopReason reason,
           const char *message,
           gboolean keep_password)
{
  guint epoch = ++self->epoch;

  clear_source (&self->retry_source);
  if (!keep_password)
    wipe_password (self);
  set_retry_at (self, 0);
  set_state (self, SC_CONNECTION_STOPPED);
  if (self->epoch == epoch)
    g_signal_emit (self, signals[SIGNAL_STOPPED], 0, reason, message);
  return self->epoch == epoch;
}

/* ---- the account ---- */

static gboolean
open_account (ScConnection *self, GError **error)
{
  Account *a;
  int rc;

  if (self->account != NULL)
    return TRUE;
  a = g_new0 (Account, 1);
  g_ref_count_init (&a->ref);
  rc = sc_keystore_open (self->data_dir, &a->store);
  if (rc < 0)
    {
      int e = errno;

      if (rc == SC_ERR_STORAGE && e == EPERM)
        g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_STORAGE,
                     _ ("Cannot use the key folder %s: other users can open "
                        "it. Make it private (chmod 700) and try again."),
                     self->data_dir);
      else
        g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_STORAGE,
                     _ ("Cannot open the key folder %s: %s"), self->data_dir,
                     rc == SC_ERR_STORAGE ? g_strerror (e) : sc_strerror (rc));
      account_unref (a);
      return FALSE;
    }
  rc = sc_e2e_open (sc_keystore_storage (a->store), self->key, self->user,
                    &a->e2e);
  if (rc == SC_ERR_STATE)
    {
      g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_STORAGE,
                   _ ("The key folder %s belongs to another account."),
                   self->data_dir);
      account_unref (a);
      return FALSE;
    }
  if (rc < 0)
    {
      const char *why = sc_keystore_last_error (a->store);
      g_autofree char *text = sc_errors_describe_error (rc);

      g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_STORAGE,
                   _ ("Cannot read your keys in %s: %s"), self->data_dir,
                   why[0] != '\0' ? why : text);
      account_unref (a);
      return FALSE;
    }
  self->account = a;
  return TRUE;
}

/* ---- links ---- */

static Link *
link_ref (Link *link)
{
  g_ref_count_inc (&link->ref);
  return link;
}

static void
link_unref (Link *link)
{
  if (!g_ref_count_dec (&link->ref))
    return;
  /* Every source was destroyed when the link was closed. */
  sc_client_free (link->client);
  g_clear_object (&link->conn);
  g_clear_object (&link->cancellable);
  account_unref (link->account);
  g_free (link->end.message);
  g_free (link);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Link, link_unref)

/* Records what ended the link; the first decision counts. */
static void
link_decide (Link *link, EndKind kind, ScStopReason reason, const char *message)
{
  if (link->end.kind != END_NONE)
    return;
  link->end.kind = kind;
  link->end.reason = reason;
  link->end.message = g_strdup (message);
}

/* Closes the socket at once and drops the owner's reference. */
static void
link_close (Link *link)
{
  if (link->dead)
    return;
  link->dead = TRUE;
  link->self = NULL;
  g_cancellable_cancel (link->cancellable);
  clear_source (&link->read_source);
  clear_source (&link->tick_source);
  clear_source (&link->deadline_source);
  clear_source (&link->idle_source);
  if (link->conn != NULL)
    g_socket_close (g_socket_connection_get_socket (link->conn), NULL);
  link_unref (link);
}

/* Discards what the server still says until it closes. */
static gboolean
link_drain_cb (GObject *stream, gpointer data)
{
  Link *link = data;
  guint8 buf[4096];

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (
          G_POLLABLE_INPUT_STREAM (stream), buf, sizeof buf, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        {
          link_close (link);
          return G_SOURCE_REMOVE;
        }
    }
}

static gboolean
link_closing_timeout_cb (gpointer data)
{
  Link *link = data;

  link_close (link);
  return G_SOURCE_REMOVE;
}

static void link_write_cb (GObject *source, GAsyncResult *res, gpointer data);

/* The "bye" is out: shut our side and let the server close first. */
static void
link_shut (Link *link)
{
  GInputStream *in;

  if (link->shut || link->dead)
    return;
  link->shut = TRUE;
  if (!g_socket_shutdown (g_socket_connection_get_socket (link->conn), FALSE,
                          TRUE, NULL))
    {
      link_close (link);
      return;
    }
  clear_source (&link->deadline_source);
  link->deadline_source =
      add_timeout (CLOSE_WAIT_MS, link_closing_timeout_cb, link);
  in = g_io_stream_get_input_stream (G_IO_STREAM (link->conn));
  link->read_source = g_pollable_input_stream_create_source (
      G_POLLABLE_INPUT_STREAM (in), NULL);
  g_source_set_callback (link->read_source, G_SOURCE_FUNC (link_drain_cb), link,
                         NULL);
  g_source_attach (link->read_source, g_main_context_get_thread_default ());
}

/* Starts writing what the session has queued, one write at a time. */
static void
link_flush (Link *link)
{
  const guint8 *data;
  gsize len = 0;
  g_autoptr (GBytes) bytes = NULL;
  GOutputStream *out;

  if (link->writing || link->dead || link->conn == NULL || link->client == NULL)
    return;
  data = sc_client_pending (link->client, &len);
  if (len == 0)
    {
      if (link->closing)
        link_shut (link);
      return;
    }
  /* The session's buffer may move while the write is in flight: the
   * write gets a copy, and the session is told what left once it did. */
  bytes = g_bytes_new (data, MIN (len, WRITE_CHUNK));
  out = g_io_stream_get_output_stream (G_IO_STREAM (link->conn));
  link->writing = TRUE;
  g_output_stream_write_bytes_async (out, bytes, G_PRIORITY_DEFAULT,
                                     link->cancellable, link_write_cb,
                                     link_ref (link));
}

/* Detaches the link and lets it send the "bye" on its own, bounded. */
static void
link_begin_closing (Link *link)
{
  link->self = NULL;
  if (link->client == NULL || sc_client_quit (link->client) < 0)
    {
      link_close (link);
      return;
    }
  link->closing = TRUE;
  clear_source (&link->read_source);
  clear_source (&link->tick_source);
  clear_source (&link->deadline_source);
  clear_source (&link->idle_source);
  link->deadline_source =
      add_timeout (QUIT_GRACE_MS, link_closing_timeout_cb, link);
  link_flush (link);
}

/* Drops the current link: with a "bye" when one can be sent. */
static void
drop_link (ScConnection *self, gboolean say_bye)
{
  Link *link = self->link;
  enum sc_client_state st;

  if (link == NULL)
    return;
  self->link = NULL;
  link->self = NULL;
  st = sc_client_state (link->client);
  if (say_bye && link->conn != NULL &&
      (st == SC_CLIENT_LOGIN || st == SC_CLIENT_READY))
    link_begin_closing (link);
  else
    link_close (link);
}

static void
link_lose (Link *link, const char *message)
{
  link_decide (link, END_LOST, SC_STOP_CONNECT_FAILED, message);
}

static void
link_write_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (Link) link = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScConnection) self = NULL;
  gssize n;

  n = g_output_stream_write_bytes_finish (G_OUTPUT_STREAM (source), res,
                                          &error);
  link->writing = FALSE;
  if (link->dead)
    return;
  if (link->self != NULL)
    self = g_object_ref (link->self);
  if (n < 0)
    {
      if (self == NULL)
        {
          link_close (link);
          return;
        }
      {
        g_autofree char *why =
            g_strdup_printf (_ ("The connection was lost: %s"), error->message);

        link_lose (link, why);
      }
      link_end (link);
      return;
    }
  sc_client_consume (link->client, (size_t) n);
  link_flush (link);
}

/* ---- server keys ---- */

/* The known-servers file's entry for this server: NULL when none. */
static char *
lookup_pinned (ScConnection *self, guint *line, int *err)
{
  struct known_servers *ks = NULL;
  const char *known;
  size_t l = 0;
  char *fp = NULL;
  int rc;

  *line = 0;
  rc = known_servers_load (self->known_servers_path, &ks);
  if (rc < 0)
    {
      *err = -rc;
      return NULL;
    }
  *err = 0;
  known = known_servers_lookup (ks, self->key, &l);
  if (known != NULL)
    {
      fp = g_strdup (known);
      *line = (guint) l;
    }
  known_servers_free (ks);
  return fp;
}

static void
decide_key_changed (Link *link, const char *pinned, guint line)
{
  ScConnection *self = link->self;
  g_autofree char *text = NULL;

  if (line > 0)
    text = g_strdup_printf (
        _ ("The key of the server %s has changed. Someone may be intercepting "
           "the connection, or the server was set up again. Your password was "
           "not sent. If your administrator confirms the change, remove line "
           "%u of %s and connect again."),
        self->key, line, self->known_servers_path);
  else
    text = g_strdup_printf (
        _ ("The key of the server %s changed while you were connected. "
           "Someone may be intercepting the connection, or the server was set "
           "up again. Your password was not sent."),
        self->key);
  link_decide (link, END_STOP, SC_STOP_SERVER_KEY_CHANGED, text);
  g_strlcpy (link->end.pinned, pinned, sizeof link->end.pinned);
  link->end.line = line;
}

static int
check_known_servers (ScConnection *self, Link *link, const char *fp)
{
  struct known_servers *ks = NULL;
  const char *known;
  size_t line = 0;
  int lock;
  int rc;

  /* Without the lock (a read-only home) reading still works; saving
   * then reports its own error. */
  lock = known_servers_lock (self->known_servers_path);
  rc = known_servers_load (self->known_servers_path, &ks);
  if (rc < 0)
    {
      g_autofree char *text =
          g_strdup_printf (_ ("Cannot read the list of known servers %s: %s"),
                           self->known_servers_path, g_strerror (-rc));

      known_servers_unlock (lock);
      link_decide (link, END_STOP, SC_STOP_LOCAL, text);
      return -1;
    }
  known = known_servers_lookup (ks, self->key, &line);
  if (known != NULL)
    {
      gboolean same = sc_fingerprint_equal (known, fp) == 1;

      if (same)
        g_strlcpy (self->pinned, fp, sizeof self->pinned);
      else
        decide_key_changed (link, known, (guint) line);
      known_servers_free (ks);
      known_servers_unlock (lock);
      return same ? 0 : -1;
    }
  if (self->trusted[0] != '\0' && sc_fingerprint_equal (self->trusted, fp) == 1)
    {
      rc = known_servers_set (ks, self->key, fp);
      if (rc == 0)
        rc = known_servers_save (ks, self->known_servers_path);
      known_servers_free (ks);
      known_servers_unlock (lock);
      if (rc < 0)
        {
          g_autofree char *text =
              g_strdup_printf (_ ("Cannot save the server's key to %s: %s"),
                               self->known_servers_path, g_strerror (-rc));

          link_decide (link, END_STOP, SC_STOP_LOCAL, text);
          return -1;
        }
      self->trusted[0] = '\0';
      g_strlcpy (self->pinned, fp, sizeof self->pinned);
      return 0;
    }
  known_servers_free (ks);
  known_servers_unlock (lock);
  /* Another key than the one the user confirmed asks again. */
  self->trusted[0] = '\0';
  {
    g_autofree char *text = g_strdup_printf (
        _ ("This is the first connection to %s. Compare the server's key "
           "fingerprint %s with the one your administrator gave you before "
           "you continue."),
        self->key, fp);

    link_decide (link, END_STOP, SC_STOP_SERVER_KEY_UNKNOWN, text);
  }
  return -1;
}

static int
verify_server_key_cb (void *ud,
                      const uint8_t pub[SC_X25519_LEN],
                      const char *fp)
{
  Link *link = ud;
  ScConnection *self = link->self;

  if (self == NULL)
    return -1;
  if (strcmp (self->fingerprint, fp) != 0)
    {
      g_strlcpy (self->fingerprint, fp, sizeof self->fingerprint);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_FINGERPRINT]);
      if (link->self == NULL)
        return -1;
    }
  if (self->pinned[0] != '\0')
    {
      g_autofree char *in_file = NULL;
      guint line = 0;
      int err = 0;

      if (sc_fingerprint_equal (self->pinned, fp) == 1)
        return 0;
      /* Point at the file's line when the pinned key is still there. */
      in_file = lookup_pinned (self, &line, &err);
      if (in_file == NULL || sc_fingerprint_equal (in_file, self->pinned) != 1)
        line = 0;
      decide_key_changed (link, self->pinned, line);
      return -1;
    }
  return check_known_servers (self, link, fp);
}

/* ---- session events ---- */

static void
logged_in_cb (void *ud, const char *user)
{
  Link *link = ud;
  ScConnection *self = link->self;

  if (self == NULL)
    return;
  link->logged_in = TRUE;
  self->ever_logged_in = TRUE;
  self->backoff_attempt = 0;
  clear_source (&link->deadline_source);
  set_state (self, SC_CONNECTION_ONLINE);
  if (link->self != NULL)
    g_signal_emit (self, signals[SIGNAL_LOGGED_IN], 0);
}

static void
presence_list_cb (void *ud, const char *const *users, size_t n)
{
  Link *link = ud;
  ScConnection *self = link->self;
  g_auto (GStrv) list = NULL;

  if (self == NULL)
    return;
  g_hash_table_remove_all (self->online);
  list = g_new0 (char *, n + 1);
  for (size_t i = 0; i < n; i++)
    {
      list[i] = g_strdup (users[i]);
      g_hash_table_add (self->online, g_strdup (users[i]));
    }
  g_signal_emit (self, signals[SIGNAL_PRESENCE_LIST], 0, list);
}

static void
presence_cb (void *ud, const char *user, bool online)
{
  Link *link = ud;
  ScConnection *self = link->self;

  if (self == NULL)
    return;
  if (online)
    g_hash_table_add (self->online, g_strdup (user));
  else
    g_hash_table_remove (self->online, user);
  g_signal_emit (self, signals[SIGNAL_PRESENCE], 0, user, (gboolean) online);
}

static void
message_cb (void *ud,
            uint64_t id,
            const char *from,
            int64_t ts,
            const uint8_t *body,
            size_t body_len)
{
  Link *link = ud;
  ScConnection *self = link->self;
  char *text;

  if (self == NULL)
    return;
  /* Also refuses NUL bytes, which would cut the text short. */
  if (body_len > G_MAXSSIZE ||
      !g_utf8_validate ((const char *) body, (gssize) body_len, NULL))
    {
      g_signal_emit (self, signals[SIGNAL_UNDECRYPTABLE], 0, (guint64) id, from,
                     (gint64) ts,
                     _ ("The message is not valid text, so it is not shown."));
      return;
    }
  text = g_strndup ((const char *) body, body_len);
  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, (guint64) id, from,
                 (gint64) ts, text);
  sc_wipe (text, body_len);
  g_free (text);
}

static PendingSend *
pending_take (ScConnection *self, guint64 client_ref)
{
  PendingSend *p = g_hash_table_lookup (self->pending, &client_ref);

  if (p != NULL)
    g_hash_table_steal (self->pending, &client_ref);
  return p;
}

static void
sent_cb (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  Link *link = ud;
  ScConnection *self = link->self;
  PendingSend *p;

  if (self == NULL)
    return;
  p = pending_take (self, ref);
  if (p == NULL)
    return;
  g_signal_emit (self, signals[SIGNAL_SENT], 0, p->ref, (guint64) id,
                 (gint64) ts);
  pending_send_free (p);
}

static gboolean resend_cb (gpointer data);

static void
schedule_resend (ScConnection *self, PendingSend *p)
{
  p->retries++;
  g_ptr_array_add (self->resend, p);
  if (self->resend_source == NULL)
    self->resend_source = add_timeout (SEND_RETRY_MS, resend_cb, self);
}

/* "Too many attempts; try again in N seconds." */
static char *
rate_limited_text (guint retry_after_ms)
{
  guint s = (retry_after_ms + 999) / 1000;

  if (retry_after_ms == 0)
    return g_strdup (sc_errors_describe_code (SC_CODE_RATE_LIMITED));
  return g_strdup_printf (
      ngettext ("Too many attempts. Try again in %u second.",
                "Too many attempts. Try again in %u seconds.", s),
      s);
}

static void
error_cb (void *ud, const struct sc_msg_error *e)
{
  Link *link = ud;
  ScConnection *self = link->self;

  if (self == NULL)
    return;
  if (e->has_ref)
    {
      PendingSend *p = pending_take (self, e->ref);
      int code = (int) e->code;

      if (p == NULL)
        return;
      if (e->code == SC_CODE_NO_PREKEYS)
        {
          gboolean online = g_hash_table_contains (self->online, p->to);

          if (online && p->retries < SEND_RETRIES)
            {
              schedule_resend (self, p);
              return;
            }
          /* Keys missing is what an account that never logged in
           * shows; when they are not online, say first what matters. */
          if (!online)
            code = SC_CODE_RECIPIENT_OFFLINE;
        }
      g_signal_emit (self, signals[SIGNAL_SEND_ERROR], 0, p->ref, code,
                     sc_errors_describe_code (code));
      pending_send_free (p);
      return;
    }
  if (!link->logged_in)
    {
      /* At login an error means the server closes: note why. */
      switch (e->code)
        {
        case SC_CODE_AUTH_FAILED:
          link_decide (link, END_STOP, SC_STOP_AUTH_FAILED,
                       sc_errors_describe_code (e->code));
          break;
        case SC_CODE_RATE_LIMITED:
          {
            g_autofree char *text = rate_limited_text (e->retry_after);

            /* A password that worked before is worth trying again. */
            if (self->ever_logged_in)
              {
                link_decide (link, END_RETRY, SC_STOP_RATE_LIMITED, text);
                link->end.code = (int) e->code;
                link->end.retry_after_ms = e->retry_after;
              }
            else
              link_decide (link, END_STOP, SC_STOP_RATE_LIMITED, text);
          }
          break;
        case SC_CODE_SERVER_BUSY:
        case SC_CODE_SERVER_FULL:
          link_decide (link, END_RETRY, SC_STOP_CONNECT_FAILED,
                       sc_errors_describe_code (e->code));
          link->end.code = (int) e->code;
          link->end.retry_after_ms = e->retry_after;
          break;
        case SC_CODE_UNSUPPORTED_VERSION:
          link_decide (link, END_STOP, SC_STOP_PROTOCOL,
                       sc_errors_describe_code (e->code));
          break;
        default:
          link_lose (link, sc_errors_describe_code (e->code));
          break;
        }
      return;
    }
  if (e->code == SC_CODE_RATE_LIMITED)
    {
      g_autofree char *text = rate_limited_text (e->retry_after);

      g_signal_emit (self, signals[SIGNAL_SERVER_ERROR], 0, (int) e->code,
                     text);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_SERVER_ERROR], 0, (int) e->code,
                 sc_errors_describe_code (e->code));
}

static void
closed_cb (void *ud, int err, enum sc_code code, const char *message)
{
  Link *link = ud;
  g_autofree char *text = NULL;

  if (link->self == NULL || link->end.kind != END_NONE)
    return;
  if (err == SC_OK)
    {
      switch (code)
        {
        case SC_CODE_SESSION_REPLACED:
          link_decide (link, END_STOP, SC_STOP_REPLACED,
                       sc_errors_describe_code (code));
          break;
        case SC_CODE_AUTH_FAILED:
          link_decide (link, END_STOP, SC_STOP_AUTH_FAILED,
                       sc_errors_describe_code (code));
          break;
        case SC_CODE_UNSUPPORTED_VERSION:
          link_decide (link, END_STOP, SC_STOP_PROTOCOL,
                       sc_errors_describe_code (code));
          break;
        case SC_CODE_RATE_LIMITED:
        case SC_CODE_SERVER_BUSY:
        case SC_CODE_SERVER_FULL:
          link_decide (link, END_RETRY, SC_STOP_CONNECT_FAILED,
                       sc_errors_describe_code (code));
          link->end.code = (int) code;
          break;
        case SC_CODE_SERVER_SHUTDOWN:
          /* A first login is not retried: do not promise it. */
          if (!link->logged_in && !link->self->ever_logged_in)
            link_lose (link, _ ("The server is shutting down. Try again "
                                "later."));
          else
            link_lose (link, sc_errors_describe_code (code));
          break;
        default:
          link_lose (link, sc_errors_describe_code (code));
          break;
        }
      return;
    }
  text = sc_errors_describe_error (err);
  if (err == SC_ERR_UNSUPPORTED)
    link_decide (link, END_STOP, SC_STOP_PROTOCOL,
                 _ ("The server speaks a protocol version this app does not "
                    "support. Update the app, or ask the server's "
                    "administrator."));
  else
    link_lose (link, text);
}

static void
keys_ready_cb (void *ud, int err)
{
  Link *link = ud;
  ScConnection *self = link->self;
  g_autofree char *text = NULL;

  if (self == NULL)
    return;
  if (err < 0)
    {
      g_autofree char *why = sc_errors_describe_error (err);

      text = g_strdup_printf (_ ("Could not publish your encryption keys, so "
                                 "others may be unable to start a "
                                 "conversation with you: %s"),
                              why);
    }
  g_signal_emit (self, signals[SIGNAL_KEYS_READY], 0, err == SC_OK, text);
}

static void
identity_changed_cb (void *ud, const char *peer)
{
  Link *link = ud;

  if (link->self != NULL)
    g_signal_emit (link->self, signals[SIGNAL_IDENTITY_CHANGED], 0, peer);
}

static void
undecryptable_cb (void *ud, uint64_t id, const char *from, int64_t ts, int err)
{
  Link *link = ud;
  g_autofree char *text = NULL;

  if (link->self == NULL)
    return;
  text = sc_errors_describe_error (err);
  g_signal_emit (link->self, signals[SIGNAL_UNDECRYPTABLE], 0, (guint64) id,
                 from, (gint64) ts, text);
}

static char *
identity_changed_text (const char *peer)
{
  return g_strdup_printf (_ ("%s's identity key changed, so nothing is sent "
                             "to them. Compare the safety number with them, "
                             "then accept the new key."),
                          peer);
}

static void
send_failed_cb (void *ud, uint64_t ref, const char *to, int err)
{
  Link *link = ud;
  ScConnection *self = link->self;
  PendingSend *p;
  g_autofree char *text = NULL;

  if (self == NULL)
    return;
  p = pending_take (self, ref);
  if (p == NULL)
    return;
  if (err == SC_ERR_IDENTITY_CHANGED)
    text = identity_changed_text (to);
  else
    text = sc_errors_describe_error (err);
  g_signal_emit (self, signals[SIGNAL_SEND_FAILED], 0, p->ref, to, text);
  pending_send_free (p);
}

static void
session_ready_cb (void *ud,
                  const char *peer,
                  int err,
                  const struct sc_msg_error *server_error)
{
  Link *link = ud;
  g_autofree char *text = NULL;

  if (link->self == NULL)
    return;
  if (err == SC_ERR_IDENTITY_CHANGED)
    text = identity_changed_text (peer);
  else if (server_error != NULL)
    text = g_strdup (sc_errors_describe_code ((int) server_error->code));
  else if (err < 0)
    text = sc_errors_describe_error (err);
  g_signal_emit (link->self, signals[SIGNAL_KEYS_FETCHED], 0, peer,
                 err == SC_OK, text);
}

static const struct sc_client_callbacks link_callbacks = {
  .verify_server_key = verify_server_key_cb,
  .logged_in = logged_in_cb,
  .presence_list = presence_list_cb,
  .presence = presence_cb,
  .message = message_cb,
  .sent = sent_cb,
  .error = error_cb,
  .closed = closed_cb,
  .keys_ready = keys_ready_cb,
  .identity_changed = identity_changed_cb,
  .undecryptable = undecryptable_cb,
  .send_failed = send_failed_cb,
  .session_ready = session_ready_cb,
};

/* ---- driving a link ---- */

static gboolean
link_tick_cb (gpointer data)
{
  Link *link = data;
  g_autoptr (ScConnection) self = NULL;
  g_autoptr (Link) hold = link_ref (link);

  /* The context drops its own reference when this returns. */
  g_clear_pointer (&link->tick_source, g_source_unref);
  if (link->self == NULL)
    return G_SOURCE_REMOVE;
  self = g_object_ref (link->self);
  link_after_batch (link, TRUE);
  return G_SOURCE_REMOVE;
}

static gboolean
link_idle_cb (gpointer data)
{
  Link *link = data;
  g_autoptr (ScConnection) self = NULL;
  g_autoptr (Link) hold = link_ref (link);

  g_clear_pointer (&link->idle_source, g_source_unref);
  if (link->self == NULL)
    return G_SOURCE_REMOVE;
  self = g_object_ref (link->self);
  link_after_batch (link, TRUE);
  return G_SOURCE_REMOVE;
}

/* After every batch of calls into the session: end the link if the
 * session closed, else write what it queued and ask when to tick next.
 * may_end FALSE (inside an API call): the end waits for an idle. */
static void
link_after_batch (Link *link, gboolean may_end)
{
  gint64 now;
  gint64 next;

  if (link->self == NULL || link->dead || link->client == NULL)
    return;
  if (link->end.kind == END_NONE &&
      sc_client_state (link->client) != SC_CLIENT_CLOSED)
    {
      now = now_ms ();
      next = sc_client_tick (link->client, now);
      if (link->end.kind == END_NONE &&
          sc_client_state (link->client) != SC_CLIENT_CLOSED)
        {
          link_flush (link);
          clear_source (&link->tick_source);
          if (next != SC_CLIENT_NO_DEADLINE)
            {
              gint64 delay = next > now ? next - now : 0;

              link->tick_source = add_timeout (
                  (guint) MIN (delay, (gint64) G_MAXUINT), link_tick_cb, link);
            }
          return;
        }
    }
  if (link->end.kind == END_NONE)
    link_lose (link, _ ("The connection was closed."));
  if (may_end)
    link_end (link);
  else if (link->idle_source == NULL)
    {
      link->idle_source = g_idle_source_new ();
      g_source_set_callback (link->idle_source, link_idle_cb, link, NULL);
      g_source_attach (link->idle_source, g_main_context_get_thread_default ());
    }
}

/* After an API call queued something: write it now, unless the session
 * is being fed (then that does it). */
static void
link_kick (Link *link)
{
  if (link != NULL && !link->in_recv)
    link_after_batch (link, FALSE);
}

static gboolean
link_read_cb (GObject *stream, gpointer data)
{
  Link *link = data;
  g_autoptr (ScConnection) self = NULL;
  g_autoptr (Link) hold = link_ref (link);
  guint8 buf[READ_CHUNK];

  if (link->self == NULL)
    return G_SOURCE_REMOVE;
  self = g_object_ref (link->self);

  for (int round = 0; round < READS_PER_WAKEUP; round++)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (
          G_POLLABLE_INPUT_STREAM (stream), buf, sizeof buf, NULL, &error);
      int rc;

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (n < 0)
        {
          g_autofree char *why = g_strdup_printf (
              _ ("The connection was lost: %s"), error->message);

          link_lose (link, why);
          break;
        }
      if (n == 0)
        {
          if (sc_client_state (link->client) == SC_CLIENT_HANDSHAKE)
            link_lose (link, _ ("The server closed the connection during the "
                                "handshake."));
          else if (!link->logged_in)
            link_lose (link,
                       _ ("The server closed the connection during login."));
          else
            link_lose (link, _ ("The server closed the connection."));
          break;
        }
      link->in_recv = TRUE;
      rc = sc_client_recv (link->client, buf, (size_t) n, now_ms ());
      link->in_recv = FALSE;
      sc_wipe (buf, (size_t) n);
      if (rc < 0)
        {
          g_autofree char *why = sc_errors_describe_error (rc);

          link_lose (link, why);
        }
      if (link->self == NULL || link->end.kind != END_NONE ||
          sc_client_state (link->client) == SC_CLIENT_CLOSED)
        break;
    }
  if (link->self == NULL)
    return G_SOURCE_REMOVE; /* stopped from a handler: already detached */
  link_after_batch (link, TRUE);
  return G_SOURCE_CONTINUE;
}

static gboolean
link_connect_timeout_cb (gpointer data)
{
  Link *link = data;

  g_clear_pointer (&link->deadline_source, g_source_unref);
  link->connect_timed_out = TRUE;
  g_cancellable_cancel (link->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
link_login_timeout_cb (gpointer data)
{
  Link *link = data;
  g_autoptr (ScConnection) self = NULL;
  g_autoptr (Link) hold = link_ref (link);

  g_clear_pointer (&link->deadline_source, g_source_unref);
  if (link->self == NULL)
    return G_SOURCE_REMOVE;
  self = g_object_ref (link->self);
  link_lose (link, _ ("The server did not answer in time."));
  link_end (link);
  return G_SOURCE_REMOVE;
}

static void
link_connect_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (Link) link = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScConnection) self = NULL;
  GSocketConnection *conn;
  GInputStream *in;
  struct sc_client_config cfg = { 0 };
  int rc;

  conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), res, &error);
  if (link->dead || link->self == NULL)
    {
      if (conn != NULL)
        {
          g_socket_close (g_socket_connection_get_socket (conn), NULL);
          g_object_unref (conn);
        }
      return;
    }
  self = g_object_ref (link->self);
  clear_source (&link->deadline_source);
  if (conn == NULL)
    {
      g_autofree char *text = NULL;

      if (link->connect_timed_out)
        text = g_strdup_printf (
            _ ("Cannot connect to %s: the server did not answer within %d "
               "seconds."),
            self->key, CONNECT_TIMEOUT_MS / 1000);
      else
        text = g_strdup_printf (_ ("Cannot connect to %s: %s"), self->key,
                                error->message);
      link_lose (link, text);
      link_end (link);
      return;
    }
  link->conn = conn;
  /* Chat frames are small and wanted at once. */
  g_socket_set_option (g_socket_connection_get_socket (conn), IPPROTO_TCP,
                       TCP_NODELAY, 1, NULL);

  cfg.user = self->user;
  cfg.password = self->password;
  cfg.agent = AGENT;
  cfg.e2e = link->account->e2e;
  rc = sc_client_new (&cfg, &link_callbacks, link, &link->client);
  if (rc == SC_OK)
    rc = sc_client_start (link->client, now_ms ());
  if (rc < 0)
    {
      g_autofree char *why = sc_errors_describe_error (rc);
      g_autofree char *text =
          g_strdup_printf (_ ("Cannot start a session: %s"), why);

      link_decide (link, END_STOP, SC_STOP_LOCAL, text);
      link_end (link);
      return;
    }
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  link->read_source = g_pollable_input_stream_create_source (
      G_POLLABLE_INPUT_STREAM (in), NULL);
  g_source_set_callback (link->read_source, G_SOURCE_FUNC (link_read_cb), link,
                         NULL);
  g_source_attach (link->read_source, g_main_context_get_thread_default ());
  link->deadline_source =
      add_timeout (LOGIN_TIMEOUT_MS, link_login_timeout_cb, link);
  link_after_batch (link, TRUE);
}

/* ---- attempts, waiting, ending ---- */

/* 1 s doubling to 30 s, each shortened by up to a quarter at random, so
 * that clients dropped together do not all come back at once. */
static guint
backoff_delay (ScConnection *self)
{
  guint base = BACKOFF_FIRST_MS;

  for (guint i = 0; i < self->backoff_attempt && base < BACKOFF_MAX_MS; i++)
    base *= 2;
  base = MIN (base, BACKOFF_MAX_MS);
  if (self->backoff_attempt < 64)
    self->backoff_attempt++;
  return base - (guint) g_random_int_range (0, (gint32) (base / 4) + 1);
}

static void attempt (ScConnection *self);

static gboolean
retry_cb (gpointer data)
{
  ScConnection *self = data;
  g_autoptr (ScConnection) hold = g_object_ref (self);

  g_clear_pointer (&self->retry_source, g_source_unref);
  attempt (self);
  return G_SOURCE_REMOVE;
}

static void
wait_and_retry (ScConnection *self, guint min_delay_ms)
{
  guint delay = backoff_delay (self);

  if (min_delay_ms > delay)
    delay = min_delay_ms;
  clear_source (&self->retry_source);
  self->retry_source = add_timeout (delay, retry_cb, self);
  set_retry_at (self, g_get_monotonic_time () + (gint64) delay * 1000);
  set_state (self, SC_CONNECTION_WAITING);
}

/* One connection attempt: a new link. */
static void
attempt (ScConnection *self)
{
  g_autoptr (GSocketConnectable) addr = NULL;
  Link *link;

  self->epoch++;
  clear_source (&self->retry_source);
  drop_link (self, FALSE);
  link = g_new0 (Link, 1);
  g_ref_count_init (&link->ref);
  link->self = self;
  link->account = account_ref (self->account);
  link->cancellable = g_cancellable_new ();
  self->link = link;
  addr = g_network_address_new (
      self->host, (guint16) g_ascii_strtoull (self->port, NULL, 10));
  link->deadline_source =
      add_timeout (CONNECT_TIMEOUT_MS, link_connect_timeout_cb, link);
  g_socket_client_connect_async (self->socket_client, addr, link->cancellable,
                                 link_connect_cb, link_ref (link));
  set_retry_at (self, 0);
  set_state (self, SC_CONNECTION_CONNECTING);
}

/* Ends the current link (outside the session's callbacks) and decides
 * what comes next, telling the application in the contract's order. */
static void
link_end (Link *link)
{
  ScConnection *self = link->self;
  g_autoptr (ScConnection) hold = NULL;
  End end;
  gboolean was_logged_in = link->logged_in;
  guint epoch;

  if (self == NULL)
    return;
  hold = g_object_ref (self);
  end = link->end;
  link->end.message = NULL;
  if (end.kind == END_NONE)
    end.kind = END_LOST;
  if (end.message == NULL)
    end.message = g_strdup (_ ("The connection was closed."));
  g_assert (self->link == link);
  self->link = NULL;
  link_close (link);

  self->epoch++;
  epoch = self->epoch;
  g_hash_table_remove_all (self->online);
  fail_pending_sends (self);
  if (self->epoch != epoch)
    goto out;

  switch (end.kind)
    {
    case END_STOP:
      if (!stop_with (self, end.reason, end.message,
                      end.reason == SC_STOP_SERVER_KEY_UNKNOWN))
        break;
      if (end.reason == SC_STOP_SERVER_KEY_UNKNOWN)
        g_signal_emit (self, signals[SIGNAL_SERVER_KEY_UNKNOWN], 0,
                       self->fingerprint);
      else if (end.reason == SC_STOP_SERVER_KEY_CHANGED)
        g_signal_emit (self, signals[SIGNAL_SERVER_KEY_CHANGED], 0, end.pinned,
                       self->fingerprint, self->known_servers_path, end.line);
      break;
    case END_RETRY:
      /* Why it waits (busy, rate limited), for the user. */
      g_signal_emit (self, signals[SIGNAL_SERVER_ERROR], 0, end.code,
                     end.message);
      if (self->epoch == epoch)
        wait_and_retry (self, end.retry_after_ms);
      break;
    case END_LOST:
    case END_NONE:
    default:
      if (was_logged_in)
        {
          g_signal_emit (self, signals[SIGNAL_CONNECTION_LOST], 0, end.message);
          if (self->epoch != epoch)
            break;
        }
      if (self->ever_logged_in)
        wait_and_retry (self, 0);
      else
        stop_with (self, SC_STOP_CONNECT_FAILED, end.message, FALSE);
      break;
    }
out:
  g_free (end.message);
}

/* ---- sends ---- */

static int
client_send (ScConnection *self, Link *link, PendingSend *p)
{
  guint64 client_ref = 0;
  int rc;

  rc = sc_client_send (link->client, p->to, (const uint8_t *) p->text, p->len,
                       &client_ref);
  if (rc < 0)
    return rc;
  p->client_ref = client_ref;
  g_hash_table_insert (self->pending, &p->client_ref, p);
  return SC_OK;
}

static gboolean
resend_cb (gpointer data)
{
  ScConnection *self = data;
  g_autoptr (ScConnection) hold = g_object_ref (self);
  g_autoptr (GPtrArray) due = NULL;
  Link *link = self->link;
  guint epoch = self->epoch;

  g_clear_pointer (&self->resend_source, g_source_unref);
  due = self->resend;
  self->resend = g_ptr_array_new_with_free_func (pending_send_free);
  for (guint i = 0; i < due->len; i++)
    {
      PendingSend *p = due->pdata[i];
      int rc;

      due->pdata[i] = NULL;
      if (self->epoch != epoch || link == NULL || self->link != link)
        {
          /* The link is gone: it counts as lost with it. */
          g_signal_emit (self, signals[SIGNAL_SEND_LOST], 0, p->ref);
          pending_send_free (p);
          continue;
        }
      rc = client_send (self, link, p);
      if (rc < 0)
        {
          g_autofree char *text = rc == SC_ERR_IDENTITY_CHANGED
                                      ? identity_changed_text (p->to)
                                      : sc_errors_describe_error (rc);

          g_signal_emit (self, signals[SIGNAL_SEND_FAILED], 0, p->ref, p->to,
                         text);
          pending_send_free (p);
        }
    }
  if (self->link != NULL && self->link == link)
    link_kick (link);
  return G_SOURCE_REMOVE;
}

/* ---- GObject ---- */

static void
sc_connection_dispose (GObject *object)
{
  ScConnection *self = SC_CONNECTION (object);

  self->epoch++;
  clear_source (&self->retry_source);
  clear_source (&self->resend_source);
  drop_link (self, TRUE);
  g_hash_table_remove_all (self->pending);
  g_ptr_array_set_size (self->resend, 0);
  wipe_password (self);
  g_clear_pointer (&self->account, account_unref);
  g_clear_object (&self->socket_client);
  G_OBJECT_CLASS (sc_connection_parent_class)->dispose (object);
}

static void
sc_connection_finalize (GObject *object)
{
  ScConnection *self = SC_CONNECTION (object);

  g_free (self->user);
  g_free (self->known_servers_path);
  g_free (self->data_dir);
  g_hash_table_unref (self->pending);
  g_ptr_array_unref (self->resend);
  g_hash_table_unref (self->online);
  G_OBJECT_CLASS (sc_connection_parent_class)->finalize (object);
}

static void
sc_connection_get_property (GObject *object,
                            guint prop_id,
                            GValue *value,
                            GParamSpec *pspec)
{
  ScConnection *self = SC_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_RETRY_AT:
      g_value_set_int64 (value, self->retry_at);
      break;
    case PROP_FINGERPRINT:
      g_value_set_string (value, self->fingerprint);
      break;
    case PROP_SERVER:
      g_value_set_string (value, self->key);
      break;
    case PROP_USER:
      g_value_set_string (value, self->user);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static guint
new_signal (ScConnectionClass *klass,
            const char *name,
            guint n_params,
            const GType *types)
{
  return g_signal_newv (name, G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                        NULL, NULL, NULL, g_cclosure_marshal_generic,
                        G_TYPE_NONE, n_params, (GType *) types);
}

static void
sc_connection_class_init (ScConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  /* The text of a message is not copied by the emission (it is wiped
   * right after). */
  const GType message_types[] = { G_TYPE_UINT64, G_TYPE_STRING, G_TYPE_INT64,
                                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE };
  const GType presence_list_types[] = { G_TYPE_STRV };
  const GType presence_types[] = { G_TYPE_STRING, G_TYPE_BOOLEAN };
  const GType sent_types[] = { G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_INT64 };
  const GType send_error_types[] = { G_TYPE_UINT64, G_TYPE_INT, G_TYPE_STRING };
  const GType send_failed_types[] = { G_TYPE_UINT64, G_TYPE_STRING,
                                      G_TYPE_STRING };
  const GType send_lost_types[] = { G_TYPE_UINT64 };
  const GType server_error_types[] = { G_TYPE_INT, G_TYPE_STRING };
  const GType string_types[] = { G_TYPE_STRING };
  const GType undecryptable_types[] = { G_TYPE_UINT64, G_TYPE_STRING,
                                        G_TYPE_INT64, G_TYPE_STRING };
  const GType keys_ready_types[] = { G_TYPE_BOOLEAN, G_TYPE_STRING };
  const GType keys_fetched_types[] = { G_TYPE_STRING, G_TYPE_BOOLEAN,
                                       G_TYPE_STRING };
  const GType stopped_types[] = { SC_TYPE_STOP_REASON, G_TYPE_STRING };
  const GType key_changed_types[] = { G_TYPE_STRING, G_TYPE_STRING,
                                      G_TYPE_STRING, G_TYPE_UINT };

  object_class->dispose = sc_connection_dispose;
  object_class->finalize = sc_connection_finalize;
  object_class->get_property = sc_connection_get_property;

  props[PROP_STATE] = g_param_spec_enum (
      "state", NULL, NULL, SC_TYPE_CONNECTION_STATE, SC_CONNECTION_IDLE,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_RETRY_AT] = g_param_spec_int64 (
      "retry-at", NULL, NULL, 0, G_MAXINT64, 0,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_FINGERPRINT] = g_param_spec_string (
      "fingerprint", NULL, NULL, "",
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_SERVER] = g_param_spec_string (
      "server", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_USER] = g_param_spec_string (
      "user", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_LOGGED_IN] = new_signal (klass, "logged-in", 0, NULL);
  signals[SIGNAL_PRESENCE_LIST] =
      new_signal (klass, "presence-list", 1, presence_list_types);
  signals[SIGNAL_PRESENCE] = new_signal (klass, "presence", 2, presence_types);
  signals[SIGNAL_MESSAGE] = new_signal (klass, "message", 4, message_types);
  signals[SIGNAL_SENT] = new_signal (klass, "sent", 3, sent_types);
  signals[SIGNAL_SEND_ERROR] =
      new_signal (klass, "send-error", 3, send_error_types);
  signals[SIGNAL_SEND_FAILED] =
      new_signal (klass, "send-failed", 3, send_failed_types);
  signals[SIGNAL_SEND_LOST] =
      new_signal (klass, "send-lost", 1, send_lost_types);
  signals[SIGNAL_SERVER_ERROR] =
      new_signal (klass, "server-error", 2, server_error_types);
  signals[SIGNAL_IDENTITY_CHANGED] =
      new_signal (klass, "identity-changed", 1, string_types);
  signals[SIGNAL_UNDECRYPTABLE] =
      new_signal (klass, "undecryptable", 4, undecryptable_types);
  signals[SIGNAL_KEYS_READY] =
      new_signal (klass, "keys-ready", 2, keys_ready_types);
  signals[SIGNAL_KEYS_FETCHED] =
      new_signal (klass, "keys-fetched", 3, keys_fetched_types);
  signals[SIGNAL_STOPPED] = new_signal (klass, "stopped", 2, stopped_types);
  signals[SIGNAL_SERVER_KEY_UNKNOWN] =
      new_signal (klass, "server-key-unknown", 1, string_types);
  signals[SIGNAL_SERVER_KEY_CHANGED] =
      new_signal (klass, "server-key-changed", 4, key_changed_types);
  signals[SIGNAL_CONNECTION_LOST] =
      new_signal (klass, "connection-lost", 1, string_types);
}

static void
sc_connection_init (ScConnection *self)
{
  self->socket_client = g_socket_client_new ();
  /* Straight to the server, as securechat-cli does: the Noise channel is
   * end-to-end with it, and an HTTP proxy would not carry it. */
  g_socket_client_set_enable_proxy (self->socket_client, FALSE);
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                         pending_send_free);
  self->resend = g_ptr_array_new_with_free_func (pending_send_free);
  self->online = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* ---- public API ---- */

ScConnection *
sc_connection_new (const char *server,
                   const char *user,
                   const char *known_servers_path,
                   const char *data_dir,
                   GError **error)
{
  g_autoptr (ScConnection) self = NULL;
  char why[128];

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (user != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (SC_TYPE_CONNECTION, NULL);
  if (net_parse_server (server, self->host, self->port, self->key, why,
                        sizeof why) < 0)
    {
      g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID,
                   _ ("The server address is not valid: write it as HOST:PORT "
                      "(for example chat.example.org:12345), [IPv6 "
                      "address]:PORT, or HOST alone for port 12345."));
      return NULL;
    }
  if (sc_username_validate (user, strnlen (user, SC_USERNAME_MAX + 1)) < 0)
    {
      g_autofree char *text = sc_errors_describe_error (SC_ERR_USERNAME);

      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_INVALID, text);
      return NULL;
    }
  self->user = g_strdup (user);

  if (known_servers_path != NULL)
    self->known_servers_path = g_strdup (known_servers_path);
  else
    {
      char *path = known_servers_default_path ();

      self->known_servers_path = g_strdup (path);
      free (path);
    }
  if (data_dir != NULL)
    self->data_dir = g_strdup (data_dir);
  else
    {
      char *path = account_dir_path (self->key, user);

      self->data_dir = g_strdup (path);
      free (path);
    }
  if (self->known_servers_path == NULL || self->data_dir == NULL)
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_STORAGE,
                           _ ("Cannot find a folder for your settings and "
                              "keys: set HOME, or XDG_CONFIG_HOME and "
                              "XDG_DATA_HOME."));
      return NULL;
    }
  return g_steal_pointer (&self);
}

gboolean
sc_connection_start (ScConnection *self, const char *password, GError **error)
{
  gsize len;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->state != SC_CONNECTION_IDLE && self->state != SC_CONNECTION_STOPPED)
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_FAILED,
                           _ ("Already connected or connecting."));
      return FALSE;
    }
  len = strnlen (password, SC_PASSWORD_MAX + 1);
  if (sc_password_validate (password, len) < 0)
    {
      g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID,
                   _ ("The password must be 1 to %d bytes of text."),
                   SC_PASSWORD_MAX);
      return FALSE;
    }
  if (!open_account (self, error))
    return FALSE;

  wipe_password (self);
  self->password = g_malloc (len + 1);
  memcpy (self->password, password, len + 1);
  self->password_len = len;
  /* A new run: the file is the reference again. */
  self->pinned[0] = '\0';
  self->ever_logged_in = FALSE;
  self->backoff_attempt = 0;
  attempt (self);
  return TRUE;
}

void
sc_connection_stop (ScConnection *self)
{
  guint epoch;

  g_return_if_fail (SC_IS_CONNECTION (self));

  self->trusted[0] = '\0';
  if (self->state == SC_CONNECTION_STOPPED && self->link == NULL)
    {
      wipe_password (self);
      return;
    }
  self->epoch++;
  epoch = self->epoch;
  clear_source (&self->retry_source);
  drop_link (self, TRUE);
  g_hash_table_remove_all (self->online);
  fail_pending_sends (self);
  if (self->epoch != epoch)
    return;
  stop_with (self, SC_STOP_USER, sc_errors_describe_code (SC_CODE_CLIENT_QUIT),
             FALSE);
}

void
sc_connection_retry_now (ScConnection *self)
{
  g_return_if_fail (SC_IS_CONNECTION (self));

  if (self->state == SC_CONNECTION_WAITING && self->link == NULL)
    attempt (self);
}

void
sc_connection_trust_server_key (ScConnection *self, const char *fingerprint)
{
  g_return_if_fail (SC_IS_CONNECTION (self));
  g_return_if_fail (fingerprint != NULL);
  g_return_if_fail (strlen (fingerprint) == SC_FINGERPRINT_LEN &&
                    sc_fingerprint_validate (fingerprint) == SC_OK);

  g_strlcpy (self->trusted, fingerprint, sizeof self->trusted);
  if (self->state == SC_CONNECTION_STOPPED && self->link == NULL &&
      self->password != NULL && self->account != NULL)
    attempt (self);
}

ScConnectionState
sc_connection_get_state (ScConnection *self)
{
  g_return_val_if_fail (SC_IS_CONNECTION (self), SC_CONNECTION_IDLE);
  return self->state;
}

const char *
sc_connection_get_server (ScConnection *self)
{
  g_return_val_if_fail (SC_IS_CONNECTION (self), NULL);
  return self->key;
}

const char *
sc_connection_get_user (ScConnection *self)
{
  g_return_val_if_fail (SC_IS_CONNECTION (self), NULL);
  return self->user;
}

const char *
sc_connection_get_fingerprint (ScConnection *self)
{
  g_return_val_if_fail (SC_IS_CONNECTION (self), NULL);
  return self->fingerprint;
}

gint64
sc_connection_get_retry_at (ScConnection *self)
{
  g_return_val_if_fail (SC_IS_CONNECTION (self), 0);
  return self->retry_at;
}

const char *
sc_connection_get_data_dir (ScConnection *self)
{
  g_return_val_if_fail (SC_IS_CONNECTION (self), NULL);
  return self->data_dir;
}

const char *
sc_connection_get_known_servers_path (ScConnection *self)
{
  g_return_val_if_fail (SC_IS_CONNECTION (self), NULL);
  return self->known_servers_path;
}

static Link *
online_link (ScConnection *self, GError **error)
{
  Link *link = self->link;

  if (self->state != SC_CONNECTION_ONLINE || link == NULL || !link->logged_in ||
      link->client == NULL || sc_client_state (link->client) != SC_CLIENT_READY)
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_NOT_CONNECTED,
                           _ ("You are not connected to the server right "
                              "now."));
      return NULL;
    }
  return link;
}

static gboolean
check_peer (ScConnection *self, const char *peer, GError **error)
{
  if (sc_username_validate (peer, strnlen (peer, SC_USERNAME_MAX + 1)) < 0)
    {
      g_autofree char *text = sc_errors_describe_error (SC_ERR_USERNAME);

      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_INVALID, text);
      return FALSE;
    }
  if (strcmp (peer, self->user) == 0)
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_INVALID,
                           sc_errors_describe_code (SC_CODE_SELF_MESSAGE));
      return FALSE;
    }
  return TRUE;
}

/* An sc_error of a local operation as a GError. */
static void
set_error_from_sc (GError **error, int rc, const char *peer)
{
  g_autofree char *text = NULL;
  int code;

  switch (rc)
    {
    case SC_ERR_IDENTITY_CHANGED:
      code = SC_CONNECTION_ERROR_IDENTITY_CHANGED;
      text = identity_changed_text (peer);
      break;
    case SC_ERR_TOO_LARGE:
      code = SC_CONNECTION_ERROR_TOO_LARGE;
      text = sc_errors_describe_error (rc);
      break;
    case SC_ERR_USERNAME:
    case SC_ERR_INVALID:
      code = SC_CONNECTION_ERROR_INVALID;
      text = sc_errors_describe_error (rc);
      break;
    case SC_ERR_STATE:
    case SC_ERR_CLOSED:
      code = SC_CONNECTION_ERROR_NOT_CONNECTED;
      text = g_strdup (_ ("You are not connected to the server right now."));
      break;
    case SC_ERR_STORAGE:
      code = SC_CONNECTION_ERROR_STORAGE;
      text = sc_errors_describe_error (rc);
      break;
    case SC_ERR_NOT_FOUND:
      code = SC_CONNECTION_ERROR_NOT_FOUND;
      text = g_strdup_printf (_ ("No key is known for %s yet."), peer);
      break;
    default:
      code = SC_CONNECTION_ERROR_FAILED;
      text = sc_errors_describe_error (rc);
      break;
    }
  g_set_error_literal (error, SC_CONNECTION_ERROR, code, text);
}

gboolean
sc_connection_send (ScConnection *self,
                    const char *to,
                    const char *text,
                    guint64 *ref,
                    GError **error)
{
  Link *link;
  PendingSend *p;
  gsize len;
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (to != NULL, FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (ref != NULL)
    *ref = 0;
  if (!check_peer (self, to, error))
    return FALSE;
  len = strnlen (text, SC_E2E_CONTENT_MAX + 1);
  if (len == 0)
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_INVALID,
                           _ ("The message is empty."));
      return FALSE;
    }
  if (len > SC_E2E_CONTENT_MAX)
    {
      g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_TOO_LARGE,
                   _ ("The message is too long: at most %d bytes."),
                   SC_E2E_CONTENT_MAX);
      return FALSE;
    }
  if (!g_utf8_validate (text, (gssize) len, NULL))
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_INVALID,
                           _ ("The message is not valid text."));
      return FALSE;
    }
  link = online_link (self, error);
  if (link == NULL)
    return FALSE;

  p = g_new0 (PendingSend, 1);
  g_strlcpy (p->to, to, sizeof p->to);
  p->text = g_strndup (text, len);
  p->len = len;
  rc = client_send (self, link, p);
  if (rc < 0)
    {
      set_error_from_sc (error, rc, to);
      pending_send_free (p);
      link_kick (link);
      return FALSE;
    }
  p->ref = ++self->next_ref;
  if (ref != NULL)
    *ref = p->ref;
  link_kick (link);
  return TRUE;
}

gboolean
sc_connection_refresh_presence (ScConnection *self, GError **error)
{
  Link *link;
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);

  link = online_link (self, error);
  if (link == NULL)
    return FALSE;
  rc = sc_client_who (link->client);
  link_kick (link);
  if (rc < 0)
    {
      set_error_from_sc (error, rc, NULL);
      return FALSE;
    }
  return TRUE;
}

gboolean
sc_connection_fetch_keys (ScConnection *self,
                          const char *peer,
                          gboolean *pending,
                          GError **error)
{
  struct sc_e2e_contact c;
  Link *link;
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (peer != NULL, FALSE);

  if (pending != NULL)
    *pending = FALSE;
  if (!check_peer (self, peer, error))
    return FALSE;
  if (self->account != NULL &&
      sc_e2e_contact (self->account->e2e, peer, &c) == SC_OK)
    return TRUE;
  link = online_link (self, error);
  if (link == NULL)
    return FALSE;
  rc = sc_client_fetch_keys (link->client, peer);
  link_kick (link);
  if (rc < 0)
    {
      set_error_from_sc (error, rc, peer);
      return FALSE;
    }
  if (pending != NULL)
    *pending = rc == 0;
  return TRUE;
}

static struct sc_e2e *
open_e2e (ScConnection *self, GError **error)
{
  if (self->account == NULL)
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_STORAGE,
                           _ ("Your keys are not open yet: sign in first."));
      return NULL;
    }
  return self->account->e2e;
}

gboolean
sc_connection_get_trust (ScConnection *self,
                         const char *peer,
                         ScContactTrust *out,
                         GError **error)
{
  struct sc_e2e *e2e;
  struct sc_e2e_contact c;
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (peer != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  if (!check_peer (self, peer, error))
    return FALSE;
  e2e = open_e2e (self, error);
  if (e2e == NULL)
    return FALSE;
  rc = sc_e2e_contact (e2e, peer, &c);
  if (rc == SC_ERR_NOT_FOUND)
    return TRUE;
  if (rc < 0)
    {
      set_error_from_sc (error, rc, peer);
      return FALSE;
    }
  out->known = TRUE;
  out->verified = c.verified;
  out->changed = c.changed;
  return TRUE;
}

char *
sc_connection_get_safety_number (ScConnection *self,
                                 const char *peer,
                                 GError **error)
{
  struct sc_e2e *e2e;
  char sn[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), NULL);
  g_return_val_if_fail (peer != NULL, NULL);

  if (!check_peer (self, peer, error))
    return NULL;
  e2e = open_e2e (self, error);
  if (e2e == NULL)
    return NULL;
  rc = sc_e2e_safety_number (e2e, peer, sn);
  if (rc < 0)
    {
      set_error_from_sc (error, rc, peer);
      return NULL;
    }
  return g_strdup (sn);
}

gboolean
sc_connection_set_verified (ScConnection *self,
                            const char *peer,
                            gboolean verified,
                            GError **error)
{
  struct sc_e2e *e2e;
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (peer != NULL, FALSE);

  if (!check_peer (self, peer, error))
    return FALSE;
  e2e = open_e2e (self, error);
  if (e2e == NULL)
    return FALSE;
  rc = sc_e2e_set_verified (e2e, peer, verified);
  if (rc < 0)
    {
      set_error_from_sc (error, rc, peer);
      return FALSE;
    }
  return TRUE;
}

gboolean
sc_connection_accept_identity (ScConnection *self,
                               const char *peer,
                               const char *compared_number,
                               GError **error)
{
  struct sc_e2e *e2e;
  struct sc_e2e_contact c;
  char sn[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (peer != NULL, FALSE);
  g_return_val_if_fail (compared_number != NULL, FALSE);

  if (!check_peer (self, peer, error))
    return FALSE;
  e2e = open_e2e (self, error);
  if (e2e == NULL)
    return FALSE;
  rc = sc_e2e_contact (e2e, peer, &c);
  if (rc == SC_OK && !c.changed)
    return TRUE; /* nothing waits for a decision */
  if (rc == SC_OK)
    rc = sc_e2e_safety_number (e2e, peer, sn);
  if (rc < 0)
    {
      set_error_from_sc (error, rc, peer);
      return FALSE;
    }
  if (strcmp (sn, compared_number) != 0)
    {
      g_set_error (error, SC_CONNECTION_ERROR,
                   SC_CONNECTION_ERROR_IDENTITY_CHANGED,
                   _ ("%s's key changed again since you compared the safety "
                      "number: compare the new number first."),
                   peer);
      return FALSE;
    }
  /* The store decides under its lock whether the key is still that
   * one, in case another process saw yet another key meanwhile. */
  rc = sc_e2e_accept_identity_if (e2e, peer, &c.pending);
  if (rc == SC_ERR_IDENTITY_CHANGED)
    {
      g_set_error (error, SC_CONNECTION_ERROR,
                   SC_CONNECTION_ERROR_IDENTITY_CHANGED,
                   _ ("%s's key changed again since you compared the safety "
                      "number: compare the new number first."),
                   peer);
      return FALSE;
    }
  if (rc < 0)
    {
      set_error_from_sc (error, rc, peer);
      return FALSE;
    }
  return TRUE;
}

gboolean
sc_connection_reject_identity (ScConnection *self,
                               const char *peer,
                               GError **error)
{
  struct sc_e2e *e2e;
  int rc;

  g_return_val_if_fail (SC_IS_CONNECTION (self), FALSE);
  g_return_val_if_fail (peer != NULL, FALSE);

  if (!check_peer (self, peer, error))
    return FALSE;
  e2e = open_e2e (self, error);
  if (e2e == NULL)
    return FALSE;
  rc = sc_e2e_reject_identity (e2e, peer);
  if (rc < 0)
    {
      set_error_from_sc (error, rc, peer);
      return FALSE;
    }
  return TRUE;
}
