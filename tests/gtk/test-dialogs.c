/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The GTK client's dialogs, shown for real under Xvfb and driven through
 * their own signals: safety number, server keys, new chat, preferences,
 * the shortcuts window and the style sheet. Each one is also saved as a
 * screenshot in light and dark (BUILDDIR/tests/gtk/screenshots/). */
#include <adwaita.h>
#include <stdio.h>
#include <string.h>

#include "sc-new-chat-dialog.h"
#include "sc-preferences-window.h"
#include "sc-safety-dialog.h"
#include "sc-server-key-dialog.h"
#include "sc-test-screenshot.h"

#define RESOURCE_BASE "/io/github/securechat/SecureChat/"

#define NUMBER_A                                                               \
  "05316 82774 11902 63458 90017 24683 55120 78391 40266 93805 17744 62039"
#define NUMBER_B                                                               \
  "99120 31847 60253 08816 47732 15590 82204 36671 29458 71103 54986 20317"

#define FP_PINNED "SHA256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs"
#define FP_SEEN   "SHA256:PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0"

#define CHILD(widget, type, name)                                              \
  GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (widget), type, name))

/* ---- helpers ---- */

static GtkWindow *
new_parent (void)
{
  GtkWindow *parent = GTK_WINDOW (gtk_window_new ());

  gtk_window_set_title (parent, "SecureChat");
  gtk_window_set_default_size (parent, 800, 600);
  gtk_window_present (parent);
  /* Message dialogs size themselves from their parent's size. */
  sc_test_wait_for_draw (GTK_WIDGET (parent));
  g_test_message ("parent %dx%d", gtk_widget_get_width (GTK_WIDGET (parent)),
                  gtk_widget_get_height (GTK_WIDGET (parent)));
  return parent;
}

static void
show (GtkWindow *window)
{
  gtk_window_present (window);
  sc_test_wait_for_draw (GTK_WIDGET (window));
}

/* Runs whatever is pending without waiting for anything new. */
static void
drain (void)
{
  int i;

  for (i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
wait_destroyed (gpointer *weak)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (*weak != NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (*weak);
}

static void
click (gpointer button)
{
  g_assert_true (GTK_IS_BUTTON (button));
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (button)));
  g_signal_emit_by_name (button, "clicked");
}

typedef gboolean (*Match) (GtkWidget *widget, const char *text);

static GtkWidget *
find (GtkWidget *root, Match match, const char *text)
{
  GtkWidget *child;

  if (match (root, text))
    return root;
  for (child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find (child, match, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
label_is (GtkWidget *widget, const char *text)
{
  return GTK_IS_LABEL (widget) &&
         g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0;
}

static gboolean
label_contains (GtkWidget *widget, const char *text)
{
  return GTK_IS_LABEL (widget) &&
         strstr (gtk_label_get_text (GTK_LABEL (widget)), text) != NULL;
}

static gboolean
button_is (GtkWidget *widget, const char *label)
{
  return GTK_IS_BUTTON (widget) &&
         g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), label) == 0;
}

static char *
digits_only (const char *text)
{
  GString *out = g_string_new (NULL);

  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      g_string_append_c (out, *text);
  return g_string_free (out, FALSE);
}

static void
response_cb (AdwMessageDialog *dialog, const char *response, char **out)
{
  g_assert_null (*out);
  *out = g_strdup (response);
}

static void
assert_accessible_label (gpointer widget, const char *label)
{
  g_autofree char *problem = gtk_test_accessible_check_property (
      GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, label);

  if (problem != NULL)
    g_error ("%s: accessible label is “%s”, expected “%s”",
             G_OBJECT_TYPE_NAME (widget), problem, label);
}

/* ---- safety number ---- */

typedef struct
{
  int verify_count;
  gboolean verified;
  int accept_count;
  char *accepted;
} SafetyEvents;

static void
verify_changed_cb (ScSafetyDialog *dialog, gboolean verified, SafetyEvents *e)
{
  e->verify_count++;
  e->verified = verified;
}

static void
accept_key_cb (ScSafetyDialog *dialog, const char *number, SafetyEvents *e)
{
  e->accept_count++;
  g_free (e->accepted);
  e->accepted = g_strdup (number);
}

static void
test_safety_number_valid (void)
{
  g_assert_true (sc_safety_dialog_number_is_valid (NUMBER_A));
  g_assert_false (sc_safety_dialog_number_is_valid (NULL));
  g_assert_false (sc_safety_dialog_number_is_valid (""));
  g_assert_false (sc_safety_dialog_number_is_valid (NUMBER_A " "));
  g_assert_false (sc_safety_dialog_number_is_valid (" " NUMBER_A));
  /* 11 groups, one group of 6, a letter, a double space. */
  g_assert_false (sc_safety_dialog_number_is_valid (
      "05316 82774 11902 63458 90017 24683 55120 78391 40266 93805 17744"));
  g_assert_false (sc_safety_dialog_number_is_valid (
      "053161 82774 11902 63458 90017 24683 55120 78391 40266 93805 1774 "
      "62039"));
  g_assert_false (sc_safety_dialog_number_is_valid (
      "05316 82774 11902 63458 90017 24683 55120 78391 40266 93805 17744 "
      "6203a"));
  g_assert_false (sc_safety_dialog_number_is_valid (
      "05316  82774 11902 63458 90017 24683 55120 78391 40266 93805 17744 "
      "6203"));
}

static void
test_safety_shows_number (void)
{
  GtkWindow *parent = new_parent ();
  ScSafetyDialog *dialog =
      sc_safety_dialog_new (parent, "alice", "bob", NUMBER_A, FALSE, FALSE);
  GtkLabel *label;
  g_auto (GStrv) lines = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *given = digits_only (NUMBER_A);
  size_t i;

  show (GTK_WINDOW (dialog));
  g_assert_true (gtk_window_get_modal (GTK_WINDOW (dialog)));
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (dialog)) == parent);

  label = GTK_LABEL (CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "number_label"));
  g_assert_true (gtk_label_get_selectable (label));
  g_assert_true (
      gtk_widget_has_css_class (GTK_WIDGET (label), "safety-number"));

  /* Exactly the digits given, as 3 lines of 4 groups of 5. */
  shown = digits_only (gtk_label_get_text (label));
  g_assert_cmpstr (shown, ==, given);
  lines = g_strsplit (gtk_label_get_text (label), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  for (i = 0; i < 3; i++)
    {
      g_auto (GStrv) groups = g_strsplit (lines[i], " ", -1);
      size_t j;

      g_assert_cmpuint (g_strv_length (groups), ==, 4);
      for (j = 0; j < 4; j++)
        g_assert_cmpuint (strlen (groups[j]), ==, 5);
    }
  g_assert_cmpstr (lines[0], ==, "05316 82774 11902 63458");

  g_assert_nonnull (find (GTK_WIDGET (dialog), label_is,
                          "Compare these numbers with bob in person or on a "
                          "call. If they match, your conversation is "
                          "end-to-end encrypted with the right person."));
  g_assert_nonnull (find (GTK_WIDGET (dialog), label_is, "Not Verified"));
  g_assert_false (sc_safety_dialog_get_verified (dialog));
  g_assert_cmpstr (sc_safety_dialog_get_peer (dialog), ==, "bob");
  g_assert_cmpstr (sc_safety_dialog_get_safety_number (dialog), ==, NUMBER_A);

  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "safety-not-verified");
  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (parent);
}

