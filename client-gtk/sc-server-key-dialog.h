/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The two questions about a server's key, as AdwMessageDialogs. The
 * caller connects "response" and presents the dialog. They only show
 * what ScConnection reported ("server-key-unknown", "server-key-changed");
 * pinning is sc_connection_trust_server_key's job. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* First contact with server: shows fingerprint and asks the user to
 * compare it with the one the server's administrator gave them.
 * Responses: "cancel" (also on close) and "trust". */
GtkWindow *sc_server_key_dialog_new_unknown (GtkWindow *parent,
                                             const char *server,
                                             const char *fingerprint);

/* The server shows a key other than the pinned one: a hard stop with
 * nothing to click through. Tells the user how to undo the pin (line of
 * known_servers_path) once their administrator confirms the new key.
 * One response: "close". */
GtkWindow *sc_server_key_dialog_new_changed (GtkWindow *parent,
                                             const char *server,
                                             const char *pinned,
                                             const char *seen,
                                             const char *known_servers_path,
                                             guint line);

G_END_DECLS
