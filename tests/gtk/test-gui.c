/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The real application under Xvfb against a real securechatd, with a
 * real securechat-cli on the other end. The steps run in order and share
 * one server and one window, as a person would use them: first contact
 * and a wrong password, logging in, a chat with bob on the CLI, the
 * safety number, the server going away and coming back, a message to
 * someone offline, and the history after a restart of the window. Each
 * state is saved as a PNG under BUILDDIR/screenshots/ (light and dark). */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <sys/stat.h>

#include "sc-application.h"
#include "sc-message-row.h"
#include "sc-new-chat-dialog.h"
#include "sc-safety-dialog.h"
#include "sc-test-screenshot.h"
#include "sc-test-server.h"
#include "sc-test-widgets.h"
#include "securechat/init.h"

#define ALICE_PW "alice-gui-password"
#define BOB_PW   "bob-gui-password"
#define WAIT_MS  30000

static struct
{
  ScTestServer *server;
  ScApplication *app;
  ScWindow *window;
  char *home;
} f;

/* A stand-in for the desktop's notification server on the test's own
 * session bus: it records what the application shows and can "click" a
 * notification, as GNOME Shell would. */
static const char notifications_xml[] =
    "<node>"
    "  <interface name='org.freedesktop.Notifications'>"
    "    <method name='Notify'>"
    "      <arg type='s' direction='in'/><arg type='u' direction='in'/>"
    "      <arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "      <arg type='s' direction='in'/><arg type='as' direction='in'/>"
    "      <arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
    "      <arg type='u' direction='out'/>"
    "    </method>"
    "    <method name='CloseNotification'>"
    "      <arg type='u' direction='in'/>"
    "    </method>"
    "    <method name='GetCapabilities'>"
    "      <arg type='as' direction='out'/>"
    "    </method>"
    "    <method name='GetServerInformation'>"
    "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
    "      <arg type='s' direction='out'/><arg type='s' direction='out'/>"
    "    </method>"
    "    <signal name='ActionInvoked'>"
    "      <arg type='u'/><arg type='s'/>"
    "    </signal>"
    "  </interface>"
    "</node>";

static struct
{
  GDBusConnection *bus;
  guint n_shown;
  guint32 last_id;
  char *last_summary;
  char *last_body;
  char *last_actions;
  gboolean owned;
} notifications;

