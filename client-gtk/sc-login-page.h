/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScLoginPage: the first thing a user sees: server, user name, password
 * and whether to remember the first two. It only collects and shows;
 * the window does the logging in. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SC_TYPE_LOGIN_PAGE (sc_login_page_get_type ())
G_DECLARE_FINAL_TYPE (ScLoginPage, sc_login_page, SC, LOGIN_PAGE, AdwBin)

GtkWidget *sc_login_page_new (void);

void sc_login_page_set_defaults (ScLoginPage *self,
                                 const char *server,
                                 const char *user,
                                 gboolean remember);
const char *sc_login_page_get_server (ScLoginPage *self);
const char *sc_login_page_get_user (ScLoginPage *self);
const char *sc_login_page_get_password (ScLoginPage *self);
gboolean sc_login_page_get_remember (ScLoginPage *self);
/* Empties the password field (after a login, or a failed one). */
void sc_login_page_clear_password (ScLoginPage *self);
/* While busy the form is insensitive and a spinner turns. */
void sc_login_page_set_busy (ScLoginPage *self, gboolean busy);
/* A plain-language error under the form; NULL hides it. */
void sc_login_page_set_error (ScLoginPage *self, const char *message);
const char *sc_login_page_get_error (ScLoginPage *self);
/* Puts the keyboard focus where typing should start. */
void sc_login_page_focus (ScLoginPage *self);

/* For tests: the entry rows and the button. */
GtkEditable *sc_login_page_get_server_row (ScLoginPage *self);
GtkEditable *sc_login_page_get_user_row (ScLoginPage *self);
GtkEditable *sc_login_page_get_password_row (ScLoginPage *self);
GtkButton *sc_login_page_get_login_button (ScLoginPage *self);

/* Signal "submit" (): the user asked to log in with the fields as they
 * are (all three non-empty). */

G_END_DECLS
