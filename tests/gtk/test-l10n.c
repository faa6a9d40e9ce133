/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The real application in Filipino: run with LANGUAGE=fil and the
 * catalogue built in BUILDDIR/po (SC_TEST_LOCALEDIR). The windows and
 * dialogs show the Filipino texts, no English message of the catalogue
 * is left on any label, tooltip, accessible label or menu, nothing is cut
 * off, and the translated states are saved as PNG under
 * BUILDDIR/tests/gtk/screenshots/l10n-fil-*.png to be looked at. */
#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "sc-application.h"
#include "sc-new-chat-dialog.h"
#include "sc-safety-dialog.h"
#include "sc-server-key-dialog.h"
#include "sc-test-screenshot.h"
#include "sc-test-server.h"
#include "sc-test-widgets.h"
#include "securechat/init.h"

#define ALICE_PW "alice-l10n-password"
#define WAIT_MS  30000
#define NUMBER                                                                 \
  "05316 82774 11902 63458 90017 24683 55120 78391 40266 93805 17744 62039"
#define FINGERPRINT "SHA256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs"

static struct
{
  ScTestServer *server;
  ScApplication *app;
  ScWindow *window;
} f;

/* ---- walking what a window shows ---- */

typedef void (*TextFunc) (GtkWidget *widget,
                          const char *what,
                          const char *text,
                          gpointer data);

/* The accessible label, through the only reader GTK 4.8 has: the test
 * backend's check, which answers with the actual value when it differs
 * from the one given. NULL when there is none. */
static char *
accessible_label (GtkWidget *widget)
{
  char *value;

  if (!gtk_test_accessible_has_property (GTK_ACCESSIBLE (widget),
                                         GTK_ACCESSIBLE_PROPERTY_LABEL))
    return NULL;
  value = gtk_test_accessible_check_property (
      GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, "\x01");
  if (value != NULL && value[0] == '\0')
    g_clear_pointer (&value, g_free);
  return value;
}

static void
each_menu_label (GMenuModel *model,
                 TextFunc func,
                 GtkWidget *owner,
                 gpointer data)
{
  for (int i = 0; i < g_menu_model_get_n_items (model); i++)
    {
      g_autofree char *label = NULL;
      g_autoptr (GMenuModel) section = NULL;
      g_autoptr (GMenuModel) submenu = NULL;

      if (g_menu_model_get_item_attribute (model, i, G_MENU_ATTRIBUTE_LABEL,
                                           "s", &label))
        func (owner, "menu item", label, data);
      section = g_menu_model_get_item_link (model, i, G_MENU_LINK_SECTION);
      if (section != NULL)
        each_menu_label (section, func, owner, data);
      submenu = g_menu_model_get_item_link (model, i, G_MENU_LINK_SUBMENU);
      if (submenu != NULL)
        each_menu_label (submenu, func, owner, data);
    }
}

/* Calls func for every text of root and its descendants: label texts
 * (with their mnemonic marks), tooltips, accessible labels, button
 * labels and menu items. Only mapped widgets when mapped_only. */
static void
each_text (GtkWidget *root, gboolean mapped_only, TextFunc func, gpointer data)
{
  g_autofree char *accessible = NULL;
  const char *tooltip = gtk_widget_get_tooltip_text (root);

  if (mapped_only && !gtk_widget_get_mapped (root))
    return;
  if (GTK_IS_LABEL (root))
    func (root, "label", gtk_label_get_label (GTK_LABEL (root)), data);
  if (GTK_IS_BUTTON (root) && gtk_button_get_label (GTK_BUTTON (root)) != NULL)
    func (root, "button", gtk_button_get_label (GTK_BUTTON (root)), data);
  if (tooltip != NULL)
    func (root, "tooltip", tooltip, data);
  accessible = accessible_label (root);
  if (accessible != NULL)
    func (root, "accessible label", accessible, data);
  if (GTK_IS_MENU_BUTTON (root) &&
      gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (root)) != NULL)
    each_menu_label (gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (root)),
                     func, root, data);
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    each_text (c, mapped_only, func, data);
}

/* A text that the catalogue translates is an English message that was
 * left untranslated on screen. */
