/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScMessage and ScConversation: properties, notifications, unread
 * counting, the one-line preview, batch appends and lookup by id. */
#include <string.h>

#include "sc-conversation.h"
#include "sc-message.h"

/* Counts notify emissions per property name. */
typedef struct
{
  GHashTable *counts; /* name -> count */
} Notes;

static void
notify_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  Notes *notes = user_data;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (notes->counts, pspec->name));

  g_hash_table_insert (notes->counts, (gpointer) pspec->name,
                       GUINT_TO_POINTER (n + 1));
}

static void
notes_watch (Notes *notes, gpointer object)
{
  notes->counts = g_hash_table_new (g_str_hash, g_str_equal);
  g_signal_connect (object, "notify", G_CALLBACK (notify_cb), notes);
}

static guint
notes_get (Notes *notes, const char *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (notes->counts, name));
}

static void
notes_reset (Notes *notes)
{
  g_hash_table_remove_all (notes->counts);
}

static void
notes_clear (Notes *notes)
{
  g_clear_pointer (&notes->counts, g_hash_table_unref);
}

static void
test_message_properties (void)
{
  g_autoptr (ScMessage) m = NULL;
  g_autofree char *sender = NULL;
  g_autofree char *text = NULL;
  g_autofree char *error = NULL;
  guint64 local_id = 0;
  gint64 ts = 0;
  ScMessageKind kind = SC_MESSAGE_INCOMING;
  ScDelivery delivery = SC_DELIVERY_NONE;
  GEnumClass *klass;

  m = sc_message_new (42, SC_MESSAGE_OUTGOING, "alice", "hello", 1700000000123,
                      SC_DELIVERY_SENDING);
  g_assert_cmpuint (sc_message_get_local_id (m), ==, 42);
  g_assert_cmpint (sc_message_get_kind (m), ==, SC_MESSAGE_OUTGOING);
  g_assert_cmpstr (sc_message_get_sender (m), ==, "alice");
  g_assert_cmpstr (sc_message_get_text (m), ==, "hello");
  g_assert_cmpint (sc_message_get_timestamp (m), ==, 1700000000123);
  g_assert_cmpint (sc_message_get_delivery (m), ==, SC_DELIVERY_SENDING);
  g_assert_null (sc_message_get_error (m));

  g_object_get (m, "local-id", &local_id, "kind", &kind, "sender", &sender,
                "text", &text, "timestamp", &ts, "delivery", &delivery, "error",
                &error, NULL);
  g_assert_cmpuint (local_id, ==, 42);
  g_assert_cmpint (kind, ==, SC_MESSAGE_OUTGOING);
  g_assert_cmpstr (sender, ==, "alice");
  g_assert_cmpstr (text, ==, "hello");
  g_assert_cmpint (ts, ==, 1700000000123);
  g_assert_cmpint (delivery, ==, SC_DELIVERY_SENDING);
  g_assert_null (error);

  /* The enum types name their values (the window binds to them). */
  klass = g_type_class_ref (SC_TYPE_DELIVERY);
  g_assert_cmpstr (g_enum_get_value (klass, SC_DELIVERY_OFFLINE)->value_nick,
                   ==, "offline");
  g_assert_cmpuint (klass->n_values, ==, 5);
  g_type_class_unref (klass);
  klass = g_type_class_ref (SC_TYPE_MESSAGE_KIND);
  g_assert_cmpstr (g_enum_get_value (klass, SC_MESSAGE_NOTICE)->value_nick, ==,
                   "notice");
  g_type_class_unref (klass);

  /* Construct-only means construct-only. */
  g_assert_true (
      g_object_class_find_property (G_OBJECT_GET_CLASS (m), "text")->flags &
      G_PARAM_CONSTRUCT_ONLY);
  g_assert_false (
      g_object_class_find_property (G_OBJECT_GET_CLASS (m), "delivery")->flags &
      G_PARAM_CONSTRUCT_ONLY);
}

