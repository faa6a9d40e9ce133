/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t
net_now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
host_char (char ch, bool bracketed)
{
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')
    return true;
  if (ch == '_')
    return true;
  return bracketed && (ch == ':' || ch == '%');
}

int
net_parse_server (const char *s,
                  char host[NET_HOST_MAX + 1],
                  char port[NET_PORT_MAX + 1],
                  char key[NET_KEY_MAX + 1],
                  char *err,
                  size_t err_len)
{
  const char *h;
  size_t h_len;
  const char *p = NULL;
  bool bracketed = false;
  unsigned long port_num = 0;

  host[0] = '\0';
  port[0] = '\0';
  key[0] = '\0';

  if (s[0] == '[')
    {
      const char *close = strchr (s, ']');

      if (close == NULL)
        {
          snprintf (err, err_len, "missing ']' in server address");
          return -1;
        }
      h = s + 1;
      h_len = (size_t) (close - h);
      bracketed = true;
      if (close[1] == ':')
        p = close + 2;
      else if (close[1] != '\0')
        {
          snprintf (err, err_len, "expected ':' after ']' in server address");
          return -1;
        }
    }
  else
    {
      const char *colon = strchr (s, ':');

      if (colon != NULL && strchr (colon + 1, ':') != NULL)
        {
          snprintf (err, err_len,
                    "write IPv6 addresses as [ADDRESS]:PORT in --server");
          return -1;
        }
      h = s;
      h_len = colon != NULL ? (size_t) (colon - s) : strlen (s);
      if (colon != NULL)
        p = colon + 1;
    }

  if (h_len == 0 || h_len > NET_HOST_MAX)
    {
      snprintf (err, err_len, "invalid host name in --server");
      return -1;
    }
  for (size_t i = 0; i < h_len; i++)
    if (!host_char (h[i], bracketed))
      {
        snprintf (err, err_len, "invalid host name in --server");
        return -1;
      }

  if (p == NULL)
    p = NET_DEFAULT_PORT;
  if (p[0] == '\0' || strlen (p) > NET_PORT_MAX)
    {
      snprintf (err, err_len, "invalid port in --server");
      return -1;
    }
  for (const char *q = p; *q != '\0'; q++)
    {
      if (*q < '0' || *q > '9')
        {
          snprintf (err, err_len, "invalid port in --server");
          return -1;
        }
      port_num = port_num * 10 + (unsigned long) (*q - '0');
    }
  if (port_num < 1 || port_num > 65535)
    {
      snprintf (err, err_len, "port in --server must be 1 to 65535");
      return -1;
    }

  memcpy (host, h, h_len);
  host[h_len] = '\0';
  snprintf (port, NET_PORT_MAX + 1, "%lu", port_num);
  {
    char lower[NET_HOST_MAX + 1];
    bool v6 = memchr (host, ':', h_len) != NULL;

    for (size_t i = 0; i <= h_len; i++)
      lower[i] = (host[i] >= 'A' && host[i] <= 'Z')
                     ? (char) (host[i] - 'A' + 'a')
                     : host[i];
    snprintf (key, NET_KEY_MAX + 1, "%s%s%s:%s", v6 ? "[" : "", lower,
              v6 ? "]" : "", port);
  }
  return 0;
}

/* Waits for a connecting socket; returns 0 when the attempt finished (its
 * result in *so_error), 1 on timeout, NET_INTERRUPTED on a signal. */
static int
wait_connected (int fd,
                int64_t deadline_ms,
                const sigset_t *wait_mask,
                int *so_error)
{
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLOUT };
      int64_t left = deadline_ms - net_now_ms ();
      struct timespec ts;
      socklen_t len = sizeof *so_error;
      int n;

      if (left <= 0)
        return 1;
      ts.tv_sec = (time_t) (left / 1000);
      ts.tv_nsec = (long) (left % 1000) * 1000000;
      n = ppoll (&pfd, 1, &ts, wait_mask);
      if (n < 0 && errno == EINTR)
        return NET_INTERRUPTED;
      if (n < 0)
        {
          *so_error = errno;
          return 0;
        }
      if (n == 0)
        continue;
      *so_error = 0;
      if (getsockopt (fd, SOL_SOCKET, SO_ERROR, so_error, &len) < 0)
        *so_error = errno;
      return 0;
    }
}

int
net_connect (const char *host,
             const char *port,
             int64_t deadline_ms,
             const sigset_t *wait_mask,
             int *fd_out,
             char *err,
             size_t err_len)
{
  struct addrinfo hints;
  struct addrinfo *res = NULL;
  int last_errno = ECONNREFUSED;
  int rc;

  *fd_out = -1;
  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  rc = getaddrinfo (host, port, &hints, &res);
  if (rc != 0)
    {
      snprintf (err, err_len, "%s",
                rc == EAI_SYSTEM ? strerror (errno) : gai_strerror (rc));
      return NET_FAILED;
    }

  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
    {
      int fd;
      int so_error = 0;
      int one = 1;

      if (net_now_ms () >= deadline_ms)
        {
          last_errno = ETIMEDOUT;
          break;
        }
      fd =
          socket (ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
      if (fd < 0)
        {
          last_errno = errno;
          continue;
        }
      if (connect (fd, ai->ai_addr, ai->ai_addrlen) < 0)
        {
          if (errno != EINPROGRESS)
            {
              last_errno = errno;
              close (fd);
              continue;
            }
          rc = wait_connected (fd, deadline_ms, wait_mask, &so_error);
          if (rc == NET_INTERRUPTED)
            {
              close (fd);
              freeaddrinfo (res);
              snprintf (err, err_len, "%s", strerror (EINTR));
              return NET_INTERRUPTED;
            }
          if (rc == 1)
            {
              last_errno = ETIMEDOUT;
              close (fd);
              break;
            }
          if (so_error != 0)
            {
              last_errno = so_error;
              close (fd);
              continue;
            }
        }
      /* Chat lines are small and interactive. */
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      freeaddrinfo (res);
      *fd_out = fd;
      return NET_OK;
    }
  freeaddrinfo (res);
  snprintf (err, err_len, "%s", strerror (last_errno));
  return NET_FAILED;
}
