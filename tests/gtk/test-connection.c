/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScConnection against a real securechatd and real securechat-cli
 * processes on 127.0.0.1: server key pinning, login, presence, sending
 * both ways, delivery errors, reconnecting, safety numbers. */
#include <glib/gstdio.h>
#include <string.h>

#include "sc-connection.h"
#include "sc-errors.h"
#include "sc-test-server.h"
#include "securechat/error.h"
#include "securechat/init.h"
#include "securechat/msg.h"

/* Waits for things that take one round trip, or a login (a password
 * hash) under ASan on a loaded machine. */
#define WAIT_MS 30000
/* Reconnecting by itself: back-off (1, 2, 4, 8 s...) plus a restart. */
#define RECONNECT_MS 90000

#define ALICE_PW "alice's password"
#define BOB_PW   "bob's password"
#define CAROL_PW "carol's password"
/* A well-formed fingerprint no server has. */
#define FAKE_FP "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static char *test_home; /* XDG_CONFIG_HOME and XDG_DATA_HOME live here */

/* ---- recording signals ---- */

typedef struct
{
  char *name;
  guint64 u1, u2;
  gint64 i1;
  int code;
  gboolean b;
  guint line;
  char *s1, *s2, *s3;
  GStrv users;
} Event;

static void
event_free (gpointer data)
{
  Event *e = data;

  g_free (e->name);
  g_free (e->s1);
  g_free (e->s2);
  g_free (e->s3);
  g_strfreev (e->users);
  g_free (e);
}

typedef struct
{
  ScConnection *conn;
  GPtrArray *events;
} Recorder;

static Event *
record (Recorder *r, const char *name)
{
  Event *e = g_new0 (Event, 1);

  e->name = g_strdup (name);
  g_ptr_array_add (r->events, e);
  if (g_test_verbose ())
    g_printerr ("# event %s\n", name);
  return e;
}

static void
logged_in_cb (ScConnection *c, Recorder *r)
{
  record (r, "logged-in");
}

static void
presence_list_cb (ScConnection *c, GStrv users, Recorder *r)
{
  record (r, "presence-list")->users = g_strdupv (users);
}

static void
presence_cb (ScConnection *c, const char *user, gboolean online, Recorder *r)
{
  Event *e = record (r, "presence");

  e->s1 = g_strdup (user);
  e->b = online;
}

static void
message_cb (ScConnection *c,
            guint64 id,
            const char *from,
            gint64 ts,
            const char *text,
            Recorder *r)
{
  Event *e = record (r, "message");

  e->u1 = id;
  e->s1 = g_strdup (from);
  e->i1 = ts;
  e->s2 = g_strdup (text);
}

static void
sent_cb (ScConnection *c, guint64 ref, guint64 id, gint64 ts, Recorder *r)
{
  Event *e = record (r, "sent");

  e->u1 = ref;
  e->u2 = id;
  e->i1 = ts;
}

static void
send_error_cb (
    ScConnection *c, guint64 ref, int code, const char *message, Recorder *r)
{
  Event *e = record (r, "send-error");

  e->u1 = ref;
  e->code = code;
  e->s1 = g_strdup (message);
}

static void
send_failed_cb (ScConnection *c,
                guint64 ref,
                const char *to,
                const char *message,
                Recorder *r)
{
  Event *e = record (r, "send-failed");

  e->u1 = ref;
  e->s1 = g_strdup (to);
  e->s2 = g_strdup (message);
}

static void
send_lost_cb (ScConnection *c, guint64 ref, Recorder *r)
{
  record (r, "send-lost")->u1 = ref;
}

static void
server_error_cb (ScConnection *c, int code, const char *message, Recorder *r)
{
  Event *e = record (r, "server-error");

  e->code = code;
  e->s1 = g_strdup (message);
}

static void
identity_changed_cb (ScConnection *c, const char *peer, Recorder *r)
{
  record (r, "identity-changed")->s1 = g_strdup (peer);
}

static void
undecryptable_cb (ScConnection *c,
                  guint64 id,
                  const char *from,
                  gint64 ts,
                  const char *message,
                  Recorder *r)
{
  Event *e = record (r, "undecryptable");

  e->u1 = id;
  e->s1 = g_strdup (from);
  e->i1 = ts;
  e->s2 = g_strdup (message);
}

static void
keys_ready_cb (ScConnection *c, gboolean ok, const char *message, Recorder *r)
{
  Event *e = record (r, "keys-ready");

  e->b = ok;
  e->s1 = g_strdup (message);
}

static void
keys_fetched_cb (ScConnection *c,
                 const char *peer,
                 gboolean ok,
                 const char *message,
                 Recorder *r)
{
  Event *e = record (r, "keys-fetched");

  e->s1 = g_strdup (peer);
  e->b = ok;
  e->s2 = g_strdup (message);
}

static void
stopped_cb (ScConnection *c,
            ScStopReason reason,
            const char *message,
            Recorder *r)
{
  Event *e = record (r, "stopped");

  e->code = (int) reason;
  e->s1 = g_strdup (message);
  /* The state is STOPPED by the time "stopped" is emitted. */
  e->b = sc_connection_get_state (c) == SC_CONNECTION_STOPPED;
}

static void
key_unknown_cb (ScConnection *c, const char *fp, Recorder *r)
{
  record (r, "server-key-unknown")->s1 = g_strdup (fp);
}

static void
key_changed_cb (ScConnection *c,
                const char *pinned,
                const char *seen,
                const char *path,
                guint line,
                Recorder *r)
{
  Event *e = record (r, "server-key-changed");

  e->s1 = g_strdup (pinned);
  e->s2 = g_strdup (seen);
  e->s3 = g_strdup (path);
  e->line = line;
}

static void
connection_lost_cb (ScConnection *c, const char *message, Recorder *r)
{
  record (r, "connection-lost")->s1 = g_strdup (message);
}