static void
notifications_method_cb (GDBusConnection *bus,
                         const char *sender,
                         const char *path,
                         const char *iface,
                         const char *method,
                         GVariant *params,
                         GDBusMethodInvocation *invocation,
                         gpointer data)
{
  if (g_str_equal (method, "Notify"))
    {
      const char *summary, *body;
      g_autofree const char **actions = NULL;

      g_variant_get (params, "(&su&s&s&s^a&s@a{sv}i)", NULL, NULL, NULL,
                     &summary, &body, &actions, NULL, NULL);
      g_free (notifications.last_summary);
      g_free (notifications.last_body);
      g_free (notifications.last_actions);
      notifications.last_summary = g_strdup (summary);
      notifications.last_body = g_strdup (body);
      notifications.last_actions = g_strjoinv (",", (char **) actions);
      notifications.n_shown++;
      notifications.last_id = notifications.n_shown;
      g_dbus_method_invocation_return_value (
          invocation, g_variant_new ("(u)", notifications.last_id));
    }
  else if (g_str_equal (method, "GetCapabilities"))
    {
      const char *caps[] = { "body", "actions", NULL };

      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(^as)", caps));
    }
  else if (g_str_equal (method, "GetServerInformation"))
    g_dbus_method_invocation_return_value (
        invocation, g_variant_new ("(ssss)", "test", "securechat", "1", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
name_acquired_cb (GDBusConnection *bus, const char *name, gpointer data)
{
  notifications.owned = TRUE;
}

static void
start_notification_server (void)
{
  static const GDBusInterfaceVTable vtable = { .method_call =
                                                   notifications_method_cb };
  g_autoptr (GDBusNodeInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  info = g_dbus_node_info_new_for_xml (notifications_xml, &error);
  g_assert_no_error (error);
  /* A connection of its own: the application's calls then really go
   * through the bus. */
  notifications.bus = g_dbus_connection_new_for_address_sync (
      g_getenv ("DBUS_SESSION_BUS_ADDRESS"),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
          G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_register_object (
      notifications.bus, "/org/freedesktop/Notifications", info->interfaces[0],
      &vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  g_bus_own_name_on_connection (
      notifications.bus, "org.freedesktop.Notifications",
      G_BUS_NAME_OWNER_FLAGS_NONE, name_acquired_cb, NULL, NULL, NULL);
  g_assert_true (SC_TEST_WAIT (notifications.owned, 10000));
}

/* What a click on the notification does: the server says which action. */
static void
click_notification (void)
{
  g_autoptr (GError) error = NULL;

  g_dbus_connection_emit_signal (
      notifications.bus, NULL, "/org/freedesktop/Notifications",
      "org.freedesktop.Notifications", "ActionInvoked",
      g_variant_new ("(us)", notifications.last_id, "default"), &error);
  g_assert_no_error (error);
}

static ScLoginPage *
login_page (void)
{
  return sc_window_get_login_page (f.window);
}

static void
fill_login (const char *user, const char *password)
{
  gtk_editable_set_text (sc_login_page_get_server_row (login_page ()),
                         sc_test_server_get_address (f.server));
  gtk_editable_set_text (sc_login_page_get_user_row (login_page ()), user);
  gtk_editable_set_text (sc_login_page_get_password_row (login_page ()),
                         password);
}

static void
click_login (void)
{
  GtkButton *button = sc_login_page_get_login_button (login_page ());

  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (button)));
  g_signal_emit_by_name (button, "clicked");
}

/* Clicks the dialog's button for response, as a person would. */
static void
respond (GtkWindow *dialog, const char *response)
{
  const char *label = adw_message_dialog_get_response_label (
      ADW_MESSAGE_DIALOG (dialog), response);
  GtkWidget *button = sc_test_find_button (GTK_WIDGET (dialog), label);

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
}

static ScConversation *
conversation (const char *peer)
{
  ScChat *chat = sc_window_get_chat (f.window);

  return chat != NULL ? sc_chat_lookup (chat, peer) : NULL;
}

static guint
n_messages (const char *peer)
{
  ScConversation *c = conversation (peer);

  return c != NULL ? g_list_model_get_n_items (sc_conversation_get_messages (c))
                   : 0;
}

/* The newest message with peer (a new reference), or NULL. */
static ScMessage *
last_message (const char *peer)
{
  guint n = n_messages (peer);

  if (n == 0)
    return NULL;
  return g_list_model_get_item (
      sc_conversation_get_messages (conversation (peer)), n - 1);
}

static gboolean
in_sidebar (const char *peer, gboolean online)
{
  GListModel *model = sc_window_get_sidebar_model (f.window);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (ScConversation) c = g_list_model_get_item (model, i);

      if (g_str_equal (sc_conversation_get_peer (c), peer))
        return sc_conversation_get_online (c) == online;
    }
  return FALSE;
}

static gboolean
online (void)
{
  ScConnection *c = sc_window_get_connection (f.window);

  return c != NULL && sc_connection_get_state (c) == SC_CONNECTION_ONLINE &&
         g_str_equal (sc_window_get_page (f.window), "chat");
}

static void
new_window (void)
{
  g_application_activate (G_APPLICATION (f.app));
  f.window = sc_application_get_window (f.app);
  g_assert_nonnull (f.window);
  sc_test_wait_for_draw (GTK_WIDGET (f.window));
}

static void
test_login_page (void)
{
  new_window ();
  g_assert_cmpstr (sc_window_get_page (f.window), ==, "login");
  /* The embedded default is offered. */
  g_assert_cmpstr (
      gtk_editable_get_text (sc_login_page_get_server_row (login_page ())), ==,
      "127.0.0.1:12345");
  g_assert_false (gtk_widget_is_sensitive (
      GTK_WIDGET (sc_login_page_get_login_button (login_page ()))));
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "01-login");
}

/* First contact shows the server's fingerprint before any password
 * leaves; then the wrong password gives the generic login error. */
static void
test_first_contact_and_wrong_password (void)
{
  GtkWindow *dialog;
  g_autofree char *log = NULL;
  g_autofree char *known = NULL;
  g_autofree char *known_path = NULL;

  fill_login ("alice", "not-the-password");
  click_login ();
  g_assert_true (
      SC_TEST_WAIT (sc_window_get_dialog (f.window) != NULL, WAIT_MS));
  dialog = sc_window_get_dialog (f.window);
  g_assert_true (ADW_IS_MESSAGE_DIALOG (dialog));
  /* The fingerprint the admin would read out is in the dialog. */
  g_assert_nonnull (sc_test_find_widget (GTK_WIDGET (dialog), GTK_TYPE_LABEL));
  {
    g_autofree char *body = NULL;
    GtkWidget *extra =
        adw_message_dialog_get_extra_child (ADW_MESSAGE_DIALOG (dialog));
    GString *all = g_string_new (
        adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)));

    for (GtkWidget *w = extra; w != NULL;)
      {
        GtkWidget *label = sc_test_find_widget (w, GTK_TYPE_LABEL);

        if (label != NULL)
          g_string_append (all, gtk_label_get_text (GTK_LABEL (label)));
        break;
      }
    body = g_string_free (all, FALSE);
    g_assert_nonnull (strstr (body, sc_test_server_get_fingerprint (f.server)));
  }
  /* Nothing was tried yet: the password has not left. */
  log = sc_test_server_read_log (f.server);
  g_assert_null (strstr (log, "alice"));
  sc_test_wait_for_draw (GTK_WIDGET (dialog));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "02-server-key");

  respond (dialog, "trust");
  g_assert_true (
      SC_TEST_WAIT (sc_login_page_get_error (login_page ()) != NULL, WAIT_MS));
  g_assert_cmpstr (sc_window_get_page (f.window), ==, "login");
  /* Plain language, and the same for a wrong user name. */
  g_assert_nonnull (strstr (sc_login_page_get_error (login_page ()),
                            "user name or password"));
  /* The password field was emptied; the key is pinned now. */
  g_assert_cmpstr (
      gtk_editable_get_text (sc_login_page_get_password_row (login_page ())),
      ==, "");
  known_path =
      g_build_filename (f.home, "config", "securechat", "known_servers", NULL);
  g_assert_true (g_file_get_contents (known_path, &known, NULL, NULL));
  g_assert_nonnull (strstr (known, sc_test_server_get_fingerprint (f.server)));
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "03-login-error");
}

