/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScMessage: one line of a conversation (a message or a notice), the
 * item type of ScConversation's list model. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  SC_MESSAGE_INCOMING,
  SC_MESSAGE_OUTGOING,
  SC_MESSAGE_NOTICE, /* from the app: key changed, undecryptable, ... */
} ScMessageKind;

/* Delivery of an outgoing message (others are always SC_DELIVERY_NONE). */
typedef enum
{
  SC_DELIVERY_NONE,
  SC_DELIVERY_SENDING, /* queued, no answer yet */
  SC_DELIVERY_SENT,    /* the server delivered it to the recipient */
  SC_DELIVERY_OFFLINE, /* the recipient was not online: not delivered */
  SC_DELIVERY_FAILED,  /* not delivered; "error" says why */
} ScDelivery;

#define SC_TYPE_MESSAGE (sc_message_get_type ())
G_DECLARE_FINAL_TYPE (ScMessage, sc_message, SC, MESSAGE, GObject)

/* local_id: unique within its conversation, assigned by the history
 * (ScHistory) and stable on disk. ts_ms: wall-clock milliseconds since
 * the epoch (the server's time for received and sent messages). */
ScMessage *sc_message_new (guint64 local_id,
                           ScMessageKind kind,
                           const char *sender,
                           const char *text,
                           gint64 ts_ms,
                           ScDelivery delivery);

guint64 sc_message_get_local_id (ScMessage *self);
ScMessageKind sc_message_get_kind (ScMessage *self);
/* Sender and text are never NULL (NULL given at construction: ""). */
const char *sc_message_get_sender (ScMessage *self);
const char *sc_message_get_text (ScMessage *self);
gint64 sc_message_get_timestamp (ScMessage *self);
ScDelivery sc_message_get_delivery (ScMessage *self);
/* Why delivery failed (plain language), or NULL. */
const char *sc_message_get_error (ScMessage *self);

/* Notifies "delivery" / "error" / "timestamp" as they change (only when
 * the value differs; set_delivery sets both before either notifies). */
void sc_message_set_delivery (ScMessage *self,
                              ScDelivery delivery,
                              const char *error);
void sc_message_set_timestamp (ScMessage *self, gint64 ts_ms);

GType sc_message_kind_get_type (void);
#define SC_TYPE_MESSAGE_KIND (sc_message_kind_get_type ())
GType sc_delivery_get_type (void);
#define SC_TYPE_DELIVERY (sc_delivery_get_type ())

/* Properties: "local-id" (guint64), "kind", "sender", "text",
 * "timestamp" (gint64), "delivery", "error"; all readable, construct-only
 * except delivery, error and timestamp. */

G_END_DECLS
