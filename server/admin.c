/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The securechatd command line. One function per subcommand, each with its
 * own getopt_long table; messages for people go to stderr, results that a
 * script may read (a fingerprint, the user list) go to stdout alone.
 *
 * Passwords are read without echo from a terminal (asked twice), or as
 * exactly one line from stdin otherwise. While echo is off, the signals
 * that end or stop the process are caught only to restore the terminal
 * first and then take their usual effect (the way OpenBSD's
 * readpassphrase does it). */
#include "admin.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "keyfile.h"
#include "log.h"
#include "prekeys.h"
#include "server.h"
#include "store.h"
#include "securechat/crypto.h"
#include "securechat/fingerprint.h"
#include "securechat/msg.h"

#define PROG "securechatd"

#define DATA_DIR_HELP                                                          \
  "  -d, --data-dir=DIR  the data folder (default: $STATE_DIRECTORY if set,\n" \
  "                      else " ADMIN_DEFAULT_DATA_DIR ")\n"

#define COMMON_HELP                                                            \
  "  -h, --help          show this help and exit\n"                            \
  "  -V, --version       show the version and exit\n"

static const char main_help[] =
    "Usage: " PROG " [COMMAND] [OPTION...]\n"
    "\n"
    "The SecureChat server. Without a command it serves clients, as \"run\".\n"
    "\n"
    "Commands:\n"
    "  run               serve clients (the default)\n"
    "  init              create the data folder, the server key and an\n"
    "                    empty user list; print the key's fingerprint\n"
    "  useradd NAME      add a user\n"
    "  passwd NAME       change a user's password\n"
    "  userdel NAME      delete a user\n"
    "  users             list the users, one per line\n"
    "  fingerprint       print the server key's fingerprint\n"
    "  help [COMMAND]    show this help, or the help of COMMAND\n"
    "\n"
    "Options:\n" DATA_DIR_HELP COMMON_HELP "\n"
    "Run \"" PROG " COMMAND --help\" for the options of a command.\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static const char run_help[] =
    "Usage: " PROG " run [OPTION...]\n"
    "\n"
    "Serve clients until SIGINT or SIGTERM; SIGHUP reloads the user list.\n"
    "Settings are the defaults, then DIR/" CONFIG_FILE_NAME " if it exists\n"
    "(or the --config FILE, which must exist), then --listen.\n"
    "\n"
    "Options:\n" DATA_DIR_HELP
    "  -l, --listen=HOST:PORT  listen on HOST:PORT, or [IPV6]:PORT\n"
    "                      (default " CONFIG_DEFAULT_LISTEN ")\n"
    "  -c, --config=FILE   read the settings from FILE\n"
    "      --check-config  check the settings, the server key and the user\n"
    "                      list, then exit (0 when all are valid)\n"
    "  -v, --verbose       log debug messages too\n"
    "  -q, --quiet         log only warnings and errors\n" COMMON_HELP;

static const char init_help[] =
    "Usage: " PROG " init [OPTION...]\n"
    "\n"
    "Create the data folder (mode 0700), the server's key (server.key,\n"
    "0600) and an empty user list (credentials.json, 0600), then print the\n"
    "key's fingerprint for users to pin. An existing key is never replaced;\n"
    "an existing user list is kept.\n"
    "\n"
    "Options:\n" DATA_DIR_HELP COMMON_HELP;

static const char useradd_help[] =
    "Usage: " PROG " useradd [OPTION...] NAME\n"
    "\n"
    "Add the user NAME: 1 to 32 characters from a-z, 0-9, '.', '_', '-',\n"
    "starting with a letter or a digit. On a terminal the password is\n"
    "asked twice without echo; otherwise it is read as one line from\n"
    "standard input (the final newline is not part of it). Passwords are\n"
    "1 to 511 bytes of UTF-8 without NUL.\n"
    "\n"
    "Options:\n" DATA_DIR_HELP COMMON_HELP;

static const char passwd_help[] =
    "Usage: " PROG " passwd [OPTION...] NAME\n"
    "\n"
    "Change the password of the existing user NAME. The password is read\n"
    "as for useradd: twice without echo on a terminal, else one line from\n"
    "standard input.\n"
    "\n"
    "Options:\n" DATA_DIR_HELP COMMON_HELP;

static const char userdel_help[] =
    "Usage: " PROG " userdel [OPTION...] NAME\n"
    "\n"
    "Delete the user NAME. A running server refuses NAME's next login;\n"
    "sessions already open stay open until they end. NAME's published\n"
    "prekeys (DIR/" PREKEYS_DIR_NAME "/NAME.json) are deleted too, so that an\n"
    "account added later under the same name does not hand out the old\n"
    "user's keys.\n"
    "\n"
    "Options:\n" DATA_DIR_HELP COMMON_HELP;

