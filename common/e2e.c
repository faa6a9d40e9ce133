/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The end-to-end manager: identity, prekeys, sessions and contacts over a
 * caller-provided storage (PROTOCOL.md section 12).
 *
 * Every public call takes the storage lock, loads the records it needs,
 * works on those copies and stores what changed only once all of it
 * succeeded; nothing but the identity is kept in memory between calls.
 * Record layouts (all big-endian, first byte the record version 1):
 *
 *   account   u8 len || server || u8 len || user
 *   identity  sc_identity_serialize
 *   prekeys   BE32 next_spk_id || BE32 next_opk_id || u8 has_current
 *             || [spk] || u8 n_old || n_old * spk || BE32 n_opk
 *             || n_opk * (BE32 id || 32 priv)
 *             spk = BE32 id || 32 priv || 64 sig || BE64 time (created
 *             for the current one, retired for old ones)
 *   replay    BE32 n || n * 32 EK_A
 *   contact   u8 flags (1 verified, 2 changed) || 64 identity
 *             || [64 pending identity when changed]
 *   session   u8 n || n * (64 peer identity || u8 flags (1 initiator)
 *             || 32 EK_A || BE32 spk_id || BE32 opk_id || BE32 len
 *             || sc_ratchet_serialize), the current session first */
#include "securechat/e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/ratchet.h"
#include "securechat/x3dh.h"

#define RECORD_VERSION 1
#define SERVER_ID_MAX  255
#define NAME_CAP       (16 + SC_USERNAME_MAX)
/* Old signed prekeys kept within their grace period: one rotation a
 * week for 30 days, plus slack for rotations forced by a server that
 * lost our keys. */
#define SPK_OLD_MAX  16
#define MAX_SESSIONS (1 + SC_E2E_ARCHIVED_SESSIONS)

#define CONTACT_VERIFIED  0x01
#define CONTACT_CHANGED   0x02
#define SESSION_INITIATOR 0x01

struct sc_e2e
{
  struct sc_e2e_storage st;
  char server[SERVER_ID_MAX + 1];
  char user[SC_USERNAME_MAX + 1];
  struct sc_identity id;
  bool created;
};

/* ---- byte buffers ---------------------------------------------------- */

/* A growing output buffer; it holds secrets, so old copies are wiped. */
struct wbuf
{
  uint8_t *p;
  size_t len;
  size_t cap;
  int err; /* SC_ERR_TOO_LARGE or SC_ERR_NOMEM once a put failed */
};

static void
wbuf_free (struct wbuf *w)
{
  if (w->p != NULL)
    {
      sc_wipe (w->p, w->cap);
      free (w->p);
    }
  memset (w, 0, sizeof *w);
}

static void
put (struct wbuf *w, const void *data, size_t n)
{
  if (w->err != SC_OK)
    return;
  if (n > SC_E2E_RECORD_MAX || w->len > SC_E2E_RECORD_MAX - n)
    {
      w->err = SC_ERR_TOO_LARGE;
      return;
    }
  if (w->len + n > w->cap)
    {
      size_t cap = w->cap > 0 ? w->cap : 256;
      uint8_t *p;

      while (cap < w->len + n)
        cap *= 2;
      p = malloc (cap);
      if (p == NULL)
        {
          w->err = SC_ERR_NOMEM;
          return;
        }
      if (w->len > 0)
        memcpy (p, w->p, w->len);
      if (w->p != NULL)
        {
          sc_wipe (w->p, w->cap);
          free (w->p);
        }
      w->p = p;
      w->cap = cap;
    }
  if (n > 0)
    memcpy (w->p + w->len, data, n);
  w->len += n;
}

static void
put_u8 (struct wbuf *w, uint8_t v)
{
  put (w, &v, 1);
}

static void
put_be32 (struct wbuf *w, uint32_t v)
{
  uint8_t b[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8),
                   (uint8_t) v };

  put (w, b, sizeof b);
}

static void
put_be64 (struct wbuf *w, int64_t sv)
{
  uint64_t v = (uint64_t) sv;

  put_be32 (w, (uint32_t) (v >> 32));
  put_be32 (w, (uint32_t) v);
}

/* A bounded reader: every getter checks the length first and a failed
 * read sets bad (and zero-fills the output). */
struct rbuf
{
  const uint8_t *p;
  size_t left;
  bool bad;
};

static void
get (struct rbuf *r, void *out, size_t n)
{
  if (r->bad || r->left < n)
    {
      r->bad = true;
      memset (out, 0, n);
      return;
    }
  memcpy (out, r->p, n);
  r->p += n;
  r->left -= n;
}

static uint8_t
get_u8 (struct rbuf *r)
{
  uint8_t v;

  get (r, &v, 1);
  return v;
}

static uint32_t
get_be32 (struct rbuf *r)
{
  uint8_t b[4];

  get (r, b, sizeof b);
  return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 |
         b[3];
}

static int64_t
get_be64 (struct rbuf *r)
{
  uint64_t hi = get_be32 (r);
  uint64_t lo = get_be32 (r);

  return (int64_t) (hi << 32 | lo);
}

static uint32_t
be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 |
         p[3];
}

static void
identity_to_wire (const struct sc_identity_public *id,
                  uint8_t out[SC_IDENTITY_WIRE_LEN])
{
  memcpy (out, id->dh, SC_X25519_LEN);
  memcpy (out + SC_X25519_LEN, id->sig, SC_ED25519_LEN);
}

static void
identity_from_wire (const uint8_t in[SC_IDENTITY_WIRE_LEN],
                    struct sc_identity_public *id)
{
  memcpy (id->dh, in, SC_X25519_LEN);
  memcpy (id->sig, in + SC_X25519_LEN, SC_ED25519_LEN);
}

/* ---- storage --------------------------------------------------------- */

static int
lock (struct sc_e2e *e)
{
  if (e->st.lock == NULL)
    return SC_OK;
  return e->st.lock (e->st.ud) < 0 ? SC_ERR_STORAGE : SC_OK;
}

static void
unlock (struct sc_e2e *e)
{
  if (e->st.unlock != NULL)
    e->st.unlock (e->st.ud);
}

static void
free_record (uint8_t *buf, size_t len)
{
  if (buf != NULL)
    {
      sc_wipe (buf, len);
      free (buf);
    }
}

/* SC_OK with the record, SC_ERR_NOT_FOUND, or another error. */
static int
load (struct sc_e2e *e, const char *name, uint8_t **buf, size_t *len)
{
  int rc;

  *buf = NULL;
  *len = 0;
  rc = e->st.load (e->st.ud, name, buf, len);
  if (rc == SC_ERR_NOT_FOUND || rc == SC_ERR_NOMEM)
    return rc;
  if (rc < 0)
    return SC_ERR_STORAGE;
  if (*buf == NULL || *len == 0 || *len > SC_E2E_RECORD_MAX)
    {
      free_record (*buf, *len);
      *buf = NULL;
      *len = 0;
      return SC_ERR_STORAGE;
    }
  return SC_OK;
}

/* Loads record `name` and starts r on it past its version byte (r->bad
 * when that is not RECORD_VERSION): SC_OK, SC_ERR_NOT_FOUND, or another
 * error. */
static int
open_record (struct sc_e2e *e,
             const char *name,
             uint8_t **buf,
             size_t *len,
             struct rbuf *r)
{
  int rc = load (e, name, buf, len);

  if (rc < 0)
    return rc;
  *r = (struct rbuf){ *buf, *len, false };
  if (get_u8 (r) != RECORD_VERSION)
    r->bad = true;
  return SC_OK;
}

/* Wipes and frees the record r read: true when r read all of it and no
 * more. */
