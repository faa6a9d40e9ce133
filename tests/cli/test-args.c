/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechat-cli's command line and server addresses. */
#include <glib.h>
#include <stdarg.h>
#include <string.h>

#include "cli.h"
#include "net.h"
#include "securechat/e2e.h"
#include "securechat/msg.h"

#define FP "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"

/* Parses a NULL-terminated argument list (after the program name). */
static int
parse_v (struct cli_options *o, char *err, const char *first, va_list ap)
{
  GPtrArray *argv = g_ptr_array_new ();
  int rc;

  g_ptr_array_add (argv, (char *) "securechat-cli");
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  g_ptr_array_add (argv, NULL);
  rc = cli_parse_args ((int) argv->len - 1, (char **) argv->pdata, o, err, 256);
  g_ptr_array_unref (argv);
  return rc;
}

static void
ok (struct cli_options *o, const char *first, ...)
{
  char err[256];
  va_list ap;
  int rc;

  va_start (ap, first);
  rc = parse_v (o, err, first, ap);
  va_end (ap);
  if (rc != 0)
    g_error ("unexpected usage error: %s", err);
}

/* Expects a usage error whose message contains want. */
static void
bad (const char *want, const char *first, ...)
{
  struct cli_options o;
  char err[256];
  va_list ap;
  int rc;

  va_start (ap, first);
  rc = parse_v (&o, err, first, ap);
  va_end (ap);
  g_assert_cmpint (rc, ==, -1);
  g_assert_nonnull (strstr (err, want));
  g_assert_null (strchr (err, '\n'));
}

static void
test_interactive (void)
{
  struct cli_options o;

  ok (&o, "--server", "chat.example.org:4000", "--user", "alice", NULL);
  g_assert_cmpint (o.mode, ==, CLI_MODE_INTERACTIVE);
  g_assert_cmpstr (o.host, ==, "chat.example.org");
  g_assert_cmpstr (o.port, ==, "4000");
  g_assert_cmpstr (o.key, ==, "chat.example.org:4000");
  g_assert_cmpstr (o.user, ==, "alice");
  g_assert_null (o.password_file);
  g_assert_cmpstr (o.fingerprint, ==, "");
  g_assert_cmpint (o.connect_timeout_ms, ==, CLI_DEFAULT_CONNECT_TIMEOUT_MS);

  /* Any order, both spellings. */
  ok (&o, "--user=bob", "--fingerprint", FP, "--password-file=/tmp/pw",
      "--connect-timeout", "2.5", "--server=[::1]:12345", NULL);
  g_assert_cmpstr (o.user, ==, "bob");
  g_assert_cmpstr (o.fingerprint, ==, FP);
  g_assert_cmpstr (o.password_file, ==, "/tmp/pw");
  g_assert_cmpint (o.connect_timeout_ms, ==, 2500);
  g_assert_cmpstr (o.host, ==, "::1");
  g_assert_cmpstr (o.key, ==, "[::1]:12345");
}

static void
test_send (void)
{
  struct cli_options o;

  ok (&o, "--server", "h:1", "--user", "alice", "send", "bob", "hello there",
      NULL);
  g_assert_cmpint (o.mode, ==, CLI_MODE_SEND);
  g_assert_cmpstr (o.to, ==, "bob");
  g_assert_cmpstr (o.text, ==, "hello there");
  g_assert_cmpuint (o.text_len, ==, 11);

  /* TEXT may look like an option, or be empty. */
  ok (&o, "--server", "h:1", "--user", "alice", "send", "bob", "--help", NULL);
  g_assert_false (o.help);
  g_assert_cmpstr (o.text, ==, "--help");
  ok (&o, "--server", "h:1", "--user", "alice", "send", "bob", "", NULL);
  g_assert_cmpuint (o.text_len, ==, 0);

  bad ("TO TEXT", "--server", "h:1", "--user", "a", "send", "bob", NULL);
  bad ("TO TEXT", "--server", "h:1", "--user", "a", "send", "bob", "x", "y",
       NULL);
  bad ("invalid recipient", "--server", "h:1", "--user", "a", "send", "Bob",
       "x", NULL);
  {
    char *big = g_malloc (SC_E2E_CONTENT_MAX + 2);

    memset (big, 'x', SC_E2E_CONTENT_MAX + 1);
    big[SC_E2E_CONTENT_MAX + 1] = '\0';
    bad ("too long", "--server", "h:1", "--user", "a", "send", "bob", big,
         NULL);
    big[SC_E2E_CONTENT_MAX] = '\0';
    ok (&o, "--server", "h:1", "--user", "a", "send", "bob", big, NULL);
    g_assert_cmpuint (o.text_len, ==, SC_E2E_CONTENT_MAX);
    g_free (big);
  }
}

