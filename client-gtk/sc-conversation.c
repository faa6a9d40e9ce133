/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScConversation: a GListStore of ScMessage plus an index by local id,
 * so ScChat can find the message a delivery report is about without
 * walking a long history. Messages are only ever appended, so the index
 * never has to forget one. */
#include "sc-conversation.h"

#include <string.h>

/* Characters of the newest text kept for the preview; the row ellipsizes
 * what does not fit, this only bounds the work for a long message. */
#define PREVIEW_CHARS 120

struct _ScConversation
{
  GObject parent_instance;

  char *peer;
  GListStore *messages;
  /* local id (guint64 *, owned) -> ScMessage (borrowed from messages) */
  GHashTable *by_id;
  guint unread;
  gboolean online;
  gboolean verified;
  gboolean identity_changed;
  gint64 last_activity;
  char *preview;
  /* The newest message, watched so that last-activity follows its
   * timestamp when the server's time replaces the local one. */
  ScMessage *tail;
  gulong tail_handler;
};

G_DEFINE_FINAL_TYPE (ScConversation, sc_conversation, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PEER,
  PROP_UNREAD,
  PROP_ONLINE,
  PROP_VERIFIED,
  PROP_IDENTITY_CHANGED,
  PROP_LAST_ACTIVITY,
  PROP_PREVIEW,
  PROP_N_MESSAGES,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

/* text on one line: every run of white space or control characters
 * becomes one space, ends trimmed, at most PREVIEW_CHARS characters
 * (an ellipsis marks a cut). */
static char *
make_preview (const char *text)
{
  g_autofree char *valid = NULL;
  GString *out;
  gboolean pending_space = FALSE;
  guint n_chars = 0;
  const char *p;

  if (!g_utf8_validate (text, -1, NULL))
    text = valid = g_utf8_make_valid (text, -1);

  out = g_string_sized_new (MIN (strlen (text), PREVIEW_CHARS * 4) + 4);
  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) || g_unichar_iscntrl (c))
        {
          pending_space = out->len > 0;
          continue;
        }
      if (n_chars + (pending_space ? 1 : 0) >= PREVIEW_CHARS)
        {
          g_string_append (out, "…");
          break;
        }
      if (pending_space)
        {
          g_string_append_c (out, ' ');
          n_chars++;
          pending_space = FALSE;
        }
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
      n_chars++;
    }
  return g_string_free (out, FALSE);
}

static void
set_last_activity (ScConversation *self, gint64 ts)
{
  if (self->last_activity == ts)
    return;
  self->last_activity = ts;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LAST_ACTIVITY]);
}

static void
tail_timestamp_cb (ScMessage *message, GParamSpec *pspec, gpointer user_data)
{
  ScConversation *self = user_data;

  set_last_activity (self, sc_message_get_timestamp (message));
}

static void
unwatch_tail (ScConversation *self)
{
  if (self->tail != NULL)
    g_clear_signal_handler (&self->tail_handler, self->tail);
  self->tail = NULL;
}

/* Called after messages were added: index them and follow the newest. */
static void
added (ScConversation *self, ScMessage **v, guint n)
{
  guint n_items = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  /* The store's own last item, not v's: an items-changed handler may
   * already have appended more. */
  g_autoptr (ScMessage) last =
      g_list_model_get_item (G_LIST_MODEL (self->messages), n_items - 1);
  g_autofree char *preview = NULL;

  for (guint i = 0; i < n; i++)
    {
      guint64 id = sc_message_get_local_id (v[i]);

      /* 0 is "no id": nothing to find it by. */
      if (id != 0)
        g_hash_table_replace (self->by_id, g_memdup2 (&id, sizeof id), v[i]);
    }

  unwatch_tail (self);
  /* Borrowed: the list store holds a reference, and the conversation
   * never removes a message. */
  self->tail = last;
  self->tail_handler = g_signal_connect (last, "notify::timestamp",
                                         G_CALLBACK (tail_timestamp_cb), self);

  set_last_activity (self, sc_message_get_timestamp (last));
  preview = make_preview (sc_message_get_text (last));
  if (g_strcmp0 (preview, self->preview) != 0)
    {
      g_free (self->preview);
      self->preview = g_steal_pointer (&preview);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PREVIEW]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_MESSAGES]);
}

static void
sc_conversation_dispose (GObject *object)
{
  ScConversation *self = SC_CONVERSATION (object);

  unwatch_tail (self);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_object (&self->messages);
  G_OBJECT_CLASS (sc_conversation_parent_class)->dispose (object);
}

static void
sc_conversation_finalize (GObject *object)
{
  ScConversation *self = SC_CONVERSATION (object);

  g_free (self->peer);
  g_free (self->preview);
  G_OBJECT_CLASS (sc_conversation_parent_class)->finalize (object);
}