static bool
close_record (const struct rbuf *r, uint8_t *buf, size_t len)
{
  free_record (buf, len);
  return !r->bad && r->left == 0;
}

static int
store (struct sc_e2e *e, const char *name, const struct wbuf *w)
{
  int rc;

  if (w->err != SC_OK)
    return w->err;
  rc = e->st.store (e->st.ud, name, w->p, w->len);
  if (rc == SC_ERR_NOMEM)
    return rc;
  return rc < 0 ? SC_ERR_STORAGE : SC_OK;
}

static int
remove_record (struct sc_e2e *e, const char *name)
{
  int rc = e->st.remove (e->st.ud, name);

  if (rc == SC_ERR_NOT_FOUND)
    return SC_OK;
  return rc < 0 ? SC_ERR_STORAGE : SC_OK;
}

static void
record_name (char out[NAME_CAP], const char *kind, const char *peer)
{
  snprintf (out, NAME_CAP, "%s/%s", kind, peer);
}

/* A username other than ours. */
static int
check_peer (const struct sc_e2e *e, const char *peer)
{
  size_t len;

  if (peer == NULL)
    return SC_ERR_INVALID;
  len = strnlen (peer, SC_USERNAME_MAX + 1);
  if (sc_username_validate (peer, len) < 0)
    return SC_ERR_USERNAME;
  if (strcmp (peer, e->user) == 0)
    return SC_ERR_INVALID;
  return SC_OK;
}

/* check_peer, then lock: SC_OK with the lock held, or an error without
 * it. */
static int
lock_peer (struct sc_e2e *e, const char *peer)
{
  int rc = check_peer (e, peer);

  if (rc < 0)
    return rc;
  return lock (e);
}

/* ---- contacts -------------------------------------------------------- */

struct contact
{
  bool known;
  struct sc_e2e_contact c;
};

static int
load_contact (struct sc_e2e *e, const char *peer, struct contact *out)
{
  char name[NAME_CAP];
  uint8_t *buf = NULL;
  size_t len = 0;
  struct rbuf r;
  uint8_t wire[SC_IDENTITY_WIRE_LEN];
  uint8_t flags;
  int rc;

  memset (out, 0, sizeof *out);
  record_name (name, "contact", peer);
  rc = open_record (e, name, &buf, &len, &r);
  if (rc == SC_ERR_NOT_FOUND)
    return SC_OK;
  if (rc < 0)
    return rc;
  flags = get_u8 (&r);
  if ((flags & ~(CONTACT_VERIFIED | CONTACT_CHANGED)) != 0)
    r.bad = true;
  get (&r, wire, sizeof wire);
  identity_from_wire (wire, &out->c.identity);
  if (flags & CONTACT_CHANGED)
    {
      get (&r, wire, sizeof wire);
      identity_from_wire (wire, &out->c.pending);
    }
  out->c.verified = (flags & CONTACT_VERIFIED) != 0;
  out->c.changed = (flags & CONTACT_CHANGED) != 0;
  out->known = close_record (&r, buf, len);
  if (!out->known)
    {
      memset (out, 0, sizeof *out);
      return SC_ERR_STORAGE;
    }
  return SC_OK;
}

static int
store_contact (struct sc_e2e *e, const char *peer, const struct contact *ct)
{
  char name[NAME_CAP];
  struct wbuf w = { 0 };
  uint8_t wire[SC_IDENTITY_WIRE_LEN];
  uint8_t flags = 0;
  int rc;

  if (ct->c.verified)
    flags |= CONTACT_VERIFIED;
  if (ct->c.changed)
    flags |= CONTACT_CHANGED;
  put_u8 (&w, RECORD_VERSION);
  put_u8 (&w, flags);
  identity_to_wire (&ct->c.identity, wire);
  put (&w, wire, sizeof wire);
  if (ct->c.changed)
    {
      identity_to_wire (&ct->c.pending, wire);
      put (&w, wire, sizeof wire);
    }
  record_name (name, "contact", peer);
  rc = store (e, name, &w);
  wbuf_free (&w);
  return rc;
}

/* ---- sessions -------------------------------------------------------- */

struct session
{
  struct sc_identity_public peer;
  bool initiator;
  uint8_t ek[SC_X25519_LEN]; /* EK_A of the X3DH that made it */
  uint32_t spk_id;
  uint32_t opk_id;
  struct sc_ratchet *r;
};

struct sessions
{
  struct session s[MAX_SESSIONS];
  size_t n;
};

static void
session_clear (struct session *s)
{
  sc_ratchet_free (s->r);
  memset (s, 0, sizeof *s);
}

static void
sessions_clear (struct sessions *ss)
{
  for (size_t i = 0; i < ss->n; i++)
    session_clear (&ss->s[i]);
  ss->n = 0;
}

static int
load_sessions (struct sc_e2e *e, const char *peer, struct sessions *ss)
{
  char name[NAME_CAP];
  uint8_t *buf = NULL;
  size_t len = 0;
  struct rbuf r;
  size_t n;
  int rc;

  memset (ss, 0, sizeof *ss);
  record_name (name, "session", peer);
  rc = open_record (e, name, &buf, &len, &r);
  if (rc == SC_ERR_NOT_FOUND)
    return SC_OK;
  if (rc < 0)
    return rc;
  n = get_u8 (&r);
  if (n == 0 || n > MAX_SESSIONS)
    r.bad = true;
  for (size_t i = 0; i < n && !r.bad; i++)
    {
      struct session *s = &ss->s[i];
      uint8_t wire[SC_IDENTITY_WIRE_LEN];
      uint8_t flags;
      uint32_t rlen;

      get (&r, wire, sizeof wire);
      identity_from_wire (wire, &s->peer);
      flags = get_u8 (&r);
      if ((flags & ~SESSION_INITIATOR) != 0)
        r.bad = true;
      s->initiator = (flags & SESSION_INITIATOR) != 0;
      get (&r, s->ek, sizeof s->ek);
      s->spk_id = get_be32 (&r);
      s->opk_id = get_be32 (&r);
      rlen = get_be32 (&r);
      if (r.bad || rlen > r.left)
        {
          r.bad = true;
          break;
        }
      if (sc_ratchet_deserialize (sc_dr_labels_default (), r.p, rlen, &s->r) !=
          SC_OK)
        {
          r.bad = true;
          break;
        }
      ss->n++;
      r.p += rlen;
      r.left -= rlen;
    }
  if (!close_record (&r, buf, len))
    {
      sessions_clear (ss);
      return SC_ERR_STORAGE;
    }
  return SC_OK;
}

static int
store_sessions (struct sc_e2e *e, const char *peer, const struct sessions *ss)
{
  char name[NAME_CAP];
  struct wbuf w = { 0 };
  int rc = SC_OK;

  record_name (name, "session", peer);
  if (ss->n == 0)
    return remove_record (e, name);
  put_u8 (&w, RECORD_VERSION);
  put_u8 (&w, (uint8_t) ss->n);
  for (size_t i = 0; i < ss->n && rc == SC_OK; i++)
    {
      const struct session *s = &ss->s[i];
      uint8_t wire[SC_IDENTITY_WIRE_LEN];
      uint8_t *rs = NULL;
      size_t rs_len = 0;

      identity_to_wire (&s->peer, wire);
      put (&w, wire, sizeof wire);
      put_u8 (&w, s->initiator ? SESSION_INITIATOR : 0);
      put (&w, s->ek, sizeof s->ek);
      put_be32 (&w, s->spk_id);
      put_be32 (&w, s->opk_id);
      rc = sc_ratchet_serialize (s->r, &rs, &rs_len);
      if (rc != SC_OK)
        break;
      if (rs_len > UINT32_MAX)
        w.err = SC_ERR_TOO_LARGE;
      put_be32 (&w, (uint32_t) rs_len);
      put (&w, rs, rs_len);
      free_record (rs, rs_len);
    }
  if (rc == SC_OK)
    rc = store (e, name, &w);
  wbuf_free (&w);
  return rc;
}

