/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DIR/server.key: the server's static X25519 key as an unencrypted PKCS#8
 * PEM file. It is created with O_EXCL (an existing key is never replaced:
 * that would silently change the fingerprint every client pinned) and mode
 * 0600, and refused on load when group or others may access it. */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "log.h"
#include "util.h"

/* A PEM X25519 key is about 120 bytes; anything much larger is not one. */
#define KEYFILE_MAX_SIZE 16384

/* The reason of the most recent OpenSSL error, and an empty queue. */
static const char *
ssl_reason (void)
{
  unsigned long e = ERR_peek_last_error ();
  const char *r = e != 0 ? ERR_reason_error_string (e) : NULL;

  ERR_clear_error ();
  return r != NULL ? r : "unknown error";
}

static void
fsync_parent (const char *path)
{
  char *dir = strdup (path);
  char *slash;
  int fd;

  if (dir == NULL)
    return;
  slash = strrchr (dir, '/');
  if (slash == NULL)
    strcpy (dir, ".");
  else if (slash == dir)
    slash[1] = '\0';
  else
    *slash = '\0';
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
  free (dir);
}

/* A passphrase callback that refuses: an encrypted key is an error, never
 * a prompt on the server's terminal. */
static int
no_passphrase_cb (char *buf, int size, int rwflag, void *u)
{
  (void) buf;
  (void) size;
  (void) rwflag;
  (void) u;
  return -1;
}

int
keyfile_create (const char *path, uint8_t pub[32], char *err, size_t err_cap)
{
  char shown[256];
  EVP_PKEY_CTX *ctx = NULL;
  EVP_PKEY *pkey = NULL;
  BIO *bio = NULL;
  size_t pub_len = 32;
  bool created = false;
  int fd = -1;
  int ret = -1;

  if (path == NULL || pub == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  memset (pub, 0, 32);
  log_escape (path, strlen (path), shown, sizeof shown);

  ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_X25519, NULL);
  if (ctx == NULL || EVP_PKEY_keygen_init (ctx) != 1 ||
      EVP_PKEY_keygen (ctx, &pkey) != 1)
    {
      util_set_err (err, err_cap, "cannot generate an X25519 key: %s",
                    ssl_reason ());
      goto out;
    }
  if (EVP_PKEY_get_raw_public_key (pkey, pub, &pub_len) != 1 || pub_len != 32)
    {
      util_set_err (err, err_cap, "cannot read the public key: %s",
                    ssl_reason ());
      goto out;
    }

  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      if (errno == EEXIST)
        util_set_err (err, err_cap,
                      "%s already exists; refusing to overwrite it (a new key "
                      "would change the server's fingerprint)",
                      shown);
      else
        util_set_err (err, err_cap, "cannot create %s: %s", shown,
                      strerror (errno));
      goto out;
    }
  created = true;
  /* The umask may have taken bits away; put exactly 0600 back. */
  if (fchmod (fd, 0600) != 0)
    {
      util_set_err (err, err_cap, "cannot chmod %s: %s", shown,
                    strerror (errno));
      goto out;
    }

  bio = BIO_new_fd (fd, BIO_NOCLOSE);
  if (bio == NULL ||
      PEM_write_bio_PrivateKey (bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
      BIO_flush (bio) != 1)
    {
      util_set_err (err, err_cap, "cannot write %s: %s", shown, ssl_reason ());
      goto out;
    }
  if (fsync (fd) != 0)
    {
      util_set_err (err, err_cap, "cannot write %s: %s", shown,
                    strerror (errno));
      goto out;
    }
  if (close (fd) != 0)
    {
      fd = -1;
      util_set_err (err, err_cap, "cannot write %s: %s", shown,
                    strerror (errno));
      goto out;
    }
  fd = -1;
  fsync_parent (path);
  ret = 0;

out:
  BIO_free (bio);
  if (fd >= 0)
    close (fd);
  if (ret != 0)
    {
      if (created)
        unlink (path);
      memset (pub, 0, 32);
    }
  EVP_PKEY_free (pkey);
  EVP_PKEY_CTX_free (ctx);
  ERR_clear_error ();
  return ret;
}

