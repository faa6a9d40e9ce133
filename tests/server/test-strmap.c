/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

#include "strmap.h"

static void
test_basic (void)
{
  struct strmap *m = NULL;
  int a = 1, b = 2;

  g_assert_cmpint (strmap_new (&m), ==, 0);
  g_assert_null (strmap_get (m, "alice"));
  g_assert_cmpint (strmap_set (m, "alice", &a), ==, 0);
  g_assert_cmpint (strmap_set (m, "bob", &b), ==, 0);
  g_assert_true (strmap_get (m, "alice") == &a);
  g_assert_true (strmap_get (m, "bob") == &b);
  g_assert_cmpuint (strmap_count (m), ==, 2);
  g_assert_cmpint (strmap_set (m, "alice", &b), ==, 0);
  g_assert_true (strmap_get (m, "alice") == &b);
  g_assert_cmpuint (strmap_count (m), ==, 2);
  g_assert_true (strmap_remove (m, "alice") == &b);
  g_assert_null (strmap_remove (m, "alice"));
  g_assert_null (strmap_get (m, "alice"));
  g_assert_cmpuint (strmap_count (m), ==, 1);
  strmap_free (m);
  strmap_free (NULL);
}

/* Many inserts and removals in a mixed order must keep every remaining key
 * reachable: this exercises growth and backward-shift deletion. */
static void
test_churn (void)
{
  struct strmap *m = NULL;
  char key[32];
  const int n = 5000;
  size_t pos = 0, seen = 0;
  const char *k;
  void *v;

  g_assert_cmpint (strmap_new (&m), ==, 0);
  for (int i = 0; i < n; i++)
    {
      snprintf (key, sizeof (key), "user%d", i);
      g_assert_cmpint (strmap_set (m, key, (void *) (uintptr_t) (i + 1)), ==,
                       0);
    }
  for (int i = 0; i < n; i += 3)
    {
      snprintf (key, sizeof (key), "user%d", i);
      g_assert_true (strmap_remove (m, key) == (void *) (uintptr_t) (i + 1));
    }
  for (int i = 0; i < n; i++)
    {
      snprintf (key, sizeof (key), "user%d", i);
      if (i % 3 == 0)
        g_assert_null (strmap_get (m, key));
      else
        g_assert_true (strmap_get (m, key) == (void *) (uintptr_t) (i + 1));
    }
  while (strmap_next (m, &pos, &k, &v))
    seen++;
  g_assert_cmpuint (seen, ==, strmap_count (m));
  g_assert_cmpuint (seen, ==, (size_t) (n - (n + 2) / 3));
  strmap_free (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/strmap/basic", test_basic);
  g_test_add_func ("/server/strmap/churn", test_churn);
  return g_test_run ();
}
