/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-window.h"

#include <glib/gi18n.h>

#include "sc-conversation-row.h"
#include "sc-new-chat-dialog.h"
#include "sc-safety-dialog.h"
#include "sc-server-key-dialog.h"

struct _ScWindow
{
  AdwApplicationWindow parent_instance;

  /* Template children. */
  AdwToastOverlay *toasts;
  GtkStack *stack;
  ScLoginPage *login_page;
  AdwLeaflet *leaflet;
  AdwWindowTitle *account_title;
  GtkRevealer *reconnect_revealer;
  GtkLabel *reconnect_label;
  GtkStack *sidebar_stack;
  GtkListView *sidebar_list;
  AdwWindowTitle *conversation_title;
  GtkWidget *safety_button;
  GtkStack *content_stack;
  ScConversationView *conversation_view;

  GSettings *settings;
  ScConnection *connection;
  ScChat *chat;
  /* The open conversation (a reference), or NULL. */
  ScConversation *current;
  gulong current_notify_id;

  GtkFilter *filter;
  GtkSorter *sorter;
  GtkFilterListModel *filtered;
  GtkSortListModel *sorted;
  GtkSingleSelection *selection;

  /* This connection reached ONLINE at least once: losses reconnect. */
  gboolean was_online;
  guint countdown_id;
  GtkWindow *dialog; /* weak */
  char *last_toast;
  /* The peer whose keys are fetched to show the safety number. */
  char *safety_pending;
};

G_DEFINE_FINAL_TYPE (ScWindow, sc_window, ADW_TYPE_APPLICATION_WINDOW)

static void
toast (ScWindow *self, const char *text)
{
  AdwToast *t = adw_toast_new (text);

  adw_toast_set_timeout (t, 6);
  adw_toast_overlay_add_toast (self->toasts, t);
  g_free (self->last_toast);
  self->last_toast = g_strdup (text);
}

static void
set_dialog (ScWindow *self, GtkWindow *dialog)
{
  if (self->dialog != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->dialog),
                                  (gpointer *) &self->dialog);
  self->dialog = dialog;
  if (dialog != NULL)
    g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
}

/* --- titles and the reconnect banner ---------------------------------- */