/* Makes s (moved in) the current session; older sessions are archived and
 * the oldest dropped. Sessions of another identity are kept too: until the
 * user accepts or rejects a changed key, the trusted peer's sessions must
 * still decrypt (sc_e2e_accept_identity and sc_e2e_reject_identity drop
 * the losing side's). */
static void
sessions_push (struct sessions *ss, struct session *s)
{
  struct sessions out;

  memset (&out, 0, sizeof out);
  out.s[out.n++] = *s;
  memset (s, 0, sizeof *s);
  for (size_t i = 0; i < ss->n; i++)
    {
      if (out.n < MAX_SESSIONS)
        {
          out.s[out.n++] = ss->s[i];
          memset (&ss->s[i], 0, sizeof ss->s[i]);
        }
      else
        session_clear (&ss->s[i]);
    }
  *ss = out;
}

/* Moves session i to the front (the peer is using it). */
static void
sessions_promote (struct sessions *ss, size_t i)
{
  struct session s = ss->s[i];

  memmove (&ss->s[1], &ss->s[0], i * sizeof ss->s[0]);
  ss->s[0] = s;
}

/* ---- prekeys --------------------------------------------------------- */

struct spk
{
  uint32_t id;
  uint8_t priv[SC_X25519_LEN];
  uint8_t pub[SC_X25519_LEN];
  uint8_t sig[SC_ED25519_SIG_LEN];
  int64_t time; /* created (current) or retired (old) */
};

struct opk
{
  uint32_t id;
  uint8_t priv[SC_X25519_LEN];
  uint8_t pub[SC_X25519_LEN];
};

struct prekeys
{
  uint32_t next_spk_id;
  uint32_t next_opk_id;
  bool has_current;
  struct spk current;
  struct spk old[SPK_OLD_MAX];
  size_t n_old;
  struct opk *opks; /* SC_E2E_OPK_KEEP + SC_OPK_UPLOAD_MAX slots */
  size_t n_opks;
};

#define OPK_SLOTS (SC_E2E_OPK_KEEP + SC_OPK_UPLOAD_MAX)

static void
prekeys_clear (struct prekeys *pk)
{
  if (pk->opks != NULL)
    {
      sc_wipe (pk->opks, OPK_SLOTS * sizeof *pk->opks);
      free (pk->opks);
    }
  sc_wipe (pk, sizeof *pk);
}

static void
get_spk (struct rbuf *r, struct spk *s)
{
  s->id = get_be32 (r);
  get (r, s->priv, sizeof s->priv);
  get (r, s->sig, sizeof s->sig);
  s->time = get_be64 (r);
  if (s->id == 0)
    r->bad = true;
  if (!r->bad && sc_x25519_public (s->priv, s->pub) != SC_OK)
    r->bad = true;
}

static void
put_spk (struct wbuf *w, const struct spk *s)
{
  put_be32 (w, s->id);
  put (w, s->priv, sizeof s->priv);
  put (w, s->sig, sizeof s->sig);
  put_be64 (w, s->time);
}

/* Loads the prekeys record; an absent one gives an empty state. */
static int
load_prekeys (struct sc_e2e *e, struct prekeys *pk)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  struct rbuf r;
  uint32_t n;
  int rc;

  memset (pk, 0, sizeof *pk);
  pk->opks = calloc (OPK_SLOTS, sizeof *pk->opks);
  if (pk->opks == NULL)
    return SC_ERR_NOMEM;
  rc = open_record (e, "prekeys", &buf, &len, &r);
  if (rc == SC_ERR_NOT_FOUND)
    {
      uint32_t start[2];

      /* Ids start at random (1..2^31), so that a bundle of another
       * installation of the account names keys this one does not have,
       * rather than different keys under the same ids. */
      rc = sc_random (start, sizeof start);
      if (rc < 0)
        {
          prekeys_clear (pk);
          return rc;
        }
      pk->next_spk_id = (start[0] & 0x7fffffffu) + 1;
      pk->next_opk_id = (start[1] & 0x7fffffffu) + 1;
      return SC_OK;
    }
  if (rc < 0)
    {
      prekeys_clear (pk);
      return rc;
    }
  pk->next_spk_id = get_be32 (&r);
  pk->next_opk_id = get_be32 (&r);
  pk->has_current = get_u8 (&r) != 0;
  if (pk->has_current)
    get_spk (&r, &pk->current);
  pk->n_old = get_u8 (&r);
  if (pk->n_old > SPK_OLD_MAX)
    r.bad = true;
  for (size_t i = 0; i < pk->n_old && !r.bad; i++)
    get_spk (&r, &pk->old[i]);
  n = get_be32 (&r);
  if (n > SC_E2E_OPK_KEEP)
    r.bad = true;
  for (uint32_t i = 0; i < n && !r.bad; i++)
    {
      struct opk *o = &pk->opks[i];

      o->id = get_be32 (&r);
      get (&r, o->priv, sizeof o->priv);
      if (o->id == 0)
        r.bad = true;
      if (!r.bad && sc_x25519_public (o->priv, o->pub) != SC_OK)
        r.bad = true;
      pk->n_opks++;
    }
  if (!close_record (&r, buf, len))
    {
      prekeys_clear (pk);
      return SC_ERR_STORAGE;
    }
  return SC_OK;
}

static int
store_prekeys (struct sc_e2e *e, const struct prekeys *pk)
{
  struct wbuf w = { 0 };
  int rc;

  put_u8 (&w, RECORD_VERSION);
  put_be32 (&w, pk->next_spk_id);
  put_be32 (&w, pk->next_opk_id);
  put_u8 (&w, pk->has_current ? 1 : 0);
  if (pk->has_current)
    put_spk (&w, &pk->current);
  put_u8 (&w, (uint8_t) pk->n_old);
  for (size_t i = 0; i < pk->n_old; i++)
    put_spk (&w, &pk->old[i]);
  put_be32 (&w, (uint32_t) pk->n_opks);
  for (size_t i = 0; i < pk->n_opks; i++)
    {
      put_be32 (&w, pk->opks[i].id);
      put (&w, pk->opks[i].priv, sizeof pk->opks[i].priv);
    }
  rc = store (e, "prekeys", &w);
  wbuf_free (&w);
  return rc;
}

/* Ids run 1..2^32-1 and then wrap, skipping 0. */
static uint32_t
take_id (uint32_t *next)
{
  uint32_t id = *next == 0 ? 1 : *next;

  *next = id == UINT32_MAX ? 1 : id + 1;
  return id;
}

static int
spk_generate (struct sc_e2e *e, struct prekeys *pk, int64_t now)
{
  struct spk s;
  int rc;

  memset (&s, 0, sizeof s);
  s.id = take_id (&pk->next_spk_id);
  s.time = now;
  rc = sc_x25519_keypair (s.priv, s.pub);
  if (rc == SC_OK)
    rc = sc_spk_sign (&e->id, s.id, s.pub, s.sig);
  if (rc == SC_OK)
    {
      if (pk->has_current)
        {
          /* Retire the current key; the oldest retired one goes when
           * there is no room. */
          if (pk->n_old == SPK_OLD_MAX)
            {
              sc_wipe (&pk->old[SPK_OLD_MAX - 1], sizeof pk->old[0]);
              pk->n_old--;
            }
          memmove (&pk->old[1], &pk->old[0], pk->n_old * sizeof pk->old[0]);
          pk->old[0] = pk->current;
          pk->old[0].time = now;
          pk->n_old++;
        }
      pk->current = s;
      pk->has_current = true;
    }
  sc_wipe (&s, sizeof s);
  return rc;
}

