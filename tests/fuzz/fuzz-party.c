/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers of the harnesses that run the protocol core (see fuzz.h): the
 * seeded random stream, the in-memory end-to-end storage and the parties.
 * They need the testing build of common (sccommon_testing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/crypto-testing.h"
#include "securechat/crypto.h"
#include "securechat/error.h"

void
fuzz_reseed (const char *tag, uint32_t step)
{
  uint8_t seed[128];
  size_t n = strnlen (tag, sizeof seed - 4);

  memcpy (seed, tag, n);
  for (int i = 0; i < 4; i++)
    seed[n + (size_t) i] = (uint8_t) (step >> (24 - 8 * i));
  sc_random_testing_seed (seed, n + 4);
}

void
fuzz_server_key (uint8_t priv[32], uint8_t pub[32])
{
  for (int i = 0; i < 32; i++)
    priv[i] = (uint8_t) (0x5e ^ (i * 7));
  if (sc_x25519_public (priv, pub) != SC_OK)
    fuzz_fail ("server key");
}

/* ---- In-memory storage ---- */

struct record
{
  char *name;
  uint8_t *buf;
  size_t len;
  bool written; /* by the storage callbacks since the last copy */
};

struct fuzz_mem
{
  struct record *recs;
  size_t n;
  size_t cap;
};

struct fuzz_mem *
fuzz_mem_new (void)
{
  struct fuzz_mem *m = calloc (1, sizeof *m);

  if (m == NULL)
    fuzz_fail ("out of memory");
  return m;
}

static void
mem_clear (struct fuzz_mem *m)
{
  for (size_t i = 0; i < m->n; i++)
    {
      free (m->recs[i].name);
      free (m->recs[i].buf);
    }
  m->n = 0;
}

void
fuzz_mem_free (struct fuzz_mem *m)
{
  if (m == NULL)
    return;
  mem_clear (m);
  free (m->recs);
  free (m);
}

static struct record *
mem_find (struct fuzz_mem *m, const char *name)
{
  for (size_t i = 0; i < m->n; i++)
    if (strcmp (m->recs[i].name, name) == 0)
      return &m->recs[i];
  return NULL;
}

static uint8_t *
dup_bytes (const uint8_t *p, size_t len)
{
  uint8_t *q = malloc (len > 0 ? len : 1);

  if (q == NULL)
    return NULL;
  if (len > 0)
    memcpy (q, p, len);
  return q;
}

static int
mem_load_cb (void *ud, const char *name, uint8_t **buf, size_t *len)
{
  struct record *r = mem_find (ud, name);

  if (r == NULL)
    return SC_ERR_NOT_FOUND;
  *buf = dup_bytes (r->buf, r->len);
  if (*buf == NULL)
    return SC_ERR_NOMEM;
  *len = r->len;
  return SC_OK;
}

static int
mem_store_cb (void *ud, const char *name, const uint8_t *buf, size_t len)
{
  struct fuzz_mem *m = ud;
  struct record *r = mem_find (m, name);
  uint8_t *copy = dup_bytes (buf, len);

  if (copy == NULL)
    return SC_ERR_NOMEM;
  if (r == NULL)
    {
      if (m->n == m->cap)
        {
          size_t cap = m->cap > 0 ? m->cap * 2 : 16;
          struct record *p = realloc (m->recs, cap * sizeof *p);

          if (p == NULL)
            {
              free (copy);
              return SC_ERR_NOMEM;
            }
          m->recs = p;
          m->cap = cap;
        }
      r = &m->recs[m->n];
      r->name = strdup (name);
      if (r->name == NULL)
        {
          free (copy);
          return SC_ERR_NOMEM;
        }
      m->n++;
    }
  else
    free (r->buf);
  r->buf = copy;
  r->len = len;
  r->written = true;
  return SC_OK;
}

static int
mem_remove_cb (void *ud, const char *name)
{
  struct fuzz_mem *m = ud;
  struct record *r = mem_find (m, name);

  if (r == NULL)
    return SC_OK;
  free (r->name);
  free (r->buf);
  *r = m->recs[--m->n];
  return SC_OK;
}

struct sc_e2e_storage
fuzz_mem_storage (struct fuzz_mem *m)
{
  struct sc_e2e_storage st = {
    .load = mem_load_cb,
    .store = mem_store_cb,
    .remove = mem_remove_cb,
    .ud = m,
  };

  return st;
}

void
fuzz_mem_copy (struct fuzz_mem *dst, const struct fuzz_mem *src)
{
  mem_clear (dst);
  for (size_t i = 0; i < src->n; i++)
    fuzz_mem_set (dst, src->recs[i].name, src->recs[i].buf, src->recs[i].len);
}

bool
fuzz_mem_written (const struct fuzz_mem *m, const char *name)
{
  for (size_t i = 0; i < m->n; i++)
    if (strcmp (m->recs[i].name, name) == 0)
      return m->recs[i].written;
  return false;
}

void
fuzz_mem_set (struct fuzz_mem *m,
              const char *name,
              const uint8_t *data,
              size_t len)
{
  struct record *r;

  if (mem_store_cb (m, name, data, len) != SC_OK)
    fuzz_fail ("out of memory");
  r = mem_find (m, name);
  if (r == NULL)
    fuzz_fail ("record %s vanished", name);
  r->written = false;
}

void
fuzz_mem_remove (struct fuzz_mem *m, const char *name)
{
  mem_remove_cb (m, name);
}

/* ---- Parties ---- */

void
fuzz_party_init (struct fuzz_party *p, const char *user, const char *tag)
{
  struct sc_msg_prekey_status none;
  struct sc_e2e_storage st;
  char seed[128];
  bool needed = false;
  int rc;

  memset (p, 0, sizeof *p);
  snprintf (p->user, sizeof p->user, "%s", user);
  snprintf (seed, sizeof seed, "party/%s/%s", user, tag);
  fuzz_reseed (seed, 0);
  p->mem = fuzz_mem_new ();
  st = fuzz_mem_storage (p->mem);
  rc = sc_e2e_open (&st, FUZZ_SERVER, user, &p->e2e);
  if (rc != SC_OK)
    fuzz_fail ("sc_e2e_open %s: %s", user, sc_strerror (rc));
  memset (&none, 0, sizeof none);
  rc = sc_e2e_prekeys_needed (p->e2e, &none, FUZZ_NOW_MS, &p->upload, &needed);
  if (rc != SC_OK || !needed)
    fuzz_fail ("sc_e2e_prekeys_needed %s: %s", user, sc_strerror (rc));
}

void
fuzz_party_clear (struct fuzz_party *p)
{
  sc_msg_clear (&p->upload);
  sc_e2e_free (p->e2e);
  fuzz_mem_free (p->mem);
  memset (p, 0, sizeof *p);
}

void
fuzz_party_bundle (const struct fuzz_party *p,
                   int opk,
                   uint64_t ref,
                   struct sc_msg_bundle *out)
{
  const struct sc_msg_prekeys_upload *u = &p->upload.u.prekeys_upload;

  memset (out, 0, sizeof *out);
  out->ref = ref;
  memcpy (out->user, p->user, sizeof out->user);
  memcpy (out->identity, u->identity, sizeof out->identity);
  out->spk_id = u->spk_id;
  memcpy (out->spk, u->spk, sizeof out->spk);
  memcpy (out->spk_sig, u->spk_sig, sizeof out->spk_sig);
  if (opk >= 0)
    {
      if ((size_t) opk >= u->n_opks)
        fuzz_fail ("no one-time prekey %d", opk);
      out->has_opk = true;
      out->opk_id = u->opks[opk].id;
      memcpy (out->opk, u->opks[opk].key, sizeof out->opk);
    }
}

void
fuzz_party_encrypt (struct fuzz_party *p,
                    const char *peer,
                    const char *text,
                    uint8_t **msg,
                    size_t *msg_len)
{
  int rc = sc_e2e_encrypt (p->e2e, peer, SC_E2E_CONTENT_TEXT,
                           (const uint8_t *) text, strlen (text), msg, msg_len);

  if (rc != SC_OK)
    fuzz_fail ("%s cannot encrypt to %s: %s", p->user, peer, sc_strerror (rc));
}

int
fuzz_party_decrypt (struct fuzz_party *p,
                    const char *peer,
                    const uint8_t *msg,
                    size_t msg_len)
{
  uint8_t type = 0;
  uint8_t *data = NULL;
  size_t data_len = 0;
  unsigned flags = 0;
  int rc;

  rc = sc_e2e_decrypt (p->e2e, peer, msg, msg_len, FUZZ_NOW_MS, &type, &data,
                       &data_len, &flags);
  if (data != NULL)
    {
      sc_wipe (data, data_len);
      free (data);
    }
  return rc;
}

void
fuzz_party_converse (struct fuzz_party *a,
                     struct fuzz_party *b,
                     const char *world)
{
  struct sc_msg_bundle bundle;
  uint8_t *m = NULL;
  size_t len = 0;
  char text[SC_USERNAME_MAX + 8];

  fuzz_reseed (world, 0);
  fuzz_party_bundle (b, 0, 1, &bundle);
  if (sc_e2e_start_session (a->e2e, b->user, &bundle, FUZZ_NOW_MS) != SC_OK)
    fuzz_fail ("world: %s cannot start a session", a->user);
  snprintf (text, sizeof text, "hello %s", b->user);
  fuzz_party_encrypt (a, b->user, text, &m, &len);
  fuzz_reseed (world, 1);
  if (fuzz_party_decrypt (b, a->user, m, len) != SC_OK)
    fuzz_fail ("world: %s cannot read %s", b->user, a->user);
  free (m);
  fuzz_reseed (world, 2);
  snprintf (text, sizeof text, "hello %s", a->user);
  fuzz_party_encrypt (b, a->user, text, &m, &len);
  fuzz_reseed (world, 3);
  if (fuzz_party_decrypt (a, b->user, m, len) != SC_OK)
    fuzz_fail ("world: %s cannot read %s", a->user, b->user);
  free (m);
}