static void
test_safety_verify (void)
{
  GtkWindow *parent = new_parent ();
  ScSafetyDialog *dialog =
      sc_safety_dialog_new (parent, "alice", "bob", NUMBER_A, FALSE, FALSE);
  GtkButton *verify =
      GTK_BUTTON (CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "verify_button"));
  GtkWidget *accept = CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "accept_button");
  SafetyEvents events = { 0 };

  g_signal_connect (dialog, "verify-changed", G_CALLBACK (verify_changed_cb),
                    &events);
  g_signal_connect (dialog, "accept-key", G_CALLBACK (accept_key_cb), &events);
  show (GTK_WINDOW (dialog));

  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (verify)));
  g_assert_false (gtk_widget_get_visible (accept));
  g_assert_cmpstr (gtk_button_get_label (verify), ==, "_Mark as Verified");
  g_assert_true (
      gtk_widget_has_css_class (GTK_WIDGET (verify), "suggested-action"));

  assert_accessible_label (verify, "Mark bob as verified");
  assert_accessible_label (CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "copy_button"),
                           "Copy the safety number");
  click (verify);
  g_assert_cmpint (events.verify_count, ==, 1);
  g_assert_true (events.verified);
  g_assert_true (sc_safety_dialog_get_verified (dialog));
  g_assert_cmpstr (gtk_button_get_label (verify), ==, "C_lear Verification");
  assert_accessible_label (verify, "Clear the verification of bob");
  g_assert_nonnull (find (GTK_WIDGET (dialog), label_is, "Verified"));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "safety-verified");

  click (verify);
  g_assert_cmpint (events.verify_count, ==, 2);
  g_assert_false (events.verified);
  g_assert_cmpstr (gtk_button_get_label (verify), ==, "_Mark as Verified");

  /* The caller could not store it: it puts the state back. */
  sc_safety_dialog_set_state (dialog, NUMBER_A, TRUE, FALSE);
  g_assert_cmpstr (gtk_button_get_label (verify), ==, "C_lear Verification");
  g_assert_cmpint (events.verify_count, ==, 2);
  g_assert_cmpint (events.accept_count, ==, 0);

  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (parent);
}

typedef struct
{
  char *text;
  gboolean done;
} ClipboardRead;

static void
read_text_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  ClipboardRead *read = data;
  g_autoptr (GError) error = NULL;

  read->text =
      gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);
  g_assert_no_error (error);
  read->done = TRUE;
}