static void
test_login (void)
{
  g_autofree char *status = NULL;

  fill_login ("alice", ALICE_PW);
  click_login ();
  g_assert_true (SC_TEST_WAIT (online (), WAIT_MS));
  g_assert_null (sc_window_get_dialog (f.window));
  status = g_strdup (sc_window_get_status_text (f.window));
  g_assert_nonnull (strstr (status, "Online"));
  g_assert_nonnull (strstr (status, sc_test_server_get_address (f.server)));
  /* The password is gone from the form once logged in. */
  g_assert_cmpstr (
      gtk_editable_get_text (sc_login_page_get_password_row (login_page ())),
      ==, "");
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "04-logged-in");
}

/* New chat with bob (on securechat-cli), send, see it arrive there, and
 * see bob's reply in the window. */
static void
test_chat_with_cli (void)
{
  const char *recv_args[] = { "recv", "--count", "1", "--timeout", "60", NULL };
  const char *send_args[] = { "send", "alice",
                              "Hi alice! Bob here, on the terminal.", NULL };
  g_autoptr (ScTestCli) bob = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) mine = NULL;
  g_autoptr (ScMessage) reply = NULL;
  GtkWindow *dialog;
  GtkWidget *entry;
  ScConversationView *view;
  int rc;

  bob = sc_test_cli_spawn (f.server, "bob", recv_args, &error);
  g_assert_no_error (error);
  g_assert_true (
      sc_test_cli_wait_output (bob, TRUE, "logged in as bob", WAIT_MS));
  /* bob shows up in the sidebar as online. */
  g_assert_true (SC_TEST_WAIT (in_sidebar ("bob", TRUE), WAIT_MS));

  /* Ctrl+N: the new-chat dialog, type a name, start. */
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (f.window), "win.new-chat", NULL));
  dialog = sc_window_get_dialog (f.window);
  g_assert_true (SC_IS_NEW_CHAT_DIALOG (dialog));
  entry = sc_test_find_widget (GTK_WIDGET (dialog), GTK_TYPE_ENTRY);
  g_assert_nonnull (entry);
  gtk_editable_set_text (GTK_EDITABLE (entry), "bob");
  g_assert_cmpstr (sc_new_chat_dialog_get_name (SC_NEW_CHAT_DIALOG (dialog)),
                   ==, "bob");
  respond (dialog, "start");
  view = sc_window_get_conversation_view (f.window);
  g_assert_true (SC_TEST_WAIT (sc_conversation_view_get_conversation (view) ==
                                   conversation ("bob"),
                               WAIT_MS));

  /* Type and press Enter. */
  sc_conversation_view_set_draft (view, "Hello bob, this is alice\n");
  sc_conversation_view_send (view);
  g_assert_cmpuint (n_messages ("bob"), ==, 1);
  mine = last_message ("bob");
  g_assert_cmpint (sc_message_get_kind (mine), ==, SC_MESSAGE_OUTGOING);
  g_assert_cmpstr (sc_message_get_text (mine), ==, "Hello bob, this is alice");
  g_assert_true (SC_TEST_WAIT (
      sc_message_get_delivery (mine) == SC_DELIVERY_SENT, WAIT_MS));
  g_assert_true (sc_test_cli_wait (bob, WAIT_MS, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sc_test_cli_get_status (bob), ==, 0);
  g_assert_cmpstr (sc_test_cli_get_stdout (bob), ==,
                   "alice: Hello bob, this is alice\n");
  g_autofree char *draft = sc_conversation_view_get_draft (view);
  g_assert_cmpstr (draft, ==, "");

  /* bob answers from the terminal. */
  rc =
      sc_test_cli_run (f.server, "bob", send_args, WAIT_MS, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rc, ==, 0);
  g_assert_true (SC_TEST_WAIT (n_messages ("bob") == 2, WAIT_MS));
  reply = last_message ("bob");
  g_assert_cmpint (sc_message_get_kind (reply), ==, SC_MESSAGE_INCOMING);
  g_assert_cmpstr (sc_message_get_sender (reply), ==, "bob");
  g_assert_cmpstr (sc_message_get_text (reply), ==,
                   "Hi alice! Bob here, on the terminal.");
  /* Read at once: the conversation is open in the active window... or
   * counted unread when the window is not focused (Xvfb has no window
   * manager to focus it), never lost. */
  g_assert_cmpuint (sc_conversation_get_unread (conversation ("bob")), <=, 1);
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "05-conversation");
}