static const char users_help[] =
    "Usage: " PROG " users [OPTION...]\n"
    "\n"
    "List the users, one name per line, in byte order.\n"
    "\n"
    "Options:\n" DATA_DIR_HELP COMMON_HELP;

static const char fingerprint_help[] =
    "Usage: " PROG " fingerprint [OPTION...]\n"
    "\n"
    "Print the fingerprint of the server key (SHA256:..., as clients show\n"
    "it) on one line.\n"
    "\n"
    "Options:\n" DATA_DIR_HELP COMMON_HELP;

static const char help_help[] =
    "Usage: " PROG " help [COMMAND]\n"
    "\n"
    "Show the list of commands, or the help of COMMAND.\n";

/* ---- small helpers ---- */

static void errorf (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));

static void
errorf (const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  fprintf (stderr, PROG ": %s\n", msg);
}

/* A path or a name, made safe to print. */
static const char *
shown (const char *s, char *buf, size_t cap)
{
  return log_escape (s, strlen (s), buf, cap);
}

static int
usage_error (const char *help)
{
  fputs (help, stderr);
  return ADMIN_EXIT_USAGE;
}

static int
show_help (const char *help)
{
  fputs (help, stdout);
  return ADMIN_EXIT_OK;
}

static int
show_version (void)
{
  printf (PROG " %s\n", SC_VERSION);
  return ADMIN_EXIT_OK;
}

/* $STATE_DIRECTORY (its first entry: systemd separates several with ':'),
 * else ./securechat-data. */
static const char *
default_data_dir (char *buf, size_t cap)
{
  const char *env = getenv ("STATE_DIRECTORY");
  size_t len;

  if (env == NULL || *env == '\0')
    return ADMIN_DEFAULT_DATA_DIR;
  len = strcspn (env, ":");
  if (len == 0 || len >= cap)
    return ADMIN_DEFAULT_DATA_DIR;
  memcpy (buf, env, len);
  buf[len] = '\0';
  return buf;
}

static int
join_path (char *out, size_t cap, const char *dir, const char *name)
{
  char s[256];
  int n = snprintf (out, cap, "%s/%s", dir, name);

  if (n < 0 || (size_t) n >= cap)
    {
      errorf ("path too long: %s/%s", shown (dir, s, sizeof s), name);
      return -1;
    }
  return 0;
}

static int
validate_username (const char *name)
{
  char s[128];

  if (sc_username_validate (name, strlen (name)) != 0)
    {
      errorf ("invalid user name \"%s\": use 1 to %d characters from a-z, "
              "0-9, '.', '_' and '-', starting with a letter or a digit",
              shown (name, s, sizeof s), SC_USERNAME_MAX);
      return -1;
    }
  return 0;
}

static void
warn_loose_dir (const char *dir, const struct stat *st)
{
  char s[256];

  if ((st->st_mode & 077) != 0)
    errorf ("warning: %s is accessible by group or others (mode %04o); "
            "chmod 700 it to keep the server key private",
            shown (dir, s, sizeof s), (unsigned) (st->st_mode & 07777));
}

/* The data folder must exist and be a folder. */
static int
check_data_dir (const char *dir)
{
  struct stat st;
  char s[256];

  if (stat (dir, &st) != 0)
    {
      if (errno == ENOENT)
        errorf ("the data folder %s does not exist; create it with \"" PROG
                " init --data-dir %s\"",
                shown (dir, s, sizeof s), s);
      else
        errorf ("cannot use the data folder %s: %s", shown (dir, s, sizeof s),
                strerror (errno));
      return -1;
    }
  if (!S_ISDIR (st.st_mode))
    {
      errorf ("%s is not a folder", shown (dir, s, sizeof s));
      return -1;
    }
  warn_loose_dir (dir, &st);
  return 0;
}

static int
open_store (const char *dir, struct store **out)
{
  char path[PATH_MAX], err[1024], s[256];
  struct stat st;

  if (join_path (path, sizeof path, dir, STORE_FILE_NAME) != 0)
    return -1;
  if (stat (path, &st) != 0 && errno == ENOENT)
    {
      errorf ("%s does not exist; run \"" PROG " init --data-dir %s\" first",
              shown (path, s, sizeof s), shown (dir, err, sizeof err));
      return -1;
    }
  if (store_open (path, out, err, sizeof err) != 0)
    {
      errorf ("%s", err);
      return -1;
    }
  return 0;
}

/* Subcommand argument parsing: builds "securechatd CMD" as argv[0] so that
 * getopt's own messages name the command. */
