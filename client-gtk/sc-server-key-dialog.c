/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-server-key-dialog.h"

#include <glib/gi18n.h>

#include "securechat/error.h"
#include "securechat/fingerprint.h"

/* A fingerprint to read character by character: monospace, selectable
 * for copying, broken anywhere since base64 has no word boundaries. */
static GtkWidget *
fingerprint_label (const char *fingerprint, const char *accessible)
{
  GtkWidget *label = gtk_label_new (fingerprint);
  PangoAttrList *attrs = pango_attr_list_new ();

  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_CHAR);
  /* A hyphen at the break would read as part of the key. */
  pango_attr_list_insert (attrs, pango_attr_insert_hyphens_new (FALSE));
  gtk_label_set_attributes (GTK_LABEL (label), attrs);
  pango_attr_list_unref (attrs);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  /* Asks for a whole line; the dialog's width limit wraps it. */
  gtk_label_set_max_width_chars (GTK_LABEL (label), SC_FINGERPRINT_LEN);
  gtk_widget_add_css_class (label, "fingerprint");
  gtk_accessible_update_property (
      GTK_ACCESSIBLE (label), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
  return label;
}

static GtkWidget *
caption_label (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_widget_add_css_class (label, "heading");
  return label;
}

static GtkWidget *
fingerprint_card (GtkWidget *caption,
                  const char *fingerprint,
                  const char *accessible)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *label = fingerprint_label (fingerprint, accessible);

  gtk_widget_add_css_class (box, "card");
  gtk_widget_add_css_class (box, "fingerprint-card");
  if (caption != NULL)
    {
      gtk_box_append (GTK_BOX (box), caption);
      gtk_accessible_update_relation (GTK_ACCESSIBLE (label),
                                      GTK_ACCESSIBLE_RELATION_LABELLED_BY,
                                      caption, NULL, -1);
    }
  gtk_box_append (GTK_BOX (box), label);
  return box;
}

GtkWindow *
sc_server_key_dialog_new_unknown (GtkWindow *parent,
                                  const char *server,
                                  const char *fingerprint)
{
  AdwMessageDialog *dialog;
  g_autofree char *body = NULL;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (server != NULL && g_utf8_validate (server, -1, NULL),
                        NULL);
  g_return_val_if_fail (fingerprint != NULL &&
                            sc_fingerprint_validate (fingerprint) == SC_OK,
                        NULL);

  dialog = ADW_MESSAGE_DIALOG (
      adw_message_dialog_new (parent, _ ("Trust This Server?"), NULL));
  gtk_widget_add_css_class (GTK_WIDGET (dialog), "server-key-unknown");
  body = g_markup_printf_escaped (
      _ ("This is your first connection to <b>%s</b>. To make sure nobody "
         "is impersonating it, compare this fingerprint with the one your "
         "server’s administrator gave you (shown by “securechatd "
         "fingerprint”). Your password is sent only once you trust the "
         "server."),
      server);
  adw_message_dialog_set_body_use_markup (dialog, TRUE);
  adw_message_dialog_set_body (dialog, body);
  adw_message_dialog_set_extra_child (
      dialog, fingerprint_card (NULL, fingerprint,
                                _ ("Fingerprint of the server key")));

  adw_message_dialog_add_responses (dialog, "cancel", _ ("_Cancel"), "trust",
                                    _ ("_Trust and Connect"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "trust",
                                              ADW_RESPONSE_SUGGESTED);
  /* Enter must not trust a key nobody looked at. */
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  return GTK_WINDOW (dialog);
}

GtkWindow *
sc_server_key_dialog_new_changed (GtkWindow *parent,
                                  const char *server,
                                  const char *pinned,
                                  const char *seen,
                                  const char *known_servers_path,
                                  guint line)
{
  AdwMessageDialog *dialog;
  GtkWidget *box;
  GtkWidget *how;
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autofree char *how_text = NULL;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (server != NULL && g_utf8_validate (server, -1, NULL),
                        NULL);
  g_return_val_if_fail (
      pinned != NULL && sc_fingerprint_validate (pinned) == SC_OK, NULL);
  g_return_val_if_fail (seen != NULL && sc_fingerprint_validate (seen) == SC_OK,
                        NULL);
  g_return_val_if_fail (known_servers_path != NULL, NULL);
  g_return_val_if_fail (line > 0, NULL);

  dialog = ADW_MESSAGE_DIALOG (
      adw_message_dialog_new (parent, _ ("Server Key Changed"), NULL));
  gtk_widget_add_css_class (GTK_WIDGET (dialog), "server-key-changed");
  body = g_markup_printf_escaped (
      _ ("The server at <b>%s</b> did not show the key you trusted before. "
         "Someone may be intercepting the connection, or the server was "
         "reinstalled.\n\nNothing was sent to it, not even your password."),
      server);
  adw_message_dialog_set_body_use_markup (dialog, TRUE);
  adw_message_dialog_set_body (dialog, body);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_box_append (GTK_BOX (box),
                  fingerprint_card (caption_label (_ ("Trusted key")), pinned,
                                    _ ("Fingerprint of the trusted key")));
  gtk_box_append (
      GTK_BOX (box),
      fingerprint_card (caption_label (_ ("Key shown now")), seen,
                        _ ("Fingerprint of the key the server shows now")));

  /* The file name may not be UTF-8; show it the way file managers do. */
  path = g_filename_display_name (known_servers_path);
  how_text = g_strdup_printf (
      _ ("If your server’s administrator confirms that the server has a new "
         "key, remove line %u of %s, then connect again."),
      line, path);
  how = gtk_label_new (how_text);
  gtk_label_set_wrap (GTK_LABEL (how), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (how), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_justify (GTK_LABEL (how), GTK_JUSTIFY_CENTER);
  gtk_label_set_selectable (GTK_LABEL (how), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (how), 40);
  gtk_widget_set_margin_top (how, 6);
  gtk_box_append (GTK_BOX (box), how);
  adw_message_dialog_set_extra_child (dialog, box);

  adw_message_dialog_add_response (dialog, "close", _ ("_Close"));
  adw_message_dialog_set_default_response (dialog, "close");
  adw_message_dialog_set_close_response (dialog, "close");
  return GTK_WINDOW (dialog);
}