/* With the window in the background (Xvfb has no window manager, so it
 * never has the focus), a message shows a notification; clicking it
 * opens the conversation. */
static void
test_notification (void)
{
  const char *send_args[] = { "send", "alice", "Are you there?", NULL };
  g_autoptr (GError) error = NULL;
  guint before = notifications.n_shown;
  int rc;

  g_assert_false (gtk_window_is_active (GTK_WINDOW (f.window)));
  /* Somewhere else first, so that the click has something to do. */
  g_assert_nonnull (
      sc_chat_ensure (sc_window_get_chat (f.window), "carol", &error));
  sc_window_open_conversation (f.window, "carol");
  g_assert_true (sc_conversation_view_get_conversation (
                     sc_window_get_conversation_view (f.window)) ==
                 conversation ("carol"));

  rc =
      sc_test_cli_run (f.server, "bob", send_args, WAIT_MS, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rc, ==, 0);
  g_assert_true (SC_TEST_WAIT (notifications.n_shown > before, WAIT_MS));
  g_assert_cmpstr (notifications.last_summary, ==, "bob");
  g_assert_cmpstr (notifications.last_body, ==, "Are you there?");
  g_assert_nonnull (strstr (notifications.last_actions, "default"));
  g_assert_cmpuint (sc_conversation_get_unread (conversation ("bob")), >=, 1);

  click_notification ();
  g_assert_true (SC_TEST_WAIT (
      sc_conversation_view_get_conversation (
          sc_window_get_conversation_view (f.window)) == conversation ("bob"),
      WAIT_MS));
  g_assert_cmpuint (sc_conversation_get_unread (conversation ("bob")), ==, 0);
}