static void
no_english_cb (GtkWidget *widget,
               const char *what,
               const char *text,
               gpointer data)
{
  guint *n = data;
  const char *plain = g_dgettext (GETTEXT_PACKAGE, text);
  const char *shortcut =
      g_dpgettext2 (GETTEXT_PACKAGE, "shortcut window", text);

  (*n)++;
  if (text[0] == '\0')
    return;
  if (plain != text && !g_str_equal (plain, text))
    g_error ("%s: %s “%s” is English; it should read “%s”",
             G_OBJECT_TYPE_NAME (widget), what, text, plain);
  if (shortcut != text && !g_str_equal (shortcut, text))
    g_error ("%s: %s “%s” is English; it should read “%s”",
             G_OBJECT_TYPE_NAME (widget), what, text, shortcut);
}

static void
assert_no_english (GtkWidget *root)
{
  guint n = 0;

  each_text (root, FALSE, no_english_cb, &n);
  g_test_message ("%s: %u texts checked", G_OBJECT_TYPE_NAME (root), n);
  g_assert_cmpuint (n, >, 0);
}

typedef struct
{
  const char *text;
  gboolean found;
} Find;

static void
find_text_cb (GtkWidget *widget,
              const char *what,
              const char *text,
              gpointer data)
{
  Find *find = data;

  if (g_str_equal (text, find->text))
    find->found = TRUE;
}

/* Each of texts is shown (mapped) somewhere under root. */
static void
assert_shown (GtkWidget *root, const char *const *texts)
{
  for (; *texts != NULL; texts++)
    {
      Find find = { *texts, FALSE };

      each_text (root, TRUE, find_text_cb, &find);
      if (!find.found)
        g_error ("%s does not show “%s”", G_OBJECT_TYPE_NAME (root), *texts);
    }
}

/* Each of texts is nowhere under root, shown or not. */
static void
assert_absent (GtkWidget *root, const char *const *texts)
{
  for (; *texts != NULL; texts++)
    {
      Find find = { *texts, FALSE };

      each_text (root, FALSE, find_text_cb, &find);
      if (find.found)
        g_error ("%s still has the English “%s”", G_OBJECT_TYPE_NAME (root),
                 *texts);
    }
}

/* Translations are longer than English: no label on screen may be cut
 * off with an ellipsis, nor be wider than its window. */
static void
assert_nothing_cut (GtkWidget *root)
{
  GtkWidget *window = GTK_WIDGET (gtk_widget_get_root (root));

  if (!gtk_widget_get_mapped (root))
    return;
  if (GTK_IS_LABEL (root))
    {
      PangoLayout *layout = gtk_label_get_layout (GTK_LABEL (root));
      graphene_rect_t bounds;

      if (pango_layout_is_ellipsized (layout))
        g_error ("label “%s” is cut off at %d px",
                 gtk_label_get_text (GTK_LABEL (root)),
                 gtk_widget_get_width (root));
      if (gtk_widget_compute_bounds (root, window, &bounds))
        {
          if (bounds.origin.x < 0 || bounds.origin.x + bounds.size.width >
                                         gtk_widget_get_width (window) + 0.5)
            g_error ("label “%s” runs out of its window (x %.0f, width %.0f "
                     "of %d)",
                     gtk_label_get_text (GTK_LABEL (root)), bounds.origin.x,
                     bounds.size.width, gtk_widget_get_width (window));
        }
    }
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    assert_nothing_cut (c);
}

static void
show (GtkWindow *window)
{
  gtk_window_present (window);
  sc_test_wait_for_draw (GTK_WIDGET (window));
}

static ScLoginPage *
login_page (void)
{
  return sc_window_get_login_page (f.window);
}

static gboolean
online (void)
{
  ScConnection *c = sc_window_get_connection (f.window);

  return c != NULL && sc_connection_get_state (c) == SC_CONNECTION_ONLINE &&
         g_str_equal (sc_window_get_page (f.window), "chat");
}

/* ---- tests ---- */