/* Drops retired signed prekeys past their grace period. */
static bool
spk_expire (struct prekeys *pk, int64_t now)
{
  bool changed = false;
  size_t keep = 0;

  for (size_t i = 0; i < pk->n_old; i++)
    {
      if (now - pk->old[i].time >= SC_E2E_SPK_GRACE_MS)
        {
          sc_wipe (&pk->old[i], sizeof pk->old[i]);
          changed = true;
          continue;
        }
      if (keep != i)
        {
          pk->old[keep] = pk->old[i];
          sc_wipe (&pk->old[i], sizeof pk->old[i]);
        }
      keep++;
    }
  pk->n_old = keep;
  return changed;
}

static const struct spk *
spk_find (const struct prekeys *pk, uint32_t id, int64_t now)
{
  if (pk->has_current && pk->current.id == id)
    return &pk->current;
  for (size_t i = 0; i < pk->n_old; i++)
    if (pk->old[i].id == id && now - pk->old[i].time < SC_E2E_SPK_GRACE_MS)
      return &pk->old[i];
  return NULL;
}

static long
opk_find (const struct prekeys *pk, uint32_t id)
{
  for (size_t i = 0; i < pk->n_opks; i++)
    if (pk->opks[i].id == id)
      return (long) i;
  return -1;
}

static void
opk_remove (struct prekeys *pk, size_t i)
{
  memmove (&pk->opks[i], &pk->opks[i + 1],
           (pk->n_opks - i - 1) * sizeof pk->opks[0]);
  pk->n_opks--;
  sc_wipe (&pk->opks[pk->n_opks], sizeof pk->opks[0]);
}

/* ---- replay cache ---------------------------------------------------- */

struct replay
{
  uint8_t (*ek)[SC_X25519_LEN]; /* SC_E2E_REPLAY_CACHE slots, oldest first */
  size_t n;
};

static void
replay_clear (struct replay *rp)
{
  free (rp->ek);
  memset (rp, 0, sizeof *rp);
}

static int
load_replay (struct sc_e2e *e, struct replay *rp)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  struct rbuf r;
  uint32_t n;
  int rc;

  memset (rp, 0, sizeof *rp);
  rp->ek = calloc (SC_E2E_REPLAY_CACHE, sizeof *rp->ek);
  if (rp->ek == NULL)
    return SC_ERR_NOMEM;
  rc = open_record (e, "replay", &buf, &len, &r);
  if (rc == SC_ERR_NOT_FOUND)
    return SC_OK;
  if (rc < 0)
    {
      replay_clear (rp);
      return rc;
    }
  n = get_be32 (&r);
  if (n > SC_E2E_REPLAY_CACHE)
    r.bad = true;
  for (uint32_t i = 0; i < n && !r.bad; i++)
    get (&r, rp->ek[rp->n++], SC_X25519_LEN);
  if (!close_record (&r, buf, len))
    {
      replay_clear (rp);
      return SC_ERR_STORAGE;
    }
  return SC_OK;
}

static bool
replay_seen (const struct replay *rp, const uint8_t ek[SC_X25519_LEN])
{
  for (size_t i = 0; i < rp->n; i++)
    if (memcmp (rp->ek[i], ek, SC_X25519_LEN) == 0)
      return true;
  return false;
}

static void
replay_add (struct replay *rp, const uint8_t ek[SC_X25519_LEN])
{
  if (rp->n == SC_E2E_REPLAY_CACHE)
    {
      memmove (rp->ek[0], rp->ek[1], (rp->n - 1) * sizeof rp->ek[0]);
      rp->n--;
    }
  memcpy (rp->ek[rp->n++], ek, SC_X25519_LEN);
}

static int
store_replay (struct sc_e2e *e, const struct replay *rp)
{
  struct wbuf w = { 0 };
  int rc;

  put_u8 (&w, RECORD_VERSION);
  put_be32 (&w, (uint32_t) rp->n);
  for (size_t i = 0; i < rp->n; i++)
    put (&w, rp->ek[i], SC_X25519_LEN);
  rc = store (e, "replay", &w);
  wbuf_free (&w);
  return rc;
}

/* ---- open ------------------------------------------------------------ */

/* Checks the account record against ours: SC_OK when it matches,
 * SC_ERR_NOT_FOUND when absent. */
static int
check_account (struct sc_e2e *e)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  struct rbuf r;
  char server[SERVER_ID_MAX + 1] = "";
  char user[SC_USERNAME_MAX + 1] = "";
  size_t n;
  int rc;

  rc = open_record (e, "account", &buf, &len, &r);
  if (rc < 0)
    return rc;
  n = get_u8 (&r);
  get (&r, server, n);
  n = get_u8 (&r);
  if (n > SC_USERNAME_MAX)
    r.bad = true;
  else
    get (&r, user, n);
  if (!close_record (&r, buf, len))
    return SC_ERR_STORAGE;
  if (strcmp (server, e->server) != 0 || strcmp (user, e->user) != 0)
    return SC_ERR_STATE;
  return SC_OK;
}

static int
store_account (struct sc_e2e *e)
{
  struct wbuf w = { 0 };
  int rc;

  put_u8 (&w, RECORD_VERSION);
  put_u8 (&w, (uint8_t) strlen (e->server));
  put (&w, e->server, strlen (e->server));
  put_u8 (&w, (uint8_t) strlen (e->user));
  put (&w, e->user, strlen (e->user));
  rc = store (e, "account", &w);
  wbuf_free (&w);
  return rc;
}

static int
open_locked (struct sc_e2e *e)
{
  uint8_t secret[SC_IDENTITY_SECRET_LEN];
  uint8_t *buf = NULL;
  size_t len = 0;
  bool have_account;
  struct wbuf w = { 0 };
  int rc;

  rc = check_account (e);
  if (rc < 0 && rc != SC_ERR_NOT_FOUND)
    return rc;
  have_account = rc == SC_OK;

  rc = load (e, "identity", &buf, &len);
  if (rc == SC_OK)
    {
      rc = sc_identity_deserialize (buf, len, &e->id);
      free_record (buf, len);
      if (rc != SC_OK)
        return SC_ERR_STORAGE;
    }
  else if (rc == SC_ERR_NOT_FOUND)
    {
      rc = sc_identity_generate (&e->id);
      if (rc == SC_OK)
        rc = sc_identity_serialize (&e->id, secret);
      if (rc == SC_OK)
        {
          put (&w, secret, sizeof secret);
          rc = store (e, "identity", &w);
          wbuf_free (&w);
        }
      sc_wipe (secret, sizeof secret);
      if (rc != SC_OK)
        return rc;
      e->created = true;
    }
  else
    return rc;

  if (!have_account)
    return store_account (e);
  return SC_OK;
}

int
sc_e2e_open (const struct sc_e2e_storage *storage,
             const char *server,
             const char *user,
             struct sc_e2e **out)
{
  struct sc_e2e *e;
  size_t server_len;
  size_t user_len;
  int rc;

  if (out == NULL)
    return SC_ERR_INVALID;
  *out = NULL;
  if (storage == NULL || storage->load == NULL || storage->store == NULL ||
      storage->remove == NULL ||
      (storage->lock == NULL) != (storage->unlock == NULL) || server == NULL ||
      user == NULL)
    return SC_ERR_INVALID;
  server_len = strnlen (server, SERVER_ID_MAX + 1);
  if (server_len == 0 || server_len > SERVER_ID_MAX)
    return SC_ERR_INVALID;
  user_len = strnlen (user, SC_USERNAME_MAX + 1);
  if (sc_username_validate (user, user_len) < 0)
    return SC_ERR_USERNAME;