/* The safety number in the dialog is the one securechat-cli shows. */
static void
test_safety_number (void)
{
  const char *verify_args[] = { "verify", "alice", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  GtkWindow *dialog;
  const char *number;
  int rc;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f.window),
                                             "win.safety-number", NULL));
  dialog = sc_window_get_dialog (f.window);
  g_assert_true (SC_IS_SAFETY_DIALOG (dialog));
  number = sc_safety_dialog_get_safety_number (SC_SAFETY_DIALOG (dialog));
  g_assert_true (sc_safety_dialog_number_is_valid (number));
  g_assert_false (sc_safety_dialog_get_verified (SC_SAFETY_DIALOG (dialog)));

  rc = sc_test_cli_run (f.server, "bob", verify_args, WAIT_MS, &out, NULL,
                        &error);
  g_assert_no_error (error);
  g_assert_cmpint (rc, ==, 0);
  g_strchomp (out);
  g_assert_cmpstr (number, ==, out);
  sc_test_wait_for_draw (GTK_WIDGET (dialog));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "06-safety-number");

  /* Mark verified: the key store and the conversation agree. */
  g_signal_emit_by_name (dialog, "verify-changed", TRUE);
  g_assert_true (sc_safety_dialog_get_verified (SC_SAFETY_DIALOG (dialog)));
  g_assert_true (sc_conversation_get_verified (conversation ("bob")));
  gtk_window_destroy (dialog);
  g_assert_true (SC_TEST_WAIT (sc_window_get_dialog (f.window) == NULL, 5000));
}

/* The server goes away: the banner says so and counts down; it comes
 * back: "Retry Now" recovers at once. */
static void
test_reconnect (void)
{
  g_autoptr (GError) error = NULL;
  const char *banner;

  g_assert_true (sc_test_server_stop (f.server, &error));
  g_assert_no_error (error);
  g_assert_true (SC_TEST_WAIT (
      sc_window_get_banner_text (f.window) != NULL &&
          sc_connection_get_state (sc_window_get_connection (f.window)) ==
              SC_CONNECTION_WAITING,
      WAIT_MS));
  banner = sc_window_get_banner_text (f.window);
  g_assert_nonnull (strstr (banner, "Reconnecting in"));
  g_assert_nonnull (strstr (sc_window_get_status_text (f.window), "Offline"));
  /* Nobody is shown online while we are not. */
  g_assert_false (sc_conversation_get_online (conversation ("bob")));
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "07-reconnecting");

  g_assert_true (sc_test_server_start (f.server, &error));
  g_assert_no_error (error);
  g_assert_true (SC_TEST_WAIT (
      sc_connection_get_state (sc_window_get_connection (f.window)) ==
              SC_CONNECTION_WAITING ||
          online (),
      WAIT_MS));
  if (!online ())
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f.window),
                                               "win.retry-now", NULL));
  g_assert_true (SC_TEST_WAIT (online (), WAIT_MS));
  g_assert_true (
      SC_TEST_WAIT (sc_window_get_banner_text (f.window) == NULL, WAIT_MS));
  g_assert_nonnull (strstr (sc_window_get_status_text (f.window), "Online"));
}

