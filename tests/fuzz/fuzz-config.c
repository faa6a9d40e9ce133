/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechatd.conf (server/config.c): config_parse, the parser config_load
 * runs over the file, and the HOST:PORT parser of "listen".
 *
 * A file that loads gives settings within every key's range; a file that
 * does not leaves the settings as they were and explains itself in one
 * line that names the file and carries no control character (it goes to
 * the terminal and the log as is). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define NAME "fuzz.conf"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  return 0;
}

static void
check_message (const char *err)
{
  FUZZ_CHECK (strncmp (err, NAME ":", strlen (NAME ":")) == 0);
  for (const char *p = err; *p != '\0'; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      fuzz_fail ("control character 0x%02x in the message \"%s\"",
                 (unsigned char) *p, err);
}

static void
check_hostport (const uint8_t *data, size_t size)
{
  char s[300], host[256];
  uint16_t port = 0;

  if (size >= sizeof s || memchr (data, '\0', size) != NULL)
    return;
  memcpy (s, data, size);
  s[size] = '\0';
  if (config_parse_hostport (s, host, sizeof host, &port) == 0)
    {
      FUZZ_CHECK (strlen (host) > 0 && strlen (host) < size);
      FUZZ_CHECK (strstr (s, host) != NULL);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct config cfg, before;
  char err[512];
  int rc;

  config_defaults (&cfg);
  cfg.idle_timeout = 77;
  before = cfg;
  err[0] = '\0';
  rc = config_parse (NAME, (const char *) data, size, &cfg, err, sizeof err);
  if (rc == 0)
    {
      char host[256];
      uint16_t port;

      FUZZ_CHECK (err[0] == '\0');
      FUZZ_CHECK (memchr (cfg.listen, '\0', sizeof cfg.listen) != NULL);
      FUZZ_CHECK (
          config_parse_hostport (cfg.listen, host, sizeof host, &port) == 0);
      FUZZ_CHECK (cfg.max_frame >= 64 && cfg.max_frame <= 65535);
      FUZZ_CHECK (cfg.handshake_timeout >= 1 && cfg.handshake_timeout <= 3600);
      FUZZ_CHECK (cfg.idle_timeout >= 1 && cfg.idle_timeout <= 86400);
      FUZZ_CHECK (cfg.output_buffer_max >= 1024);
      FUZZ_CHECK (cfg.hash_workers >= 1 && cfg.hash_workers <= 64);
      FUZZ_CHECK (cfg.auth_backoff_ms >= 1);
      if (config_validate (&cfg, err, sizeof err) != 0)
        FUZZ_CHECK (err[0] != '\0');
    }
  else
    {
      FUZZ_CHECK (rc == -1);
      check_message (err);
      FUZZ_CHECK (memcmp (&cfg, &before, sizeof cfg) == 0);
    }
  check_hostport (data, size);
  return 0;
}

/* ---- seeds ---- */

static void
emit_text (const char *name, const char *text)
{
  fuzz_emit (name, text, strlen (text));
}

void
fuzz_generate (void)
{
  char *big;

  emit_text ("every-key", "# a full configuration\n"
                          "\n"
                          "listen = [::1]:4000\n"
                          "max_frame = 4096\n"
                          "handshake_timeout=5\n"
                          "idle_timeout = 60   # a comment after a value\n"
                          "\toutput_buffer_max = 65536\r\n"
                          "max_connections = 10\n"
                          "max_pending = 5\n"
                          "max_pending_per_ip = 2\n"
                          "hash_workers = 4\n"
                          "hash_queue_max = 100\n"
                          "auth_fail_limit = 3\n"
                          "auth_backoff_ms = 10\n"
                          "auth_backoff_max_ms = 20");
  emit_text ("listen-zone", "listen = [fe80::1%eth0]:5\n");
  emit_text ("listen-name", "listen = chat.example.org:12345\n");
  emit_text ("bounds", "max_frame = 64\nidle_timeout = 86400\n"
                       "max_connections = 1000000\n");
  emit_text ("invalid-combination",
             "auth_backoff_ms = 2000\nauth_backoff_max_ms = 1000\n"
             "max_frame = 65535\noutput_buffer_max = 1024\n");
  emit_text ("bad-unknown-key", "max_frames = 100\n");
  emit_text ("bad-escaped-key", "\xff\x1b[31m = 1\n");
  emit_text ("bad-number", "idle_timeout = 0x10\n");
  emit_text ("bad-overflow", "max_connections = 99999999999999999999999\n");
  emit_text ("bad-range", "hash_workers = 65\n");
  emit_text ("bad-duplicate", "listen = a:1\n# x\nlisten = a:1\n");
  emit_text ("bad-no-equals", "idle_timeout 10\n");
  emit_text ("bad-no-key", " = 10\n");
  emit_text ("bad-no-value", "idle_timeout = # later\n");
  emit_text ("bad-listen", "listen = ::1:80\n");
  {
    static const char nul[] = "idle_timeout = 10\nmax_frame = 1\0000\n";

    fuzz_emit ("bad-nul", nul, sizeof nul - 1);
  }
  emit_text ("hostport-v6", "[::ffff:10.0.0.1]:22");

  big = malloc (3000);
  if (big == NULL)
    fuzz_fail ("out of memory");
  memset (big, 'x', 2999);
  memcpy (big, "idle_timeout = 10\n# ", 20);
  big[2999] = '\0';
  emit_text ("bad-long-line", big);
  free (big);
}
