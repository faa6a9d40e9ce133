/* SPDX-License-Identifier: GPL-3.0-or-later */
/* How a long conversation feels: the time from handing a 10,000-message
 * conversation (and a 100,000 one) to the view until its first frame is
 * drawn, then a scroll from the newest message to the oldest one page
 * at a time, with the time each page took to lay out and draw. Prints
 * figures; it asserts nothing about speed. Run under Xvfb. */
#include <adwaita.h>
#include <locale.h>

#include "sc-conversation-view.h"

typedef struct
{
  gboolean painted;
} Frame;

static void
after_paint_cb (GdkFrameClock *clock, Frame *f)
{
  f->painted = TRUE;
}

/* Waits for the next frame the window paints; returns the ms it took. */
static double
next_frame (GtkWidget *window, Frame *f)
{
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = t0 + 10 * G_USEC_PER_SEC;

  f->painted = FALSE;
  gtk_widget_queue_draw (window);
  while (!f->painted && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  return (double) (g_get_monotonic_time () - t0) / 1000.0;
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
run (guint n)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  g_autoptr (GPtrArray) v = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
  GtkWidget *window = gtk_window_new ();
  ScConversationView *view = SC_CONVERSATION_VIEW (sc_conversation_view_new ());
  GdkFrameClock *clock;
  Frame f = { 0 };
  gint64 t0;
  double open_ms, total = 0;
  guint pages = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf (
          "Message %u: a line of chat, sometimes longer than others%s", i,
          i % 7 == 0 ? ", and this one wraps onto a second line in a "
                       "window of ordinary width"
                     : "");

      g_ptr_array_add (
          v, sc_message_new (i + 1,
                             i % 2 ? SC_MESSAGE_INCOMING : SC_MESSAGE_OUTGOING,
                             i % 2 ? "bob" : "alice", text,
                             1700000000000 + (gint64) i * 1000,
                             i % 2 ? SC_DELIVERY_NONE : SC_DELIVERY_SENT));
    }
  sc_conversation_append_many (c, (ScMessage **) v->pdata, v->len);

  gtk_window_set_default_size (GTK_WINDOW (window), 640, 720);
  gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (view));
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_mapped (window))
    g_main_context_iteration (NULL, TRUE);
  clock = gtk_widget_get_frame_clock (window);
  g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &f);
  next_frame (window, &f);

  t0 = g_get_monotonic_time ();
  sc_conversation_view_set_conversation (view, NULL, c);
  next_frame (window, &f);
  open_ms = (double) (g_get_monotonic_time () - t0) / 1000.0;

  /* Up from the newest message, a screenful (12 messages) at a time, as
   * Page Up does, for at most 400 pages. */
  for (gint64 pos = (gint64) n - 1 - 12; pos >= 0 && pages < 400; pos -= 12)
    {
      double ms;

      gtk_widget_activate_action (
          GTK_WIDGET (sc_conversation_view_get_list (view)),
          "list.scroll-to-item", "u", (guint) pos);
      ms = next_frame (window, &f);
      g_array_append_val (times, ms);
      total += ms;
      pages++;
    }
  g_array_sort (times, cmp_double);
  printf ("%7u messages: first frame %.1f ms; %u pages scrolled, per page "
          "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%.0f pages/s)\n",
          n, open_ms, pages,
          pages ? g_array_index (times, double, pages / 2) : 0.0,
          pages ? g_array_index (times, double, (pages * 99) / 100) : 0.0,
          pages ? g_array_index (times, double, pages - 1) : 0.0,
          total > 0 ? pages * 1000.0 / total : 0.0);
  g_signal_handlers_disconnect_by_data (clock, &f);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  if (!gtk_init_check ())
    {
      printf ("no display: run under xvfb-run\n");
      return 0;
    }
  adw_init ();
  printf ("conversation view (GSK_RENDERER=%s)\n",
          g_getenv ("GSK_RENDERER") ? g_getenv ("GSK_RENDERER") : "default");
  run (10000);
  run (100000);
  return 0;
}