static void
sc_conversation_get_property (GObject *object,
                              guint prop_id,
                              GValue *value,
                              GParamSpec *pspec)
{
  ScConversation *self = SC_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_PEER:
      g_value_set_string (value, self->peer);
      break;
    case PROP_UNREAD:
      g_value_set_uint (value, self->unread);
      break;
    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;
    case PROP_VERIFIED:
      g_value_set_boolean (value, self->verified);
      break;
    case PROP_IDENTITY_CHANGED:
      g_value_set_boolean (value, self->identity_changed);
      break;
    case PROP_LAST_ACTIVITY:
      g_value_set_int64 (value, self->last_activity);
      break;
    case PROP_PREVIEW:
      g_value_set_string (value, self->preview);
      break;
    case PROP_N_MESSAGES:
      g_value_set_uint (
          value, self->messages != NULL
                     ? g_list_model_get_n_items (G_LIST_MODEL (self->messages))
                     : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_conversation_set_property (GObject *object,
                              guint prop_id,
                              const GValue *value,
                              GParamSpec *pspec)
{
  ScConversation *self = SC_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_PEER:
      g_free (self->peer);
      self->peer = g_value_dup_string (value);
      if (self->peer == NULL)
        self->peer = g_strdup ("");
      break;
    case PROP_UNREAD:
      sc_conversation_set_unread (self, g_value_get_uint (value));
      break;
    case PROP_ONLINE:
      sc_conversation_set_online (self, g_value_get_boolean (value));
      break;
    case PROP_VERIFIED:
      sc_conversation_set_verified (self, g_value_get_boolean (value));
      break;
    case PROP_IDENTITY_CHANGED:
      sc_conversation_set_identity_changed (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_conversation_class_init (ScConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->dispose = sc_conversation_dispose;
  object_class->finalize = sc_conversation_finalize;
  object_class->get_property = sc_conversation_get_property;
  object_class->set_property = sc_conversation_set_property;

  props[PROP_PEER] = g_param_spec_string (
      "peer", NULL, NULL, "",
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_UNREAD] =
      g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0, rw);
  props[PROP_ONLINE] = g_param_spec_boolean ("online", NULL, NULL, FALSE, rw);
  props[PROP_VERIFIED] =
      g_param_spec_boolean ("verified", NULL, NULL, FALSE, rw);
  props[PROP_IDENTITY_CHANGED] =
      g_param_spec_boolean ("identity-changed", NULL, NULL, FALSE, rw);
  props[PROP_LAST_ACTIVITY] = g_param_spec_int64 (
      "last-activity", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
  props[PROP_PREVIEW] = g_param_spec_string ("preview", NULL, NULL, "", ro);
  props[PROP_N_MESSAGES] =
      g_param_spec_uint ("n-messages", NULL, NULL, 0, G_MAXUINT, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
sc_conversation_init (ScConversation *self)
{
  self->peer = g_strdup ("");
  self->preview = g_strdup ("");
  self->messages = g_list_store_new (SC_TYPE_MESSAGE);
  self->by_id =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

ScConversation *
sc_conversation_new (const char *peer)
{
  g_return_val_if_fail (peer != NULL, NULL);
  return g_object_new (SC_TYPE_CONVERSATION, "peer", peer, NULL);
}

const char *
sc_conversation_get_peer (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), NULL);
  return self->peer;
}

GListModel *
sc_conversation_get_messages (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), NULL);
  return G_LIST_MODEL (self->messages);
}

void
sc_conversation_append (ScConversation *self, ScMessage *message)
{
  g_return_if_fail (SC_IS_CONVERSATION (self));
  g_return_if_fail (SC_IS_MESSAGE (message));

  g_list_store_append (self->messages, message);
  g_object_freeze_notify (G_OBJECT (self));
  added (self, &message, 1);
  if (sc_message_get_kind (message) == SC_MESSAGE_INCOMING &&
      self->unread < G_MAXUINT)
    sc_conversation_set_unread (self, self->unread + 1);
  g_object_thaw_notify (G_OBJECT (self));
}

void
sc_conversation_append_many (ScConversation *self, ScMessage **v, guint n)
{
  g_return_if_fail (SC_IS_CONVERSATION (self));
  g_return_if_fail (v != NULL || n == 0);

  if (n == 0)
    return;
  for (guint i = 0; i < n; i++)
    g_return_if_fail (SC_IS_MESSAGE (v[i]));

  g_list_store_splice (self->messages,
                       g_list_model_get_n_items (G_LIST_MODEL (self->messages)),
                       0, (gpointer *) v, n);
  g_object_freeze_notify (G_OBJECT (self));
  added (self, v, n);
  g_object_thaw_notify (G_OBJECT (self));
}

ScMessage *
sc_conversation_find (ScConversation *self, guint64 local_id)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), NULL);
  return g_hash_table_lookup (self->by_id, &local_id);
}

guint
sc_conversation_get_unread (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), 0);
  return self->unread;
}

void
sc_conversation_set_unread (ScConversation *self, guint unread)
{
  g_return_if_fail (SC_IS_CONVERSATION (self));

  if (self->unread == unread)
    return;
  self->unread = unread;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_UNREAD]);
}

gboolean
sc_conversation_get_online (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), FALSE);
  return self->online;
}

void
sc_conversation_set_online (ScConversation *self, gboolean online)
{
  g_return_if_fail (SC_IS_CONVERSATION (self));

  online = !!online;
  if (self->online == online)
    return;
  self->online = online;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ONLINE]);
}

gboolean
sc_conversation_get_verified (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), FALSE);
  return self->verified;
}

void
sc_conversation_set_verified (ScConversation *self, gboolean verified)
{
  g_return_if_fail (SC_IS_CONVERSATION (self));

  verified = !!verified;
  if (self->verified == verified)
    return;
  self->verified = verified;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_VERIFIED]);
}

gboolean
sc_conversation_get_identity_changed (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), FALSE);
  return self->identity_changed;
}

void
sc_conversation_set_identity_changed (ScConversation *self, gboolean changed)
{
  g_return_if_fail (SC_IS_CONVERSATION (self));

  changed = !!changed;
  if (self->identity_changed == changed)
    return;
  self->identity_changed = changed;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_IDENTITY_CHANGED]);
}

gint64
sc_conversation_get_last_activity (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), 0);
  return self->last_activity;
}

const char *
sc_conversation_get_preview (ScConversation *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION (self), NULL);
  return self->preview;
}