/* The catalogue itself: found through LANGUAGE, plurals and dates. */
static void
test_catalogue (void)
{
  static const char *const formats[] = { "%H:%M", "%a %H:%M", "%e %b %H:%M",
                                         "%e %b %Y %H:%M" };
  g_autoptr (GDateTime) when =
      g_date_time_new_utc (2026, 3, 7, 9, 5, 0); /* a single-digit day */

  /* LANGUAGE is ignored in the plain C locale; C.UTF-8 is not plain. */
  g_assert_cmpstr (setlocale (LC_MESSAGES, NULL), !=, "C");
  g_assert_cmpstr (_ ("_Log In"), ==, "_Mag-log In");
  g_assert_cmpstr (C_ ("shortcut window", "Keyboard shortcuts"), ==,
                   "Mga shortcut ng keyboard");
  g_assert_cmpstr (g_dngettext (GETTEXT_PACKAGE,
                                "Offline · retrying in %u second",
                                "Offline · retrying in %u seconds", 1),
                   ==, "Naka-offline · susubok muli pagkalipas ng %u segundo");
  g_assert_cmpstr (g_dngettext (GETTEXT_PACKAGE,
                                "Offline · retrying in %u second",
                                "Offline · retrying in %u seconds", 7),
                   ==, "Naka-offline · susubok muli pagkalipas ng %u segundo");

  /* The translated date formats still work as formats. */
  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autofree char *shown = g_date_time_format (when, _ (formats[i]));

      g_assert_nonnull (shown);
      g_assert_null (strchr (shown, '%'));
      g_assert_nonnull (strstr (shown, "09:05"));
      g_test_message ("%s → %s → %s", formats[i], _ (formats[i]), shown);
    }
}

static void
test_login_page (void)
{
  static const char *const filipino[] = {
    "Maligayang Pagdating sa SecureChat",
    "Mag-log in sa iyong server. May end-to-end encryption ang iyong mga "
    "mensahe: ikaw at ang mga kausap mo lamang ang makababasa ng mga ito.",
    "Server",
    "Username",
    "Password",
    "Tandaan ang Server at Username",
    "Hindi kailanman itinatabi ang iyong password",
    "_Mag-log In",
    "Pangunahing Menu",
    "Tandaan ang server at username",
    "Mga _Kagustuhan",
    "Mga _Shortcut ng Keyboard",
    "_Tungkol sa SecureChat",
    NULL,
  };
  static const char *const english[] = {
    "Welcome to SecureChat",
    "User Name",
    "Remember Server and User Name",
    "Your password is never saved",
    "_Log In",
    "Log In",
    "Main Menu",
    "_Preferences",
    "_Keyboard Shortcuts",
    "_About SecureChat",
    "Conversations",
    "No Conversations",
    "No Conversation Selected",
    "_Retry Now",
    "Send",
    "_Review",
    NULL,
  };
  GtkButton *button;

  g_application_activate (G_APPLICATION (f.app));
  f.window = sc_application_get_window (f.app);
  g_assert_nonnull (f.window);
  sc_test_wait_for_draw (GTK_WIDGET (f.window));
  g_assert_cmpstr (sc_window_get_page (f.window), ==, "login");

  button = sc_login_page_get_login_button (login_page ());
  g_assert_cmpstr (gtk_button_get_label (button), ==, "_Mag-log In");
  g_assert_true (gtk_button_get_use_underline (button));
  assert_shown (GTK_WIDGET (login_page ()), filipino);
  assert_absent (GTK_WIDGET (f.window), english);
  assert_no_english (GTK_WIDGET (f.window));
  assert_nothing_cut (GTK_WIDGET (f.window));
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "l10n-fil-login");

  /* The narrowest the layout is made for. */
  gtk_window_set_default_size (GTK_WINDOW (f.window), 360, 640);
  sc_test_wait_for_draw (GTK_WIDGET (f.window));
  g_test_message ("narrow window: %dx%d",
                  gtk_widget_get_width (GTK_WIDGET (f.window)),
                  gtk_widget_get_height (GTK_WIDGET (f.window)));
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (f.window)), <=, 400);
  assert_nothing_cut (GTK_WIDGET (f.window));
  g_free (
      sc_test_screenshot_save (GTK_WIDGET (f.window), "l10n-fil-login-narrow"));
  gtk_window_set_default_size (GTK_WINDOW (f.window), 900, 640);
  sc_test_wait_for_draw (GTK_WIDGET (f.window));
}

