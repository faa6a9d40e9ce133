/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScPreferencesWindow: the application's preferences, bound to the
 * io.github.securechat.SecureChat GSettings schema: notifications,
 * remembering the last server and user name, and forgetting them.
 * Turning "remember" off also forgets what was remembered, as the
 * schema promises ("only kept when remember-login is on"). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SC_TYPE_PREFERENCES_WINDOW (sc_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (ScPreferencesWindow,
                      sc_preferences_window,
                      SC,
                      PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

/* settings: of schema io.github.securechat.SecureChat. */
ScPreferencesWindow *sc_preferences_window_new (GtkWindow *parent,
                                                GSettings *settings);

G_END_DECLS
