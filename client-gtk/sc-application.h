/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScApplication: the single-instance desktop application: one main
 * window, the app-wide actions (quit, preferences, about, opening a
 * conversation from a notification) and their shortcuts, the settings. */
#pragma once

#include <adwaita.h>

#include "sc-window.h"

G_BEGIN_DECLS

#define SC_APPLICATION_ID "io.github.securechat.SecureChat"

#define SC_TYPE_APPLICATION (sc_application_get_type ())
G_DECLARE_FINAL_TYPE (
    ScApplication, sc_application, SC, APPLICATION, AdwApplication)

ScApplication *sc_application_new (void);
/* The main window, created on first activation; NULL before. */
ScWindow *sc_application_get_window (ScApplication *self);
GSettings *sc_application_get_settings (ScApplication *self);

/* The application's settings: from the installed schema, or else from
 * schema_dir (a folder holding gschemas.compiled, e.g. the build tree's
 * data/); NULL with error when neither has it. */
GSettings *sc_application_load_settings (const char *schema_dir,
                                         GError **error);

G_END_DECLS
