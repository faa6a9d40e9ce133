/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "vectors.h"

#include <glib.h>

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
