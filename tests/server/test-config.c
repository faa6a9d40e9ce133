/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/config.c: defaults, every key, and every kind of error with its
 * FILE:LINE. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *tmpdir;

/* Writes contents to a new file in tmpdir and returns its path. */
static char *
write_conf (const char *contents, size_t len)
{
  static unsigned counter;
  char *path = g_strdup_printf ("%s/c%u.conf", tmpdir, counter++);

  g_assert_true (g_file_set_contents (path, contents, (gssize) len, NULL));
  return path;
}

/* config_parse over the same bytes must do exactly what config_load did
 * with the file: the same result, message and settings. */
static void
assert_parse_agrees (const char *path,
                     const char *contents,
                     size_t len,
                     const struct config *before,
                     int rc_load,
                     const char *err_load,
                     const struct config *after)
{
  struct config cfg = *before;
  char err[512];

  memset (err, 0, sizeof err);
  g_assert_cmpint (config_parse (path, contents, len, &cfg, err, sizeof err),
                   ==, rc_load);
  g_assert_cmpstr (err, ==, err_load);
  g_assert_true (memcmp (&cfg, after, sizeof cfg) == 0);
}

/* Loads contents; on failure returns the error text (else NULL). */
static char *
load_text (const char *contents, struct config *cfg, char **path_out)
{
  char err[512];
  char *path = write_conf (contents, strlen (contents));
  struct config before = *cfg;
  int rc;

  memset (err, 0, sizeof err);
  rc = config_load (path, 0, cfg, err, sizeof err);
  assert_parse_agrees (path, contents, strlen (contents), &before, rc, err,
                       cfg);
  if (path_out != NULL)
    *path_out = path;
  else
    g_free (path);
  if (rc == 0)
    {
      g_assert_cmpstr (err, ==, "");
      return NULL;
    }
  g_assert_cmpint (rc, ==, -1);
  g_assert_cmpstr (err, !=, "");
  return g_strdup (err);
}

static void
test_defaults (void)
{
  struct config cfg;

  memset (&cfg, 0xa5, sizeof cfg);
  config_defaults (&cfg);
  g_assert_cmpstr (cfg.listen, ==, "127.0.0.1:12345");
  g_assert_cmpstr (cfg.listen, ==, CONFIG_DEFAULT_LISTEN);
  g_assert_cmpuint (cfg.max_frame, ==, 65535);
  g_assert_cmpuint (cfg.handshake_timeout, ==, 10);
  g_assert_cmpuint (cfg.idle_timeout, ==, 90);
  g_assert_cmpuint (cfg.output_buffer_max, ==, 1048576);
  g_assert_cmpuint (cfg.max_connections, ==, 1024);
  g_assert_cmpuint (cfg.max_pending, ==, 256);
  g_assert_cmpuint (cfg.max_pending_per_ip, ==, 32);
  g_assert_cmpuint (cfg.hash_workers, ==, 2);
  g_assert_cmpuint (cfg.hash_queue_max, ==, 64);
  g_assert_cmpuint (cfg.auth_fail_limit, ==, 5);
  g_assert_cmpuint (cfg.auth_backoff_ms, ==, 1000);
  g_assert_cmpuint (cfg.auth_backoff_max_ms, ==, 900000);
  g_assert_cmpuint (cfg.message_rate, ==, 200);
  g_assert_cmpuint (cfg.message_burst, ==, 400);
  g_assert_cmpint (config_validate (&cfg, NULL, 0), ==, 0);
}

