/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench-history: how long the GTK client's history takes to append and
 * to load, in a private temporary folder on the same disk as $TMPDIR.
 * Prints figures; speed has no pass/fail here.
 *
 *   bench-history [--append N] [--load N]... */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "sc-history.h"

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);

  if (d != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          g_unlink (child);
        }
      g_dir_close (d);
    }
  g_rmdir (path);
}

static const char *
text_for (guint i)
{
  /* Chat-sized texts of a few lengths, some non-ASCII. */
  static const char *const texts[] = {
    "ok",
    "See you at the station at eight, platform 3.",
    "Ça marche — à demain 👋",
    "I pushed the fix; the build is green again. Can you have a look at the "
    "review comments when you get a moment? No rush, tomorrow is fine.",
  };

  return texts[i % G_N_ELEMENTS (texts)];
}

static ScMessage *
message_for (guint i)
{
  gboolean out = i % 2 == 0;

  return sc_message_new (i + 1, out ? SC_MESSAGE_OUTGOING : SC_MESSAGE_INCOMING,
                         out ? "alice" : "bob", text_for (i),
                         1700000000000 + 1000 * (gint64) i,
                         out ? SC_DELIVERY_SENT : SC_DELIVERY_NONE);
}

static void
report (const char *what, guint n, gint64 usec)
{
  double ms = (double) usec / 1000.0;

  g_print ("%-34s %8u msgs %10.1f ms %12.0f msgs/s\n", what, n, ms,
           usec > 0 ? (double) n * 1e6 / (double) usec : 0.0);
}

/* n messages through sc_history_append: a write and an fdatasync each. */
static void
bench_append (const char *dir, guint n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) h = sc_history_open (dir, &error);
  g_autofree char *what = NULL;
  gint64 start;

  if (h == NULL)
    g_error ("%s", error->message);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScMessage) m = message_for (i);

      if (!sc_history_append (h, "append", m, &error))
        g_error ("%s", error->message);
    }
  what = g_strdup_printf ("append (fdatasync each)");
  report (what, n, g_get_monotonic_time () - start);
}

/* A file of n "add" lines as sc-history.h describes them, written in
 * one go, then loaded by a fresh ScHistory. The texts need no JSON
 * escaping. */
static void
bench_load (const char *dir, guint n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) reader = NULL;
  g_autoptr (GPtrArray) loaded = NULL;
  g_autofree char *peer = g_strdup_printf ("load%u", n);
  g_autofree char *name = g_strdup_printf ("%s.jsonl", peer);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *what = NULL;
  g_autoptr (GString) file = g_string_new (NULL);
  guint skipped = 0;
  gint64 start;
  int fd;

  for (guint i = 0; i < n; i++)
    {
      gboolean out = i % 2 == 0;

      g_string_append_printf (
          file,
          "{\"v\":1,\"op\":\"add\",\"lid\":%u,\"kind\":\"%s\",\"from\":\"%s\","
          "\"text\":\"%s\",\"delivery\":\"%s\",\"ts\":%" G_GINT64_FORMAT "}\n",
          i + 1, out ? "out" : "in", out ? "alice" : "bob", text_for (i),
          out ? "sent" : "none", 1700000000000 + 1000 * (gint64) i);
    }
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, file->str, file->len) != (gssize) file->len ||
      fsync (fd) < 0 || close (fd) < 0)
    g_error ("cannot write %s", path);

  reader = sc_history_open (dir, &error);
  if (reader == NULL)
    g_error ("%s", error->message);
  start = g_get_monotonic_time ();
  loaded = sc_history_load (reader, peer, &skipped, &error);
  if (loaded == NULL)
    g_error ("%s", error->message);
  what = g_strdup_printf ("load (%.1f MB file)",
                          (double) file->len / (1024.0 * 1024.0));
  report (what, loaded->len, g_get_monotonic_time () - start);
  if (loaded->len != n || skipped != 0)
    g_error ("loaded %u of %u messages, %u lines skipped", loaded->len, n,
             skipped);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autofree char *dir = NULL;
  int n_append = 10000;
  g_auto (GStrv) loads = NULL;
  const GOptionEntry entries[] = {
    { "append", 0, 0, G_OPTION_ARG_INT, &n_append,
      "Messages to append (default 10000)", "N" },
    { "load", 0, 0, G_OPTION_ARG_STRING_ARRAY, &loads,
      "Messages to load (repeatable; default 10000 and 100000)", "N" },
    G_OPTION_ENTRY_NULL,
  };

  context = g_option_context_new (NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (n_append < 0)
    {
      g_printerr ("--append: a count, 0 or more\n");
      return 2;
    }

  dir = g_dir_make_tmp ("sc-bench-history-XXXXXX", &error);
  if (dir == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print ("# history benchmark in %s\n", dir);
  if (n_append > 0)
    bench_append (dir, (guint) n_append);
  if (loads == NULL)
    {
      bench_load (dir, 10000);
      bench_load (dir, 100000);
    }
  else
    for (guint i = 0; loads[i] != NULL; i++)
      {
        guint64 n = 0;

        if (!g_ascii_string_to_unsigned (loads[i], 10, 1, 4000000, &n, NULL))
          {
            g_printerr ("--load: a count from 1 to 4000000\n");
            rm_rf (dir);
            return 2;
          }
        bench_load (dir, (guint) n);
      }
  rm_rf (dir);
  return 0;
}
