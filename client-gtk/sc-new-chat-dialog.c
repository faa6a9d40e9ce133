/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-new-chat-dialog.h"

#include <glib/gi18n.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/msg.h"

struct _ScNewChatDialog
{
  AdwMessageDialog parent_instance;

  GtkEntry *name_entry;
  GtkLabel *hint_label;

  char *own_user;
  char *name; /* valid and not own_user, or NULL */
};

G_DEFINE_FINAL_TYPE (ScNewChatDialog,
                     sc_new_chat_dialog,
                     ADW_TYPE_MESSAGE_DIALOG)

/* Shown while nothing is wrong, so the dialog keeps its size. */
#define RULE N_ ("User names have lowercase letters a–z, digits, and . _ -")

static gboolean
is_user_name (const char *s)
{
  return sc_username_validate (s, strlen (s)) == SC_OK;
}

static void
show_hint (ScNewChatDialog *self, const char *text, gboolean error)
{
  gtk_label_set_text (self->hint_label, text);
  if (error)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->hint_label), "error");
      gtk_widget_remove_css_class (GTK_WIDGET (self->hint_label), "dim-label");
      gtk_widget_add_css_class (GTK_WIDGET (self->name_entry), "error");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->hint_label), "error");
      gtk_widget_add_css_class (GTK_WIDGET (self->hint_label), "dim-label");
      gtk_widget_remove_css_class (GTK_WIDGET (self->name_entry), "error");
    }
}

static void
name_changed_cb (ScNewChatDialog *self)
{
  g_autofree char *text = g_strstrip (
      g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_entry))));
  gboolean valid = FALSE;

  g_clear_pointer (&self->name, g_free);

  if (text[0] == '\0')
    show_hint (self, _ (RULE), FALSE);
  else if (strlen (text) > SC_USERNAME_MAX)
    {
      g_autofree char *msg = g_strdup_printf (
          ngettext ("A user name has at most %d character.",
                    "A user name has at most %d characters.", SC_USERNAME_MAX),
          SC_USERNAME_MAX);

      show_hint (self, msg, TRUE);
    }
  else if (!is_user_name (text))
    {
      g_autofree char *lower = g_ascii_strdown (text, -1);

      if (is_user_name (lower))
        {
          g_autofree char *msg = g_strdup_printf (
              _ ("User names are lowercase: try “%s”."), lower);

          show_hint (self, msg, TRUE);
        }
      else
        show_hint (self,
                   _ ("Use only lowercase letters a–z, digits, and . _ -, "
                      "starting with a letter or digit."),
                   TRUE);
    }
  else if (g_strcmp0 (text, self->own_user) == 0)
    show_hint (self, _ ("That is your own user name."), TRUE);
  else
    {
      valid = TRUE;
      self->name = g_steal_pointer (&text);
      show_hint (self, _ (RULE), FALSE);
    }

  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "start",
                                           valid);
}

static void
sc_new_chat_dialog_finalize (GObject *object)
{
  ScNewChatDialog *self = SC_NEW_CHAT_DIALOG (object);

  g_free (self->own_user);
  g_free (self->name);

  G_OBJECT_CLASS (sc_new_chat_dialog_parent_class)->finalize (object);
}

static void
sc_new_chat_dialog_class_init (ScNewChatDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = sc_new_chat_dialog_finalize;

  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/securechat/SecureChat/sc-new-chat-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, ScNewChatDialog,
                                        name_entry);
  gtk_widget_class_bind_template_child (widget_class, ScNewChatDialog,
                                        hint_label);
  gtk_widget_class_bind_template_callback (widget_class, name_changed_cb);
}

static void
sc_new_chat_dialog_init (ScNewChatDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

ScNewChatDialog *
sc_new_chat_dialog_new (GtkWindow *parent, const char *own_user)
{
  ScNewChatDialog *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (own_user != NULL, NULL);

  self = g_object_new (SC_TYPE_NEW_CHAT_DIALOG, "transient-for", parent, NULL);
  self->own_user = g_strdup (own_user);
  name_changed_cb (self);
  return self;
}

const char *
sc_new_chat_dialog_get_name (ScNewChatDialog *self)
{
  g_return_val_if_fail (SC_IS_NEW_CHAT_DIALOG (self), NULL);
  return self->name;
}
