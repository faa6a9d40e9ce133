/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test fixture: a throw-away securechatd on 127.0.0.1 and securechat-cli
 * runs against it, for the GTK client's tests (the connection tests and
 * the window test). Everything runs on the default main context and is
 * waited for by spinning it, with a bound on every wait.
 *
 * Program paths come from $SECURECHATD and $SECURECHAT_CLI (set by
 * tests/meson.build). Every process is started by this fixture, stopped
 * by its PID, and killed by the kernel if the test process dies first
 * (an assertion failed); everything lives in one temporary folder that
 * sc_test_server_free removes ($SC_TEST_KEEP set: kept, and said so).
 *
 *   g_autoptr (ScTestServer) s = sc_test_server_new (&error);
 *   sc_test_server_add_user (s, "bob", "secret-bob", &error);
 *   sc_test_server_start (s, &error);
 *   ... sc_test_server_get_address (s), sc_test_server_get_fingerprint (s)
 *   sc_test_server_stop (s, &error);   // exit 0, clean log
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Bounds for waits, generous for a loaded 2-core machine under ASan. */
#define SC_TEST_START_TIMEOUT_MS 20000
#define SC_TEST_STOP_TIMEOUT_MS  15000
#define SC_TEST_PROC_TIMEOUT_MS  30000

/* ---- the main loop ---- */

/* Runs one iteration of the default main context, waiting at most
 * max_ms for something to happen. */
void sc_test_iterate (guint max_ms);

/* Spins the default main context until cond (data) holds or timeout_ms
 * pass; returns whether it held. */
gboolean sc_test_wait_until (gboolean (*cond) (gpointer),
                             gpointer data,
                             guint timeout_ms);

/* The same for an expression: SC_TEST_WAIT (x == 3, 5000) is TRUE once
 * x == 3, FALSE when 5 s passed first. */
#define SC_TEST_WAIT(expr, timeout_ms)                                         \
  __extension__({                                                              \
    gint64 sc_test_end_ =                                                      \
        g_get_monotonic_time () + (gint64) (timeout_ms) *1000;                 \
    gboolean sc_test_ok_;                                                      \
    while (!(sc_test_ok_ = !!(expr)) &&                                        \
           g_get_monotonic_time () < sc_test_end_)                             \
      sc_test_iterate (50);                                                    \
    sc_test_ok_;                                                               \
  })

/* Removes path and everything under it; TRUE when nothing is left. */
gboolean sc_test_rm_rf (const char *path);

/* ---- the server ---- */

typedef struct _ScTestServer ScTestServer;

/* A temporary folder with an initialised data folder (server key, no
 * users); the server is not running yet. */
ScTestServer *sc_test_server_new (GError **error);
/* Kills the server if it still runs, removes the folder. */
void sc_test_server_free (ScTestServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScTestServer, sc_test_server_free)

/* securechatd useradd, with the password on standard input. The fixture
 * remembers it for sc_test_cli_*. */
gboolean sc_test_server_add_user (ScTestServer *server,
                                  const char *name,
                                  const char *password,
                                  GError **error);
/* Adds "key = value" to the data folder's securechatd.conf (read when
 * the server starts). */
gboolean sc_test_server_set_config (ScTestServer *server,
                                    const char *key,
                                    const char *value,
                                    GError **error);

/* Starts `securechatd run` (stderr to a new log file) and waits until it
 * logs "listening on 127.0.0.1:PORT". The first start picks a free port;
 * later starts (a restart) use the same one. */
gboolean sc_test_server_start (ScTestServer *server, GError **error);
/* SIGTERM by PID, waits; FALSE with error unless it exited with status 0
 * and its log has no sanitizer report. */
gboolean sc_test_server_stop (ScTestServer *server, GError **error);
/* SIGKILL by PID, waits. No-op when not running. */
void sc_test_server_kill (ScTestServer *server);
/* SIGSTOP / SIGCONT by PID: a server that accepts nothing and answers
 * nothing, with its sockets still open. */
void sc_test_server_pause (ScTestServer *server);
void sc_test_server_resume (ScTestServer *server);
gboolean sc_test_server_is_running (ScTestServer *server);

/* The temporary folder (tests may put their own files in it). */
const char *sc_test_server_get_dir (ScTestServer *server);
const char *sc_test_server_get_data_dir (ScTestServer *server);
/* "127.0.0.1:PORT" (valid after the first start). */
const char *sc_test_server_get_address (ScTestServer *server);
guint16 sc_test_server_get_port (ScTestServer *server);
/* "SHA256:..." as `securechatd fingerprint` prints it. */
const char *sc_test_server_get_fingerprint (ScTestServer *server);
/* The log of the current (or last) run. */
char *sc_test_server_read_log (ScTestServer *server);
/* Waits until the current log contains needle. */
gboolean sc_test_server_wait_log (ScTestServer *server,
                                  const char *needle,
                                  guint timeout_ms);

/* A free TCP port on 127.0.0.1 (free a moment ago). */
guint16 sc_test_free_port (void);

/* ---- securechat-cli ---- */

/* One securechat-cli process for a user added with
 * sc_test_server_add_user, with its own XDG_CONFIG_HOME and
 * XDG_DATA_HOME (the same for every run of that user, so its keys
 * persist), run as
 *   $SECURECHAT_CLI --server 127.0.0.1:PORT --user USER
 *       --password-file FILE --fingerprint FP ARGS...
 * Its standard output and error are collected as they come. */
typedef struct _ScTestCli ScTestCli;

ScTestCli *sc_test_cli_spawn (ScTestServer *server,
                              const char *user,
                              const char *const *args,
                              GError **error);
/* Waits until needle shows in its standard output (or error). */
gboolean sc_test_cli_wait_output (ScTestCli *cli,
                                  gboolean from_stderr,
                                  const char *needle,
                                  guint timeout_ms);
/* Waits for the process to exit and its output to end. FALSE with error
 * on timeout (the process is then killed) or when its standard error
 * holds a sanitizer report. */
gboolean sc_test_cli_wait (ScTestCli *cli, guint timeout_ms, GError **error);
/* SIGTERM by PID (a recv that runs until interrupted). */
void sc_test_cli_terminate (ScTestCli *cli);
/* Exit status once exited normally, else -1 (running, or killed by a
 * signal). */
int sc_test_cli_get_status (ScTestCli *cli);
const char *sc_test_cli_get_stdout (ScTestCli *cli);
const char *sc_test_cli_get_stderr (ScTestCli *cli);
/* Kills the process if it still runs. */
void sc_test_cli_free (ScTestCli *cli);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScTestCli, sc_test_cli_free)

/* Spawns, waits (timeout_ms), returns the exit status; -1 with error on
 * failure, timeout or a sanitizer report. out and err (may be NULL)
 * receive the output. */
int sc_test_cli_run (ScTestServer *server,
                     const char *user,
                     const char *const *args,
                     guint timeout_ms,
                     char **out,
                     char **err,
                     GError **error);

G_END_DECLS
