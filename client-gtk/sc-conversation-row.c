/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-conversation-row.h"

#include <glib/gi18n.h>

struct _ScConversationRow
{
  AdwBin parent_instance;

  AdwAvatar *avatar;
  GtkWidget *presence_dot;
  GtkLabel *name_label;
  GtkWidget *verified_icon;
  GtkWidget *changed_icon;
  GtkLabel *preview_label;
  GtkLabel *unread_label;

  ScConversation *conversation;
  gulong notify_id;
};

G_DEFINE_FINAL_TYPE (ScConversationRow, sc_conversation_row, ADW_TYPE_BIN)

static void
update (ScConversationRow *self)
{
  ScConversation *c = self->conversation;
  const char *peer = sc_conversation_get_peer (c);
  gboolean online = sc_conversation_get_online (c);
  gboolean verified = sc_conversation_get_verified (c);
  gboolean changed = sc_conversation_get_identity_changed (c);
  guint unread = sc_conversation_get_unread (c);
  const char *preview = sc_conversation_get_preview (c);
  g_autofree char *count = NULL;
  g_autofree char *description = NULL;

  adw_avatar_set_text (self->avatar, peer);
  gtk_label_set_text (self->name_label, peer);
  gtk_label_set_text (self->preview_label, preview[0] != '\0' ? preview
                                           : online           ? _ ("Online")
                                                    : _ ("No messages yet"));
  if (online)
    {
      gtk_widget_add_css_class (self->presence_dot, "online");
      gtk_widget_remove_css_class (self->presence_dot, "offline");
    }
  else
    {
      gtk_widget_add_css_class (self->presence_dot, "offline");
      gtk_widget_remove_css_class (self->presence_dot, "online");
    }
  gtk_widget_set_tooltip_text (self->presence_dot,
                               online ? _ ("Online") : _ ("Offline"));
  gtk_widget_set_visible (self->verified_icon, verified && !changed);
  gtk_widget_set_visible (self->changed_icon, changed);
  count = unread > 99 ? g_strdup ("99+") : g_strdup_printf ("%u", unread);
  gtk_label_set_text (self->unread_label, count);
  gtk_widget_set_visible (GTK_WIDGET (self->unread_label), unread > 0);

  /* One sentence for screen readers instead of scattered pieces. */
  description = g_strdup_printf ("%s, %s%s%s", peer,
                                 online ? _ ("online") : _ ("offline"),
                                 verified && !changed ? _ (", verified") : "",
                                 changed ? _ (", security key changed") : "");
  if (unread > 0)
    {
      g_autofree char *with_unread = g_strdup_printf (
          g_dngettext (GETTEXT_PACKAGE, "%s, %u unread message",
                       "%s, %u unread messages", unread),
          description, unread);

      g_free (description);
      description = g_steal_pointer (&with_unread);
    }
  gtk_accessible_update_property (
      GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, description, -1);
}

static void
conversation_notify_cb (ScConversation *conversation,
                        GParamSpec *pspec,
                        ScConversationRow *self)
{
  update (self);
}

void
sc_conversation_row_bind (ScConversationRow *self, ScConversation *conversation)
{
  g_return_if_fail (SC_IS_CONVERSATION_ROW (self));
  g_return_if_fail (SC_IS_CONVERSATION (conversation));

  sc_conversation_row_unbind (self);
  self->conversation = g_object_ref (conversation);
  self->notify_id = g_signal_connect (
      conversation, "notify", G_CALLBACK (conversation_notify_cb), self);
  update (self);
}

void
sc_conversation_row_unbind (ScConversationRow *self)
{
  g_return_if_fail (SC_IS_CONVERSATION_ROW (self));

  if (self->conversation == NULL)
    return;
  g_clear_signal_handler (&self->notify_id, self->conversation);
  g_clear_object (&self->conversation);
}

GtkWidget *
sc_conversation_row_new (void)
{
  return g_object_new (SC_TYPE_CONVERSATION_ROW, NULL);
}

static void
sc_conversation_row_dispose (GObject *object)
{
  sc_conversation_row_unbind (SC_CONVERSATION_ROW (object));
  G_OBJECT_CLASS (sc_conversation_row_parent_class)->dispose (object);
}

static void
sc_conversation_row_class_init (ScConversationRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = sc_conversation_row_dispose;
  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/securechat/SecureChat/sc-conversation-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ScConversationRow,
                                        avatar);
  gtk_widget_class_bind_template_child (widget_class, ScConversationRow,
                                        presence_dot);
  gtk_widget_class_bind_template_child (widget_class, ScConversationRow,
                                        name_label);
  gtk_widget_class_bind_template_child (widget_class, ScConversationRow,
                                        verified_icon);
  gtk_widget_class_bind_template_child (widget_class, ScConversationRow,
                                        changed_icon);
  gtk_widget_class_bind_template_child (widget_class, ScConversationRow,
                                        preview_label);
  gtk_widget_class_bind_template_child (widget_class, ScConversationRow,
                                        unread_label);
}

static void
sc_conversation_row_init (ScConversationRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
