/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Screenshots of real windows from inside a test: the widget is rendered
 * with its own window's renderer (no X grab), exactly as it would be
 * drawn now, and saved as PNG under BUILDDIR/screenshots/. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Spins the default main context until *flag is TRUE; fails the test
 * after timeout_ms. */
void sc_test_wait_for_flag (const gboolean *flag, guint timeout_ms);

/* Waits until widget (usually a window) has been laid out and drawn. */
void sc_test_wait_for_draw (GtkWidget *widget);

/* Waits for the widget's next frame and renders exactly what it drew.
 * NULL with error when it has no size. Fails the test when no frame comes
 * within 10 s. */
GdkTexture *sc_test_screenshot_render (GtkWidget *widget, GError **error);

/* The test's screenshot folder (G_TEST_BUILT/screenshots), created on
 * first use. */
const char *sc_test_screenshot_dir (void);

/* Saves widget as dir/NAME.png; returns the path. Fails the test when
 * nothing could be rendered or written. */
char *sc_test_screenshot_save (GtkWidget *widget, const char *name);

/* Saves NAME-light.png and NAME-dark.png (AdwStyleManager forced to each
 * scheme, then back to the default) and checks that the dark one really
 * is darker. */
void sc_test_screenshot_light_dark (GtkWidget *widget, const char *name);

/* Mean luminance of a texture, 0 (black) to 1 (white), alpha-weighted. */
double sc_test_texture_luminance (GdkTexture *texture);

G_END_DECLS