static guint
seconds_until (gint64 monotonic_us)
{
  gint64 left = monotonic_us - g_get_monotonic_time ();

  if (left <= 0)
    return 0;
  return (guint) ((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
}

static void update_status (ScWindow *self);

static gboolean
countdown_cb (gpointer data)
{
  update_status (data);
  return G_SOURCE_CONTINUE;
}

static void
update_status (ScWindow *self)
{
  ScConnectionState state = self->connection != NULL
                                ? sc_connection_get_state (self->connection)
                                : SC_CONNECTION_IDLE;
  g_autofree char *status = NULL;
  g_autofree char *banner = NULL;

  switch (state)
    {
    case SC_CONNECTION_ONLINE:
      status = g_strdup_printf (_ ("Online · %s"),
                                sc_connection_get_server (self->connection));
      break;
    case SC_CONNECTION_CONNECTING:
      status =
          g_strdup (self->was_online ? _ ("Reconnecting…") : _ ("Connecting…"));
      if (self->was_online)
        banner = g_strdup (_ ("Connection lost. Reconnecting…"));
      break;
    case SC_CONNECTION_WAITING:
      {
        guint s = seconds_until (sc_connection_get_retry_at (self->connection));

        status = g_strdup_printf (
            g_dngettext (GETTEXT_PACKAGE, "Offline · retrying in %u second",
                         "Offline · retrying in %u seconds", s),
            s);
        banner = g_strdup_printf (
            g_dngettext (GETTEXT_PACKAGE,
                         "Connection lost. Reconnecting in %u second…",
                         "Connection lost. Reconnecting in %u seconds…", s),
            s);
      }
      break;
    case SC_CONNECTION_STOPPED:
      status = g_strdup (_ ("Offline"));
      break;
    case SC_CONNECTION_IDLE:
    default:
      status = g_strdup ("");
      break;
    }
  adw_window_title_set_subtitle (self->account_title, status);
  if (banner != NULL)
    gtk_label_set_text (self->reconnect_label, banner);
  gtk_revealer_set_reveal_child (self->reconnect_revealer, banner != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.retry-now",
                                 state == SC_CONNECTION_WAITING);

  /* A second timer only while there is a countdown to show. */
  if (state == SC_CONNECTION_WAITING && self->countdown_id == 0)
    self->countdown_id = g_timeout_add_seconds (1, countdown_cb, self);
  else if (state != SC_CONNECTION_WAITING)
    g_clear_handle_id (&self->countdown_id, g_source_remove);
}

static void
update_conversation_title (ScWindow *self)
{
  ScConversation *c = self->current;
  const char *subtitle;

  if (c == NULL)
    {
      adw_window_title_set_title (self->conversation_title, "");
      adw_window_title_set_subtitle (self->conversation_title, "");
      gtk_widget_set_visible (self->safety_button, FALSE);
      return;
    }
  if (sc_conversation_get_identity_changed (c))
    subtitle = _ ("Security key changed");
  else if (sc_conversation_get_verified (c))
    subtitle = sc_conversation_get_online (c) ? _ ("Online · Verified")
                                              : _ ("Offline · Verified");
  else
    subtitle = sc_conversation_get_online (c) ? _ ("Online") : _ ("Offline");
  adw_window_title_set_title (self->conversation_title,
                              sc_conversation_get_peer (c));
  adw_window_title_set_subtitle (self->conversation_title, subtitle);
  gtk_widget_set_visible (self->safety_button, TRUE);
}

/* --- the sidebar ------------------------------------------------------ */

static gboolean
sidebar_filter_cb (gpointer item, gpointer data)
{
  ScConversation *c = item;
  ScWindow *self = data;

  return sc_conversation_get_online (c) ||
         g_list_model_get_n_items (sc_conversation_get_messages (c)) > 0 ||
         c == self->current;
}

/* Most recent conversation first; people without messages after, online
 * ones before offline ones, then by name. */
static int
sidebar_sort_cb (gconstpointer a, gconstpointer b, gpointer data)
{
  ScConversation *ca = (ScConversation *) a;
  ScConversation *cb = (ScConversation *) b;
  gint64 ta = sc_conversation_get_last_activity (ca);
  gint64 tb = sc_conversation_get_last_activity (cb);
  gboolean oa = sc_conversation_get_online (ca);
  gboolean ob = sc_conversation_get_online (cb);

  if (ta != tb)
    return ta > tb ? -1 : 1;
  if (oa != ob)
    return oa ? -1 : 1;
  return g_utf8_collate (sc_conversation_get_peer (ca),
                         sc_conversation_get_peer (cb));
}

static void
select_current (ScWindow *self)
{
  GListModel *model = G_LIST_MODEL (self->sorted);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScConversation) c = g_list_model_get_item (model, i);

      if (c == self->current)
        {
          gtk_single_selection_set_selected (self->selection, i);
          return;
        }
    }
  gtk_single_selection_set_selected (self->selection,
                                     GTK_INVALID_LIST_POSITION);
}

static void
update_sidebar_page (ScWindow *self)
{
  gboolean empty = g_list_model_get_n_items (G_LIST_MODEL (self->sorted)) == 0;

  gtk_stack_set_visible_child_name (self->sidebar_stack,
                                    empty ? "empty" : "list");
}

static void
conversation_changed_cb (ScChat *chat,
                         ScConversation *conversation,
                         ScWindow *self)
{
  gtk_filter_changed (self->filter, GTK_FILTER_CHANGE_DIFFERENT);
  gtk_sorter_changed (self->sorter, GTK_SORTER_CHANGE_DIFFERENT);
  select_current (self);
  update_sidebar_page (self);
}

static void
sidebar_items_changed_cb (GListModel *model,
                          guint position,
                          guint removed,
                          guint added,
                          ScWindow *self)
{
  update_sidebar_page (self);
}

static void
setup_sidebar_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  gtk_list_item_set_child (item, sc_conversation_row_new ());
}

