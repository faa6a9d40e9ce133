/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-login-page.h"

#include <glib/gi18n.h>

struct _ScLoginPage
{
  AdwBin parent_instance;

  AdwPreferencesGroup *form;
  AdwEntryRow *server_row;
  AdwEntryRow *user_row;
  AdwEntryRow *password_row;
  GtkSwitch *remember_switch;
  GtkLabel *error_label;
  GtkButton *login_button;
  GtkSpinner *spinner;
  gboolean busy;
};

G_DEFINE_FINAL_TYPE (ScLoginPage, sc_login_page, ADW_TYPE_BIN)

enum
{
  SIGNAL_SUBMIT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static gboolean
filled (AdwEntryRow *row)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));

  return text != NULL && text[0] != '\0';
}

static gboolean
complete (ScLoginPage *self)
{
  return filled (self->server_row) && filled (self->user_row) &&
         filled (self->password_row);
}

static void
update_button (ScLoginPage *self)
{
  gtk_widget_set_sensitive (GTK_WIDGET (self->login_button),
                            !self->busy && complete (self));
}

static void
field_changed_cb (ScLoginPage *self)
{
  update_button (self);
}

static void
submit (ScLoginPage *self)
{
  if (self->busy || !complete (self))
    return;
  g_signal_emit (self, signals[SIGNAL_SUBMIT], 0);
}

/* Enter moves on to the next empty field, and logs in from the last. */
static void
server_activated_cb (ScLoginPage *self)
{
  if (!filled (self->user_row))
    gtk_widget_grab_focus (GTK_WIDGET (self->user_row));
  else if (!filled (self->password_row))
    gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
  else
    submit (self);
}

static void
user_activated_cb (ScLoginPage *self)
{
  if (!filled (self->password_row))
    gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
  else
    submit (self);
}

static void
password_activated_cb (ScLoginPage *self)
{
  submit (self);
}

static void
login_clicked_cb (ScLoginPage *self)
{
  submit (self);
}

GtkWidget *
sc_login_page_new (void)
{
  return g_object_new (SC_TYPE_LOGIN_PAGE, NULL);
}

void
sc_login_page_set_defaults (ScLoginPage *self,
                            const char *server,
                            const char *user,
                            gboolean remember)
{
  g_return_if_fail (SC_IS_LOGIN_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->server_row),
                         server != NULL ? server : "");
  gtk_editable_set_text (GTK_EDITABLE (self->user_row),
                         user != NULL ? user : "");
  gtk_switch_set_active (self->remember_switch, remember);
}

const char *
sc_login_page_get_server (ScLoginPage *self)
{
  g_return_val_if_fail (SC_IS_LOGIN_PAGE (self), NULL);

  return gtk_editable_get_text (GTK_EDITABLE (self->server_row));
}

const char *
sc_login_page_get_user (ScLoginPage *self)
{
  g_return_val_if_fail (SC_IS_LOGIN_PAGE (self), NULL);

  return gtk_editable_get_text (GTK_EDITABLE (self->user_row));
}

const char *
sc_login_page_get_password (ScLoginPage *self)
{
  g_return_val_if_fail (SC_IS_LOGIN_PAGE (self), NULL);

  return gtk_editable_get_text (GTK_EDITABLE (self->password_row));
}

gboolean
sc_login_page_get_remember (ScLoginPage *self)
{
  g_return_val_if_fail (SC_IS_LOGIN_PAGE (self), FALSE);

  return gtk_switch_get_active (self->remember_switch);
}

void
sc_login_page_clear_password (ScLoginPage *self)
{
  g_return_if_fail (SC_IS_LOGIN_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
}

void
sc_login_page_set_busy (ScLoginPage *self, gboolean busy)
{
  g_return_if_fail (SC_IS_LOGIN_PAGE (self));

  self->busy = busy;
  /* GTK 4.8 warns (and loses the focus-out) when the focused entry turns
   * insensitive: let go of the focus first. */
  if (busy && gtk_widget_get_root (GTK_WIDGET (self)) != NULL)
    gtk_root_set_focus (gtk_widget_get_root (GTK_WIDGET (self)), NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->form), !busy);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), busy);
  gtk_spinner_set_spinning (self->spinner, busy);
  update_button (self);
}

void
sc_login_page_set_error (ScLoginPage *self, const char *message)
{
  g_return_if_fail (SC_IS_LOGIN_PAGE (self));

  gtk_label_set_text (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label),
                          message != NULL && message[0] != '\0');
}

const char *
sc_login_page_get_error (ScLoginPage *self)
{
  g_return_val_if_fail (SC_IS_LOGIN_PAGE (self), NULL);

  if (!gtk_widget_get_visible (GTK_WIDGET (self->error_label)))
    return NULL;
  return gtk_label_get_text (self->error_label);
}

void
sc_login_page_focus (ScLoginPage *self)
{
  g_return_if_fail (SC_IS_LOGIN_PAGE (self));

  if (!filled (self->server_row))
    gtk_widget_grab_focus (GTK_WIDGET (self->server_row));
  else if (!filled (self->user_row))
    gtk_widget_grab_focus (GTK_WIDGET (self->user_row));
  else
    gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
}

GtkEditable *
sc_login_page_get_server_row (ScLoginPage *self)
{
  return GTK_EDITABLE (self->server_row);
}

GtkEditable *
sc_login_page_get_user_row (ScLoginPage *self)
{
  return GTK_EDITABLE (self->user_row);
}

GtkEditable *
sc_login_page_get_password_row (ScLoginPage *self)
{
  return GTK_EDITABLE (self->password_row);
}

GtkButton *
sc_login_page_get_login_button (ScLoginPage *self)
{
  return self->login_button;
}

static void
sc_login_page_class_init (ScLoginPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/securechat/SecureChat/sc-login-page.ui");
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage, form);
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage, server_row);
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage, user_row);
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage,
                                        password_row);
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage,
                                        remember_switch);
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage,
                                        login_button);
  gtk_widget_class_bind_template_child (widget_class, ScLoginPage, spinner);
  gtk_widget_class_bind_template_callback (widget_class, field_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, server_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, user_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, password_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, login_clicked_cb);

  signals[SIGNAL_SUBMIT] =
      g_signal_new ("submit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                    NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
sc_login_page_init (ScLoginPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