static void
test_recv (void)
{
  struct cli_options o;

  ok (&o, "--server", "h:1", "--user", "a", "recv", NULL);
  g_assert_cmpint (o.mode, ==, CLI_MODE_RECV);
  g_assert_cmpuint (o.count, ==, 0);
  g_assert_cmpint (o.timeout_ms, ==, 0);

  ok (&o, "--server", "h:1", "--user", "a", "recv", "--timeout", "30",
      "--count=3", NULL);
  g_assert_cmpuint (o.count, ==, 3);
  g_assert_cmpint (o.timeout_ms, ==, 30000);
  ok (&o, "--server", "h:1", "--user", "a", "recv", "--timeout=0.25", NULL);
  g_assert_cmpint (o.timeout_ms, ==, 250);

  bad ("--count", "--server", "h:1", "--user", "a", "recv", "--count", "0",
       NULL);
  bad ("--count", "--server", "h:1", "--user", "a", "recv", "--count", "-1",
       NULL);
  bad ("--count", "--server", "h:1", "--user", "a", "recv", "--count", "2x",
       NULL);
  bad ("--count", "--server", "h:1", "--user", "a", "recv", "--count", NULL);
  bad ("twice", "--server", "h:1", "--user", "a", "recv", "--count", "1",
       "--count", "2", NULL);
  bad ("--timeout", "--server", "h:1", "--user", "a", "recv", "--timeout", "0",
       NULL);
  bad ("--timeout", "--server", "h:1", "--user", "a", "recv", "--timeout",
       "1.2345", NULL);
  bad ("--timeout", "--server", "h:1", "--user", "a", "recv", "--timeout",
       "inf", NULL);
  bad ("--timeout", "--server", "h:1", "--user", "a", "recv", "--timeout",
       "1e3", NULL);
  bad ("unknown argument", "--server", "h:1", "--user", "a", "recv", "--server",
       "h:2", NULL);
  bad ("option --count needs a value", "--server", "h:1", "--user", "a", "recv",
       "--count", NULL);
  bad ("option --timeout needs a value", "--server", "h:1", "--user", "a",
       "recv", "--count", "1", "--timeout", NULL);
  bad ("option --timeout given twice", "--server", "h:1", "--user", "a", "recv",
       "--timeout", "1", "--timeout=2", NULL);
}

static void
test_errors (void)
{
  bad ("--server", "--user", "a", NULL);
  bad ("--user", "--server", "h:1", NULL);
  bad ("unknown option '--bogus'", "--bogus", NULL);
  bad ("unknown option '-x'", "-x", NULL);
  bad ("unknown command 'frob'", "--server", "h:1", "--user", "a", "frob",
       NULL);
  bad ("needs a value", "--server", NULL);
  bad ("given twice", "--user", "a", "--user", "b", "--server", "h:1", NULL);
  bad ("invalid user name", "--server", "h:1", "--user", "Alice", NULL);
  bad ("invalid user name", "--server", "h:1", "--user", "", NULL);
  bad ("--fingerprint", "--server", "h:1", "--user", "a", "--fingerprint",
       "SHA256:nope", NULL);
  bad ("--fingerprint", "--server", "h:1", "--user", "a", "--fingerprint",
       FP "A", NULL);
  bad ("--connect-timeout", "--server", "h:1", "--user", "a",
       "--connect-timeout", "soon", NULL);
  bad ("port", "--server", "h:0", "--user", "a", NULL);
  /* Options of the program do not follow the command. */
  bad ("unknown argument", "--server", "h:1", "--user", "a", "recv", "--user",
       "b", NULL);
  bad ("unknown option", "--server", "h:1", "--user", "a", "--verbose", NULL);
}

