/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-test-server.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>

/* A port lost to another test between picking and binding is tried
 * again with another one. */
#define START_ATTEMPTS 4

static const char *const sanitizer_markers[] = {
  "AddressSanitizer",
  "LeakSanitizer",
  "UndefinedBehaviorSanitizer",
  "runtime error:",
};

/* ---- the main loop ---- */

static gboolean
wake_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
sc_test_iterate (guint max_ms)
{
  GSource *wake = g_timeout_source_new (max_ms);

  /* So that the iteration returns even when nothing else happens. */
  g_source_set_callback (wake, wake_cb, NULL, NULL);
  g_source_attach (wake, NULL);
  g_main_context_iteration (NULL, TRUE);
  g_source_destroy (wake);
  g_source_unref (wake);
}

gboolean
sc_test_wait_until (gboolean (*cond) (gpointer),
                    gpointer data,
                    guint timeout_ms)
{
  return SC_TEST_WAIT (cond (data), timeout_ms);
}

gboolean
sc_test_rm_rf (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return errno == ENOENT;
  if (S_ISDIR (st.st_mode))
    {
      GDir *dir;
      const char *name;

      /* A folder made 0500 by a test must still go. */
      g_chmod (path, 0700);
      dir = g_dir_open (path, 0, NULL);
      if (dir != NULL)
        {
          while ((name = g_dir_read_name (dir)) != NULL)
            {
              g_autofree char *child = g_build_filename (path, name, NULL);

              sc_test_rm_rf (child);
            }
          g_dir_close (dir);
        }
      return g_rmdir (path) == 0;
    }
  return g_unlink (path) == 0;
}

static const char *
sanitizer_report (const char *text)
{
  for (gsize i = 0; i < G_N_ELEMENTS (sanitizer_markers); i++)
    if (strstr (text, sanitizer_markers[i]) != NULL)
      return sanitizer_markers[i];
  return NULL;
}

static const char *
program (const char *var, GError **error)
{
  const char *path = g_getenv (var);

  if (path == NULL || path[0] == '\0' ||
      !g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s is not set to an executable (run through meson test)",
                   var);
      return NULL;
    }
  return path;
}

/* ---- running a program to its end ---- */

typedef struct
{
  gboolean done;
  GBytes *out;
  GBytes *err;
  GError *error;
} Communicate;

static void
communicate_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Communicate *c = data;

  g_subprocess_communicate_finish (G_SUBPROCESS (source), res, &c->out, &c->err,
                                   &c->error);
  c->done = TRUE;
}

static char *
bytes_text (GBytes *b)
{
  gsize len = 0;
  const char *data = b != NULL ? g_bytes_get_data (b, &len) : NULL;

  return g_strndup (data != NULL ? data : "", len);
}

/* Runs argv with stdin_text on standard input; the exit status, or -1
 * with error (failure to run, timeout, killed by a signal). */
static int
run_to_end (const char *const *argv,
            const char *stdin_text,
            guint timeout_ms,
            char **out,
            char **err,
            GError **error)
{
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GBytes) in = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  Communicate c = { 0 };
  int status = -1;

  proc = g_subprocess_newv (argv,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            error);
  if (proc == NULL)
    return -1;
  /* With a stdin pipe, communicating needs something (maybe nothing)
   * to write. */
  in = g_bytes_new (stdin_text != NULL ? stdin_text : "",
                    stdin_text != NULL ? strlen (stdin_text) : 0);
  g_subprocess_communicate_async (proc, in, cancel, communicate_cb, &c);
  if (!SC_TEST_WAIT (c.done, timeout_ms))
    {
      g_subprocess_force_exit (proc);
      g_cancellable_cancel (cancel);
      /* The operation completes (cancelled) promptly. */
      while (!c.done)
        g_main_context_iteration (NULL, TRUE);
      g_clear_error (&c.error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "%s did not finish within %u ms", argv[0], timeout_ms);
      goto out;
    }
  if (c.error != NULL)
    {
      g_propagate_error (error, c.error);
      c.error = NULL;
      goto out;
    }
  /* Communicating ends with the exit: the status is known. */
  if (!g_subprocess_get_if_exited (proc))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s was killed by signal %d", argv[0],
                   g_subprocess_get_term_sig (proc));
      goto out;
    }
  status = g_subprocess_get_exit_status (proc);

out:
  if (out != NULL)
    *out = bytes_text (c.out);
  if (err != NULL)
    *err = bytes_text (c.err);
  g_clear_pointer (&c.out, g_bytes_unref);
  g_clear_pointer (&c.err, g_bytes_unref);
  return status;
}

/* ---- the server ---- */