static void
test_safety_copy (void)
{
  GtkWindow *parent = new_parent ();
  ScSafetyDialog *dialog =
      sc_safety_dialog_new (parent, "alice", "bob", NUMBER_A, TRUE, FALSE);
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (dialog));
  ClipboardRead read = { 0 };

  show (GTK_WINDOW (dialog));
  gdk_clipboard_set_text (clipboard, "something else");
  click (CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "copy_button"));
  g_assert_true (gdk_clipboard_is_local (clipboard));
  gdk_clipboard_read_text_async (clipboard, NULL, read_text_cb, &read);
  sc_test_wait_for_flag (&read.done, 5000);
  /* One line, as sc_connection_get_safety_number and the CLI print it. */
  g_assert_cmpstr (read.text, ==, NUMBER_A);
  g_free (read.text);

  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (parent);
}

/* Stands in for the window: accepting fails because yet another key came,
 * so it shows the newest number while the signal is still running. */
static void
accept_then_newer_key_cb (ScSafetyDialog *dialog, const char *number)
{
  sc_safety_dialog_set_state (dialog, NUMBER_B, FALSE, TRUE);
}

static void
test_safety_changed (void)
{
  GtkWindow *parent = new_parent ();
  ScSafetyDialog *dialog =
      sc_safety_dialog_new (parent, "alice", "bob", NUMBER_A, TRUE, TRUE);
  GtkWidget *verify = CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "verify_button");
  GtkWidget *accept = CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "accept_button");
  GtkWidget *not_now = CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "not_now_button");
  GtkLabel *number =
      GTK_LABEL (CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "number_label"));
  SafetyEvents events = { 0 };
  g_autofree char *shown = NULL;
  g_autofree char *given = digits_only (NUMBER_B);

  g_signal_connect (dialog, "verify-changed", G_CALLBACK (verify_changed_cb),
                    &events);
  g_signal_connect (dialog, "accept-key", G_CALLBACK (accept_then_newer_key_cb),
                    NULL);
  g_signal_connect (dialog, "accept-key", G_CALLBACK (accept_key_cb), &events);
  show (GTK_WINDOW (dialog));

  g_assert_false (gtk_widget_get_visible (verify));
  g_assert_true (gtk_widget_get_visible (accept));
  g_assert_true (gtk_widget_get_visible (not_now));
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (accept)), ==,
                   "_Accept New Key");
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (not_now)), ==, "_Not Now");
  assert_accessible_label (accept, "Accept bob’s new security key");
  assert_accessible_label (not_now, "Not now: keep the old key and close");
  g_assert_nonnull (
      find (GTK_WIDGET (dialog), label_is, "Security Key Changed"));
  g_assert_nonnull (find (GTK_WIDGET (dialog), label_contains,
                          "Nothing will be sent to bob until you accept the "
                          "new key."));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "safety-changed");

  /* The number compared is the one on screen when the button was
   * pressed, even if a handler before this one replaced it. */
  click (accept);
  g_assert_cmpint (events.accept_count, ==, 1);
  g_assert_cmpstr (events.accepted, ==, NUMBER_A);
  shown = digits_only (gtk_label_get_text (number));
  g_assert_cmpstr (shown, ==, given);
  g_assert_cmpstr (sc_safety_dialog_get_safety_number (dialog), ==, NUMBER_B);
  g_assert_true (sc_safety_dialog_get_changed (dialog));

  /* Accepted: back to the normal view over the new number. */
  sc_safety_dialog_set_state (dialog, NUMBER_B, FALSE, FALSE);
  g_assert_true (gtk_widget_get_visible (verify));
  g_assert_false (gtk_widget_get_visible (accept));
  g_assert_false (gtk_widget_get_visible (not_now));
  g_assert_cmpint (events.verify_count, ==, 0);
  g_free (events.accepted);

  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (parent);
}

static void
test_safety_not_now (void)
{
  GtkWindow *parent = new_parent ();
  ScSafetyDialog *dialog =
      sc_safety_dialog_new (parent, "alice", "bob", NUMBER_A, FALSE, TRUE);
  gpointer weak = dialog;
  SafetyEvents events = { 0 };

  g_signal_connect (dialog, "accept-key", G_CALLBACK (accept_key_cb), &events);
  g_signal_connect (dialog, "verify-changed", G_CALLBACK (verify_changed_cb),
                    &events);
  g_object_add_weak_pointer (G_OBJECT (dialog), &weak);
  show (GTK_WINDOW (dialog));
  click (CHILD (dialog, SC_TYPE_SAFETY_DIALOG, "not_now_button"));
  wait_destroyed (&weak);
  g_assert_cmpint (events.accept_count, ==, 0);
  g_assert_cmpint (events.verify_count, ==, 0);
  gtk_window_destroy (parent);
}

/* ---- server keys ---- */