/* The seed's "Recipient not online", shown on the message itself. */
static void
test_recipient_offline (void)
{
  ScConversationView *view = sc_window_get_conversation_view (f.window);
  g_autoptr (ScMessage) m = NULL;
  guint before = n_messages ("bob");

  sc_conversation_view_set_draft (view, "Are you still there?");
  sc_conversation_view_send (view);
  g_assert_cmpuint (n_messages ("bob"), ==, before + 1);
  m = last_message ("bob");
  g_assert_true (SC_TEST_WAIT (
      sc_message_get_delivery (m) != SC_DELIVERY_SENDING, WAIT_MS));
  g_assert_cmpint (sc_message_get_delivery (m), ==, SC_DELIVERY_OFFLINE);
  g_assert_nonnull (sc_message_get_error (m));
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "08-not-delivered");
}

/* Close the window and open a new one: log in again and the
 * conversation is back from disk, in 0600 files. */
static void
test_history_after_restart (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;
  g_autoptr (ScMessage) first = NULL;
  GStatBuf st;
  GSettings *settings;
  guint before = n_messages ("bob");

  g_assert_cmpuint (before, ==, 4);
  dir = g_build_filename (
      sc_connection_get_data_dir (sc_window_get_connection (f.window)),
      "history", NULL);
  file = g_build_filename (dir, "bob.jsonl", NULL);
  g_assert_cmpint (g_stat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* The size it closes with is the size it opens with. */
  gtk_window_set_default_size (GTK_WINDOW (f.window), 1000, 700);
  gtk_window_close (GTK_WINDOW (f.window));
  settings = sc_application_get_settings (f.app);
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 1000);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 700);
  g_assert_true (
      SC_TEST_WAIT (sc_application_get_window (f.app) == NULL, WAIT_MS));
  new_window ();
  {
    int w = 0, h = 0;

    gtk_window_get_default_size (GTK_WINDOW (f.window), &w, &h);
    g_assert_cmpint (w, ==, 1000);
    g_assert_cmpint (h, ==, 700);
  }
  /* The remembered server and user are filled in. */
  g_assert_cmpstr (
      gtk_editable_get_text (sc_login_page_get_user_row (login_page ())), ==,
      "alice");
  fill_login ("alice", ALICE_PW);
  click_login ();
  g_assert_true (SC_TEST_WAIT (online (), WAIT_MS));
  g_assert_cmpuint (n_messages ("bob"), ==, before);
  first = g_list_model_get_item (
      sc_conversation_get_messages (conversation ("bob")), 0);
  g_assert_cmpstr (sc_message_get_text (first), ==, "Hello bob, this is alice");
  g_assert_cmpint (sc_message_get_delivery (first), ==, SC_DELIVERY_SENT);
  g_assert_true (sc_conversation_get_verified (conversation ("bob")));
  sc_window_open_conversation (f.window, "bob");
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "09-history");
}

/* A contact we never exchanged a message with: the window fetches the
 * key and shows the same number as carol's securechat-cli. */
