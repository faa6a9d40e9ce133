/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>

#include "client.h"

static void
key_of (int family, const char *text, char *out, size_t cap)
{
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;

  if (family == AF_INET)
    {
      memset (&v4, 0, sizeof v4);
      v4.sin_family = AF_INET;
      g_assert_cmpint (inet_pton (AF_INET, text, &v4.sin_addr), ==, 1);
      client_source_key ((const struct sockaddr *) &v4, out, cap);
    }
  else
    {
      memset (&v6, 0, sizeof v6);
      v6.sin6_family = AF_INET6;
      g_assert_cmpint (inet_pton (AF_INET6, text, &v6.sin6_addr), ==, 1);
      client_source_key ((const struct sockaddr *) &v6, out, cap);
    }
}

/* Per-address limits count an IPv6 host by its /64, so that rotating
 * through the addresses of one prefix does not reset them. */
static void
test_source_key (void)
{
  char a[64], b[64];

  key_of (AF_INET, "127.0.0.1", a, sizeof a);
  g_assert_cmpstr (a, ==, "127.0.0.1");
  key_of (AF_INET6, "::ffff:127.0.0.1", a, sizeof a);
  g_assert_cmpstr (a, ==, "127.0.0.1");
  key_of (AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", a, sizeof a);
  key_of (AF_INET6, "2001:db8:1:2::1", b, sizeof b);
  g_assert_cmpstr (a, ==, "2001:db8:1:2::/64");
  g_assert_cmpstr (a, ==, b);
  key_of (AF_INET6, "2001:db8:1:3::1", b, sizeof b);
  g_assert_cmpstr (a, !=, b);
  key_of (AF_INET6, "::1", a, sizeof a);
  g_assert_cmpstr (a, ==, "::/64");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/client/source-key", test_source_key);
  return g_test_run ();
}
