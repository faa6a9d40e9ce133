/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "known-servers.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"

struct ks_line
{
  char *text; /* the line as read, without "\n"; NULL for a new entry */
  bool entry;
  bool modified; /* written from server and fp instead of text */
  char *server;
  char fp[SC_FINGERPRINT_LEN + 1];
};

struct ks_problem
{
  size_t line;
  const char *reason;
};

struct known_servers
{
  struct ks_line *lines;
  size_t n_lines;
  size_t cap_lines;
  struct ks_problem *problems;
  size_t n_problems;
  size_t cap_problems;
};

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r';
}

static bool
valid_host_char (char c, bool bracketed)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
    return true;
  return bracketed && (c == ':' || c == '%');
}

bool
known_servers_valid_server (const char *s, size_t len)
{
  const char *colon = NULL;
  const char *host = s;
  const char *port;
  size_t host_len;
  size_t port_len;
  bool bracketed;
  unsigned long num = 0;

  if (len == 0 || len > NET_KEY_MAX)
    return false;
  for (size_t i = len; i > 0; i--)
    if (s[i - 1] == ':')
      {
        colon = s + i - 1;
        break;
      }
  if (colon == NULL)
    return false;
  host_len = (size_t) (colon - s);
  port = colon + 1;
  port_len = len - host_len - 1;

  bracketed = host_len >= 2 && s[0] == '[' && s[host_len - 1] == ']';
  if (bracketed)
    {
      host++;
      host_len -= 2;
    }
  if (host_len == 0 || host_len > NET_HOST_MAX)
    return false;
  for (size_t i = 0; i < host_len; i++)
    if (!valid_host_char (host[i], bracketed))
      return false;
  if (!bracketed && memchr (host, ':', host_len) != NULL)
    return false;

  /* A port without leading zeros, 1..65535. */
  if (port_len == 0 || port_len > NET_PORT_MAX || port[0] == '0')
    return false;
  for (size_t i = 0; i < port_len; i++)
    {
      if (port[i] < '0' || port[i] > '9')
        return false;
      num = num * 10 + (unsigned long) (port[i] - '0');
    }
  return num <= 65535;
}

static int
add_line (struct known_servers *ks, struct ks_line **out)
{
  if (ks->n_lines == ks->cap_lines)
    {
      size_t cap = ks->cap_lines > 0 ? ks->cap_lines * 2 : 16;
      struct ks_line *p = realloc (ks->lines, cap * sizeof *p);

      if (p == NULL)
        return -ENOMEM;
      ks->lines = p;
      ks->cap_lines = cap;
    }
  *out = &ks->lines[ks->n_lines++];
  memset (*out, 0, sizeof **out);
  return 0;
}

static int
add_problem (struct known_servers *ks, size_t line, const char *reason)
{
  if (ks->n_problems == ks->cap_problems)
    {
      size_t cap = ks->cap_problems > 0 ? ks->cap_problems * 2 : 4;
      struct ks_problem *p = realloc (ks->problems, cap * sizeof *p);

      if (p == NULL)
        return -ENOMEM;
      ks->problems = p;
      ks->cap_problems = cap;
    }
  ks->problems[ks->n_problems].line = line;
  ks->problems[ks->n_problems].reason = reason;
  ks->n_problems++;
  return 0;
}

/* Fills l from its text; returns NULL or what is wrong with it. */
static const char *
parse_line (struct ks_line *l, size_t len)
{
  const char *p = l->text;
  const char *end = p + len;
  const char *server;
  size_t server_len;
  const char *fp;
  size_t fp_len;

  if (memchr (p, '\0', len) != NULL)
    return "contains a NUL byte";
  while (p < end && is_space (*p))
    p++;
  if (p == end || *p == '#')
    return NULL;

  server = p;
  while (p < end && !is_space (*p))
    p++;
  server_len = (size_t) (p - server);
  while (p < end && is_space (*p))
    p++;
  fp = p;
  while (p < end && !is_space (*p))
    p++;
  fp_len = (size_t) (p - fp);
  while (p < end && is_space (*p))
    p++;

  if (fp_len == 0)
    return "no fingerprint after the server name";
  if (p != end)
    return "unexpected text after the fingerprint";
  if (!known_servers_valid_server (server, server_len))
    return "not a HOST:PORT server name";
  if (fp_len != SC_FINGERPRINT_LEN)
    return "not a SHA256: fingerprint";
  memcpy (l->fp, fp, fp_len);
  l->fp[fp_len] = '\0';
  if (sc_fingerprint_validate (l->fp) < 0)
    {
      l->fp[0] = '\0';
      return "not a SHA256: fingerprint";
    }
  l->server = strndup (server, server_len);
  if (l->server == NULL)
    return "";
  l->entry = true;
  return NULL;
}

