/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScChat: one logged-in account as the window sees it. It listens to the
 * ScConnection, keeps one ScConversation per peer (from the history on
 * disk, from presence, from messages), writes every message and delivery
 * change to the ScHistory, and turns protocol events into model changes.
 * No widgets: the window binds to its models and signals. */
#pragma once

#include <gio/gio.h>

#include "sc-connection.h"
#include "sc-conversation.h"

G_BEGIN_DECLS

#define SC_TYPE_CHAT (sc_chat_get_type ())
G_DECLARE_FINAL_TYPE (ScChat, sc_chat, SC, CHAT, GObject)

/* Opens the account's history (DATA_DIR/history of the connection) and
 * loads every conversation in it. The connection may or may not be
 * started yet; ScChat only listens to it. */
ScChat *sc_chat_new (ScConnection *connection, GError **error);

ScConnection *sc_chat_get_connection (ScChat *self);
/* Every conversation (ScConversation), including online users without
 * messages; the own account is never one. Unsorted: the window sorts. */
GListModel *sc_chat_get_conversations (ScChat *self);
/* The conversation with peer, or NULL (no new reference). */
ScConversation *sc_chat_lookup (ScChat *self, const char *peer);
/* The conversation with peer, created (empty, no file yet) when needed.
 * NULL with error for an invalid name or the own user. */
ScConversation *sc_chat_ensure (ScChat *self, const char *peer, GError **error);

/* Sends text to the conversation's peer: the message appears at once as
 * "sending" and is stored, then its delivery follows the connection's
 * answer. When the connection refuses it at once (offline, key changed,
 * too long) the message still appears, as failed with the reason, and
 * FALSE is returned with that error. Leading and trailing blank lines
 * are trimmed; an empty text is refused (INVALID) and adds nothing. */
gboolean sc_chat_send (ScChat *self,
                       ScConversation *conversation,
                       const char *text,
                       GError **error);
/* The user read the conversation: unread back to 0. */
void sc_chat_mark_read (ScChat *self, ScConversation *conversation);
/* Reads verified / changed again from the key store. */
void sc_chat_refresh_trust (ScChat *self, ScConversation *conversation);
/* The sum of unread counts. */
guint sc_chat_get_unread_total (ScChat *self);

/* Signals:
 * "incoming"             (ScConversation *, ScMessage *) a message arrived
 * "conversation-changed" (ScConversation *) its order or visibility in a
 *                        list may have changed (activity, presence, unread)
 * "problem"              (const char *message) something the user should
 *                        know that belongs to no conversation (history
 *                        cannot be written, ...), plain language
 * Property "unread-total" (guint, notify). */

G_END_DECLS
