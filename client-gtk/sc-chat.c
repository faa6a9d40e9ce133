/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-chat.h"

#include <glib/gi18n.h>
#include <string.h>

#include "sc-history.h"
#include "securechat/e2e.h"
#include "securechat/msg.h"

/* A send waiting for its answer: which message of which conversation. */
typedef struct
{
  char *peer;
  guint64 local_id;
} PendingSend;

struct _ScChat
{
  GObject parent_instance;

  ScConnection *connection;
  ScHistory *history;
  GListStore *conversations;
  GHashTable *by_peer; /* peer -> ScConversation (borrowed from the store) */
  GHashTable *pending; /* guint64 ref (pointer-sized key) -> PendingSend */
  guint unread_total;
  /* Problems already reported, so that a full disk says so once. */
  gboolean history_failed;
};

G_DEFINE_FINAL_TYPE (ScChat, sc_chat, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_UNREAD_TOTAL,
  N_PROPS
};

enum
{
  SIGNAL_INCOMING,
  SIGNAL_CONVERSATION_CHANGED,
  SIGNAL_PROBLEM,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
pending_send_free (gpointer data)
{
  PendingSend *p = data;

  g_free (p->peer);
  g_free (p);
}

/* Refs are 64-bit; keys are boxed so this works where pointers are 32. */
static guint64 *
ref_key (guint64 ref)
{
  return g_memdup2 (&ref, sizeof ref);
}

static void
report_history_error (ScChat *self, GError *error)
{
  g_autofree char *text = NULL;

  /* Once per run: every later message would fail the same way. */
  if (self->history_failed)
    return;
  self->history_failed = TRUE;
  text = g_strdup_printf (
      _ ("Messages can no longer be saved on this computer: %s"),
      error->message);
  g_message ("history: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_PROBLEM], 0, text);
}

static void
recount_unread (ScChat *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));
  guint total = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScConversation) c =
          g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      total += sc_conversation_get_unread (c);
    }
  if (total != self->unread_total)
    {
      self->unread_total = total;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_TOTAL]);
    }
}

static void
conversation_notify_cb (ScConversation *conversation,
                        GParamSpec *pspec,
                        ScChat *self)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "unread"))
    recount_unread (self);
  if (g_str_equal (name, "unread") || g_str_equal (name, "online") ||
      g_str_equal (name, "last-activity") || g_str_equal (name, "n-messages"))
    g_signal_emit (self, signals[SIGNAL_CONVERSATION_CHANGED], 0, conversation);
}

static void
refresh_trust (ScChat *self, ScConversation *conversation)
{
  ScContactTrust trust = { 0 };

  if (!sc_connection_get_trust (self->connection,
                                sc_conversation_get_peer (conversation), &trust,
                                NULL))
    return;
  sc_conversation_set_verified (conversation, trust.verified);
  sc_conversation_set_identity_changed (conversation, trust.changed);
}

static ScConversation *
add_conversation (ScChat *self, const char *peer)
{
  g_autoptr (ScConversation) conversation = sc_conversation_new (peer);

  g_signal_connect_object (conversation, "notify",
                           G_CALLBACK (conversation_notify_cb), self, 0);
  g_hash_table_insert (self->by_peer,
                       g_strdup (sc_conversation_get_peer (conversation)),
                       conversation);
  refresh_trust (self, conversation);
  g_list_store_append (self->conversations, conversation);
  return conversation;
}

static gboolean
valid_peer (ScChat *self, const char *peer)
{
  return peer != NULL && sc_username_validate (peer, strlen (peer)) == 0 &&
         g_strcmp0 (peer, sc_connection_get_user (self->connection)) != 0;
}

ScConversation *
sc_chat_lookup (ScChat *self, const char *peer)
{
  g_return_val_if_fail (SC_IS_CHAT (self), NULL);

  if (peer == NULL)
    return NULL;
  return g_hash_table_lookup (self->by_peer, peer);
}

