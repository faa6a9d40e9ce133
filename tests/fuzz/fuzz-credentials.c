/* SPDX-License-Identifier: GPL-3.0-or-later */
/* credentials.json (server/store.c): store_parse, the parser store_open
 * runs over the file.
 *
 * A file that loads lists its usable users once each, in strict name
 * order, each with a valid name, and finds every one of them again by
 * name; a file that does not explains itself in one line that names the
 * file and carries no control character (it goes to the log). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/init.h"
#include "securechat/msg.h"
#include "store.h"

#define NAME "credentials.json"

struct walk
{
  const struct store *st;
  char last[SC_USERNAME_MAX + 1];
  size_t n;
};

static void
each_cb (const char *user, const char *hash, void *ud)
{
  struct walk *w = ud;

  FUZZ_CHECK (sc_username_validate (user, strlen (user)) == 0);
  FUZZ_CHECK (hash != NULL);
  FUZZ_CHECK (store_lookup (w->st, user) == hash);
  if (w->n > 0)
    FUZZ_CHECK (strcmp (w->last, user) < 0);
  snprintf (w->last, sizeof w->last, "%s", user);
  w->n++;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  /* As securechatd does. */
  sc_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct store *st = NULL;
  char err[512];

  err[0] = '\0';
  if (store_parse (NAME, (const char *) data, size, &st, err, sizeof err) == 0)
    {
      struct walk w = { st, "", 0 };

      FUZZ_CHECK (st != NULL);
      store_foreach (st, each_cb, &w);
      FUZZ_CHECK (w.n == store_count (st));
      FUZZ_CHECK (store_lookup (st, "") == NULL);
      FUZZ_CHECK (store_lookup (st, "Not A User") == NULL);
      store_free (st);
      return 0;
    }
  FUZZ_CHECK (st == NULL);
  FUZZ_CHECK (strncmp (err, NAME ":", strlen (NAME ":")) == 0);
  for (const char *p = err; *p != '\0'; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      fuzz_fail ("control character 0x%02x in the message \"%s\"",
                 (unsigned char) *p, err);
  return 0;
}

/* ---- seeds ---- */

static void
emit_text (const char *name, const char *text)
{
  fuzz_emit (name, text, strlen (text));
}

void
fuzz_generate (void)
{
  emit_text ("empty", "{}\n");
  emit_text (
      "seed-format",
      "{\"kitty\": "
      "\"$2b$12$65/Be1E4hGtwfHia4vAU4ehRaWnaKym5UqEWIAqJg9rEeUZgMkimm\"}");
  /* As store_modify writes it (indented, sorted). */
  emit_text ("written", "{\n  \"alice\": \"$y$j9T$F5Jx5fExrKuJdvFhaD.ll0$"
                        "kGGqDSGQ5HS2kA3q35CPlq0b4VwMOj7H1Z7wWn8dTQ1\",\n"
                        "  \"bob\": \"$y$j9T$abc$def\"\n}\n");
  emit_text ("unusable-kept",
             "{\"zed\": \"h-z\", \"Bad Name\": \"$y$x\", \"bob\": 5,"
             " \"alice\": \"h-a\", \"nested\": {\"a\": [1, 2.5, null, true]},"
             " \"caf\\u00e9\": \"h\", \"-dash\": \"h\", \"big\": 1e300}");
  emit_text ("many", "{\"u1\":\"a\",\"u10\":\"b\",\"u2\":\"c\",\"u.x\":\"d\","
                     "\"u_x\":\"e\",\"u-x\":\"f\",\"0\":\"g\",\"z\":\"h\"}");
  emit_text ("bad-duplicate", "{\"a\": \"x\", \"a\": \"y\"}");
  emit_text ("bad-top-level", "[\"alice\"]");
  emit_text ("bad-truncated", "{\"alice\": \"$y$j9T$SECRETSALT$SECRETHASH");
  emit_text ("bad-escape", "{\"alice\": \"$y$j9T$SECRETSALT$SECRETHASH\\q\"}");
  emit_text ("bad-control", "{\"a\": \"x\x01y\"}");
  emit_text ("bad-nul-escape", "{\"a\": \"x\\u0000y\"}");
  emit_text ("bad-two-values", "{} {}");
  emit_text ("bad-utf8", "{\"a\": \"\xff\"}");
}