static void
test_message_generic_new (void)
{
  g_autoptr (ScMessage) m = NULL;
  g_autoptr (ScMessage) n = NULL;

  m = g_object_new (SC_TYPE_MESSAGE, "local-id", (guint64) 7, "kind",
                    SC_MESSAGE_NOTICE, "text", "key changed", "timestamp",
                    (gint64) 5, NULL);
  g_assert_cmpuint (sc_message_get_local_id (m), ==, 7);
  g_assert_cmpint (sc_message_get_kind (m), ==, SC_MESSAGE_NOTICE);
  g_assert_cmpstr (sc_message_get_text (m), ==, "key changed");
  g_assert_cmpstr (sc_message_get_sender (m), ==, "");
  g_assert_cmpint (sc_message_get_timestamp (m), ==, 5);

  /* NULL strings become "", never NULL. */
  n = sc_message_new (1, SC_MESSAGE_NOTICE, NULL, NULL, 0, SC_DELIVERY_NONE);
  g_assert_cmpstr (sc_message_get_sender (n), ==, "");
  g_assert_cmpstr (sc_message_get_text (n), ==, "");
}

static void
delivery_seen_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  char **seen_error = user_data;

  g_free (*seen_error);
  *seen_error = g_strdup (sc_message_get_error (SC_MESSAGE (object)));
}

static void
test_message_notify (void)
{
  g_autoptr (ScMessage) m = NULL;
  g_autofree char *seen_error = NULL;
  Notes notes = { 0 };

  m = sc_message_new (1, SC_MESSAGE_OUTGOING, "me", "hi", 100,
                      SC_DELIVERY_SENDING);
  notes_watch (&notes, m);
  g_signal_connect (m, "notify::delivery", G_CALLBACK (delivery_seen_cb),
                    &seen_error);

  sc_message_set_delivery (m, SC_DELIVERY_SENT, NULL);
  g_assert_cmpuint (notes_get (&notes, "delivery"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "error"), ==, 0);

  /* The same value again: silence. */
  notes_reset (&notes);
  sc_message_set_delivery (m, SC_DELIVERY_SENT, NULL);
  sc_message_set_timestamp (m, 100);
  g_assert_cmpuint (g_hash_table_size (notes.counts), ==, 0);

  /* Both change: each notifies once, and a delivery handler already
   * sees the new error. */
  sc_message_set_delivery (m, SC_DELIVERY_FAILED, "Recipient not online");
  g_assert_cmpuint (notes_get (&notes, "delivery"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "error"), ==, 1);
  g_assert_cmpstr (seen_error, ==, "Recipient not online");
  g_assert_cmpstr (sc_message_get_error (m), ==, "Recipient not online");

  /* Only the error changes. */
  notes_reset (&notes);
  sc_message_set_delivery (m, SC_DELIVERY_FAILED, "Too large");
  g_assert_cmpuint (notes_get (&notes, "delivery"), ==, 0);
  g_assert_cmpuint (notes_get (&notes, "error"), ==, 1);

  notes_reset (&notes);
  sc_message_set_timestamp (m, 200);
  g_assert_cmpuint (notes_get (&notes, "timestamp"), ==, 1);
  g_assert_cmpint (sc_message_get_timestamp (m), ==, 200);

  /* Through the property interface, also explicit. */
  notes_reset (&notes);
  g_object_set (m, "delivery", SC_DELIVERY_SENT, NULL);
  g_object_set (m, "delivery", SC_DELIVERY_SENT, NULL);
  g_assert_cmpuint (notes_get (&notes, "delivery"), ==, 1);
  g_assert_cmpstr (sc_message_get_error (m), ==, "Too large");
  g_object_set (m, "error", NULL, NULL);
  g_assert_null (sc_message_get_error (m));
  g_assert_cmpuint (notes_get (&notes, "error"), ==, 1);

  notes_clear (&notes);
}

static ScMessage *
msg (guint64 id, ScMessageKind kind, const char *text, gint64 ts)
{
  return sc_message_new (
      id, kind, kind == SC_MESSAGE_INCOMING ? "bob" : "me", text, ts,
      kind == SC_MESSAGE_OUTGOING ? SC_DELIVERY_SENDING : SC_DELIVERY_NONE);
}

