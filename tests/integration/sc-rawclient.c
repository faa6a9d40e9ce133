/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sc-rawclient: a scriptable SecureChat peer for the integration tests.
 * It does the Noise handshake with common/'s channel and then lets a test
 * put arbitrary plaintexts (valid or not) into correctly encrypted frames,
 * or arbitrary bytes on the wire, and see every message the server sends.
 *
 *   sc-rawclient --server HOST:PORT [--hello JSON] [--rcvbuf BYTES]
 *
 * stdout, one line each, flushed:
 *   KEY SHA256:...         the server's static key, after message 2
 *   HELLO <json>           the payload of message 2
 *   RECV <json>            each decrypted transport message
 *   CLOSED <why>           the server closed, reset, or sent a bad frame
 *   ERR <why>              a local failure (exit status 1)
 * stdin, one command a line:
 *   send TEXT              seal TEXT (as is) into one frame
 *   sendhex HEX            seal these bytes into one frame
 *   raw HEX                write these bytes to the socket unencrypted
 *   pause / resume         stop / restart reading the socket
 *   shutdown               half-close (SHUT_WR)
 *   quit                   exit 0
 * End of stdin is "quit". Nothing here validates what the test sends: that
 * is the point. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "securechat/channel.h"
#include "securechat/error.h"
#include "securechat/fingerprint.h"
#include "securechat/frame.h"

#define DEFAULT_HELLO                                                          \
  "{\"type\":\"client_hello\",\"versions\":[1],\"agent\":\"sc-"                \
  "rawclient/" SC_VERSION "\"}"
#define LINE_MAX_BYTES (2 * SC_FRAME_MAX + 64)
#define IN_CAP         (SC_FRAME_HEADER_LEN + SC_FRAME_MAX)

struct raw
{
  int fd;
  struct sc_channel *ch;
  uint8_t in[IN_CAP];
  size_t in_len;
  uint8_t pt[SC_FRAME_MAX];
  uint8_t out[SC_FRAME_HEADER_LEN + SC_FRAME_MAX];
  char line[LINE_MAX_BYTES + 1];
  size_t line_len;
  bool line_overflow;
  bool paused;
  bool stdin_open;
};

