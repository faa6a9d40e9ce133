/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechatd: everything lives in the library (admin.c and server.c), so
 * that tests link the code that ships. */
#include "admin.h"

int
main (int argc, char **argv)
{
  return admin_main (argc, argv);
}
