/* SPDX-License-Identifier: GPL-3.0-or-later */
/* File-backed storage for the end-to-end manager. Everything goes through
 * a descriptor of the folder (openat and friends), so the folder cannot
 * be swapped under us by a rename of a parent, and no name ever follows a
 * symbolic link. */
#include "securechat/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "securechat/crypto.h"
#include "securechat/error.h"

#define LOCK_NAME ".lock"
/* ".<name>.tmp.<16 hex>" */
#define TMP_SUFFIX_HEX 16
#define PATH_CAP       (SC_KEYSTORE_NAME_MAX + 32)

struct sc_keystore
{
  int dirfd;
  int lockfd;
  bool locked;
  struct sc_e2e_storage storage;
  char err[256];
};

static int
set_err (struct sc_keystore *ks, int err, const char *what, int sys)
{
  snprintf (ks->err, sizeof ks->err, "%s: %s", what,
            sys != 0 ? strerror (sys) : sc_strerror (err));
  return err;
}

int
sc_keystore_validate_name (const char *name)
{
  size_t len;
  size_t slashes = 0;
  bool start = true;

  if (name == NULL)
    return SC_ERR_INVALID;
  len = strnlen (name, SC_KEYSTORE_NAME_MAX + 1);
  if (len == 0 || len > SC_KEYSTORE_NAME_MAX)
    return SC_ERR_INVALID;
  for (size_t i = 0; i < len; i++)
    {
      char ch = name[i];

      if (ch == '/')
        {
          /* An empty component ("a//b", "/a", "a/") or a second level. */
          if (start || ++slashes > 1)
            return SC_ERR_INVALID;
          start = true;
          continue;
        }
      if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
            ch == '_' || ch == '-'))
        return SC_ERR_INVALID;
      /* No component starts with '.': no ".", "..", hidden or temporary
       * files. */
      if (start && ch == '.')
        return SC_ERR_INVALID;
      start = false;
    }
  return start ? SC_ERR_INVALID : SC_OK;
}

/* A folder we may keep secrets in: ours, a directory, nobody else's. */
static int
check_private_dir (int fd)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return -errno;
  if (!S_ISDIR (st.st_mode))
    return -ENOTDIR;
  if (st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    return -EPERM;
  return 0;
}

/* mkdir -p, each new folder 0700. path is modified in place and
 * restored. */
static int
make_dirs (char *path)
{
  size_t len = strlen (path);

  for (size_t i = 1; i <= len; i++)
    {
      char saved;

      if (i < len && path[i] != '/')
        continue;
      saved = path[i];
      path[i] = '\0';
      if (mkdir (path, 0700) < 0 && errno != EEXIST)
        {
          int e = errno;
          struct stat st;

          /* Some systems check permission before existence. */
          if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
            {
              path[i] = saved;
              continue;
            }

          path[i] = saved;
          return -e;
        }
      path[i] = saved;
    }
  return 0;
}

static int
st_load (void *ud, const char *name, uint8_t **buf, size_t *len)
{
  return sc_keystore_load (ud, name, buf, len);
}

static int
st_store (void *ud, const char *name, const uint8_t *buf, size_t len)
{
  return sc_keystore_store (ud, name, buf, len);
}

static int
st_remove (void *ud, const char *name)
{
  return sc_keystore_remove (ud, name);
}

static int
st_lock (void *ud)
{
  return sc_keystore_lock (ud);
}

static void
st_unlock (void *ud)
{
  sc_keystore_unlock (ud);
}