struct _ScTestServer
{
  char *dir;
  char *data_dir;
  char *conf_path;
  char *log_path;
  char *address;
  char *fingerprint;
  guint16 port;
  guint n_runs;
  GHashTable *passwords; /* user -> password */
  GSubprocess *proc;
  gboolean exited;
};

static int
admin (ScTestServer *server,
       const char *command,
       const char *arg,
       const char *stdin_text,
       char **out,
       GError **error)
{
  g_autofree char *err = NULL;
  const char *bin = program ("SECURECHATD", error);
  const char *argv[] = {
    bin, command, "--data-dir", server->data_dir, arg, NULL
  };
  int status;

  if (bin == NULL)
    return -1;
  status =
      run_to_end (argv, stdin_text, SC_TEST_PROC_TIMEOUT_MS, out, &err, error);
  if (status < 0)
    return -1;
  if (sanitizer_report (err) != NULL || status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "securechatd %s exited with %d:\n%s", command, status, err);
      return -1;
    }
  return 0;
}

/* The "SHA256:" + 43 characters in text. */
static char *
find_fingerprint (const char *text)
{
  g_autoptr (GRegex) re =
      g_regex_new ("SHA256:[A-Za-z0-9+/]{43}(?![A-Za-z0-9+/=])", 0, 0, NULL);
  g_autoptr (GMatchInfo) m = NULL;

  if (!g_regex_match (re, text, 0, &m))
    return NULL;
  return g_match_info_fetch (m, 0);
}

ScTestServer *
sc_test_server_new (GError **error)
{
  g_autoptr (ScTestServer) server = g_new0 (ScTestServer, 1);
  g_autofree char *out = NULL;

  server->passwords =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  server->dir = g_dir_make_tmp ("sc-gtk-test-XXXXXX", error);
  if (server->dir == NULL)
    return NULL;
  server->data_dir = g_build_filename (server->dir, "server-data", NULL);
  server->conf_path =
      g_build_filename (server->data_dir, "securechatd.conf", NULL);
  if (admin (server, "init", NULL, NULL, NULL, error) < 0)
    return NULL;
  if (admin (server, "fingerprint", NULL, NULL, &out, error) < 0)
    return NULL;
  server->fingerprint = find_fingerprint (out);
  if (server->fingerprint == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "securechatd fingerprint printed none: %s", out);
      return NULL;
    }
  return g_steal_pointer (&server);
}

static void
wait_exit_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  ScTestServer *server = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  server->exited = TRUE;
}

void
sc_test_server_free (ScTestServer *server)
{
  if (server == NULL)
    return;
  sc_test_server_kill (server);
  if (server->dir != NULL)
    {
      if (g_getenv ("SC_TEST_KEEP") != NULL)
        g_printerr ("# kept %s\n", server->dir);
      else
        sc_test_rm_rf (server->dir);
    }
  g_free (server->dir);
  g_free (server->data_dir);
  g_free (server->conf_path);
  g_free (server->log_path);
  g_free (server->address);
  g_free (server->fingerprint);
  g_hash_table_unref (server->passwords);
  g_free (server);
}

gboolean
sc_test_server_add_user (ScTestServer *server,
                         const char *name,
                         const char *password,
                         GError **error)
{
  g_autofree char *line = g_strconcat (password, "\n", NULL);

  if (admin (server, "useradd", name, line, NULL, error) < 0)
    return FALSE;
  g_hash_table_insert (server->passwords, g_strdup (name), g_strdup (password));
  return TRUE;
}

gboolean
sc_test_server_set_config (ScTestServer *server,
                           const char *key,
                           const char *value,
                           GError **error)
{
  g_autofree char *old = NULL;
  g_autofree char *text = NULL;

  if (!g_file_get_contents (server->conf_path, &old, NULL, NULL))
    old = g_strdup ("# written by tests/gtk/sc-test-server.c\n");
  text = g_strdup_printf ("%s%s = %s\n", old, key, value);
  return g_file_set_contents_full (server->conf_path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

guint16
sc_test_free_port (void)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GInetAddress) lo =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  guint16 port = 0;

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_TCP, NULL);
  if (sock == NULL || !g_socket_bind (sock, any, FALSE, NULL))
    return 0;
  bound = g_socket_get_local_address (sock, NULL);
  if (bound != NULL)
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, NULL);
  return port;
}

