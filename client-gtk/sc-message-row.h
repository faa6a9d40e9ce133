/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScMessageRow: one message as a bubble (sender, text, time, delivery
 * state), or a notice across the conversation. Rows are recycled by the
 * list view: bind shows a message and follows its changes until unbind. */
#pragma once

#include <adwaita.h>

#include "sc-message.h"

G_BEGIN_DECLS

#define SC_TYPE_MESSAGE_ROW (sc_message_row_get_type ())
G_DECLARE_FINAL_TYPE (ScMessageRow, sc_message_row, SC, MESSAGE_ROW, AdwBin)

GtkWidget *sc_message_row_new (void);
void sc_message_row_bind (ScMessageRow *self, ScMessage *message);
void sc_message_row_unbind (ScMessageRow *self);

/* What the row shows, for tests. */
const char *sc_message_row_get_text (ScMessageRow *self);
const char *sc_message_row_get_status (ScMessageRow *self);

/* "12:34" today, "Mon 12:34" this week, "3 Dec 12:34" this year, else
 * with the year; local time. Free with g_free. */
char *sc_message_row_format_time (gint64 ts_ms, gint64 now_ms);

G_END_DECLS