static void
test_server_key_unknown (void)
{
  GtkWindow *parent = new_parent ();
  GtkWindow *dialog = sc_server_key_dialog_new_unknown (
      parent, "chat.example.org:12345", FP_PINNED);
  AdwMessageDialog *message = ADW_MESSAGE_DIALOG (dialog);
  GtkWidget *fingerprint;
  g_autofree char *response = NULL;

  g_signal_connect (dialog, "response", G_CALLBACK (response_cb), &response);
  show (dialog);

  g_assert_cmpstr (adw_message_dialog_get_heading (message), ==,
                   "Trust This Server?");
  g_assert_nonnull (strstr (adw_message_dialog_get_body (message),
                            "<b>chat.example.org:12345</b>"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (message),
                            "securechatd fingerprint"));
  g_assert_true (adw_message_dialog_has_response (message, "cancel"));
  g_assert_true (adw_message_dialog_has_response (message, "trust"));
  g_assert_cmpstr (adw_message_dialog_get_response_label (message, "trust"), ==,
                   "_Trust and Connect");
  g_assert_cmpint (
      adw_message_dialog_get_response_appearance (message, "trust"), ==,
      ADW_RESPONSE_SUGGESTED);
  g_assert_cmpstr (adw_message_dialog_get_default_response (message), ==,
                   "cancel");
  g_assert_cmpstr (adw_message_dialog_get_close_response (message), ==,
                   "cancel");

  fingerprint = find (GTK_WIDGET (dialog), label_is, FP_PINNED);
  g_assert_nonnull (fingerprint);
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (fingerprint)));
  g_assert_true (gtk_widget_has_css_class (fingerprint, "fingerprint"));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "server-key-unknown");

  click (find (GTK_WIDGET (dialog), button_is, "_Trust and Connect"));
  g_assert_cmpstr (response, ==, "trust");
  gtk_window_destroy (parent);
}

static void
test_server_key_unknown_close (void)
{
  GtkWindow *parent = new_parent ();
  GtkWindow *dialog = sc_server_key_dialog_new_unknown (
      parent, "chat.example.org:12345", FP_PINNED);
  g_autofree char *response = NULL;

  g_signal_connect (dialog, "response", G_CALLBACK (response_cb), &response);
  show (dialog);
  gtk_window_close (dialog);
  g_assert_cmpstr (response, ==, "cancel");
  gtk_window_destroy (parent);
}

/* The server name is markup-escaped, never interpreted. */
static void
test_server_key_unknown_escapes (void)
{
  GtkWindow *parent = new_parent ();
  GtkWindow *dialog = sc_server_key_dialog_new_unknown (
      parent, "<i>evil</i>&amp;:1", FP_PINNED);

  g_assert_nonnull (
      strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)),
              "&lt;i&gt;evil&lt;/i&gt;&amp;amp;:1"));
  show (dialog);
  g_assert_nonnull (
      find (GTK_WIDGET (dialog), label_contains, "<i>evil</i>&amp;:1"));
  gtk_window_destroy (dialog);
  gtk_window_destroy (parent);
}

static void
test_server_key_changed (void)
{
  GtkWindow *parent = new_parent ();
  GtkWindow *dialog = sc_server_key_dialog_new_changed (
      parent, "chat.example.org:12345", FP_PINNED, FP_SEEN,
      "/home/alice/.config/securechat/known_servers", 7);
  AdwMessageDialog *message = ADW_MESSAGE_DIALOG (dialog);
  GtkWidget *heading;
  GtkWidget *pinned;
  GtkWidget *seen;
  GdkRGBA color;
  g_autofree char *response = NULL;

  g_signal_connect (dialog, "response", G_CALLBACK (response_cb), &response);
  show (dialog);

  /* A hard stop: closing is the only way out. */
  g_assert_true (adw_message_dialog_has_response (message, "close"));
  g_assert_false (adw_message_dialog_has_response (message, "trust"));
  g_assert_false (adw_message_dialog_has_response (message, "cancel"));
  g_assert_cmpstr (adw_message_dialog_get_close_response (message), ==,
                   "close");
  g_assert_nonnull (
      strstr (adw_message_dialog_get_body (message), "not even your password"));
  g_assert_nonnull (
      strstr (adw_message_dialog_get_body (message), "intercepting"));

  pinned = find (GTK_WIDGET (dialog), label_is, FP_PINNED);
  seen = find (GTK_WIDGET (dialog), label_is, FP_SEEN);
  g_assert_nonnull (pinned);
  g_assert_nonnull (seen);
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (pinned)));
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (seen)));
  g_assert_nonnull (
      find (GTK_WIDGET (dialog), label_contains,
            "remove line 7 of /home/alice/.config/securechat/known_servers"));

  /* style.css paints the heading in the error colour (red). */
  heading = find (GTK_WIDGET (dialog), label_is, "Server Key Changed");
  g_assert_nonnull (heading);
  gtk_style_context_get_color (gtk_widget_get_style_context (heading), &color);
  g_assert_cmpfloat (color.red, >, 0.6);
  g_assert_cmpfloat (color.green, <, 0.4);
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "server-key-changed");

  click (find (GTK_WIDGET (dialog), button_is, "_Close"));
  g_assert_cmpstr (response, ==, "close");
  gtk_window_destroy (parent);
}

