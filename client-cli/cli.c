/* SPDX-License-Identifier: GPL-3.0-or-later */
/* securechat-cli. One connection at a time: a non-blocking socket, a
 * poll() loop over it (and standard input in interactive mode), and the
 * sans-I/O session of common/client.c, which gets the bytes, the time and
 * says what to write. Messages are end-to-end encrypted through the
 * common/e2e.c manager, whose keys and sessions live in a key store under
 * $XDG_DATA_HOME/securechat/HOST_PORT/USER/. Everything the network says
 * is escaped before it reaches the terminal. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "account-dir.h"
#include "known-servers.h"
#include "lines.h"
#include "prompt.h"
#include "securechat/client.h"
#include "securechat/crypto.h"
#include "securechat/e2e.h"
#include "securechat/error.h"
#include "securechat/init.h"
#include "securechat/keystore.h"
#include "securechat/msg.h"
#include "text.h"

#define PROG  "securechat-cli"
#define AGENT PROG "/" SC_VERSION
/* "/msg NAME TEXT" with the longest name and body. */
#define INPUT_LINE_MAX (5 + SC_USERNAME_MAX + 1 + SC_BODY_MAX)
/* Longest text of one message (end-to-end content). */
#define TEXT_MAX SC_E2E_CONTENT_MAX
/* How long a bye may take to leave, and how long we then wait for the
 * server to close. */
#define QUIT_GRACE_MS    2000
#define CLOSE_WAIT_MS    500
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   30000
#define SECONDS_MAX      1000000 /* for --timeout and --connect-timeout */
#define COUNT_MAX        1000000000
#define SEND_RETRIES     10
#define SEND_RETRY_MS    200

/* ---- command line ---- */

void
cli_usage (FILE *out)
{
  fputs ("Usage:\n"
         "  " PROG " OPTIONS                  chat interactively\n"
         "  " PROG " OPTIONS send TO TEXT     send one message, then exit\n"
         "  " PROG " OPTIONS recv [--count N] [--timeout SECONDS]\n"
         "                                         print incoming messages\n"
         "  " PROG " OPTIONS verify NAME [confirm]\n"
         "                                         show the safety number with "
         "NAME\n"
         "  " PROG " OPTIONS accept NAME      trust NAME's new identity key\n"
         "\n"
         "Options (before the command, in any order; --opt VALUE or "
         "--opt=VALUE):\n"
         "  --server HOST:PORT         the server (required); [ADDRESS]:PORT "
         "for IPv6;\n"
         "                             the port defaults to 12345\n"
         "  --user NAME                log in as NAME (required)\n"
         "  --password-file FILE       read the password from the first line "
         "of FILE\n"
         "  --fingerprint SHA256:...   accept only this server key; the "
         "known-servers\n"
         "                             file is then neither read nor written\n"
         "  --connect-timeout SECONDS  time to connect, and again to complete "
         "the\n"
         "                             handshake and login (default 10)\n"
         "  -h, --help                 show this help and exit\n"
         "  --version                  print \"" PROG " VERSION\" and exit\n"
         "\n"
         "Password: read from --password-file if given (its first line); "
         "otherwise,\n"
         "when standard input is not a terminal, from the first line of "
         "standard\n"
         "input; otherwise it is asked for on the terminal without echo. A "
         "trailing\n"
         "newline (\\n or \\r\\n) is not part of it.\n"
         "\n"
         "Server keys: unless --fingerprint is given, the key of each "
         "HOST:PORT is\n"
         "pinned in $XDG_CONFIG_HOME/securechat/known_servers (by default\n"
         "~/.config/securechat/known_servers; lines \"HOST:PORT SHA256:...\"). "
         "On first\n"
         "contact the key is trusted and saved, and stderr says \"Trusting new "
         "server\n"
         "HOST:PORT with key SHA256:... (first use)\". A server whose key "
         "differs from\n"
         "the pinned one is refused before the password is sent (exit "
         "status 5).\n"
         "\n",
         out);
  fputs ("End-to-end encryption: messages are encrypted for their recipient "
         "only; the\n"
         "server sees who talks to whom, when, and how much, never the text. "
         "Your\n"
         "identity key, prekeys, sessions and your contacts' identity keys "
         "are kept in\n"
         "$XDG_DATA_HOME/securechat/HOST_PORT/USER/ (by default under\n"
         "~/.local/share; folders 0700, files 0600). The first run creates "
         "your identity\n"
         "key (interactive mode then says \"Generated your identity key\" "
         "on stderr).\n"
         "A contact's identity key is trusted on first use; if it later "
         "changes (a reinstall, or "
         "someone\n"
         "in the middle), you are warned (\"NAME's identity key changed\"), "
         "the contact\n"
         "is no longer verified, and nothing is sent to NAME until you accept "
         "the new\n"
         "key. Compare safety numbers with your contact in person or by phone "
         "first.\n"
         "\n"
         "Interactive mode prints \"Connected to HOST:PORT (server key "
         "SHA256:...)\" and\n"
         "who is online (\"Online: NAME, ...\", \"(verified)\" after verified "
         "contacts),\n"
         "then reads commands from standard input:\n"
         "  /msg NAME TEXT        send TEXT to NAME\n"
         "  /who                  list who is online\n"
         "  /verify NAME          show the safety number with NAME\n"
         "  /verify NAME confirm  mark NAME verified (after comparing the "
         "number)\n"
         "  /accept NAME          accept NAME's changed identity key\n"
         "  /reject NAME          refuse it and keep the key you had\n"
         "  /quit                 log out and exit (so does the end of input, "
         "once\n"
         "                        every message sent has been answered)\n"
         "  /help                 list the commands\n"
         "Incoming messages print as \"[HH:MM] NAME: TEXT\" (local time), "
         "presence changes\n"
         "as \"* NAME is online\" and \"* NAME went offline\", failed "
         "deliveries as\n"
         "\"! message to NAME failed: REASON\", messages that cannot be "
         "decrypted as\n"
         "\"! could not decrypt a message from NAME (REASON)\". A lost "
         "connection is\n"
         "retried after 1 s, then 2, 4, ... up to 30 s, with jitter (press "
         "Enter to\n"
         "retry at once); not after an authentication failure, a server key "
         "mismatch,\n"
         "or when the same user logs in elsewhere.\n"
         "\n",
         out);
  fputs ("send TO TEXT: sends TEXT (one argument, at most 32000 bytes) to TO "
         "and exits\n"
         "with status 0, printing nothing, once the server has delivered it. "
         "Otherwise\n"
         "one line on stderr says why, such as \"message to TO not delivered: "
         "Recipient\n"
         "not online\" (or: no such user, You cannot message yourself), or\n"
         "\"authentication failed: invalid username or password\". When TO's "
         "identity key\n"
         "changed, nothing is sent and the line says \"TO's identity key "
         "changed\" and\n"
         "how to accept it (status 6).\n"
         "\n"
         "recv: once logged in, prints \"logged in as NAME\" on stderr, then "
         "each incoming\n"
         "message on stdout as \"SENDER: TEXT\", one line each, flushed. In "
         "TEXT a\n"
         "backslash is written \\\\, a newline \\n, and any other control "
         "character and\n"
         "any byte that is not valid UTF-8 \\xNN (two lowercase hex digits "
         "per byte).\n"
         "  --count N          exit with status 0 after N messages (default: "
         "run until\n"
         "                     interrupted)\n"
         "  --timeout SECONDS  give up SECONDS after starting: exit status 7, "
         "with\n"
         "                     \"timeout: got K of N messages\" (or \"timeout: "
         "got K\n"
         "                     messages\" without --count) on stderr\n"
         "Messages that cannot be decrypted are not printed; stderr says "
         "\"could not\n"
         "decrypt a message from NAME (REASON)\". A contact's changed key "
         "shows as a\n"
         "warning on stderr; the message itself is printed.\n"
         "\n"
         "verify NAME: prints the safety number with NAME (12 groups of 5 "
         "digits, the\n"
         "same on both sides) alone on stdout. NAME's key is fetched from the "
         "server\n"
         "when it is not known yet. \"verify NAME confirm\" marks NAME "
         "verified.\n"
         "accept NAME: accepts NAME's changed identity key (unverified), so "
         "that\n"
         "messages to NAME can be sent again. Neither needs the password "
         "when NAME\n"
         "is already known.\n"
         "\n"
         "Errors are one line on stderr, e.g. \"cannot connect to HOST:PORT: "
         "Connection\n"
         "refused\".\n"
         "\n"
         "Exit status:\n"
         "  0  success\n"
         "  1  other failure\n"
         "  2  usage error\n"
         "  3  cannot connect, or the connection was lost or closed by the "
         "server\n"
         "  4  authentication failed or rate limited\n"
         "  5  server key mismatch\n"
         "  6  message not delivered (send), e.g. the recipient's identity "
         "key changed\n"
         "  7  timeout (recv)\n",
         out);
}

/* Decimal seconds with up to three decimals, > 0 and <= SECONDS_MAX. */
static int
parse_seconds (const char *s, int64_t *ms)
{
  int64_t whole = 0;
  int64_t frac = 0;
  int frac_digits = 0;
  const char *p = s;

  if (*p < '0' || *p > '9')
    return -1;
  while (*p >= '0' && *p <= '9')
    {
      whole = whole * 10 + (*p - '0');
      if (whole > SECONDS_MAX)
        return -1;
      p++;
    }
  if (*p == '.')
    {
      p++;
      if (*p < '0' || *p > '9')
        return -1;
      while (*p >= '0' && *p <= '9')
        {
          if (frac_digits == 3)
            return -1;
          frac = frac * 10 + (*p - '0');
          frac_digits++;
          p++;
        }
      while (frac_digits < 3)
        {
          frac *= 10;
          frac_digits++;
        }
    }
  if (*p != '\0')
    return -1;
  *ms = whole * 1000 + frac;
  if (*ms <= 0 || *ms > (int64_t) SECONDS_MAX * 1000)
    return -1;
  return 0;
}

static int
parse_count (const char *s, uint64_t *out)
{
  uint64_t v = 0;

  if (*s == '\0')
    return -1;
  for (const char *p = s; *p != '\0'; p++)
    {
      if (*p < '0' || *p > '9')
        return -1;
      v = v * 10 + (uint64_t) (*p - '0');
      if (v > COUNT_MAX)
        return -1;
    }
  if (v == 0)
    return -1;
  *out = v;
  return 0;
}