struct subargs
{
  int argc;
  char **argv;
  const char *cmd;
  char name[64];
};

static int
subargs_init (struct subargs *sa, const char *cmd, int argc, char **argv)
{
  int i;

  sa->cmd = cmd;
  snprintf (sa->name, sizeof sa->name, PROG " %s", cmd);
  sa->argc = argc;
  sa->argv = calloc ((size_t) argc + 1, sizeof *sa->argv);
  if (sa->argv == NULL)
    {
      errorf ("out of memory");
      return -1;
    }
  sa->argv[0] = sa->name;
  for (i = 1; i < argc; i++)
    sa->argv[i] = argv[i];
  sa->argv[argc] = NULL;
  optind = 0; /* full getopt reset (GNU) */
  opterr = 1;
  return 0;
}

static void
subargs_clear (struct subargs *sa)
{
  free (sa->argv);
  sa->argv = NULL;
}

enum
{
  OPT_CHECK_CONFIG = 256,
};

/* Options every command but "help" takes. */
#define COMMON_LONG_OPTIONS                                                    \
  { "data-dir", required_argument, NULL, 'd' },                                \
      { "help", no_argument, NULL, 'h' },                                      \
  {                                                                            \
    "version", no_argument, NULL, 'V'                                          \
  }

struct common_opts
{
  const char *data_dir;
  char env_dir[PATH_MAX];
};

/* Parses the options of a command that takes only the common ones, and
 * n_pos positional arguments, and answers --help and --version. Returns true
 * when that ends the command (--help, --version or a usage error), with its
 * exit status in *status. */
static bool
parse_simple (struct subargs *sa,
              const char *help,
              struct common_opts *co,
              int n_pos,
              char **pos,
              int *status)
{
  static const struct option longopts[] = { COMMON_LONG_OPTIONS,
                                            { NULL, 0, NULL, 0 } };
  bool want_help = false, want_version = false;
  int c, i;

  co->data_dir = NULL;
  while ((c = getopt_long (sa->argc, sa->argv, "d:hV", longopts, NULL)) != -1)
    switch (c)
      {
      case 'd':
        co->data_dir = optarg;
        break;
      case 'h':
        want_help = true;
        break;
      case 'V':
        want_version = true;
        break;
      default:
        *status = usage_error (help);
        return true;
      }
  if (want_help)
    {
      *status = show_help (help);
      return true;
    }
  if (want_version)
    {
      *status = show_version ();
      return true;
    }
  if (sa->argc - optind != n_pos)
    {
      if (sa->argc - optind < n_pos)
        errorf ("%s: missing argument", sa->cmd);
      else
        {
          char s[128];
          errorf ("%s: unexpected argument \"%s\"", sa->cmd,
                  shown (sa->argv[optind + n_pos], s, sizeof s));
        }
      *status = usage_error (help);
      return true;
    }
  for (i = 0; i < n_pos; i++)
    pos[i] = sa->argv[optind + i];
  if (co->data_dir == NULL)
    co->data_dir = default_data_dir (co->env_dir, sizeof co->env_dir);
  if (*co->data_dir == '\0')
    {
      errorf ("%s: --data-dir must not be empty", sa->cmd);
      *status = usage_error (help);
      return true;
    }
  return false;
}

/* ---- passwords ---- */

int
admin_check_password (const char *pw, size_t len, char *err, size_t err_cap)
{
  const char *msg = NULL;

  if (len == 0)
    msg = "the password is empty";
  else if (memchr (pw, '\0', len) != NULL)
    msg = "the password contains a NUL byte";
  else if (len > SC_PASSWORD_MAX)
    msg = "the password is too long (more than 1024 bytes)";
  else if (len > AUTH_PASSWORD_MAX)
    msg = "the password is too long: crypt(3) takes at most 511 bytes";
  else if (sc_password_validate (pw, len) != 0)
    msg = "the password is not valid UTF-8";
  if (msg == NULL)
    return 0;
  snprintf (err, err_cap, "%s", msg);
  return -1;
}

int
admin_read_password_line (
    int fd, char *buf, size_t cap, size_t *len, char *err, size_t err_cap)
{
  size_t n = 0;
  bool got_any = false, newline = false;

  *len = 0;
  if (cap < 2)
    {
      snprintf (err, err_cap, "internal error: buffer too small");
      return -1;
    }
  /* One byte at a time: nothing after the line is consumed. */
  for (;;)
    {
      char c;
      ssize_t r = read (fd, &c, 1);

      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          snprintf (err, err_cap, "cannot read the password: %s",
                    strerror (errno));
          goto fail;
        }
      if (r == 0)
        break;
      got_any = true;
      if (c == '\n')
        {
          newline = true;
          break;
        }
      if (n + 1 >= cap)
        {
          snprintf (err, err_cap,
                    "the password is too long (more than %d bytes)",
                    SC_PASSWORD_MAX);
          goto fail;
        }
      buf[n++] = c;
    }
  if (!got_any)
    {
      snprintf (err, err_cap, "no password on standard input");
      goto fail;
    }
  if (newline && n > 0 && buf[n - 1] == '\r')
    n--;
  buf[n] = '\0';
  *len = n;
  return 0;

