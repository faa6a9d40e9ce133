/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-conversation-view.h"

#include <glib/gi18n.h>

#include "sc-message-row.h"

struct _ScConversationView
{
  AdwBin parent_instance;

  GtkRevealer *key_banner;
  GtkLabel *key_banner_label;
  GtkScrolledWindow *scroller;
  GtkListView *list;
  AdwStatusPage *empty_page;
  GtkTextView *text_view;
  GtkButton *send_button;

  ScChat *chat;
  ScConversation *conversation;
  gulong items_changed_id;
  gulong notify_id;
  guint scroll_idle_id;
  /* Follow new messages while the view is scrolled to the end. */
  gboolean stick_to_bottom;
};

G_DEFINE_FINAL_TYPE (ScConversationView, sc_conversation_view, ADW_TYPE_BIN)

enum
{
  SIGNAL_REVIEW_KEY,
  SIGNAL_SEND_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GtkAdjustment *
vadjustment (ScConversationView *self)
{
  return gtk_scrolled_window_get_vadjustment (self->scroller);
}

/* GTK 4.8's list view keeps its own anchor item and can ignore an
 * adjustment set while it lays out: scroll with its "list.scroll-to-item"
 * action, from an idle so that it runs after the layout that prompted it. */
static gboolean
scroll_to_bottom_cb (gpointer data)
{
  ScConversationView *self = data;
  GtkAdjustment *adj = vadjustment (self);
  guint n = self->conversation != NULL
                ? g_list_model_get_n_items (
                      sc_conversation_get_messages (self->conversation))
                : 0;

  self->scroll_idle_id = 0;
  if (n > 0)
    gtk_widget_activate_action (GTK_WIDGET (self->list), "list.scroll-to-item",
                                "u", n - 1);
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) -
                                     gtk_adjustment_get_page_size (adj));
  self->stick_to_bottom = TRUE;
  return G_SOURCE_REMOVE;
}

static void
scroll_to_bottom (ScConversationView *self)
{
  if (self->scroll_idle_id == 0)
    self->scroll_idle_id =
        g_idle_add_full (G_PRIORITY_LOW, scroll_to_bottom_cb, self, NULL);
}

static void
adjustment_value_cb (GtkAdjustment *adj, ScConversationView *self)
{
  double bottom =
      gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);

  /* While a scroll to the end is pending, the layout moving the value
   * is not the user scrolling away. */
  if (self->scroll_idle_id != 0)
    return;
  self->stick_to_bottom = gtk_adjustment_get_value (adj) >= bottom - 8.0;
}

/* The list view learns its real height as rows are built: keep the end
 * in view while the user has not scrolled away from it. */
static void
adjustment_bounds_cb (GtkAdjustment *adj,
                      GParamSpec *pspec,
                      ScConversationView *self)
{
  if (self->stick_to_bottom)
    scroll_to_bottom (self);
}

static char *
draft_text (ScConversationView *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static gboolean
blocked (ScConversationView *self)
{
  return self->conversation == NULL ||
         sc_conversation_get_identity_changed (self->conversation);
}

static void
update_send_button (ScConversationView *self)
{
  g_autofree char *text = draft_text (self);

  g_strstrip (text);
  gtk_widget_set_sensitive (GTK_WIDGET (self->send_button),
                            text[0] != '\0' && !blocked (self));
}

static void
update_empty (ScConversationView *self)
{
  gboolean empty = self->conversation == NULL ||
                   g_list_model_get_n_items (
                       sc_conversation_get_messages (self->conversation)) == 0;

  gtk_widget_set_visible (GTK_WIDGET (self->empty_page), empty);
}

static void
update_banner (ScConversationView *self)
{
  gboolean changed = self->conversation != NULL &&
                     sc_conversation_get_identity_changed (self->conversation);

  if (changed)
    {
      const char *peer = sc_conversation_get_peer (self->conversation);
      g_autofree char *text = g_strdup_printf (
          _ ("%s’s security key changed. Nothing will be sent to %s until "
             "you compare the new safety number and accept it."),
          peer, peer);

      gtk_label_set_text (self->key_banner_label, text);
    }
  gtk_revealer_set_reveal_child (self->key_banner, changed);
  gtk_text_view_set_editable (self->text_view, !changed);
  update_send_button (self);
}

static void
messages_changed_cb (GListModel *model,
                     guint position,
                     guint removed,
                     guint added,
                     ScConversationView *self)
{
  update_empty (self);
  if (added > 0 && self->stick_to_bottom)
    scroll_to_bottom (self);
}

static void
conversation_notify_cb (ScConversation *conversation,
                        GParamSpec *pspec,
                        ScConversationView *self)
{
  if (g_str_equal (g_param_spec_get_name (pspec), "identity-changed"))
    update_banner (self);
}

void
sc_conversation_view_send (ScConversationView *self)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (SC_IS_CONVERSATION_VIEW (self));

  if (blocked (self) || self->chat == NULL)
    return;
  text = draft_text (self);
  g_strstrip (text);
  if (text[0] == '\0')
    return;
  /* Whatever happens the message now shows in the list (failed ones with
   * the reason), so the draft can go. */
  self->stick_to_bottom = TRUE;
  if (!sc_chat_send (self->chat, self->conversation, text, &error))
    g_signal_emit (self, signals[SIGNAL_SEND_FAILED], 0, error->message);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", 0);
}