int
sc_keystore_open (const char *dir, struct sc_keystore **out)
{
  struct sc_keystore *ks;
  char *path;
  int rc;

  if (out == NULL)
    return SC_ERR_INVALID;
  *out = NULL;
  if (dir == NULL || dir[0] == '\0')
    return SC_ERR_INVALID;

  path = strdup (dir);
  if (path == NULL)
    return SC_ERR_NOMEM;
  rc = make_dirs (path);
  free (path);
  if (rc < 0)
    {
      errno = -rc;
      return SC_ERR_STORAGE;
    }

  ks = calloc (1, sizeof *ks);
  if (ks == NULL)
    return SC_ERR_NOMEM;
  ks->lockfd = -1;
  ks->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (ks->dirfd < 0)
    goto fail;
  rc = check_private_dir (ks->dirfd);
  if (rc < 0)
    {
      errno = -rc;
      goto fail;
    }
  ks->lockfd = openat (ks->dirfd, LOCK_NAME,
                       O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (ks->lockfd < 0)
    goto fail;

  ks->storage.load = st_load;
  ks->storage.store = st_store;
  ks->storage.remove = st_remove;
  ks->storage.lock = st_lock;
  ks->storage.unlock = st_unlock;
  ks->storage.ud = ks;
  *out = ks;
  return SC_OK;

fail:
  {
    int e = errno;

    sc_keystore_free (ks);
    errno = e;
  }
  return SC_ERR_STORAGE;
}

void
sc_keystore_free (struct sc_keystore *ks)
{
  if (ks == NULL)
    return;
  if (ks->locked)
    sc_keystore_unlock (ks);
  if (ks->lockfd >= 0)
    close (ks->lockfd);
  if (ks->dirfd >= 0)
    close (ks->dirfd);
  free (ks);
}

const struct sc_e2e_storage *
sc_keystore_storage (struct sc_keystore *ks)
{
  return ks != NULL ? &ks->storage : NULL;
}

const char *
sc_keystore_last_error (const struct sc_keystore *ks)
{
  return ks != NULL ? ks->err : "";
}

/* Splits name into the folder descriptor to use and the file name in
 * it. A name without '/' lives in the top folder (*fd = ks->dirfd, not
 * to be closed). With create, a missing subfolder is made 0700. */
static int
resolve (struct sc_keystore *ks,
         const char *name,
         bool create,
         int *fd,
         const char **base)
{
  const char *slash = strchr (name, '/');
  char sub[SC_KEYSTORE_NAME_MAX + 1];
  size_t sub_len;
  int rc;

  if (slash == NULL)
    {
      *fd = ks->dirfd;
      *base = name;
      return 0;
    }
  sub_len = (size_t) (slash - name);
  memcpy (sub, name, sub_len);
  sub[sub_len] = '\0';
  if (create && mkdirat (ks->dirfd, sub, 0700) < 0 && errno != EEXIST)
    return -errno;
  *fd =
      openat (ks->dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (*fd < 0)
    return -errno;
  rc = check_private_dir (*fd);
  if (rc < 0)
    {
      close (*fd);
      *fd = -1;
      return rc;
    }
  *base = slash + 1;
  return 0;
}

static void
release (struct sc_keystore *ks, int fd)
{
  if (fd >= 0 && fd != ks->dirfd)
    close (fd);
}

int
sc_keystore_load (struct sc_keystore *ks,
                  const char *name,
                  uint8_t **buf,
                  size_t *len)
{
  struct stat st;
  const char *base = NULL;
  uint8_t *data = NULL;
  size_t got = 0;
  int dfd = -1;
  int fd = -1;
  int rc;

  if (buf != NULL)
    *buf = NULL;
  if (len != NULL)
    *len = 0;
  if (ks == NULL || buf == NULL || len == NULL)
    return SC_ERR_INVALID;
  if (sc_keystore_validate_name (name) < 0)
    return set_err (ks, SC_ERR_INVALID, "bad name", 0);

  rc = resolve (ks, name, false, &dfd, &base);
  if (rc == -ENOENT)
    return SC_ERR_NOT_FOUND;
  if (rc < 0)
    return set_err (ks, SC_ERR_STORAGE, name, -rc);
  fd = openat (dfd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0)
    {
      int e = errno;

      release (ks, dfd);
      if (e == ENOENT)
        return SC_ERR_NOT_FOUND;
      return set_err (ks, SC_ERR_STORAGE, name, e);
    }
  release (ks, dfd);

  if (fstat (fd, &st) < 0)
    {
      rc = set_err (ks, SC_ERR_STORAGE, name, errno);
      goto out;
    }
  if (!S_ISREG (st.st_mode))
    {
      rc = set_err (ks, SC_ERR_STORAGE, name, EINVAL);
      goto out;
    }
  /* A secret file others can read (or change) is not trusted. */
  if (st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    {
      rc = set_err (ks, SC_ERR_STORAGE, name, EPERM);
      goto out;
    }
  if (st.st_size < 0 || (uintmax_t) st.st_size > SC_KEYSTORE_FILE_MAX)
    {
      rc = set_err (ks, SC_ERR_TOO_LARGE, name, EFBIG);
      goto out;
    }

  /* One byte more than the size says, to notice a file that grew. */
  data = malloc ((size_t) st.st_size + 1);
  if (data == NULL)
    {
      rc = SC_ERR_NOMEM;
      goto out;
    }
  for (;;)
    {
      ssize_t n = read (fd, data + got, (size_t) st.st_size + 1 - got);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          rc = set_err (ks, SC_ERR_STORAGE, name, errno);
          goto out;
        }
      if (n == 0)
        break;
      got += (size_t) n;
      if (got > (size_t) st.st_size)
        {
          /* Files are replaced by rename, never written in place. */
          rc = set_err (ks, SC_ERR_STORAGE, name, EBUSY);
          goto out;
        }
    }
  *buf = data;
  *len = got;
  data = NULL;
  rc = SC_OK;

out:
  if (data != NULL)
    {
      sc_wipe (data, got);
      free (data);
    }
  close (fd);
  return rc;
}

static int
write_all (int fd, const uint8_t *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -errno;
        }
      buf += n;
      len -= (size_t) n;
    }
  return 0;
}