static void
state_cb (ScConnection *c, GParamSpec *pspec, Recorder *r)
{
  Event *e = record (r, "state");

  e->code = (int) sc_connection_get_state (c);
  e->i1 = sc_connection_get_retry_at (c);
}

static Recorder *
recorder_new (ScConnection *conn)
{
  Recorder *r = g_new0 (Recorder, 1);

  r->conn = g_object_ref (conn);
  r->events = g_ptr_array_new_with_free_func (event_free);
#define CONNECT(signal, cb) g_signal_connect (conn, signal, G_CALLBACK (cb), r)
  CONNECT ("logged-in", logged_in_cb);
  CONNECT ("presence-list", presence_list_cb);
  CONNECT ("presence", presence_cb);
  CONNECT ("message", message_cb);
  CONNECT ("sent", sent_cb);
  CONNECT ("send-error", send_error_cb);
  CONNECT ("send-failed", send_failed_cb);
  CONNECT ("send-lost", send_lost_cb);
  CONNECT ("server-error", server_error_cb);
  CONNECT ("identity-changed", identity_changed_cb);
  CONNECT ("undecryptable", undecryptable_cb);
  CONNECT ("keys-ready", keys_ready_cb);
  CONNECT ("keys-fetched", keys_fetched_cb);
  CONNECT ("stopped", stopped_cb);
  CONNECT ("server-key-unknown", key_unknown_cb);
  CONNECT ("server-key-changed", key_changed_cb);
  CONNECT ("connection-lost", connection_lost_cb);
  CONNECT ("notify::state", state_cb);
#undef CONNECT
  return r;
}

static void
recorder_free (Recorder *r)
{
  g_signal_handlers_disconnect_by_data (r->conn, r);
  g_object_unref (r->conn);
  g_ptr_array_unref (r->events);
  g_free (r);
}

/* A position in the recording, for waiting on what comes after it. */
static guint
mark (Recorder *r)
{
  return r->events->len;
}

static Event *
find_event (Recorder *r, const char *name, guint since)
{
  for (guint i = since; i < r->events->len; i++)
    {
      Event *e = r->events->pdata[i];

      if (strcmp (e->name, name) == 0)
        return e;
    }
  return NULL;
}

static guint
count_events (Recorder *r, const char *name, guint since)
{
  guint n = 0;

  for (guint i = since; i < r->events->len; i++)
    if (strcmp (((Event *) r->events->pdata[i])->name, name) == 0)
      n++;
  return n;
}

static void
dump_events (Recorder *r)
{
  for (guint i = 0; i < r->events->len; i++)
    {
      Event *e = r->events->pdata[i];

      g_printerr ("#   %u %s code=%d u1=%" G_GUINT64_FORMAT " s1=%s s2=%s\n", i,
                  e->name, e->code, e->u1, e->s1 ? e->s1 : "",
                  e->s2 ? e->s2 : "");
    }
}

/* The first name event after since, waiting for it; fails the test
 * when it does not come. */
static Event *
wait_event (Recorder *r, const char *name, guint since, guint timeout_ms)
{
  Event *e = NULL;

  if (!SC_TEST_WAIT ((e = find_event (r, name, since)) != NULL, timeout_ms))
    {
      g_printerr ("# no \"%s\" within %u ms; events:\n", name, timeout_ms);
      dump_events (r);
      /* g_error, not g_assert: the compiler then knows e is set. */
      if (e == NULL)
        g_error ("expected event not recorded");
    }
  return e;
}

/* The first event of name carrying ref (u1) after since. */
static Event *
find_ref (Recorder *r, const char *name, guint64 ref, guint since)
{
  for (guint i = since; i < r->events->len; i++)
    {
      Event *e = r->events->pdata[i];

      if (strcmp (e->name, name) == 0 && e->u1 == ref)
        return e;
    }
  return NULL;
}

/* The one outcome of a send: whichever of sent, send-error,
 * send-failed, send-lost comes for ref. */
static Event *
wait_outcome (Recorder *r, guint64 ref, guint since)
{
  static const char *const outcomes[] = { "sent", "send-error", "send-failed",
                                          "send-lost" };
  Event *e = NULL;

  for (gint64 end = g_get_monotonic_time () + (gint64) WAIT_MS * 1000;
       e == NULL; sc_test_iterate (50))
    {
      for (gsize i = 0; i < G_N_ELEMENTS (outcomes) && e == NULL; i++)
        e = find_ref (r, outcomes[i], ref, since);
      if (e == NULL && g_get_monotonic_time () > end)
        {
          g_printerr ("# no outcome for send %" G_GUINT64_FORMAT "; events:\n",
                      ref);
          dump_events (r);
          if (e == NULL)
            g_error ("expected event not recorded");
        }
    }
  /* Exactly one outcome. */
  {
    guint n = 0;

    for (gsize i = 0; i < G_N_ELEMENTS (outcomes); i++)
      for (guint k = since; k < r->events->len; k++)
        {
          Event *o = r->events->pdata[k];

          if (strcmp (o->name, outcomes[i]) == 0 && o->u1 == ref)
            n++;
        }
    g_assert_cmpuint (n, ==, 1);
  }
  return e;
}

static gboolean
strv_has (GStrv v, const char *s)
{
  return v != NULL && g_strv_contains ((const char *const *) v, s);
}

/* ---- fixture ---- */

typedef struct
{
  ScTestServer *server;
  ScConnection *conn;
  Recorder *rec;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config =
      g_build_filename (test_home, "config", "securechat", NULL);
  g_autofree char *share =
      g_build_filename (test_home, "data", "securechat", NULL);

  /* A port may come back in a later test: start from nothing. */
  g_assert_true (sc_test_rm_rf (config));
  g_assert_true (sc_test_rm_rf (share));

  f->server = sc_test_server_new (&error);
  g_assert_no_error (error);
  g_assert_true (
      sc_test_server_add_user (f->server, "alice", ALICE_PW, &error));
  g_assert_no_error (error);
  g_assert_true (sc_test_server_add_user (f->server, "bob", BOB_PW, &error));
  g_assert_no_error (error);
  g_assert_true (
      sc_test_server_add_user (f->server, "carol", CAROL_PW, &error));
  g_assert_no_error (error);
}

