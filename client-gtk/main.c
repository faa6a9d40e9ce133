/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib/gi18n.h>
#include <locale.h>

#include "sc-application.h"
#include "securechat/init.h"

/* Run from the build tree (the README's quick start does), the
 * translations are the build's, not the installed ones. */
static const char *
locale_dir (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = exe != NULL ? g_path_get_dirname (exe) : NULL;

  if (dir != NULL && g_str_equal (dir, SC_BUILD_GTK_DIR))
    return SC_BUILD_LOCALEDIR;
  return LOCALEDIR;
}

int
main (int argc, char *argv[])
{
  g_autoptr (ScApplication) app = NULL;

  /* Before anything parses JSON: freed jansson blocks are wiped. */
  if (sc_init () != 0)
    {
      g_printerr ("securechat: cannot initialise the libraries\n");
      return 1;
    }
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = sc_application_new ();
  if (app == NULL)
    return 1;
  return g_application_run (G_APPLICATION (app), argc, argv);
}