/* A known-servers path that is not UTF-8 is shown, not dropped. */
static void
test_server_key_changed_path (void)
{
  GtkWindow *parent = new_parent ();
  GtkWindow *dialog = sc_server_key_dialog_new_changed (
      parent, "chat.example.org:12345", FP_PINNED, FP_SEEN,
      "/home/alice/caf\xe9/known_servers", 12);

  show (dialog);
  g_assert_nonnull (find (GTK_WIDGET (dialog), label_contains,
                          "remove line 12 of /home/alice/caf"));
  g_assert_nonnull (
      find (GTK_WIDGET (dialog), label_contains, "/known_servers"));
  gtk_window_destroy (dialog);
  gtk_window_destroy (parent);
}

/* ---- new chat ---- */

typedef struct
{
  char *response;
  char *name;
  gboolean done;
} NewChatResult;

static void
new_chat_response_cb (ScNewChatDialog *dialog,
                      const char *response,
                      NewChatResult *result)
{
  g_assert_null (result->response);
  result->response = g_strdup (response);
  result->name = g_strdup (sc_new_chat_dialog_get_name (dialog));
  result->done = TRUE;
}

static void
assert_refused (ScNewChatDialog *dialog,
                GtkEditable *entry,
                const char *text,
                const char *reason)
{
  GtkWidget *hint = CHILD (dialog, SC_TYPE_NEW_CHAT_DIALOG, "hint_label");

  gtk_editable_set_text (entry, text);
  g_assert_false (adw_message_dialog_get_response_enabled (
      ADW_MESSAGE_DIALOG (dialog), "start"));
  g_assert_null (sc_new_chat_dialog_get_name (dialog));
  if (reason != NULL)
    {
      g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (hint)), reason));
      g_assert_true (gtk_widget_has_css_class (hint, "error"));
      g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (entry), "error"));
    }
  else
    g_assert_false (gtk_widget_has_css_class (hint, "error"));
}

static void
test_new_chat_validation (void)
{
  GtkWindow *parent = new_parent ();
  ScNewChatDialog *dialog = sc_new_chat_dialog_new (parent, "alice");
  GtkEditable *entry =
      GTK_EDITABLE (CHILD (dialog, SC_TYPE_NEW_CHAT_DIALOG, "name_entry"));
  GtkWidget *hint = CHILD (dialog, SC_TYPE_NEW_CHAT_DIALOG, "hint_label");
  GtkWidget *focus;
  char too_long[34];

  show (GTK_WINDOW (dialog));
  assert_accessible_label (entry, "User name");
  /* Typing goes straight into the entry. */
  focus = gtk_root_get_focus (GTK_ROOT (dialog));
  g_assert_nonnull (focus);
  g_assert_true (focus == GTK_WIDGET (entry) ||
                 gtk_widget_is_ancestor (focus, GTK_WIDGET (entry)));
  assert_refused (dialog, entry, "", NULL);
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "new-chat-empty");

  assert_refused (dialog, entry, "bad name!", "Use only lowercase letters");
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "new-chat-invalid");
  assert_refused (dialog, entry, "alice", "your own user name");
  assert_refused (dialog, entry, " alice ", "your own user name");
  assert_refused (dialog, entry, "Bob", "try “bob”");
  assert_refused (dialog, entry, ".bob", "Use only lowercase letters");
  memset (too_long, 'b', 33);
  too_long[33] = '\0';
  assert_refused (dialog, entry, too_long, "at most 32 characters");
  too_long[32] = '\0';
  gtk_editable_set_text (entry, too_long);
  g_assert_cmpstr (sc_new_chat_dialog_get_name (dialog), ==, too_long);

  gtk_editable_set_text (entry, "bob");
  g_assert_true (adw_message_dialog_get_response_enabled (
      ADW_MESSAGE_DIALOG (dialog), "start"));
  g_assert_cmpstr (sc_new_chat_dialog_get_name (dialog), ==, "bob");
  g_assert_false (gtk_widget_has_css_class (hint, "error"));
  sc_test_screenshot_light_dark (GTK_WIDGET (dialog), "new-chat-valid");

  /* Surrounding spaces from a paste are not part of the name. */
  gtk_editable_set_text (entry, "  carol.d-1_x ");
  g_assert_cmpstr (sc_new_chat_dialog_get_name (dialog), ==, "carol.d-1_x");

  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (parent);
}