static void
fixture_start (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (sc_test_server_start (f->server, &error));
  g_assert_no_error (error);
}

/* A connection as alice (default paths), recorded. */
static void
fixture_connection (Fixture *f, const char *user)
{
  g_autoptr (GError) error = NULL;

  f->conn = sc_connection_new (sc_test_server_get_address (f->server), user,
                               NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->conn);
  f->rec = recorder_new (f->conn);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  if (f->rec != NULL)
    recorder_free (f->rec);
  if (f->conn != NULL)
    {
      g_object_unref (f->conn);
      /* Let a closing link flush its bye. */
      for (int i = 0; i < 20; i++)
        sc_test_iterate (10);
    }
  if (sc_test_server_is_running (f->server))
    {
      g_assert_true (sc_test_server_stop (f->server, &error));
      g_assert_no_error (error);
    }
  sc_test_server_free (f->server);
}

static char *
known_servers_path (void)
{
  return g_build_filename (test_home, "config", "securechat", "known_servers",
                           NULL);
}

/* Pins fingerprint for the fixture's server, after the given lines. */
static void
write_known_servers (Fixture *f, const char *before, const char *fingerprint)
{
  g_autofree char *path = known_servers_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *text = g_strdup_printf (
      "%s%s %s\n", before, sc_test_server_get_address (f->server), fingerprint);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents_full (
      path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error));
  g_assert_no_error (error);
}

/* Pinned, started, ONLINE and keys published. */
static void
fixture_online (Fixture *f, const char *password)
{
  g_autoptr (GError) error = NULL;
  guint m;

  write_known_servers (f, "", sc_test_server_get_fingerprint (f->server));
  fixture_connection (f, "alice");
  m = mark (f->rec);
  g_assert_true (sc_connection_start (f->conn, password, &error));
  g_assert_no_error (error);
  wait_event (f->rec, "logged-in", m, WAIT_MS);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==, SC_CONNECTION_ONLINE);
  g_assert_true (wait_event (f->rec, "keys-ready", m, WAIT_MS)->b);
}

static guint64
send_text (Fixture *f, const char *to, const char *text)
{
  g_autoptr (GError) error = NULL;
  guint64 ref = 0;

  g_assert_true (sc_connection_send (f->conn, to, text, &ref, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ref, >, 0);
  return ref;
}

static char *
server_log (Fixture *f)
{
  return sc_test_server_read_log (f->server);
}

/* ---- tests ---- */

/* First contact: the key is shown and nothing secret leaves; trusting
 * it pins it in the shared known-servers file and logs in. */
static void
test_first_contact (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ks_path = known_servers_path ();
  g_autofree char *expected_data = NULL;
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  g_autofree char *log = NULL;
  const char *fp;
  GStatBuf st;
  Event *e;
  guint m;

  fixture_start (f);
  fixture_connection (f, "alice");
  fp = sc_test_server_get_fingerprint (f->server);

  /* The defaults are the CLI's files, under the test's XDG folders. */
  g_assert_cmpstr (sc_connection_get_known_servers_path (f->conn), ==, ks_path);
  expected_data =
      g_strdup_printf ("%s/data/securechat/127.0.0.1_%u/alice", test_home,
                       sc_test_server_get_port (f->server));
  g_assert_cmpstr (sc_connection_get_data_dir (f->conn), ==, expected_data);
  g_assert_cmpstr (sc_connection_get_server (f->conn), ==,
                   sc_test_server_get_address (f->server));
  g_assert_cmpstr (sc_connection_get_user (f->conn), ==, "alice");
  g_assert_cmpstr (sc_connection_get_fingerprint (f->conn), ==, "");
  g_assert_cmpint (sc_connection_get_state (f->conn), ==, SC_CONNECTION_IDLE);

  m = mark (f->rec);
  g_assert_true (sc_connection_start (f->conn, ALICE_PW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_CONNECTING);
  e = wait_event (f->rec, "server-key-unknown", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, fp);
  e = find_event (f->rec, "stopped", m);
  if (e == NULL)
    g_error ("expected event not recorded");
  g_assert_cmpint (e->code, ==, SC_STOP_SERVER_KEY_UNKNOWN);
  g_assert_true (e->b);
  g_assert_nonnull (strstr (e->s1, fp));
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_STOPPED);
  g_assert_cmpstr (sc_connection_get_fingerprint (f->conn), ==, fp);
  g_assert_null (find_event (f->rec, "logged-in", m));
  /* Nothing was pinned, and the password never left: the server saw a
   * connection come and go without any login. */
  g_assert_false (g_file_test (ks_path, G_FILE_TEST_EXISTS));
  g_assert_true (
      sc_test_server_wait_log (f->server, "closed reason=", WAIT_MS));
  log = server_log (f);
  g_assert_null (strstr (log, "user=alice"));

  /* Trusting another key than the one shown: asked again. */
  m = mark (f->rec);
  sc_connection_trust_server_key (f->conn, FAKE_FP);
  e = wait_event (f->rec, "server-key-unknown", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, fp);
  g_assert_false (g_file_test (ks_path, G_FILE_TEST_EXISTS));
  g_clear_pointer (&log, g_free);
  log = server_log (f);
  g_assert_null (strstr (log, "user=alice"));

  /* The key the user compared: pinned, and the login goes on. */
  m = mark (f->rec);
  sc_connection_trust_server_key (f->conn, fp);
  wait_event (f->rec, "logged-in", m, WAIT_MS);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==, SC_CONNECTION_ONLINE);
  g_assert_true (wait_event (f->rec, "keys-ready", m, WAIT_MS)->b);
  g_assert_cmpint (g_stat (ks_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (ks_path, &text, NULL, &error));
  g_assert_no_error (error);
  line =
      g_strdup_printf ("%s %s\n", sc_test_server_get_address (f->server), fp);
  g_assert_nonnull (strstr (text, line));
  g_assert_true (
      sc_test_server_wait_log (f->server, "user=alice authenticated", WAIT_MS));

  /* A logout says bye: the server logs it as such. */
  m = mark (f->rec);
  sc_connection_stop (f->conn);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_STOPPED);
  e = find_event (f->rec, "stopped", m);
  if (e == NULL)
    g_error ("expected event not recorded");
  g_assert_cmpint (e->code, ==, SC_STOP_USER);
  g_assert_true (sc_test_server_wait_log (
      f->server, "user=alice disconnected reason=client-quit", WAIT_MS));
  /* Stopping again is harmless and says nothing more. */
  m = mark (f->rec);
  sc_connection_stop (f->conn);
  g_assert_cmpuint (mark (f->rec), ==, m);
}