static void
bind_sidebar_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  sc_conversation_row_bind (
      SC_CONVERSATION_ROW (gtk_list_item_get_child (item)),
      gtk_list_item_get_item (item));
}

static void
unbind_sidebar_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  sc_conversation_row_unbind (
      SC_CONVERSATION_ROW (gtk_list_item_get_child (item)));
}

/* --- the open conversation ------------------------------------------ */

static void
current_notify_cb (ScConversation *conversation,
                   GParamSpec *pspec,
                   ScWindow *self)
{
  update_conversation_title (self);
}

static void
show_conversation (ScWindow *self, ScConversation *conversation)
{
  if (self->current != NULL)
    {
      g_clear_signal_handler (&self->current_notify_id, self->current);
      g_clear_object (&self->current);
    }
  /* During dispose, after the template children are gone. */
  if (self->conversation_view == NULL)
    return;
  if (conversation != NULL)
    {
      self->current = g_object_ref (conversation);
      self->current_notify_id = g_signal_connect (
          conversation, "notify", G_CALLBACK (current_notify_cb), self);
      sc_chat_mark_read (self->chat, conversation);
      sc_chat_refresh_trust (self->chat, conversation);
      if (g_application_get_default () != NULL)
        g_application_withdraw_notification (
            g_application_get_default (),
            sc_conversation_get_peer (conversation));
    }
  sc_conversation_view_set_conversation (self->conversation_view, self->chat,
                                         conversation);
  gtk_stack_set_visible_child_name (
      self->content_stack, conversation != NULL ? "conversation" : "none");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.safety-number",
                                 conversation != NULL);
  update_conversation_title (self);
  if (self->filter != NULL)
    {
      gtk_filter_changed (self->filter, GTK_FILTER_CHANGE_LESS_STRICT);
      select_current (self);
    }
  if (conversation != NULL)
    {
      adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
      sc_conversation_view_focus_composer (self->conversation_view);
    }
}

static void
sidebar_activate_cb (ScWindow *self, guint position)
{
  g_autoptr (ScConversation) c =
      g_list_model_get_item (G_LIST_MODEL (self->sorted), position);

  if (c != NULL)
    show_conversation (self, c);
}

static void
back_clicked_cb (ScWindow *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

void
sc_window_open_conversation (ScWindow *self, const char *peer)
{
  ScConversation *c;

  g_return_if_fail (SC_IS_WINDOW (self));

  if (self->chat == NULL)
    return;
  c = sc_chat_lookup (self->chat, peer);
  if (c != NULL)
    show_conversation (self, c);
}

static void
send_failed_cb (ScWindow *self, const char *message)
{
  toast (self, message);
}

/* --- trust ------------------------------------------------------------ */

static void
safety_verify_cb (ScSafetyDialog *dialog, gboolean verified, ScWindow *self);
static void
safety_accept_cb (ScSafetyDialog *dialog, const char *number, ScWindow *self);

static void
refresh_safety_dialog (ScWindow *self, ScSafetyDialog *dialog, const char *peer)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *number = NULL;
  ScContactTrust trust = { 0 };
  ScConversation *c = sc_chat_lookup (self->chat, peer);

  if (c != NULL)
    sc_chat_refresh_trust (self->chat, c);
  number = sc_connection_get_safety_number (self->connection, peer, &error);
  if (number == NULL ||
      !sc_connection_get_trust (self->connection, peer, &trust, &error))
    {
      toast (self, error->message);
      return;
    }
  sc_safety_dialog_set_state (dialog, number, trust.verified, trust.changed);
}

static void
safety_verify_cb (ScSafetyDialog *dialog, gboolean verified, ScWindow *self)
{
  const char *peer = g_object_get_data (G_OBJECT (dialog), "peer");
  g_autoptr (GError) error = NULL;

  if (!sc_connection_set_verified (self->connection, peer, verified, &error))
    toast (self, error->message);
  refresh_safety_dialog (self, dialog, peer);
}

