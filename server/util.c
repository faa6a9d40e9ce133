/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

void
util_set_err (char *err, size_t err_cap, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || err_cap == 0)
    return;
  va_start (ap, fmt);
  vsnprintf (err, err_cap, fmt, ap);
  va_end (ap);
}