static void say (const char *tag, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
say (const char *tag, const char *fmt, ...)
{
  va_list ap;

  fputs (tag, stdout);
  fputc (' ', stdout);
  va_start (ap, fmt);
  vfprintf (stdout, fmt, ap);
  va_end (ap);
  fputc ('\n', stdout);
  fflush (stdout);
}

/* Prints a plaintext on one line; bytes that would break the line or the
 * terminal are shown as \xNN. */
static void
say_text (const char *tag, const uint8_t *p, size_t len)
{
  fputs (tag, stdout);
  fputc (' ', stdout);
  for (size_t i = 0; i < len; i++)
    {
      if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
        fprintf (stdout, "\\x%02x", p[i]);
      else
        fputc (p[i], stdout);
    }
  fputc ('\n', stdout);
  fflush (stdout);
}

static int
write_all (int fd, const uint8_t *p, size_t len)
{
  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes hex in place; returns the byte count or -1. */
static long
unhex (char *s, uint8_t *out, size_t cap)
{
  size_t n = strlen (s);

  if (n % 2 != 0 || n / 2 > cap)
    return -1;
  for (size_t i = 0; i < n / 2; i++)
    {
      int hi = hexval (s[2 * i]);
      int lo = hexval (s[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return -1;
      out[i] = (uint8_t) (hi << 4 | lo);
    }
  return (long) (n / 2);
}

static int
connect_to (const char *hostport, int rcvbuf)
{
  char host[256];
  const char *colon = strrchr (hostport, ':');
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  size_t hlen;
  int fd;
  int rc;

  if (colon == NULL || colon == hostport)
    return -1;
  hlen = (size_t) (colon - hostport);
  if (hlen >= sizeof host)
    return -1;
  memcpy (host, hostport, hlen);
  host[hlen] = '\0';
  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
  rc = getaddrinfo (host, colon + 1, &hints, &res);
  if (rc != 0)
    {
      say ("ERR", "cannot resolve %s: %s", hostport, gai_strerror (rc));
      return -1;
    }
  fd = socket (res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && rcvbuf > 0)
    (void) setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (fd < 0 || connect (fd, res->ai_addr, res->ai_addrlen) < 0)
    {
      say ("ERR", "cannot connect to %s: %s", hostport, strerror (errno));
      if (fd >= 0)
        close (fd);
      fd = -1;
    }
  freeaddrinfo (res);
  return fd;
}

/* Reads from the socket into r->in; 0 on data, 1 on EOF/reset, -1. */
static int
fill (struct raw *r)
{
  ssize_t n;

  if (r->in_len == sizeof r->in)
    return -1;
  do
    n = recv (r->fd, r->in + r->in_len, sizeof r->in - r->in_len, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      say ("CLOSED", "%s", strerror (errno));
      return 1;
    }
  if (n == 0)
    {
      say ("CLOSED", "eof");
      return 1;
    }
  r->in_len += (size_t) n;
  return 0;
}

/* Takes the next complete frame out of r->in (copied to body). 1 when a
 * frame was found, 0 when more bytes are needed, -1 for a bad header. */
static int
next_frame (struct raw *r, uint8_t *body, size_t *body_len)
{
  const uint8_t *b = NULL;
  long used = sc_frame_next (r->in, r->in_len, SC_FRAME_MAX, &b, body_len);

  if (used < 0)
    return -1;
  if (used == 0)
    return 0;
  memmove (body, b, *body_len);
  memmove (r->in, r->in + used, r->in_len - (size_t) used);
  r->in_len -= (size_t) used;
  return 1;
}

static int
handshake (struct raw *r, const char *hello)
{
  static uint8_t body[SC_FRAME_MAX];
  size_t out_len = 0;
  size_t body_len = 0;
  size_t pt_len = 0;
  uint8_t rs[SC_X25519_LEN];
  char fp[SC_FINGERPRINT_LEN + 1];
  int rc;

  rc = sc_channel_write_handshake (r->ch, (const uint8_t *) hello,
                                   strlen (hello), r->out, sizeof r->out,
                                   &out_len);
  if (rc < 0)
    {
      say ("ERR", "handshake message 1: %s", sc_strerror (rc));
      return -1;
    }
  if (write_all (r->fd, r->out, out_len) < 0)
    {
      say ("CLOSED", "%s", strerror (errno));
      return 1;
    }
  for (;;)
    {
      rc = next_frame (r, body, &body_len);
      if (rc < 0)
        {
          say ("CLOSED", "bad frame header from the server");
          return 1;
        }
      if (rc > 0)
        break;
      rc = fill (r);
      if (rc != 0)
        return rc;
    }
  rc = sc_channel_read_handshake (r->ch, body, body_len, r->pt, sizeof r->pt,
                                  &pt_len);
  if (rc < 0)
    {
      say ("CLOSED", "handshake message 2: %s", sc_strerror (rc));
      return 1;
    }
  if (sc_channel_remote_static (r->ch, rs) < 0 || sc_fingerprint (rs, fp) < 0)
    {
      say ("ERR", "no server key after the handshake");
      return -1;
    }
  say ("KEY", "%s", fp);
  say_text ("HELLO", r->pt, pt_len);
  return 0;
}

static int
seal_and_send (struct raw *r, const uint8_t *pt, size_t len)
{
  size_t out_len = 0;
  int rc = sc_channel_seal (r->ch, pt, len, r->out, sizeof r->out, &out_len);

  if (rc < 0)
    {
      say ("ERR", "cannot seal %zu bytes: %s", len, sc_strerror (rc));
      return -1;
    }
  if (write_all (r->fd, r->out, out_len) < 0)
    say ("CLOSED", "write: %s", strerror (errno));
  return 0;
}

/* Runs one command line; 1 to quit, -1 on a local error. */
static int
command (struct raw *r, char *line)
{
  static uint8_t buf[SC_FRAME_MAX + SC_FRAME_HEADER_LEN];
  char *arg = strchr (line, ' ');
  long n;

  if (arg != NULL)
    *arg++ = '\0';
  else
    arg = line + strlen (line);

  if (strcmp (line, "send") == 0)
    return seal_and_send (r, (const uint8_t *) arg, strlen (arg));
  if (strcmp (line, "sendhex") == 0 || strcmp (line, "raw") == 0)
    {
      n = unhex (arg, buf, sizeof buf);
      if (n < 0)
        {
          say ("ERR", "bad hex for %s", line);
          return -1;
        }
      if (line[0] == 's')
        return seal_and_send (r, buf, (size_t) n);
      if (write_all (r->fd, buf, (size_t) n) < 0)
        say ("CLOSED", "write: %s", strerror (errno));
      return 0;
    }
  if (strcmp (line, "pause") == 0)
    {
      r->paused = true;
      return 0;
    }
  if (strcmp (line, "resume") == 0)
    {
      r->paused = false;
      return 0;
    }
  if (strcmp (line, "shutdown") == 0)
    {
      (void) shutdown (r->fd, SHUT_WR);
      return 0;
    }
  if (strcmp (line, "quit") == 0)
    return 1;
  say ("ERR", "unknown command %s", line);
  return -1;
}

/* Reads what stdin has and runs every complete line. */
static int
read_stdin (struct raw *r)
{
  char buf[4096];
  ssize_t n;

  do
    n = read (STDIN_FILENO, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    {
      r->stdin_open = false;
      return 1;
    }
  for (ssize_t i = 0; i < n; i++)
    {
      if (buf[i] != '\n')
        {
          if (r->line_len < LINE_MAX_BYTES)
            r->line[r->line_len++] = buf[i];
          else
            r->line_overflow = true;
          continue;
        }
      r->line[r->line_len] = '\0';
      r->line_len = 0;
      if (r->line_overflow)
        {
          r->line_overflow = false;
          say ("ERR", "command line too long");
          return -1;
        }
      int rc = command (r, r->line);
      if (rc != 0)
        return rc;
    }
  return 0;
}

/* Decrypts and prints every complete frame already read; 1 once the link
 * is over. */
static int
drain_frames (struct raw *r)
{
  static uint8_t body[SC_FRAME_MAX];
  size_t body_len = 0;
  int rc;

  for (;;)
    {
      size_t pt_len = 0;

      rc = next_frame (r, body, &body_len);
      if (rc < 0)
        {
          say ("CLOSED", "bad frame header from the server");
          return 1;
        }
      if (rc == 0)
        return 0;
      rc =
          sc_channel_open (r->ch, body, body_len, r->pt, sizeof r->pt, &pt_len);
      if (rc < 0)
        {
          say ("CLOSED", "cannot decrypt a frame: %s", sc_strerror (rc));
          return 1;
        }
      say_text ("RECV", r->pt, pt_len);
    }
}

/* Reads what the socket has, then handles every complete frame. */
static int
read_socket (struct raw *r)
{
  if (fill (r) != 0)
    return 1;
  return drain_frames (r);
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "server", required_argument, NULL, 's' },
    { "hello", required_argument, NULL, 'H' },
    { "rcvbuf", required_argument, NULL, 'b' },
    { NULL, 0, NULL, 0 },
  };
  static struct raw r;
  const char *server = NULL;
  const char *hello = DEFAULT_HELLO;
  int rcvbuf = 0;
  int status = 1;
  int opt;
  int rc;

  while ((opt = getopt_long (argc, argv, "", opts, NULL)) != -1)
    {
      switch (opt)
        {
        case 's':
          server = optarg;
          break;
        case 'H':
          hello = optarg;
          break;
        case 'b':
          rcvbuf = atoi (optarg);
          if (rcvbuf <= 0)
            {
              fprintf (stderr, "sc-rawclient: bad --rcvbuf\n");
              return 2;
            }
          break;
        default:
          fprintf (stderr, "usage: sc-rawclient --server HOST:PORT "
                           "[--hello JSON] [--rcvbuf BYTES]\n");
          return 2;
        }
    }
  if (server == NULL || optind != argc)
    {
      fprintf (stderr, "usage: sc-rawclient --server HOST:PORT "
                       "[--hello JSON] [--rcvbuf BYTES]\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);

  r.fd = connect_to (server, rcvbuf);
  if (r.fd < 0)
    return 1;
  r.stdin_open = true;
  rc = sc_channel_new (SC_NOISE_INITIATOR, NULL, &r.ch);
  if (rc < 0)
    {
      say ("ERR", "channel: %s", sc_strerror (rc));
      goto out;
    }
  rc = handshake (&r, hello);
  if (rc == 0)
    rc = drain_frames (&r); /* what came with message 2 */
  if (rc != 0)
    {
      status = rc < 0 ? 1 : 0;
      goto out;
    }

  for (;;)
    {
      struct pollfd pfd[2];
      nfds_t n = 0;

      if (r.stdin_open)
        {
          pfd[n].fd = STDIN_FILENO;
          pfd[n].events = POLLIN;
          n++;
        }
      if (!r.paused)
        {
          pfd[n].fd = r.fd;
          pfd[n].events = POLLIN;
          n++;
        }
      if (n == 0)
        {
          status = 0; /* stdin gone while paused: nothing left to do */
          break;
        }
      if (poll (pfd, n, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          say ("ERR", "poll: %s", strerror (errno));
          break;
        }
      for (nfds_t i = 0; i < n; i++)
        {
          if (pfd[i].revents == 0)
            continue;
          if (pfd[i].fd == STDIN_FILENO)
            rc = read_stdin (&r);
          else
            rc = read_socket (&r);
          if (rc != 0)
            {
              status = rc < 0 ? 1 : 0;
              goto out;
            }
        }
    }

out:
  sc_channel_free (r.ch);
  if (r.fd >= 0)
    close (r.fd);
  return status;
}
