/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The conversation view with a long conversation: rows are built only
 * for what is on screen (so 10,000 messages open at once), the view
 * starts at the newest message and follows new ones, and the bubbles
 * show what the messages say. No server: the models are filled directly. */
#include <adwaita.h>
#include <locale.h>

#include "sc-conversation-view.h"
#include "sc-message-row.h"
#include "sc-test-screenshot.h"
#include "sc-test-server.h"

#define N_LONG 10000

static void
count_rows (GtkWidget *w, guint *n, guint *visible_first)
{
  if (SC_IS_MESSAGE_ROW (w))
    {
      (*n)++;
      return;
    }
  for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    count_rows (c, n, visible_first);
}

/* The texts of the rows the list built, in widget order. */
static void
collect_texts (GtkWidget *w, GPtrArray *texts)
{
  if (SC_IS_MESSAGE_ROW (w))
    {
      if (gtk_widget_get_visible (w))
        g_ptr_array_add (
            texts, g_strdup (sc_message_row_get_text (SC_MESSAGE_ROW (w))));
      return;
    }
  for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    collect_texts (c, texts);
}

static gboolean
texts_contain (GtkWidget *list, const char *text)
{
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  collect_texts (list, texts);
  for (guint i = 0; i < texts->len; i++)
    if (g_str_equal (g_ptr_array_index (texts, i), text))
      return TRUE;
  return FALSE;
}

static ScConversation *
long_conversation (guint n)
{
  ScConversation *c = sc_conversation_new ("bob");
  g_autoptr (GPtrArray) v = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 t0 = g_get_real_time () / 1000 - (gint64) n * 60000;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("Message %u", i + 1);
      gboolean mine = i % 3 == 0;

      g_ptr_array_add (
          v, sc_message_new (
                 i + 1, mine ? SC_MESSAGE_OUTGOING : SC_MESSAGE_INCOMING,
                 mine ? "alice" : "bob", text, t0 + (gint64) i * 60000,
                 mine ? SC_DELIVERY_SENT : SC_DELIVERY_NONE));
    }
  sc_conversation_append_many (c, (ScMessage **) v->pdata, v->len);
  return c;
}

static GtkWindow *
window_with_view (ScConversationView **view)
{
  GtkWindow *w = GTK_WINDOW (gtk_window_new ());

  *view = SC_CONVERSATION_VIEW (sc_conversation_view_new ());
  gtk_window_set_default_size (w, 600, 700);
  gtk_window_set_child (w, GTK_WIDGET (*view));
  gtk_window_present (w);
  return w;
}

static void
test_long_conversation_is_lazy (void)
{
  g_autoptr (ScConversation) c = long_conversation (N_LONG);
  ScConversationView *view;
  GtkWindow *w = window_with_view (&view);
  GtkAdjustment *adj;
  guint rows = 0;
  g_autofree char *newest = g_strdup_printf ("Message %u", N_LONG);

  sc_conversation_view_set_conversation (view, NULL, c);
  sc_test_wait_for_draw (GTK_WIDGET (w));
  adj = sc_conversation_view_get_vadjustment (view);
  /* It opens at the newest message. */
  g_assert_true (SC_TEST_WAIT (gtk_adjustment_get_value (adj) +
                                       gtk_adjustment_get_page_size (adj) >=
                                   gtk_adjustment_get_upper (adj) - 1.0,
                               10000));
  g_assert_true (SC_TEST_WAIT (
      texts_contain (GTK_WIDGET (sc_conversation_view_get_list (view)), newest),
      10000));
  /* Only what is on screen (plus GtkListView's margin) was built. */
  count_rows (GTK_WIDGET (sc_conversation_view_get_list (view)), &rows, NULL);
  g_assert_cmpuint (rows, >, 0);
  g_assert_cmpuint (rows, <, 300);

  /* Scroll to the middle (as the list's own keyboard navigation does):
   * other rows, still few. */
  gtk_widget_activate_action (GTK_WIDGET (sc_conversation_view_get_list (view)),
                              "list.scroll-to-item", "u", N_LONG / 2);
  g_assert_true (SC_TEST_WAIT (
      texts_contain (GTK_WIDGET (sc_conversation_view_get_list (view)),
                     "Message 5001"),
      10000));
  rows = 0;
  count_rows (GTK_WIDGET (sc_conversation_view_get_list (view)), &rows, NULL);
  g_assert_cmpuint (rows, <, 300);
  g_assert_false (texts_contain (
      GTK_WIDGET (sc_conversation_view_get_list (view)), newest));
  gtk_window_destroy (w);
}