static void
safety_accept_cb (ScSafetyDialog *dialog, const char *number, ScWindow *self)
{
  const char *peer = g_object_get_data (G_OBJECT (dialog), "peer");
  g_autoptr (GError) error = NULL;

  if (!sc_connection_accept_identity (self->connection, peer, number, &error))
    toast (self, error->message);
  refresh_safety_dialog (self, dialog, peer);
}

static void
show_safety_dialog (ScWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *number = NULL;
  ScContactTrust trust = { 0 };
  ScSafetyDialog *dialog;
  const char *peer;

  if (self->current == NULL || self->connection == NULL)
    return;
  peer = sc_conversation_get_peer (self->current);
  number = sc_connection_get_safety_number (self->connection, peer, &error);
  if (number == NULL)
    {
      gboolean pending = FALSE;

      if (!g_error_matches (error, SC_CONNECTION_ERROR,
                            SC_CONNECTION_ERROR_NOT_FOUND))
        {
          toast (self, error->message);
          return;
        }
      /* Nothing exchanged yet: fetch the key from the server, then show
       * the number (keys_fetched_cb). */
      g_clear_error (&error);
      if (!sc_connection_fetch_keys (self->connection, peer, &pending, &error))
        {
          toast (self, error->message);
          return;
        }
      if (!pending)
        {
          /* The key store knows the key but has no number for it. */
          toast (self, _ ("The safety number is not available yet."));
          return;
        }
      g_free (self->safety_pending);
      self->safety_pending = g_strdup (peer);
      return;
    }
  g_clear_pointer (&self->safety_pending, g_free);
  if (!sc_connection_get_trust (self->connection, peer, &trust, &error))
    {
      toast (self, error->message);
      return;
    }
  dialog = sc_safety_dialog_new (GTK_WINDOW (self),
                                 sc_connection_get_user (self->connection),
                                 peer, number, trust.verified, trust.changed);
  g_object_set_data_full (G_OBJECT (dialog), "peer", g_strdup (peer), g_free);
  g_signal_connect_object (dialog, "verify-changed",
                           G_CALLBACK (safety_verify_cb), self, 0);
  g_signal_connect_object (dialog, "accept-key", G_CALLBACK (safety_accept_cb),
                           self, 0);
  set_dialog (self, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
keys_fetched_cb (ScConnection *connection,
                 const char *peer,
                 gboolean ok,
                 const char *message,
                 ScWindow *self)
{
  if (g_strcmp0 (peer, self->safety_pending) != 0)
    return;
  g_clear_pointer (&self->safety_pending, g_free);
  if (!ok)
    {
      toast (self, message);
      return;
    }
  /* Only if the user is still looking at that conversation. */
  if (self->current != NULL &&
      g_str_equal (sc_conversation_get_peer (self->current), peer))
    show_safety_dialog (self);
}

static void
review_key_cb (ScWindow *self)
{
  show_safety_dialog (self);
}

/* --- connection events ------------------------------------------------ */

static void
remember_login (ScWindow *self)
{
  gboolean remember = sc_login_page_get_remember (self->login_page);

  g_settings_set_boolean (self->settings, "remember-login", remember);
  if (remember)
    {
      g_settings_set_string (self->settings, "last-server",
                             sc_login_page_get_server (self->login_page));
      g_settings_set_string (self->settings, "last-user",
                             sc_login_page_get_user (self->login_page));
    }
  else
    {
      g_settings_reset (self->settings, "last-server");
      g_settings_reset (self->settings, "last-user");
    }
}

static void
logged_in_cb (ScConnection *connection, ScWindow *self)
{
  if (!self->was_online)
    {
      self->was_online = TRUE;
      remember_login (self);
      sc_login_page_clear_password (self->login_page);
      sc_login_page_set_busy (self->login_page, FALSE);
      sc_login_page_set_error (self->login_page, NULL);
      adw_window_title_set_title (self->account_title,
                                  sc_connection_get_user (connection));
      gtk_stack_set_visible_child_name (self->stack, "chat");
    }
  else
    toast (self, _ ("Connected again"));
  update_status (self);
}

static void
back_to_login (ScWindow *self, const char *message)
{
  show_conversation (self, NULL);
  sc_login_page_set_busy (self->login_page, FALSE);
  sc_login_page_set_error (self->login_page, message);
  gtk_stack_set_visible_child_name (self->stack, "login");
  sc_login_page_focus (self->login_page);
}

static void
stopped_cb (ScConnection *connection,
            ScStopReason reason,
            const char *message,
            ScWindow *self)
{
  update_status (self);
  switch (reason)
    {
    case SC_STOP_USER:
      return;
    case SC_STOP_SERVER_KEY_UNKNOWN:
      /* The dialog takes over; the form stays busy until it answers. */
      return;
    case SC_STOP_AUTH_FAILED:
    case SC_STOP_RATE_LIMITED:
      sc_login_page_clear_password (self->login_page);
      break;
    case SC_STOP_CONNECT_FAILED:
    case SC_STOP_SERVER_KEY_CHANGED:
    case SC_STOP_REPLACED:
    case SC_STOP_PROTOCOL:
    case SC_STOP_LOCAL:
    default:
      break;
    }
  back_to_login (self, message);
}

static void
unknown_key_response_cb (AdwMessageDialog *dialog,
                         const char *response,
                         ScWindow *self)
{
  const char *fp = g_object_get_data (G_OBJECT (dialog), "fingerprint");

  if (self->connection == NULL)
    return;
  if (g_strcmp0 (response, "trust") == 0)
    sc_connection_trust_server_key (self->connection, fp);
  else
    back_to_login (self, _ ("Not connected: you did not confirm the "
                            "server’s key."));
}

static void
server_key_unknown_cb (ScConnection *connection,
                       const char *fingerprint,
                       ScWindow *self)
{
  GtkWindow *dialog = sc_server_key_dialog_new_unknown (
      GTK_WINDOW (self), sc_connection_get_server (connection), fingerprint);

  g_object_set_data_full (G_OBJECT (dialog), "fingerprint",
                          g_strdup (fingerprint), g_free);
  g_signal_connect_object (dialog, "response",
                           G_CALLBACK (unknown_key_response_cb), self, 0);
  set_dialog (self, dialog);
  gtk_window_present (dialog);
}

static void
server_key_changed_cb (ScConnection *connection,
                       const char *pinned,
                       const char *seen,
                       const char *path,
                       guint line,
                       ScWindow *self)
{
  GtkWindow *dialog = sc_server_key_dialog_new_changed (
      GTK_WINDOW (self), sc_connection_get_server (connection), pinned, seen,
      path, line);

  set_dialog (self, dialog);
  gtk_window_present (dialog);
}

static void
connection_lost_cb (ScConnection *connection,
                    const char *message,
                    ScWindow *self)
{
  update_status (self);
}

static void
server_error_cb (ScConnection *connection,
                 int code,
                 const char *message,
                 ScWindow *self)
{
  toast (self, message);
}

static void
keys_ready_cb (ScConnection *connection,
               gboolean ok,
               const char *message,
               ScWindow *self)
{
  if (!ok)
    toast (self, message);
}

static void
state_notify_cb (ScConnection *connection, GParamSpec *pspec, ScWindow *self)
{
  update_status (self);
}

static void
chat_problem_cb (ScChat *chat, const char *message, ScWindow *self)
{
  toast (self, message);
}

static void
incoming_cb (ScChat *chat,
             ScConversation *conversation,
             ScMessage *message,
             ScWindow *self)
{
  GApplication *app = g_application_get_default ();
  gboolean active = gtk_window_is_active (GTK_WINDOW (self));
  g_autoptr (GNotification) notification = NULL;
  const char *peer = sc_conversation_get_peer (conversation);

  if (active && conversation == self->current)
    {
      sc_chat_mark_read (chat, conversation);
      return;
    }
  if (active || app == NULL || !g_application_get_is_registered (app) ||
      !g_settings_get_boolean (self->settings, "notifications"))
    return;
  notification = g_notification_new (peer);
  g_notification_set_body (notification, sc_message_get_text (message));
  g_notification_set_default_action_and_target (
      notification, "app.open-conversation", "s", peer);
  /* One notification per peer: a newer message replaces the older. */
  g_application_send_notification (app, peer, notification);
}

static void
drop_account (ScWindow *self)
{
  show_conversation (self, NULL);
  if (self->connection != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->connection, self);
      sc_connection_stop (self->connection);
    }
  if (self->chat != NULL)
    g_signal_handlers_disconnect_by_data (self->chat, self);
  if (self->filtered != NULL)
    gtk_filter_list_model_set_model (self->filtered, NULL);
  g_clear_object (&self->chat);
  g_clear_object (&self->connection);
  self->was_online = FALSE;
  g_clear_handle_id (&self->countdown_id, g_source_remove);
}

static void
login_submit_cb (ScWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScConnection) connection = NULL;
  g_autoptr (ScChat) chat = NULL;
  const char *server = sc_login_page_get_server (self->login_page);
  const char *user = sc_login_page_get_user (self->login_page);

  drop_account (self);
  sc_login_page_set_error (self->login_page, NULL);

  connection = sc_connection_new (server, user, NULL, NULL, &error);
  if (connection != NULL)
    chat = sc_chat_new (connection, &error);
  if (chat == NULL)
    {
      sc_login_page_set_error (self->login_page, error->message);
      return;
    }
  self->connection = g_steal_pointer (&connection);
  self->chat = g_steal_pointer (&chat);

  g_signal_connect_object (self->connection, "logged-in",
                           G_CALLBACK (logged_in_cb), self, 0);
  g_signal_connect_object (self->connection, "stopped", G_CALLBACK (stopped_cb),
                           self, 0);
  g_signal_connect_object (self->connection, "server-key-unknown",
                           G_CALLBACK (server_key_unknown_cb), self, 0);
  g_signal_connect_object (self->connection, "server-key-changed",
                           G_CALLBACK (server_key_changed_cb), self, 0);
  g_signal_connect_object (self->connection, "connection-lost",
                           G_CALLBACK (connection_lost_cb), self, 0);
  g_signal_connect_object (self->connection, "server-error",
                           G_CALLBACK (server_error_cb), self, 0);
  g_signal_connect_object (self->connection, "keys-ready",
                           G_CALLBACK (keys_ready_cb), self, 0);
  g_signal_connect_object (self->connection, "keys-fetched",
                           G_CALLBACK (keys_fetched_cb), self, 0);
  g_signal_connect_object (self->connection, "notify::state",
                           G_CALLBACK (state_notify_cb), self, 0);
  g_signal_connect_object (self->connection, "notify::retry-at",
                           G_CALLBACK (state_notify_cb), self, 0);
  g_signal_connect_object (self->chat, "problem", G_CALLBACK (chat_problem_cb),
                           self, 0);
  g_signal_connect_object (self->chat, "incoming", G_CALLBACK (incoming_cb),
                           self, 0);
  g_signal_connect_object (self->chat, "conversation-changed",
                           G_CALLBACK (conversation_changed_cb), self, 0);
  gtk_filter_list_model_set_model (self->filtered,
                                   sc_chat_get_conversations (self->chat));
  update_sidebar_page (self);

  sc_login_page_set_busy (self->login_page, TRUE);
  if (!sc_connection_start (self->connection,
                            sc_login_page_get_password (self->login_page),
                            &error))
    {
      sc_login_page_set_busy (self->login_page, FALSE);
      sc_login_page_set_error (self->login_page, error->message);
      drop_account (self);
      return;
    }
  update_status (self);
}