static char *
read_file_text (const char *path)
{
  char *text = NULL;

  if (path == NULL || !g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

char *
sc_test_server_read_log (ScTestServer *server)
{
  return read_file_text (server->log_path);
}

/* "listening on ADDRESS" not followed by another digit. */
static gboolean
log_says_listening (ScTestServer *server)
{
  g_autofree char *log = sc_test_server_read_log (server);
  g_autofree char *needle =
      g_strdup_printf ("listening on %s", server->address);
  const char *p = strstr (log, needle);

  return p != NULL && !g_ascii_isdigit (p[strlen (needle)]);
}

/* One start on server->port: TRUE when listening; FALSE with *retry when
 * the port was taken meanwhile. */
static gboolean
start_once (ScTestServer *server, gboolean *retry, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  const char *bin = program ("SECURECHATD", error);
  const char *argv[8];
  gboolean listening;

  *retry = FALSE;
  if (bin == NULL)
    return FALSE;
  g_free (server->address);
  server->address = g_strdup_printf ("127.0.0.1:%u", server->port);
  g_free (server->log_path);
  server->log_path =
      g_strdup_printf ("%s/server-%u.log", server->dir, server->n_runs++);
  argv[0] = bin;
  argv[1] = "run";
  argv[2] = "--data-dir";
  argv[3] = server->data_dir;
  argv[4] = "--listen";
  argv[5] = server->address;
  argv[6] = NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_stderr_file_path (launcher, server->log_path);
  g_clear_object (&server->proc);
  server->exited = FALSE;
  server->proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (server->proc == NULL)
    return FALSE;
  g_subprocess_wait_async (server->proc, NULL, wait_exit_cb, server);

  listening = SC_TEST_WAIT (server->exited || log_says_listening (server),
                            SC_TEST_START_TIMEOUT_MS);
  if (listening && !server->exited)
    return TRUE;
  if (server->exited)
    {
      g_autofree char *log = sc_test_server_read_log (server);

      *retry = strstr (log, "in use") != NULL;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "securechatd exited before listening on %s:\n%s",
                   server->address, log);
      return FALSE;
    }
  sc_test_server_kill (server);
  {
    g_autofree char *log = sc_test_server_read_log (server);

    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "securechatd did not log 'listening on %s' within %d ms:\n%s",
                 server->address, SC_TEST_START_TIMEOUT_MS, log);
  }
  return FALSE;
}

gboolean
sc_test_server_start (ScTestServer *server, GError **error)
{
  gboolean fixed = server->port != 0;

  if (sc_test_server_is_running (server))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "the server is already running");
      return FALSE;
    }
  for (int i = 0; i < (fixed ? 1 : START_ATTEMPTS); i++)
    {
      g_autoptr (GError) local = NULL;
      gboolean retry = FALSE;

      if (!fixed)
        server->port = sc_test_free_port ();
      if (start_once (server, &retry, &local))
        return TRUE;
      if (!retry || fixed || i + 1 == START_ATTEMPTS)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  g_assert_not_reached ();
}

gboolean
sc_test_server_is_running (ScTestServer *server)
{
  return server->proc != NULL && !server->exited;
}

gboolean
sc_test_server_stop (ScTestServer *server, GError **error)
{
  g_autofree char *log = NULL;
  const char *marker;

  if (server->proc == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the server was never started");
      return FALSE;
    }
  if (!server->exited)
    {
      /* A paused server would not see the SIGTERM. */
      g_subprocess_send_signal (server->proc, SIGCONT);
      g_subprocess_send_signal (server->proc, SIGTERM);
      if (!SC_TEST_WAIT (server->exited, SC_TEST_STOP_TIMEOUT_MS))
        {
          sc_test_server_kill (server);
          log = sc_test_server_read_log (server);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "securechatd did not exit within %d ms of SIGTERM:\n%s",
                       SC_TEST_STOP_TIMEOUT_MS, log);
          return FALSE;
        }
    }
  log = sc_test_server_read_log (server);
  marker = sanitizer_report (log);
  if (marker != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "securechatd log has a sanitizer report (%s):\n%s", marker,
                   log);
      return FALSE;
    }
  if (!g_subprocess_get_if_exited (server->proc) ||
      g_subprocess_get_exit_status (server->proc) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "securechatd did not exit with status 0 after SIGTERM:\n%s",
                   log);
      return FALSE;
    }
  return TRUE;
}

void
sc_test_server_kill (ScTestServer *server)
{
  if (!sc_test_server_is_running (server))
    return;
  g_subprocess_force_exit (server->proc);
  /* SIGKILL cannot be refused: the exit is only a matter of time. */
  while (!server->exited)
    g_main_context_iteration (NULL, TRUE);
}

