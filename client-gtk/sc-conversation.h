/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScConversation: everything the window shows about one peer: its
 * messages (a GListModel of ScMessage, oldest first), unread count,
 * presence and trust. Pure model: ScChat keeps it up to date. */
#pragma once

#include <gio/gio.h>

#include "sc-message.h"

G_BEGIN_DECLS

#define SC_TYPE_CONVERSATION (sc_conversation_get_type ())
G_DECLARE_FINAL_TYPE (
    ScConversation, sc_conversation, SC, CONVERSATION, GObject)

ScConversation *sc_conversation_new (const char *peer);

const char *sc_conversation_get_peer (ScConversation *self);
/* The messages, oldest first; owned by the conversation. */
GListModel *sc_conversation_get_messages (ScConversation *self);
/* Appends, keeping "last-activity", "preview" and "unread" current
 * (incoming messages count as unread). Takes a reference. */
void sc_conversation_append (ScConversation *self, ScMessage *message);
/* Appends many at once (loading history): one items-changed. Does not
 * change the unread count. */
void sc_conversation_append_many (ScConversation *self, ScMessage **v, guint n);
/* The message with this local id, or NULL (not a new reference). Local
 * id 0 is "no id" and never found; if ids repeat, the newest wins. */
ScMessage *sc_conversation_find (ScConversation *self, guint64 local_id);

guint sc_conversation_get_unread (ScConversation *self);
void sc_conversation_set_unread (ScConversation *self, guint unread);
gboolean sc_conversation_get_online (ScConversation *self);
void sc_conversation_set_online (ScConversation *self, gboolean online);
gboolean sc_conversation_get_verified (ScConversation *self);
void sc_conversation_set_verified (ScConversation *self, gboolean verified);
/* A new identity key waits for the user's decision. */
gboolean sc_conversation_get_identity_changed (ScConversation *self);
void sc_conversation_set_identity_changed (ScConversation *self,
                                           gboolean changed);
/* Wall-clock ms of the newest message, 0 when empty; follows that
 * message's "timestamp" when it changes. */
gint64 sc_conversation_get_last_activity (ScConversation *self);
/* The newest message's text on one line (ellipsized by the row), or "":
 * runs of white space and control characters become one space, and at
 * most 120 characters are kept ("…" marks a cut). */
const char *sc_conversation_get_preview (ScConversation *self);

/* Properties (all notify): "peer" (construct-only), "unread" (guint),
 * "online", "verified", "identity-changed" (gboolean), "last-activity"
 * (gint64), "preview" (string), "n-messages" (guint). */

G_END_DECLS
