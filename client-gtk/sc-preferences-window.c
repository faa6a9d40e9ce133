/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-preferences-window.h"

#include <glib/gi18n.h>

struct _ScPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GtkSwitch *notifications_switch;
  GtkSwitch *remember_switch;
  AdwActionRow *remembered_row;
  GtkButton *forget_button;

  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (ScPreferencesWindow,
                     sc_preferences_window,
                     ADW_TYPE_PREFERENCES_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static gboolean
is_set (GSettings *settings, const char *key)
{
  g_autoptr (GVariant) value = g_settings_get_user_value (settings, key);

  return value != NULL;
}

static void
update_remembered (ScPreferencesWindow *self)
{
  gboolean has_server = is_set (self->settings, "last-server");
  gboolean has_user = is_set (self->settings, "last-user");
  g_autofree char *server =
      g_settings_get_string (self->settings, "last-server");
  g_autofree char *user = g_settings_get_string (self->settings, "last-user");
  g_autofree char *subtitle = NULL;

  if (has_user && user[0] != '\0')
    /* Translators: "alice on chat.example.org:12345" */
    subtitle = g_strdup_printf (_ ("%s on %s"), user, server);
  else if (has_server)
    subtitle = g_strdup (server);
  else
    subtitle = g_strdup (_ ("Nothing is remembered"));

  adw_action_row_set_subtitle (self->remembered_row, subtitle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->forget_button),
                            has_server || has_user);
}

static void
forget (ScPreferencesWindow *self)
{
  g_settings_reset (self->settings, "last-server");
  g_settings_reset (self->settings, "last-user");
  update_remembered (self);
}

static void
forget_clicked_cb (ScPreferencesWindow *self)
{
  forget (self);
  adw_preferences_window_add_toast (
      ADW_PREFERENCES_WINDOW (self),
      adw_toast_new (_ ("Remembered login forgotten")));
}

static void
remember_changed_cb (ScPreferencesWindow *self)
{
  if (!g_settings_get_boolean (self->settings, "remember-login"))
    forget (self);
}

static void
sc_preferences_window_constructed (GObject *object)
{
  ScPreferencesWindow *self = SC_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (sc_preferences_window_parent_class)->constructed (object);
  g_return_if_fail (G_IS_SETTINGS (self->settings));

  g_settings_bind (self->settings, "notifications", self->notifications_switch,
                   "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "remember-login", self->remember_switch,
                   "active", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_swapped (self->settings, "changed::last-server",
                            G_CALLBACK (update_remembered), self);
  g_signal_connect_swapped (self->settings, "changed::last-user",
                            G_CALLBACK (update_remembered), self);
  g_signal_connect_swapped (self->settings, "changed::remember-login",
                            G_CALLBACK (remember_changed_cb), self);
  update_remembered (self);
}

static void
sc_preferences_window_dispose (GObject *object)
{
  ScPreferencesWindow *self = SC_PREFERENCES_WINDOW (object);

  /* The settings outlive the window; their signals must not reach it. */
  if (self->settings != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->settings, self);
      g_settings_unbind (self->notifications_switch, "active");
      g_settings_unbind (self->remember_switch, "active");
      g_clear_object (&self->settings);
    }

  G_OBJECT_CLASS (sc_preferences_window_parent_class)->dispose (object);
}

static void
sc_preferences_window_set_property (GObject *object,
                                    guint prop_id,
                                    const GValue *value,
                                    GParamSpec *pspec)
{
  ScPreferencesWindow *self = SC_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_preferences_window_get_property (GObject *object,
                                    guint prop_id,
                                    GValue *value,
                                    GParamSpec *pspec)
{
  ScPreferencesWindow *self = SC_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_preferences_window_class_init (ScPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = sc_preferences_window_constructed;
  object_class->dispose = sc_preferences_window_dispose;
  object_class->set_property = sc_preferences_window_set_property;
  object_class->get_property = sc_preferences_window_get_property;

  props[PROP_SETTINGS] = g_param_spec_object (
      "settings", NULL, NULL, G_TYPE_SETTINGS,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  gtk_widget_class_set_template_from_resource (
      widget_class,
      "/io/github/securechat/SecureChat/sc-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ScPreferencesWindow,
                                        notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, ScPreferencesWindow,
                                        remember_switch);
  gtk_widget_class_bind_template_child (widget_class, ScPreferencesWindow,
                                        remembered_row);
  gtk_widget_class_bind_template_child (widget_class, ScPreferencesWindow,
                                        forget_button);
  gtk_widget_class_bind_template_callback (widget_class, forget_clicked_cb);
}

static void
sc_preferences_window_init (ScPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

ScPreferencesWindow *
sc_preferences_window_new (GtkWindow *parent, GSettings *settings)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (SC_TYPE_PREFERENCES_WINDOW, "transient-for", parent,
                       "settings", settings, NULL);
}
