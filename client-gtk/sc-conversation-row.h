/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScConversationRow: one peer in the sidebar: avatar with a presence dot,
 * name, verified mark, last message and unread count. */
#pragma once

#include <adwaita.h>

#include "sc-conversation.h"

G_BEGIN_DECLS

#define SC_TYPE_CONVERSATION_ROW (sc_conversation_row_get_type ())
G_DECLARE_FINAL_TYPE (
    ScConversationRow, sc_conversation_row, SC, CONVERSATION_ROW, AdwBin)

GtkWidget *sc_conversation_row_new (void);
void sc_conversation_row_bind (ScConversationRow *self,
                               ScConversation *conversation);
void sc_conversation_row_unbind (ScConversationRow *self);

G_END_DECLS