fail:
  sc_wipe (buf, cap);
  return -1;
}

static const int tty_signals[] = { SIGALRM, SIGHUP,  SIGINT,  SIGPIPE, SIGQUIT,
                                   SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU };
#define N_TTY_SIGNALS (sizeof tty_signals / sizeof tty_signals[0])

static volatile sig_atomic_t tty_caught[N_TTY_SIGNALS];

static void
tty_signal_cb (int sig)
{
  size_t i;

  for (i = 0; i < N_TTY_SIGNALS; i++)
    if (tty_signals[i] == sig)
      tty_caught[i] = 1;
}

/* Prompts on stderr and reads one line from the terminal on stdin with
 * echo off. Returns 0, or -1 with err set. */
static int
read_password_tty (const char *prompt,
                   char *buf,
                   size_t cap,
                   size_t *len,
                   char *err,
                   size_t err_cap)
{
  struct sigaction sa, old[N_TTY_SIGNALS];
  struct termios saved, quiet;
  bool restart, interrupted, too_long;
  int read_errno;
  size_t i, n;

  *len = 0;
  do
    {
      restart = interrupted = too_long = false;
      read_errno = 0;
      n = 0;
      for (i = 0; i < N_TTY_SIGNALS; i++)
        tty_caught[i] = 0;
      if (tcgetattr (STDIN_FILENO, &saved) != 0)
        {
          snprintf (err, err_cap, "cannot read the terminal settings: %s",
                    strerror (errno));
          return -1;
        }

      /* No SA_RESTART: a signal interrupts the read below. */
      memset (&sa, 0, sizeof sa);
      sigemptyset (&sa.sa_mask);
      sa.sa_handler = tty_signal_cb;
      for (i = 0; i < N_TTY_SIGNALS; i++)
        sigaction (tty_signals[i], &sa, &old[i]);

      quiet = saved;
      quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
      if (tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
        {
          snprintf (err, err_cap, "cannot turn off echo: %s", strerror (errno));
          for (i = 0; i < N_TTY_SIGNALS; i++)
            sigaction (tty_signals[i], &old[i], NULL);
          return -1;
        }
      fputs (prompt, stderr);
      fflush (stderr);

      for (;;)
        {
          char c;
          ssize_t r = read (STDIN_FILENO, &c, 1);

          if (r < 0)
            {
              if (errno != EINTR)
                {
                  read_errno = errno;
                  break;
                }
              for (i = 0; i < N_TTY_SIGNALS; i++)
                if (tty_caught[i])
                  interrupted = true;
              if (interrupted)
                break;
              continue;
            }
          if (r == 0 || c == '\n')
            break;
          if (n + 1 < cap)
            buf[n++] = c;
          else
            too_long = true; /* keep reading to the end of the line */
        }

      /* Restore the terminal before anything else can happen. */
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      fputs ("\n", stderr);
      for (i = 0; i < N_TTY_SIGNALS; i++)
        sigaction (tty_signals[i], &old[i], NULL);

      /* Now let each caught signal do what it would have done. */
      for (i = 0; i < N_TTY_SIGNALS; i++)
        if (tty_caught[i])
          {
            kill (getpid (), tty_signals[i]);
            if (tty_signals[i] == SIGTSTP || tty_signals[i] == SIGTTIN ||
                tty_signals[i] == SIGTTOU)
              restart = true;
          }
      if (restart)
        sc_wipe (buf, cap);
    }
  while (restart);

  if (interrupted || read_errno != 0)
    {
      sc_wipe (buf, cap);
      if (read_errno != 0)
        snprintf (err, err_cap, "cannot read the password: %s",
                  strerror (read_errno));
      else
        snprintf (err, err_cap, "interrupted");
      return -1;
    }
  if (too_long)
    {
      sc_wipe (buf, cap);
      snprintf (err, err_cap, "the password is too long (more than %d bytes)",
                SC_PASSWORD_MAX);
      return -1;
    }
  buf[n] = '\0';
  *len = n;
  return 0;
}

/* Reads and checks a new password for user into buf. */
static int
get_new_password (
    const char *user, bool change, char *buf, size_t cap, size_t *len)
{
  char err[256];

  if (isatty (STDIN_FILENO))
    {
      char prompt[128];
      char *again = malloc (cap);
      size_t again_len = 0;
      int rc = -1;

      if (again == NULL)
        {
          errorf ("out of memory");
          return -1;
        }
      snprintf (prompt, sizeof prompt,
                "%s for %s: ", change ? "New password" : "Password", user);
      if (read_password_tty (prompt, buf, cap, len, err, sizeof err) != 0)
        errorf ("%s", err);
      else if (admin_check_password (buf, *len, err, sizeof err) != 0)
        errorf ("%s", err);
      else if (read_password_tty (change ? "Retype new password: "
                                         : "Retype password: ",
                                  again, cap, &again_len, err, sizeof err) != 0)
        errorf ("%s", err);
      else if (again_len != *len || !sc_memeq (again, buf, *len))
        errorf ("the passwords do not match");
      else
        rc = 0;
      sc_wipe (again, cap);
      free (again);
      if (rc != 0)
        sc_wipe (buf, cap);
      return rc;
    }

  if (admin_read_password_line (STDIN_FILENO, buf, cap, len, err, sizeof err) !=
          0 ||
      admin_check_password (buf, *len, err, sizeof err) != 0)
    {
      sc_wipe (buf, cap);
      errorf ("%s", err);
      return -1;
    }
  return 0;
}

/* ---- commands ---- */

static int
cmd_init (struct subargs *sa)
{
  struct common_opts co;
  char key_path[PATH_MAX], store_path[PATH_MAX], err[1024], s[256];
  char fp[SC_FINGERPRINT_LEN + 1];
  uint8_t pub[SC_X25519_LEN];
  bool store_exists = false;
  struct stat st;
  int status;

  if (parse_simple (sa, init_help, &co, 0, NULL, &status))
    return status;

  if (join_path (key_path, sizeof key_path, co.data_dir, KEYFILE_NAME) != 0 ||
      join_path (store_path, sizeof store_path, co.data_dir, STORE_FILE_NAME) !=
          0)
    return ADMIN_EXIT_FAIL;

  /* The folder: create it 0700, or accept an existing folder. */
  if (mkdir (co.data_dir, 0700) == 0)
    {
      /* The umask may have removed bits we need. */
      if (chmod (co.data_dir, 0700) != 0)
        {
          errorf ("cannot chmod %s: %s", shown (co.data_dir, s, sizeof s),
                  strerror (errno));
          return ADMIN_EXIT_FAIL;
        }
    }
  else if (errno == EEXIST)
    {
      if (stat (co.data_dir, &st) != 0 || !S_ISDIR (st.st_mode))
        {
          errorf ("%s exists and is not a folder",
                  shown (co.data_dir, s, sizeof s));
          return ADMIN_EXIT_FAIL;
        }
      warn_loose_dir (co.data_dir, &st);
    }
  else
    {
      errorf ("cannot create the data folder %s: %s",
              shown (co.data_dir, s, sizeof s), strerror (errno));
      return ADMIN_EXIT_FAIL;
    }

  /* Never replace a key: clients pinned its fingerprint. */
  if (lstat (key_path, &st) == 0)
    {
      errorf ("%s already exists; refusing to overwrite it (a new key "
              "would change the fingerprint every client pinned). \"" PROG
              " fingerprint\" shows the current one",
              shown (key_path, s, sizeof s));
      return ADMIN_EXIT_FAIL;
    }
  if (errno != ENOENT)
    {
      errorf ("cannot check %s: %s", shown (key_path, s, sizeof s),
              strerror (errno));
      return ADMIN_EXIT_FAIL;
    }

  /* An existing user list (the seed's, say) is kept, if it is valid. */
  if (lstat (store_path, &st) == 0)
    {
      struct store *store = NULL;

      if (store_open (store_path, &store, err, sizeof err) != 0)
        {
          errorf ("%s", err);
          return ADMIN_EXIT_FAIL;
        }
      errorf ("keeping the existing %s (%zu user%s)",
              shown (store_path, s, sizeof s), store_count (store),
              store_count (store) == 1 ? "" : "s");
      store_free (store);
      store_exists = true;
    }

  if (keyfile_create (key_path, pub, err, sizeof err) != 0)
    {
      errorf ("%s", err);
      return ADMIN_EXIT_FAIL;
    }
  if (!store_exists && store_create (store_path, err, sizeof err) != 0)
    {
      errorf ("%s", err);
      /* Leave nothing half done, so init can simply be run again. */
      unlink (key_path);
      return ADMIN_EXIT_FAIL;
    }
  if (sc_fingerprint (pub, fp) != 0)
    {
      errorf ("cannot compute the fingerprint");
      return ADMIN_EXIT_FAIL;
    }
  errorf ("initialized %s; the server key's fingerprint is:",
          shown (co.data_dir, s, sizeof s));
  printf ("%s\n", fp);
  return ADMIN_EXIT_OK;
}

static int
cmd_user_password (struct subargs *sa, bool add)
{
  const char *help = add ? useradd_help : passwd_help;
  struct common_opts co;
  struct store *store = NULL;
  char *name, *hash = NULL, *pw = NULL, err[1024], s[128];
  size_t pw_cap = SC_PASSWORD_MAX + 2, pw_len = 0;
  int rc, status = ADMIN_EXIT_FAIL;

  if (parse_simple (sa, help, &co, 1, &name, &status))
    return status;
  if (validate_username (name) != 0)
    return ADMIN_EXIT_FAIL;
  if (open_store (co.data_dir, &store) != 0)
    return ADMIN_EXIT_FAIL;

  /* Say so before asking for a password that would be thrown away. */
  if (add && store_lookup (store, name) != NULL)
    {
      errorf ("user %s already exists", name);
      goto out;
    }
  if (!add && store_lookup (store, name) == NULL)
    {
      errorf ("no such user: %s", name);
      goto out;
    }

  pw = malloc (pw_cap);
  if (pw == NULL)
    {
      errorf ("out of memory");
      goto out;
    }
  if (get_new_password (name, !add, pw, pw_cap, &pw_len) != 0)
    goto out;
  rc = auth_hash_password (pw, &hash);
  sc_wipe (pw, pw_cap);
  if (rc != 0)
    {
      errorf ("cannot hash the password");
      goto out;
    }

  rc = store_modify (store, add ? STORE_ADD : STORE_SET, name, hash, NULL, err,
                     sizeof err);
  if (rc < 0)
    errorf ("%s", err);
  else if (rc > 0)
    {
      if (add)
        errorf ("user %s already exists", shown (name, s, sizeof s));
      else
        errorf ("no such user: %s", shown (name, s, sizeof s));
    }
  else
    {
      if (add)
        printf ("added user %s\n", name);
      else
        printf ("changed the password of %s\n", name);
      status = ADMIN_EXIT_OK;
    }

out:
  if (pw != NULL)
    {
      sc_wipe (pw, pw_cap);
      free (pw);
    }
  free (hash);
  store_free (store);
  return status;
}

static int
cmd_useradd (struct subargs *sa)
{
  return cmd_user_password (sa, true);
}

static int
cmd_passwd (struct subargs *sa)
{
  return cmd_user_password (sa, false);
}

/* After NAME's credentials are gone: its prekey bundle, if any. */
static int
delete_prekeys (const char *dir, const char *name)
{
  struct prekeys *pk = NULL;
  char err[1024], s[256];
  int rc;

  rc = prekeys_open (dir, &pk, err, sizeof err);
  if (rc == PREKEYS_OK)
    rc = prekeys_delete (pk, name, err, sizeof err);
  prekeys_free (pk);
  if (rc == PREKEYS_ERROR)
    {
      errorf ("%s; delete %s/" PREKEYS_DIR_NAME "/%s.json before adding %s "
              "again",
              err, shown (dir, s, sizeof s), name, name);
      return -1;
    }
  if (rc == PREKEYS_OK)
    printf ("deleted the published prekeys of %s\n", name);
  return 0;
}

static int
cmd_userdel (struct subargs *sa)
{
  struct common_opts co;
  struct store *store = NULL;
  char *name, err[1024];
  int rc, status = ADMIN_EXIT_FAIL;

  if (parse_simple (sa, userdel_help, &co, 1, &name, &status))
    return status;
  if (validate_username (name) != 0)
    return ADMIN_EXIT_FAIL;
  if (open_store (co.data_dir, &store) != 0)
    return ADMIN_EXIT_FAIL;
  rc = store_modify (store, STORE_DELETE, name, NULL, NULL, err, sizeof err);
  if (rc < 0)
    errorf ("%s", err);
  else if (rc > 0)
    errorf ("no such user: %s", name);
  else
    {
      printf ("deleted user %s\n", name);
      if (delete_prekeys (co.data_dir, name) == 0)
        status = ADMIN_EXIT_OK;
    }
  store_free (store);
  return status;
}

static void
print_user (const char *user, const char *hash, void *ud)
{
  (void) hash;
  (void) ud;
  printf ("%s\n", user);
}

static int
cmd_users (struct subargs *sa)
{
  struct common_opts co;
  struct store *store = NULL;
  size_t unusable;
  int status;

  if (parse_simple (sa, users_help, &co, 0, NULL, &status))
    return status;
  if (open_store (co.data_dir, &store) != 0)
    return ADMIN_EXIT_FAIL;
  store_foreach (store, print_user, NULL);
  unusable = store_count_unusable (store);
  if (unusable > 0)
    errorf ("warning: %zu %s of " STORE_FILE_NAME
            " not listed (a name outside a-z 0-9 . _ - or a value that is "
            "not a hash); they are kept as they are",
            unusable, unusable == 1 ? "entry" : "entries");
  store_free (store);
  return ADMIN_EXIT_OK;
}

static int
load_fingerprint (const char *dir, char fp[SC_FINGERPRINT_LEN + 1])
{
  char path[PATH_MAX], err[1024];
  uint8_t priv[SC_X25519_LEN], pub[SC_X25519_LEN];
  int rc;

  if (join_path (path, sizeof path, dir, KEYFILE_NAME) != 0)
    return -1;
  rc = keyfile_load (path, priv, pub, err, sizeof err);
  sc_wipe (priv, sizeof priv);
  if (rc != 0)
    {
      errorf ("%s", err);
      return -1;
    }
  if (sc_fingerprint (pub, fp) != 0)
    {
      errorf ("cannot compute the fingerprint");
      return -1;
    }
  return 0;
}

static int
cmd_fingerprint (struct subargs *sa)
{
  struct common_opts co;
  char fp[SC_FINGERPRINT_LEN + 1];
  int status;

  if (parse_simple (sa, fingerprint_help, &co, 0, NULL, &status))
    return status;
  if (load_fingerprint (co.data_dir, fp) != 0)
    return ADMIN_EXIT_FAIL;
  printf ("%s\n", fp);
  return ADMIN_EXIT_OK;
}

struct command
{
  const char *name;
  int (*fn) (struct subargs *sa);
  const char *help;
};

static int cmd_run (struct subargs *sa);
static int cmd_help (struct subargs *sa);

static const struct command commands[] = {
  { "run", cmd_run, run_help },
  { "init", cmd_init, init_help },
  { "useradd", cmd_useradd, useradd_help },
  { "passwd", cmd_passwd, passwd_help },
  { "userdel", cmd_userdel, userdel_help },
  { "users", cmd_users, users_help },
  { "fingerprint", cmd_fingerprint, fingerprint_help },
  { "help", cmd_help, help_help },
};

static const struct command *
find_command (const char *name)
{
  size_t i;

  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int
cmd_run (struct subargs *sa)
{
  static const struct option longopts[] = {
    COMMON_LONG_OPTIONS,
    { "listen", required_argument, NULL, 'l' },
    { "config", required_argument, NULL, 'c' },
    { "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
    { "verbose", no_argument, NULL, 'v' },
    { "quiet", no_argument, NULL, 'q' },
    { NULL, 0, NULL, 0 }
  };
  const char *data_dir = NULL, *listen = NULL, *config_file = NULL;
  bool help = false, version = false, check = false;
  bool verbose = false, quiet = false;
  char env_dir[PATH_MAX], path[PATH_MAX], err[1024], s[256];
  struct config cfg;
  int c;

  while ((c = getopt_long (sa->argc, sa->argv, "d:hVl:c:vq", longopts, NULL)) !=
         -1)
    switch (c)
      {
      case 'd':
        data_dir = optarg;
        break;
      case 'h':
        help = true;
        break;
      case 'V':
        version = true;
        break;
      case 'l':
        listen = optarg;
        break;
      case 'c':
        config_file = optarg;
        break;
      case OPT_CHECK_CONFIG:
        check = true;
        break;
      case 'v':
        verbose = true;
        break;
      case 'q':
        quiet = true;
        break;
      default:
        return usage_error (run_help);
      }
  if (help)
    return show_help (run_help);
  if (version)
    return show_version ();
  if (optind < sa->argc)
    {
      if (find_command (sa->argv[optind]) != NULL)
        errorf ("put the command first: " PROG " %s [OPTION...]",
                sa->argv[optind]);
      else
        errorf ("%s: unexpected argument \"%s\"", sa->cmd,
                shown (sa->argv[optind], s, sizeof s));
      return usage_error (run_help);
    }
  if (verbose && quiet)
    {
      errorf ("%s: --verbose and --quiet exclude each other", sa->cmd);
      return usage_error (run_help);
    }
  if (data_dir == NULL)
    data_dir = default_data_dir (env_dir, sizeof env_dir);
  if (*data_dir == '\0')
    {
      errorf ("%s: --data-dir must not be empty", sa->cmd);
      return usage_error (run_help);
    }

  /* Settings: defaults, then the file, then the command line. */
  config_defaults (&cfg);
  if (config_file != NULL)
    {
      if (config_load (config_file, 0, &cfg, err, sizeof err) != 0)
        {
          errorf ("%s", err);
          return ADMIN_EXIT_FAIL;
        }
    }
  else
    {
      if (join_path (path, sizeof path, data_dir, CONFIG_FILE_NAME) != 0)
        return ADMIN_EXIT_FAIL;
      if (config_load (path, 1, &cfg, err, sizeof err) != 0)
        {
          errorf ("%s", err);
          return ADMIN_EXIT_FAIL;
        }
    }
  if (listen != NULL && config_set (&cfg, "listen", listen, err, sizeof err))
    {
      errorf ("--%s", err);
      return usage_error (run_help);
    }
  if (config_validate (&cfg, err, sizeof err) != 0)
    {
      errorf ("%s", err);
      return ADMIN_EXIT_FAIL;
    }

  if (check_data_dir (data_dir) != 0)
    return ADMIN_EXIT_FAIL;

  if (check)
    {
      char fp[SC_FINGERPRINT_LEN + 1];
      struct store *store = NULL;
      size_t users, unusable;

      if (load_fingerprint (data_dir, fp) != 0)
        return ADMIN_EXIT_FAIL;
      if (open_store (data_dir, &store) != 0)
        return ADMIN_EXIT_FAIL;
      users = store_count (store);
      unusable = store_count_unusable (store);
      store_free (store);
      printf ("configuration OK: listen=%s users=%zu unusable_entries=%zu "
              "key=%s\n",
              cfg.listen, users, unusable, fp);
      return ADMIN_EXIT_OK;
    }

  /* A clear word for the most common mistake, before the log starts. */
  if (join_path (path, sizeof path, data_dir, KEYFILE_NAME) != 0)
    return ADMIN_EXIT_FAIL;
  if (access (path, F_OK) != 0 && errno == ENOENT)
    {
      errorf ("there is no server key in %s; run \"" PROG
              " init --data-dir %s\" first",
              shown (data_dir, s, sizeof s), s);
      return ADMIN_EXIT_FAIL;
    }

  log_set_level (verbose ? LOG_LEVEL_DEBUG
                         : (quiet ? LOG_LEVEL_WARN : LOG_LEVEL_INFO));
  log_route_libevent ();
  return server_run (data_dir, &cfg);
}

static int
cmd_help (struct subargs *sa)
{
  const struct command *cmd;
  char s[128];

  if (sa->argc <= 1)
    return show_help (main_help);
  if (sa->argc > 2)
    {
      errorf ("help: too many arguments");
      return usage_error (help_help);
    }
  if (strcmp (sa->argv[1], "--help") == 0 || strcmp (sa->argv[1], "-h") == 0)
    return show_help (help_help);
  cmd = find_command (sa->argv[1]);
  if (cmd == NULL)
    {
      errorf ("unknown command \"%s\"", shown (sa->argv[1], s, sizeof s));
      return usage_error (main_help);
    }
  return show_help (cmd->help);
}

static int
finish_stdout (int status)
{
  if (fflush (stdout) != 0 || ferror (stdout))
    {
      errorf ("cannot write to standard output: %s", strerror (errno));
      return status == ADMIN_EXIT_OK ? ADMIN_EXIT_FAIL : status;
    }
  return status;
}

int
admin_main (int argc, char **argv)
{
  const struct command *cmd;
  struct subargs sa;
  int status, skip;

  /* Every file we create holds a secret or a hash. */
  umask (077);

  if (argc >= 2 &&
      (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    return finish_stdout (show_help (main_help));
  if (argc >= 2 &&
      (strcmp (argv[1], "--version") == 0 || strcmp (argv[1], "-V") == 0))
    return finish_stdout (show_version ());

  if (argc < 2 || argv[1][0] == '-')
    {
      /* "securechatd [OPTION...]" is "securechatd run [OPTION...]". */
      cmd = find_command ("run");
      skip = 0;
    }
  else
    {
      char s[128];

      cmd = find_command (argv[1]);
      if (cmd == NULL)
        {
          errorf ("unknown command \"%s\"", shown (argv[1], s, sizeof s));
          return usage_error (main_help);
        }
      skip = 1;
    }

  if (subargs_init (&sa, cmd->name, argc - skip, argv + skip) != 0)
    return ADMIN_EXIT_FAIL;
  status = cmd->fn (&sa);
  subargs_clear (&sa);
  return finish_stdout (status);
}
