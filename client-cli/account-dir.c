/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "account-dir.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "net.h"

char *
account_dir_path (const char *server_key, const char *user)
{
  const char *xdg = getenv ("XDG_DATA_HOME");
  const char *home = getenv ("HOME");
  char server[NET_KEY_MAX + 2];
  size_t n = 0;
  char *path = NULL;
  int rc;

  for (const char *p = server_key; *p != '\0' && n < NET_KEY_MAX; p++)
    {
      char ch = *p;

      if (ch >= 'A' && ch <= 'Z')
        ch = (char) (ch - 'A' + 'a');
      if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            (ch == '.' && n > 0)))
        ch = '_';
      server[n++] = ch;
    }
  server[n] = '\0';

  if (xdg != NULL && xdg[0] == '/')
    rc = asprintf (&path, "%s/securechat/%s/%s", xdg, server, user);
  else
    {
      if (home == NULL || home[0] == '\0')
        {
          struct passwd *pw = getpwuid (getuid ());

          home = pw != NULL ? pw->pw_dir : NULL;
        }
      if (home == NULL || home[0] == '\0')
        return NULL;
      rc = asprintf (&path, "%s/.local/share/securechat/%s/%s", home, server,
                     user);
    }
  return rc < 0 ? NULL : path;
}