/* --- actions ---------------------------------------------------------- */

static void
new_chat_response_cb (AdwMessageDialog *dialog,
                      const char *response,
                      ScWindow *self)
{
  g_autoptr (GError) error = NULL;
  ScConversation *c;

  if (g_strcmp0 (response, "start") != 0 || self->chat == NULL)
    return;
  c = sc_chat_ensure (self->chat,
                      sc_new_chat_dialog_get_name (SC_NEW_CHAT_DIALOG (dialog)),
                      &error);
  if (c == NULL)
    {
      toast (self, error->message);
      return;
    }
  show_conversation (self, c);
}

static void
new_chat_action (GtkWidget *widget, const char *name, GVariant *param)
{
  ScWindow *self = SC_WINDOW (widget);
  ScNewChatDialog *dialog;

  if (self->chat == NULL ||
      g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "chat") != 0)
    return;
  dialog = sc_new_chat_dialog_new (GTK_WINDOW (self),
                                   sc_connection_get_user (self->connection));
  g_signal_connect_object (dialog, "response",
                           G_CALLBACK (new_chat_response_cb), self, 0);
  set_dialog (self, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
safety_number_action (GtkWidget *widget, const char *name, GVariant *param)
{
  show_safety_dialog (SC_WINDOW (widget));
}

static void
retry_now_action (GtkWidget *widget, const char *name, GVariant *param)
{
  ScWindow *self = SC_WINDOW (widget);

  if (self->connection != NULL)
    sc_connection_retry_now (self->connection);
}

static void
log_out_action (GtkWidget *widget, const char *name, GVariant *param)
{
  ScWindow *self = SC_WINDOW (widget);

  drop_account (self);
  back_to_login (self, NULL);
}

/* --- window ----------------------------------------------------------- */

static gboolean
sc_window_close_request (GtkWindow *window)
{
  ScWindow *self = SC_WINDOW (window);
  int width = 0, height = 0;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_delay (self->settings);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized",
                          gtk_window_is_maximized (window));
  g_settings_apply (self->settings);
  return GTK_WINDOW_CLASS (sc_window_parent_class)->close_request (window);
}

