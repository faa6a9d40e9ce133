/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-test-screenshot.h"

#include <glib/gstdio.h>

static gboolean
wake_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
sc_test_wait_for_flag (const gboolean *flag, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  /* Keeps the blocking iteration from sleeping past the deadline. */
  guint wake = g_timeout_add (10, wake_cb, NULL);

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
  g_assert_true (*flag);
}

typedef struct
{
  gboolean painted;
  GdkFrameClock *clock;
  gulong handler;
} DrawWait;

static void
after_paint_cb (GdkFrameClock *clock, DrawWait *wait)
{
  wait->painted = TRUE;
}

static gboolean
tick_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  DrawWait *wait = data;

  wait->clock = g_object_ref (clock);
  wait->handler = g_signal_connect (clock, "after-paint",
                                    G_CALLBACK (after_paint_cb), wait);
  return G_SOURCE_REMOVE;
}

void
sc_test_wait_for_draw (GtkWidget *widget)
{
  DrawWait wait = { 0 };

  /* GTK's own gtk_test_widget_wait_for_draw has no deadline; a window
   * that never maps would hang the suite until meson's timeout. */
  gtk_widget_add_tick_callback (widget, tick_cb, &wait, NULL);
  gtk_widget_queue_draw (widget);
  sc_test_wait_for_flag (&wait.painted, 10000);
  g_signal_handler_disconnect (wait.clock, wait.handler);
  g_object_unref (wait.clock);
}

/* The widget's render node from the frame just drawn, rendered. Fails
 * when the widget was invalidated again since (the node is gone). */
static GdkTexture *
render_now (GtkWidget *widget, GError **error)
{
  g_autoptr (GdkPaintable) paintable = NULL;
  GtkSnapshot *snapshot;
  g_autoptr (GskRenderNode) node = NULL;
  GtkNative *native = gtk_widget_get_native (widget);
  GskRenderer *renderer;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);

  renderer = native != NULL ? gtk_native_get_renderer (native) : NULL;
  if (renderer == NULL || width <= 0 || height <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                   "%s is not shown (%dx%d)", G_OBJECT_TYPE_NAME (widget),
                   width, height);
      return NULL;
    }

  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                   "%s has not been drawn", G_OBJECT_TYPE_NAME (widget));
      return NULL;
    }
  return gsk_renderer_render_texture (
      renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
}

typedef struct
{
  GtkWidget *widget;
  GdkTexture *texture;
  GError *error;
  gboolean done;
} Capture;

static void
capture_after_paint_cb (GdkFrameClock *clock, Capture *capture)
{
  g_autoptr (GError) error = NULL;

  if (capture->done)
    return;
  capture->texture = render_now (capture->widget, &error);
  if (capture->texture != NULL)
    capture->done = TRUE;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    /* Something (an animation, a style change) invalidated it during
     * the frame: take the next one. */
    gtk_widget_queue_draw (capture->widget);
  else
    {
      capture->error = g_steal_pointer (&error);
      capture->done = TRUE;
    }
}

GdkTexture *
sc_test_screenshot_render (GtkWidget *widget, GError **error)
{
  Capture capture = { widget, NULL, NULL, FALSE };
  GdkFrameClock *clock;
  gulong handler;

  /* Right after a frame the widget's render node is exactly what was
   * put on screen. */
  sc_test_wait_for_draw (widget);
  clock = gtk_widget_get_frame_clock (widget);
  g_assert_nonnull (clock);
  g_object_ref (clock);
  handler = g_signal_connect (clock, "after-paint",
                              G_CALLBACK (capture_after_paint_cb), &capture);
  gtk_widget_queue_draw (widget);
  sc_test_wait_for_flag (&capture.done, 10000);
  g_signal_handler_disconnect (clock, handler);
  g_object_unref (clock);

  if (capture.error != NULL)
    {
      g_propagate_error (error, capture.error);
      return NULL;
    }
  return capture.texture;
}

const char *
sc_test_screenshot_dir (void)
{
  static char *dir;

  if (dir == NULL)
    {
      dir =
          g_build_filename (g_test_get_dir (G_TEST_BUILT), "screenshots", NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
    }
  return dir;
}

static char *
save_texture (GdkTexture *texture, const char *name)
{
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  char *path = g_build_filename (sc_test_screenshot_dir (), file, NULL);

  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s (%dx%d)", path,
                  gdk_texture_get_width (texture),
                  gdk_texture_get_height (texture));
  return path;
}

char *
sc_test_screenshot_save (GtkWidget *widget, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkTexture) texture = NULL;

  texture = sc_test_screenshot_render (widget, &error);
  g_assert_no_error (error);
  return save_texture (texture, name);
}

double
sc_test_texture_luminance (GdkTexture *texture)
{
  int width = gdk_texture_get_width (texture);
  int height = gdk_texture_get_height (texture);
  gsize stride = (gsize) width * 4;
  g_autofree guchar *data = g_malloc_n ((gsize) height, stride);
  double sum = 0, weight = 0;
  gsize i;

  /* GDK_MEMORY_DEFAULT: premultiplied B, G, R, A bytes. */
  gdk_texture_download (texture, data, stride);
  for (i = 0; i < (gsize) height * stride; i += 4)
    {
      double a = data[i + 3] / 255.0;

      sum += (0.0722 * data[i] + 0.7152 * data[i + 1] + 0.2126 * data[i + 2]) /
             255.0;
      weight += a;
    }
  return weight > 0 ? sum / weight : 0;
}

void
sc_test_screenshot_light_dark (GtkWidget *widget, const char *name)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  static const struct
  {
    AdwColorScheme scheme;
    const char *suffix;
  } schemes[] = {
    { ADW_COLOR_SCHEME_FORCE_LIGHT, "light" },
    { ADW_COLOR_SCHEME_FORCE_DARK, "dark" },
  };
  double luminance[G_N_ELEMENTS (schemes)];
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (schemes); i++)
    {
      g_autofree char *full =
          g_strdup_printf ("%s-%s", name, schemes[i].suffix);
      g_autoptr (GError) error = NULL;
      g_autoptr (GdkTexture) texture = NULL;

      adw_style_manager_set_color_scheme (style, schemes[i].scheme);
      texture = sc_test_screenshot_render (widget, &error);
      g_assert_no_error (error);
      g_assert_cmpint (gdk_texture_get_width (texture), ==,
                       gtk_widget_get_width (widget));
      luminance[i] = sc_test_texture_luminance (texture);
      g_free (save_texture (texture, full));
    }
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  sc_test_wait_for_draw (widget);

  g_test_message ("%s: mean luminance light %.2f dark %.2f", name, luminance[0],
                  luminance[1]);
  g_assert_cmpfloat (luminance[0], >, 0.6);
  g_assert_cmpfloat (luminance[1], <, 0.4);
}