/* At the bottom, a new message scrolls into view. */
static void
test_follows_new_messages (void)
{
  g_autoptr (ScConversation) c = long_conversation (200);
  g_autoptr (ScMessage) m = NULL;
  ScConversationView *view;
  GtkWindow *w = window_with_view (&view);

  sc_conversation_view_set_conversation (view, NULL, c);
  sc_test_wait_for_draw (GTK_WIDGET (w));
  m = sc_message_new (201, SC_MESSAGE_INCOMING, "bob", "The newest one",
                      g_get_real_time () / 1000, SC_DELIVERY_NONE);
  sc_conversation_append (c, m);
  g_assert_true (SC_TEST_WAIT (
      texts_contain (GTK_WIDGET (sc_conversation_view_get_list (view)),
                     "The newest one"),
      10000));
  gtk_window_destroy (w);
}

/* What the bubbles say about delivery. */
static void
test_bubbles (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  ScConversationView *view;
  GtkWindow *w = window_with_view (&view);
  gint64 now = g_get_real_time () / 1000;
  ScMessage *v[5];

  v[0] = sc_message_new (1, SC_MESSAGE_INCOMING, "bob",
                         "Hi alice! Are you coming to the meeting?",
                         now - 600000, SC_DELIVERY_NONE);
  v[1] = sc_message_new (2, SC_MESSAGE_OUTGOING, "alice",
                         "Yes, on my way. Five minutes.", now - 500000,
                         SC_DELIVERY_SENT);
  v[2] = sc_message_new (3, SC_MESSAGE_OUTGOING, "alice",
                         "Bring the slides please", now - 400000,
                         SC_DELIVERY_OFFLINE);
  v[3] =
      sc_message_new (4, SC_MESSAGE_NOTICE, NULL, "bob’s security key changed.",
                      now - 300000, SC_DELIVERY_NONE);
  v[4] = sc_message_new (5, SC_MESSAGE_OUTGOING, "alice", "See you!", now,
                         SC_DELIVERY_SENDING);
  sc_conversation_append_many (c, v, 5);
  sc_conversation_view_set_conversation (view, NULL, c);
  sc_test_wait_for_draw (GTK_WIDGET (w));
  g_assert_true (SC_TEST_WAIT (
      texts_contain (GTK_WIDGET (sc_conversation_view_get_list (view)),
                     "See you!"),
      10000));
  sc_test_screenshot_light_dark (GTK_WIDGET (w), "conversation-bubbles");

  /* A delivery change shows on the bubble at once. */
  sc_message_set_delivery (v[4], SC_DELIVERY_FAILED, "the server refused it");
  g_assert_cmpstr (sc_message_get_error (v[4]), ==, "the server refused it");
  for (guint i = 0; i < 5; i++)
    g_object_unref (v[i]);
  gtk_window_destroy (w);
}

static void
test_format_time (void)
{
  gint64 now = 1764763200000; /* 2025-12-03 12:00 UTC */
  g_autofree char *today = sc_message_row_format_time (now - 60000, now);
  g_autofree char *old =
      sc_message_row_format_time (now - 400LL * 86400000, now);

  /* "HH:MM" today; the year for older messages. */
  g_assert_cmpuint (strlen (today), ==, 5);
  g_assert_nonnull (strstr (old, "2024"));
}

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  g_setenv ("TZ", "UTC", TRUE);
  g_test_init (&argc, &argv, NULL);
  if (!gtk_init_check ())
    {
      printf ("1..0 # SKIP no display\n");
      return 0;
    }
  adw_init ();
  {
    /* What AdwApplication would load from the resource base path. */
    g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();

    gtk_css_provider_load_from_resource (
        css, "/io/github/securechat/SecureChat/style.css");
    gtk_style_context_add_provider_for_display (
        gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
        GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  }
  g_test_add_func ("/conversation-view/long-is-lazy",
                   test_long_conversation_is_lazy);
  g_test_add_func ("/conversation-view/follows-new-messages",
                   test_follows_new_messages);
  g_test_add_func ("/conversation-view/bubbles", test_bubbles);
  g_test_add_func ("/conversation-view/format-time", test_format_time);
  return g_test_run ();
}