/* Matches argv[*i] against "--name" or "--name=VALUE"; takes the value
 * from the next argument in the first case. Returns 1 on a match (value
 * set), 0 when it is another option, -1 when the value is missing. */
static int
match_option (
    int argc, char **argv, int *i, const char *name, const char **value)
{
  const char *a = argv[*i];
  size_t n = strlen (name);

  if (strncmp (a, name, n) != 0)
    return 0;
  if (a[n] == '=')
    {
      *value = a + n + 1;
      return 1;
    }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  (*i)++;
  *value = argv[*i];
  return 1;
}

/* match_option for an option given at most once: 1 with *slot set, 0 when
 * argv[*i] is another argument, -1 with a message in err. */
static int
take_option (int argc,
             char **argv,
             int *i,
             const char *name,
             const char **slot,
             char *err,
             size_t err_len)
{
  const char *value = NULL;
  int m = match_option (argc, argv, i, name, &value);

  if (m < 0)
    snprintf (err, err_len, "option %s needs a value", name);
  else if (m > 0 && *slot != NULL)
    {
      snprintf (err, err_len, "option %s given twice", name);
      m = -1;
    }
  else if (m > 0)
    *slot = value;
  return m;
}

int
cli_parse_args (
    int argc, char **argv, struct cli_options *o, char *err, size_t err_len)
{
  static const char *const global[] = {
    "--server",          "--user", "--password-file", "--fingerprint",
    "--connect-timeout",
  };
  const char *fingerprint = NULL;
  const char *connect_timeout = NULL;
  const char **slots[] = {
    &o->server, &o->user, &o->password_file, &fingerprint, &connect_timeout,
  };
  int i;

  memset (o, 0, sizeof *o);
  o->connect_timeout_ms = CLI_DEFAULT_CONNECT_TIMEOUT_MS;
  o->mode = CLI_MODE_INTERACTIVE;
  err[0] = '\0';

  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      bool matched = false;

      if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0)
        {
          o->help = true;
          return 0;
        }
      if (strcmp (a, "--version") == 0)
        {
          o->version = true;
          return 0;
        }
      if (a[0] != '-')
        break;
      for (size_t k = 0; k < sizeof global / sizeof global[0]; k++)
        {
          int m =
              take_option (argc, argv, &i, global[k], slots[k], err, err_len);

          if (m < 0)
            return -1;
          if (m > 0)
            {
              matched = true;
              break;
            }
        }
      if (!matched)
        {
          snprintf (err, err_len, "unknown option '%s'", a);
          return -1;
        }
    }

  if (i < argc)
    {
      const char *cmd = argv[i++];

      if (strcmp (cmd, "send") == 0)
        {
          if (argc - i != 2)
            {
              snprintf (err, err_len,
                        "send needs exactly two arguments: "
                        "TO TEXT");
              return -1;
            }
          o->mode = CLI_MODE_SEND;
          o->to = argv[i];
          o->text = argv[i + 1];
          o->text_len = strlen (o->text);
          if (sc_username_validate (o->to, strlen (o->to)) < 0)
            {
              snprintf (err, err_len, "invalid recipient name '%s'", o->to);
              return -1;
            }
          if (o->text_len > TEXT_MAX)
            {
              snprintf (err, err_len, "TEXT is too long (at most %d bytes)",
                        TEXT_MAX);
              return -1;
            }
        }
      else if (strcmp (cmd, "recv") == 0)
        {
          const char *count = NULL;
          const char *timeout = NULL;

          o->mode = CLI_MODE_RECV;
          for (; i < argc; i++)
            {
              int m =
                  take_option (argc, argv, &i, "--count", &count, err, err_len);

              if (m == 0)
                m = take_option (argc, argv, &i, "--timeout", &timeout, err,
                                 err_len);
              if (m < 0)
                return -1;
              if (m == 0)
                {
                  snprintf (err, err_len, "unknown argument '%s' for recv",
                            argv[i]);
                  return -1;
                }
            }
          if (count != NULL && parse_count (count, &o->count) < 0)
            {
              snprintf (err, err_len,
                        "--count must be a whole number from 1 to %d",
                        COUNT_MAX);
              return -1;
            }
          if (timeout != NULL && parse_seconds (timeout, &o->timeout_ms) < 0)
            {
              snprintf (err, err_len,
                        "--timeout must be a number of seconds above 0");
              return -1;
            }
        }
      else if (strcmp (cmd, "verify") == 0 || strcmp (cmd, "accept") == 0)
        {
          bool verify = cmd[0] == 'v';

          if (argc - i < 1 || argc - i > (verify ? 2 : 1) ||
              (argc - i == 2 && strcmp (argv[i + 1], "confirm") != 0))
            {
              snprintf (err, err_len, "usage: %s",
                        verify ? "verify NAME [confirm]" : "accept NAME");
              return -1;
            }
          o->mode = verify ? CLI_MODE_VERIFY : CLI_MODE_ACCEPT;
          o->to = argv[i];
          o->confirm = argc - i == 2;
          if (sc_username_validate (o->to, strlen (o->to)) < 0)
            {
              snprintf (err, err_len, "invalid user name '%s'", o->to);
              return -1;
            }
        }
      else
        {
          snprintf (err, err_len, "unknown command '%s'", cmd);
          return -1;
        }
    }

  if (o->server == NULL)
    {
      snprintf (err, err_len, "--server HOST:PORT is required");
      return -1;
    }
  if (o->user == NULL)
    {
      snprintf (err, err_len, "--user NAME is required");
      return -1;
    }
  {
    char why[128];

    if (net_parse_server (o->server, o->host, o->port, o->key, why,
                          sizeof why) < 0)
      {
        snprintf (err, err_len, "%s", why);
        return -1;
      }
  }
  if (sc_username_validate (o->user, strlen (o->user)) < 0)
    {
      snprintf (err, err_len,
                "invalid user name '%s' (1 to 32 of a-z 0-9 . _ -, "
                "starting with a letter or digit)",
                o->user);
      return -1;
    }
  if (fingerprint != NULL)
    {
      if (strlen (fingerprint) != SC_FINGERPRINT_LEN ||
          sc_fingerprint_validate (fingerprint) < 0)
        {
          snprintf (err, err_len,
                    "--fingerprint must look like SHA256: followed by 43 "
                    "base64 characters");
          return -1;
        }
      memcpy (o->fingerprint, fingerprint, SC_FINGERPRINT_LEN + 1);
    }
  if (connect_timeout != NULL &&
      parse_seconds (connect_timeout, &o->connect_timeout_ms) < 0)
    {
      snprintf (err, err_len,
                "--connect-timeout must be a number of seconds above 0");
      return -1;
    }
  return 0;
}

/* ---- the program's state ---- */

enum outcome
{
  OUT_NONE,
  OUT_DONE,           /* what was asked is done (or the user quit) */
  OUT_CONNECT_FAILED, /* no TCP connection */
  OUT_LOST,           /* the connection broke or the server closed it */
  OUT_BUSY,           /* server_busy / server_full at login */
  OUT_REPLACED,       /* bye session_replaced */
  OUT_AUTH,           /* auth_failed / rate_limited */
  OUT_KEY_MISMATCH,
  OUT_UNSUPPORTED,
  OUT_UNDELIVERED, /* send: the message was refused */
  OUT_TIMEOUT,     /* recv: --timeout */
  OUT_SIGNAL,
  OUT_LOCAL_ERROR,
};

struct pending_send
{
  uint64_t ref;
  char to[SC_USERNAME_MAX + 1];
};

struct cli
{
  const struct cli_options *opt;
  char password[SC_PASSWORD_MAX + 1];
  size_t password_len;
  struct lines *in; /* standard input, by lines */
  sigset_t wait_mask;
  char *ks_path;
  bool ks_warned;
  /* end-to-end: the key store and the manager, for the whole run */
  char *data_dir;
  struct sc_keystore *store;
  struct sc_e2e *e2e;
  bool told_generated;
  /* The key accepted for this server in this run: reconnections must see
   * the same one. */
  char pinned[SC_FINGERPRINT_LEN + 1];
  unsigned backoff_attempt;
  bool ever_logged_in;
  int64_t mode_deadline; /* recv --timeout; 0: none */

  /* the current connection */
  int fd;
  struct sc_client *client;
  bool logged_in;
  enum outcome outcome;
  bool want_quit;
  bool quitting;
  enum outcome quit_outcome;
  int64_t quit_deadline;
  uint32_t retry_after_ms;
  char reason[640];

  /* "Connected"/"logged in" wait until our keys are published, so that
   * others can start sessions with us once we say we are here. */
  bool keys_ready;
  char **early_list; /* the first presence list, until then */
  size_t early_n;
  bool have_early_list;

  /* send */
  uint64_t send_ref;
  bool to_online; /* the recipient, as far as presence says */
  /* A recipient who just logged in may not have published keys yet:
   * the send is tried again a few times. */
  int64_t send_retry_at; /* 0: none */
  unsigned send_retries;
  /* recv */
  uint64_t received;
  /* interactive */
  struct pending_send *pend;
  size_t n_pend;
  size_t cap_pend;
  bool stdin_eof;
  /* interactive /verify of a user whose key is being fetched */
  char verify_peer[SC_USERNAME_MAX + 1];
  /* the changed key whose safety number /verify showed last: /accept
   * accepts that key and no other */
  char shown_peer[SC_USERNAME_MAX + 1];
  struct sc_identity_public shown_key;
};

static volatile sig_atomic_t signal_count;
static volatile sig_atomic_t last_signal;
static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void
on_signal (int sig)
{
  last_signal = sig;
  signal_count++;
}