  e = calloc (1, sizeof *e);
  if (e == NULL)
    return SC_ERR_NOMEM;
  e->st = *storage;
  memcpy (e->server, server, server_len);
  memcpy (e->user, user, user_len);

  rc = lock (e);
  if (rc == SC_OK)
    {
      rc = open_locked (e);
      unlock (e);
    }
  if (rc != SC_OK)
    {
      sc_e2e_free (e);
      return rc;
    }
  *out = e;
  return SC_OK;
}

void
sc_e2e_free (struct sc_e2e *e)
{
  if (e == NULL)
    return;
  sc_wipe (e, sizeof *e);
  free (e);
}

bool
sc_e2e_identity_created (const struct sc_e2e *e)
{
  return e != NULL && e->created;
}

const char *
sc_e2e_user (const struct sc_e2e *e)
{
  return e != NULL ? e->user : "";
}

void
sc_e2e_identity (const struct sc_e2e *e, struct sc_identity_public *out)
{
  if (out == NULL)
    return;
  if (e == NULL)
    memset (out, 0, sizeof *out);
  else
    *out = e->id.pub;
}

/* ---- prekeys_upload -------------------------------------------------- */

static int
prekeys_needed_locked (struct sc_e2e *e,
                       const struct sc_msg_prekey_status *st,
                       int64_t now,
                       struct sc_msg *upload,
                       bool *needed)
{
  struct sc_msg_prekeys_upload *u = &upload->u.prekeys_upload;
  uint8_t wire[SC_IDENTITY_WIRE_LEN];
  struct prekeys pk;
  bool dirty = false;
  bool ours;
  size_t first_new;
  size_t want = 0;
  int rc;

  rc = load_prekeys (e, &pk);
  if (rc < 0)
    return rc;

  if (!pk.has_current || now - pk.current.time >= SC_E2E_SPK_ROTATE_MS)
    {
      rc = spk_generate (e, &pk, now);
      if (rc < 0)
        goto out;
      dirty = true;
    }
  if (spk_expire (&pk, now))
    dirty = true;

  identity_to_wire (&e->id.pub, wire);
  ours = st->has_identity && sc_memeq (st->identity, wire, sizeof wire) == 1;
  if (ours && st->spk_id == pk.current.id && st->opks >= SC_E2E_OPK_LOW)
    {
      /* The server has what it needs. */
      if (dirty)
        rc = store_prekeys (e, &pk);
      goto out;
    }

  /* A server without our identity holds none of our one-time prekeys
   * (a new identity replaces the stored bundle whole). */
  if (!ours)
    want = SC_E2E_OPK_TARGET;
  else if (st->opks < SC_E2E_OPK_TARGET)
    want = SC_E2E_OPK_TARGET - st->opks;
  upload->type = SC_MSG_PREKEYS_UPLOAD;
  first_new = pk.n_opks;
  for (size_t i = 0; i < want; i++)
    {
      struct opk *o = &pk.opks[pk.n_opks];

      o->id = take_id (&pk.next_opk_id);
      rc = sc_x25519_keypair (o->priv, o->pub);
      if (rc < 0)
        goto out;
      pk.n_opks++;
    }

  u->opks = want > 0 ? calloc (want, sizeof *u->opks) : NULL;
  if (want > 0 && u->opks == NULL)
    {
      rc = SC_ERR_NOMEM;
      goto out;
    }
  for (size_t i = 0; i < want; i++)
    {
      u->opks[i].id = pk.opks[first_new + i].id;
      memcpy (u->opks[i].key, pk.opks[first_new + i].pub, SC_X25519_LEN);
    }
  u->n_opks = want;
  /* Keep the newest private keys only. */
  if (pk.n_opks > SC_E2E_OPK_KEEP)
    {
      size_t drop = pk.n_opks - SC_E2E_OPK_KEEP;

      sc_wipe (pk.opks, drop * sizeof pk.opks[0]);
      memmove (&pk.opks[0], &pk.opks[drop],
               SC_E2E_OPK_KEEP * sizeof pk.opks[0]);
      sc_wipe (&pk.opks[SC_E2E_OPK_KEEP], drop * sizeof pk.opks[0]);
      pk.n_opks = SC_E2E_OPK_KEEP;
    }

  /* The private keys are stored before the public ones can leave. */
  rc = store_prekeys (e, &pk);
  if (rc < 0)
    goto out;
  memcpy (u->identity, wire, sizeof wire);
  u->spk_id = pk.current.id;
  memcpy (u->spk, pk.current.pub, SC_X25519_LEN);
  memcpy (u->spk_sig, pk.current.sig, SC_ED25519_SIG_LEN);
  *needed = true;

out:
  if (rc < 0)
    sc_msg_clear (upload);
  prekeys_clear (&pk);
  return rc;
}

int
sc_e2e_prekeys_needed (struct sc_e2e *e,
                       const struct sc_msg_prekey_status *st,
                       int64_t now_ms,
                       struct sc_msg *upload,
                       bool *needed)
{
  int rc;

  if (needed != NULL)
    *needed = false;
  if (upload != NULL)
    memset (upload, 0, sizeof *upload);
  if (e == NULL || st == NULL || upload == NULL || needed == NULL)
    return SC_ERR_INVALID;
  rc = lock (e);
  if (rc < 0)
    return rc;
  rc = prekeys_needed_locked (e, st, now_ms, upload, needed);
  unlock (e);
  return rc;
}

/* ---- sessions: start, encrypt ---------------------------------------- */

int
sc_e2e_has_session (struct sc_e2e *e, const char *peer)
{
  struct sessions ss;
  int rc;

  if (e == NULL)
    return SC_ERR_INVALID;
  rc = lock_peer (e, peer);
  if (rc < 0)
    return rc;
  rc = load_sessions (e, peer, &ss);
  unlock (e);
  if (rc < 0)
    return rc;
  rc = ss.n > 0 ? 1 : 0;
  sessions_clear (&ss);
  return rc;
}

static int
start_locked (struct sc_e2e *e,
              const char *peer,
              const struct sc_prekey_bundle *pb)
{
  struct contact ct;
  struct sessions ss;
  struct session s;
  uint8_t sk[SC_X3DH_SK_LEN];
  uint8_t ad[SC_X3DH_AD_MAX];
  size_t ad_len = 0;
  int rc;

  memset (&s, 0, sizeof s);
  memset (&ss, 0, sizeof ss);
  rc = load_contact (e, peer, &ct);
  if (rc < 0)
    return rc;
  if (ct.known && (ct.c.changed ||
                   !sc_identity_public_equal (&ct.c.identity, &pb->identity)))
    {
      /* Refuse, and remember the new key for the user to compare. */
      if (!ct.c.changed ||
          !sc_identity_public_equal (&ct.c.pending, &pb->identity))
        {
          if (!sc_identity_public_equal (&ct.c.identity, &pb->identity))
            {
              ct.c.changed = true;
              ct.c.pending = pb->identity;
            }
          ct.c.verified = false;
          rc = store_contact (e, peer, &ct);
          if (rc < 0)
            return rc;
        }
      return SC_ERR_IDENTITY_CHANGED;
    }

  rc = sc_x3dh_initiate (&e->id, e->user, pb, peer, SC_X3DH_INFO, NULL, sk,
                         s.ek, ad, &ad_len);
  if (rc == SC_OK)
    rc = sc_ratchet_init_alice (sc_dr_labels_default (), sk, pb->spk, ad,
                                ad_len, &s.r);
  sc_wipe (sk, sizeof sk);
  sc_wipe (ad, sizeof ad);
  if (rc < 0)
    goto out;
  s.peer = pb->identity;
  s.initiator = true;
  s.spk_id = pb->spk_id;
  s.opk_id = pb->has_opk ? pb->opk_id : 0;

  if (!ct.known)
    {
      /* Trust on first use. */
      memset (&ct, 0, sizeof ct);
      ct.known = true;
      ct.c.identity = pb->identity;
      rc = store_contact (e, peer, &ct);
      if (rc < 0)
        goto out;
    }
  rc = load_sessions (e, peer, &ss);
  if (rc < 0)
    goto out;
  sessions_push (&ss, &s);
  rc = store_sessions (e, peer, &ss);

out:
  session_clear (&s);
  sessions_clear (&ss);
  return rc;
}

