/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-application.h"

#include <glib/gi18n.h>

#include "sc-preferences-window.h"

struct _ScApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  ScWindow *window; /* weak */
};

G_DEFINE_FINAL_TYPE (ScApplication, sc_application, ADW_TYPE_APPLICATION)

GSettings *
sc_application_load_settings (const char *schema_dir, GError **error)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchemaSource) local = NULL;
  g_autoptr (GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, SC_APPLICATION_ID, TRUE);
  if (schema == NULL && schema_dir != NULL)
    {
      local = g_settings_schema_source_new_from_directory (schema_dir, source,
                                                           FALSE, NULL);
      if (local != NULL)
        schema =
            g_settings_schema_source_lookup (local, SC_APPLICATION_ID, FALSE);
    }
  if (schema == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _ ("The settings schema %s is not installed. Install "
                      "SecureChat (meson install) or run it from its build "
                      "folder."),
                   SC_APPLICATION_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}

ScWindow *
sc_application_get_window (ScApplication *self)
{
  g_return_val_if_fail (SC_IS_APPLICATION (self), NULL);

  return self->window;
}

GSettings *
sc_application_get_settings (ScApplication *self)
{
  g_return_val_if_fail (SC_IS_APPLICATION (self), NULL);

  return self->settings;
}

static ScWindow *
ensure_window (ScApplication *self)
{
  if (self->window == NULL)
    {
      self->window = sc_window_new (GTK_APPLICATION (self), self->settings);
      g_object_add_weak_pointer (G_OBJECT (self->window),
                                 (gpointer *) &self->window);
    }
  return self->window;
}

static void
quit_action (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScApplication *self = data;

  /* Through the window, so that it saves its size and says goodbye. */
  if (self->window != NULL)
    gtk_window_close (GTK_WINDOW (self->window));
  g_application_quit (G_APPLICATION (self));
}

static void
preferences_action (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScApplication *self = data;
  GtkWindow *prefs = GTK_WINDOW (sc_preferences_window_new (
      GTK_WINDOW (ensure_window (self)), self->settings));

  gtk_window_present (prefs);
}

static void
about_action (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScApplication *self = data;
  const char *developers[] = { _ ("SecureChat developers"), NULL };
  GtkWidget *about = adw_about_window_new ();

  g_object_set (
      about, "transient-for", ensure_window (self), "application-name",
      _ ("SecureChat"), "application-icon", SC_APPLICATION_ID, "version",
      SC_VERSION, "developer-name", _ ("SecureChat developers"), "developers",
      developers, "license-type", GTK_LICENSE_GPL_3_0, "comments",
      _ ("End-to-end encrypted chat for your own server. Messages are "
         "encrypted with the Double Ratchet and travel to a server whose "
         "key you pinned."),
      "website", "https://github.com/securechat/securechat", "issue-url",
      "https://github.com/securechat/securechat/issues",
      /* Translators: your names, one per line. */
      "translator-credits", _ ("translator-credits"), NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
open_conversation_action (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScApplication *self = data;
  ScWindow *window = ensure_window (self);

  sc_window_open_conversation (window, g_variant_get_string (param, NULL));
  gtk_window_present (GTK_WINDOW (window));
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = quit_action },
  { .name = "preferences", .activate = preferences_action },
  { .name = "about", .activate = about_action },
  { .name = "open-conversation",
    .activate = open_conversation_action,
    .parameter_type = "s" },
};

static void
sc_application_startup (GApplication *app)
{
  ScApplication *self = SC_APPLICATION (app);
  const char *quit_accels[] = { "<Control>q", NULL };
  const char *prefs_accels[] = { "<Control>comma", NULL };
  const char *new_chat_accels[] = { "<Control>n", NULL };
  const char *close_accels[] = { "<Control>w", NULL };
  const char *safety_accels[] = { "<Control>i", NULL };
  const char *retry_accels[] = { "F5", NULL };

  G_APPLICATION_CLASS (sc_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit",
                                         quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app),
                                         "app.preferences", prefs_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.new-chat",
                                         new_chat_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "window.close",
                                         close_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app),
                                         "win.safety-number", safety_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.retry-now",
                                         retry_accels);
}

static void
sc_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (ensure_window (SC_APPLICATION (app))));
}

static void
sc_application_dispose (GObject *object)
{
  ScApplication *self = SC_APPLICATION (object);

  if (self->window != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->window),
                                    (gpointer *) &self->window);
      self->window = NULL;
    }
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (sc_application_parent_class)->dispose (object);
}

static void
sc_application_class_init (ScApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = sc_application_dispose;
  app_class->startup = sc_application_startup;
  app_class->activate = sc_application_activate;
}

static void
sc_application_init (ScApplication *self)
{
}

ScApplication *
sc_application_new (void)
{
  g_autoptr (GError) error = NULL;
  GSettings *settings =
      sc_application_load_settings (SC_BUILD_SCHEMA_DIR, &error);
  ScApplication *self;

  if (settings == NULL)
    {
      g_printerr ("securechat: %s\n", error->message);
      return NULL;
    }
  self =
      g_object_new (SC_TYPE_APPLICATION, "application-id", SC_APPLICATION_ID,
                    "flags", G_APPLICATION_DEFAULT_FLAGS, "resource-base-path",
                    "/io/github/securechat/SecureChat", NULL);
  self->settings = settings;
  return self;
}