static void
test_conversation_properties (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  Notes notes = { 0 };
  gboolean online = FALSE;
  guint unread = 99;
  guint n_messages = 99;
  g_autofree char *preview = NULL;

  g_assert_cmpstr (sc_conversation_get_peer (c), ==, "bob");
  g_assert_cmpuint (sc_conversation_get_unread (c), ==, 0);
  g_assert_false (sc_conversation_get_online (c));
  g_assert_false (sc_conversation_get_verified (c));
  g_assert_false (sc_conversation_get_identity_changed (c));
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 0);
  g_assert_cmpstr (sc_conversation_get_preview (c), ==, "");
  g_assert_cmpuint (g_list_model_get_n_items (sc_conversation_get_messages (c)),
                    ==, 0);
  g_assert_true (g_list_model_get_item_type (
                     sc_conversation_get_messages (c)) == SC_TYPE_MESSAGE);

  notes_watch (&notes, c);
  sc_conversation_set_online (c, TRUE);
  sc_conversation_set_online (c, TRUE);
  sc_conversation_set_verified (c, TRUE);
  sc_conversation_set_identity_changed (c, TRUE);
  sc_conversation_set_identity_changed (c, FALSE);
  sc_conversation_set_unread (c, 3);
  g_assert_cmpuint (notes_get (&notes, "online"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "verified"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "identity-changed"), ==, 2);
  g_assert_cmpuint (notes_get (&notes, "unread"), ==, 1);
  g_assert_true (sc_conversation_get_verified (c));
  g_assert_false (sc_conversation_get_identity_changed (c));

  g_object_get (c, "online", &online, "unread", &unread, "n-messages",
                &n_messages, "preview", &preview, NULL);
  g_assert_true (online);
  g_assert_cmpuint (unread, ==, 3);
  g_assert_cmpuint (n_messages, ==, 0);
  g_assert_cmpstr (preview, ==, "");

  g_object_set (c, "online", FALSE, NULL);
  g_assert_false (sc_conversation_get_online (c));
  g_assert_cmpuint (notes_get (&notes, "online"), ==, 2);
  notes_clear (&notes);
}

static void
test_conversation_unread (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  ScMessage *batch[3];
  Notes notes = { 0 };

  notes_watch (&notes, c);
  {
    g_autoptr (ScMessage) one = msg (1, SC_MESSAGE_INCOMING, "one", 10);

    sc_conversation_append (c, one);
  }
  g_assert_cmpuint (sc_conversation_get_unread (c), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "unread"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "n-messages"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "preview"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "last-activity"), ==, 1);

  {
    g_autoptr (ScMessage) out = msg (2, SC_MESSAGE_OUTGOING, "two", 20);
    g_autoptr (ScMessage) notice = msg (3, SC_MESSAGE_NOTICE, "three", 30);
    g_autoptr (ScMessage) in = msg (4, SC_MESSAGE_INCOMING, "four", 40);

    sc_conversation_append (c, out);
    sc_conversation_append (c, notice);
    g_assert_cmpuint (sc_conversation_get_unread (c), ==, 1);
    sc_conversation_append (c, in);
    g_assert_cmpuint (sc_conversation_get_unread (c), ==, 2);
    /* The conversation took its own references. */
    g_assert_cmpuint (G_OBJECT (in)->ref_count, ==, 2);
  }

  /* Loading history is not news. */
  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    batch[i] = msg (5 + i, SC_MESSAGE_INCOMING, "old", 50 + i);
  sc_conversation_append_many (c, batch, G_N_ELEMENTS (batch));
  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    g_object_unref (batch[i]);
  g_assert_cmpuint (sc_conversation_get_unread (c), ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (sc_conversation_get_messages (c)),
                    ==, 7);

  sc_conversation_set_unread (c, 0);
  g_assert_cmpuint (sc_conversation_get_unread (c), ==, 0);
  notes_clear (&notes);
}

static const char *
preview_of (ScConversation *c, const char *text)
{
  g_autoptr (ScMessage) m = msg (0, SC_MESSAGE_INCOMING, text, 1);

  sc_conversation_append (c, m);
  return sc_conversation_get_preview (c);
}