static void
test_new_chat_enter (void)
{
  GtkWindow *parent = new_parent ();
  ScNewChatDialog *dialog = sc_new_chat_dialog_new (parent, "alice");
  GtkWidget *entry = CHILD (dialog, SC_TYPE_NEW_CHAT_DIALOG, "name_entry");
  /* Enter reaches the entry's GtkText, which activates the default. */
  GtkEditable *text = gtk_editable_get_delegate (GTK_EDITABLE (entry));
  NewChatResult result = { 0 };

  g_assert_true (GTK_IS_TEXT (text));
  g_signal_connect (dialog, "response", G_CALLBACK (new_chat_response_cb),
                    &result);
  show (GTK_WINDOW (dialog));

  /* Enter on an invalid name does nothing. */
  gtk_editable_set_text (GTK_EDITABLE (entry), "bad name!");
  g_signal_emit_by_name (text, "activate");
  drain ();
  g_assert_null (result.response);

  gtk_editable_set_text (GTK_EDITABLE (entry), "bob");
  g_signal_emit_by_name (text, "activate");
  sc_test_wait_for_flag (&result.done, 5000);
  g_assert_cmpstr (result.response, ==, "start");
  g_assert_cmpstr (result.name, ==, "bob");
  g_free (result.response);
  g_free (result.name);
  gtk_window_destroy (parent);
}

static void
test_new_chat_cancel (void)
{
  GtkWindow *parent = new_parent ();
  ScNewChatDialog *dialog = sc_new_chat_dialog_new (parent, "alice");
  GtkWidget *entry = CHILD (dialog, SC_TYPE_NEW_CHAT_DIALOG, "name_entry");
  NewChatResult result = { 0 };

  g_signal_connect (dialog, "response", G_CALLBACK (new_chat_response_cb),
                    &result);
  show (GTK_WINDOW (dialog));
  gtk_editable_set_text (GTK_EDITABLE (entry), "bob");
  click (find (GTK_WIDGET (dialog), button_is, "_Cancel"));
  g_assert_cmpstr (result.response, ==, "cancel");
  g_free (result.response);
  g_free (result.name);
  gtk_window_destroy (parent);
}

/* ---- preferences ---- */

static gboolean
has_user_value (GSettings *settings, const char *key)
{
  g_autoptr (GVariant) value = g_settings_get_user_value (settings, key);

  return value != NULL;
}

static void
test_preferences (void)
{
  g_autoptr (GSettings) settings =
      g_settings_new ("io.github.securechat.SecureChat");
  GtkWindow *parent = new_parent ();
  ScPreferencesWindow *prefs;
  GtkSwitch *notifications;
  GtkSwitch *remember;
  GtkWidget *forget;
  AdwActionRow *remembered;
  g_autofree char *last_user = NULL;

  g_settings_reset (settings, "notifications");
  g_settings_reset (settings, "remember-login");
  g_settings_set_string (settings, "last-server", "chat.example.org:12345");
  g_settings_set_string (settings, "last-user", "alice");

  prefs = sc_preferences_window_new (parent, settings);
  notifications = GTK_SWITCH (
      CHILD (prefs, SC_TYPE_PREFERENCES_WINDOW, "notifications_switch"));
  remember =
      GTK_SWITCH (CHILD (prefs, SC_TYPE_PREFERENCES_WINDOW, "remember_switch"));
  forget = CHILD (prefs, SC_TYPE_PREFERENCES_WINDOW, "forget_button");
  remembered = ADW_ACTION_ROW (
      CHILD (prefs, SC_TYPE_PREFERENCES_WINDOW, "remembered_row"));
  show (GTK_WINDOW (prefs));
  sc_test_screenshot_light_dark (GTK_WIDGET (prefs), "preferences");

  /* Both ways: the switch shows the key, and writes it. */
  assert_accessible_label (notifications, "Notify about new messages");
  assert_accessible_label (remember, "Remember server and user name");
  assert_accessible_label (forget, "Forget remembered login");
  g_assert_true (gtk_switch_get_active (notifications));
  gtk_switch_set_active (notifications, FALSE);
  g_assert_false (g_settings_get_boolean (settings, "notifications"));
  g_settings_set_boolean (settings, "notifications", TRUE);
  g_assert_true (gtk_switch_get_active (notifications));

  g_assert_cmpstr (adw_action_row_get_subtitle (remembered), ==,
                   "alice on chat.example.org:12345");
  g_assert_true (gtk_widget_get_sensitive (forget));
  click (forget);
  g_assert_false (has_user_value (settings, "last-server"));
  g_assert_false (has_user_value (settings, "last-user"));
  g_assert_false (gtk_widget_get_sensitive (forget));
  g_assert_cmpstr (adw_action_row_get_subtitle (remembered), ==,
                   "Nothing is remembered");
  g_assert_true (g_settings_get_boolean (settings, "remember-login"));

  /* The login page remembers again; the window follows. */
  g_settings_set_string (settings, "last-server", "[::1]:4000");
  drain ();
  g_assert_cmpstr (adw_action_row_get_subtitle (remembered), ==, "[::1]:4000");
  g_assert_true (gtk_widget_get_sensitive (forget));

  /* Turning "remember" off forgets, as the schema promises. */
  g_assert_true (gtk_switch_get_active (remember));
  gtk_switch_set_active (remember, FALSE);
  drain ();
  g_assert_false (g_settings_get_boolean (settings, "remember-login"));
  g_assert_false (has_user_value (settings, "last-server"));
  g_assert_false (gtk_widget_get_sensitive (forget));
  gtk_switch_set_active (remember, TRUE);
  g_assert_true (g_settings_get_boolean (settings, "remember-login"));

  /* Once the window is gone, changes must not reach it. */
  gtk_window_destroy (GTK_WINDOW (prefs));
  drain ();
  g_settings_set_string (settings, "last-user", "bob");
  g_settings_set_boolean (settings, "remember-login", FALSE);
  g_settings_set_boolean (settings, "notifications", FALSE);
  drain ();
  g_assert_false (g_settings_get_boolean (settings, "notifications"));
  last_user = g_settings_get_string (settings, "last-user");
  g_assert_cmpstr (last_user, ==, "bob");
  gtk_window_destroy (parent);
}