int
keyfile_load (const char *path,
              uint8_t priv[32],
              uint8_t pub[32],
              char *err,
              size_t err_cap)
{
  char shown[256];
  char *buf = NULL;
  size_t len = 0, priv_len = 32, pub_len = 32;
  struct stat st;
  EVP_PKEY *pkey = NULL;
  BIO *bio = NULL;
  int fd = -1;
  int ret = -1;

  if (path == NULL || priv == NULL || pub == NULL)
    {
      util_set_err (err, err_cap, "internal error: missing argument");
      return -1;
    }
  memset (priv, 0, 32);
  memset (pub, 0, 32);
  log_escape (path, strlen (path), shown, sizeof shown);

  fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    {
      if (errno == ELOOP)
        util_set_err (err, err_cap, "%s is a symbolic link; refusing to use it",
                      shown);
      else
        util_set_err (err, err_cap, "cannot open %s: %s", shown,
                      strerror (errno));
      goto out;
    }
  if (fstat (fd, &st) != 0)
    {
      util_set_err (err, err_cap, "cannot stat %s: %s", shown,
                    strerror (errno));
      goto out;
    }
  if (!S_ISREG (st.st_mode))
    {
      util_set_err (err, err_cap, "%s is not a regular file", shown);
      goto out;
    }
  if ((st.st_mode & 077) != 0)
    {
      util_set_err (err, err_cap,
                    "%s is accessible by group or others (mode %04o); the key "
                    "must be private: chmod 600 %s",
                    shown, (unsigned) (st.st_mode & 07777), shown);
      goto out;
    }
  if (st.st_size > KEYFILE_MAX_SIZE)
    {
      util_set_err (err, err_cap, "%s is too large to be a key (%lld bytes)",
                    shown, (long long) st.st_size);
      goto out;
    }

  /* Read it whole (bounded) so the parser sees a stable copy, which is
   * wiped afterwards. */
  buf = OPENSSL_malloc (KEYFILE_MAX_SIZE + 1);
  if (buf == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      goto out;
    }
  for (;;)
    {
      ssize_t n = read (fd, buf + len, KEYFILE_MAX_SIZE + 1 - len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          util_set_err (err, err_cap, "cannot read %s: %s", shown,
                        strerror (errno));
          goto out;
        }
      if (n == 0)
        break;
      len += (size_t) n;
      if (len > KEYFILE_MAX_SIZE)
        {
          util_set_err (err, err_cap, "%s is too large to be a key", shown);
          goto out;
        }
    }

  bio = BIO_new_mem_buf (buf, (int) len);
  if (bio == NULL)
    {
      util_set_err (err, err_cap, "out of memory");
      goto out;
    }
  pkey = PEM_read_bio_PrivateKey (bio, NULL, no_passphrase_cb, NULL);
  if (pkey == NULL)
    {
      util_set_err (err, err_cap,
                    "%s is not an unencrypted PEM private key (%s)", shown,
                    ssl_reason ());
      goto out;
    }
  if (!EVP_PKEY_is_a (pkey, "X25519"))
    {
      util_set_err (err, err_cap, "%s holds a %s key, not an X25519 key", shown,
                    EVP_PKEY_get0_type_name (pkey) != NULL
                        ? EVP_PKEY_get0_type_name (pkey)
                        : "non-X25519");
      goto out;
    }
  if (EVP_PKEY_get_raw_private_key (pkey, priv, &priv_len) != 1 ||
      priv_len != 32 ||
      EVP_PKEY_get_raw_public_key (pkey, pub, &pub_len) != 1 || pub_len != 32)
    {
      util_set_err (err, err_cap, "cannot extract the key from %s: %s", shown,
                    ssl_reason ());
      goto out;
    }
  ret = 0;

out:
  if (ret != 0)
    {
      OPENSSL_cleanse (priv, 32);
      memset (pub, 0, 32);
    }
  EVP_PKEY_free (pkey);
  BIO_free (bio);
  if (buf != NULL)
    OPENSSL_clear_free (buf, KEYFILE_MAX_SIZE + 1);
  if (fd >= 0)
    close (fd);
  ERR_clear_error ();
  return ret;
}