int
known_servers_parse (const char *text, size_t len, struct known_servers **out)
{
  struct known_servers *ks;
  size_t off = 0;
  size_t lineno = 0;
  int rc = 0;

  *out = NULL;
  ks = calloc (1, sizeof *ks);
  if (ks == NULL)
    return -ENOMEM;

  while (off < len)
    {
      const char *start = text + off;
      const char *nl = memchr (start, '\n', len - off);
      size_t line_len = nl != NULL ? (size_t) (nl - start) : len - off;
      struct ks_line *l;
      const char *problem;

      lineno++;
      off += line_len + (nl != NULL ? 1 : 0);
      rc = add_line (ks, &l);
      if (rc < 0)
        goto fail;
      l->text = malloc (line_len + 1);
      if (l->text == NULL)
        {
          rc = -ENOMEM;
          goto fail;
        }
      memcpy (l->text, start, line_len);
      l->text[line_len] = '\0';
      problem = parse_line (l, line_len);
      if (problem != NULL && problem[0] == '\0')
        {
          rc = -ENOMEM;
          goto fail;
        }
      if (problem != NULL)
        {
          rc = add_problem (ks, lineno, problem);
          if (rc < 0)
            goto fail;
        }
    }
  *out = ks;
  return 0;

fail:
  known_servers_free (ks);
  return rc;
}

void
known_servers_free (struct known_servers *ks)
{
  if (ks == NULL)
    return;
  for (size_t i = 0; i < ks->n_lines; i++)
    {
      free (ks->lines[i].text);
      free (ks->lines[i].server);
    }
  free (ks->lines);
  free (ks->problems);
  free (ks);
}

int
known_servers_load (const char *path, struct known_servers **out)
{
  struct stat st;
  char *buf = NULL;
  size_t len = 0;
  int fd;
  int rc;

  *out = NULL;
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return known_servers_parse ("", 0, out);
      return -errno;
    }
  if (fstat (fd, &st) < 0)
    {
      rc = -errno;
      goto out;
    }
  if (!S_ISREG (st.st_mode))
    {
      rc = S_ISDIR (st.st_mode) ? -EISDIR : -EINVAL;
      goto out;
    }
  if (st.st_size > KNOWN_SERVERS_FILE_MAX)
    {
      rc = -EFBIG;
      goto out;
    }
  buf = malloc (KNOWN_SERVERS_FILE_MAX + 1);
  if (buf == NULL)
    {
      rc = -ENOMEM;
      goto out;
    }
  /* Read to the end, whatever fstat said: the file may be growing. */
  for (;;)
    {
      ssize_t n = read (fd, buf + len, KNOWN_SERVERS_FILE_MAX + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          rc = -errno;
          goto out;
        }
      if (n == 0)
        break;
      len += (size_t) n;
      if (len > KNOWN_SERVERS_FILE_MAX)
        {
          rc = -EFBIG;
          goto out;
        }
    }
  rc = known_servers_parse (buf, len, out);

out:
  free (buf);
  close (fd);
  return rc;
}

size_t
known_servers_n_problems (const struct known_servers *ks)
{
  return ks->n_problems;
}

const char *
known_servers_problem (const struct known_servers *ks, size_t i, size_t *line)
{
  if (i >= ks->n_problems)
    {
      if (line != NULL)
        *line = 0;
      return NULL;
    }
  if (line != NULL)
    *line = ks->problems[i].line;
  return ks->problems[i].reason;
}

static struct ks_line *
find (const struct known_servers *ks, const char *server, size_t *line)
{
  for (size_t i = 0; i < ks->n_lines; i++)
    if (ks->lines[i].entry && strcasecmp (ks->lines[i].server, server) == 0)
      {
        if (line != NULL)
          *line = i + 1;
        return &ks->lines[i];
      }
  if (line != NULL)
    *line = 0;
  return NULL;
}

const char *
known_servers_lookup (const struct known_servers *ks,
                      const char *server,
                      size_t *line)
{
  struct ks_line *l = find (ks, server, line);

  return l != NULL ? l->fp : NULL;
}

int
known_servers_set (struct known_servers *ks, const char *server, const char *fp)
{
  struct ks_line *l;
  char *copy;
  int rc;

  if (!known_servers_valid_server (server, strlen (server)) ||
      sc_fingerprint_validate (fp) < 0)
    return -EINVAL;
  l = find (ks, server, NULL);
  if (l != NULL)
    {
      memcpy (l->fp, fp, SC_FINGERPRINT_LEN + 1);
      l->modified = true;
      return 0;
    }
  copy = strdup (server);
  if (copy == NULL)
    return -ENOMEM;
  rc = add_line (ks, &l);
  if (rc < 0)
    {
      free (copy);
      return rc;
    }
  l->entry = true;
  l->modified = true;
  l->server = copy;
  memcpy (l->fp, fp, SC_FINGERPRINT_LEN + 1);
  return 0;
}