/* ---- shortcuts window and style sheet ---- */

static void
test_help_overlay (void)
{
  static const char *const expected[] = {
    "<Control>n",    "<Control>comma", "<Control>question",
    "<Control>w",    "<Control>q",     "Return",
    "<Shift>Return", "<Control>i",     "F5",
  };
  g_autoptr (GtkBuilder) builder =
      gtk_builder_new_from_resource (RESOURCE_BASE "gtk/help-overlay.ui");
  GObject *window = gtk_builder_get_object (builder, "help_overlay");
  g_autoptr (GSList) objects = gtk_builder_get_objects (builder);
  g_autoptr (GPtrArray) accels = g_ptr_array_new_with_free_func (g_free);
  GtkWindow *parent = new_parent ();
  GSList *l;
  size_t i;

  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (window));
  for (l = objects; l != NULL; l = l->next)
    {
      char *accel = NULL;
      g_autofree char *title = NULL;
      guint key = 0;
      GdkModifierType mods = 0;

      if (!GTK_IS_SHORTCUTS_SHORTCUT (l->data))
        continue;
      g_object_get (l->data, "accelerator", &accel, "title", &title, NULL);
      g_assert_true (gtk_accelerator_parse (accel, &key, &mods));
      g_assert_cmpuint (key, !=, 0);
      g_assert_nonnull (title);
      g_assert_cmpstr (title, !=, "");
      g_ptr_array_add (accels, accel);
    }
  g_assert_cmpuint (accels->len, ==, G_N_ELEMENTS (expected));
  for (i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_ptr_array_find_with_equal_func (accels, expected[i],
                                                     g_str_equal, NULL));

  gtk_window_set_transient_for (GTK_WINDOW (window), parent);
  show (GTK_WINDOW (window));
  sc_test_screenshot_light_dark (GTK_WIDGET (window), "help-overlay");
  gtk_window_destroy (GTK_WINDOW (window));
  gtk_window_destroy (parent);
}

static void
parsing_error_cb (GtkCssProvider *provider,
                  GtkCssSection *section,
                  const GError *error,
                  guint *count)
{
  g_autofree char *where = gtk_css_section_to_string (section);

  g_test_message ("style.css: %s: %s", where, error->message);
  (*count)++;
}

static void
test_style (void)
{
  g_autoptr (GtkCssProvider) provider = gtk_css_provider_new ();
  g_autoptr (GBytes) bytes = NULL;
  const char *text;
  guint errors = 0;
  static const char *const classes[] = {
    ".bubble",
    ".bubble.outgoing",
    ".bubble.incoming",
    ".notice",
    ".unread-badge",
    ".presence-dot.online",
    ".presence-dot.offline",
    ".safety-number",
  };
  size_t i;

  g_signal_connect (provider, "parsing-error", G_CALLBACK (parsing_error_cb),
                    &errors);
  gtk_css_provider_load_from_resource (provider, RESOURCE_BASE "style.css");
  g_assert_cmpuint (errors, ==, 0);

  bytes = g_resources_lookup_data (RESOURCE_BASE "style.css",
                                   G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  g_assert_nonnull (bytes);
  /* NUL-terminated: GResource data always is. */
  text = g_bytes_get_data (bytes, NULL);
  for (i = 0; i < G_N_ELEMENTS (classes); i++)
    g_assert_nonnull (strstr (text, classes[i]));
  /* Named colours only, so dark mode and high contrast follow. */
  g_assert_null (strstr (text, "#"));
  g_assert_null (strstr (text, "rgb("));
  g_assert_null (strstr (text, "rgba("));
}

static GtkWidget *
bubble (const char *text, const char *direction)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "bubble");
  gtk_widget_add_css_class (label, direction);
  gtk_widget_set_halign (label, g_str_equal (direction, "outgoing")
                                    ? GTK_ALIGN_END
                                    : GTK_ALIGN_START);
  return label;
}

static GtkWidget *
contact_row (const char *name, gboolean online, const char *unread)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *dot = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  GtkWidget *label = gtk_label_new (name);

  gtk_widget_add_css_class (dot, "presence-dot");
  gtk_widget_add_css_class (dot, online ? "online" : "offline");
  gtk_widget_set_valign (dot, GTK_ALIGN_CENTER);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_box_append (GTK_BOX (row), dot);
  gtk_box_append (GTK_BOX (row), label);
  if (unread != NULL)
    {
      GtkWidget *badge = gtk_label_new (unread);

      gtk_widget_add_css_class (badge, "unread-badge");
      gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
      gtk_box_append (GTK_BOX (row), badge);
    }
  return row;
}