/* Against a real securechatd: first contact, a wrong password, then the
 * chat page, with the texts the code builds at run time (nobody else is
 * online yet). */
static void
test_login_and_chat (void)
{
  GtkWindow *dialog;
  GtkWidget *trust;
  g_autofree char *status = NULL;
  const char *const chat_page[] = { "Walang Usapan", "Walang Napiling Usapan",
                                    "Bagong Chat (Ctrl+N)", NULL };

  gtk_editable_set_text (sc_login_page_get_server_row (login_page ()),
                         sc_test_server_get_address (f.server));
  gtk_editable_set_text (sc_login_page_get_user_row (login_page ()), "alice");
  gtk_editable_set_text (sc_login_page_get_password_row (login_page ()),
                         "not-the-password");
  g_signal_emit_by_name (sc_login_page_get_login_button (login_page ()),
                         "clicked");
  g_assert_true (
      SC_TEST_WAIT (sc_window_get_dialog (f.window) != NULL, WAIT_MS));
  dialog = sc_window_get_dialog (f.window);
  g_assert_true (ADW_IS_MESSAGE_DIALOG (dialog));
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)),
                   ==, "Pagkatiwalaan ang Server na Ito?");
  g_assert_nonnull (
      strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)),
              "Ito ang una mong pagkonekta sa <b>"));
  sc_test_wait_for_draw (GTK_WIDGET (dialog));
  assert_no_english (GTK_WIDGET (dialog));
  assert_nothing_cut (GTK_WIDGET (dialog));
  g_free (sc_test_screenshot_save (GTK_WIDGET (dialog), "l10n-fil-server-key"));
  trust =
      sc_test_find_button (GTK_WIDGET (dialog), "_Pagkatiwalaan at Kumonekta");
  g_assert_nonnull (trust);
  g_signal_emit_by_name (trust, "clicked");

  g_assert_true (
      SC_TEST_WAIT (sc_login_page_get_error (login_page ()) != NULL, WAIT_MS));
  g_assert_cmpstr (sc_login_page_get_error (login_page ()), ==,
                   "Mali ang username o password.");
  sc_test_wait_for_draw (GTK_WIDGET (f.window));
  assert_nothing_cut (GTK_WIDGET (f.window));
  g_free (
      sc_test_screenshot_save (GTK_WIDGET (f.window), "l10n-fil-login-error"));

  gtk_editable_set_text (sc_login_page_get_password_row (login_page ()),
                         ALICE_PW);
  g_signal_emit_by_name (sc_login_page_get_login_button (login_page ()),
                         "clicked");
  g_assert_true (SC_TEST_WAIT (online (), WAIT_MS));
  status = g_strdup_printf ("Naka-online · %s",
                            sc_test_server_get_address (f.server));
  g_assert_cmpstr (sc_window_get_status_text (f.window), ==, status);
  sc_test_wait_for_draw (GTK_WIDGET (f.window));
  assert_shown (GTK_WIDGET (f.window), chat_page);
  assert_no_english (GTK_WIDGET (f.window));
  assert_nothing_cut (GTK_WIDGET (f.window));
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window), "l10n-fil-chat");
}

static ScConversation *
conversation (const char *peer)
{
  ScChat *chat = sc_window_get_chat (f.window);

  return chat != NULL ? sc_chat_lookup (chat, peer) : NULL;
}

/* The newest message with peer (a new reference). */
static ScMessage *
last_message (const char *peer)
{
  GListModel *messages = sc_conversation_get_messages (conversation (peer));
  guint n = g_list_model_get_n_items (messages);

  g_assert_cmpuint (n, >, 0);
  return g_list_model_get_item (messages, n - 1);
}

/* A conversation with bob on securechat-cli: one message delivered, one
 * not (bob has gone), each with its Filipino state under it. */