ScConversation *
sc_chat_ensure (ScChat *self, const char *peer, GError **error)
{
  ScConversation *conversation;

  g_return_val_if_fail (SC_IS_CHAT (self), NULL);

  conversation = sc_chat_lookup (self, peer);
  if (conversation != NULL)
    return conversation;
  if (peer == NULL || sc_username_validate (peer, strlen (peer)) != 0)
    {
      g_set_error (error, SC_CONNECTION_ERROR, SC_CONNECTION_ERROR_INVALID,
                   _ ("“%s” is not a valid user name."), peer ? peer : "");
      return NULL;
    }
  if (!valid_peer (self, peer))
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_INVALID,
                           _ ("You cannot start a chat with yourself."));
      return NULL;
    }
  return add_conversation (self, peer);
}

/* Adds message to conversation and to its file. */
static void
store_message (ScChat *self, ScConversation *conversation, ScMessage *message)
{
  g_autoptr (GError) error = NULL;

  if (!sc_history_append (self->history,
                          sc_conversation_get_peer (conversation), message,
                          &error))
    report_history_error (self, error);
  sc_conversation_append (conversation, message);
}

static ScMessage *
new_message (ScChat *self,
             ScConversation *conversation,
             ScMessageKind kind,
             const char *sender,
             const char *text,
             gint64 ts_ms,
             ScDelivery delivery)
{
  guint64 lid = sc_history_next_id (self->history,
                                    sc_conversation_get_peer (conversation));

  return sc_message_new (lid, kind, sender, text, ts_ms, delivery);
}

static void
add_notice (ScChat *self, ScConversation *conversation, const char *text)
{
  g_autoptr (ScMessage) notice =
      new_message (self, conversation, SC_MESSAGE_NOTICE, NULL, text,
                   g_get_real_time () / 1000, SC_DELIVERY_NONE);

  store_message (self, conversation, notice);
}

static void
update_delivery (ScChat *self,
                 guint64 ref,
                 ScDelivery delivery,
                 const char *error_text,
                 gint64 ts_ms)
{
  PendingSend *p = g_hash_table_lookup (self->pending, &ref);
  ScConversation *conversation;
  ScMessage *message;
  g_autoptr (GError) error = NULL;

  if (p == NULL)
    return;
  conversation = sc_chat_lookup (self, p->peer);
  message = conversation != NULL
                ? sc_conversation_find (conversation, p->local_id)
                : NULL;
  if (message != NULL)
    {
      if (ts_ms > 0)
        sc_message_set_timestamp (message, ts_ms);
      sc_message_set_delivery (message, delivery, error_text);
      if (!sc_history_update (self->history, p->peer, message, &error))
        report_history_error (self, error);
    }
  g_hash_table_remove (self->pending, &ref);
}

static void
presence_list_cb (ScConnection *connection, GStrv users, ScChat *self)
{
  g_autoptr (GHashTable) online = g_hash_table_new (g_str_hash, g_str_equal);
  guint n;

  for (guint i = 0; users != NULL && users[i] != NULL; i++)
    {
      if (!valid_peer (self, users[i]))
        continue;
      g_hash_table_add (online, users[i]);
      if (sc_chat_lookup (self, users[i]) == NULL)
        add_conversation (self, users[i]);
    }
  n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScConversation) c =
          g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      sc_conversation_set_online (
          c, g_hash_table_contains (online, sc_conversation_get_peer (c)));
    }
}

static void
presence_cb (ScConnection *connection,
             const char *user,
             gboolean online,
             ScChat *self)
{
  ScConversation *conversation;

  if (!valid_peer (self, user))
    return;
  conversation = sc_chat_lookup (self, user);
  if (conversation == NULL)
    {
      if (!online)
        return;
      conversation = add_conversation (self, user);
    }
  sc_conversation_set_online (conversation, online);
}

