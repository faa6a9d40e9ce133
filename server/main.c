/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechatd: everything lives in the library (admin.c and server.c), so
 * that tests link the code that ships. */
#include <stdio.h>

#include "admin.h"
#include "securechat/init.h"

int
main (int argc, char **argv)
{
  /* Before anything parses JSON: freed jansson blocks (a login's password
   * among them) are then wiped. */
  if (sc_init () != 0)
    {
      fputs ("securechatd: cannot initialise the libraries\n", stderr);
      return 1;
    }
  return admin_main (argc, argv);
}