static void
test_conversation_preview (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  g_autoptr (GString) longer = g_string_new (NULL);
  g_autoptr (GString) exact = g_string_new (NULL);
  g_autoptr (GString) accents = g_string_new (NULL);
  g_autoptr (GString) emoji = g_string_new (NULL);
  Notes notes = { 0 };
  const char *p;

  g_assert_cmpstr (preview_of (c, "hello"), ==, "hello");
  g_assert_cmpstr (preview_of (c, "first line\nsecond line\r\n\nthird\tend"),
                   ==, "first line second line third end");
  g_assert_cmpstr (preview_of (c, "\n\n  padded  \n"), ==, "padded");
  g_assert_cmpstr (preview_of (c, "bell\athere"), ==, "bell there");
  g_assert_cmpstr (preview_of (c, ""), ==, "");
  g_assert_cmpstr (preview_of (c, " \n\t "), ==, "");

  for (guint i = 0; i < 300; i++)
    g_string_append_c (longer, 'a' + i % 26);
  p = preview_of (c, longer->str);
  g_assert_cmpuint (g_utf8_strlen (p, -1), ==, 121);
  g_assert_true (g_str_has_suffix (p, "…"));
  g_assert_true (strncmp (p, longer->str, 120) == 0);

  /* Exactly the limit: nothing to mark. */
  for (guint i = 0; i < 120; i++)
    g_string_append_c (exact, 'x');
  g_assert_cmpstr (preview_of (c, exact->str), ==, exact->str);

  /* Multi-byte characters are counted and cut whole. */
  for (guint i = 0; i < 200; i++)
    g_string_append (accents, i % 2 ? "é" : "ß");
  p = preview_of (c, accents->str);
  g_assert_true (g_utf8_validate (p, -1, NULL));
  g_assert_cmpuint (g_utf8_strlen (p, -1), ==, 121);
  g_assert_true (strncmp (p, accents->str, strlen (p) - strlen ("…")) == 0);

  for (guint i = 0; i < 150; i++)
    g_string_append (emoji, "😀");
  p = preview_of (c, emoji->str);
  g_assert_true (g_utf8_validate (p, -1, NULL));
  g_assert_cmpuint (g_utf8_strlen (p, -1), ==, 121);

  /* Text that is not UTF-8 still gives a valid preview. */
  p = preview_of (c, "caf\xe9\xff ok");
  g_assert_true (g_utf8_validate (p, -1, NULL));
  g_assert_true (g_str_has_suffix (p, " ok"));

  /* Notified only when it changes. */
  notes_watch (&notes, c);
  preview_of (c, "same");
  preview_of (c, "same");
  preview_of (c, "other");
  g_assert_cmpuint (notes_get (&notes, "preview"), ==, 2);
  g_assert_cmpuint (notes_get (&notes, "n-messages"), ==, 3);
  notes_clear (&notes);
}

typedef struct
{
  guint calls;
  guint position;
  guint removed;
  guint added;
} ItemsChanged;

static void
items_changed_cb (GListModel *model,
                  guint position,
                  guint removed,
                  guint added,
                  gpointer user_data)
{
  ItemsChanged *ic = user_data;

  ic->calls++;
  ic->position = position;
  ic->removed = removed;
  ic->added = added;
}

static void
test_conversation_append_many (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  GListModel *model = sc_conversation_get_messages (c);
  g_autoptr (GPtrArray) v = g_ptr_array_new_with_free_func (g_object_unref);
  ItemsChanged ic = { 0 };
  Notes notes = { 0 };
  guint n_messages = 0;

  for (guint i = 0; i < 500; i++)
    g_ptr_array_add (
        v, msg (i + 1, i % 2 ? SC_MESSAGE_INCOMING : SC_MESSAGE_OUTGOING,
                i == 499 ? "the last\nof them" : "some text", 1000 + i));

  {
    g_autoptr (ScMessage) first = msg (1000, SC_MESSAGE_NOTICE, "first", 1);

    sc_conversation_append (c, first);
  }
  g_signal_connect (model, "items-changed", G_CALLBACK (items_changed_cb), &ic);
  notes_watch (&notes, c);

  sc_conversation_append_many (c, NULL, 0);
  g_assert_cmpuint (ic.calls, ==, 0);
  g_assert_cmpuint (g_hash_table_size (notes.counts), ==, 0);

  sc_conversation_append_many (c, (ScMessage **) v->pdata, v->len);
  g_assert_cmpuint (ic.calls, ==, 1);
  g_assert_cmpuint (ic.position, ==, 1);
  g_assert_cmpuint (ic.removed, ==, 0);
  g_assert_cmpuint (ic.added, ==, 500);
  g_assert_cmpuint (notes_get (&notes, "n-messages"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "preview"), ==, 1);
  g_assert_cmpuint (notes_get (&notes, "last-activity"), ==, 1);
  g_object_get (c, "n-messages", &n_messages, NULL);
  g_assert_cmpuint (n_messages, ==, 501);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 501);
  g_assert_cmpstr (sc_conversation_get_preview (c), ==, "the last of them");
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 1499);

  /* Oldest first, in the order given. */
  for (guint i = 0; i < v->len; i++)
    {
      g_autoptr (ScMessage) m = g_list_model_get_item (model, i + 1);

      g_assert_true (m == v->pdata[i]);
    }
  notes_clear (&notes);
}