static void
message_cb (ScConnection *connection,
            guint64 id,
            const char *from,
            gint64 ts_ms,
            const char *text,
            ScChat *self)
{
  ScConversation *conversation = sc_chat_ensure (self, from, NULL);
  g_autoptr (ScMessage) message = NULL;

  if (conversation == NULL)
    return;
  message = new_message (self, conversation, SC_MESSAGE_INCOMING, from, text,
                         ts_ms, SC_DELIVERY_NONE);
  store_message (self, conversation, message);
  /* A message proves the sender is online, whatever presence said. */
  sc_conversation_set_online (conversation, TRUE);
  g_signal_emit (self, signals[SIGNAL_INCOMING], 0, conversation, message);
}

static void
sent_cb (ScConnection *connection,
         guint64 ref,
         guint64 id,
         gint64 ts_ms,
         ScChat *self)
{
  update_delivery (self, ref, SC_DELIVERY_SENT, NULL, ts_ms);
}

static void
send_error_cb (ScConnection *connection,
               guint64 ref,
               int code,
               const char *message,
               ScChat *self)
{
  /* The server's per-user rate: say what the user can do about it. */
  if (code == SC_CODE_RATE_LIMITED)
    message = _ ("You are sending messages too fast. Wait a moment, then "
                 "send it again.");
  update_delivery (self, ref,
                   code == SC_CODE_RECIPIENT_OFFLINE ? SC_DELIVERY_OFFLINE
                                                     : SC_DELIVERY_FAILED,
                   message, 0);
}

static void
send_failed_cb (ScConnection *connection,
                guint64 ref,
                const char *to,
                const char *message,
                ScChat *self)
{
  update_delivery (self, ref, SC_DELIVERY_FAILED, message, 0);
}

static void
send_lost_cb (ScConnection *connection, guint64 ref, ScChat *self)
{
  update_delivery (self, ref, SC_DELIVERY_FAILED,
                   _ ("The connection dropped before the server confirmed "
                      "this message; it may not have been delivered."),
                   0);
}

static void
identity_changed_cb (ScConnection *connection, const char *peer, ScChat *self)
{
  ScConversation *conversation = sc_chat_ensure (self, peer, NULL);
  g_autofree char *text = NULL;

  if (conversation == NULL)
    return;
  refresh_trust (self, conversation);
  /* The key store says so; make sure the model does even if it could not
   * be read. */
  sc_conversation_set_identity_changed (conversation, TRUE);
  sc_conversation_set_verified (conversation, FALSE);
  text = g_strdup_printf (
      _ ("%s’s security key changed. This happens when they reinstall "
         "or use a new device, or if someone is intercepting the "
         "conversation. Nothing is sent to %s until you check the new "
         "safety number."),
      peer, peer);
  add_notice (self, conversation, text);
}

static void
undecryptable_cb (ScConnection *connection,
                  guint64 id,
                  const char *from,
                  gint64 ts_ms,
                  const char *message,
                  ScChat *self)
{
  ScConversation *conversation = sc_chat_ensure (self, from, NULL);
  g_autofree char *text = NULL;

  if (conversation == NULL)
    return;
  text = g_strdup_printf (_ ("A message from %s could not be read: %s"), from,
                          message);
  add_notice (self, conversation, text);
}

static void
logged_in_cb (ScConnection *connection, ScChat *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScConversation) c =
          g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      refresh_trust (self, c);
    }
}

static void
state_cb (ScConnection *connection, GParamSpec *pspec, ScChat *self)
{
  ScConnectionState state = sc_connection_get_state (connection);
  guint n;

  if (state == SC_CONNECTION_ONLINE)
    return;
  /* Nobody is known to be online while we are not. */
  n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScConversation) c =
          g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      sc_conversation_set_online (c, FALSE);
    }
}

