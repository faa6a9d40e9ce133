/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every code a server sends and every error a user can meet has a plain
 * sentence, and the original project's error table is covered. */
#include <string.h>

#include "sc-errors.h"
#include "securechat/error.h"
#include "securechat/msg.h"

static void
test_codes (void)
{
  const char *unknown = sc_errors_describe_code (SC_CODE_N_CODES);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_nonnull (unknown);
  g_assert_cmpstr (sc_errors_describe_code (-1), ==, unknown);
  g_assert_cmpstr (sc_errors_describe_code (1000), ==, unknown);
  for (int code = 0; code < SC_CODE_N_CODES; code++)
    {
      const char *text = sc_errors_describe_code (code);

      g_assert_nonnull (text);
      g_assert_cmpstr (text, !=, unknown);
      /* A sentence, not the wire name. */
      g_assert_null (strstr (text, sc_code_name ((enum sc_code) code)));
      g_assert_true (g_ascii_isupper (text[0]));
      g_assert_true (g_str_has_suffix (text, "."));
      /* Each code says something of its own. */
      g_assert_false (g_hash_table_contains (seen, text));
      g_hash_table_add (seen, (gpointer) text);
    }
}

static void
test_errors (void)
{
  g_autofree char *unknown = sc_errors_describe_error (-1000);

  g_assert_nonnull (strstr (unknown, "-1000"));
  for (int err = SC_OK; err >= SC_ERR_STORAGE; err--)
    {
      g_autofree char *text = sc_errors_describe_error (err);

      g_assert_nonnull (text);
      g_assert_true (g_ascii_isupper (text[0]));
      g_assert_true (g_str_has_suffix (text, "."));
      g_assert_null (strstr (text, "code "));
    }
}

/* The events of the original project's error table. */
static void
test_seed_table (void)
{
  g_autofree char *lost = sc_errors_describe_error (SC_ERR_CLOSED);
  g_autofree char *format = sc_errors_describe_error (SC_ERR_JSON);
  g_autofree char *field = sc_errors_describe_error (SC_ERR_FIELD);

  /* Incorrect password, user not found, unsuccessful logins: one
   * generic answer. */
  g_assert_cmpstr (sc_errors_describe_code (SC_CODE_AUTH_FAILED), ==,
                   "Wrong user name or password.");
  g_assert_cmpstr (sc_errors_describe_code (SC_CODE_RECIPIENT_OFFLINE), ==,
                   "The recipient is not online, so the message was not "
                   "delivered.");
  g_assert_nonnull (strstr (lost, "No data received"));
  g_assert_nonnull (strstr (lost, "connection was lost"));
  g_assert_nonnull (strstr (format, "incorrect format"));
  g_assert_cmpstr (format, ==, field);
  g_assert_nonnull (
      strstr (sc_errors_describe_code (SC_CODE_INTERNAL), "relaying messages"));
  g_assert_nonnull (strstr (sc_errors_describe_code (SC_CODE_SERVER_BUSY),
                            "trying again shortly"));
  g_assert_nonnull (strstr (sc_errors_describe_code (SC_CODE_SESSION_REPLACED),
                            "another place"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gtk/errors/codes", test_codes);
  g_test_add_func ("/gtk/errors/errors", test_errors);
  g_test_add_func ("/gtk/errors/seed-table", test_seed_table);
  return g_test_run ();
}