static void set_reason (struct cli *cli, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
set_reason (struct cli *cli, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (cli->reason, sizeof cli->reason, fmt, ap);
  va_end (ap);
}

/* Ends the current connection with outcome (the first one counts). */
static void
decide (struct cli *cli, enum outcome out)
{
  if (cli->outcome == OUT_NONE)
    cli->outcome = out;
}

/* The connection broke: OUT_LOST with a reason, unless the end was
 * already decided or asked for (then that stands, with its reason). */
static void
lose (struct cli *cli, const char *why)
{
  if (cli->outcome != OUT_NONE)
    return;
  if (cli->want_quit)
    {
      decide (cli, cli->quit_outcome);
      return;
    }
  set_reason (cli, "%s", why);
  decide (cli, OUT_LOST);
}

/* Asks for a clean end: a bye, flushed, then outcome. */
static void
begin_quit (struct cli *cli, enum outcome out)
{
  if (cli->want_quit)
    return;
  cli->want_quit = true;
  cli->quit_outcome = out;
}

/* A line for the interactive user. */
static void say (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static void
say (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vfprintf (stdout, fmt, ap);
  va_end (ap);
  fputc ('\n', stdout);
  fflush (stdout);
}

/* A send the server refused because this user sends faster than its
 * limit allows (PROTOCOL.md section 8, message_rate): say so plainly, and
 * when the server says it may be sent again. */
static const char *
send_rate_text (uint32_t retry_after_ms, char *buf, size_t cap)
{
  if (retry_after_ms == 0)
    snprintf (buf, cap, "sending too fast, slow down");
  else if (retry_after_ms < 1000)
    snprintf (buf, cap,
              "sending too fast, slow down (it can be sent again in %u ms)",
              (unsigned) retry_after_ms);
  else
    snprintf (buf, cap,
              "sending too fast, slow down (it can be sent again in %u s)",
              (unsigned) ((retry_after_ms + 999) / 1000));
  return buf;
}

/* A server-supplied text made safe for one terminal line; malloc'd. */
static char *
safe_text (const char *s, size_t len)
{
  char *t = text_escape ((const uint8_t *) s, len, TEXT_ESCAPE_BIDI);

  return t != NULL ? t : strdup ("?");
}

/* What an error code means, for people. */
static const char *
code_text (const struct sc_msg_error *e, char **freeme)
{
  const char *t = sc_code_text (e->code);

  *freeme = NULL;
  if (t != NULL && t[0] != '\0')
    return t;
  *freeme = safe_text (e->message, strlen (e->message));
  return *freeme != NULL ? *freeme : "error";
}

/* "securechat-cli --server S --user U", to tell people what to run. */
static void
command_prefix (const struct cli *cli, char *out, size_t n)
{
  snprintf (out, n, PROG " --server %s --user %s", cli->opt->server,
            cli->opt->user);
}

/* Why a message could not be decrypted, for people. */
static const char *
undecryptable_text (int err)
{
  switch (err)
    {
    case SC_ERR_DUPLICATE:
      return "already received; a replay";
    case SC_ERR_NO_SESSION:
      return "no session with them; they were asked to start a new one";
    case SC_ERR_NOT_FOUND:
      return "it uses a key this device no longer has; they were asked to "
             "start a new session";
    case SC_ERR_UNSUPPORTED:
      return "unsupported message format or content";
    case SC_ERR_DECRYPT:
    case SC_ERR_TRUNCATED:
    case SC_ERR_PROTOCOL:
    case SC_ERR_DH:
      return "damaged or forged";
    case SC_ERR_TOO_FAR:
      return "too many messages missing before it";
    case SC_ERR_STORAGE:
      return "cannot save the session state";
    default:
      return sc_strerror (err);
    }
}

/* Why an end-to-end send failed, for people (not for a changed key). */
static const char *
send_failed_text (int err)
{
  switch (err)
    {
    case SC_ERR_SIGNATURE:
      return "the server sent keys with a bad signature";
    case SC_ERR_STORAGE:
      return "cannot save the session state";
    case SC_ERR_CLOSED:
    case SC_ERR_STATE:
      return "the connection is closing";
    case SC_ERR_TOO_LARGE:
      return "too many messages waiting";
    default:
      return sc_strerror (err);
    }
}

/* ---- server key pinning ---- */

static void
warn_key_changed (const char *server,
                  const char *expected,
                  const char *got,
                  const char *where)
{
  fprintf (stderr,
           "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
           "WARNING: SERVER KEY FOR %s HAS CHANGED!\n"
           "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
           "Someone could be intercepting this connection (a "
           "man-in-the-middle attack),\n"
           "or the server's key was replaced. The password was not sent.\n"
           "expected %s got %s\n"
           "%s\n",
           server, expected, got, where);
}

static int
check_known_servers (struct cli *cli, const char *fp)
{
  const char *server = cli->opt->key;
  struct known_servers *ks = NULL;
  const char *known;
  size_t line = 0;
  int lock;
  int rc;

  if (cli->ks_path == NULL)
    {
      set_reason (cli, "cannot locate the known-servers file (set HOME or "
                       "XDG_CONFIG_HOME, or use --fingerprint)");
      decide (cli, OUT_LOCAL_ERROR);
      return -1;
    }
  /* Without the lock (say, a read-only home) reading still works and a
   * failed save is only a warning. */
  lock = known_servers_lock (cli->ks_path);
  rc = known_servers_load (cli->ks_path, &ks);
  if (rc < 0)
    {
      known_servers_unlock (lock);
      set_reason (cli, "cannot read %s: %s", cli->ks_path, strerror (-rc));
      decide (cli, OUT_LOCAL_ERROR);
      return -1;
    }
  if (!cli->ks_warned)
    {
      for (size_t i = 0; i < known_servers_n_problems (ks); i++)
        {
          size_t bad_line = 0;
          const char *why = known_servers_problem (ks, i, &bad_line);

          fprintf (stderr, "warning: %s:%zu: ignoring malformed line (%s)\n",
                   cli->ks_path, bad_line, why);
        }
      cli->ks_warned = true;
    }

  known = known_servers_lookup (ks, server, &line);
  if (known != NULL)
    {
      bool same = sc_fingerprint_equal (known, fp) == 1;

      if (!same)
        {
          char where[1024];

          snprintf (where, sizeof where,
                    "If the change is expected, remove the line from %s "
                    "(line %zu) and connect again.",
                    cli->ks_path, line);
          warn_key_changed (server, known, fp, where);
        }
      known_servers_free (ks);
      known_servers_unlock (lock);
      if (!same)
        {
          decide (cli, OUT_KEY_MISMATCH);
          return -1;
        }
      return 0;
    }

  fprintf (stderr, "Trusting new server %s with key %s (first use)\n", server,
           fp);
  rc = known_servers_set (ks, server, fp);
  if (rc == 0)
    rc = known_servers_save (ks, cli->ks_path);
  if (rc < 0)
    fprintf (stderr, "warning: cannot save the server key to %s: %s\n",
             cli->ks_path, strerror (-rc));
  known_servers_free (ks);
  known_servers_unlock (lock);
  return 0;
}

static int
on_verify (void *ud, const uint8_t pub[SC_X25519_LEN], const char *fp)
{
  struct cli *cli = ud;
  const char *server = cli->opt->key;

  if (cli->opt->fingerprint[0] != '\0')
    {
      if (sc_fingerprint_equal (cli->opt->fingerprint, fp) == 1)
        return 0;
      fprintf (stderr,
               "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
               "ERROR: SERVER KEY MISMATCH FOR %s!\n"
               "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
               "expected %s (--fingerprint) got %s\n"
               "This is not the server you named, or someone is "
               "intercepting the connection.\n"
               "The password was not sent.\n",
               server, cli->opt->fingerprint, fp);
      decide (cli, OUT_KEY_MISMATCH);
      return -1;
    }
  if (cli->pinned[0] != '\0')
    {
      if (sc_fingerprint_equal (cli->pinned, fp) == 1)
        return 0;
      warn_key_changed (server, cli->pinned, fp,
                        "The key changed while this program was running.");
      decide (cli, OUT_KEY_MISMATCH);
      return -1;
    }
  if (check_known_servers (cli, fp) < 0)
    return -1;
  memcpy (cli->pinned, fp, SC_FINGERPRINT_LEN + 1);
  return 0;
}

/* ---- session events ---- */

static void
pending_add (struct cli *cli, uint64_t ref, const char *to)
{
  if (cli->n_pend == cli->cap_pend)
    {
      size_t cap = cli->cap_pend > 0 ? cli->cap_pend * 2 : 16;
      struct pending_send *p = realloc (cli->pend, cap * sizeof *p);

      if (p == NULL)
        return; /* only the name in a failure notice is lost */
      cli->pend = p;
      cli->cap_pend = cap;
    }
  cli->pend[cli->n_pend].ref = ref;
  snprintf (cli->pend[cli->n_pend].to, sizeof cli->pend[0].to, "%s", to);
  cli->n_pend++;
}

/* Removes ref; copies its recipient to to (or "?"). */
static void
pending_take (struct cli *cli, uint64_t ref, char to[SC_USERNAME_MAX + 1])
{
  snprintf (to, SC_USERNAME_MAX + 1, "?");
  for (size_t i = 0; i < cli->n_pend; i++)
    if (cli->pend[i].ref == ref)
      {
        memcpy (to, cli->pend[i].to, SC_USERNAME_MAX + 1);
        cli->pend[i] = cli->pend[cli->n_pend - 1];
        cli->n_pend--;
        return;
      }
}

/* The scripted send's one line when TO's identity key changed. */
static void
set_changed_reason (struct cli *cli, const char *to)
{
  char cmd[NET_KEY_MAX + SC_USERNAME_MAX + 64];

  command_prefix (cli, cmd, sizeof cmd);
  set_reason (cli,
              "message to %s not sent: %s's identity key changed; compare "
              "the safety number (%s verify %s), then run %s accept %s",
              to, to, cmd, to, cmd, to);
}

static void
say_changed (const char *name)
{
  say ("! %s's identity key changed — nothing is sent to %s until you "
       "decide; compare the safety number with /verify %s, then /accept %s "
       "(or /reject %s to keep the key you had)",
       name, name, name, name, name);
}

/* The safety number and what to do with it, interactively. */
static void
show_safety (struct cli *cli, const char *peer)
{
  char sn[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  struct sc_e2e_contact c;
  int rc;

  rc = sc_e2e_contact (cli->e2e, peer, &c);
  if (rc == SC_OK)
    rc = sc_e2e_safety_number (cli->e2e, peer, sn);
  if (rc < 0)
    {
      say ("! cannot compute the safety number with %s: %s", peer,
           sc_strerror (rc));
      return;
    }
  say ("Safety number with %s: %s", peer, sn);
  if (c.changed)
    {
      snprintf (cli->shown_peer, sizeof cli->shown_peer, "%s", peer);
      cli->shown_key = c.pending;
    }
  if (c.changed)
    say ("This is for %s's NEW identity key. Compare it with %s in person or "
         "by phone; if it matches, type /accept %s",
         peer, peer, peer);
  else if (c.verified)
    say ("%s is verified.", peer);
  else
    say ("Compare it with %s in person or by phone; if it matches, type "
         "/verify %s confirm",
         peer, peer);
}

/* The scripted verify: the number alone on stdout. */
static void
verify_print (struct cli *cli)
{
  char sn[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  int rc = sc_e2e_safety_number (cli->e2e, cli->opt->to, sn);

  if (rc < 0)
    {
      set_reason (cli, "cannot compute the safety number with %s: %s",
                  cli->opt->to, sc_strerror (rc));
      begin_quit (cli, OUT_LOCAL_ERROR);
      return;
    }
  if (printf ("%s\n", sn) < 0 || fflush (stdout) != 0)
    {
      set_reason (cli, "cannot write to standard output: %s", strerror (errno));
      begin_quit (cli, OUT_LOCAL_ERROR);
      return;
    }
  begin_quit (cli, OUT_DONE);
}

/* The scripted send, at login and when retried. */
static void
scripted_send (struct cli *cli)
{
  int rc;

  rc = sc_client_send (cli->client, cli->opt->to,
                       (const uint8_t *) cli->opt->text, cli->opt->text_len,
                       &cli->send_ref);
  if (rc == SC_ERR_IDENTITY_CHANGED)
    {
      set_changed_reason (cli, cli->opt->to);
      begin_quit (cli, OUT_UNDELIVERED);
    }
  else if (rc < 0)
    {
      set_reason (cli, "message to %s not delivered: %s", cli->opt->to,
                  rc == SC_ERR_TOO_LARGE ? "message too large for this "
                                           "server"
                                         : sc_strerror (rc));
      begin_quit (cli, OUT_UNDELIVERED);
    }
}

static void
on_logged_in (void *ud, const char *user)
{
  struct cli *cli = ud;
  int rc;

  cli->logged_in = true;
  cli->ever_logged_in = true;
  cli->backoff_attempt = 0;
  switch (cli->opt->mode)
    {
    case CLI_MODE_INTERACTIVE:
    case CLI_MODE_RECV:
    case CLI_MODE_ACCEPT:
      /* Announced once our keys are published (on_keys_ready). */
      break;
    case CLI_MODE_VERIFY:
      rc = sc_client_fetch_keys (cli->client, cli->opt->to);
      if (rc == 1)
        verify_print (cli);
      else if (rc < 0)
        {
          set_reason (cli, "cannot get %s's keys: %s", cli->opt->to,
                      sc_strerror (rc));
          begin_quit (cli, OUT_LOCAL_ERROR);
        }
      break;
    case CLI_MODE_SEND:
      scripted_send (cli);
      break;
    }
}

/* "Online: alice, bob (verified)". */
static void
print_online (struct cli *cli, const char *const *users, size_t n)
{
  if (n == 0)
    {
      say ("Online: nobody");
      return;
    }
  fputs ("Online: ", stdout);
  for (size_t i = 0; i < n; i++)
    {
      struct sc_e2e_contact c;
      bool verified = sc_e2e_contact (cli->e2e, users[i], &c) == SC_OK &&
                      c.verified && !c.changed;

      fprintf (stdout, "%s%s%s", i > 0 ? ", " : "", users[i],
               verified ? " (verified)" : "");
    }
  say ("%s", "");
}

static void
drop_early_list (struct cli *cli)
{
  for (size_t i = 0; i < cli->early_n; i++)
    free (cli->early_list[i]);
  free (cli->early_list);
  cli->early_list = NULL;
  cli->early_n = 0;
  cli->have_early_list = false;
}

static void
on_presence_list (void *ud, const char *const *users, size_t n)
{
  struct cli *cli = ud;

  if (cli->opt->mode == CLI_MODE_SEND)
    {
      cli->to_online = false;
      for (size_t i = 0; i < n; i++)
        if (strcmp (users[i], cli->opt->to) == 0)
          cli->to_online = true;
    }
  if (cli->opt->mode != CLI_MODE_INTERACTIVE)
    return;
  if (cli->keys_ready)
    {
      print_online (cli, users, n);
      return;
    }
  /* Kept until "Connected" can be said. */
  drop_early_list (cli);
  cli->have_early_list = true;
  if (n == 0)
    return;
  cli->early_list = calloc (n, sizeof *cli->early_list);
  if (cli->early_list == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    {
      cli->early_list[i] = strdup (users[i]);
      if (cli->early_list[i] == NULL)
        break;
      cli->early_n++;
    }
}

static void
on_keys_ready (void *ud, int err)
{
  struct cli *cli = ud;

  cli->keys_ready = true;
  switch (cli->opt->mode)
    {
    case CLI_MODE_INTERACTIVE:
      say ("Connected to %s (server key %s)", cli->opt->key,
           sc_client_server_fingerprint (cli->client));
      if (sc_e2e_identity_created (cli->e2e) && !cli->told_generated)
        {
          /* Scripted modes keep stderr to their one line. */
          fprintf (stderr, "Generated your identity key\n");
          cli->told_generated = true;
        }
      if (err < 0)
        say ("! could not publish your keys (%s): others may be unable to "
             "start a conversation with you",
             sc_strerror (err));
      if (cli->have_early_list)
        print_online (cli, (const char *const *) cli->early_list, cli->early_n);
      drop_early_list (cli);
      break;
    case CLI_MODE_RECV:
      if (err < 0)
        fprintf (stderr,
                 "warning: could not publish your keys (%s): others may be "
                 "unable to start a conversation with you\n",
                 sc_strerror (err));
      fprintf (stderr, "logged in as %s\n", cli->opt->user);
      break;
    case CLI_MODE_SEND:
    case CLI_MODE_VERIFY:
    case CLI_MODE_ACCEPT:
      break;
    }
}

static void
on_identity_changed (void *ud, const char *peer)
{
  struct cli *cli = ud;
  char cmd[NET_KEY_MAX + SC_USERNAME_MAX + 64];

  switch (cli->opt->mode)
    {
    case CLI_MODE_INTERACTIVE:
      say_changed (peer);
      break;
    case CLI_MODE_RECV:
      command_prefix (cli, cmd, sizeof cmd);
      fprintf (stderr,
               "warning: %s's identity key changed; nothing is sent to %s "
               "until you accept it: compare the safety number (%s verify "
               "%s), then run %s accept %s\n",
               peer, peer, cmd, peer, cmd, peer);
      break;
    case CLI_MODE_SEND:
    case CLI_MODE_VERIFY:
    case CLI_MODE_ACCEPT:
      /* The send or the verification that needed the key says it. */
      break;
    }
}

static void
on_undecryptable (void *ud, uint64_t id, const char *from, int64_t ts, int err)
{
  struct cli *cli = ud;

  if (cli->opt->mode == CLI_MODE_INTERACTIVE)
    say ("! could not decrypt a message from %s (%s)", from,
         undecryptable_text (err));
  else if (cli->opt->mode == CLI_MODE_RECV)
    fprintf (stderr, "could not decrypt a message from %s (%s)\n", from,
             undecryptable_text (err));
}

static void
on_send_failed (void *ud, uint64_t ref, const char *to, int err)
{
  struct cli *cli = ud;
  char name[SC_USERNAME_MAX + 1];

  if (cli->opt->mode == CLI_MODE_SEND)
    {
      if (ref != cli->send_ref)
        return;
      if (err == SC_ERR_IDENTITY_CHANGED)
        set_changed_reason (cli, to);
      else
        set_reason (cli, "message to %s not delivered: %s", to,
                    send_failed_text (err));
      begin_quit (cli, OUT_UNDELIVERED);
      return;
    }
  if (cli->opt->mode != CLI_MODE_INTERACTIVE)
    return;
  pending_take (cli, ref, name);
  if (err == SC_ERR_IDENTITY_CHANGED)
    say ("! message to %s not sent: %s's identity key changed (compare the "
         "safety number with /verify %s, then /accept %s)",
         to, to, to, to);
  else
    say ("! message to %s not sent: %s", to, send_failed_text (err));
}

static void
on_session_ready (void *ud,
                  const char *peer,
                  int err,
                  const struct sc_msg_error *e)
{
  struct cli *cli = ud;
  char *freeme = NULL;
  const char *why;

  if (cli->opt->mode == CLI_MODE_VERIFY)
    {
      if (strcmp (peer, cli->opt->to) != 0)
        return;
      if (err == SC_OK)
        {
          verify_print (cli);
          return;
        }
      why = e != NULL ? code_text (e, &freeme) : sc_strerror (err);
      set_reason (cli, "cannot get %s's keys: %s", peer, why);
      free (freeme);
      begin_quit (cli, OUT_LOCAL_ERROR);
      return;
    }
  if (cli->opt->mode != CLI_MODE_INTERACTIVE ||
      strcmp (peer, cli->verify_peer) != 0)
    return;
  cli->verify_peer[0] = '\0';
  if (err == SC_OK)
    show_safety (cli, peer);
  else if (err != SC_ERR_IDENTITY_CHANGED)
    {
      why = e != NULL ? code_text (e, &freeme) : sc_strerror (err);
      say ("! cannot get %s's keys: %s", peer, why);
      free (freeme);
    }
}

static void
on_presence (void *ud, const char *user, bool online)
{
  struct cli *cli = ud;

  if (cli->opt->mode == CLI_MODE_SEND && strcmp (user, cli->opt->to) == 0)
    cli->to_online = online;

  if (cli->opt->mode != CLI_MODE_INTERACTIVE)
    return;
  if (online)
    say ("* %s is online", user);
  else
    say ("* %s went offline", user);
}

static void
on_message (void *ud,
            uint64_t id,
            const char *from,
            int64_t ts,
            const uint8_t *body,
            size_t body_len)
{
  struct cli *cli = ud;
  char *text;

  if (cli->opt->mode == CLI_MODE_SEND)
    return;
  if (cli->opt->mode == CLI_MODE_RECV)
    {
      if (cli->want_quit ||
          (cli->opt->count > 0 && cli->received >= cli->opt->count))
        return;
      text = text_escape (body, body_len, 0);
      if (text == NULL)
        {
          set_reason (cli, "out of memory");
          begin_quit (cli, OUT_LOCAL_ERROR);
          return;
        }
      if (printf ("%s: %s\n", from, text) < 0 || fflush (stdout) != 0)
        {
          set_reason (cli, "cannot write to standard output: %s",
                      strerror (errno));
          free (text);
          begin_quit (cli, OUT_LOCAL_ERROR);
          return;
        }
      free (text);
      cli->received++;
      if (cli->opt->count > 0 && cli->received >= cli->opt->count)
        begin_quit (cli, OUT_DONE);
      return;
    }

  text = text_escape (body, body_len, TEXT_ESCAPE_BIDI);
  {
    time_t t = (time_t) (ts / 1000);
    struct tm tm;
    char hhmm[8] = "--:--";

    if (localtime_r (&t, &tm) != NULL)
      strftime (hhmm, sizeof hhmm, "%H:%M", &tm);
    say ("[%s] %s: %s", hhmm, from, text != NULL ? text : "?");
  }
  free (text);
}

static void
on_sent (void *ud, uint64_t ref, uint64_t id, int64_t ts)
{
  struct cli *cli = ud;
  char to[SC_USERNAME_MAX + 1];

  if (cli->opt->mode == CLI_MODE_SEND)
    {
      if (ref == cli->send_ref)
        begin_quit (cli, OUT_DONE);
      return;
    }
  pending_take (cli, ref, to);
}

static void
on_error (void *ud, const struct sc_msg_error *e)
{
  struct cli *cli = ud;
  char *freeme = NULL;
  const char *text = code_text (e, &freeme);
  char rate_text[96];

  if (e->has_ref)
    {
      if (e->code == SC_CODE_RATE_LIMITED)
        text = send_rate_text (e->retry_after, rate_text, sizeof rate_text);
      if (cli->opt->mode == CLI_MODE_SEND && e->ref == cli->send_ref)
        {
          /* No keys is what an offline user who never logged in shows;
           * say first what matters more. Online without keys: they are
           * publishing them right now, most likely. */
          if (e->code == SC_CODE_NO_PREKEYS && cli->to_online &&
              cli->send_retries < SEND_RETRIES)
            {
              cli->send_retries++;
              cli->send_retry_at = net_now_ms () + SEND_RETRY_MS;
              free (freeme);
              return;
            }
          if (e->code == SC_CODE_NO_PREKEYS && !cli->to_online)
            text = sc_code_text (SC_CODE_RECIPIENT_OFFLINE);
          else if (e->code == SC_CODE_NO_PREKEYS)
            text = "they have not published their encryption keys";
          set_reason (cli, "message to %s not delivered: %s", cli->opt->to,
                      text);
          begin_quit (cli, OUT_UNDELIVERED);
        }
      else if (cli->opt->mode == CLI_MODE_INTERACTIVE)
        {
          char to[SC_USERNAME_MAX + 1];

          pending_take (cli, e->ref, to);
          say ("! message to %s failed: %s", to, text);
        }
      else
        fprintf (stderr, "server error: %s\n", text);
    }
  else if (!cli->logged_in)
    {
      /* At login an error means the server closes: done here. */
      switch (e->code)
        {
        case SC_CODE_AUTH_FAILED:
          set_reason (cli, "authentication failed: %s", text);
          decide (cli, OUT_AUTH);
          break;
        case SC_CODE_RATE_LIMITED:
          if (e->retry_after > 0)
            set_reason (cli, "authentication failed: %s (retry in %u s)", text,
                        (e->retry_after + 999) / 1000);
          else
            set_reason (cli, "authentication failed: %s", text);
          decide (cli, OUT_AUTH);
          break;
        case SC_CODE_SERVER_BUSY:
        case SC_CODE_SERVER_FULL:
          cli->retry_after_ms = e->retry_after;
          set_reason (cli, "%s", text);
          decide (cli, OUT_BUSY);
          break;
        default:
          set_reason (cli, "server error: %s", text);
          decide (cli, OUT_LOST);
          break;
        }
    }
  else if (cli->opt->mode == CLI_MODE_INTERACTIVE)
    say ("! server error: %s", text);
  else
    fprintf (stderr, "server error: %s\n", text);
  free (freeme);
}

static void
on_closed (void *ud, int err, enum sc_code code, const char *message)
{
  struct cli *cli = ud;

  if (cli->outcome != OUT_NONE)
    return;
  if (cli->want_quit)
    {
      decide (cli, cli->quit_outcome);
      return;
    }
  if (err == SC_OK)
    {
      const char *t = sc_code_text (code);
      char *safe = NULL;

      if (t == NULL || t[0] == '\0')
        t = safe = safe_text (message, strlen (message));
      if (code == SC_CODE_SESSION_REPLACED)
        {
          set_reason (cli, "%s", t);
          decide (cli, OUT_REPLACED);
        }
      else
        {
          set_reason (cli, "closed by the server: %s", t);
          decide (cli, OUT_LOST);
        }
      free (safe);
      return;
    }
  if (err == SC_ERR_KEY_MISMATCH)
    {
      decide (cli, OUT_KEY_MISMATCH);
      return;
    }
  set_reason (cli, "%s", message != NULL ? message : sc_strerror (err));
  decide (cli, err == SC_ERR_UNSUPPORTED ? OUT_UNSUPPORTED : OUT_LOST);
}

static const struct sc_client_callbacks cli_callbacks = {
  .verify_server_key = on_verify,
  .logged_in = on_logged_in,
  .presence_list = on_presence_list,
  .presence = on_presence,
  .message = on_message,
  .sent = on_sent,
  .error = on_error,
  .closed = on_closed,
  .keys_ready = on_keys_ready,
  .identity_changed = on_identity_changed,
  .undecryptable = on_undecryptable,
  .send_failed = on_send_failed,
  .session_ready = on_session_ready,
};

/* ---- interactive commands ---- */

static void
interactive_help (void)
{
  say ("Commands:\n"
       "  /msg NAME TEXT        send TEXT to NAME\n"
       "  /who                  list who is online\n"
       "  /verify NAME          show the safety number with NAME\n"
       "  /verify NAME confirm  mark NAME verified (after comparing it)\n"
       "  /accept NAME          accept NAME's changed identity key\n"
       "  /reject NAME          refuse it and keep the key you had\n"
       "  /quit                 log out and exit\n"
       "  /help                 show this list");
}

static void
command_msg (struct cli *cli, const char *args)
{
  const char *name = args;
  const char *text;
  size_t name_len;
  uint64_t ref = 0;
  char to[SC_USERNAME_MAX + 1];
  int rc;

  while (*name == ' ')
    name++;
  text = strchr (name, ' ');
  if (text == NULL || text[1] == '\0' || text == name)
    {
      say ("usage: /msg NAME TEXT");
      return;
    }
  name_len = (size_t) (text - name);
  text++;
  if (name_len > SC_USERNAME_MAX || sc_username_validate (name, name_len) < 0)
    {
      char *safe = safe_text (name, name_len);

      say ("! invalid user name '%s'", safe);
      free (safe);
      return;
    }
  memcpy (to, name, name_len);
  to[name_len] = '\0';
  if (strlen (text) > TEXT_MAX)
    {
      say ("! message too long (at most %d bytes)", TEXT_MAX);
      return;
    }
  rc = sc_client_send (cli->client, to, (const uint8_t *) text, strlen (text),
                       &ref);
  if (rc == SC_ERR_IDENTITY_CHANGED)
    say ("! message to %s not sent: %s's identity key changed (compare the "
         "safety number with /verify %s, then /accept %s)",
         to, to, to, to);
  else if (rc == SC_ERR_TOO_LARGE)
    say ("! message to %s not sent: too large for this server, or too many "
         "messages waiting",
         to);
  else if (rc < 0)
    say ("! message to %s not sent: %s", to, sc_strerror (rc));
  else
    pending_add (cli, ref, to);
}

/* "NAME" or "NAME confirm" (when allowed) naming someone other than self:
 * 0, or -1 after a usage or error line. */
static int
parse_name_arg (const char *args,
                const char *self,
                const char *usage,
                bool allow_confirm,
                char name[SC_USERNAME_MAX + 1],
                bool *confirm)
{
  const char *end;
  size_t len;

  while (*args == ' ')
    args++;
  end = strchr (args, ' ');
  len = end != NULL ? (size_t) (end - args) : strlen (args);
  *confirm = false;
  if (end != NULL)
    {
      const char *rest = end;

      while (*rest == ' ')
        rest++;
      if (allow_confirm && strcmp (rest, "confirm") == 0)
        *confirm = true;
      else if (*rest != '\0')
        len = 0;
    }
  if (len == 0)
    {
      say ("usage: %s", usage);
      return -1;
    }
  if (len > SC_USERNAME_MAX || sc_username_validate (args, len) < 0)
    {
      char *safe = safe_text (args, len);

      say ("! invalid user name '%s'", safe);
      free (safe);
      return -1;
    }
  memcpy (name, args, len);
  name[len] = '\0';
  if (strcmp (name, self) == 0)
    {
      say ("! %s is you", name);
      return -1;
    }
  return 0;
}

static void
command_verify (struct cli *cli, const char *args)
{
  char name[SC_USERNAME_MAX + 1];
  struct sc_e2e_contact c;
  bool confirm = false;
  int rc;

  if (parse_name_arg (args, cli->opt->user, "/verify NAME [confirm]", true,
                      name, &confirm) < 0)
    return;
  rc = sc_e2e_contact (cli->e2e, name, &c);
  if (rc == SC_ERR_NOT_FOUND && !confirm)
    {
      /* Not met yet: fetch the key the server has for them. */
      rc = sc_client_fetch_keys (cli->client, name);
      if (rc == 0)
        {
          memcpy (cli->verify_peer, name, sizeof cli->verify_peer);
          say ("Fetching %s's keys...", name);
        }
      else if (rc == 1)
        show_safety (cli, name);
      else
        say ("! cannot get %s's keys: %s", name, sc_strerror (rc));
      return;
    }
  if (rc == SC_ERR_NOT_FOUND)
    {
      say ("! no key known for %s yet; type /verify %s first", name, name);
      return;
    }
  if (rc < 0)
    {
      say ("! cannot read %s's key: %s", name, sc_strerror (rc));
      return;
    }
  if (!confirm)
    {
      show_safety (cli, name);
      return;
    }
  rc = sc_e2e_set_verified (cli->e2e, name, true);
  if (rc == SC_ERR_IDENTITY_CHANGED)
    say ("! %s's identity key changed: compare the safety number, /accept "
         "%s, then /verify %s confirm",
         name, name, name);
  else if (rc < 0)
    say ("! cannot mark %s verified: %s", name, sc_strerror (rc));
  else
    say ("%s is now marked verified.", name);
}

/* /accept NAME and /reject NAME: the user's decision on a changed
 * identity key. */
static void
command_decide (struct cli *cli, const char *args, bool accept)
{
  char name[SC_USERNAME_MAX + 1];
  struct sc_e2e_contact c;
  bool confirm = false;
  int rc;

  if (parse_name_arg (args, cli->opt->user,
                      accept ? "/accept NAME" : "/reject NAME", false, name,
                      &confirm) < 0)
    return;
  rc = sc_e2e_contact (cli->e2e, name, &c);
  if (rc == SC_ERR_NOT_FOUND)
    {
      say ("! no key known for %s", name);
      return;
    }
  if (rc == SC_OK && !c.changed)
    {
      say ("%s's identity key has not changed; nothing to %s.", name,
           accept ? "accept" : "reject");
      return;
    }
  if (rc == SC_OK && !accept)
    rc = sc_e2e_reject_identity (cli->e2e, name);
  else if (rc == SC_OK && strcmp (cli->shown_peer, name) == 0)
    rc = sc_e2e_accept_identity_if (cli->e2e, name, &cli->shown_key);
  else if (rc == SC_OK)
    rc = sc_e2e_accept_identity (cli->e2e, name);
  if (strcmp (cli->shown_peer, name) == 0)
    cli->shown_peer[0] = '\0';
  if (rc == SC_ERR_IDENTITY_CHANGED)
    say ("! %s's key changed again since /verify: compare the new safety "
         "number (/verify %s) before you accept it",
         name, name);
  else if (rc < 0)
    say ("! cannot %s %s's key: %s", accept ? "accept" : "reject", name,
         sc_strerror (rc));
  else if (accept)
    say ("Accepted %s's new identity key. It is not verified: compare the "
         "safety number with /verify %s.",
         name, name);
  else
    say ("Rejected the new key offered for %s; the key you had stays (not "
         "verified: compare the safety number with /verify %s).",
         name, name);
}

static void
handle_command (struct cli *cli, const char *line, size_t len)
{
  const char *cmd;
  size_t cmd_len;
  const char *args;

  if (len == 0)
    return;
  if (line[0] != '/')
    {
      say ("To send a message, type /msg NAME TEXT (/help lists the "
           "commands).");
      return;
    }
  cmd = line + 1;
  args = strchr (cmd, ' ');
  cmd_len = args != NULL ? (size_t) (args - cmd) : strlen (cmd);
  if (args == NULL)
    args = "";

#define IS(word) (cmd_len == strlen (word) && memcmp (cmd, word, cmd_len) == 0)
  if (IS ("msg"))
    command_msg (cli, args);
  else if (IS ("who"))
    {
      int rc = sc_client_who (cli->client);

      if (rc < 0)
        say ("! cannot ask who is online: %s", sc_strerror (rc));
    }
  else if (IS ("verify"))
    command_verify (cli, args);
  else if (IS ("accept"))
    command_decide (cli, args, true);
  else if (IS ("reject"))
    command_decide (cli, args, false);
  else if (IS ("quit"))
    begin_quit (cli, OUT_DONE);
  else if (IS ("help"))
    interactive_help ();
  else
    {
      char *safe = safe_text (cmd, cmd_len);

      say ("Unknown command /%s. Type /help for the list of commands.", safe);
      free (safe);
    }
#undef IS
}

/* Runs every complete line already read. */
static void
process_input (struct cli *cli)
{
  while (!cli->want_quit)
    {
      char *line = NULL;
      size_t len = 0;

      switch (lines_next (cli->in, &line, &len))
        {
        case LINES_NONE:
          return;
        case LINES_EOF:
          cli->stdin_eof = true;
          return;
        case LINES_TOO_LONG:
          say ("! line too long (at most %d bytes); ignored", INPUT_LINE_MAX);
          break;
        case LINES_LINE:
          if (memchr (line, '\0', len) != NULL)
            say ("! line contains a NUL byte; ignored");
          else
            handle_command (cli, line, len);
          break;
        }
    }
}

/* ---- the connection loop ---- */

static int
flush_output (struct cli *cli)
{
  for (;;)
    {
      size_t len = 0;
      const uint8_t *p = sc_client_pending (cli->client, &len);
      ssize_t n;

      if (len == 0)
        return 0;
      n = send (cli->fd, p, len, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
          return -errno;
        }
      sc_client_consume (cli->client, (size_t) n);
    }
}

static size_t
pending_output (const struct cli *cli)
{
  size_t len = 0;

  sc_client_pending (cli->client, &len);
  return len;
}

static void
on_eof (struct cli *cli)
{
  if (sc_client_state (cli->client) == SC_CLIENT_HANDSHAKE)
    lose (cli, "the server closed the connection during the handshake");
  else if (!cli->logged_in)
    lose (cli, "the server closed the connection during login");
  else
    lose (cli, "the server closed the connection");
}

static void
read_socket (struct cli *cli)
{
  uint8_t buf[16384];

  /* A few reads per wakeup, so that a busy server cannot starve stdin. */
  for (int round = 0; round < 8 && cli->outcome == OUT_NONE; round++)
    {
      ssize_t n = recv (cli->fd, buf, sizeof buf, 0);
      int rc;

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
          lose (cli, strerror (errno));
          return;
        }
      if (n == 0)
        {
          on_eof (cli);
          return;
        }
      if (sc_client_state (cli->client) == SC_CLIENT_CLOSED)
        continue;
      rc = sc_client_recv (cli->client, buf, (size_t) n, net_now_ms ());
      sc_wipe (buf, (size_t) n);
      if (rc < 0)
        lose (cli, sc_strerror (rc));
    }
}

/* After the bye is out: let the server close first, so that our close
 * does not reset a connection it has not read to the end. */
static void
close_gracefully (struct cli *cli)
{
  int64_t end = net_now_ms () + CLOSE_WAIT_MS;
  uint8_t buf[4096];

  if (end > cli->quit_deadline)
    end = cli->quit_deadline;
  shutdown (cli->fd, SHUT_WR);
  for (;;)
    {
      struct pollfd pfd = { .fd = cli->fd, .events = POLLIN };
      int64_t left = end - net_now_ms ();
      ssize_t n;

      if (left <= 0 || poll (&pfd, 1, (int) left) <= 0)
        return;
      n = recv (cli->fd, buf, sizeof buf, 0);
      if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
        return;
    }
}

static int64_t
min64 (int64_t a, int64_t b)
{
  return a < b ? a : b;
}

static void
connection_loop (struct cli *cli, int64_t login_deadline)
{
  bool interactive = cli->opt->mode == CLI_MODE_INTERACTIVE;
  sig_atomic_t signals_seen = signal_count;

  for (;;)
    {
      struct pollfd pfd[2];
      nfds_t nfds = 1;
      int64_t now;
      int64_t next;
      struct timespec ts;
      int rc;

      if (cli->outcome != OUT_NONE)
        return;

      if (signal_count != signals_seen)
        {
          signals_seen = signal_count;
          if (cli->want_quit || !cli->logged_in)
            {
              decide (cli, OUT_SIGNAL);
              return;
            }
          begin_quit (cli, OUT_SIGNAL);
        }

      if (interactive && cli->logged_in && !cli->want_quit)
        {
          process_input (cli);
          if (cli->stdin_eof && cli->n_pend == 0)
            begin_quit (cli, OUT_DONE);
        }

      now = net_now_ms ();
      if (cli->want_quit && !cli->quitting)
        {
          if (sc_client_quit (cli->client) < 0)
            {
              decide (cli, cli->quit_outcome);
              return;
            }
          cli->quitting = true;
          cli->quit_deadline = now + QUIT_GRACE_MS;
        }

      rc = flush_output (cli);
      if (rc < 0)
        {
          lose (cli, strerror (-rc));
          return;
        }
      if (cli->quitting && pending_output (cli) == 0)
        {
          close_gracefully (cli);
          decide (cli, cli->quit_outcome);
          return;
        }

      if (cli->quitting && now >= cli->quit_deadline)
        {
          decide (cli, cli->quit_outcome);
          return;
        }
      if (!cli->logged_in && now >= login_deadline)
        {
          int64_t t = cli->opt->connect_timeout_ms;

          if (t % 1000 == 0)
            set_reason (cli, "no answer from the server within %lld s",
                        (long long) (t / 1000));
          else
            set_reason (cli, "no answer from the server within %.3g s",
                        (double) t / 1000.0);
          decide (cli, OUT_LOST);
          return;
        }
      if (cli->mode_deadline > 0 && now >= cli->mode_deadline &&
          !cli->want_quit)
        {
          if (!cli->logged_in)
            {
              decide (cli, OUT_TIMEOUT);
              return;
            }
          begin_quit (cli, OUT_TIMEOUT);
          continue;
        }

      if (cli->send_retry_at > 0 && now >= cli->send_retry_at &&
          !cli->want_quit)
        {
          cli->send_retry_at = 0;
          scripted_send (cli);
          continue;
        }

      next = sc_client_tick (cli->client, now);
      if (cli->outcome != OUT_NONE)
        return;
      if (pending_output (cli) > 0)
        {
          rc = flush_output (cli);
          if (rc < 0)
            {
              lose (cli, strerror (-rc));
              return;
            }
        }

      if (!cli->logged_in)
        next = min64 (next, login_deadline);
      if (cli->mode_deadline > 0 && !cli->want_quit)
        next = min64 (next, cli->mode_deadline);
      if (cli->quitting)
        next = min64 (next, cli->quit_deadline);
      if (cli->send_retry_at > 0 && !cli->want_quit)
        next = min64 (next, cli->send_retry_at);
      if (next == SC_CLIENT_NO_DEADLINE)
        next = now + 3600 * 1000;
      if (next < now)
        next = now;

      pfd[0].fd = cli->fd;
      pfd[0].events = POLLIN;
      pfd[0].revents = 0;
      if (pending_output (cli) > 0)
        pfd[0].events |= POLLOUT;
      if (interactive && cli->logged_in && !cli->want_quit && !cli->stdin_eof &&
          !lines_ready (cli->in))
        {
          pfd[1].fd = STDIN_FILENO;
          pfd[1].events = POLLIN;
          pfd[1].revents = 0;
          nfds = 2;
        }
      ts.tv_sec = (time_t) ((next - now) / 1000);
      ts.tv_nsec = (long) ((next - now) % 1000) * 1000000;
      rc = ppoll (pfd, nfds, &ts, &cli->wait_mask);
      if (rc < 0)
        {
          if (errno == EINTR)
            continue;
          set_reason (cli, "poll: %s", strerror (errno));
          decide (cli, OUT_LOCAL_ERROR);
          return;
        }
      if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
        read_socket (cli);
      if (nfds > 1 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
        {
          /* End of input shows as LINES_EOF once the lines before it
           * are done. */
          if (lines_fill (cli->in) < 0)
            cli->stdin_eof = true;
        }
    }
}

static enum outcome
run_connection (struct cli *cli)
{
  struct sc_client_config cfg = {
    .user = cli->opt->user,
    .password = cli->password,
    .agent = AGENT,
    .e2e = cli->e2e,
  };
  int64_t now = net_now_ms ();
  int64_t deadline = now + cli->opt->connect_timeout_ms;
  enum outcome out;
  int rc;

  cli->fd = -1;
  cli->client = NULL;
  cli->logged_in = false;
  cli->outcome = OUT_NONE;
  cli->want_quit = false;
  cli->quitting = false;
  cli->quit_outcome = OUT_NONE;
  cli->retry_after_ms = 0;
  cli->reason[0] = '\0';
  cli->keys_ready = false;
  drop_early_list (cli);
  cli->verify_peer[0] = '\0';
  cli->send_retry_at = 0;

  if (cli->mode_deadline > 0)
    deadline = min64 (deadline, cli->mode_deadline);
  rc = net_connect (cli->opt->host, cli->opt->port, deadline, &cli->wait_mask,
                    &cli->fd, cli->reason, sizeof cli->reason);
  if (rc == NET_INTERRUPTED)
    return OUT_SIGNAL;
  if (rc < 0)
    {
      if (cli->mode_deadline > 0 && net_now_ms () >= cli->mode_deadline)
        return OUT_TIMEOUT;
      return OUT_CONNECT_FAILED;
    }

  rc = sc_client_new (&cfg, &cli_callbacks, cli, &cli->client);
  if (rc == SC_OK)
    rc = sc_client_start (cli->client, net_now_ms ());
  if (rc < 0)
    {
      set_reason (cli, "cannot start a session: %s", sc_strerror (rc));
      out = OUT_LOCAL_ERROR;
    }
  else
    {
      connection_loop (cli, net_now_ms () + cli->opt->connect_timeout_ms);
      out = cli->outcome;
    }
  sc_client_free (cli->client);
  cli->client = NULL;
  close (cli->fd);
  cli->fd = -1;
  return out;
}

/* ---- modes ---- */

/* Prints why the run ended and returns the exit status. */
static int
final_status (struct cli *cli, enum outcome out)
{
  const char *server = cli->opt->key;

  switch (out)
    {
    case OUT_DONE:
      return CLI_EXIT_OK;
    case OUT_CONNECT_FAILED:
      fprintf (stderr, "cannot connect to %s: %s\n", server, cli->reason);
      return CLI_EXIT_CONNECT;
    case OUT_LOST:
      fprintf (stderr, "connection to %s %s: %s\n", server,
               cli->logged_in ? "lost" : "failed", cli->reason);
      return CLI_EXIT_CONNECT;
    case OUT_BUSY:
      fprintf (stderr, "cannot log in to %s: %s\n", server, cli->reason);
      return CLI_EXIT_CONNECT;
    case OUT_REPLACED:
      fprintf (stderr, "connection to %s closed: %s\n", server, cli->reason);
      return CLI_EXIT_CONNECT;
    case OUT_AUTH:
      fprintf (stderr, "%s\n", cli->reason);
      return CLI_EXIT_AUTH;
    case OUT_KEY_MISMATCH:
      /* The warning is already out. */
      return CLI_EXIT_KEY;
    case OUT_UNSUPPORTED:
      fprintf (stderr, "cannot talk to %s: %s\n", server, cli->reason);
      return CLI_EXIT_FAILURE;
    case OUT_UNDELIVERED:
      fprintf (stderr, "%s\n", cli->reason);
      return CLI_EXIT_UNDELIVERED;
    case OUT_TIMEOUT:
      if (cli->opt->count > 0)
        fprintf (stderr, "timeout: got %llu of %llu messages\n",
                 (unsigned long long) cli->received,
                 (unsigned long long) cli->opt->count);
      else
        fprintf (stderr, "timeout: got %llu messages\n",
                 (unsigned long long) cli->received);
      return CLI_EXIT_TIMEOUT;
    case OUT_LOCAL_ERROR:
      fprintf (stderr, "%s\n", cli->reason);
      return CLI_EXIT_FAILURE;
    case OUT_SIGNAL:
    case OUT_NONE:
    default:
      return CLI_EXIT_FAILURE;
    }
}

enum wait_result
{
  WAIT_RETRY,
  WAIT_QUIT,
  WAIT_SIGNAL,
};

/* Between two connections: the timer, Enter, /quit or a signal. */
static enum wait_result
backoff_wait (struct cli *cli, int64_t delay_ms)
{
  int64_t deadline = net_now_ms () + delay_ms;
  sig_atomic_t signals_seen = signal_count;

  for (;;)
    {
      struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
      struct timespec ts;
      int64_t left;
      char *line = NULL;
      size_t len = 0;
      enum lines_result r;
      int rc;

      while ((r = lines_next (cli->in, &line, &len)) != LINES_NONE)
        {
          if (r == LINES_EOF)
            {
              cli->stdin_eof = true;
              return WAIT_QUIT;
            }
          if (r != LINES_LINE)
            continue;
          if (len == 0)
            return WAIT_RETRY;
          if (strcmp (line, "/quit") == 0)
            return WAIT_QUIT;
          say ("! not connected: press Enter to reconnect now, or type "
               "/quit");
        }
      if (cli->stdin_eof)
        return WAIT_QUIT;
      if (signal_count != signals_seen)
        return WAIT_SIGNAL;
      left = deadline - net_now_ms ();
      if (left <= 0)
        return WAIT_RETRY;
      ts.tv_sec = (time_t) (left / 1000);
      ts.tv_nsec = (long) (left % 1000) * 1000000;
      rc = ppoll (&pfd, 1, &ts, &cli->wait_mask);
      if (rc < 0 && errno != EINTR)
        return WAIT_QUIT;
      if (rc > 0 && lines_fill (cli->in) < 0)
        cli->stdin_eof = true;
    }
}

/* 1 s doubling to 30 s, each within 10 % either way at random, so that
 * clients dropped together do not all come back at once. */
static int64_t
backoff_delay (struct cli *cli)
{
  int64_t base = BACKOFF_FIRST_MS;
  uint16_t r = 32768;
  int64_t delay;

  for (unsigned i = 0; i < cli->backoff_attempt && base < BACKOFF_MAX_MS; i++)
    base *= 2;
  if (base > BACKOFF_MAX_MS)
    base = BACKOFF_MAX_MS;
  if (cli->backoff_attempt < 64)
    cli->backoff_attempt++;
  if (sc_random (&r, sizeof r) != SC_OK)
    r = 32768;
  delay = base - base / 10 + base / 5 * r / 65535;
  return delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay;
}

static int
run_interactive (struct cli *cli)
{
  for (;;)
    {
      enum outcome out = run_connection (cli);
      bool was_logged_in = cli->logged_in;
      int64_t delay;
      enum wait_result w;

      /* Sends that got no answer on that connection. */
      for (size_t i = 0; i < cli->n_pend && out != OUT_DONE; i++)
        say ("! message to %s: no answer before the connection ended; it "
             "may not have been delivered",
             cli->pend[i].to);
      cli->n_pend = 0;

      switch (out)
        {
        case OUT_CONNECT_FAILED:
        case OUT_LOST:
        case OUT_BUSY:
          break;
        case OUT_SIGNAL:
          return -1;
        case OUT_REPLACED:
          fprintf (stderr, "connection to %s closed: %s; not reconnecting\n",
                   cli->opt->key, cli->reason);
          return CLI_EXIT_CONNECT;
        default:
          return final_status (cli, out);
        }
      /* Only a session that worked once is worth retrying. */
      if (!cli->ever_logged_in)
        return final_status (cli, out);

      delay = backoff_delay (cli);
      if (out == OUT_BUSY && cli->retry_after_ms > delay)
        delay = cli->retry_after_ms;
      if (out == OUT_CONNECT_FAILED)
        {
          char why[sizeof cli->reason + 32];

          snprintf (why, sizeof why, "cannot connect: %s", cli->reason);
          set_reason (cli, "%s", why);
        }
      say ("%s (%s); reconnecting in %lld s — press Enter to retry now",
           was_logged_in ? "connection lost" : "reconnection failed",
           cli->reason, (long long) (delay + 500) / 1000);
      w = backoff_wait (cli, delay);
      if (w == WAIT_QUIT)
        return CLI_EXIT_OK;
      if (w == WAIT_SIGNAL)
        return -1;
      say ("reconnecting to %s...", cli->opt->key);
    }
}

static int
run_once (struct cli *cli)
{
  enum outcome out = run_connection (cli);

  if (out == OUT_SIGNAL)
    return -1;
  return final_status (cli, out);
}

/* ---- start-up ---- */

static int
read_password (struct cli *cli)
{
  const struct cli_options *o = cli->opt;
  size_t len = 0;
  int rc;

  if (o->password_file != NULL)
    {
      bool loose = false;

      rc = prompt_password_file (o->password_file, cli->password,
                                 sizeof cli->password, &len, &loose);
      if (rc == -EMSGSIZE)
        {
          fprintf (stderr, "password in %s is too long (at most %d bytes)\n",
                   o->password_file, SC_PASSWORD_MAX);
          return -1;
        }
      if (rc < 0)
        {
          fprintf (stderr, "cannot read password file %s: %s\n",
                   o->password_file, strerror (-rc));
          return -1;
        }
      if (loose)
        fprintf (stderr,
                 "warning: password file %s is readable by other "
                 "users\n",
                 o->password_file);
    }
  else if (!isatty (STDIN_FILENO))
    {
      rc = prompt_password_lines (cli->in, cli->password, sizeof cli->password,
                                  &len);
      if (rc == -ENODATA)
        {
          fprintf (stderr, "no password on standard input (give one line, "
                           "or use --password-file)\n");
          return -1;
        }
      if (rc == -EMSGSIZE)
        {
          fprintf (stderr, "password too long (at most %d bytes)\n",
                   SC_PASSWORD_MAX);
          return -1;
        }
      if (rc < 0)
        {
          fprintf (stderr, "cannot read the password: %s\n", strerror (-rc));
          return -1;
        }
    }
  else
    {
      char prompt[SC_USERNAME_MAX + NET_KEY_MAX + 32];

      snprintf (prompt, sizeof prompt, "Password for %s@%s: ", o->user, o->key);
      rc = prompt_password_tty (STDIN_FILENO, prompt, cli->password,
                                sizeof cli->password, &len);
      if (rc == -EMSGSIZE)
        {
          fprintf (stderr, "password too long (at most %d bytes)\n",
                   SC_PASSWORD_MAX);
          return -1;
        }
      if (rc < 0)
        {
          fprintf (stderr, "no password given\n");
          return -1;
        }
    }
  cli->password_len = len;
  if (sc_password_validate (cli->password, len) < 0)
    {
      fprintf (stderr,
               "invalid password: it must be 1 to %d bytes of UTF-8 "
               "without NUL\n",
               SC_PASSWORD_MAX);
      return -1;
    }
  return 0;
}

static void
install_signals (struct cli *cli)
{
  struct sigaction sa;
  sigset_t block;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigemptyset (&block);
  for (size_t i = 0; i < sizeof handled_signals / sizeof handled_signals[0];
       i++)
    {
      sigaction (handled_signals[i], &sa, NULL);
      sigaddset (&block, handled_signals[i]);
    }
  /* Delivered only while waiting in ppoll, so that no wakeup is lost. */
  sigprocmask (SIG_BLOCK, &block, &cli->wait_mask);
  for (size_t i = 0; i < sizeof handled_signals / sizeof handled_signals[0];
       i++)
    sigdelset (&cli->wait_mask, handled_signals[i]);
}

/* Opens the key store and the end-to-end manager for this account. */
static int
open_e2e (struct cli *cli)
{
  int rc;

  cli->data_dir = account_dir_path (cli->opt->key, cli->opt->user);
  if (cli->data_dir == NULL)
    {
      fprintf (stderr, "cannot locate the data folder for your keys (set "
                       "HOME or XDG_DATA_HOME)\n");
      return -1;
    }
  rc = sc_keystore_open (cli->data_dir, &cli->store);
  if (rc < 0)
    {
      int e = errno;

      if (rc == SC_ERR_STORAGE && e == EPERM)
        fprintf (stderr,
                 "cannot use the key folder %s: other users can access it "
                 "(chmod 700 it)\n",
                 cli->data_dir);
      else if (rc == SC_ERR_STORAGE)
        fprintf (stderr, "cannot open the key folder %s: %s\n", cli->data_dir,
                 strerror (e));
      else
        fprintf (stderr, "cannot open the key folder %s: %s\n", cli->data_dir,
                 sc_strerror (rc));
      return -1;
    }
  rc = sc_e2e_open (sc_keystore_storage (cli->store), cli->opt->key,
                    cli->opt->user, &cli->e2e);
  if (rc == SC_ERR_STATE)
    {
      fprintf (stderr, "the key folder %s belongs to another account\n",
               cli->data_dir);
      return -1;
    }
  if (rc < 0)
    {
      const char *why = sc_keystore_last_error (cli->store);

      fprintf (stderr, "cannot read your keys in %s: %s\n", cli->data_dir,
               why[0] != '\0' ? why : sc_strerror (rc));
      return -1;
    }
  return 0;
}

/* verify and accept when no connection is needed: the exit status, or -1
 * when the server must be asked (verify of a user not known yet). */
static int
run_offline (struct cli *cli)
{
  const char *name = cli->opt->to;
  char cmd[NET_KEY_MAX + SC_USERNAME_MAX + 64];
  struct sc_e2e_contact c;
  int rc;

  command_prefix (cli, cmd, sizeof cmd);
  if (strcmp (name, cli->opt->user) == 0)
    {
      fprintf (stderr, "%s is you\n", name);
      return CLI_EXIT_FAILURE;
    }
  rc = sc_e2e_contact (cli->e2e, name, &c);
  if (rc == SC_ERR_NOT_FOUND)
    {
      if (cli->opt->mode == CLI_MODE_VERIFY && !cli->opt->confirm)
        return -1;
      fprintf (stderr, "no key known for %s%s\n", name,
               cli->opt->mode == CLI_MODE_VERIFY
                   ? " (run verify NAME without confirm first)"
                   : "");
      return CLI_EXIT_FAILURE;
    }
  if (rc < 0)
    {
      fprintf (stderr, "cannot read %s's key: %s\n", name, sc_strerror (rc));
      return CLI_EXIT_FAILURE;
    }

  if (cli->opt->mode == CLI_MODE_ACCEPT)
    {
      if (!c.changed)
        {
          fprintf (stderr,
                   "%s's identity key has not changed; nothing to "
                   "accept\n",
                   name);
          return CLI_EXIT_OK;
        }
      rc = sc_e2e_accept_identity (cli->e2e, name);
      if (rc < 0)
        {
          fprintf (stderr, "cannot accept %s's key: %s\n", name,
                   sc_strerror (rc));
          return CLI_EXIT_FAILURE;
        }
      fprintf (stderr,
               "accepted %s's new identity key; it is not verified (compare "
               "the safety number: %s verify %s)\n",
               name, cmd, name);
      return CLI_EXIT_OK;
    }

  if (cli->opt->confirm)
    {
      rc = sc_e2e_set_verified (cli->e2e, name, true);
      if (rc == SC_ERR_IDENTITY_CHANGED)
        {
          fprintf (stderr,
                   "%s's identity key changed; compare the safety number, "
                   "then run %s accept %s first\n",
                   name, cmd, name);
          return CLI_EXIT_FAILURE;
        }
      if (rc < 0)
        {
          fprintf (stderr, "cannot mark %s verified: %s\n", name,
                   sc_strerror (rc));
          return CLI_EXIT_FAILURE;
        }
      fprintf (stderr, "%s is now marked verified\n", name);
      return CLI_EXIT_OK;
    }
  {
    char sn[SC_SAFETY_NUMBER_TEXT_LEN + 1];

    rc = sc_e2e_safety_number (cli->e2e, name, sn);
    if (rc < 0)
      {
        fprintf (stderr, "cannot compute the safety number with %s: %s\n", name,
                 sc_strerror (rc));
        return CLI_EXIT_FAILURE;
      }
    if (printf ("%s\n", sn) < 0 || fflush (stdout) != 0)
      return CLI_EXIT_FAILURE;
  }
  if (c.changed)
    fprintf (stderr,
             "this is the number for %s's NEW identity key; if it matches, "
             "run %s accept %s\n",
             name, cmd, name);
  return CLI_EXIT_OK;
}

/* Ends the process the way the signal would have. */
static void
die_by_signal (int sig)
{
  sigset_t set;

  signal (sig, SIG_DFL);
  sigemptyset (&set);
  sigaddset (&set, sig);
  sigprocmask (SIG_UNBLOCK, &set, NULL);
  raise (sig);
}

int
cli_main (int argc, char **argv)
{
  struct cli_options opt;
  struct cli *cli;
  char err[256];
  int status;

  if (cli_parse_args (argc, argv, &opt, err, sizeof err) < 0)
    {
      fprintf (stderr,
               PROG ": %s\nTry '" PROG " --help' for more "
                    "information.\n",
               err);
      return CLI_EXIT_USAGE;
    }
  if (opt.help)
    {
      cli_usage (stdout);
      return fflush (stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
  if (opt.version)
    {
      printf (PROG " %s\n", SC_VERSION);
      return fflush (stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }

  if (sc_init () < 0)
    {
      fprintf (stderr, "cannot initialise the crypto libraries\n");
      return CLI_EXIT_FAILURE;
    }
  signal (SIGPIPE, SIG_IGN);
  cli = calloc (1, sizeof *cli);
  if (cli == NULL)
    {
      fprintf (stderr, "out of memory\n");
      return CLI_EXIT_FAILURE;
    }
  cli->opt = &opt;
  cli->fd = -1;
  cli->in = lines_new (STDIN_FILENO, INPUT_LINE_MAX);
  if (cli->in == NULL)
    {
      fprintf (stderr, "out of memory\n");
      free (cli);
      return CLI_EXIT_FAILURE;
    }
  if (opt.fingerprint[0] == '\0')
    cli->ks_path = known_servers_default_path ();
  if (opt.timeout_ms > 0)
    cli->mode_deadline = net_now_ms () + opt.timeout_ms;

  status = -1;
  if (open_e2e (cli) < 0)
    status = CLI_EXIT_FAILURE;
  else if (opt.mode == CLI_MODE_VERIFY || opt.mode == CLI_MODE_ACCEPT)
    status = run_offline (cli);
  if (status >= 0)
    ; /* done without the server */
  else if (read_password (cli) < 0)
    status = CLI_EXIT_FAILURE;
  else
    {
      install_signals (cli);
      if (opt.mode == CLI_MODE_INTERACTIVE)
        status = run_interactive (cli);
      else
        status = run_once (cli);
    }

  sc_wipe (cli->password, sizeof cli->password);
  lines_free (cli->in);
  free (cli->ks_path);
  free (cli->pend);
  drop_early_list (cli);
  sc_e2e_free (cli->e2e);
  sc_keystore_free (cli->store);
  free (cli->data_dir);
  free (cli);
  fflush (stdout);
  if (status < 0)
    {
      die_by_signal (last_signal);
      status = 128 + last_signal;
    }
  return status;
}