static void
test_conversation (void)
{
  const char *recv_args[] = { "recv", "--count", "1", "--timeout", "60", NULL };
  const char *const shown[] = { "Naihatid",
                                "Hindi naihatid: hindi naka-online ang "
                                "tatanggap",
                                "Naka-offline", NULL };
  g_autoptr (ScTestCli) bob = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) delivered = NULL;
  g_autoptr (ScMessage) offline = NULL;
  ScConversationView *view = sc_window_get_conversation_view (f.window);

  bob = sc_test_cli_spawn (f.server, "bob", recv_args, &error);
  g_assert_no_error (error);
  g_assert_true (
      sc_test_cli_wait_output (bob, TRUE, "logged in as bob", WAIT_MS));
  g_assert_true (
      SC_TEST_WAIT (conversation ("bob") != NULL &&
                        sc_conversation_get_online (conversation ("bob")),
                    WAIT_MS));
  sc_window_open_conversation (f.window, "bob");
  g_assert_true (SC_TEST_WAIT (sc_conversation_view_get_conversation (view) ==
                                   conversation ("bob"),
                               WAIT_MS));

  sc_conversation_view_set_draft (view, "Kumusta, bob!");
  sc_conversation_view_send (view);
  delivered = last_message ("bob");
  g_assert_true (SC_TEST_WAIT (
      sc_message_get_delivery (delivered) == SC_DELIVERY_SENT, WAIT_MS));
  g_assert_true (sc_test_cli_wait (bob, WAIT_MS, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sc_test_cli_get_status (bob), ==, 0);
  g_assert_true (SC_TEST_WAIT (
      !sc_conversation_get_online (conversation ("bob")), WAIT_MS));

  sc_conversation_view_set_draft (view, "Nandiyan ka pa ba?");
  sc_conversation_view_send (view);
  offline = last_message ("bob");
  g_assert_true (SC_TEST_WAIT (
      sc_message_get_delivery (offline) == SC_DELIVERY_OFFLINE, WAIT_MS));

  sc_test_wait_for_draw (GTK_WIDGET (f.window));
  assert_shown (GTK_WIDGET (f.window), shown);
  assert_no_english (GTK_WIDGET (f.window));
  assert_nothing_cut (GTK_WIDGET (f.window));
  sc_test_screenshot_light_dark (GTK_WIDGET (f.window),
                                 "l10n-fil-conversation");
}