int
sc_e2e_start_session (struct sc_e2e *e,
                      const char *peer,
                      const struct sc_msg_bundle *b,
                      int64_t now_ms)
{
  struct sc_prekey_bundle pb;
  int rc;

  if (e == NULL || b == NULL)
    return SC_ERR_INVALID;
  rc = check_peer (e, peer);
  if (rc < 0)
    return rc;
  if (strcmp (b->user, peer) != 0)
    return SC_ERR_INVALID;
  if (b->spk_id == 0 || (b->has_opk && b->opk_id == 0))
    return SC_ERR_FIELD;

  memset (&pb, 0, sizeof pb);
  identity_from_wire (b->identity, &pb.identity);
  pb.spk_id = b->spk_id;
  memcpy (pb.spk, b->spk, sizeof pb.spk);
  memcpy (pb.spk_sig, b->spk_sig, sizeof pb.spk_sig);
  pb.has_opk = b->has_opk;
  pb.opk_id = b->has_opk ? b->opk_id : 0;
  if (b->has_opk)
    memcpy (pb.opk, b->opk, sizeof pb.opk);

  /* Nothing from the server is believed before the signature checks,
   * not even to flag a changed identity. */
  rc = sc_spk_verify (&pb.identity, pb.spk_id, pb.spk, pb.spk_sig);
  if (rc != SC_OK)
    return SC_ERR_SIGNATURE;

  rc = lock (e);
  if (rc < 0)
    return rc;
  rc = start_locked (e, peer, &pb);
  unlock (e);
  return rc;
}

/* The PREKEY prefix of a session we started. */
static void
prekey_prefix (const struct sc_e2e *e,
               const struct session *s,
               uint8_t out[SC_E2E_PREKEY_PREFIX_LEN])
{
  uint8_t *p = out;

  *p++ = SC_E2E_VERSION;
  *p++ = SC_E2E_KIND_PREKEY;
  memcpy (p, e->id.pub.dh, SC_X25519_LEN);
  p += SC_X25519_LEN;
  memcpy (p, e->id.pub.sig, SC_ED25519_LEN);
  p += SC_ED25519_LEN;
  memcpy (p, s->ek, SC_X25519_LEN);
  p += SC_X25519_LEN;
  for (int i = 3; i >= 0; i--)
    *p++ = (uint8_t) (s->spk_id >> (8 * i));
  for (int i = 3; i >= 0; i--)
    *p++ = (uint8_t) (s->opk_id >> (8 * i));
}

static int
encrypt_locked (struct sc_e2e *e,
                const char *peer,
                const uint8_t *pt,
                size_t pt_len,
                uint8_t **msg,
                size_t *msg_len)
{
  uint8_t prefix[SC_E2E_PREKEY_PREFIX_LEN];
  size_t prefix_len;
  struct contact ct;
  struct sessions ss;
  struct session *s;
  int rc;

  rc = load_contact (e, peer, &ct);
  if (rc < 0)
    return rc;
  if (ct.known && ct.c.changed)
    return SC_ERR_IDENTITY_CHANGED;
  rc = load_sessions (e, peer, &ss);
  if (rc < 0)
    return rc;
  if (ss.n == 0 || !ct.known)
    {
      rc = SC_ERR_NO_SESSION;
      goto out;
    }
  s = &ss.s[0];
  if (!sc_identity_public_equal (&s->peer, &ct.c.identity))
    {
      rc = SC_ERR_IDENTITY_CHANGED;
      goto out;
    }
  if (s->initiator && !sc_ratchet_has_received (s->r))
    {
      prekey_prefix (e, s, prefix);
      prefix_len = SC_E2E_PREKEY_PREFIX_LEN;
    }
  else
    {
      prefix[0] = SC_E2E_VERSION;
      prefix[1] = SC_E2E_KIND_NORMAL;
      prefix_len = SC_E2E_NORMAL_PREFIX_LEN;
    }
  rc = sc_ratchet_encrypt (s->r, prefix, prefix_len, pt, pt_len, msg, msg_len);
  if (rc < 0)
    goto out;
  /* The state that made the message is on disk before it can leave. */
  rc = store_sessions (e, peer, &ss);
  if (rc < 0)
    {
      free (*msg);
      *msg = NULL;
      *msg_len = 0;
    }

out:
  sessions_clear (&ss);
  return rc;
}

int
sc_e2e_encrypt (struct sc_e2e *e,
                const char *peer,
                uint8_t content_type,
                const uint8_t *data,
                size_t data_len,
                uint8_t **msg,
                size_t *msg_len)
{
  uint8_t *pt;
  int rc;

  if (msg != NULL)
    *msg = NULL;
  if (msg_len != NULL)
    *msg_len = 0;
  if (e == NULL || msg == NULL || msg_len == NULL ||
      (data == NULL && data_len > 0))
    return SC_ERR_INVALID;
  rc = check_peer (e, peer);
  if (rc < 0)
    return rc;
  if (data_len > SC_E2E_CONTENT_MAX)
    return SC_ERR_TOO_LARGE;

  pt = malloc (1 + data_len);
  if (pt == NULL)
    return SC_ERR_NOMEM;
  pt[0] = content_type;
  if (data_len > 0)
    memcpy (pt + 1, data, data_len);
  rc = lock (e);
  if (rc == SC_OK)
    {
      rc = encrypt_locked (e, peer, pt, 1 + data_len, msg, msg_len);
      unlock (e);
    }
  sc_wipe (pt, 1 + data_len);
  free (pt);
  return rc;
}

/* ---- decrypt --------------------------------------------------------- */

/* Splits a plaintext into its content type and content, in place. */
static int
split_content (uint8_t *pt,
               size_t pt_len,
               uint8_t *content_type,
               uint8_t **data,
               size_t *data_len)
{
  if (pt_len < 1)
    return SC_ERR_PROTOCOL;
  *content_type = pt[0];
  memmove (pt, pt + 1, pt_len - 1);
  pt[pt_len - 1] = 0;
  *data = pt;
  *data_len = pt_len - 1;
  return SC_OK;
}

/* Tries sessions (those with want_ek, when given) in order; on success
 * *idx is the one that worked. A duplicate anywhere is reported as such,
 * otherwise the first session's error. */
static int
try_sessions (struct sessions *ss,
              const uint8_t *want_ek,
              const uint8_t *msg,
              size_t msg_len,
              size_t prefix_len,
              uint8_t **pt,
              size_t *pt_len,
              size_t *idx)
{
  int first = SC_ERR_NO_SESSION;
  bool duplicate = false;

  for (size_t i = 0; i < ss->n; i++)
    {
      struct session *s = &ss->s[i];
      int rc;

      if (want_ek != NULL &&
          (s->initiator || memcmp (s->ek, want_ek, SC_X25519_LEN) != 0))
        continue;
      rc = sc_ratchet_decrypt (s->r, msg, msg_len, prefix_len, pt, pt_len);
      if (rc == SC_OK)
        {
          *idx = i;
          return SC_OK;
        }
      if (rc == SC_ERR_DUPLICATE)
        duplicate = true;
      if (first == SC_ERR_NO_SESSION)
        first = rc;
    }
  return duplicate ? SC_ERR_DUPLICATE : first;
}