static void
active_notify_cb (ScWindow *self, GParamSpec *pspec, gpointer data)
{
  if (gtk_window_is_active (GTK_WINDOW (self)) && self->current != NULL &&
      self->chat != NULL)
    sc_chat_mark_read (self->chat, self->current);
}

ScWindow *
sc_window_new (GtkApplication *app, GSettings *settings)
{
  ScWindow *self = g_object_new (SC_TYPE_WINDOW, "application", app, NULL);
  g_autofree char *server = NULL;
  g_autofree char *user = NULL;
  gboolean remember;

  self->settings = g_object_ref (settings);
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (settings, "window-width"),
                               g_settings_get_int (settings, "window-height"));
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  remember = g_settings_get_boolean (settings, "remember-login");
  server = g_settings_get_string (settings, "last-server");
  user =
      remember ? g_settings_get_string (settings, "last-user") : g_strdup ("");
  if (!remember || server[0] == '\0')
    {
      g_autoptr (GVariant) def =
          g_settings_get_default_value (settings, "last-server");

      g_free (server);
      server = g_variant_dup_string (def, NULL);
    }
  sc_login_page_set_defaults (self->login_page, server, user, remember);
  sc_login_page_focus (self->login_page);
  return self;
}

ScLoginPage *
sc_window_get_login_page (ScWindow *self)
{
  return self->login_page;
}