static void
test_every_key (void)
{
  static const char text[] =
      "# a full configuration\n"
      "\n"
      "listen = [::1]:4000\n"
      "max_frame = 4096\n"
      "handshake_timeout=5\n"
      "\tidle_timeout\t=\t120\t\n"
      "output_buffer_max = 65536   # inline comment\n"
      "max_connections = 100\r\n"
      "max_pending = 50\n"
      "max_pending_per_ip = 4\n"
      "   # indented comment\n"
      "hash_workers = 3\n"
      "hash_queue_max = 10\n"
      "auth_fail_limit = 3\n"
      "auth_backoff_ms = 250\n"
      "message_rate = 5\n"
      "message_burst = 1000000\n"
      "auth_backoff_max_ms = 60000"; /* no final newline */
  struct config cfg;
  char *err;

  config_defaults (&cfg);
  err = load_text (text, &cfg, NULL);
  g_assert_null (err);
  g_assert_cmpstr (cfg.listen, ==, "[::1]:4000");
  g_assert_cmpuint (cfg.max_frame, ==, 4096);
  g_assert_cmpuint (cfg.handshake_timeout, ==, 5);
  g_assert_cmpuint (cfg.idle_timeout, ==, 120);
  g_assert_cmpuint (cfg.output_buffer_max, ==, 65536);
  g_assert_cmpuint (cfg.max_connections, ==, 100);
  g_assert_cmpuint (cfg.max_pending, ==, 50);
  g_assert_cmpuint (cfg.max_pending_per_ip, ==, 4);
  g_assert_cmpuint (cfg.hash_workers, ==, 3);
  g_assert_cmpuint (cfg.hash_queue_max, ==, 10);
  g_assert_cmpuint (cfg.auth_fail_limit, ==, 3);
  g_assert_cmpuint (cfg.auth_backoff_ms, ==, 250);
  g_assert_cmpuint (cfg.auth_backoff_max_ms, ==, 60000);
  g_assert_cmpuint (cfg.message_rate, ==, 5);
  g_assert_cmpuint (cfg.message_burst, ==, 1000000);
  g_assert_cmpint (config_validate (&cfg, NULL, 0), ==, 0);
}

static void
test_partial_keeps_others (void)
{
  struct config cfg, def;

  config_defaults (&cfg);
  config_defaults (&def);
  g_assert_null (load_text ("idle_timeout = 30\n", &cfg, NULL));
  g_assert_cmpuint (cfg.idle_timeout, ==, 30);
  def.idle_timeout = 30;
  g_assert_true (memcmp (&cfg, &def, sizeof cfg) == 0);

  /* Empty and comment-only files change nothing. */
  config_defaults (&def);
  config_defaults (&cfg);
  g_assert_null (load_text ("", &cfg, NULL));
  g_assert_null (load_text ("# nothing\n\n   \n", &cfg, NULL));
  g_assert_true (memcmp (&cfg, &def, sizeof cfg) == 0);
}

static void
test_bounds_accepted (void)
{
  struct config cfg;

  config_defaults (&cfg);
  g_assert_null (load_text ("max_frame = 64\n", &cfg, NULL));
  g_assert_cmpuint (cfg.max_frame, ==, 64);
  g_assert_null (load_text ("max_frame = 65535\n", &cfg, NULL));
  g_assert_cmpuint (cfg.max_frame, ==, 65535);
  /* Leading zeros are still a decimal number. */
  g_assert_null (load_text ("idle_timeout = 0090\n", &cfg, NULL));
  g_assert_cmpuint (cfg.idle_timeout, ==, 90);
}

static const struct
{
  const char *name;
  const char *text;
  unsigned line;
  const char *needle;
} errors[] = {
  { "unknown-key", "max_frame = 100\nmax_frames = 100\n", 2,
    "unknown key \"max_frames\"" },
  { "unknown-key-escaped", "\xff\x1b = 1\n", 1, "unknown key \"\\xff\\x1b\"" },
  { "not-a-number", "idle_timeout = ten\n", 1, "not a number" },
  { "trailing-garbage", "idle_timeout = 10s\n", 1, "not a number" },
  { "negative", "idle_timeout = -1\n", 1, "not a number" },
  { "plus-sign", "idle_timeout = +5\n", 1, "not a number" },
  { "hex", "idle_timeout = 0x10\n", 1, "not a number" },
  { "fraction", "idle_timeout = 1.5\n", 1, "not a number" },
  { "inner-space", "idle_timeout = 1 0\n", 1, "not a number" },
  { "below-range", "\n\nmax_frame = 63\n", 3, "out of range (64..65535)" },
  { "above-range", "max_frame = 65536\n", 1, "out of range (64..65535)" },
  { "zero", "hash_workers = 0\n", 1, "out of range (1..64)" },
  { "rate-zero", "message_rate = 0\n", 1, "out of range (1..1000000)" },
  { "rate-above", "message_rate = 1000001\n", 1,
    "message_rate: 1000001 is out of range (1..1000000)" },
  { "burst-zero", "message_burst = 0\n", 1,
    "message_burst: 0 is out of range (1..1000000)" },
  { "burst-above", "message_burst = 2000000\n", 1, "out of range" },
  { "overflow-u32", "max_connections = 4294967296\n", 1, "too large" },
  { "overflow-u64", "max_connections = 99999999999999999999999\n", 1,
    "too large" },
  { "duplicate", "idle_timeout = 10\n# x\nidle_timeout = 10\n", 3,
    "duplicate key \"idle_timeout\"" },
  { "duplicate-listen", "listen = a:1\nlisten = a:1\n", 2,
    "duplicate key \"listen\"" },
  { "no-equals", "idle_timeout 10\n", 1, "expected \"key = value\"" },
  { "no-key", " = 10\n", 1, "missing key" },
  { "no-value", "idle_timeout =\n", 1, "missing value" },
  { "no-value-comment", "idle_timeout = # later\n", 1, "missing value" },
  { "bad-listen", "listen = 127.0.0.1\n", 1, "listen: \"127.0.0.1\"" },
  { "bad-listen-port", "listen = 127.0.0.1:70000\n", 1, "HOST:PORT" },
  { "bad-listen-v6", "listen = ::1:80\n", 1, "HOST:PORT" },
};