static void
test_dialogs (void)
{
  GtkWindow *parent = GTK_WINDOW (f.window);
  ScSafetyDialog *safety;
  ScNewChatDialog *new_chat;
  GtkWindow *changed;
  GtkWindow *overlay;
  GtkWindow *prefs = NULL;
  const char *const safety_texts[] = { "Nagbago ang Susing Panseguridad",
                                       "_Tanggapin ang Bagong Susi",
                                       "_Hindi Muna", NULL };
  const char *const verified_texts[] = { "Beripikado",
                                         "_Alisin ang Beripikasyon", NULL };
  const char *const new_chat_texts[] = { "Bagong Chat", "_Kanselahin",
                                         "_Simulan ang Chat", NULL };

  safety = sc_safety_dialog_new (parent, "alice", "bob", NUMBER, FALSE, TRUE);
  show (GTK_WINDOW (safety));
  assert_shown (GTK_WIDGET (safety), safety_texts);
  assert_no_english (GTK_WIDGET (safety));
  assert_nothing_cut (GTK_WIDGET (safety));
  g_free (
      sc_test_screenshot_save (GTK_WIDGET (safety), "l10n-fil-safety-changed"));
  sc_safety_dialog_set_state (safety, NUMBER, TRUE, FALSE);
  sc_test_wait_for_draw (GTK_WIDGET (safety));
  assert_shown (GTK_WIDGET (safety), verified_texts);
  assert_no_english (GTK_WIDGET (safety));
  assert_nothing_cut (GTK_WIDGET (safety));
  g_free (sc_test_screenshot_save (GTK_WIDGET (safety),
                                   "l10n-fil-safety-verified"));
  gtk_window_destroy (GTK_WINDOW (safety));

  new_chat = sc_new_chat_dialog_new (parent, "alice");
  show (GTK_WINDOW (new_chat));
  assert_shown (GTK_WIDGET (new_chat), new_chat_texts);
  assert_no_english (GTK_WIDGET (new_chat));
  assert_nothing_cut (GTK_WIDGET (new_chat));
  g_free (sc_test_screenshot_save (GTK_WIDGET (new_chat), "l10n-fil-new-chat"));
  gtk_window_destroy (GTK_WINDOW (new_chat));

  changed = sc_server_key_dialog_new_changed (
      parent, "chat.example.org:12345", FINGERPRINT,
      "SHA256:PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0",
      "/home/alice/.config/securechat/known_servers", 3);
  show (changed);
  g_assert_cmpstr (
      adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (changed)), ==,
      "Nagbago ang Susi ng Server");
  assert_no_english (GTK_WIDGET (changed));
  assert_nothing_cut (GTK_WIDGET (changed));
  g_free (sc_test_screenshot_save (GTK_WIDGET (changed),
                                   "l10n-fil-server-key-changed"));
  gtk_window_destroy (changed);

  /* As the menu opens it: the application's own action. */
  g_action_group_activate_action (G_ACTION_GROUP (f.app), "preferences", NULL);
  {
    g_autoptr (GList) toplevels = gtk_window_list_toplevels ();

    for (GList *l = toplevels; l != NULL; l = l->next)
      if (ADW_IS_PREFERENCES_WINDOW (l->data))
        prefs = l->data;
  }
  g_assert_nonnull (prefs);
  sc_test_wait_for_draw (GTK_WIDGET (prefs));
  g_assert_cmpstr (gtk_window_get_title (prefs), ==, "Mga Kagustuhan");
  assert_no_english (GTK_WIDGET (prefs));
  assert_nothing_cut (GTK_WIDGET (prefs));
  g_free (sc_test_screenshot_save (GTK_WIDGET (prefs), "l10n-fil-preferences"));
  gtk_window_destroy (prefs);

  overlay = GTK_WINDOW (gtk_application_window_get_help_overlay (
      GTK_APPLICATION_WINDOW (f.window)));
  g_assert_nonnull (overlay);
  show (overlay);
  g_assert_nonnull (sc_test_find_widget (GTK_WIDGET (overlay), GTK_TYPE_LABEL));
  assert_no_english (GTK_WIDGET (overlay));
  g_free (sc_test_screenshot_save (GTK_WIDGET (overlay), "l10n-fil-shortcuts"));
  gtk_widget_set_visible (GTK_WIDGET (overlay), FALSE);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autofree char *home = NULL;
  g_autofree char *config = NULL;
  g_autofree char *data = NULL;
  const char *localedir = g_getenv ("SC_TEST_LOCALEDIR");
  int rc;

  /* What main.c does, with the catalogue of this build. */
  setlocale (LC_ALL, "");
  g_assert_nonnull (localedir);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      printf ("1..0 # SKIP no display\n");
      return 0;
    }
  g_assert_cmpint (sc_init (), ==, 0);
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE,
                NULL);

  f.server = sc_test_server_new (&error);
  g_assert_no_error (error);
  g_assert_true (sc_test_server_add_user (f.server, "alice", ALICE_PW, &error));
  g_assert_no_error (error);
  g_assert_true (
      sc_test_server_add_user (f.server, "bob", "bob-l10n-password", &error));
  g_assert_no_error (error);
  g_assert_true (sc_test_server_start (f.server, &error));
  g_assert_no_error (error);
  home = g_build_filename (sc_test_server_get_dir (f.server), "gui", NULL);
  config = g_build_filename (home, "config", NULL);
  data = g_build_filename (home, "data", NULL);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);

  f.app = sc_application_new ();
  g_assert_nonnull (f.app);
  g_application_set_flags (G_APPLICATION (f.app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (f.app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (f.app));

  g_test_add_func ("/l10n/fil/catalogue", test_catalogue);
  g_test_add_func ("/l10n/fil/login-page", test_login_page);
  g_test_add_func ("/l10n/fil/login-and-chat", test_login_and_chat);
  g_test_add_func ("/l10n/fil/conversation", test_conversation);
  g_test_add_func ("/l10n/fil/dialogs", test_dialogs);
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
  return rc;
}