ScConversationView *
sc_window_get_conversation_view (ScWindow *self)
{
  return self->conversation_view;
}

ScChat *
sc_window_get_chat (ScWindow *self)
{
  return self->chat;
}

ScConnection *
sc_window_get_connection (ScWindow *self)
{
  return self->connection;
}

const char *
sc_window_get_page (ScWindow *self)
{
  return gtk_stack_get_visible_child_name (self->stack);
}

const char *
sc_window_get_banner_text (ScWindow *self)
{
  if (!gtk_revealer_get_reveal_child (self->reconnect_revealer))
    return NULL;
  return gtk_label_get_text (self->reconnect_label);
}

const char *
sc_window_get_status_text (ScWindow *self)
{
  return adw_window_title_get_subtitle (self->account_title);
}

GtkWindow *
sc_window_get_dialog (ScWindow *self)
{
  return self->dialog;
}

GListModel *
sc_window_get_sidebar_model (ScWindow *self)
{
  return G_LIST_MODEL (self->sorted);
}

const char *
sc_window_get_last_toast (ScWindow *self)
{
  return self->last_toast != NULL ? self->last_toast : "";
}

static void
sc_window_dispose (GObject *object)
{
  ScWindow *self = SC_WINDOW (object);

  set_dialog (self, NULL);
  drop_account (self);
  if (self->sidebar_list != NULL)
    gtk_list_view_set_model (self->sidebar_list, NULL);
  g_clear_object (&self->selection);
  g_clear_object (&self->sorted);
  g_clear_object (&self->filtered);
  /* Owned by the models just released. */
  self->filter = NULL;
  self->sorter = NULL;
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), SC_TYPE_WINDOW);
  G_OBJECT_CLASS (sc_window_parent_class)->dispose (object);
}