static void
send_clicked_cb (ScConversationView *self)
{
  sc_conversation_view_send (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static void
review_clicked_cb (ScConversationView *self)
{
  g_signal_emit (self, signals[SIGNAL_REVIEW_KEY], 0);
}

static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint keyval,
                guint keycode,
                GdkModifierType state,
                ScConversationView *self)
{
  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter &&
      keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;
  /* Shift+Enter (and Ctrl+Enter) insert a line break as usual. */
  if ((state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK)) != 0)
    return GDK_EVENT_PROPAGATE;
  sc_conversation_view_send (self);
  return GDK_EVENT_STOP;
}

static void
buffer_changed_cb (GtkTextBuffer *buffer, ScConversationView *self)
{
  update_send_button (self);
}

static void
setup_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
  gtk_list_item_set_child (item, sc_message_row_new ());
}

static void
bind_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  sc_message_row_bind (SC_MESSAGE_ROW (gtk_list_item_get_child (item)),
                       gtk_list_item_get_item (item));
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  sc_message_row_unbind (SC_MESSAGE_ROW (gtk_list_item_get_child (item)));
}

static void
disconnect_conversation (ScConversationView *self)
{
  if (self->conversation == NULL)
    return;
  g_clear_signal_handler (&self->items_changed_id,
                          sc_conversation_get_messages (self->conversation));
  g_clear_signal_handler (&self->notify_id, self->conversation);
  g_clear_object (&self->conversation);
  g_clear_object (&self->chat);
}

void
sc_conversation_view_set_conversation (ScConversationView *self,
                                       ScChat *chat,
                                       ScConversation *conversation)
{
  g_autoptr (GtkNoSelection) selection = NULL;

  g_return_if_fail (SC_IS_CONVERSATION_VIEW (self));

  if (conversation == self->conversation)
    return;
  disconnect_conversation (self);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", 0);
  if (conversation != NULL)
    {
      GListModel *messages = sc_conversation_get_messages (conversation);

      self->chat = chat != NULL ? g_object_ref (chat) : NULL;
      self->conversation = g_object_ref (conversation);
      selection = gtk_no_selection_new (g_object_ref (messages));
      self->items_changed_id = g_signal_connect (
          messages, "items-changed", G_CALLBACK (messages_changed_cb), self);
      self->notify_id = g_signal_connect (
          conversation, "notify", G_CALLBACK (conversation_notify_cb), self);
    }
  gtk_list_view_set_model (self->list, GTK_SELECTION_MODEL (selection));
  self->stick_to_bottom = TRUE;
  scroll_to_bottom (self);
  update_empty (self);
  update_banner (self);
}

ScConversation *
sc_conversation_view_get_conversation (ScConversationView *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION_VIEW (self), NULL);

  return self->conversation;
}

void
sc_conversation_view_focus_composer (ScConversationView *self)
{
  g_return_if_fail (SC_IS_CONVERSATION_VIEW (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

void
sc_conversation_view_set_draft (ScConversationView *self, const char *text)
{
  g_return_if_fail (SC_IS_CONVERSATION_VIEW (self));

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), text,
                            -1);
}

char *
sc_conversation_view_get_draft (ScConversationView *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATION_VIEW (self), NULL);

  return draft_text (self);
}

GtkListView *
sc_conversation_view_get_list (ScConversationView *self)
{
  return self->list;
}

GtkAdjustment *
sc_conversation_view_get_vadjustment (ScConversationView *self)
{
  return vadjustment (self);
}

GtkWidget *
sc_conversation_view_new (void)
{
  return g_object_new (SC_TYPE_CONVERSATION_VIEW, NULL);
}

static void
sc_conversation_view_dispose (GObject *object)
{
  ScConversationView *self = SC_CONVERSATION_VIEW (object);

  disconnect_conversation (self);
  g_clear_handle_id (&self->scroll_idle_id, g_source_remove);
  if (self->list != NULL)
    gtk_list_view_set_model (self->list, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), SC_TYPE_CONVERSATION_VIEW);
  G_OBJECT_CLASS (sc_conversation_view_parent_class)->dispose (object);
}

static void
sc_conversation_view_class_init (ScConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = sc_conversation_view_dispose;
  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/securechat/SecureChat/sc-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, ScConversationView,
                                        key_banner);
  gtk_widget_class_bind_template_child (widget_class, ScConversationView,
                                        key_banner_label);
  gtk_widget_class_bind_template_child (widget_class, ScConversationView,
                                        scroller);
  gtk_widget_class_bind_template_child (widget_class, ScConversationView, list);
  gtk_widget_class_bind_template_child (widget_class, ScConversationView,
                                        empty_page);
  gtk_widget_class_bind_template_child (widget_class, ScConversationView,
                                        text_view);
  gtk_widget_class_bind_template_child (widget_class, ScConversationView,
                                        send_button);
  gtk_widget_class_bind_template_callback (widget_class, send_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, review_clicked_cb);

  signals[SIGNAL_REVIEW_KEY] =
      g_signal_new ("review-key", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                    0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_SEND_FAILED] =
      g_signal_new ("send-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                    0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
sc_conversation_view_init (ScConversationView *self)
{
  GtkListItemFactory *factory;
  GtkEventController *keys;
  GtkAdjustment *adj;

  gtk_widget_init_template (GTK_WIDGET (self));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->list, factory);
  g_object_unref (factory);

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), keys);

  g_signal_connect (gtk_text_view_get_buffer (self->text_view), "changed",
                    G_CALLBACK (buffer_changed_cb), self);

  adj = vadjustment (self);
  g_signal_connect (adj, "value-changed", G_CALLBACK (adjustment_value_cb),
                    self);
  g_signal_connect (adj, "notify::upper", G_CALLBACK (adjustment_bounds_cb),
                    self);
  g_signal_connect (adj, "notify::page-size", G_CALLBACK (adjustment_bounds_cb),
                    self);
  self->stick_to_bottom = TRUE;
}
