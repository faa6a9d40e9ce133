/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Finding widgets in a real window from a test, depth first. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The first widget under root (root included) of type, or NULL. */
GtkWidget *sc_test_find_widget (GtkWidget *root, GType type);
/* The first GtkButton under root whose label is label, or NULL. */
GtkWidget *sc_test_find_button (GtkWidget *root, const char *label);

G_END_DECLS