static void
sc_window_finalize (GObject *object)
{
  ScWindow *self = SC_WINDOW (object);

  g_free (self->last_toast);
  g_free (self->safety_pending);
  G_OBJECT_CLASS (sc_window_parent_class)->finalize (object);
}

static void
sc_window_class_init (ScWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = sc_window_dispose;
  object_class->finalize = sc_window_finalize;
  window_class->close_request = sc_window_close_request;

  g_type_ensure (SC_TYPE_LOGIN_PAGE);
  g_type_ensure (SC_TYPE_CONVERSATION_VIEW);
  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/securechat/SecureChat/sc-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ScWindow, toasts);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, login_page);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, account_title);
  gtk_widget_class_bind_template_child (widget_class, ScWindow,
                                        reconnect_revealer);
  gtk_widget_class_bind_template_child (widget_class, ScWindow,
                                        reconnect_label);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, sidebar_stack);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, ScWindow,
                                        conversation_title);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, safety_button);
  gtk_widget_class_bind_template_child (widget_class, ScWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, ScWindow,
                                        conversation_view);
  gtk_widget_class_bind_template_callback (widget_class, login_submit_cb);
  gtk_widget_class_bind_template_callback (widget_class, sidebar_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, back_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, review_key_cb);
  gtk_widget_class_bind_template_callback (widget_class, send_failed_cb);

  gtk_widget_class_install_action (widget_class, "win.new-chat", NULL,
                                   new_chat_action);
  gtk_widget_class_install_action (widget_class, "win.safety-number", NULL,
                                   safety_number_action);
  gtk_widget_class_install_action (widget_class, "win.retry-now", NULL,
                                   retry_now_action);
  gtk_widget_class_install_action (widget_class, "win.log-out", NULL,
                                   log_out_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n,
                                       GDK_CONTROL_MASK, "win.new-chat", NULL);
  gtk_widget_class_add_binding_action (
      widget_class, GDK_KEY_i, GDK_CONTROL_MASK, "win.safety-number", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F5, 0,
                                       "win.retry-now", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w,
                                       GDK_CONTROL_MASK, "window.close", NULL);
}

static void
sc_window_init (ScWindow *self)
{
  GtkListItemFactory *factory;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->filter =
      GTK_FILTER (gtk_custom_filter_new (sidebar_filter_cb, self, NULL));
  self->sorter =
      GTK_SORTER (gtk_custom_sorter_new (sidebar_sort_cb, self, NULL));
  self->filtered = gtk_filter_list_model_new (NULL, self->filter);
  self->sorted = gtk_sort_list_model_new (
      G_LIST_MODEL (g_object_ref (self->filtered)), self->sorter);
  self->selection =
      gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->sorted)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  g_signal_connect (self->sorted, "items-changed",
                    G_CALLBACK (sidebar_items_changed_cb), self);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_sidebar_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_sidebar_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_sidebar_row_cb),
                    NULL);
  gtk_list_view_set_factory (self->sidebar_list, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->sidebar_list,
                           GTK_SELECTION_MODEL (self->selection));

  g_signal_connect (self, "notify::is-active", G_CALLBACK (active_notify_cb),
                    NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.safety-number", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.retry-now", FALSE);
  update_conversation_title (self);
  update_sidebar_page (self);
}
