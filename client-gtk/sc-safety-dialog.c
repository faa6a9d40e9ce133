/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-safety-dialog.h"

#include <glib/gi18n.h>
#include <string.h>

/* "ddddd ddddd … ddddd": 12 groups of 5 digits and 11 spaces. */
#define NUMBER_GROUPS    12
#define NUMBER_GROUP_LEN 5
#define NUMBER_LEN       (NUMBER_GROUPS * (NUMBER_GROUP_LEN + 1) - 1)
#define GROUPS_PER_LINE  4

struct _ScSafetyDialog
{
  AdwWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  AdwWindowTitle *window_title;
  GtkImage *state_icon;
  GtkLabel *state_title;
  GtkLabel *state_detail;
  GtkLabel *number_label;
  GtkLabel *explanation_label;
  GtkButton *copy_button;
  GtkButton *verify_button;
  GtkButton *accept_button;
  GtkButton *not_now_button;

  char *peer;
  char *number;
  gboolean verified;
  gboolean changed;
};

G_DEFINE_FINAL_TYPE (ScSafetyDialog, sc_safety_dialog, ADW_TYPE_WINDOW)

enum
{
  SIGNAL_VERIFY_CHANGED,
  SIGNAL_ACCEPT_KEY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

gboolean
sc_safety_dialog_number_is_valid (const char *text)
{
  size_t i;

  if (text == NULL || strlen (text) != NUMBER_LEN)
    return FALSE;
  for (i = 0; i < NUMBER_LEN; i++)
    {
      gboolean separator = (i % (NUMBER_GROUP_LEN + 1)) == NUMBER_GROUP_LEN;

      if (separator ? text[i] != ' ' : !g_ascii_isdigit (text[i]))
        return FALSE;
    }
  return TRUE;
}

/* Three lines of four groups: short enough to read aloud line by line. */
static char *
format_number (const char *number)
{
  GString *out = g_string_sized_new (NUMBER_LEN + 1);
  int g;

  for (g = 0; g < NUMBER_GROUPS; g++)
    {
      if (g > 0)
        g_string_append_c (out, g % GROUPS_PER_LINE == 0 ? '\n' : ' ');
      g_string_append_len (out, number + g * (NUMBER_GROUP_LEN + 1),
                           NUMBER_GROUP_LEN);
    }
  return g_string_free (out, FALSE);
}

static void
set_state_style (ScSafetyDialog *self, const char *icon, const char *style)
{
  static const char *const styles[] = { "success", "warning", "dim-label" };
  size_t i;

  gtk_image_set_from_icon_name (self->state_icon, icon);
  for (i = 0; i < G_N_ELEMENTS (styles); i++)
    {
      if (g_strcmp0 (styles[i], style) == 0)
        gtk_widget_add_css_class (GTK_WIDGET (self->state_icon), styles[i]);
      else
        gtk_widget_remove_css_class (GTK_WIDGET (self->state_icon), styles[i]);
    }
}

static void
set_button (GtkButton *button, const char *label, const char *accessible)
{
  gtk_button_set_label (button, label);
  gtk_accessible_update_property (
      GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

static void
update (ScSafetyDialog *self)
{
  g_autofree char *formatted = format_number (self->number);
  g_autofree char *explanation = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *accessible = NULL;

  gtk_label_set_text (self->number_label, formatted);
  /* A description, not a label: the digits themselves must be read. */
  accessible = g_strdup_printf (_ ("Safety number with %s"), self->peer);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->number_label),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  accessible, -1);
  g_clear_pointer (&accessible, g_free);

  explanation = g_strdup_printf (
      _ ("Compare these numbers with %s in person or on a call. If they "
         "match, your conversation is end-to-end encrypted with the right "
         "person."),
      self->peer);
  gtk_label_set_text (self->explanation_label, explanation);

  if (self->changed)
    {
      set_state_style (self, "dialog-warning-symbolic", "warning");
      gtk_label_set_text (self->state_title, _ ("Security Key Changed"));
      detail = g_strdup_printf (
          _ ("%s’s security key changed. This happens when they reinstall "
             "SecureChat or start using a new device, but it can also mean "
             "that someone is intercepting your conversation. Nothing will be "
             "sent to %s until you accept the new key."),
          self->peer, self->peer);
      accessible =
          g_strdup_printf (_ ("Accept %s’s new security key"), self->peer);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->accept_button),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                      -1);
    }
  else if (self->verified)
    {
      set_state_style (self, "security-high-symbolic", "success");
      gtk_label_set_text (self->state_title, _ ("Verified"));
      detail = g_strdup_printf (
          _ ("You marked this safety number as compared with %s."), self->peer);
      accessible =
          g_strdup_printf (_ ("Clear the verification of %s"), self->peer);
      set_button (self->verify_button, _ ("C_lear Verification"), accessible);
      gtk_widget_remove_css_class (GTK_WIDGET (self->verify_button),
                                   "suggested-action");
    }
  else
    {
      set_state_style (self, "security-low-symbolic", "dim-label");
      gtk_label_set_text (self->state_title, _ ("Not Verified"));
      detail = g_strdup_printf (
          _ ("You have not compared this safety number with %s yet."),
          self->peer);
      accessible = g_strdup_printf (_ ("Mark %s as verified"), self->peer);
      set_button (self->verify_button, _ ("_Mark as Verified"), accessible);
      gtk_widget_add_css_class (GTK_WIDGET (self->verify_button),
                                "suggested-action");
    }
  gtk_label_set_text (self->state_detail, detail);

  gtk_widget_set_visible (GTK_WIDGET (self->verify_button), !self->changed);
  gtk_widget_set_visible (GTK_WIDGET (self->accept_button), self->changed);
  gtk_widget_set_visible (GTK_WIDGET (self->not_now_button), self->changed);
}