static void
test_error (gconstpointer data)
{
  size_t i = GPOINTER_TO_SIZE (data);
  struct config cfg, before;
  char *path = NULL, *err, *prefix;

  config_defaults (&cfg);
  cfg.idle_timeout = 77;
  before = cfg;
  err = load_text (errors[i].text, &cfg, &path);
  g_assert_nonnull (err);
  prefix = g_strdup_printf ("%s:%u: ", path, errors[i].line);
  if (!g_str_has_prefix (err, prefix) || strstr (err, errors[i].needle) == NULL)
    g_error ("%s: got \"%s\", want prefix \"%s\" and \"%s\"", errors[i].name,
             err, prefix, errors[i].needle);
  /* A failed load changes nothing. */
  g_assert_true (memcmp (&cfg, &before, sizeof cfg) == 0);
  g_free (prefix);
  g_free (err);
  g_free (path);
}

static void
test_long_line (void)
{
  struct config cfg;
  GString *s = g_string_new ("idle_timeout = 10\n# ");
  char *err, *path = NULL, *prefix;

  while (s->len < 3000)
    g_string_append_c (s, 'x');
  g_string_append (s, "\nmax_frame = 100\n");
  config_defaults (&cfg);
  err = load_text (s->str, &cfg, &path);
  prefix = g_strdup_printf ("%s:2: line longer than 1024 bytes", path);
  g_assert_cmpstr (err, ==, prefix);
  g_assert_cmpuint (cfg.idle_timeout, ==, 90);

  /* 1024 bytes is still fine. */
  g_string_assign (s, "#");
  while (s->len < 1024)
    g_string_append_c (s, 'y');
  g_string_append (s, "\nidle_timeout = 11\n");
  g_assert_null (load_text (s->str, &cfg, NULL));
  g_assert_cmpuint (cfg.idle_timeout, ==, 11);

  g_string_free (s, TRUE);
  g_free (prefix);
  g_free (path);
  g_free (err);
}

static void
test_nul_byte (void)
{
  static const char text[] = "idle_timeout = 10\nmax_frame = 1\0000\n";
  struct config cfg;
  char err[256];
  char *path = write_conf (text, sizeof text - 1);
  char *want = g_strdup_printf ("%s:2: NUL byte in line", path);

  struct config def;

  config_defaults (&cfg);
  config_defaults (&def);
  g_assert_cmpint (config_load (path, 0, &cfg, err, sizeof err), ==, -1);
  g_assert_cmpstr (err, ==, want);
  assert_parse_agrees (path, text, sizeof text - 1, &def, -1, want, &def);
  g_free (want);
  g_free (path);
}

/* The in-memory parser: empty text is an empty file, the name is only for
 * messages, and a text without a final newline still ends its last line. */
