/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ScSafetyDialog: the safety number with one contact, to compare in person
 * or on a call, and the contact's verification state. A pure view: it
 * never touches the key store. The window that opened it listens to
 *
 * "verify-changed" (gboolean verified)  the user marked the number as
 *                  compared (TRUE) or cleared that mark (FALSE); the
 *                  dialog already shows the new state; if storing it
 *                  fails, put the old state back with
 *                  sc_safety_dialog_set_state;
 * "accept-key"     (const char *compared_number)  the user accepts the
 *                  contact's changed key after comparing this number; the
 *                  dialog changes nothing until sc_safety_dialog_set_state
 *                  tells it the outcome;
 *
 * and calls sc_safety_dialog_set_state whenever the state changes
 * elsewhere (another key arrived, the change was accepted). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SC_TYPE_SAFETY_DIALOG (sc_safety_dialog_get_type ())
G_DECLARE_FINAL_TYPE (
    ScSafetyDialog, sc_safety_dialog, SC, SAFETY_DIALOG, AdwWindow)

/* safety_number: 12 groups of 5 digits separated by single spaces, as
 * sc_connection_get_safety_number returns it. verified: the user marked
 * it as compared; changed: a new key of peer waits for acceptance (the
 * number is over the new key). The dialog is modal and transient for
 * parent; present it with gtk_window_present. */
ScSafetyDialog *sc_safety_dialog_new (GtkWindow *parent,
                                      const char *own_user,
                                      const char *peer,
                                      const char *safety_number,
                                      gboolean verified,
                                      gboolean changed);

void sc_safety_dialog_set_state (ScSafetyDialog *self,
                                 const char *safety_number,
                                 gboolean verified,
                                 gboolean changed);

const char *sc_safety_dialog_get_peer (ScSafetyDialog *self);
const char *sc_safety_dialog_get_safety_number (ScSafetyDialog *self);
gboolean sc_safety_dialog_get_verified (ScSafetyDialog *self);
gboolean sc_safety_dialog_get_changed (ScSafetyDialog *self);

/* TRUE when text is 12 groups of 5 ASCII digits separated by single
 * spaces, nothing before or after. */
gboolean sc_safety_dialog_number_is_valid (const char *text);

G_END_DECLS