static void
copy_clicked_cb (ScSafetyDialog *self)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (self));

  gdk_clipboard_set_text (clipboard, self->number);
  adw_toast_overlay_add_toast (self->toast_overlay,
                               adw_toast_new (_ ("Safety number copied")));
}

static void
verify_clicked_cb (ScSafetyDialog *self)
{
  if (self->changed)
    return;
  self->verified = !self->verified;
  update (self);
  g_signal_emit (self, signals[SIGNAL_VERIFY_CHANGED], 0, self->verified);
}

static void
accept_clicked_cb (ScSafetyDialog *self)
{
  /* A handler may call sc_safety_dialog_set_state, which replaces
   * self->number while later handlers still read the argument. */
  g_autofree char *compared = g_strdup (self->number);

  if (!self->changed)
    return;
  g_signal_emit (self, signals[SIGNAL_ACCEPT_KEY], 0, compared);
}

static void
not_now_clicked_cb (ScSafetyDialog *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
sc_safety_dialog_finalize (GObject *object)
{
  ScSafetyDialog *self = SC_SAFETY_DIALOG (object);

  g_free (self->peer);
  g_free (self->number);

  G_OBJECT_CLASS (sc_safety_dialog_parent_class)->finalize (object);
}

static void
sc_safety_dialog_class_init (ScSafetyDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = sc_safety_dialog_finalize;

  signals[SIGNAL_VERIFY_CHANGED] = g_signal_new (
      "verify-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  signals[SIGNAL_ACCEPT_KEY] = g_signal_new (
      "accept-key", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);

  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/securechat/SecureChat/sc-safety-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        window_title);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        state_icon);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        state_title);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        state_detail);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        number_label);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        explanation_label);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        copy_button);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        verify_button);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        accept_button);
  gtk_widget_class_bind_template_child (widget_class, ScSafetyDialog,
                                        not_now_button);
  gtk_widget_class_bind_template_callback (widget_class, copy_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, verify_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, accept_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, not_now_clicked_cb);
}

static void
sc_safety_dialog_init (ScSafetyDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Otherwise the first focusable widget is the selectable number, and a
   * label that takes focus selects all its text. Copying is harmless. */
  gtk_window_set_focus (GTK_WINDOW (self), GTK_WIDGET (self->copy_button));
}

ScSafetyDialog *
sc_safety_dialog_new (GtkWindow *parent,
                      const char *own_user,
                      const char *peer,
                      const char *safety_number,
                      gboolean verified,
                      gboolean changed)
{
  ScSafetyDialog *self;
  g_autofree char *subtitle = NULL;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (own_user != NULL, NULL);
  g_return_val_if_fail (peer != NULL, NULL);
  g_return_val_if_fail (sc_safety_dialog_number_is_valid (safety_number), NULL);

  self = g_object_new (SC_TYPE_SAFETY_DIALOG, "transient-for", parent, NULL);
  self->peer = g_strdup (peer);
  self->number = g_strdup (safety_number);
  self->verified = verified;
  self->changed = changed;

  subtitle = g_strdup_printf (_ ("Between %s and %s"), own_user, peer);
  adw_window_title_set_subtitle (self->window_title, subtitle);
  update (self);
  return self;
}

void
sc_safety_dialog_set_state (ScSafetyDialog *self,
                            const char *safety_number,
                            gboolean verified,
                            gboolean changed)
{
  g_return_if_fail (SC_IS_SAFETY_DIALOG (self));
  g_return_if_fail (sc_safety_dialog_number_is_valid (safety_number));

  if (g_strcmp0 (self->number, safety_number) != 0)
    {
      g_free (self->number);
      self->number = g_strdup (safety_number);
    }
  self->verified = verified;
  self->changed = changed;
  update (self);
}

const char *
sc_safety_dialog_get_peer (ScSafetyDialog *self)
{
  g_return_val_if_fail (SC_IS_SAFETY_DIALOG (self), NULL);
  return self->peer;
}

const char *
sc_safety_dialog_get_safety_number (ScSafetyDialog *self)
{
  g_return_val_if_fail (SC_IS_SAFETY_DIALOG (self), NULL);
  return self->number;
}

gboolean
sc_safety_dialog_get_verified (ScSafetyDialog *self)
{
  g_return_val_if_fail (SC_IS_SAFETY_DIALOG (self), FALSE);
  return self->verified;
}

gboolean
sc_safety_dialog_get_changed (ScSafetyDialog *self)
{
  g_return_val_if_fail (SC_IS_SAFETY_DIALOG (self), FALSE);
  return self->changed;
}
