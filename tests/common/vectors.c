/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "vectors.h"

#include <string.h>

json_t *
sc_test_load_vectors (const char *subdir, const char *file)
{
  const char *dir = g_getenv ("SC_VECTORS_DIR");
  g_autofree char *path = NULL;
  json_error_t err;
  json_t *root;

  if (dir == NULL)
    g_error ("SC_VECTORS_DIR is not set (run the tests through meson)");
  path = g_build_filename (dir, subdir, file, NULL);
  root = json_load_file (path, JSON_REJECT_DUPLICATES, &err);
  if (root == NULL)
    g_error ("%s:%d: %s", path, err.line, err.text);
  return root;
}

void
sc_test_unhex_into (const char *s, guint8 *out, gsize len)
{
  g_assert_cmpuint (strlen (s), ==, 2 * len);
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (s[2 * i]);
      int lo = g_ascii_xdigit_value (s[2 * i + 1]);

      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      out[i] = (guint8) (hi << 4 | lo);
    }
}

guint8 *
sc_test_unhex (const char *s, gsize *len)
{
  gsize n = strlen (s);
  guint8 *buf;

  g_assert_cmpuint (n % 2, ==, 0);
  buf = g_malloc (n / 2 + 1);
  sc_test_unhex_into (s, buf, n / 2);
  *len = n / 2;
  return buf;
}
