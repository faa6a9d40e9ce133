/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScHistory: the conversations of one account on disk, so they survive
 * a restart. Not a GObject: a plain store, used from the main loop.
 *
 * Layout: DIR/PEER.jsonl, one file per peer, DIR 0700, files 0600
 * (others are refused, as the key store does). Each line is one JSON
 * object, appended and flushed (write + fdatasync every batch):
 *   {"v":1,"op":"add","lid":7,"kind":"in"|"out"|"notice","from":"bob",
 *    "text":"...","ts":1700000000000,"delivery":"sending"|"sent"|
 *    "offline"|"failed"|"none","error":"..."}
 *   {"v":1,"op":"update","lid":7,"delivery":"sent","ts":...,"error":...}
 * Loading replays the lines in order; a torn or malformed line (a crash
 * mid-write, a hand edit) is skipped and counted, never fatal, and the
 * rest still loads. A message still "sending" when loaded is shown as
 * failed ("not sent before the app closed"). Files are compacted
 * (rewritten atomically without update lines) when updates make up more
 * than half of the lines at load time (unusable lines are dropped
 * then, and messages are written as loaded: "sending" as failed).
 * Members a line has beyond these are ignored; "v" changes when the
 * meaning of a line does. Every peer argument is checked with
 * sc_username_validate before it becomes a file name
 * (SC_HISTORY_ERROR_INVALID otherwise). */
#pragma once

#include <glib.h>

#include "sc-message.h"

G_BEGIN_DECLS

#define SC_HISTORY_ERROR (sc_history_error_quark ())
GQuark sc_history_error_quark (void);

typedef enum
{
  SC_HISTORY_ERROR_IO,          /* errno text in the message */
  SC_HISTORY_ERROR_PERMISSIONS, /* folder or file open to other users */
  SC_HISTORY_ERROR_TOO_LARGE,   /* a file over SC_HISTORY_FILE_MAX */
  SC_HISTORY_ERROR_INVALID,     /* a peer that is not a user name, or a
                                   message that cannot be stored (local id
                                   reused, bad text, ...) */
} ScHistoryError;

/* Refuse larger files rather than read them into memory. */
#define SC_HISTORY_FILE_MAX (256u * 1024 * 1024)
/* A text longer than this is cut (the protocol allows less anyway). */
#define SC_HISTORY_TEXT_MAX (64u * 1024)
/* A longer line is malformed (skipped and counted), never held whole. */
#define SC_HISTORY_LINE_MAX (512u * 1024)

typedef struct _ScHistory ScHistory;

/* Creates dir (and missing parents) 0700 when needed. */
ScHistory *sc_history_open (const char *dir, GError **error);
void sc_history_free (ScHistory *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScHistory, sc_history_free)

/* Peers with a history file (sorted; valid user names only). */
GStrv sc_history_list_peers (ScHistory *h, GError **error);

/* Loads peer's messages, oldest first, into a new GPtrArray of ScMessage
 * (free func g_object_unref). A missing file is an empty array.
 * *n_skipped (may be NULL) receives the number of unusable lines. */
GPtrArray *sc_history_load (ScHistory *h,
                            const char *peer,
                            guint *n_skipped,
                            GError **error);

/* The next unused local id for peer (after sc_history_load or on an
 * empty history: 1). Reads peer's file if this ScHistory has not loaded
 * it yet; 0 when peer is not a user name or the file cannot be read
 * (sc_history_load says why). After sc_history_remove ids start at 1. */
guint64 sc_history_next_id (ScHistory *h, const char *peer);

/* Appends an "add" line for message (its local id must come from
 * sc_history_next_id, which it then advances past; an id already used is
 * SC_HISTORY_ERROR_INVALID). The sender must be "" or a user name (for a
 * notice: up to 64 bytes of text), and only an outgoing message may have
 * a delivery other than SC_DELIVERY_NONE. The text is stored cut at
 * SC_HISTORY_TEXT_MAX bytes. */
gboolean sc_history_append (ScHistory *h,
                            const char *peer,
                            ScMessage *message,
                            GError **error);
/* Appends an "update" line with message's current delivery, timestamp
 * and error (cut at 1024 bytes). */
gboolean sc_history_update (ScHistory *h,
                            const char *peer,
                            ScMessage *message,
                            GError **error);

/* Deletes peer's history file (no file: nothing to do). */
gboolean sc_history_remove (ScHistory *h, const char *peer, GError **error);

G_END_DECLS