/* Presence, both directions of chat, delivery errors, safety numbers. */
static void
test_chat (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScTestCli) bob = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *sn = NULL;
  g_autofree char *cli_sn = NULL;
  const char *recv_args[] = {
    "recv", "--count", "1", "--timeout", "120", NULL
  };
  const char *text = "Hello Bob: ünïcødé ✓";
  ScContactTrust trust;
  guint64 ref;
  Event *e;
  guint m;
  int status;

  fixture_start (f);
  /* Bob listens first, so alice's first list has him. */
  bob = sc_test_cli_spawn (f->server, "bob", recv_args, &error);
  g_assert_no_error (error);
  g_assert_true (
      sc_test_cli_wait_output (bob, TRUE, "logged in as bob", WAIT_MS));
  fixture_online (f, ALICE_PW);
  e = wait_event (f->rec, "presence-list", 0, WAIT_MS);
  g_assert_true (strv_has (e->users, "alice"));
  g_assert_true (strv_has (e->users, "bob"));
  g_assert_false (strv_has (e->users, "carol"));
  m = mark (f->rec);
  g_assert_true (sc_connection_refresh_presence (f->conn, &error));
  g_assert_no_error (error);
  e = wait_event (f->rec, "presence-list", m, WAIT_MS);
  g_assert_true (strv_has (e->users, "alice"));
  g_assert_true (strv_has (e->users, "bob"));

  /* alice -> bob: "sent", and bob's CLI prints it. */
  m = mark (f->rec);
  ref = send_text (f, "bob", text);
  e = wait_outcome (f->rec, ref, m);
  g_assert_cmpstr (e->name, ==, "sent");
  g_assert_cmpuint (e->u2, >, 0);
  g_assert_cmpint (e->i1, >, 0);
  g_assert_true (sc_test_cli_wait (bob, WAIT_MS, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sc_test_cli_get_status (bob), ==, 0);
  {
    g_autofree char *expected = g_strdup_printf ("alice: %s\n", text);

    g_assert_cmpstr (sc_test_cli_get_stdout (bob), ==, expected);
  }
  e = wait_event (f->rec, "presence", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, "bob");
  g_assert_false (e->b);

  /* bob -> alice. */
  m = mark (f->rec);
  {
    const char *args[] = { "send", "alice", "Hi Alice, from the terminal",
                           NULL };

    status =
        sc_test_cli_run (f->server, "bob", args, WAIT_MS, NULL, &err, &error);
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
  }
  e = wait_event (f->rec, "message", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, "bob");
  g_assert_cmpstr (e->s2, ==, "Hi Alice, from the terminal");
  g_assert_cmpuint (e->u1, >, 0);
  g_assert_cmpint (e->i1, >, 0);

  /* Bytes that are not UTF-8 are not shown as a message. */
  m = mark (f->rec);
  {
    const char *args[] = { "send", "alice", "bad \xff\xfe bytes", NULL };

    g_clear_pointer (&err, g_free);
    status =
        sc_test_cli_run (f->server, "bob", args, WAIT_MS, NULL, &err, &error);
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
  }
  e = wait_event (f->rec, "undecryptable", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, "bob");
  g_assert_cmpstr (e->s2, !=, "");
  g_assert_null (find_event (f->rec, "message", m));

  /* The same safety number on both sides. */
  sn = sc_connection_get_safety_number (f->conn, "bob", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (sn), ==, 71);
  {
    const char *args[] = { "verify", "alice", NULL };

    status = sc_test_cli_run (f->server, "bob", args, WAIT_MS, &cli_sn, NULL,
                              &error);
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
    g_strchomp (cli_sn);
    g_assert_cmpstr (sn, ==, cli_sn);
  }
  g_assert_true (sc_connection_get_trust (f->conn, "bob", &trust, &error));
  g_assert_no_error (error);
  g_assert_true (trust.known);
  g_assert_false (trust.verified);
  g_assert_false (trust.changed);
  g_assert_true (sc_connection_set_verified (f->conn, "bob", TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (sc_connection_get_trust (f->conn, "bob", &trust, &error));
  g_assert_true (trust.verified);
  /* Someone never met: not known, no number yet. */
  g_assert_true (sc_connection_get_trust (f->conn, "carol", &trust, &error));
  g_assert_no_error (error);
  g_assert_false (trust.known);
  g_assert_null (sc_connection_get_safety_number (f->conn, "carol", &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* bob is offline now: the server says so, in plain words. */
  m = mark (f->rec);
  ref = send_text (f, "bob", "are you there?");
  e = wait_outcome (f->rec, ref, m);
  g_assert_cmpstr (e->name, ==, "send-error");
  g_assert_cmpint (e->code, ==, SC_CODE_RECIPIENT_OFFLINE);
  g_assert_cmpstr (e->s1, ==,
                   sc_errors_describe_code (SC_CODE_RECIPIENT_OFFLINE));
  /* carol never logged in (no keys published): offline too. */
  m = mark (f->rec);
  ref = send_text (f, "carol", "hello carol");
  e = wait_outcome (f->rec, ref, m);
  g_assert_cmpstr (e->name, ==, "send-error");
  g_assert_cmpint (e->code, ==, SC_CODE_RECIPIENT_OFFLINE);
  /* No such account. */
  m = mark (f->rec);
  ref = send_text (f, "nobody", "hello?");
  e = wait_outcome (f->rec, ref, m);
  g_assert_cmpstr (e->name, ==, "send-error");
  g_assert_cmpint (e->code, ==, SC_CODE_UNKNOWN_USER);
  g_assert_cmpstr (e->s1, ==, sc_errors_describe_code (SC_CODE_UNKNOWN_USER));

  /* Refused before anything leaves. */
  g_assert_false (sc_connection_send (f->conn, "Bob!", "x", &ref, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_assert_cmpuint (ref, ==, 0);
  g_clear_error (&error);
  g_assert_false (sc_connection_send (f->conn, "alice", "me", &ref, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (sc_connection_send (f->conn, "bob", "", &ref, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (sc_connection_send (f->conn, "bob", "\xc3(", &ref, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autofree char *big = g_strnfill (32001, 'x');

    g_assert_false (sc_connection_send (f->conn, "bob", big, &ref, &error));
    g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }

  /* Offline: no sends, but the keys still answer. */
  sc_connection_stop (f->conn);
  g_assert_false (sc_connection_send (f->conn, "bob", "x", &ref, &error));
  g_assert_error (error, SC_CONNECTION_ERROR,
                  SC_CONNECTION_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  g_clear_pointer (&sn, g_free);
  sn = sc_connection_get_safety_number (f->conn, "bob", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sn, ==, cli_sn);
}

/* Fetching a never-met user's key to show the safety number. */
static void
test_fetch_keys (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *sn = NULL;
  g_autofree char *cli_sn = NULL;
  const char *args[] = { "verify", "alice", NULL };
  gboolean pending = FALSE;
  Event *e;
  guint m;
  int status;

  fixture_start (f);
  /* bob publishes his keys once: a recv, stopped once logged in. */
  {
    const char *recv_args[] = { "recv", NULL };
    g_autoptr (ScTestCli) bob =
        sc_test_cli_spawn (f->server, "bob", recv_args, &error);

    g_assert_no_error (error);
    g_assert_true (
        sc_test_cli_wait_output (bob, TRUE, "logged in as bob", WAIT_MS));
    sc_test_cli_terminate (bob);
    g_assert_true (sc_test_cli_wait (bob, WAIT_MS, &error));
    g_assert_no_error (error);
  }
  fixture_online (f, ALICE_PW);
  m = mark (f->rec);
  g_assert_true (sc_connection_fetch_keys (f->conn, "bob", &pending, &error));
  g_assert_no_error (error);
  g_assert_true (pending);
  e = wait_event (f->rec, "keys-fetched", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, "bob");
  g_assert_true (e->b);
  g_assert_null (e->s2);
  sn = sc_connection_get_safety_number (f->conn, "bob", &error);
  g_assert_no_error (error);
  status =
      sc_test_cli_run (f->server, "bob", args, WAIT_MS, &cli_sn, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_strchomp (cli_sn);
  g_assert_cmpstr (sn, ==, cli_sn);
  /* Known now: nothing to fetch. */
  g_assert_true (sc_connection_fetch_keys (f->conn, "bob", &pending, &error));
  g_assert_false (pending);
  /* carol has no keys on the server. */
  m = mark (f->rec);
  g_assert_true (sc_connection_fetch_keys (f->conn, "carol", &pending, &error));
  g_assert_true (pending);
  e = wait_event (f->rec, "keys-fetched", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, "carol");
  g_assert_false (e->b);
  g_assert_cmpstr (e->s2, ==, sc_errors_describe_code (SC_CODE_NO_PREKEYS));
}

/* A wrong password, and an unknown user, get the same plain answer and
 * stop for good. */
static void
test_wrong_password (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *users[] = { "alice", "mallory" };

  fixture_start (f);
  write_known_servers (f, "", sc_test_server_get_fingerprint (f->server));
  for (gsize i = 0; i < G_N_ELEMENTS (users); i++)
    {
      Event *e;
      guint m;

      g_clear_pointer (&f->rec, recorder_free);
      g_clear_object (&f->conn);
      fixture_connection (f, users[i]);
      m = mark (f->rec);
      g_assert_true (sc_connection_start (f->conn, "not the password", &error));
      g_assert_no_error (error);
      e = wait_event (f->rec, "stopped", m, WAIT_MS);
      g_assert_cmpint (e->code, ==, SC_STOP_AUTH_FAILED);
      g_assert_cmpstr (e->s1, ==, "Wrong user name or password.");
      g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                       SC_CONNECTION_STOPPED);
      g_assert_null (find_event (f->rec, "logged-in", m));
      g_assert_null (find_event (f->rec, "connection-lost", m));
      /* Not retried: nothing happens any more. */
      for (int k = 0; k < 30; k++)
        sc_test_iterate (50);
      g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                       SC_CONNECTION_STOPPED);
      g_assert_cmpuint (count_events (f->rec, "stopped", m), ==, 1);
    }
}

/* After too many failures the server makes us wait: a first login
 * stops and says for how long. */
static void
test_rate_limited (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Event *e;
  guint m;

  g_assert_true (
      sc_test_server_set_config (f->server, "auth_fail_limit", "1", &error));
  g_assert_no_error (error);
  g_assert_true (sc_test_server_set_config (f->server, "auth_backoff_ms",
                                            "60000", &error));
  g_assert_no_error (error);
  fixture_start (f);
  write_known_servers (f, "", sc_test_server_get_fingerprint (f->server));
  fixture_connection (f, "alice");
  m = mark (f->rec);
  g_assert_true (sc_connection_start (f->conn, "not the password", &error));
  g_assert_no_error (error);
  e = wait_event (f->rec, "stopped", m, WAIT_MS);
  g_assert_cmpint (e->code, ==, SC_STOP_AUTH_FAILED);
  /* Even the right password waits now. */
  m = mark (f->rec);
  g_assert_true (sc_connection_start (f->conn, ALICE_PW, &error));
  g_assert_no_error (error);
  e = wait_event (f->rec, "stopped", m, WAIT_MS);
  g_assert_cmpint (e->code, ==, SC_STOP_RATE_LIMITED);
  g_assert_true (g_str_has_prefix (e->s1, "Too many attempts. Try again in "));
  g_assert_true (g_str_has_suffix (e->s1, " seconds."));
  g_assert_null (find_event (f->rec, "logged-in", m));
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_STOPPED);
}

/* A pinned key that differs: a hard stop naming the file and line, and
 * the password never leaves. */
static void
test_key_changed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ks_path = known_servers_path ();
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;
  Event *e;
  guint m;

  fixture_start (f);
  write_known_servers (f, "# pinned by hand\n", FAKE_FP);
  g_assert_true (g_file_get_contents (ks_path, &before, NULL, NULL));
  fixture_connection (f, "alice");
  m = mark (f->rec);
  g_assert_true (sc_connection_start (f->conn, ALICE_PW, &error));
  g_assert_no_error (error);
  e = wait_event (f->rec, "server-key-changed", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==, FAKE_FP);
  g_assert_cmpstr (e->s2, ==, sc_test_server_get_fingerprint (f->server));
  g_assert_cmpstr (e->s3, ==, ks_path);
  g_assert_cmpuint (e->line, ==, 2);
  e = find_event (f->rec, "stopped", m);
  if (e == NULL)
    g_error ("expected event not recorded");
  g_assert_cmpint (e->code, ==, SC_STOP_SERVER_KEY_CHANGED);
  g_assert_nonnull (strstr (e->s1, ks_path));
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_STOPPED);
  g_assert_null (find_event (f->rec, "server-key-unknown", m));
  g_assert_null (find_event (f->rec, "logged-in", m));
  g_assert_true (g_file_get_contents (ks_path, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
  g_assert_true (
      sc_test_server_wait_log (f->server, "closed reason=", WAIT_MS));
  log = server_log (f);
  g_assert_null (strstr (log, "user=alice"));
  /* Trusting cannot click through it: still a hard stop. */
  m = mark (f->rec);
  sc_connection_trust_server_key (f->conn,
                                  sc_test_server_get_fingerprint (f->server));
  for (int k = 0; k < 20; k++)
    sc_test_iterate (50);
  g_assert_null (find_event (f->rec, "logged-in", m));
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_STOPPED);
}

/* Lost links: sends without an answer, a silent server, a shutdown and
 * a restart, recovering both with retry_now and by itself. */
static void
test_reconnect (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint64 ref;
  Event *e;
  guint m;

  /* Pings every second: a silent server is noticed within seconds. */
  g_assert_true (
      sc_test_server_set_config (f->server, "idle_timeout", "3", &error));
  g_assert_no_error (error);
  fixture_start (f);
  fixture_online (f, ALICE_PW);

  /* A server that answers nothing: "No data received". */
  m = mark (f->rec);
  sc_test_server_pause (f->server);
  e = wait_event (f->rec, "connection-lost", m, WAIT_MS);
  {
    g_autofree char *no_data = sc_errors_describe_error (SC_ERR_CLOSED);

    g_assert_cmpstr (e->s1, ==, no_data);
  }
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_WAITING);
  g_assert_cmpint (sc_connection_get_retry_at (f->conn), >,
                   g_get_monotonic_time ());
  sc_test_server_resume (f->server);
  m = mark (f->rec);
  sc_connection_retry_now (f->conn);
  wait_event (f->rec, "logged-in", m, WAIT_MS);
  g_assert_cmpint (sc_connection_get_retry_at (f->conn), ==, 0);

  /* A send still waiting when the link dies: "send-lost". */
  m = mark (f->rec);
  sc_test_server_pause (f->server);
  ref = send_text (f, "carol", "this will not get an answer");
  sc_test_server_kill (f->server);
  e = wait_outcome (f->rec, ref, m);
  g_assert_cmpstr (e->name, ==, "send-lost");
  wait_event (f->rec, "connection-lost", m, WAIT_MS);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_WAITING);

  /* Back up: retry_now does not wait for the timer. */
  fixture_start (f);
  m = mark (f->rec);
  sc_connection_retry_now (f->conn);
  wait_event (f->rec, "logged-in", m, WAIT_MS);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==, SC_CONNECTION_ONLINE);

  /* A clean shutdown: the server says why, the wait starts with a
   * retry time in the future. */
  m = mark (f->rec);
  g_assert_true (sc_test_server_stop (f->server, &error));
  g_assert_no_error (error);
  e = wait_event (f->rec, "connection-lost", m, WAIT_MS);
  g_assert_cmpstr (e->s1, ==,
                   sc_errors_describe_code (SC_CODE_SERVER_SHUTDOWN));
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_WAITING);
  g_assert_cmpint (sc_connection_get_retry_at (f->conn), >,
                   g_get_monotonic_time ());
  e = wait_event (f->rec, "state", m, WAIT_MS);
  g_assert_cmpint (e->code, ==, SC_CONNECTION_WAITING);
  g_assert_cmpint (e->i1, >, 0);

  /* The timer alone brings it back once the server is up again (in
   * between, failed attempts keep it WAITING, never STOPPED). */
  fixture_start (f);
  wait_event (f->rec, "logged-in", m, RECONNECT_MS);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==, SC_CONNECTION_ONLINE);
  g_assert_null (find_event (f->rec, "stopped", m));
  g_assert_cmpuint (count_events (f->rec, "connection-lost", m), ==, 1);

  /* retry_now does nothing when not waiting. */
  m = mark (f->rec);
  sc_connection_retry_now (f->conn);
  for (int k = 0; k < 10; k++)
    sc_test_iterate (20);
  g_assert_null (find_event (f->rec, "state", m));
}

/* The same account logging in elsewhere signs this one out for good. */
static void
test_replaced (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScTestCli) other = NULL;
  const char *args[] = { "recv", "--timeout", "60", NULL };
  Event *e;
  guint m;

  fixture_start (f);
  fixture_online (f, ALICE_PW);
  m = mark (f->rec);
  other = sc_test_cli_spawn (f->server, "alice", args, &error);
  g_assert_no_error (error);
  e = wait_event (f->rec, "stopped", m, WAIT_MS);
  g_assert_cmpint (e->code, ==, SC_STOP_REPLACED);
  g_assert_cmpstr (e->s1, ==,
                   sc_errors_describe_code (SC_CODE_SESSION_REPLACED));
  g_assert_null (find_event (f->rec, "connection-lost", m));
  for (int k = 0; k < 30; k++)
    sc_test_iterate (50);
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_STOPPED);
  sc_test_cli_terminate (other);
  g_assert_true (sc_test_cli_wait (other, WAIT_MS, &error));
  g_assert_no_error (error);
}

/* Nothing listens: a first login stops with the system's reason. */
static void
test_connect_failed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScConnection) conn = NULL;
  g_autofree char *server = NULL;
  g_autofree char *ks = NULL;
  g_autofree char *data = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sc-gtk-conn-XXXXXX", &error);
  Recorder *rec;
  Event *e;
  guint16 port;

  g_assert_no_error (error);
  port = sc_test_free_port ();
  g_assert_cmpuint (port, >, 0);
  server = g_strdup_printf ("127.0.0.1:%u", port);
  /* Explicit paths are used as given. */
  ks = g_build_filename (dir, "known", NULL);
  data = g_build_filename (dir, "keys", NULL);
  conn = sc_connection_new (server, "alice", ks, data, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sc_connection_get_known_servers_path (conn), ==, ks);
  g_assert_cmpstr (sc_connection_get_data_dir (conn), ==, data);
  rec = recorder_new (conn);
  g_assert_true (sc_connection_start (conn, ALICE_PW, &error));
  g_assert_no_error (error);
  e = wait_event (rec, "stopped", 0, WAIT_MS);
  g_assert_cmpint (e->code, ==, SC_STOP_CONNECT_FAILED);
  g_assert_nonnull (strstr (e->s1, server));
  g_assert_nonnull (strstr (e->s1, "refused"));
  g_assert_cmpint (sc_connection_get_state (conn), ==, SC_CONNECTION_STOPPED);
  g_assert_null (find_event (rec, "connection-lost", 0));
  /* The key folder was created, private. */
  g_assert_true (g_file_test (data, G_FILE_TEST_IS_DIR));
  recorder_free (rec);
  g_clear_object (&conn);
  g_assert_true (sc_test_rm_rf (dir));
}