/* The server's state letter in /proc/PID/stat ('T' when stopped), or 0. */
static char
proc_state (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  /* "PID (COMM) S ...": COMM may hold spaces and parentheses. */
  p = strrchr (text, ')');
  return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/* g_subprocess_send_signal only hands the signal to GLib's worker thread,
 * so a request the client writes right after "pause" could still be
 * served: send it now, and for SIGSTOP wait (2 s at most) until the
 * kernel shows the server stopped. */
static void
send_signal_now (ScTestServer *server, int sig)
{
  const char *id;
  pid_t pid;

  if (!sc_test_server_is_running (server))
    return;
  id = g_subprocess_get_identifier (server->proc);
  if (id == NULL)
    return;
  pid = (pid_t) g_ascii_strtoll (id, NULL, 10);
  if (pid <= 0 || kill (pid, sig) != 0)
    return;
  if (sig == SIGSTOP)
    for (int i = 0; i < 2000 && proc_state (pid) != 'T'; i++)
      g_usleep (1000);
}

void
sc_test_server_pause (ScTestServer *server)
{
  send_signal_now (server, SIGSTOP);
}

void
sc_test_server_resume (ScTestServer *server)
{
  send_signal_now (server, SIGCONT);
}

const char *
sc_test_server_get_dir (ScTestServer *server)
{
  return server->dir;
}

const char *
sc_test_server_get_data_dir (ScTestServer *server)
{
  return server->data_dir;
}

const char *
sc_test_server_get_address (ScTestServer *server)
{
  return server->address;
}

guint16
sc_test_server_get_port (ScTestServer *server)
{
  return server->port;
}

const char *
sc_test_server_get_fingerprint (ScTestServer *server)
{
  return server->fingerprint;
}

gboolean
sc_test_server_wait_log (ScTestServer *server,
                         const char *needle,
                         guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      g_autofree char *log = sc_test_server_read_log (server);

      if (strstr (log, needle) != NULL)
        return TRUE;
      if (g_get_monotonic_time () >= end)
        return FALSE;
      sc_test_iterate (20);
    }
}

/* ---- securechat-cli ---- */

typedef struct
{
  ScTestCli *cli;
  GInputStream *stream;
  GString *text;
  gboolean eof;
} Pipe;

struct _ScTestCli
{
  GSubprocess *proc;
  GCancellable *cancel;
  Pipe out;
  Pipe err;
  gboolean exited;
  guint busy; /* asynchronous operations still running */
};

static void pipe_read_cb (GObject *source, GAsyncResult *res, gpointer data);

static void
pipe_read_next (Pipe *p)
{
  p->cli->busy++;
  g_input_stream_read_bytes_async (p->stream, 4096, G_PRIORITY_DEFAULT,
                                   p->cli->cancel, pipe_read_cb, p);
}

static void
pipe_read_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Pipe *p = data;
  g_autoptr (GBytes) bytes = NULL;
  gsize len = 0;
  const char *chunk;

  p->cli->busy--;
  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, NULL);
  chunk = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;
  if (chunk == NULL || len == 0)
    {
      p->eof = TRUE;
      return;
    }
  g_string_append_len (p->text, chunk, (gssize) len);
  pipe_read_next (p);
}

static void
cli_exit_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  ScTestCli *cli = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  cli->busy--;
  cli->exited = TRUE;
}

/* The user's own folder for the CLI's config, keys and password. */
static char *
cli_home (ScTestServer *server, const char *user, GError **error)
{
  const char *password = g_hash_table_lookup (server->passwords, user);
  g_autofree char *home = NULL;
  g_autofree char *pw_path = NULL;

  if (password == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "no password known for %s (sc_test_server_add_user)", user);
      return NULL;
    }
  home = g_build_filename (server->dir, "cli", user, NULL);
  if (g_mkdir_with_parents (home, 0700) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot create %s: %s", home, g_strerror (errno));
      return NULL;
    }
  pw_path = g_build_filename (home, "password", NULL);
  if (!g_file_set_contents_full (pw_path, password, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    return NULL;
  return g_steal_pointer (&home);
}

ScTestCli *
sc_test_cli_spawn (ScTestServer *server,
                   const char *user,
                   const char *const *args,
                   GError **error)
{
  const char *bin = program ("SECURECHAT_CLI", error);
  g_autofree char *home = NULL;
  g_autofree char *config = NULL;
  g_autofree char *data = NULL;
  g_autofree char *pw_path = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  ScTestCli *cli;
  GSubprocess *proc;

  if (bin == NULL)
    return NULL;
  if (server->address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the server was never started");
      return NULL;
    }
  home = cli_home (server, user, error);
  if (home == NULL)
    return NULL;
  config = g_build_filename (home, "config", NULL);
  data = g_build_filename (home, "data", NULL);
  pw_path = g_build_filename (home, "password", NULL);

  g_ptr_array_add (argv, (gpointer) bin);
  g_ptr_array_add (argv, "--server");
  g_ptr_array_add (argv, server->address);
  g_ptr_array_add (argv, "--user");
  g_ptr_array_add (argv, (gpointer) user);
  g_ptr_array_add (argv, "--password-file");
  g_ptr_array_add (argv, pw_path);
  g_ptr_array_add (argv, "--fingerprint");
  g_ptr_array_add (argv, server->fingerprint);
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  proc = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) argv->pdata, error);
  if (proc == NULL)
    return NULL;
  /* Nothing to say on standard input. */
  g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, NULL);

  cli = g_new0 (ScTestCli, 1);
  cli->proc = proc;
  cli->cancel = g_cancellable_new ();
  cli->out.cli = cli;
  cli->out.stream = g_subprocess_get_stdout_pipe (proc);
  cli->out.text = g_string_new (NULL);
  cli->err.cli = cli;
  cli->err.stream = g_subprocess_get_stderr_pipe (proc);
  cli->err.text = g_string_new (NULL);
  pipe_read_next (&cli->out);
  pipe_read_next (&cli->err);
  cli->busy++;
  g_subprocess_wait_async (proc, cli->cancel, cli_exit_cb, cli);
  return cli;
}