struct out
{
  uint8_t *content_type;
  uint8_t **data;
  size_t *data_len;
  unsigned *flags;
};

/* Decrypts with one of the stored sessions ss (try_sessions) and, on
 * success, makes that one current, stores ss and splits the content into
 * o. */
static int
decrypt_stored (struct sc_e2e *e,
                const char *peer,
                struct sessions *ss,
                const uint8_t *want_ek,
                const uint8_t *msg,
                size_t msg_len,
                size_t prefix_len,
                const struct out *o)
{
  uint8_t *pt = NULL;
  size_t pt_len = 0;
  size_t idx = 0;
  int rc;

  rc = try_sessions (ss, want_ek, msg, msg_len, prefix_len, &pt, &pt_len, &idx);
  /* A plaintext without even a content type is refused before anything
   * is stored: a failed decryption changes nothing. */
  if (rc == SC_OK && pt_len < 1)
    rc = SC_ERR_PROTOCOL;
  if (rc == SC_OK)
    {
      sessions_promote (ss, idx);
      rc = store_sessions (e, peer, ss);
    }
  if (rc == SC_OK)
    rc = split_content (pt, pt_len, o->content_type, o->data, o->data_len);
  if (rc < 0)
    free_record (pt, pt_len);
  return rc;
}

static int
decrypt_normal (struct sc_e2e *e,
                const char *peer,
                const uint8_t *msg,
                size_t msg_len,
                const struct out *o)
{
  struct sessions ss;
  int rc;

  rc = load_sessions (e, peer, &ss);
  if (rc < 0)
    return rc;
  if (ss.n == 0)
    return SC_ERR_NO_SESSION;
  rc = decrypt_stored (e, peer, &ss, NULL, msg, msg_len,
                       SC_E2E_NORMAL_PREFIX_LEN, o);
  sessions_clear (&ss);
  return rc;
}

/* The X3DH fields of a PREKEY message. */
struct prekey_fields
{
  struct sc_identity_public alice;
  const uint8_t *ek;
  uint32_t spk_id;
  uint32_t opk_id;
};

/* A PREKEY message that starts a new session: X3DH as Bob. */
static int
decrypt_prekey_new (struct sc_e2e *e,
                    const char *peer,
                    const uint8_t *msg,
                    size_t msg_len,
                    int64_t now,
                    const struct prekey_fields *f,
                    struct sessions *ss,
                    const struct out *o)
{
  struct replay rp = { 0 };
  struct prekeys pk;
  struct contact ct;
  struct session s;
  const struct spk *spk;
  long opk = -1;
  uint8_t sk[SC_X3DH_SK_LEN];
  uint8_t ad[SC_X3DH_AD_MAX];
  size_t ad_len = 0;
  uint8_t *pt = NULL;
  size_t pt_len = 0;
  unsigned flags = SC_E2E_NEW_SESSION;
  bool contact_dirty = false;
  int rc;

  memset (&s, 0, sizeof s);
  rc = load_replay (e, &rp);
  if (rc < 0)
    return rc;
  if (replay_seen (&rp, f->ek))
    {
      /* An X3DH answered once but no longer held (a RESET dropped it):
       * nothing is created, and the sender is asked to start over. */
      replay_clear (&rp);
      return SC_ERR_NO_SESSION;
    }
  rc = load_prekeys (e, &pk);
  if (rc < 0)
    {
      replay_clear (&rp);
      return rc;
    }

  spk = spk_find (&pk, f->spk_id, now);
  if (f->opk_id != 0)
    opk = opk_find (&pk, f->opk_id);
  if (spk == NULL || (f->opk_id != 0 && opk < 0))
    {
      rc = SC_ERR_NOT_FOUND;
      goto out;
    }
  rc = sc_x3dh_respond (&e->id, e->user, spk->priv,
                        opk >= 0 ? pk.opks[opk].priv : NULL, &f->alice, peer,
                        f->ek, SC_X3DH_INFO, sk, ad, &ad_len);
  if (rc == SC_OK)
    rc = sc_ratchet_init_bob (sc_dr_labels_default (), sk, spk->priv, ad,
                              ad_len, &s.r);
  sc_wipe (sk, sizeof sk);
  sc_wipe (ad, sizeof ad);
  if (rc < 0)
    goto out;
  rc = sc_ratchet_decrypt (s.r, msg, msg_len, SC_E2E_PREKEY_PREFIX_LEN, &pt,
                           &pt_len);
  if (rc < 0)
    goto out;
  if (pt_len < 1)
    {
      rc = SC_ERR_PROTOCOL;
      goto out;
    }
  s.peer = f->alice;
  s.initiator = false;
  memcpy (s.ek, f->ek, SC_X25519_LEN);
  s.spk_id = f->spk_id;
  s.opk_id = f->opk_id;

  rc = load_contact (e, peer, &ct);
  if (rc < 0)
    goto out;
  if (!ct.known)
    {
      memset (&ct, 0, sizeof ct);
      ct.known = true;
      ct.c.identity = f->alice;
      flags |= SC_E2E_NEW_CONTACT;
      contact_dirty = true;
    }
  else if (!sc_identity_public_equal (&ct.c.identity, &f->alice))
    {
      /* The peer reinstalled (or someone claims to be them): the session
       * stands, the user is told, and nothing is sent until they accept
       * the new key. */
      flags |= SC_E2E_IDENTITY_CHANGED;
      ct.c.changed = true;
      ct.c.pending = f->alice;
      ct.c.verified = false;
      contact_dirty = true;
    }

  /* Commit: the contact first (a changed key is never forgotten), the
   * session, the replay cache, and the one-time prekey goes last. */
  if (contact_dirty)
    rc = store_contact (e, peer, &ct);
  if (rc == SC_OK)
    {
      sessions_push (ss, &s);
      rc = store_sessions (e, peer, ss);
    }
  if (rc == SC_OK)
    {
      replay_add (&rp, f->ek);
      rc = store_replay (e, &rp);
    }
  if (rc == SC_OK && opk >= 0)
    {
      opk_remove (&pk, (size_t) opk);
      rc = store_prekeys (e, &pk);
    }
  if (rc == SC_OK)
    {
      rc = split_content (pt, pt_len, o->content_type, o->data, o->data_len);
      if (rc == SC_OK)
        {
          pt = NULL;
          *o->flags = flags;
        }
    }

out:
  free_record (pt, pt_len);
  session_clear (&s);
  prekeys_clear (&pk);
  replay_clear (&rp);
  return rc;
}

static int
decrypt_prekey (struct sc_e2e *e,
                const char *peer,
                const uint8_t *msg,
                size_t msg_len,
                int64_t now,
                const struct out *o)
{
  struct prekey_fields f;
  struct sessions ss;
  bool any = false;
  int rc;

  if (msg_len <
      SC_E2E_PREKEY_PREFIX_LEN + SC_DR_HEADER_LEN + 16 + SC_DR_MAC_LEN)
    return SC_ERR_TRUNCATED;
  memcpy (f.alice.dh, msg + 2, SC_X25519_LEN);
  memcpy (f.alice.sig, msg + 2 + SC_X25519_LEN, SC_ED25519_LEN);
  f.ek = msg + 2 + SC_X25519_LEN + SC_ED25519_LEN;
  f.spk_id = be32 (f.ek + SC_X25519_LEN);
  f.opk_id = be32 (f.ek + SC_X25519_LEN + 4);
  if (f.spk_id == 0)
    return SC_ERR_PROTOCOL;

  rc = load_sessions (e, peer, &ss);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < ss.n; i++)
    if (!ss.s[i].initiator && memcmp (ss.s[i].ek, f.ek, SC_X25519_LEN) == 0)
      any = true;

  if (any)
    {
      /* More from an X3DH we already answered to. */
      rc = decrypt_stored (e, peer, &ss, f.ek, msg, msg_len,
                           SC_E2E_PREKEY_PREFIX_LEN, o);
    }
  else
    rc = decrypt_prekey_new (e, peer, msg, msg_len, now, &f, &ss, o);
  sessions_clear (&ss);
  return rc;
}

