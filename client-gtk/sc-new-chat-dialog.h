/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScNewChatDialog: asks for the user name of someone to write to. The
 * "start" response is enabled only for a valid user name (the protocol's
 * rule, sc_username_validate) other than one's own; the reason is shown
 * under the entry. Enter in the entry starts the chat when it can. The
 * caller connects "response" ("start" or "cancel") and reads the name
 * with sc_new_chat_dialog_get_name. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SC_TYPE_NEW_CHAT_DIALOG (sc_new_chat_dialog_get_type ())
G_DECLARE_FINAL_TYPE (
    ScNewChatDialog, sc_new_chat_dialog, SC, NEW_CHAT_DIALOG, AdwMessageDialog)

ScNewChatDialog *sc_new_chat_dialog_new (GtkWindow *parent,
                                         const char *own_user);

/* The user name typed, without surrounding spaces, when it is valid and
 * not own_user; NULL otherwise. Owned by the dialog. */
const char *sc_new_chat_dialog_get_name (ScNewChatDialog *self);

G_END_DECLS
