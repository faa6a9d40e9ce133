/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-test-widgets.h"

GtkWidget *
sc_test_find_widget (GtkWidget *root, GType type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = sc_test_find_widget (c, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

GtkWidget *
sc_test_find_button (GtkWidget *root, const char *label)
{
  if (GTK_IS_BUTTON (root) &&
      g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return root;
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = sc_test_find_button (c, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}