gboolean
sc_chat_send (ScChat *self,
              ScConversation *conversation,
              const char *text,
              GError **error)
{
  g_autofree char *trimmed = NULL;
  g_autoptr (ScMessage) message = NULL;
  g_autoptr (GError) send_error = NULL;
  const char *peer;
  guint64 ref = 0;
  PendingSend *p;

  g_return_val_if_fail (SC_IS_CHAT (self), FALSE);
  g_return_val_if_fail (SC_IS_CONVERSATION (conversation), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  trimmed = g_strstrip (g_strdup (text));
  if (trimmed[0] == '\0')
    {
      g_set_error_literal (error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_INVALID,
                           _ ("The message is empty."));
      return FALSE;
    }
  peer = sc_conversation_get_peer (conversation);
  message = new_message (self, conversation, SC_MESSAGE_OUTGOING,
                         sc_connection_get_user (self->connection), trimmed,
                         g_get_real_time () / 1000, SC_DELIVERY_SENDING);
  if (!sc_connection_send (self->connection, peer, trimmed, &ref, &send_error))
    {
      sc_message_set_delivery (message, SC_DELIVERY_FAILED,
                               send_error->message);
      store_message (self, conversation, message);
      if (g_error_matches (send_error, SC_CONNECTION_ERROR,
                           SC_CONNECTION_ERROR_IDENTITY_CHANGED))
        refresh_trust (self, conversation);
      g_propagate_error (error, g_steal_pointer (&send_error));
      return FALSE;
    }
  p = g_new0 (PendingSend, 1);
  p->peer = g_strdup (peer);
  p->local_id = sc_message_get_local_id (message);
  g_hash_table_insert (self->pending, ref_key (ref), p);
  store_message (self, conversation, message);
  return TRUE;
}

void
sc_chat_mark_read (ScChat *self, ScConversation *conversation)
{
  g_return_if_fail (SC_IS_CHAT (self));
  g_return_if_fail (SC_IS_CONVERSATION (conversation));

  sc_conversation_set_unread (conversation, 0);
}

void
sc_chat_refresh_trust (ScChat *self, ScConversation *conversation)
{
  g_return_if_fail (SC_IS_CHAT (self));
  g_return_if_fail (SC_IS_CONVERSATION (conversation));

  refresh_trust (self, conversation);
}

guint
sc_chat_get_unread_total (ScChat *self)
{
  g_return_val_if_fail (SC_IS_CHAT (self), 0);

  return self->unread_total;
}

ScConnection *
sc_chat_get_connection (ScChat *self)
{
  g_return_val_if_fail (SC_IS_CHAT (self), NULL);

  return self->connection;
}

GListModel *
sc_chat_get_conversations (ScChat *self)
{
  g_return_val_if_fail (SC_IS_CHAT (self), NULL);

  return G_LIST_MODEL (self->conversations);
}

static gboolean
load_history (ScChat *self, GError **error)
{
  g_auto (GStrv) peers = sc_history_list_peers (self->history, error);

  if (peers == NULL)
    return FALSE;
  for (guint i = 0; peers[i] != NULL; i++)
    {
      g_autoptr (GError) load_error = NULL;
      g_autoptr (GPtrArray) messages = NULL;
      ScConversation *conversation;
      guint skipped = 0;

      if (!valid_peer (self, peers[i]))
        continue;
      messages =
          sc_history_load (self->history, peers[i], &skipped, &load_error);
      if (messages == NULL)
        {
          g_autofree char *text = g_strdup_printf (
              _ ("The conversation with %s could not be loaded: %s"), peers[i],
              load_error->message);

          g_signal_emit (self, signals[SIGNAL_PROBLEM], 0, text);
          continue;
        }
      conversation = add_conversation (self, peers[i]);
      sc_conversation_append_many (conversation, (ScMessage **) messages->pdata,
                                   messages->len);
      if (skipped > 0)
        g_message ("history of %s: %u unreadable lines skipped", peers[i],
                   skipped);
    }
  return TRUE;
}

ScChat *
sc_chat_new (ScConnection *connection, GError **error)
{
  g_autoptr (ScChat) self = NULL;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (SC_IS_CONNECTION (connection), NULL);

  self = g_object_new (SC_TYPE_CHAT, NULL);
  self->connection = g_object_ref (connection);
  dir = g_build_filename (sc_connection_get_data_dir (connection), "history",
                          NULL);
  self->history = sc_history_open (dir, error);
  if (self->history == NULL)
    return NULL;
  if (!load_history (self, error))
    return NULL;

  g_signal_connect_object (connection, "presence-list",
                           G_CALLBACK (presence_list_cb), self, 0);
  g_signal_connect_object (connection, "presence", G_CALLBACK (presence_cb),
                           self, 0);
  g_signal_connect_object (connection, "message", G_CALLBACK (message_cb), self,
                           0);
  g_signal_connect_object (connection, "sent", G_CALLBACK (sent_cb), self, 0);
  g_signal_connect_object (connection, "send-error", G_CALLBACK (send_error_cb),
                           self, 0);
  g_signal_connect_object (connection, "send-failed",
                           G_CALLBACK (send_failed_cb), self, 0);
  g_signal_connect_object (connection, "send-lost", G_CALLBACK (send_lost_cb),
                           self, 0);
  g_signal_connect_object (connection, "identity-changed",
                           G_CALLBACK (identity_changed_cb), self, 0);
  g_signal_connect_object (connection, "undecryptable",
                           G_CALLBACK (undecryptable_cb), self, 0);
  g_signal_connect_object (connection, "logged-in", G_CALLBACK (logged_in_cb),
                           self, 0);
  g_signal_connect_object (connection, "notify::state", G_CALLBACK (state_cb),
                           self, 0);
  return g_steal_pointer (&self);
}

static void
sc_chat_dispose (GObject *object)
{
  ScChat *self = SC_CHAT (object);

  if (self->connection != NULL)
    g_signal_handlers_disconnect_by_data (self->connection, self);
  g_clear_object (&self->connection);
  if (self->conversations != NULL)
    g_list_store_remove_all (self->conversations);
  g_clear_pointer (&self->by_peer, g_hash_table_unref);
  g_clear_object (&self->conversations);
  G_OBJECT_CLASS (sc_chat_parent_class)->dispose (object);
}

static void
sc_chat_finalize (GObject *object)
{
  ScChat *self = SC_CHAT (object);

  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->history, sc_history_free);
  G_OBJECT_CLASS (sc_chat_parent_class)->finalize (object);
}

static void
sc_chat_get_property (GObject *object,
                      guint prop_id,
                      GValue *value,
                      GParamSpec *pspec)
{
  ScChat *self = SC_CHAT (object);

  switch (prop_id)
    {
    case PROP_UNREAD_TOTAL:
      g_value_set_uint (value, self->unread_total);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_chat_class_init (ScChatClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sc_chat_dispose;
  object_class->finalize = sc_chat_finalize;
  object_class->get_property = sc_chat_get_property;

  properties[PROP_UNREAD_TOTAL] = g_param_spec_uint (
      "unread-total", NULL, NULL, 0, G_MAXUINT, 0,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_INCOMING] = g_signal_new (
      "incoming", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 2, SC_TYPE_CONVERSATION, SC_TYPE_MESSAGE);
  signals[SIGNAL_CONVERSATION_CHANGED] = g_signal_new (
      "conversation-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
      NULL, NULL, NULL, G_TYPE_NONE, 1, SC_TYPE_CONVERSATION);
  signals[SIGNAL_PROBLEM] =
      g_signal_new ("problem", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
sc_chat_init (ScChat *self)
{
  self->conversations = g_list_store_new (SC_TYPE_CONVERSATION);
  self->by_peer = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                         pending_send_free);
}