static void
test_safety_number_before_messages (void)
{
  const char *verify_args[] = { "verify", "alice", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  GtkWindow *dialog;
  int rc;

  /* carol logs in once (publishing her keys) and computes the number. */
  rc = sc_test_cli_run (f.server, "carol", verify_args, WAIT_MS, &out, NULL,
                        &error);
  g_assert_no_error (error);
  g_assert_cmpint (rc, ==, 0);
  g_strchomp (out);

  g_assert_nonnull (
      sc_chat_ensure (sc_window_get_chat (f.window), "carol", &error));
  sc_window_open_conversation (f.window, "carol");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f.window),
                                             "win.safety-number", NULL));
  g_assert_true (SC_TEST_WAIT (
      SC_IS_SAFETY_DIALOG (sc_window_get_dialog (f.window)), WAIT_MS));
  dialog = sc_window_get_dialog (f.window);
  g_assert_cmpstr (
      sc_safety_dialog_get_safety_number (SC_SAFETY_DIALOG (dialog)), ==, out);
  gtk_window_destroy (dialog);
}

/* bob reinstalls (new identity key) and writes: the conversation says so
 * before alice sends anything, and nothing is sent until she accepts. */
static void
test_identity_change (void)
{
  const char *send_args[] = { "send", "alice", "New laptop, same bob", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *bob_data = g_build_filename (
      sc_test_server_get_dir (f.server), "cli", "bob", "data", NULL);
  ScConversationView *view = sc_window_get_conversation_view (f.window);
  g_autoptr (ScMessage) refused = NULL;
  GtkWindow *dialog;
  guint before;
  int rc;

  sc_window_open_conversation (f.window, "bob");
  before = n_messages ("bob");
  g_assert_true (sc_test_rm_rf (bob_data));
  rc =
      sc_test_cli_run (f.server, "bob", send_args, WAIT_MS, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rc, ==, 0);
  g_assert_true (SC_TEST_WAIT (
      sc_conversation_get_identity_changed (conversation ("bob")), WAIT_MS));
  g_assert_false (sc_conversation_get_verified (conversation ("bob")));
  /* A notice in the conversation, and bob's message after it. */
  g_assert_true (SC_TEST_WAIT (n_messages ("bob") >= before + 2, WAIT_MS));
  {
    g_autoptr (ScMessage) notice = g_list_model_get_item (
        sc_conversation_get_messages (conversation ("bob")), before);

    g_assert_cmpint (sc_message_get_kind (notice), ==, SC_MESSAGE_NOTICE);
    g_assert_nonnull (strstr (sc_message_get_text (notice), "security key"));
  }
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "10-key-changed");

  /* The composer refuses while the change is not accepted. */
  sc_conversation_view_set_draft (view, "Is that really you?");
  sc_conversation_view_send (view);
  refused = last_message ("bob");
  g_assert_cmpstr (sc_message_get_text (refused), !=, "Is that really you?");

  /* Review and accept the new key. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f.window),
                                             "win.safety-number", NULL));
  dialog = sc_window_get_dialog (f.window);
  g_assert_true (SC_IS_SAFETY_DIALOG (dialog));
  g_assert_true (sc_safety_dialog_get_changed (SC_SAFETY_DIALOG (dialog)));
  sc_test_wait_for_draw (GTK_WIDGET (dialog));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "11-key-changed-dialog");
  g_signal_emit_by_name (
      dialog, "accept-key",
      sc_safety_dialog_get_safety_number (SC_SAFETY_DIALOG (dialog)));
  g_assert_false (sc_conversation_get_identity_changed (conversation ("bob")));
  g_assert_false (sc_safety_dialog_get_changed (SC_SAFETY_DIALOG (dialog)));
  gtk_window_destroy (dialog);
}

/* The pinned server key no longer matches: a hard stop, like ssh's. */
static void
test_server_key_changed (void)
{
  g_autofree char *known_path =
      g_build_filename (f.home, "config", "securechat", "known_servers", NULL);
  g_autofree char *line = g_strdup_printf (
      "%s SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
      sc_test_server_get_address (f.server));
  g_autoptr (GError) error = NULL;
  GtkWindow *dialog;

  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (f.window), "win.log-out", NULL));
  g_assert_cmpstr (sc_window_get_page (f.window), ==, "login");
  g_assert_true (g_file_set_contents (known_path, line, -1, &error));
  g_assert_no_error (error);
  fill_login ("alice", ALICE_PW);
  click_login ();
  g_assert_true (
      SC_TEST_WAIT (sc_window_get_dialog (f.window) != NULL, WAIT_MS));
  dialog = sc_window_get_dialog (f.window);
  g_assert_true (ADW_IS_MESSAGE_DIALOG (dialog));
  g_assert_true (
      adw_message_dialog_has_response (ADW_MESSAGE_DIALOG (dialog), "close"));
  g_assert_false (
      adw_message_dialog_has_response (ADW_MESSAGE_DIALOG (dialog), "trust"));
  g_assert_cmpstr (sc_window_get_page (f.window), ==, "login");
  g_assert_nonnull (sc_login_page_get_error (login_page ()));
  sc_test_wait_for_draw (GTK_WIDGET (dialog));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "12-server-key-changed");
  respond (dialog, "close");
}