int
known_servers_format (const struct known_servers *ks, char **out, size_t *len)
{
  size_t total = 0;
  char *buf;
  char *p;

  *out = NULL;
  *len = 0;
  for (size_t i = 0; i < ks->n_lines; i++)
    {
      const struct ks_line *l = &ks->lines[i];

      if (l->modified)
        total += strlen (l->server) + 1 + SC_FINGERPRINT_LEN + 1;
      else
        total += strlen (l->text) + 1;
    }
  buf = malloc (total + 1);
  if (buf == NULL)
    return -ENOMEM;
  p = buf;
  for (size_t i = 0; i < ks->n_lines; i++)
    {
      const struct ks_line *l = &ks->lines[i];
      size_t n;

      if (l->modified)
        {
          n = strlen (l->server);
          memcpy (p, l->server, n);
          p += n;
          *p++ = ' ';
          memcpy (p, l->fp, SC_FINGERPRINT_LEN);
          p += SC_FINGERPRINT_LEN;
        }
      else
        {
          n = strlen (l->text);
          memcpy (p, l->text, n);
          p += n;
        }
      *p++ = '\n';
    }
  *p = '\0';
  *out = buf;
  *len = total;
  return 0;
}

/* mkdir -p of path's parent directories, each new one mode 0700. */
static int
make_parents (const char *path)
{
  char *copy = strdup (path);
  int rc = 0;

  if (copy == NULL)
    return -ENOMEM;
  for (char *p = copy + 1; *p != '\0'; p++)
    {
      if (*p != '/')
        continue;
      *p = '\0';
      if (mkdir (copy, 0700) < 0 && errno != EEXIST)
        {
          rc = -errno;
          break;
        }
      *p = '/';
    }
  free (copy);
  return rc;
}

static char *
parent_dir (const char *path)
{
  const char *slash = strrchr (path, '/');

  if (slash == NULL)
    return strdup (".");
  if (slash == path)
    return strdup ("/");
  return strndup (path, (size_t) (slash - path));
}

static int
write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      buf += n;
      len -= (size_t) n;
    }
  return 0;
}

int
known_servers_save (const struct known_servers *ks, const char *path)
{
  char *text = NULL;
  size_t len = 0;
  char *tmp = NULL;
  char *dir = NULL;
  int fd = -1;
  int rc;

  rc = make_parents (path);
  if (rc < 0)
    return rc;
  rc = known_servers_format (ks, &text, &len);
  if (rc < 0)
    return rc;
  dir = parent_dir (path);
  if (dir == NULL || asprintf (&tmp, "%s.tmp-XXXXXX", path) < 0)
    {
      tmp = NULL;
      rc = -ENOMEM;
      goto out;
    }
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    {
      rc = -errno;
      free (tmp);
      tmp = NULL;
      goto out;
    }
  if (fchmod (fd, 0600) < 0 || (rc = write_all (fd, text, len)) < 0 ||
      fsync (fd) < 0)
    {
      if (rc == 0)
        rc = -errno;
      goto out;
    }
  if (close (fd) < 0)
    {
      fd = -1;
      rc = -errno;
      goto out;
    }
  fd = -1;
  if (rename (tmp, path) < 0)
    {
      rc = -errno;
      goto out;
    }
  free (tmp);
  tmp = NULL;
  /* Make the rename itself durable. */
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    fsync (fd);
  rc = 0;

out:
  if (fd >= 0)
    close (fd);
  if (tmp != NULL)
    {
      unlink (tmp);
      free (tmp);
    }
  free (dir);
  free (text);
  return rc;
}

int
known_servers_lock (const char *path)
{
  char *dir;
  int fd;
  int rc;

  rc = make_parents (path);
  if (rc < 0)
    return rc;
  dir = parent_dir (path);
  if (dir == NULL)
    return -ENOMEM;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free (dir);
  if (fd < 0)
    return -errno;
  while (flock (fd, LOCK_EX) < 0)
    {
      if (errno != EINTR)
        {
          rc = -errno;
          close (fd);
          return rc;
        }
    }
  return fd;
}

void
known_servers_unlock (int lock_fd)
{
  if (lock_fd >= 0)
    close (lock_fd);
}

char *
known_servers_default_path (void)
{
  const char *xdg = getenv ("XDG_CONFIG_HOME");
  const char *home = getenv ("HOME");
  char *path = NULL;

  if (xdg != NULL && xdg[0] == '/')
    {
      if (asprintf (&path, "%s/securechat/known_servers", xdg) < 0)
        return NULL;
      return path;
    }
  if (home == NULL || home[0] == '\0')
    {
      struct passwd *pw = getpwuid (getuid ());

      home = pw != NULL ? pw->pw_dir : NULL;
    }
  if (home == NULL || home[0] == '\0')
    return NULL;
  if (asprintf (&path, "%s/.config/securechat/known_servers", home) < 0)
    return NULL;
  return path;
}