static void
test_parse_memory (void)
{
  struct config cfg, def;
  char err[256] = "";

  config_defaults (&cfg);
  config_defaults (&def);
  g_assert_cmpint (config_parse ("x.conf", NULL, 0, &cfg, err, sizeof err), ==,
                   0);
  g_assert_cmpint (config_parse ("x.conf", "", 0, &cfg, err, sizeof err), ==,
                   0);
  g_assert_true (memcmp (&cfg, &def, sizeof cfg) == 0);
  g_assert_cmpint (
      config_parse ("x.conf", "idle_timeout = 12", 17, &cfg, err, sizeof err),
      ==, 0);
  g_assert_cmpuint (cfg.idle_timeout, ==, 12);
  /* len, not a NUL, ends the text. */
  g_assert_cmpint (config_parse ("x.conf", "idle_timeout = 13 junk", 17, &cfg,
                                 err, sizeof err),
                   ==, 0);
  g_assert_cmpuint (cfg.idle_timeout, ==, 13);
  g_assert_cmpint (
      config_parse ("x.conf", "idle_timeout = 0", 16, &cfg, err, sizeof err),
      ==, -1);
  g_assert_cmpstr (err, ==,
                   "x.conf:1: idle_timeout: 0 is out of range (1..86400)");
  g_assert_cmpuint (cfg.idle_timeout, ==, 13);
  g_assert_cmpint (config_parse (NULL, "", 0, &cfg, err, sizeof err), ==, -1);
  g_assert_cmpint (config_parse ("x", NULL, 1, &cfg, err, sizeof err), ==, -1);
}

static void
test_missing_file (void)
{
  struct config cfg, def;
  char err[512];
  char *path = g_strdup_printf ("%s/does-not-exist.conf", tmpdir);

  config_defaults (&cfg);
  config_defaults (&def);
  g_assert_cmpint (config_load (path, 1, &cfg, err, sizeof err), ==, 0);
  g_assert_true (memcmp (&cfg, &def, sizeof cfg) == 0);
  g_assert_cmpint (config_load (path, 0, &cfg, err, sizeof err), ==, -1);
  g_assert_true (g_str_has_prefix (err, path));
  g_assert_nonnull (strstr (err, "No such file"));

  /* A folder is not a config file, optional or not. */
  g_assert_cmpint (config_load (tmpdir, 1, &cfg, err, sizeof err), ==, -1);
  g_assert_true (g_str_has_prefix (err, tmpdir));
  g_free (path);
}

static void
test_set (void)
{
  struct config cfg;
  char err[256];

  config_defaults (&cfg);
  g_assert_cmpint (config_set (&cfg, "listen", "0.0.0.0:1", err, sizeof err),
                   ==, 0);
  g_assert_cmpstr (cfg.listen, ==, "0.0.0.0:1");
  g_assert_cmpint (config_set (&cfg, "hash_workers", "64", err, sizeof err), ==,
                   0);
  g_assert_cmpuint (cfg.hash_workers, ==, 64);
  g_assert_cmpint (config_set (&cfg, "hash_workers", "65", err, sizeof err), ==,
                   -1);
  g_assert_cmpstr (err, ==, "hash_workers: 65 is out of range (1..64)");
  g_assert_cmpuint (cfg.hash_workers, ==, 64);
  g_assert_cmpint (config_set (&cfg, "nope", "1", err, sizeof err), ==, -1);
  g_assert_cmpstr (err, ==, "unknown key \"nope\"");
  g_assert_cmpint (config_set (&cfg, "max_frame", "", err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "not a number"));
  /* A tiny error buffer is still terminated. */
  g_assert_cmpint (config_set (&cfg, "nope", "1", err, 5), ==, -1);
  g_assert_cmpstr (err, ==, "unkn");
}

static void
test_validate (void)
{
  struct config cfg;
  char err[256];

  config_defaults (&cfg);
  cfg.auth_backoff_ms = 2000;
  cfg.auth_backoff_max_ms = 1000;
  g_assert_cmpint (config_validate (&cfg, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "auth_backoff_ms (2000)"));

  config_defaults (&cfg);
  cfg.output_buffer_max = 65536;
  g_assert_cmpint (config_validate (&cfg, err, sizeof err), ==, -1);
  g_assert_nonnull (strstr (err, "output_buffer_max (65536)"));
  cfg.max_frame = 65534;
  g_assert_cmpint (config_validate (&cfg, err, sizeof err), ==, 0);
}

static const struct
{
  const char *in;
  const char *host;
  unsigned port;
} hostport_good[] = {
  { "127.0.0.1:12345", "127.0.0.1", 12345 },
  { "0.0.0.0:0", "0.0.0.0", 0 },
  { "localhost:65535", "localhost", 65535 },
  { "chat.example.org:1", "chat.example.org", 1 },
  { "[::1]:80", "::1", 80 },
  { "[::]:12345", "::", 12345 },
  { "[fe80::1%eth0]:5", "fe80::1%eth0", 5 },
  { "[::ffff:10.0.0.1]:22", "::ffff:10.0.0.1", 22 },
};