int
main (int argc, char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *data = NULL;
  int rc;

  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      printf ("1..0 # SKIP no display\n");
      return 0;
    }
  g_assert_cmpint (sc_init (), ==, 0);
  adw_init ();
  /* Screenshots of the final state, not of a transition. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE,
                NULL);

  f.server = sc_test_server_new (&error);
  g_assert_no_error (error);
  g_assert_true (sc_test_server_add_user (f.server, "alice", ALICE_PW, &error));
  g_assert_true (sc_test_server_add_user (f.server, "bob", BOB_PW, &error));
  g_assert_true (sc_test_server_add_user (f.server, "carol",
                                          "carol-gui-password", &error));
  g_assert_true (sc_test_server_start (f.server, &error));
  g_assert_no_error (error);

  /* The window's own files, apart from the CLI's. */
  f.home = g_build_filename (sc_test_server_get_dir (f.server), "gui", NULL);
  config = g_build_filename (f.home, "config", NULL);
  data = g_build_filename (f.home, "data", NULL);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);

  start_notification_server ();
  f.app = sc_application_new ();
  g_assert_nonnull (f.app);
  /* One test process must not meet another's instance on the bus. */
  g_application_set_flags (G_APPLICATION (f.app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (f.app), NULL, &error));
  g_assert_no_error (error);
  /* The application would quit with its last window; the test decides. */
  g_application_hold (G_APPLICATION (f.app));

  g_test_add_func ("/gui/login-page", test_login_page);
  g_test_add_func ("/gui/first-contact-and-wrong-password",
                   test_first_contact_and_wrong_password);
  g_test_add_func ("/gui/login", test_login);
  g_test_add_func ("/gui/chat-with-cli", test_chat_with_cli);
  g_test_add_func ("/gui/notification", test_notification);
  g_test_add_func ("/gui/safety-number", test_safety_number);
  g_test_add_func ("/gui/reconnect", test_reconnect);
  g_test_add_func ("/gui/recipient-offline", test_recipient_offline);
  g_test_add_func ("/gui/history-after-restart", test_history_after_restart);
  g_test_add_func ("/gui/safety-number-before-messages",
                   test_safety_number_before_messages);
  g_test_add_func ("/gui/identity-change", test_identity_change);
  g_test_add_func ("/gui/server-key-changed", test_server_key_changed);
  rc = g_test_run ();

  if (f.window != NULL)
    gtk_window_destroy (GTK_WINDOW (f.window));
  g_application_release (G_APPLICATION (f.app));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f.app);
  if (sc_test_server_is_running (f.server))
    {
      g_assert_true (sc_test_server_stop (f.server, &error));
      g_assert_no_error (error);
    }
  g_clear_pointer (&f.server, sc_test_server_free);
  g_free (f.home);
  g_clear_object (&notifications.bus);
  g_free (notifications.last_summary);
  g_free (notifications.last_body);
  g_free (notifications.last_actions);
  return rc;
}
