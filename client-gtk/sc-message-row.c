/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-message-row.h"

#include <glib/gi18n.h>

struct _ScMessageRow
{
  AdwBin parent_instance;

  GtkBox *bubble;
  GtkLabel *sender_label;
  GtkLabel *text_label;
  GtkBox *meta_box;
  GtkLabel *time_label;
  GtkImage *status_icon;
  GtkLabel *status_label;

  ScMessage *message;
  gulong notify_id;
};

G_DEFINE_FINAL_TYPE (ScMessageRow, sc_message_row, ADW_TYPE_BIN)

char *
sc_message_row_format_time (gint64 ts_ms, gint64 now_ms)
{
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (ts_ms / 1000);
  g_autoptr (GDateTime) now = g_date_time_new_from_unix_local (now_ms / 1000);
  gint64 days;

  if (when == NULL || now == NULL)
    return g_strdup ("");
  days = (g_date_time_to_unix (now) - g_date_time_to_unix (when)) / 86400;
  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    /* Translators: time of a message sent today, see strftime(3). */
    return g_date_time_format (when, _ ("%H:%M"));
  if (days >= 0 && days < 6)
    /* Translators: weekday and time of a message of this week. */
    return g_date_time_format (when, _ ("%a %H:%M"));
  if (g_date_time_get_year (when) == g_date_time_get_year (now))
    /* Translators: day, month and time of a message of this year. */
    return g_date_time_format (when, _ ("%e %b %H:%M"));
  /* Translators: date and time of an older message. */
  return g_date_time_format (when, _ ("%e %b %Y %H:%M"));
}

static void
set_class (GtkWidget *widget, const char *name, gboolean on)
{
  if (on)
    gtk_widget_add_css_class (widget, name);
  else
    gtk_widget_remove_css_class (widget, name);
}

static void
show_delivery (ScMessageRow *self)
{
  ScMessage *m = self->message;
  const char *icon = NULL;
  g_autofree char *status = NULL;
  const char *error = sc_message_get_error (m);
  gboolean problem = FALSE;

  switch (sc_message_get_delivery (m))
    {
    case SC_DELIVERY_SENDING:
      icon = "content-loading-symbolic";
      status = g_strdup (_ ("Sending…"));
      break;
    case SC_DELIVERY_SENT:
      icon = "emblem-ok-symbolic";
      status = g_strdup (_ ("Delivered"));
      break;
    case SC_DELIVERY_OFFLINE:
      icon = "dialog-warning-symbolic";
      status = g_strdup (_ ("Not delivered: the recipient was not online"));
      problem = TRUE;
      break;
    case SC_DELIVERY_FAILED:
      icon = "dialog-error-symbolic";
      status = error != NULL && error[0] != '\0'
                   ? g_strdup_printf (_ ("Not delivered: %s"), error)
                   : g_strdup (_ ("Not delivered"));
      problem = TRUE;
      break;
    case SC_DELIVERY_NONE:
    default:
      break;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->status_icon), icon != NULL);
  if (icon != NULL)
    gtk_image_set_from_icon_name (self->status_icon, icon);
  gtk_label_set_text (self->status_label, status != NULL ? status : "");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), status != NULL);
  set_class (GTK_WIDGET (self->bubble), "failed", problem);
}

static void
show_time (ScMessageRow *self)
{
  g_autofree char *when = sc_message_row_format_time (
      sc_message_get_timestamp (self->message), g_get_real_time () / 1000);
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (
      sc_message_get_timestamp (self->message) / 1000);
  g_autofree char *full =
      dt != NULL ? g_date_time_format (dt, "%c") : g_strdup ("");

  gtk_label_set_text (self->time_label, when);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->time_label), full);
}

static void
message_notify_cb (ScMessage *message, GParamSpec *pspec, ScMessageRow *self)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "delivery") || g_str_equal (name, "error"))
    show_delivery (self);
  else if (g_str_equal (name, "timestamp"))
    show_time (self);
}

void
sc_message_row_bind (ScMessageRow *self, ScMessage *message)
{
  ScMessageKind kind;
  GtkWidget *bubble;

  g_return_if_fail (SC_IS_MESSAGE_ROW (self));
  g_return_if_fail (SC_IS_MESSAGE (message));

  sc_message_row_unbind (self);
  self->message = g_object_ref (message);
  kind = sc_message_get_kind (message);
  bubble = GTK_WIDGET (self->bubble);

  set_class (bubble, "incoming", kind == SC_MESSAGE_INCOMING);
  set_class (bubble, "outgoing", kind == SC_MESSAGE_OUTGOING);
  set_class (bubble, "notice", kind == SC_MESSAGE_NOTICE);
  gtk_widget_set_halign (bubble, kind == SC_MESSAGE_OUTGOING ? GTK_ALIGN_END
                                 : kind == SC_MESSAGE_NOTICE ? GTK_ALIGN_CENTER
                                                             : GTK_ALIGN_START);
  gtk_label_set_justify (self->text_label, kind == SC_MESSAGE_NOTICE
                                               ? GTK_JUSTIFY_CENTER
                                               : GTK_JUSTIFY_LEFT);
  gtk_label_set_xalign (self->text_label,
                        kind == SC_MESSAGE_NOTICE ? 0.5f : 0.0f);

  gtk_label_set_text (self->sender_label, kind == SC_MESSAGE_INCOMING
                                              ? sc_message_get_sender (message)
                                              : "");
  gtk_widget_set_visible (GTK_WIDGET (self->sender_label),
                          kind == SC_MESSAGE_INCOMING);
  gtk_label_set_text (self->text_label, sc_message_get_text (message));
  gtk_widget_set_halign (GTK_WIDGET (self->meta_box), kind == SC_MESSAGE_NOTICE
                                                          ? GTK_ALIGN_CENTER
                                                          : GTK_ALIGN_END);
  show_time (self);
  show_delivery (self);
  self->notify_id = g_signal_connect (message, "notify",
                                      G_CALLBACK (message_notify_cb), self);
}

void
sc_message_row_unbind (ScMessageRow *self)
{
  g_return_if_fail (SC_IS_MESSAGE_ROW (self));

  if (self->message == NULL)
    return;
  g_clear_signal_handler (&self->notify_id, self->message);
  g_clear_object (&self->message);
}

const char *
sc_message_row_get_text (ScMessageRow *self)
{
  return gtk_label_get_text (self->text_label);
}

const char *
sc_message_row_get_status (ScMessageRow *self)
{
  return gtk_label_get_text (self->status_label);
}

GtkWidget *
sc_message_row_new (void)
{
  return g_object_new (SC_TYPE_MESSAGE_ROW, NULL);
}

static void
sc_message_row_dispose (GObject *object)
{
  sc_message_row_unbind (SC_MESSAGE_ROW (object));
  G_OBJECT_CLASS (sc_message_row_parent_class)->dispose (object);
}

static void
sc_message_row_class_init (ScMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = sc_message_row_dispose;
  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/securechat/SecureChat/sc-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ScMessageRow, bubble);
  gtk_widget_class_bind_template_child (widget_class, ScMessageRow,
                                        sender_label);
  gtk_widget_class_bind_template_child (widget_class, ScMessageRow, text_label);
  gtk_widget_class_bind_template_child (widget_class, ScMessageRow, meta_box);
  gtk_widget_class_bind_template_child (widget_class, ScMessageRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, ScMessageRow,
                                        status_icon);
  gtk_widget_class_bind_template_child (widget_class, ScMessageRow,
                                        status_label);
}

static void
sc_message_row_init (ScMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
