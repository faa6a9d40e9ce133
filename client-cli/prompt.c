/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* Signals after which the terminal must get its echo back. */
static const int prompt_signals[] = {
  SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU,
};
#define N_PROMPT_SIGNALS (sizeof prompt_signals / sizeof prompt_signals[0])

/* State shared with the signal handler: only one prompt runs at a time. */
static volatile sig_atomic_t prompt_caught;
static int prompt_tty = -1;
static struct termios prompt_saved;

static void
prompt_on_signal (int sig)
{
  int saved_errno = errno;

  tcsetattr (prompt_tty, TCSAFLUSH, &prompt_saved);
  prompt_caught = sig;
  errno = saved_errno;
}

static void
write_all (int fd, const char *s, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, s, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      s += n;
      len -= (size_t) n;
    }
}

static bool
is_stop_signal (int sig)
{
  return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

int
prompt_password_tty (
    int fd, const char *prompt, char *buf, size_t cap, size_t *len)
{
  struct sigaction old[N_PROMPT_SIGNALS];
  struct sigaction sa;
  struct termios noecho;
  size_t n;
  bool too_long;
  bool eof;
  int err;
  int sig;

  *len = 0;
  if (cap == 0)
    return -EINVAL;

again:
  if (tcgetattr (fd, &prompt_saved) < 0)
    return -errno;
  prompt_tty = fd;
  prompt_caught = 0;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = prompt_on_signal;
  sigemptyset (&sa.sa_mask);
  for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
    sigaddset (&sa.sa_mask, prompt_signals[i]);
  /* No SA_RESTART: a signal must interrupt the read. */
  sa.sa_flags = 0;
  for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
    sigaction (prompt_signals[i], &sa, &old[i]);

  noecho = prompt_saved;
  noecho.c_lflag &= (tcflag_t) ~ECHO;
  noecho.c_lflag |= ECHONL | ICANON;
  if (tcsetattr (fd, TCSAFLUSH, &noecho) < 0)
    {
      err = -errno;
      for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
        sigaction (prompt_signals[i], &old[i], NULL);
      return err;
    }

  write_all (STDERR_FILENO, prompt, strlen (prompt));
  n = 0;
  too_long = false;
  eof = false;
  err = 0;
  for (;;)
    {
      char ch;
      ssize_t r = read (fd, &ch, 1);

      if (r < 0 && errno == EINTR)
        {
          if (prompt_caught != 0)
            break;
          continue;
        }
      if (r < 0)
        {
          err = -errno;
          break;
        }
      if (r == 0)
        {
          eof = true;
          break;
        }
      if (ch == '\n')
        break;
      if (n < cap - 1)
        buf[n++] = ch;
      else
        too_long = true;
      OPENSSL_cleanse (&ch, sizeof ch);
    }

  tcsetattr (fd, TCSAFLUSH, &prompt_saved);
  for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
    sigaction (prompt_signals[i], &old[i], NULL);
  sig = prompt_caught;
  prompt_tty = -1;

  if (sig != 0)
    {
      OPENSSL_cleanse (buf, cap);
      write_all (STDERR_FILENO, "\n", 1);
      /* With the previous disposition back, let the signal do what it
       * would have done without us: usually end the process, or stop it
       * until it is continued, after which we ask again. */
      raise (sig);
      if (is_stop_signal (sig))
        goto again;
      return -EINTR;
    }
  if (eof)
    write_all (STDERR_FILENO, "\n", 1);
  if (err == 0 && too_long)
    err = -EMSGSIZE;
  if (err == 0 && eof && n == 0)
    err = -ENODATA;
  if (err < 0)
    {
      OPENSSL_cleanse (buf, cap);
      return err;
    }
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  buf[n] = '\0';
  *len = n;
  return 0;
}

int
prompt_password_file (
    const char *path, char *buf, size_t cap, size_t *len, bool *loose)
{
  struct stat st;
  size_t n = 0;
  char *nl = NULL;
  int fd;
  int err = 0;

  *len = 0;
  *loose = false;
  if (cap == 0)
    return -EINVAL;
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return -errno;
  if (fstat (fd, &st) < 0)
    {
      err = -errno;
      goto out;
    }
  if (S_ISDIR (st.st_mode))
    {
      err = -EISDIR;
      goto out;
    }
  if (S_ISREG (st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
    *loose = true;

  /* Read until the first newline is in; only that line is kept. */
  while (nl == NULL && n < cap)
    {
      ssize_t r = read (fd, buf + n, cap - n);

      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          err = -errno;
          goto out;
        }
      if (r == 0)
        break;
      nl = memchr (buf + n, '\n', (size_t) r);
      n += (size_t) r;
    }
  if (nl == NULL)
    {
      if (n == cap)
        {
          err = -EMSGSIZE;
          goto out;
        }
      nl = buf + n;
    }
  n = (size_t) (nl - buf);
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  if (n >= cap)
    {
      err = -EMSGSIZE;
      goto out;
    }
  OPENSSL_cleanse (buf + n, cap - n);
  *len = n;

out:
  if (err < 0)
    OPENSSL_cleanse (buf, cap);
  close (fd);
  return err;
}

int
prompt_password_lines (struct lines *l, char *buf, size_t cap, size_t *len)
{
  *len = 0;
  if (cap == 0)
    return -EINVAL;
  for (;;)
    {
      char *line = NULL;
      size_t line_len = 0;

      switch (lines_next (l, &line, &line_len))
        {
        case LINES_LINE:
          if (line_len >= cap)
            {
              OPENSSL_cleanse (line, line_len);
              return -EMSGSIZE;
            }
          memcpy (buf, line, line_len);
          buf[line_len] = '\0';
          OPENSSL_cleanse (line, line_len);
          *len = line_len;
          return 0;
        case LINES_TOO_LONG:
          return -EMSGSIZE;
        case LINES_EOF:
          return -ENODATA;
        case LINES_NONE:
        default:
          if (lines_fill (l) < 0)
            return -errno;
          break;
        }
    }
}