int
sc_keystore_store (struct sc_keystore *ks,
                   const char *name,
                   const uint8_t *buf,
                   size_t len)
{
  static const char hex[] = "0123456789abcdef";
  char tmp[PATH_CAP];
  uint8_t rnd[TMP_SUFFIX_HEX / 2];
  const char *base = NULL;
  int dfd = -1;
  int fd = -1;
  int rc;
  int n;

  if (ks == NULL || (buf == NULL && len > 0))
    return SC_ERR_INVALID;
  if (sc_keystore_validate_name (name) < 0)
    return set_err (ks, SC_ERR_INVALID, "bad name", 0);
  if (len > SC_KEYSTORE_FILE_MAX)
    return set_err (ks, SC_ERR_TOO_LARGE, name, EFBIG);

  rc = resolve (ks, name, true, &dfd, &base);
  if (rc < 0)
    return set_err (ks, SC_ERR_STORAGE, name, -rc);
  rc = sc_random (rnd, sizeof rnd);
  if (rc < 0)
    {
      release (ks, dfd);
      return rc;
    }
  n = snprintf (tmp, sizeof tmp, ".%s.tmp.", base);
  for (size_t i = 0; i < sizeof rnd && n > 0 && (size_t) n + 3 <= sizeof tmp;
       i++)
    {
      tmp[n++] = hex[rnd[i] >> 4];
      tmp[n++] = hex[rnd[i] & 15];
      tmp[n] = '\0';
    }

  fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
               0600);
  if (fd < 0)
    {
      rc = set_err (ks, SC_ERR_STORAGE, name, errno);
      release (ks, dfd);
      return rc;
    }
  rc = write_all (fd, buf, len);
  if (rc == 0 && fsync (fd) < 0)
    rc = -errno;
  if (close (fd) < 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && renameat (dfd, tmp, dfd, base) < 0)
    rc = -errno;
  if (rc < 0)
    {
      unlinkat (dfd, tmp, 0);
      release (ks, dfd);
      return set_err (ks, SC_ERR_STORAGE, name, -rc);
    }
  /* The rename is durable once the folder is. */
  if (fsync (dfd) < 0)
    rc = -errno;
  release (ks, dfd);
  if (rc < 0)
    return set_err (ks, SC_ERR_STORAGE, name, -rc);
  return SC_OK;
}

int
sc_keystore_remove (struct sc_keystore *ks, const char *name)
{
  const char *base = NULL;
  int dfd = -1;
  int rc;

  if (ks == NULL)
    return SC_ERR_INVALID;
  if (sc_keystore_validate_name (name) < 0)
    return set_err (ks, SC_ERR_INVALID, "bad name", 0);
  rc = resolve (ks, name, false, &dfd, &base);
  if (rc == -ENOENT)
    return SC_OK;
  if (rc < 0)
    return set_err (ks, SC_ERR_STORAGE, name, -rc);
  if (unlinkat (dfd, base, 0) < 0)
    {
      int e = errno;

      release (ks, dfd);
      if (e == ENOENT)
        return SC_OK;
      return set_err (ks, SC_ERR_STORAGE, name, e);
    }
  rc = fsync (dfd) < 0 ? errno : 0;
  release (ks, dfd);
  if (rc != 0)
    return set_err (ks, SC_ERR_STORAGE, name, rc);
  return SC_OK;
}

static int
lock_op (struct sc_keystore *ks, short type)
{
  struct flock fl;

  memset (&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  while (fcntl (ks->lockfd, F_SETLKW, &fl) < 0)
    {
      if (errno != EINTR)
        return -errno;
    }
  return 0;
}

int
sc_keystore_lock (struct sc_keystore *ks)
{
  int rc;

  if (ks == NULL)
    return SC_ERR_INVALID;
  if (ks->locked)
    return SC_ERR_STATE;
  rc = lock_op (ks, F_WRLCK);
  if (rc < 0)
    return set_err (ks, SC_ERR_STORAGE, LOCK_NAME, -rc);
  ks->locked = true;
  return SC_OK;
}

void
sc_keystore_unlock (struct sc_keystore *ks)
{
  if (ks == NULL || !ks->locked)
    return;
  lock_op (ks, F_UNLCK);
  ks->locked = false;
}
