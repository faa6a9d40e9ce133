/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScConversationView: one conversation: the messages (a GtkListView that
 * builds rows only for what is on screen, so 10,000 messages scroll
 * smoothly), a warning when the peer's key changed, and the composer
 * (Enter sends, Shift+Enter starts a new line). */
#pragma once

#include <adwaita.h>

#include "sc-chat.h"

G_BEGIN_DECLS

#define SC_TYPE_CONVERSATION_VIEW (sc_conversation_view_get_type ())
G_DECLARE_FINAL_TYPE (
    ScConversationView, sc_conversation_view, SC, CONVERSATION_VIEW, AdwBin)

GtkWidget *sc_conversation_view_new (void);
/* Shows conversation of chat (NULL for none). */
void sc_conversation_view_set_conversation (ScConversationView *self,
                                            ScChat *chat,
                                            ScConversation *conversation);
ScConversation *
sc_conversation_view_get_conversation (ScConversationView *self);
/* Focuses the composer. */
void sc_conversation_view_focus_composer (ScConversationView *self);

/* For tests: the composer's text and the send action, the list. */
void sc_conversation_view_set_draft (ScConversationView *self,
                                     const char *text);
char *sc_conversation_view_get_draft (ScConversationView *self);
/* Sends the draft as Enter would. */
void sc_conversation_view_send (ScConversationView *self);
GtkListView *sc_conversation_view_get_list (ScConversationView *self);
GtkAdjustment *sc_conversation_view_get_vadjustment (ScConversationView *self);

/* Signals:
 * "review-key" ()            the user wants to see the safety number
 * "send-failed" (const char *message) a send was refused at once */

G_END_DECLS