/* Bad arguments and calls in the wrong state. */
static void
test_invalid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScConnection) conn = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sc-gtk-conn-XXXXXX", &error);
  g_autofree char *ks = g_build_filename (dir, "known", NULL);
  g_autofree char *data = g_build_filename (dir, "keys", NULL);
  ScContactTrust trust;
  guint64 ref = 7;

  g_assert_no_error (error);
  g_assert_null (
      sc_connection_new ("127.0.0.1:99999", "alice", ks, data, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (sc_connection_new ("", "alice", ks, data, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (sc_connection_new ("127.0.0.1:1", "Alice", ks, data, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_clear_error (&error);

  conn = sc_connection_new ("localhost", "alice", ks, data, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sc_connection_get_server (conn), ==, "localhost:12345");
  g_assert_false (sc_connection_send (conn, "bob", "hi", &ref, &error));
  g_assert_error (error, SC_CONNECTION_ERROR,
                  SC_CONNECTION_ERROR_NOT_CONNECTED);
  g_assert_cmpuint (ref, ==, 0);
  g_clear_error (&error);
  g_assert_false (sc_connection_refresh_presence (conn, &error));
  g_assert_error (error, SC_CONNECTION_ERROR,
                  SC_CONNECTION_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  /* The keys are not open before start. */
  g_assert_false (sc_connection_get_trust (conn, "bob", &trust, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_STORAGE);
  g_clear_error (&error);
  g_assert_false (sc_connection_start (conn, "", &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (sc_connection_get_state (conn), ==, SC_CONNECTION_IDLE);
  /* retry_now outside WAITING does nothing. */
  sc_connection_retry_now (conn);
  g_assert_cmpint (sc_connection_get_state (conn), ==, SC_CONNECTION_IDLE);
  /* Stopping an idle connection stops it. */
  sc_connection_stop (conn);
  g_assert_cmpint (sc_connection_get_state (conn), ==, SC_CONNECTION_STOPPED);
  g_clear_object (&conn);

  /* A key folder that other users can open is refused. */
  g_assert_cmpint (g_mkdir_with_parents (data, 0700), ==, 0);
  g_assert_cmpint (g_chmod (data, 0755), ==, 0);
  conn = sc_connection_new ("127.0.0.1:1", "alice", ks, data, &error);
  g_assert_no_error (error);
  g_assert_false (sc_connection_start (conn, ALICE_PW, &error));
  g_assert_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, data));
  g_clear_error (&error);
  g_assert_cmpint (sc_connection_get_state (conn), ==, SC_CONNECTION_IDLE);
  g_clear_object (&conn);
  g_assert_true (sc_test_rm_rf (dir));
}

static void
trust_on_unknown (ScConnection *c, const char *fp, gpointer data)
{
  sc_connection_trust_server_key (c, fp);
}

static void
stop_on_logged_in (ScConnection *c, gpointer data)
{
  sc_connection_stop (c);
}

static void
unref_on_presence_list (ScConnection *c, GStrv users, gpointer data)
{
  g_object_unref (c);
}

static guint
count_in_log (Fixture *f, const char *needle)
{
  g_autofree char *log = server_log (f);
  guint n = 0;

  for (const char *p = strstr (log, needle); p != NULL;
       p = strstr (p + 1, needle))
    n++;
  return n;
}

/* Handlers that trust, stop or drop the connection from inside its
 * signals, as a window may. */
static void
test_reentrancy (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *quit = "user=alice disconnected reason=client-quit";
  ScConnection *conn;
  gulong stop_id;
  Event *e;

  fixture_start (f);
  fixture_connection (f, "alice");
  g_signal_connect (f->conn, "server-key-unknown",
                    G_CALLBACK (trust_on_unknown), NULL);
  stop_id = g_signal_connect (f->conn, "logged-in",
                              G_CALLBACK (stop_on_logged_in), NULL);
  g_assert_true (sc_connection_start (f->conn, ALICE_PW, &error));
  g_assert_no_error (error);
  wait_event (f->rec, "logged-in", 0, WAIT_MS);
  /* In order: the stop for the unknown key, the key (trusted by the
   * handler), the login, the handler's stop. */
  {
    const char *expected[] = { "stopped", "server-key-unknown", "logged-in",
                               "stopped" };
    guint k = 0;

    for (guint i = 0; i < f->rec->events->len && k < 4; i++)
      {
        e = f->rec->events->pdata[i];
        if (strcmp (e->name, expected[k]) != 0)
          continue;
        if (k == 0)
          g_assert_cmpint (e->code, ==, SC_STOP_SERVER_KEY_UNKNOWN);
        if (k == 3)
          g_assert_cmpint (e->code, ==, SC_STOP_USER);
        k++;
      }
    g_assert_cmpuint (k, ==, 4);
  }
  g_assert_cmpint (sc_connection_get_state (f->conn), ==,
                   SC_CONNECTION_STOPPED);
  g_assert_cmpuint (count_events (f->rec, "stopped", 0), ==, 2);
  g_assert_true (sc_test_server_wait_log (f->server, quit, WAIT_MS));
  g_assert_cmpuint (count_in_log (f, quit), ==, 1);

  /* The handler holds the only reference and drops it: the connection
   * goes away after the signal, saying bye. */
  recorder_free (f->rec);
  f->rec = NULL;
  conn = g_steal_pointer (&f->conn);
  g_signal_handler_disconnect (conn, stop_id);
  g_object_add_weak_pointer (G_OBJECT (conn), (gpointer *) &conn);
  g_signal_connect (conn, "presence-list", G_CALLBACK (unref_on_presence_list),
                    NULL);
  g_assert_true (sc_connection_start (conn, ALICE_PW, &error));
  g_assert_no_error (error);
  g_assert_true (SC_TEST_WAIT (conn == NULL, WAIT_MS));
  g_assert_true (SC_TEST_WAIT (count_in_log (f, quit) == 2, WAIT_MS));
}

/* Dropping a connection mid-way, or stopping it: no crash, no leak, and
 * a late completion finds nothing to report to. */
static void
test_drop_while_connecting (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Event *e;
  guint m;

  fixture_start (f);
  write_known_servers (f, "", sc_test_server_get_fingerprint (f->server));
  fixture_connection (f, "alice");
  g_assert_true (sc_connection_start (f->conn, ALICE_PW, &error));
  g_assert_no_error (error);
  recorder_free (f->rec);
  f->rec = NULL;
  g_clear_object (&f->conn);
  for (int k = 0; k < 40; k++)
    sc_test_iterate (25);

  fixture_connection (f, "alice");
  m = mark (f->rec);
  g_assert_true (sc_connection_start (f->conn, ALICE_PW, &error));
  g_assert_no_error (error);
  sc_connection_stop (f->conn);
  e = find_event (f->rec, "stopped", m);
  if (e == NULL)
    g_error ("expected event not recorded");
  g_assert_cmpint (e->code, ==, SC_STOP_USER);
  for (int k = 0; k < 40; k++)
    sc_test_iterate (25);
  g_assert_cmpuint (count_events (f->rec, "stopped", m), ==, 1);
  g_assert_null (find_event (f->rec, "logged-in", m));
  /* It can start again after a stop. */
  m = mark (f->rec);
  g_assert_true (sc_connection_start (f->conn, ALICE_PW, &error));
  g_assert_no_error (error);
  wait_event (f->rec, "logged-in", m, WAIT_MS);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *data = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sc_init (), ==, 0);
  /* Before anything reads them (the connection's default paths). */
  test_home = g_dir_make_tmp ("sc-gtk-home-XXXXXX", &error);
  g_assert_no_error (error);
  config = g_build_filename (test_home, "config", NULL);
  data = g_build_filename (test_home, "data", NULL);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);

#define ADD(path, fn)                                                          \
  g_test_add ("/gtk/connection/" path, Fixture, NULL, fixture_set_up, fn,      \
              fixture_tear_down)
  ADD ("first-contact", test_first_contact);
  ADD ("chat", test_chat);
  ADD ("fetch-keys", test_fetch_keys);
  ADD ("wrong-password", test_wrong_password);
  ADD ("rate-limited", test_rate_limited);
  ADD ("key-changed", test_key_changed);
  ADD ("reconnect", test_reconnect);
  ADD ("replaced", test_replaced);
  ADD ("drop-while-connecting", test_drop_while_connecting);
  ADD ("reentrancy", test_reentrancy);
#undef ADD
  g_test_add_func ("/gtk/connection/connect-failed", test_connect_failed);
  g_test_add_func ("/gtk/connection/invalid", test_invalid);

  rc = g_test_run ();
  sc_test_rm_rf (test_home);
  g_free (test_home);
  return rc;
}
