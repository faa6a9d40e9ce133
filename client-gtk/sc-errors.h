/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What went wrong, for people: plain, translated sentences for the codes
 * a server sends (enum sc_code, PROTOCOL.md section 7) and for the errors
 * of the protocol core (enum sc_error). Never an enum name alone, never a
 * secret. The connection uses them for its signals; the window shows them
 * as they are.
 *
 * The events of the original project's error table map here: incorrect
 * password, unknown user and unsuccessful logins all to
 * SC_CODE_AUTH_FAILED (one generic answer, so that nobody can find out
 * which user names exist); "Recipient not online" to
 * SC_CODE_RECIPIENT_OFFLINE; "No data received or connection lost" to
 * SC_ERR_CLOSED; "Received message in incorrect format" to SC_ERR_JSON,
 * SC_ERR_FIELD and their kin; "Error relaying messages" to
 * SC_CODE_INTERNAL. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The sentence for an enum sc_code (any int: unknown codes get a generic
 * sentence). Static, translated; never NULL. */
const char *sc_errors_describe_code (int sc_code);

/* The sentence for an enum sc_error (any int: unknown values get a
 * generic sentence naming the code for bug reports). Newly allocated. */
char *sc_errors_describe_error (int sc_err);

G_END_DECLS
