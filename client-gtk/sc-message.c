/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScMessage: a plain value object. sc_message_new sets the fields
 * directly rather than through the property machinery: loading a long
 * history creates one per line, and the generic path costs several times
 * more. */
#include "sc-message.h"

struct _ScMessage
{
  GObject parent_instance;

  guint64 local_id;
  ScMessageKind kind;
  ScDelivery delivery;
  gint64 ts_ms;
  char *sender;
  char *text;
  char *error;
};

G_DEFINE_FINAL_TYPE (ScMessage, sc_message, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (ScMessageKind,
                    sc_message_kind,
                    G_DEFINE_ENUM_VALUE (SC_MESSAGE_INCOMING, "incoming"),
                    G_DEFINE_ENUM_VALUE (SC_MESSAGE_OUTGOING, "outgoing"),
                    G_DEFINE_ENUM_VALUE (SC_MESSAGE_NOTICE, "notice"))

G_DEFINE_ENUM_TYPE (ScDelivery,
                    sc_delivery,
                    G_DEFINE_ENUM_VALUE (SC_DELIVERY_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (SC_DELIVERY_SENDING, "sending"),
                    G_DEFINE_ENUM_VALUE (SC_DELIVERY_SENT, "sent"),
                    G_DEFINE_ENUM_VALUE (SC_DELIVERY_OFFLINE, "offline"),
                    G_DEFINE_ENUM_VALUE (SC_DELIVERY_FAILED, "failed"))

enum
{
  PROP_0,
  PROP_LOCAL_ID,
  PROP_KIND,
  PROP_SENDER,
  PROP_TEXT,
  PROP_TIMESTAMP,
  PROP_DELIVERY,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void
set_string (char **field, const char *value)
{
  char *copy = g_strdup (value != NULL ? value : "");

  g_free (*field);
  *field = copy;
}

static void
sc_message_finalize (GObject *object)
{
  ScMessage *self = SC_MESSAGE (object);

  g_free (self->sender);
  g_free (self->text);
  g_free (self->error);
  G_OBJECT_CLASS (sc_message_parent_class)->finalize (object);
}

static void
sc_message_get_property (GObject *object,
                         guint prop_id,
                         GValue *value,
                         GParamSpec *pspec)
{
  ScMessage *self = SC_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_LOCAL_ID:
      g_value_set_uint64 (value, self->local_id);
      break;
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_SENDER:
      g_value_set_string (value, self->sender);
      break;
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    case PROP_TIMESTAMP:
      g_value_set_int64 (value, self->ts_ms);
      break;
    case PROP_DELIVERY:
      g_value_set_enum (value, self->delivery);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_message_set_property (GObject *object,
                         guint prop_id,
                         const GValue *value,
                         GParamSpec *pspec)
{
  ScMessage *self = SC_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_LOCAL_ID:
      self->local_id = g_value_get_uint64 (value);
      break;
    case PROP_KIND:
      self->kind = g_value_get_enum (value);
      break;
    case PROP_SENDER:
      set_string (&self->sender, g_value_get_string (value));
      break;
    case PROP_TEXT:
      set_string (&self->text, g_value_get_string (value));
      break;
    case PROP_TIMESTAMP:
      sc_message_set_timestamp (self, g_value_get_int64 (value));
      break;
    case PROP_DELIVERY:
      sc_message_set_delivery (self, g_value_get_enum (value), self->error);
      break;
    case PROP_ERROR:
      sc_message_set_delivery (self, self->delivery,
                               g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sc_message_class_init (ScMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro =
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = sc_message_finalize;
  object_class->get_property = sc_message_get_property;
  object_class->set_property = sc_message_set_property;

  props[PROP_LOCAL_ID] =
      g_param_spec_uint64 ("local-id", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  props[PROP_KIND] = g_param_spec_enum (
      "kind", NULL, NULL, SC_TYPE_MESSAGE_KIND, SC_MESSAGE_INCOMING, ro);
  props[PROP_SENDER] = g_param_spec_string ("sender", NULL, NULL, "", ro);
  props[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, "", ro);
  props[PROP_TIMESTAMP] = g_param_spec_int64 ("timestamp", NULL, NULL,
                                              G_MININT64, G_MAXINT64, 0, rw);
  props[PROP_DELIVERY] = g_param_spec_enum (
      "delivery", NULL, NULL, SC_TYPE_DELIVERY, SC_DELIVERY_NONE, rw);
  props[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, rw);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
sc_message_init (ScMessage *self)
{
  self->sender = g_strdup ("");
  self->text = g_strdup ("");
}

ScMessage *
sc_message_new (guint64 local_id,
                ScMessageKind kind,
                const char *sender,
                const char *text,
                gint64 ts_ms,
                ScDelivery delivery)
{
  ScMessage *self;

  g_return_val_if_fail (kind <= SC_MESSAGE_NOTICE, NULL);
  g_return_val_if_fail (delivery <= SC_DELIVERY_FAILED, NULL);

  self = g_object_new (SC_TYPE_MESSAGE, NULL);
  self->local_id = local_id;
  self->kind = kind;
  self->ts_ms = ts_ms;
  self->delivery = delivery;
  set_string (&self->sender, sender);
  set_string (&self->text, text);
  return self;
}

guint64
sc_message_get_local_id (ScMessage *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE (self), 0);
  return self->local_id;
}

ScMessageKind
sc_message_get_kind (ScMessage *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE (self), SC_MESSAGE_NOTICE);
  return self->kind;
}

const char *
sc_message_get_sender (ScMessage *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE (self), NULL);
  return self->sender;
}

const char *
sc_message_get_text (ScMessage *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE (self), NULL);
  return self->text;
}

gint64
sc_message_get_timestamp (ScMessage *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE (self), 0);
  return self->ts_ms;
}

ScDelivery
sc_message_get_delivery (ScMessage *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE (self), SC_DELIVERY_NONE);
  return self->delivery;
}

const char *
sc_message_get_error (ScMessage *self)
{
  g_return_val_if_fail (SC_IS_MESSAGE (self), NULL);
  return self->error;
}

void
sc_message_set_delivery (ScMessage *self,
                         ScDelivery delivery,
                         const char *error)
{
  gboolean delivery_changed;
  gboolean error_changed;

  g_return_if_fail (SC_IS_MESSAGE (self));
  g_return_if_fail (delivery <= SC_DELIVERY_FAILED);

  delivery_changed = self->delivery != delivery;
  error_changed = g_strcmp0 (self->error, error) != 0;
  if (!delivery_changed && !error_changed)
    return;

  /* Both fields change before anyone hears of either, so a handler of
   * "delivery" never sees the old error. */
  g_object_freeze_notify (G_OBJECT (self));
  if (delivery_changed)
    {
      self->delivery = delivery;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_DELIVERY]);
    }
  if (error_changed)
    {
      char *copy = g_strdup (error);

      g_free (self->error);
      self->error = copy;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ERROR]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

void
sc_message_set_timestamp (ScMessage *self, gint64 ts_ms)
{
  g_return_if_fail (SC_IS_MESSAGE (self));

  if (self->ts_ms == ts_ms)
    return;
  self->ts_ms = ts_ms;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TIMESTAMP]);
}