gboolean
sc_test_cli_wait_output (ScTestCli *cli,
                         gboolean from_stderr,
                         const char *needle,
                         guint timeout_ms)
{
  GString *text = from_stderr ? cli->err.text : cli->out.text;

  return SC_TEST_WAIT (strstr (text->str, needle) != NULL, timeout_ms);
}

gboolean
sc_test_cli_wait (ScTestCli *cli, guint timeout_ms, GError **error)
{
  const char *marker;

  if (!SC_TEST_WAIT (cli->exited && cli->out.eof && cli->err.eof, timeout_ms))
    {
      g_subprocess_force_exit (cli->proc);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "securechat-cli did not finish within %u ms\n"
                   "stdout:\n%s\nstderr:\n%s",
                   timeout_ms, cli->out.text->str, cli->err.text->str);
      return FALSE;
    }
  marker = sanitizer_report (cli->err.text->str);
  if (marker != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "securechat-cli reported a sanitizer error (%s):\n%s",
                   marker, cli->err.text->str);
      return FALSE;
    }
  return TRUE;
}

void
sc_test_cli_terminate (ScTestCli *cli)
{
  if (!cli->exited)
    g_subprocess_send_signal (cli->proc, SIGTERM);
}

int
sc_test_cli_get_status (ScTestCli *cli)
{
  if (!cli->exited || !g_subprocess_get_if_exited (cli->proc))
    return -1;
  return g_subprocess_get_exit_status (cli->proc);
}

const char *
sc_test_cli_get_stdout (ScTestCli *cli)
{
  return cli->out.text->str;
}

const char *
sc_test_cli_get_stderr (ScTestCli *cli)
{
  return cli->err.text->str;
}

void
sc_test_cli_free (ScTestCli *cli)
{
  if (cli == NULL)
    return;
  if (!cli->exited)
    g_subprocess_force_exit (cli->proc);
  /* The exit comes (SIGKILL); then the pipes end. The reads are
   * cancelled only if they do not, and complete at once then. */
  SC_TEST_WAIT (cli->busy == 0, SC_TEST_STOP_TIMEOUT_MS);
  g_cancellable_cancel (cli->cancel);
  while (cli->busy > 0)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (cli->cancel);
  g_object_unref (cli->proc);
  g_string_free (cli->out.text, TRUE);
  g_string_free (cli->err.text, TRUE);
  g_free (cli);
}

int
sc_test_cli_run (ScTestServer *server,
                 const char *user,
                 const char *const *args,
                 guint timeout_ms,
                 char **out,
                 char **err,
                 GError **error)
{
  g_autoptr (ScTestCli) cli = sc_test_cli_spawn (server, user, args, error);
  gboolean ok;

  if (cli == NULL)
    return -1;
  ok = sc_test_cli_wait (cli, timeout_ms, error);
  if (out != NULL)
    *out = g_strdup (cli->out.text->str);
  if (err != NULL)
    *err = g_strdup (cli->err.text->str);
  if (!ok)
    return -1;
  if (!g_subprocess_get_if_exited (cli->proc))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "securechat-cli was killed by signal %d\nstderr:\n%s",
                   g_subprocess_get_term_sig (cli->proc), cli->err.text->str);
      return -1;
    }
  return g_subprocess_get_exit_status (cli->proc);
}