/* The classes style.css gives the conversation view, on sample widgets:
 * what the lead's window will look like, light and dark. */
static void
test_style_sample (void)
{
  GtkWindow *window = GTK_WINDOW (gtk_window_new ());
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *notice = gtk_label_new ("bob is online");
  GtkWidget *outgoing = bubble ("Hi Bob! Did the new key arrive?", "outgoing");
  GtkWidget *incoming = bubble (
      "Yes, I compared the safety number with you on the phone.", "incoming");
  GtkWidget *number = gtk_label_new ("05316 82774 11902 63458");
  GdkRGBA fg;

  gtk_widget_add_css_class (notice, "notice");
  gtk_widget_set_halign (notice, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (number, "safety-number");
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_box_append (GTK_BOX (box), contact_row ("bob", TRUE, "3"));
  gtk_box_append (GTK_BOX (box), contact_row ("carol", FALSE, "12"));
  gtk_box_append (GTK_BOX (box), contact_row ("dave", FALSE, NULL));
  gtk_box_append (GTK_BOX (box), notice);
  gtk_box_append (GTK_BOX (box), incoming);
  gtk_box_append (GTK_BOX (box), outgoing);
  gtk_box_append (GTK_BOX (box), number);
  gtk_window_set_child (window, box);
  gtk_window_set_default_size (window, 420, -1);
  show (window);

  /* Text on the accent colour is the accent's foreground (white), in
   * both schemes. */
  gtk_style_context_get_color (gtk_widget_get_style_context (outgoing), &fg);
  g_assert_cmpfloat (fg.red, >, 0.9);
  g_assert_cmpfloat (fg.green, >, 0.9);
  g_assert_cmpfloat (fg.blue, >, 0.9);
  g_assert_cmpint (gtk_widget_get_width (outgoing), <,
                   gtk_widget_get_width (box));
  sc_test_screenshot_light_dark (GTK_WIDGET (window), "style-sample");
  gtk_window_destroy (window);
}

static void
test_resources (void)
{
  static const char *const files[] = {
    "gtk/help-overlay.ui",
    "sc-new-chat-dialog.ui",
    "sc-preferences-window.ui",
    "sc-safety-dialog.ui",
    "style.css",
  };
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_strconcat (RESOURCE_BASE, files[i], NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) bytes =
          g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (bytes), >, 0);
    }
}

/* What AdwApplication does for the real program. */
static void
load_style (void)
{
  g_autoptr (GtkCssProvider) provider = gtk_css_provider_new ();

  gtk_css_provider_load_from_resource (provider, RESOURCE_BASE "style.css");
  gtk_style_context_add_provider_for_display (
      gdk_display_get_default (), GTK_STYLE_PROVIDER (provider),
      GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      printf ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();
  load_style ();
  /* Screenshots of finished states, not of a crossfade half-way. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE,
                NULL);

  g_test_add_func ("/gtk/dialogs/resources", test_resources);
  g_test_add_func ("/gtk/dialogs/style", test_style);
  g_test_add_func ("/gtk/dialogs/style-sample", test_style_sample);
  g_test_add_func ("/gtk/dialogs/safety/number-valid",
                   test_safety_number_valid);
  g_test_add_func ("/gtk/dialogs/safety/shows-number",
                   test_safety_shows_number);
  g_test_add_func ("/gtk/dialogs/safety/verify", test_safety_verify);
  g_test_add_func ("/gtk/dialogs/safety/copy", test_safety_copy);
  g_test_add_func ("/gtk/dialogs/safety/changed", test_safety_changed);
  g_test_add_func ("/gtk/dialogs/safety/not-now", test_safety_not_now);
  g_test_add_func ("/gtk/dialogs/server-key/unknown", test_server_key_unknown);
  g_test_add_func ("/gtk/dialogs/server-key/unknown-close",
                   test_server_key_unknown_close);
  g_test_add_func ("/gtk/dialogs/server-key/unknown-escapes",
                   test_server_key_unknown_escapes);
  g_test_add_func ("/gtk/dialogs/server-key/changed", test_server_key_changed);
  g_test_add_func ("/gtk/dialogs/server-key/changed-path",
                   test_server_key_changed_path);
  g_test_add_func ("/gtk/dialogs/new-chat/validation",
                   test_new_chat_validation);
  g_test_add_func ("/gtk/dialogs/new-chat/enter", test_new_chat_enter);
  g_test_add_func ("/gtk/dialogs/new-chat/cancel", test_new_chat_cancel);
  g_test_add_func ("/gtk/dialogs/preferences", test_preferences);
  g_test_add_func ("/gtk/dialogs/help-overlay", test_help_overlay);
  return g_test_run ();
}