static const char *const hostport_bad[] = {
  "",           "host",
  "host:",      ":80",
  "host:65536", "host:99999999999999999999",
  "host:-1",    "host:+1",
  "host:1a",    "host:000080",
  "ho st:80",   "host\n:80",
  "::1:80",     "[::1]80",
  "[::1]:",     "[]:80",
  "[::1",       "[1.2.3.4]:80",
  "[::1%]:80",  "[::g]:80",
};

static void
test_hostport (void)
{
  char host[64];
  uint16_t port;
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (hostport_good); i++)
    {
      port = 7;
      if (config_parse_hostport (hostport_good[i].in, host, sizeof host,
                                 &port) != 0)
        g_error ("rejected \"%s\"", hostport_good[i].in);
      g_assert_cmpstr (host, ==, hostport_good[i].host);
      g_assert_cmpuint (port, ==, hostport_good[i].port);
    }
  for (i = 0; i < G_N_ELEMENTS (hostport_bad); i++)
    if (config_parse_hostport (hostport_bad[i], host, sizeof host, &port) == 0)
      g_error ("accepted \"%s\"", hostport_bad[i]);

  /* host_cap counts the NUL. */
  g_assert_cmpint (config_parse_hostport ("abcd:1", host, 5, &port), ==, 0);
  g_assert_cmpstr (host, ==, "abcd");
  g_assert_cmpint (config_parse_hostport ("abcde:1", host, 5, &port), ==, -1);
  g_assert_cmpint (config_parse_hostport (NULL, host, 5, &port), ==, -1);
}

/* data/securechatd.conf.example documents every key with its default: with
 * its comments removed it must load, and give exactly the defaults. */
static void
test_example_file (void)
{
  g_autofree char *here = g_path_get_dirname (__FILE__);
  g_autofree char *path = g_build_filename (here, "..", "..", "data",
                                            "securechatd.conf.example", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GString *uncommented = g_string_new ("");
  struct config cfg, def;
  char err[512];
  size_t i, n_keys = 0;
  char *out;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    g_error ("cannot read %s (cwd must be the build folder)", path);
  config_defaults (&cfg);
  config_defaults (&def);
  g_assert_cmpint (config_load (path, 0, &cfg, err, sizeof err), ==, 0);
  g_assert_true (memcmp (&cfg, &def, sizeof cfg) == 0);

  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    if (lines[i][0] == '#' && lines[i][1] != ' ' && lines[i][1] != '\0' &&
        strchr (lines[i], '=') != NULL)
      {
        g_string_append_printf (uncommented, "%s\n", lines[i] + 1);
        n_keys++;
      }
  g_assert_cmpuint (n_keys, ==, 15);
  out = load_text (uncommented->str, &cfg, NULL);
  g_assert_null (out);
  g_assert_true (memcmp (&cfg, &def, sizeof cfg) == 0);
  g_string_free (uncommented, TRUE);
}

int
main (int argc, char **argv)
{
  size_t i;
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("test-config-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);

  g_test_add_func ("/server/config/defaults", test_defaults);
  g_test_add_func ("/server/config/load/every-key", test_every_key);
  g_test_add_func ("/server/config/load/partial", test_partial_keeps_others);
  g_test_add_func ("/server/config/load/bounds", test_bounds_accepted);
  for (i = 0; i < G_N_ELEMENTS (errors); i++)
    {
      char *name = g_strdup_printf ("/server/config/error/%s", errors[i].name);
      g_test_add_data_func (name, GSIZE_TO_POINTER (i), test_error);
      g_free (name);
    }
  g_test_add_func ("/server/config/error/long-line", test_long_line);
  g_test_add_func ("/server/config/error/nul-byte", test_nul_byte);
  g_test_add_func ("/server/config/load/missing-file", test_missing_file);
  g_test_add_func ("/server/config/parse/memory", test_parse_memory);
  g_test_add_func ("/server/config/set", test_set);
  g_test_add_func ("/server/config/validate", test_validate);
  g_test_add_func ("/server/config/hostport", test_hostport);
  g_test_add_func ("/server/config/example-file", test_example_file);
  rc = g_test_run ();

  {
    GDir *d = g_dir_open (tmpdir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      {
        char *p = g_build_filename (tmpdir, name, NULL);
        g_unlink (p);
        g_free (p);
      }
    if (d != NULL)
      g_dir_close (d);
    g_rmdir (tmpdir);
    g_free (tmpdir);
  }
  return rc;
}