int
sc_e2e_decrypt (struct sc_e2e *e,
                const char *peer,
                const uint8_t *msg,
                size_t msg_len,
                int64_t now_ms,
                uint8_t *content_type,
                uint8_t **data,
                size_t *data_len,
                unsigned *flags)
{
  struct out o = { content_type, data, data_len, flags };
  char name[NAME_CAP];
  int rc;

  if (content_type != NULL)
    *content_type = 0;
  if (data != NULL)
    *data = NULL;
  if (data_len != NULL)
    *data_len = 0;
  if (flags != NULL)
    *flags = 0;
  if (e == NULL || (msg == NULL && msg_len > 0) || content_type == NULL ||
      data == NULL || data_len == NULL || flags == NULL)
    return SC_ERR_INVALID;
  rc = check_peer (e, peer);
  if (rc < 0)
    return rc;
  if (msg_len < 2)
    return SC_ERR_TRUNCATED;
  if (msg[0] != SC_E2E_VERSION)
    return SC_ERR_UNSUPPORTED;
  if (msg[1] != SC_E2E_KIND_PREKEY && msg[1] != SC_E2E_KIND_NORMAL &&
      msg[1] != SC_E2E_KIND_RESET)
    return SC_ERR_UNSUPPORTED;
  if (msg[1] == SC_E2E_KIND_RESET && msg_len != SC_E2E_RESET_LEN)
    return SC_ERR_PROTOCOL;

  rc = lock (e);
  if (rc < 0)
    return rc;
  switch (msg[1])
    {
    case SC_E2E_KIND_RESET:
      record_name (name, "session", peer);
      rc = remove_record (e, name);
      if (rc == SC_OK)
        *flags = SC_E2E_RESET;
      break;
    case SC_E2E_KIND_NORMAL:
      rc = decrypt_normal (e, peer, msg, msg_len, &o);
      break;
    default:
      rc = decrypt_prekey (e, peer, msg, msg_len, now_ms, &o);
      break;
    }
  unlock (e);
  return rc;
}

void
sc_e2e_reset_body (uint8_t out[SC_E2E_RESET_LEN])
{
  if (out == NULL)
    return;
  out[0] = SC_E2E_VERSION;
  out[1] = SC_E2E_KIND_RESET;
}

/* ---- contacts and safety numbers ------------------------------------- */

int
sc_e2e_contact (struct sc_e2e *e, const char *peer, struct sc_e2e_contact *out)
{
  struct contact ct;
  int rc;

  if (out != NULL)
    memset (out, 0, sizeof *out);
  if (e == NULL || out == NULL)
    return SC_ERR_INVALID;
  rc = lock_peer (e, peer);
  if (rc < 0)
    return rc;
  rc = load_contact (e, peer, &ct);
  unlock (e);
  if (rc < 0)
    return rc;
  if (!ct.known)
    return SC_ERR_NOT_FOUND;
  *out = ct.c;
  return SC_OK;
}

/* The user's decision on a pending identity change: accepting installs
 * the new identity (unverified), rejecting keeps the trusted one. Either
 * way only the sessions with the winning identity stay, so no session of
 * a refused or superseded key can decrypt without a warning. With
 * expected, the new identity must still be the one the user compared. */
static int
decide_locked (struct sc_e2e *e,
               const char *peer,
               bool accept,
               const struct sc_identity_public *expected)
{
  struct contact ct;
  struct sessions ss;
  size_t keep = 0;
  int rc;

  rc = load_contact (e, peer, &ct);
  if (rc < 0)
    return rc;
  if (!ct.known)
    return SC_ERR_NOT_FOUND;
  if (!ct.c.changed)
    return SC_OK;
  if (expected != NULL && !sc_identity_public_equal (&ct.c.pending, expected))
    return SC_ERR_IDENTITY_CHANGED;
  if (accept)
    {
      ct.c.identity = ct.c.pending;
      ct.c.verified = false;
    }
  memset (&ct.c.pending, 0, sizeof ct.c.pending);
  ct.c.changed = false;

  rc = load_sessions (e, peer, &ss);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < ss.n; i++)
    {
      if (sc_identity_public_equal (&ss.s[i].peer, &ct.c.identity))
        {
          if (keep != i)
            {
              ss.s[keep] = ss.s[i];
              memset (&ss.s[i], 0, sizeof ss.s[i]);
            }
          keep++;
        }
      else
        session_clear (&ss.s[i]);
    }
  ss.n = keep;
  rc = store_sessions (e, peer, &ss);
  if (rc == SC_OK)
    rc = store_contact (e, peer, &ct);
  sessions_clear (&ss);
  return rc;
}

/* The public entry points of decide_locked: under the peer's lock. */
static int
decide (struct sc_e2e *e,
        const char *peer,
        bool accept,
        const struct sc_identity_public *expected)
{
  int rc;

  if (e == NULL)
    return SC_ERR_INVALID;
  rc = lock_peer (e, peer);
  if (rc < 0)
    return rc;
  rc = decide_locked (e, peer, accept, expected);
  unlock (e);
  return rc;
}

int
sc_e2e_accept_identity (struct sc_e2e *e, const char *peer)
{
  return decide (e, peer, true, NULL);
}

int
sc_e2e_accept_identity_if (struct sc_e2e *e,
                           const char *peer,
                           const struct sc_identity_public *expected)
{
  if (expected == NULL)
    return SC_ERR_INVALID;
  return decide (e, peer, true, expected);
}

int
sc_e2e_reject_identity (struct sc_e2e *e, const char *peer)
{
  return decide (e, peer, false, NULL);
}

static int
set_verified_locked (struct sc_e2e *e, const char *peer, bool verified)
{
  struct contact ct;
  int rc;

  rc = load_contact (e, peer, &ct);
  if (rc < 0)
    return rc;
  if (!ct.known)
    return SC_ERR_NOT_FOUND;
  if (ct.c.changed)
    return SC_ERR_IDENTITY_CHANGED;
  if (ct.c.verified == verified)
    return SC_OK;
  ct.c.verified = verified;
  return store_contact (e, peer, &ct);
}

int
sc_e2e_set_verified (struct sc_e2e *e, const char *peer, bool verified)
{
  int rc;

  if (e == NULL)
    return SC_ERR_INVALID;
  rc = lock_peer (e, peer);
  if (rc < 0)
    return rc;
  rc = set_verified_locked (e, peer, verified);
  unlock (e);
  return rc;
}

int
sc_e2e_safety_number (struct sc_e2e *e,
                      const char *peer,
                      char out[SC_SAFETY_NUMBER_TEXT_LEN + 1])
{
  struct sc_e2e_contact c;
  int rc;

  if (out != NULL)
    out[0] = '\0';
  if (e == NULL || out == NULL)
    return SC_ERR_INVALID;
  rc = sc_e2e_contact (e, peer, &c);
  if (rc < 0)
    return rc;
  return sc_safety_number (e->user, &e->id.pub, peer,
                           c.changed ? &c.pending : &c.identity, out);
}