static void
test_conversation_find (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  g_autoptr (GPtrArray) v = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (ScMessage) unnumbered = msg (0, SC_MESSAGE_NOTICE, "no id", 1);
  g_autoptr (ScMessage) late = msg (20001, SC_MESSAGE_INCOMING, "late", 2);

  /* Every third id, so misses fall between hits. */
  for (guint i = 0; i < 10000; i++)
    g_ptr_array_add (v, msg (3 * (guint64) i + 1, SC_MESSAGE_INCOMING, "x", i));
  sc_conversation_append_many (c, (ScMessage **) v->pdata, v->len);
  sc_conversation_append (c, unnumbered);
  sc_conversation_append (c, late);

  for (guint i = 0; i < 10000; i++)
    {
      g_assert_true (sc_conversation_find (c, 3 * (guint64) i + 1) ==
                     v->pdata[i]);
      g_assert_null (sc_conversation_find (c, 3 * (guint64) i + 2));
    }
  g_assert_true (sc_conversation_find (c, 20001) == late);
  g_assert_null (sc_conversation_find (c, 0));
  g_assert_null (sc_conversation_find (c, G_MAXUINT64));
}

static void
reply_cb (GListModel *model,
          guint position,
          guint removed,
          guint added,
          gpointer user_data)
{
  ScConversation *c = user_data;
  g_autoptr (ScMessage) reply = NULL;

  /* Once, to the first message only. */
  if (g_list_model_get_n_items (model) != 1)
    return;
  reply = msg (2, SC_MESSAGE_OUTGOING, "an answer", 20);
  sc_conversation_append (c, reply);
}

static void
test_conversation_reentrant (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  g_autoptr (ScMessage) first = msg (1, SC_MESSAGE_INCOMING, "a question", 10);

  /* A handler that appends while the first append is being reported:
   * the newest message still decides preview and last activity. */
  g_signal_connect (sc_conversation_get_messages (c), "items-changed",
                    G_CALLBACK (reply_cb), c);
  sc_conversation_append (c, first);
  g_assert_cmpuint (g_list_model_get_n_items (sc_conversation_get_messages (c)),
                    ==, 2);
  g_assert_cmpstr (sc_conversation_get_preview (c), ==, "an answer");
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 20);
  g_assert_cmpuint (sc_conversation_get_unread (c), ==, 1);
  g_assert_nonnull (sc_conversation_find (c, 1));
  g_assert_nonnull (sc_conversation_find (c, 2));
}

static void
test_conversation_last_activity (void)
{
  g_autoptr (ScConversation) c = sc_conversation_new ("bob");
  g_autoptr (ScMessage) a = msg (1, SC_MESSAGE_OUTGOING, "a", 100);
  g_autoptr (ScMessage) b = msg (2, SC_MESSAGE_OUTGOING, "b", 200);
  Notes notes = { 0 };

  sc_conversation_append (c, a);
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 100);
  /* The server's time replaces the local one. */
  sc_message_set_timestamp (a, 150);
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 150);

  sc_conversation_append (c, b);
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 200);
  notes_watch (&notes, c);
  /* An older message no longer decides it. */
  sc_message_set_timestamp (a, 999);
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 200);
  g_assert_cmpuint (notes_get (&notes, "last-activity"), ==, 0);
  sc_message_set_timestamp (b, 250);
  g_assert_cmpint (sc_conversation_get_last_activity (c), ==, 250);
  g_assert_cmpuint (notes_get (&notes, "last-activity"), ==, 1);
  notes_clear (&notes);

  /* A message that outlives its conversation is not watched by it. */
  g_clear_object (&c);
  sc_message_set_timestamp (b, 300);
  g_assert_cmpuint (G_OBJECT (b)->ref_count, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/gtk/message/properties", test_message_properties);
  g_test_add_func ("/gtk/message/generic-new", test_message_generic_new);
  g_test_add_func ("/gtk/message/notify", test_message_notify);
  g_test_add_func ("/gtk/conversation/properties",
                   test_conversation_properties);
  g_test_add_func ("/gtk/conversation/unread", test_conversation_unread);
  g_test_add_func ("/gtk/conversation/preview", test_conversation_preview);
  g_test_add_func ("/gtk/conversation/append-many",
                   test_conversation_append_many);
  g_test_add_func ("/gtk/conversation/find", test_conversation_find);
  g_test_add_func ("/gtk/conversation/reentrant", test_conversation_reentrant);
  g_test_add_func ("/gtk/conversation/last-activity",
                   test_conversation_last_activity);
  return g_test_run ();
}