static void
test_help_version (void)
{
  struct cli_options o;

  ok (&o, "--help", NULL);
  g_assert_true (o.help);
  ok (&o, "--server", "h:1", "-h", "--bogus", NULL);
  g_assert_true (o.help);
  ok (&o, "--version", NULL);
  g_assert_true (o.version);
  g_assert_false (o.help);
}

static void
test_server (void)
{
  static const struct
  {
    const char *in;
    const char *host;
    const char *port;
    const char *key;
  } good[] = {
    { "localhost:12345", "localhost", "12345", "localhost:12345" },
    { "Chat.Example.ORG:80", "Chat.Example.ORG", "80", "chat.example.org:80" },
    { "10.1.2.3:1", "10.1.2.3", "1", "10.1.2.3:1" },
    { "host", "host", "12345", "host:12345" },
    { "host:0080", "host", "80", "host:80" },
    { "[::1]:65535", "::1", "65535", "[::1]:65535" },
    { "[FE80::1%eth0]:7", "FE80::1%eth0", "7", "[fe80::1%eth0]:7" },
    { "[::1]", "::1", "12345", "[::1]:12345" },
  };
  static const char *const invalid[] = {
    "",         ":1",     "host:", "host:0", "host:65536", "host:123456",
    "host:1a",  "::1:80", "[::1",  "[::1]x", "[]:1",       "ho st:1",
    "host/x:1", "h\n:1",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      char host[NET_HOST_MAX + 1];
      char port[NET_PORT_MAX + 1];
      char key[NET_KEY_MAX + 1];
      char err[128];

      g_test_message ("good: %s", good[i].in);
      g_assert_cmpint (
          net_parse_server (good[i].in, host, port, key, err, sizeof err), ==,
          0);
      g_assert_cmpstr (host, ==, good[i].host);
      g_assert_cmpstr (port, ==, good[i].port);
      g_assert_cmpstr (key, ==, good[i].key);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      char host[NET_HOST_MAX + 1];
      char port[NET_PORT_MAX + 1];
      char key[NET_KEY_MAX + 1];
      char err[128] = "";

      g_test_message ("invalid: %s", invalid[i]);
      g_assert_cmpint (
          net_parse_server (invalid[i], host, port, key, err, sizeof err), ==,
          -1);
      g_assert_cmpstr (err, !=, "");
      g_assert_cmpstr (key, ==, "");
    }
  {
    char *longname = g_strnfill (NET_HOST_MAX + 1, 'a');
    char host[NET_HOST_MAX + 1];
    char port[NET_PORT_MAX + 1];
    char key[NET_KEY_MAX + 1];
    char err[128];

    g_assert_cmpint (
        net_parse_server (longname, host, port, key, err, sizeof err), ==, -1);
    longname[NET_HOST_MAX] = '\0';
    g_assert_cmpint (
        net_parse_server (longname, host, port, key, err, sizeof err), ==, 0);
    g_free (longname);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cli/args/interactive", test_interactive);
  g_test_add_func ("/cli/args/send", test_send);
  g_test_add_func ("/cli/args/recv", test_recv);
  g_test_add_func ("/cli/args/errors", test_errors);
  g_test_add_func ("/cli/args/help-version", test_help_version);
  g_test_add_func ("/cli/args/server", test_server);

  return g_test_run ();
}
