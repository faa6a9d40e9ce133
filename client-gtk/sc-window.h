/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScWindow: the main window. A login page until the account is online,
 * then a sidebar of conversations and online users next to the open
 * conversation. It owns the account's ScConnection and ScChat and turns
 * their events into what people see: titles, a reconnect banner with a
 * "Retry Now" button, toasts, dialogs. */
#pragma once

#include <adwaita.h>

#include "sc-chat.h"
#include "sc-conversation-view.h"
#include "sc-login-page.h"

G_BEGIN_DECLS

#define SC_TYPE_WINDOW (sc_window_get_type ())
G_DECLARE_FINAL_TYPE (ScWindow, sc_window, SC, WINDOW, AdwApplicationWindow)

/* settings: the io.github.securechat.SecureChat GSettings. */
ScWindow *sc_window_new (GtkApplication *app, GSettings *settings);

/* Opens the conversation with peer (e.g. from a notification). */
void sc_window_open_conversation (ScWindow *self, const char *peer);

/* What a test needs to drive and check the real window. */
ScLoginPage *sc_window_get_login_page (ScWindow *self);
ScConversationView *sc_window_get_conversation_view (ScWindow *self);
/* NULL before the first login attempt. */
ScChat *sc_window_get_chat (ScWindow *self);
ScConnection *sc_window_get_connection (ScWindow *self);
/* "login" or "chat". */
const char *sc_window_get_page (ScWindow *self);
/* The reconnect banner's text, or NULL while it is hidden. */
const char *sc_window_get_banner_text (ScWindow *self);
/* The account title's subtitle ("Online", "Reconnecting in 4 s", ...). */
const char *sc_window_get_status_text (ScWindow *self);
/* The dialog the window shows right now (server key, new chat, safety
 * number), or NULL. */
GtkWindow *sc_window_get_dialog (ScWindow *self);
/* The sidebar's list model (sorted and filtered conversations). */
GListModel *sc_window_get_sidebar_model (ScWindow *self);
/* The last toast's title ("" when none was shown). */
const char *sc_window_get_last_toast (ScWindow *self);

G_END_DECLS
