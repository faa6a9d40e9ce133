/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The end-to-end manager over an in-memory storage: prekeys, X3DH through
 * bundles made from real uploads, long conversations, loss, reordering,
 * replays, tampering, restarts, identity changes, RESET, and the order
 * in which state reaches the storage. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "securechat/e2e.h"
#include "securechat/error.h"
#include "securechat/ratchet.h"

#define T0  INT64_C (1700000000000)
#define DAY (INT64_C (24) * 3600 * 1000)

/* ---- in-memory storage ---- */

struct mem
{
  GHashTable *files; /* name -> GByteArray */
  GString *log;      /* "S:name;" per store, "R:name;" per remove */
  int stores;
  const char *fail_store; /* a store of this name fails */
  int locked;
  int locks;
};

static int
mem_load (void *ud, const char *name, uint8_t **buf, size_t *len)
{
  struct mem *m = ud;
  GByteArray *a = g_hash_table_lookup (m->files, name);

  g_assert_cmpint (m->locked, ==, 1);
  if (a == NULL)
    return SC_ERR_NOT_FOUND;
  *buf = malloc (a->len > 0 ? a->len : 1);
  g_assert_nonnull (*buf);
  if (a->len > 0)
    memcpy (*buf, a->data, a->len);
  *len = a->len;
  return SC_OK;
}

static int
mem_store (void *ud, const char *name, const uint8_t *buf, size_t len)
{
  struct mem *m = ud;
  GByteArray *a;

  g_assert_cmpint (m->locked, ==, 1);
  if (m->fail_store != NULL && strcmp (name, m->fail_store) == 0)
    return SC_ERR_STORAGE;
  a = g_byte_array_sized_new ((guint) len);
  g_byte_array_append (a, buf, (guint) len);
  g_hash_table_replace (m->files, g_strdup (name), a);
  g_string_append_printf (m->log, "S:%s;", name);
  m->stores++;
  return SC_OK;
}

static int
mem_remove (void *ud, const char *name)
{
  struct mem *m = ud;

  g_assert_cmpint (m->locked, ==, 1);
  g_hash_table_remove (m->files, name);
  g_string_append_printf (m->log, "R:%s;", name);
  return SC_OK;
}

static int
mem_lock (void *ud)
{
  struct mem *m = ud;

  g_assert_cmpint (m->locked, ==, 0);
  m->locked++;
  m->locks++;
  return SC_OK;
}

static void
mem_unlock (void *ud)
{
  struct mem *m = ud;

  g_assert_cmpint (m->locked, ==, 1);
  m->locked--;
}

static struct mem *
mem_new (void)
{
  struct mem *m = g_new0 (struct mem, 1);

  m->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify) g_byte_array_unref);
  m->log = g_string_new (NULL);
  return m;
}

static void
mem_free (struct mem *m)
{
  g_hash_table_unref (m->files);
  g_string_free (m->log, TRUE);
  g_free (m);
}

static struct sc_e2e_storage
mem_storage (struct mem *m)
{
  struct sc_e2e_storage st = {
    .load = mem_load,
    .store = mem_store,
    .remove = mem_remove,
    .lock = mem_lock,
    .unlock = mem_unlock,
    .ud = m,
  };

  return st;
}

static GByteArray *
mem_get (struct mem *m, const char *name)
{
  return g_hash_table_lookup (m->files, name);
}

/* ---- parties ---- */

struct party
{
  const char *name;
  struct mem *m;
  struct sc_e2e *e;
  struct sc_msg upload; /* the last prekeys_upload */
  size_t next_opk;      /* next one-time prekey a bundle hands out */
};

static void
party_open (struct party *p)
{
  struct sc_e2e_storage st = mem_storage (p->m);

  g_assert_cmpint (sc_e2e_open (&st, "server:1", p->name, &p->e), ==, SC_OK);
}

/* A fresh install of name that has published its prekeys. */
static void
party_init (struct party *p, const char *name, int64_t now)
{
  struct sc_msg_prekey_status empty = { 0 };
  bool needed = false;

  memset (p, 0, sizeof *p);
  p->name = name;
  p->m = mem_new ();
  party_open (p);
  g_assert_true (sc_e2e_identity_created (p->e));
  g_assert_cmpint (
      sc_e2e_prekeys_needed (p->e, &empty, now, &p->upload, &needed), ==,
      SC_OK);
  g_assert_true (needed);
  g_assert_cmpint (p->upload.type, ==, SC_MSG_PREKEYS_UPLOAD);
}

static void
party_clear (struct party *p)
{
  sc_e2e_free (p->e);
  sc_msg_clear (&p->upload);
  if (p->m != NULL)
    mem_free (p->m);
  memset (p, 0, sizeof *p);
}

/* Free and reopen from the same storage: a restart. */
static void
party_restart (struct party *p)
{
  sc_e2e_free (p->e);
  p->e = NULL;
  party_open (p);
  g_assert_false (sc_e2e_identity_created (p->e));
}

/* The bundle the server would hand out for p, with the next one-time
 * prekey of its last upload (or none). */
static void
make_bundle (struct party *p, bool with_opk, struct sc_msg_bundle *b)
{
  const struct sc_msg_prekeys_upload *u = &p->upload.u.prekeys_upload;

  memset (b, 0, sizeof *b);
  b->ref = 1;
  g_strlcpy (b->user, p->name, sizeof b->user);
  memcpy (b->identity, u->identity, sizeof b->identity);
  b->spk_id = u->spk_id;
  memcpy (b->spk, u->spk, sizeof b->spk);
  memcpy (b->spk_sig, u->spk_sig, sizeof b->spk_sig);
  if (with_opk)
    {
      g_assert_cmpuint (p->next_opk, <, u->n_opks);
      b->has_opk = true;
      b->opk_id = u->opks[p->next_opk].id;
      memcpy (b->opk, u->opks[p->next_opk].key, sizeof b->opk);
      p->next_opk++;
    }
}

static void
start (struct party *a, struct party *b, bool with_opk, int64_t now)
{
  struct sc_msg_bundle bundle;

  make_bundle (b, with_opk, &bundle);
  g_assert_cmpint (sc_e2e_start_session (a->e, b->name, &bundle, now), ==,
                   SC_OK);
  g_assert_cmpint (sc_e2e_has_session (a->e, b->name), ==, 1);
}

static GBytes *
enc (struct party *from, struct party *to, const char *text)
{
  uint8_t *msg = NULL;
  size_t len = 0;

  g_assert_cmpint (sc_e2e_encrypt (from->e, to->name, SC_E2E_CONTENT_TEXT,
                                   (const uint8_t *) text, strlen (text), &msg,
                                   &len),
                   ==, SC_OK);
  g_assert_nonnull (msg);
  return g_bytes_new_take (msg, len);
}

static int
dec_raw (struct party *to,
         struct party *from,
         GBytes *msg,
         int64_t now,
         char **text,
         unsigned *flags)
{
  uint8_t ct = 0;
  uint8_t *data = NULL;
  size_t len = 0;
  unsigned fl = 0;
  gsize mlen = 0;
  const uint8_t *m = g_bytes_get_data (msg, &mlen);
  int rc;

  rc = sc_e2e_decrypt (to->e, from->name, m, mlen, now, &ct, &data, &len, &fl);
  if (flags != NULL)
    *flags = fl;
  if (text != NULL)
    *text = NULL;
  if (rc != SC_OK)
    {
      g_assert_null (data);
      g_assert_cmpuint (len, ==, 0);
      g_assert_cmpuint (fl, ==, 0);
      return rc;
    }
  if (fl & SC_E2E_RESET)
    {
      g_assert_null (data);
      return rc;
    }
  g_assert_cmpint (ct, ==, SC_E2E_CONTENT_TEXT);
  g_assert_nonnull (data);
  if (text != NULL)
    *text = g_strndup ((const char *) data, len);
  sc_wipe (data, len);
  free (data);
  return rc;
}

/* Decrypts and checks the text; returns the flags. */
static unsigned
dec (struct party *to, struct party *from, GBytes *msg, const char *expect)
{
  char *text = NULL;
  unsigned flags = 0;

  g_assert_cmpint (dec_raw (to, from, msg, T0, &text, &flags), ==, SC_OK);
  g_assert_cmpstr (text, ==, expect);
  g_free (text);
  return flags;
}

static uint8_t
kind (GBytes *msg)
{
  gsize len = 0;
  const uint8_t *p = g_bytes_get_data (msg, &len);

  g_assert_cmpuint (len, >=, 2);
  g_assert_cmpuint (p[0], ==, SC_E2E_VERSION);
  return p[1];
}

static GBytes *
tampered (GBytes *msg, gsize pos, uint8_t mask)
{
  gsize len = 0;
  const uint8_t *p = g_bytes_get_data (msg, &len);
  uint8_t *q = g_memdup2 (p, len);

  q[pos] ^= mask;
  return g_bytes_new_take (q, len);
}

/* Alice and Bob with a session both ways: Alice started it with one of
 * Bob's one-time prekeys and Bob has answered. */
static void
pair_init (struct party *a, struct party *b)
{
  GBytes *m;

  party_init (a, "alice", T0);
  party_init (b, "bob", T0);
  start (a, b, true, T0);
  m = enc (a, b, "hello bob");
  g_assert_cmpint (kind (m), ==, SC_E2E_KIND_PREKEY);
  g_assert_cmpuint (dec (b, a, m, "hello bob"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  g_bytes_unref (m);
  m = enc (b, a, "hello alice");
  g_assert_cmpint (kind (m), ==, SC_E2E_KIND_NORMAL);
  g_assert_cmpuint (dec (a, b, m, "hello alice"), ==, 0);
  g_bytes_unref (m);
}

/* ---- tests ---- */

static void
test_open (void)
{
  struct mem *m = mem_new ();
  struct sc_e2e_storage st = mem_storage (m);
  struct sc_e2e *e = NULL;
  struct sc_e2e *e2 = NULL;
  struct sc_identity_public a, b;

  g_assert_cmpint (sc_e2e_open (&st, "server:1", "alice", &e), ==, SC_OK);
  g_assert_true (sc_e2e_identity_created (e));
  g_assert_cmpstr (sc_e2e_user (e), ==, "alice");
  g_assert_nonnull (mem_get (m, "identity"));
  g_assert_nonnull (mem_get (m, "account"));
  sc_e2e_identity (e, &a);
  g_assert_cmpint (m->locked, ==, 0);

  /* The same identity after a restart. */
  g_assert_cmpint (sc_e2e_open (&st, "server:1", "alice", &e2), ==, SC_OK);
  g_assert_false (sc_e2e_identity_created (e2));
  sc_e2e_identity (e2, &b);
  g_assert_true (sc_identity_public_equal (&a, &b));
  sc_e2e_free (e2);

  /* A storage belongs to one account. */
  e2 = (struct sc_e2e *) 1;
  g_assert_cmpint (sc_e2e_open (&st, "server:1", "bob", &e2), ==, SC_ERR_STATE);
  g_assert_null (e2);
  g_assert_cmpint (sc_e2e_open (&st, "server:2", "alice", &e2), ==,
                   SC_ERR_STATE);
  g_assert_cmpint (sc_e2e_open (&st, "server:1", "Alice", &e2), ==,
                   SC_ERR_USERNAME);
  g_assert_cmpint (sc_e2e_open (&st, "", "alice", &e2), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_e2e_open (NULL, "server:1", "alice", &e2), ==,
                   SC_ERR_INVALID);
  st.unlock = NULL;
  g_assert_cmpint (sc_e2e_open (&st, "server:1", "alice", &e2), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (m->locked, ==, 0);

  /* A corrupt identity is an error, never a new identity. */
  g_byte_array_set_size (mem_get (m, "identity"), 10);
  st = mem_storage (m);
  g_assert_cmpint (sc_e2e_open (&st, "server:1", "alice", &e2), ==,
                   SC_ERR_STORAGE);
  g_assert_cmpint (m->locked, ==, 0);

  sc_e2e_free (e);
  sc_e2e_free (NULL);
  mem_free (m);
}

static void
test_prekeys (void)
{
  struct party p;
  struct sc_msg_prekey_status st;
  struct sc_msg up;
  const struct sc_msg_prekeys_upload *u;
  struct sc_identity_public id;
  uint8_t wire[SC_IDENTITY_WIRE_LEN];
  uint32_t first_spk;
  bool needed = true;

  party_init (&p, "alice", T0);
  u = &p.upload.u.prekeys_upload;
  sc_e2e_identity (p.e, &id);
  memcpy (wire, id.dh, 32);
  memcpy (wire + 32, id.sig, 32);
  g_assert_cmpmem (u->identity, sizeof u->identity, wire, sizeof wire);
  g_assert_cmpuint (u->n_opks, ==, SC_E2E_OPK_TARGET);
  g_assert_cmpint (sc_spk_verify (&id, u->spk_id, u->spk, u->spk_sig), ==,
                   SC_OK);
  for (size_t i = 1; i < u->n_opks; i++)
    g_assert_cmpuint (u->opks[i].id, >, u->opks[i - 1].id);
  first_spk = u->spk_id;
  /* The private keys were stored before the upload was handed out. */
  g_assert_nonnull (mem_get (p.m, "prekeys"));

  /* Nothing to do while the server holds all of it. */
  memset (&st, 0, sizeof st);
  st.has_identity = true;
  memcpy (st.identity, wire, sizeof wire);
  st.spk_id = first_spk;
  st.opks = SC_E2E_OPK_TARGET;
  g_assert_cmpint (sc_e2e_prekeys_needed (p.e, &st, T0 + DAY, &up, &needed), ==,
                   SC_OK);
  g_assert_false (needed);
  st.opks = SC_E2E_OPK_LOW;
  g_assert_cmpint (sc_e2e_prekeys_needed (p.e, &st, T0 + DAY, &up, &needed), ==,
                   SC_OK);
  g_assert_false (needed);

  /* Running low: top up to the target, new ids. */
  st.opks = SC_E2E_OPK_LOW - 1;
  g_assert_cmpint (sc_e2e_prekeys_needed (p.e, &st, T0 + DAY, &up, &needed), ==,
                   SC_OK);
  g_assert_true (needed);
  g_assert_cmpuint (up.u.prekeys_upload.n_opks, ==,
                    SC_E2E_OPK_TARGET - SC_E2E_OPK_LOW + 1);
  g_assert_cmpuint (up.u.prekeys_upload.spk_id, ==, first_spk);
  g_assert_cmpuint (up.u.prekeys_upload.opks[0].id, >,
                    u->opks[u->n_opks - 1].id);
  sc_msg_clear (&up);

  /* A week later the signed prekey rotates, whatever the server holds. */
  st.opks = SC_E2E_OPK_TARGET;
  g_assert_cmpint (sc_e2e_prekeys_needed (p.e, &st, T0 + 7 * DAY, &up, &needed),
                   ==, SC_OK);
  g_assert_true (needed);
  g_assert_cmpuint (up.u.prekeys_upload.spk_id, !=, first_spk);
  g_assert_cmpuint (up.u.prekeys_upload.n_opks, ==, 0);
  g_assert_cmpint (sc_spk_verify (&id, up.u.prekeys_upload.spk_id,
                                  up.u.prekeys_upload.spk,
                                  up.u.prekeys_upload.spk_sig),
                   ==, SC_OK);
  st.spk_id = up.u.prekeys_upload.spk_id;
  sc_msg_clear (&up);
  g_assert_cmpint (
      sc_e2e_prekeys_needed (p.e, &st, T0 + 7 * DAY + 1, &up, &needed), ==,
      SC_OK);
  g_assert_false (needed);

  /* A server holding another identity (a reinstall elsewhere) gets ours
   * back with a full batch. */
  st.identity[0] ^= 1;
  g_assert_cmpint (
      sc_e2e_prekeys_needed (p.e, &st, T0 + 7 * DAY + 2, &up, &needed), ==,
      SC_OK);
  g_assert_true (needed);
  g_assert_cmpuint (up.u.prekeys_upload.n_opks, ==, SC_E2E_OPK_TARGET);
  sc_msg_clear (&up);

  /* A failed store hands nothing out. */
  st.has_identity = false;
  memset (st.identity, 0, sizeof st.identity);
  st.spk_id = 0;
  st.opks = 0;
  p.m->fail_store = "prekeys";
  g_assert_cmpint (
      sc_e2e_prekeys_needed (p.e, &st, T0 + 7 * DAY + 3, &up, &needed), ==,
      SC_ERR_STORAGE);
  g_assert_false (needed);
  g_assert_null (up.u.prekeys_upload.opks);
  p.m->fail_store = NULL;

  g_assert_cmpint (sc_e2e_prekeys_needed (NULL, &st, 0, &up, &needed), ==,
                   SC_ERR_INVALID);
  party_clear (&p);
}

/* One-time private keys are bounded: the oldest go first. */
static void
test_prekeys_bounded (void)
{
  struct party p;
  struct sc_msg_prekey_status st;
  struct sc_msg up;
  bool needed = false;
  GByteArray *rec;

  party_init (&p, "alice", T0);
  memset (&st, 0, sizeof st);
  st.has_identity = true;
  memcpy (st.identity, p.upload.u.prekeys_upload.identity, sizeof st.identity);
  st.spk_id = p.upload.u.prekeys_upload.spk_id;
  for (int i = 0; i < 20; i++)
    {
      st.opks = 0;
      g_assert_cmpint (sc_e2e_prekeys_needed (p.e, &st, T0, &up, &needed), ==,
                       SC_OK);
      g_assert_true (needed);
      sc_msg_clear (&up);
    }
  rec = mem_get (p.m, "prekeys");
  g_assert_nonnull (rec);
  /* header, one SPK, no old ones, the count, then 400 keys of 36 bytes */
  g_assert_cmpuint (rec->len, ==,
                    1 + 4 + 4 + 1 + (4 + 32 + 64 + 8) + 1 + 4 +
                        SC_E2E_OPK_KEEP * 36);
  party_clear (&p);
}

/* Many messages both ways, with turn changes of every length. */
static void
test_conversation (void)
{
  struct party a, b;
  GRand *rnd = g_rand_new_with_seed (7);

  pair_init (&a, &b);
  for (int round = 0; round < 60; round++)
    {
      bool from_a = g_rand_boolean (rnd);
      int n = g_rand_int_range (rnd, 1, 6);
      struct party *s = from_a ? &a : &b;
      struct party *r = from_a ? &b : &a;

      for (int i = 0; i < n; i++)
        {
          char *text = g_strdup_printf ("%s %d.%d", s->name, round, i);
          GBytes *m = enc (s, r, text);

          g_assert_cmpint (kind (m), ==, SC_E2E_KIND_NORMAL);
          g_assert_cmpuint (dec (r, s, m, text), ==, 0);
          g_bytes_unref (m);
          g_free (text);
        }
    }
  g_rand_free (rnd);
  party_clear (&a);
  party_clear (&b);
}

/* Alice keeps sending PREKEY messages until Bob answers. */
static void
test_prekey_until_reply (void)
{
  struct party a, b;
  GBytes *m[3];

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  start (&a, &b, true, T0);
  for (int i = 0; i < 3; i++)
    {
      m[i] = enc (&a, &b, "x");
      g_assert_cmpint (kind (m[i]), ==, SC_E2E_KIND_PREKEY);
    }
  /* The second arrives first: it starts the session all the same. */
  g_assert_cmpuint (dec (&b, &a, m[1], "x"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  g_assert_cmpuint (dec (&b, &a, m[0], "x"), ==, 0);
  g_assert_cmpuint (dec (&b, &a, m[2], "x"), ==, 0);
  for (int i = 0; i < 3; i++)
    {
      g_assert_cmpint (dec_raw (&b, &a, m[i], T0, NULL, NULL), ==,
                       SC_ERR_DUPLICATE);
      g_bytes_unref (m[i]);
    }
  party_clear (&a);
  party_clear (&b);
}

static void
test_out_of_order (void)
{
  struct party a, b;
  GBytes *m[20];
  GBytes *r;
  /* A permutation with gaps filled later, a lost message (13) and
   * duplicates. */
  static const int order[] = { 3, 0, 1, 19, 2,  10, 4,  5,  18, 6,
                               7, 8, 9, 11, 12, 14, 15, 17, 16 };

  pair_init (&a, &b);
  for (int i = 0; i < 20; i++)
    {
      char text[16];

      g_snprintf (text, sizeof text, "m%d", i);
      m[i] = enc (&a, &b, text);
    }
  for (size_t k = 0; k < G_N_ELEMENTS (order); k++)
    {
      char text[16];

      g_snprintf (text, sizeof text, "m%d", order[k]);
      g_assert_cmpuint (dec (&b, &a, m[order[k]], text), ==, 0);
      /* Each one exactly once. */
      g_assert_cmpint (dec_raw (&b, &a, m[order[k]], T0, NULL, NULL), ==,
                       SC_ERR_DUPLICATE);
    }
  /* The session still works both ways, and 13 arrives at last. */
  r = enc (&b, &a, "reply");
  g_assert_cmpuint (dec (&a, &b, r, "reply"), ==, 0);
  g_bytes_unref (r);
  g_assert_cmpuint (dec (&b, &a, m[13], "m13"), ==, 0);

  for (int i = 0; i < 20; i++)
    g_bytes_unref (m[i]);
  party_clear (&a);
  party_clear (&b);
}

/* Messages from an old chain arrive after the turn changed. */
static void
test_old_chain (void)
{
  struct party a, b;
  GBytes *late, *m;

  pair_init (&a, &b);
  late = enc (&a, &b, "late");
  m = enc (&a, &b, "on time");
  g_assert_cmpuint (dec (&b, &a, m, "on time"), ==, 0);
  g_bytes_unref (m);
  m = enc (&b, &a, "turn");
  g_assert_cmpuint (dec (&a, &b, m, "turn"), ==, 0);
  g_bytes_unref (m);
  m = enc (&a, &b, "new chain");
  g_assert_cmpuint (dec (&b, &a, m, "new chain"), ==, 0);
  g_bytes_unref (m);
  g_assert_cmpuint (dec (&b, &a, late, "late"), ==, 0);
  g_assert_cmpint (dec_raw (&b, &a, late, T0, NULL, NULL), ==,
                   SC_ERR_DUPLICATE);
  g_bytes_unref (late);
  party_clear (&a);
  party_clear (&b);
}

static void
test_too_far (void)
{
  struct party a, b;
  GBytes *m = NULL;

  pair_init (&a, &b);
  for (int i = 0; i < SC_DR_MAX_SKIP + 2; i++)
    {
      if (m != NULL)
        g_bytes_unref (m);
      m = enc (&a, &b, "far");
    }
  g_assert_cmpint (dec_raw (&b, &a, m, T0, NULL, NULL), ==, SC_ERR_TOO_FAR);
  g_bytes_unref (m);
  m = enc (&b, &a, "still here");
  g_assert_cmpuint (dec (&a, &b, m, "still here"), ==, 0);
  g_bytes_unref (m);
  party_clear (&a);
  party_clear (&b);
}

/* Every byte flipped, every truncation, forgeries: errors, and the
 * session goes on. */
static void
test_tampered (void)
{
  struct party a, b;
  GBytes *first, *m;
  gsize len = 0;
  char *text = NULL;

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  start (&a, &b, true, T0);
  first = enc (&a, &b, "first");
  g_bytes_get_data (first, &len);
  for (gsize pos = 0; pos < len; pos++)
    {
      GBytes *t = tampered (first, pos, (uint8_t) (1u << (pos % 8)));
      int rc = dec_raw (&b, &a, t, T0, NULL, NULL);

      g_assert_cmpint (rc, <, 0);
      g_bytes_unref (t);
    }
  /* No session was made from any of them, and no prekey was spent. */
  g_assert_cmpint (sc_e2e_has_session (b.e, "alice"), ==, 0);
  {
    struct sc_e2e_contact c;

    g_assert_cmpint (sc_e2e_contact (b.e, "alice", &c), ==, SC_ERR_NOT_FOUND);
  }
  for (gsize cut = 0; cut < len; cut++)
    {
      GBytes *t = g_bytes_new_from_bytes (first, 0, cut);

      g_assert_cmpint (dec_raw (&b, &a, t, T0, NULL, NULL), <, 0);
      g_bytes_unref (t);
    }
  g_assert_cmpuint (dec (&b, &a, first, "first"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);

  m = enc (&b, &a, "answer");
  g_bytes_get_data (m, &len);
  for (gsize pos = 0; pos < len; pos++)
    {
      GBytes *t = tampered (m, pos, 0x80);

      g_assert_cmpint (dec_raw (&a, &b, t, T0, NULL, NULL), <, 0);
      g_bytes_unref (t);
    }
  for (gsize cut = 0; cut < len; cut++)
    {
      GBytes *t = g_bytes_new_from_bytes (m, 0, cut);

      g_assert_cmpint (dec_raw (&a, &b, t, T0, NULL, NULL), <, 0);
      g_bytes_unref (t);
    }
  /* A forgery: a real header, random ciphertext. */
  {
    uint8_t *f = g_memdup2 (g_bytes_get_data (m, NULL), len);
    GBytes *t;

    g_assert_cmpint (
        sc_random (f + 2 + SC_DR_HEADER_LEN, len - 2 - SC_DR_HEADER_LEN), ==,
        SC_OK);
    t = g_bytes_new_take (f, len);
    g_assert_cmpint (dec_raw (&a, &b, t, T0, NULL, NULL), ==, SC_ERR_DECRYPT);
    g_bytes_unref (t);
  }
  /* Unknown version and kind. */
  {
    GBytes *t = tampered (m, 0, 0x02);

    g_assert_cmpint (dec_raw (&a, &b, t, T0, NULL, NULL), ==,
                     SC_ERR_UNSUPPORTED);
    g_bytes_unref (t);
    t = tampered (m, 1, 0x04);
    g_assert_cmpint (dec_raw (&a, &b, t, T0, NULL, NULL), ==,
                     SC_ERR_UNSUPPORTED);
    g_bytes_unref (t);
  }
  g_assert_cmpint (dec_raw (&a, &b, m, T0, &text, NULL), ==, SC_OK);
  g_assert_cmpstr (text, ==, "answer");
  g_free (text);
  g_bytes_unref (m);
  g_bytes_unref (first);

  /* The session is still good both ways. */
  m = enc (&a, &b, "after");
  g_assert_cmpint (kind (m), ==, SC_E2E_KIND_NORMAL);
  g_assert_cmpuint (dec (&b, &a, m, "after"), ==, 0);
  g_bytes_unref (m);
  party_clear (&a);
  party_clear (&b);
}

/* Either side restarts mid-conversation, with messages in flight. */
static void
test_restart (void)
{
  struct party a, b;
  GBytes *m1, *m2, *m3;

  pair_init (&a, &b);
  m1 = enc (&a, &b, "one");
  party_restart (&a);
  m2 = enc (&a, &b, "two");
  party_restart (&b);
  g_assert_cmpuint (dec (&b, &a, m2, "two"), ==, 0);
  party_restart (&b);
  g_assert_cmpuint (dec (&b, &a, m1, "one"), ==, 0);
  g_assert_cmpint (dec_raw (&b, &a, m2, T0, NULL, NULL), ==, SC_ERR_DUPLICATE);
  m3 = enc (&b, &a, "three");
  party_restart (&a);
  g_assert_cmpuint (dec (&a, &b, m3, "three"), ==, 0);
  g_bytes_unref (m1);
  g_bytes_unref (m2);
  g_bytes_unref (m3);

  /* And before the first reply: Alice's PREKEY messages survive her
   * restart and Bob's. */
  party_clear (&a);
  party_clear (&b);
  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  start (&a, &b, true, T0);
  m1 = enc (&a, &b, "p1");
  party_restart (&a);
  m2 = enc (&a, &b, "p2");
  g_assert_cmpint (kind (m2), ==, SC_E2E_KIND_PREKEY);
  g_assert_cmpuint (dec (&b, &a, m1, "p1"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  party_restart (&b);
  g_assert_cmpuint (dec (&b, &a, m2, "p2"), ==, 0);
  g_bytes_unref (m1);
  g_bytes_unref (m2);
  party_clear (&a);
  party_clear (&b);
}

/* The server ran out of one-time prekeys: X3DH with three DHs. */
static void
test_no_opk (void)
{
  struct party a, b;
  GBytes *m;
  gsize len = 0;
  const uint8_t *p;

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  start (&a, &b, false, T0);
  m = enc (&a, &b, "no opk");
  p = g_bytes_get_data (m, &len);
  /* opk_id = 0 */
  g_assert_cmpmem (p + 2 + 96 + 4, 4, "\0\0\0\0", 4);
  g_assert_cmpuint (dec (&b, &a, m, "no opk"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  g_bytes_unref (m);
  m = enc (&b, &a, "fine");
  g_assert_cmpuint (dec (&a, &b, m, "fine"), ==, 0);
  g_bytes_unref (m);
  party_clear (&a);
  party_clear (&b);
}

/* A one-time prekey works once: its private key is gone after the first
 * message that used it, and a second X3DH with it fails. */
static void
test_opk_once (void)
{
  struct party a, b, c;
  struct sc_msg_bundle bundle;
  GBytes *m1, *m2;
  GByteArray *rec;
  guint before;

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  party_init (&c, "carol", T0);
  make_bundle (&b, true, &bundle);
  g_assert_cmpint (sc_e2e_start_session (a.e, "bob", &bundle, T0), ==, SC_OK);
  /* The server would never hand it out twice; a broken one might. */
  g_strlcpy (bundle.user, "bob", sizeof bundle.user);
  g_assert_cmpint (sc_e2e_start_session (c.e, "bob", &bundle, T0), ==, SC_OK);
  m1 = enc (&a, &b, "alice");
  m2 = enc (&c, &b, "carol");
  rec = mem_get (b.m, "prekeys");
  before = rec->len;
  g_assert_cmpuint (dec (&b, &a, m1, "alice"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  rec = mem_get (b.m, "prekeys");
  g_assert_cmpuint (rec->len, ==, before - 36);
  g_assert_cmpint (dec_raw (&b, &c, m2, T0, NULL, NULL), ==, SC_ERR_NOT_FOUND);
  g_assert_cmpint (sc_e2e_has_session (b.e, "carol"), ==, 0);
  g_bytes_unref (m1);
  g_bytes_unref (m2);
  party_clear (&a);
  party_clear (&b);
  party_clear (&c);
}

/* Bob rotates his signed prekey while Alice's first message is on its
 * way: the previous key still opens it, until its grace period ends. */
static void
test_spk_rotated (void)
{
  struct party a, b, c;
  struct sc_msg_prekey_status st;
  struct sc_msg up;
  bool needed = false;
  GBytes *m, *late;

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  party_init (&c, "carol", T0);
  start (&a, &b, true, T0);
  start (&c, &b, false, T0);
  m = enc (&a, &b, "in flight");
  late = enc (&c, &b, "very late");

  memset (&st, 0, sizeof st);
  st.has_identity = true;
  memcpy (st.identity, b.upload.u.prekeys_upload.identity, sizeof st.identity);
  st.spk_id = b.upload.u.prekeys_upload.spk_id;
  st.opks = SC_E2E_OPK_TARGET;
  g_assert_cmpint (sc_e2e_prekeys_needed (b.e, &st, T0 + 8 * DAY, &up, &needed),
                   ==, SC_OK);
  g_assert_true (needed);
  g_assert_cmpuint (up.u.prekeys_upload.spk_id, !=, st.spk_id);
  sc_msg_clear (&up);

  g_assert_cmpuint (dec (&b, &a, m, "in flight"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  /* 40 days after the rotation the old key is gone. */
  g_assert_cmpint (dec_raw (&b, &c, late, T0 + 48 * DAY, NULL, NULL), ==,
                   SC_ERR_NOT_FOUND);
  g_bytes_unref (m);
  g_bytes_unref (late);
  party_clear (&a);
  party_clear (&b);
  party_clear (&c);
}

/* A PREKEY message without a one-time prekey replayed after its session
 * is gone is refused, as is one replayed while the session exists. */
static void
test_replay_prekey (void)
{
  struct party a, b;
  GBytes *m, *reset;
  uint8_t body[SC_E2E_RESET_LEN];
  unsigned flags = 0;

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  start (&a, &b, false, T0);
  m = enc (&a, &b, "once");
  g_assert_cmpuint (dec (&b, &a, m, "once"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  g_assert_cmpint (dec_raw (&b, &a, m, T0, NULL, NULL), ==, SC_ERR_DUPLICATE);

  /* A RESET from Alice drops Bob's session ... */
  sc_e2e_reset_body (body);
  reset = g_bytes_new (body, sizeof body);
  g_assert_cmpint (dec_raw (&b, &a, reset, T0, NULL, &flags), ==, SC_OK);
  g_assert_cmpuint (flags, ==, SC_E2E_RESET);
  g_assert_cmpint (sc_e2e_has_session (b.e, "alice"), ==, 0);
  /* ... and the replay still does not get in; Bob asks Alice to start
   * over (NO_SESSION makes the client answer with a RESET), so that a
   * forged RESET cannot leave Alice writing into the void. */
  g_assert_cmpint (dec_raw (&b, &a, m, T0, NULL, NULL), ==, SC_ERR_NO_SESSION);
  g_assert_cmpint (sc_e2e_has_session (b.e, "alice"), ==, 0);
  g_bytes_unref (reset);
  g_bytes_unref (m);
  party_clear (&a);
  party_clear (&b);
}

/* Whoever routes messages forges a PREKEY message "from bob" with another
 * identity: Alice is warned, sends nothing to bob, the trusted session
 * still decrypts, and rejecting the change restores the conversation. */
static void
test_forged_prekey_rejected (void)
{
  struct party a, b, mallory;
  struct sc_identity_public real_bob;
  struct sc_e2e_contact c;
  uint8_t *out = NULL;
  size_t out_len = 0;
  GBytes *m;

  pair_init (&a, &b);
  sc_e2e_identity (b.e, &real_bob);
  party_init (&mallory, "bob", T0);
  start (&mallory, &a, true, T0);
  m = enc (&mallory, &a, "forged");
  g_assert_true (dec (&a, &mallory, m, "forged") & SC_E2E_IDENTITY_CHANGED);
  g_bytes_unref (m);

  m = enc (&b, &a, "the real bob");
  dec (&a, &b, m, "the real bob");
  g_bytes_unref (m);
  g_assert_cmpint (sc_e2e_encrypt (a.e, "bob", SC_E2E_CONTENT_TEXT,
                                   (const uint8_t *) "x", 1, &out, &out_len),
                   ==, SC_ERR_IDENTITY_CHANGED);
  g_assert_null (out);

  g_assert_cmpint (sc_e2e_reject_identity (a.e, "bob"), ==, SC_OK);
  g_assert_cmpint (sc_e2e_contact (a.e, "bob", &c), ==, SC_OK);
  g_assert_false (c.changed);
  g_assert_false (c.verified);
  g_assert_true (sc_identity_public_equal (&c.identity, &real_bob));
  m = enc (&a, &b, "back to you, bob");
  dec (&b, &a, m, "back to you, bob");
  g_bytes_unref (m);
  /* The forged session is gone. */
  m = enc (&mallory, &a, "forged again");
  g_assert_cmpint (dec_raw (&a, &mallory, m, T0, NULL, NULL), !=, SC_OK);
  g_bytes_unref (m);
  g_assert_cmpint (sc_e2e_reject_identity (a.e, "bob"), ==, SC_OK);
  g_assert_cmpint (sc_e2e_reject_identity (a.e, "nobody"), ==,
                   SC_ERR_NOT_FOUND);
  party_clear (&a);
  party_clear (&b);
  party_clear (&mallory);
}

/* Accepting binds to the key whose safety number was compared: when yet
 * another key arrived meanwhile, the accept is refused. */
static void
test_accept_if_compared (void)
{
  struct party a, b, x, y;
  struct sc_identity_public x_id, y_id;
  struct sc_e2e_contact c;
  GBytes *m;

  pair_init (&a, &b);
  party_init (&x, "alice", T0);
  party_init (&y, "alice", T0);
  sc_e2e_identity (x.e, &x_id);
  sc_e2e_identity (y.e, &y_id);
  start (&x, &b, true, T0);
  m = enc (&x, &b, "from x");
  g_assert_true (dec (&b, &x, m, "from x") & SC_E2E_IDENTITY_CHANGED);
  g_bytes_unref (m);
  /* The user compares x's number here; then y arrives. */
  start (&y, &b, true, T0);
  m = enc (&y, &b, "from y");
  dec (&b, &y, m, "from y");
  g_bytes_unref (m);
  g_assert_cmpint (sc_e2e_accept_identity_if (b.e, "alice", &x_id), ==,
                   SC_ERR_IDENTITY_CHANGED);
  g_assert_cmpint (sc_e2e_contact (b.e, "alice", &c), ==, SC_OK);
  g_assert_true (c.changed);
  g_assert_true (sc_identity_public_equal (&c.pending, &y_id));
  g_assert_cmpint (sc_e2e_accept_identity_if (b.e, "alice", &y_id), ==, SC_OK);
  g_assert_cmpint (sc_e2e_contact (b.e, "alice", &c), ==, SC_OK);
  g_assert_false (c.changed);
  g_assert_true (sc_identity_public_equal (&c.identity, &y_id));
  party_clear (&a);
  party_clear (&b);
  party_clear (&x);
  party_clear (&y);
}

/* Bob lost his session: Alice's NORMAL message gets NO_SESSION, Bob
 * answers with a RESET, and Alice's next message starts over. */
static void
test_reset_flow (void)
{
  struct party a, b;
  GBytes *m, *reset;
  uint8_t body[SC_E2E_RESET_LEN];
  unsigned flags = 0;

  pair_init (&a, &b);
  g_hash_table_remove (b.m->files, "session/alice");
  m = enc (&a, &b, "lost");
  g_assert_cmpint (kind (m), ==, SC_E2E_KIND_NORMAL);
  g_assert_cmpint (dec_raw (&b, &a, m, T0, NULL, NULL), ==, SC_ERR_NO_SESSION);
  g_bytes_unref (m);
  /* A RESET with trailing bytes is malformed and changes nothing. */
  {
    const uint8_t bad[] = { SC_E2E_VERSION, SC_E2E_KIND_RESET, 0 };
    GBytes *t = g_bytes_new (bad, sizeof bad);

    g_assert_cmpint (dec_raw (&a, &b, t, T0, NULL, NULL), ==, SC_ERR_PROTOCOL);
    g_assert_cmpint (sc_e2e_has_session (a.e, "bob"), ==, 1);
    g_bytes_unref (t);
  }
  sc_e2e_reset_body (body);
  reset = g_bytes_new (body, sizeof body);
  g_assert_cmpint (dec_raw (&a, &b, reset, T0, NULL, &flags), ==, SC_OK);
  g_assert_cmpuint (flags, ==, SC_E2E_RESET);
  g_assert_cmpint (sc_e2e_has_session (a.e, "bob"), ==, 0);
  {
    uint8_t *out = NULL;
    size_t out_len = 0;

    g_assert_cmpint (sc_e2e_encrypt (a.e, "bob", SC_E2E_CONTENT_TEXT,
                                     (const uint8_t *) "x", 1, &out, &out_len),
                     ==, SC_ERR_NO_SESSION);
    g_assert_null (out);
  }
  start (&a, &b, true, T0);
  m = enc (&a, &b, "again");
  /* Same identity: a new session, no warning. */
  g_assert_cmpuint (dec (&b, &a, m, "again"), ==, SC_E2E_NEW_SESSION);
  g_bytes_unref (m);
  m = enc (&b, &a, "ok");
  g_assert_cmpuint (dec (&a, &b, m, "ok"), ==, 0);
  g_bytes_unref (m);
  g_bytes_unref (reset);
  party_clear (&a);
  party_clear (&b);
}

/* Alice reinstalls: Bob is told, the contact is unverified and held
 * until Bob accepts the new key. */
static void
test_peer_reinstalled (void)
{
  struct party a, b;
  struct sc_e2e_contact c;
  struct sc_identity_public old_id, new_id;
  char sn_old[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  char sn_new[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  char sn_a[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  uint8_t *out = NULL;
  size_t out_len = 0;
  GBytes *m;

  pair_init (&a, &b);
  sc_e2e_identity (a.e, &old_id);
  g_assert_cmpint (sc_e2e_set_verified (b.e, "alice", true), ==, SC_OK);
  g_assert_cmpint (sc_e2e_safety_number (b.e, "alice", sn_old), ==, SC_OK);

  party_clear (&a);
  party_init (&a, "alice", T0);
  sc_e2e_identity (a.e, &new_id);
  start (&a, &b, true, T0);
  m = enc (&a, &b, "it's me, new phone");
  g_assert_cmpuint (dec (&b, &a, m, "it's me, new phone"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_IDENTITY_CHANGED);
  g_bytes_unref (m);

  g_assert_cmpint (sc_e2e_contact (b.e, "alice", &c), ==, SC_OK);
  g_assert_true (c.changed);
  g_assert_false (c.verified);
  g_assert_true (sc_identity_public_equal (&c.identity, &old_id));
  g_assert_true (sc_identity_public_equal (&c.pending, &new_id));
  /* Held: nothing goes to Alice, and verifying needs an accept first. */
  g_assert_cmpint (sc_e2e_encrypt (b.e, "alice", SC_E2E_CONTENT_TEXT,
                                   (const uint8_t *) "x", 1, &out, &out_len),
                   ==, SC_ERR_IDENTITY_CHANGED);
  g_assert_null (out);
  g_assert_cmpint (sc_e2e_set_verified (b.e, "alice", true), ==,
                   SC_ERR_IDENTITY_CHANGED);
  /* The number to compare is the new one, and matches Alice's. */
  g_assert_cmpint (sc_e2e_safety_number (b.e, "alice", sn_new), ==, SC_OK);
  g_assert_cmpint (sc_e2e_safety_number (a.e, "bob", sn_a), ==, SC_OK);
  g_assert_cmpstr (sn_new, ==, sn_a);
  g_assert_cmpstr (sn_new, !=, sn_old);

  /* More from Alice still decrypts, without a second warning. */
  m = enc (&a, &b, "hello?");
  g_assert_cmpuint (dec (&b, &a, m, "hello?"), ==, 0);
  g_bytes_unref (m);

  /* Bob's restart does not forget the change. */
  party_restart (&b);
  g_assert_cmpint (sc_e2e_contact (b.e, "alice", &c), ==, SC_OK);
  g_assert_true (c.changed);

  g_assert_cmpint (sc_e2e_accept_identity (b.e, "alice"), ==, SC_OK);
  g_assert_cmpint (sc_e2e_contact (b.e, "alice", &c), ==, SC_OK);
  g_assert_false (c.changed);
  g_assert_false (c.verified);
  g_assert_true (sc_identity_public_equal (&c.identity, &new_id));
  m = enc (&b, &a, "welcome back");
  g_assert_cmpuint (dec (&a, &b, m, "welcome back"), ==, 0);
  g_bytes_unref (m);
  g_assert_cmpint (sc_e2e_set_verified (b.e, "alice", true), ==, SC_OK);
  party_restart (&b);
  g_assert_cmpint (sc_e2e_contact (b.e, "alice", &c), ==, SC_OK);
  g_assert_true (c.verified);
  g_assert_cmpint (sc_e2e_accept_identity (b.e, "alice"), ==, SC_OK);
  g_assert_cmpint (sc_e2e_accept_identity (b.e, "nobody"), ==,
                   SC_ERR_NOT_FOUND);
  party_clear (&a);
  party_clear (&b);
}

/* Bob reinstalls: Alice's old session fails at Bob, Bob's RESET makes
 * Alice fetch a bundle, and that bundle's new identity is refused until
 * Alice accepts it. */
static void
test_bundle_identity_changed (void)
{
  struct party a, b;
  struct sc_msg_bundle bundle;
  struct sc_e2e_contact c;
  GBytes *m, *reset;
  uint8_t body[SC_E2E_RESET_LEN];
  unsigned flags = 0;

  pair_init (&a, &b);
  g_assert_cmpint (sc_e2e_set_verified (a.e, "bob", true), ==, SC_OK);
  party_clear (&b);
  party_init (&b, "bob", T0);

  m = enc (&a, &b, "are you there");
  g_assert_cmpint (dec_raw (&b, &a, m, T0, NULL, NULL), ==, SC_ERR_NO_SESSION);
  g_bytes_unref (m);
  sc_e2e_reset_body (body);
  reset = g_bytes_new (body, sizeof body);
  g_assert_cmpint (dec_raw (&a, &b, reset, T0, NULL, &flags), ==, SC_OK);
  g_bytes_unref (reset);

  make_bundle (&b, true, &bundle);
  g_assert_cmpint (sc_e2e_start_session (a.e, "bob", &bundle, T0), ==,
                   SC_ERR_IDENTITY_CHANGED);
  g_assert_cmpint (sc_e2e_has_session (a.e, "bob"), ==, 0);
  g_assert_cmpint (sc_e2e_contact (a.e, "bob", &c), ==, SC_OK);
  g_assert_true (c.changed);
  g_assert_false (c.verified);
  /* Refused again until accepted. */
  make_bundle (&b, true, &bundle);
  g_assert_cmpint (sc_e2e_start_session (a.e, "bob", &bundle, T0), ==,
                   SC_ERR_IDENTITY_CHANGED);
  g_assert_cmpint (sc_e2e_accept_identity (a.e, "bob"), ==, SC_OK);
  start (&a, &b, true, T0);
  m = enc (&a, &b, "hi new bob");
  /* Bob never knew Alice: a new contact for him. */
  g_assert_cmpuint (dec (&b, &a, m, "hi new bob"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  g_bytes_unref (m);
  party_clear (&a);
  party_clear (&b);
}

/* Both start a session at the same time: both first messages decrypt
 * and the conversation settles on one session. */
static void
test_simultaneous (void)
{
  struct party a, b;
  GBytes *ma, *mb;

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  start (&a, &b, true, T0);
  start (&b, &a, true, T0);
  ma = enc (&a, &b, "from alice");
  mb = enc (&b, &a, "from bob");
  /* Each knows the other from the bundle already. */
  g_assert_cmpuint (dec (&b, &a, ma, "from alice"), ==, SC_E2E_NEW_SESSION);
  g_assert_cmpuint (dec (&a, &b, mb, "from bob"), ==, SC_E2E_NEW_SESSION);
  g_bytes_unref (ma);
  g_bytes_unref (mb);
  for (int i = 0; i < 6; i++)
    {
      ma = enc (&a, &b, "a");
      mb = enc (&b, &a, "b");
      g_assert_cmpuint (dec (&b, &a, ma, "a"), ==, 0);
      g_assert_cmpuint (dec (&a, &b, mb, "b"), ==, 0);
      g_bytes_unref (ma);
      g_bytes_unref (mb);
    }
  party_clear (&a);
  party_clear (&b);
}

/* The ratchet state that made a message is stored before the message is
 * returned; when it cannot be stored, no message comes out. */
static void
test_persist_before_send (void)
{
  struct party a, b;
  GBytes *m1, *m2;
  GByteArray *rec;
  GByteArray *before;
  int stores;
  uint8_t *out = (uint8_t *) 1;
  size_t out_len = 1;

  pair_init (&a, &b);
  before = g_byte_array_new ();
  rec = mem_get (a.m, "session/bob");
  g_byte_array_append (before, rec->data, rec->len);
  stores = a.m->stores;
  g_string_truncate (a.m->log, 0);
  m1 = enc (&a, &b, "one");
  g_assert_cmpint (a.m->stores, ==, stores + 1);
  g_assert_cmpstr (a.m->log->str, ==, "S:session/bob;");
  rec = mem_get (a.m, "session/bob");
  g_assert_false (rec->len == before->len &&
                  memcmp (rec->data, before->data, rec->len) == 0);
  g_byte_array_unref (before);

  /* A crash right after: the next message uses the next key. */
  party_restart (&a);
  m2 = enc (&a, &b, "two");
  g_assert_cmpuint (dec (&b, &a, m2, "two"), ==, 0);
  g_assert_cmpuint (dec (&b, &a, m1, "one"), ==, 0);
  g_bytes_unref (m1);
  g_bytes_unref (m2);

  a.m->fail_store = "session/bob";
  g_assert_cmpint (sc_e2e_encrypt (a.e, "bob", SC_E2E_CONTENT_TEXT,
                                   (const uint8_t *) "x", 1, &out, &out_len),
                   ==, SC_ERR_STORAGE);
  g_assert_null (out);
  g_assert_cmpuint (out_len, ==, 0);
  a.m->fail_store = NULL;
  m1 = enc (&a, &b, "three");
  g_assert_cmpuint (dec (&b, &a, m1, "three"), ==, 0);
  g_bytes_unref (m1);

  /* A decryption whose state cannot be stored gives no plaintext, and
   * the message can be decrypted once storing works again. */
  m1 = enc (&a, &b, "four");
  b.m->fail_store = "session/alice";
  g_assert_cmpint (dec_raw (&b, &a, m1, T0, NULL, NULL), ==, SC_ERR_STORAGE);
  b.m->fail_store = NULL;
  g_assert_cmpuint (dec (&b, &a, m1, "four"), ==, 0);
  g_bytes_unref (m1);
  party_clear (&a);
  party_clear (&b);
}

static void
test_safety_number (void)
{
  struct party a, b;
  char sa[SC_SAFETY_NUMBER_TEXT_LEN + 1];
  char sb[SC_SAFETY_NUMBER_TEXT_LEN + 1];

  pair_init (&a, &b);
  g_assert_cmpint (sc_e2e_safety_number (a.e, "bob", sa), ==, SC_OK);
  g_assert_cmpint (sc_e2e_safety_number (b.e, "alice", sb), ==, SC_OK);
  g_assert_cmpstr (sa, ==, sb);
  g_assert_cmpuint (strlen (sa), ==, SC_SAFETY_NUMBER_TEXT_LEN);
  for (int i = 0; i < SC_SAFETY_NUMBER_TEXT_LEN; i++)
    {
      if (i % 6 == 5)
        g_assert_cmpint (sa[i], ==, ' ');
      else
        g_assert_true (g_ascii_isdigit (sa[i]));
    }
  g_assert_cmpint (sc_e2e_safety_number (a.e, "carol", sa), ==,
                   SC_ERR_NOT_FOUND);
  g_assert_cmpstr (sa, ==, "");
  party_clear (&a);
  party_clear (&b);
}

static void
test_verified (void)
{
  struct party a, b;
  struct sc_e2e_contact c;

  pair_init (&a, &b);
  g_assert_cmpint (sc_e2e_contact (a.e, "bob", &c), ==, SC_OK);
  g_assert_false (c.verified);
  g_assert_false (c.changed);
  g_assert_cmpint (sc_e2e_set_verified (a.e, "bob", true), ==, SC_OK);
  party_restart (&a);
  g_assert_cmpint (sc_e2e_contact (a.e, "bob", &c), ==, SC_OK);
  g_assert_true (c.verified);
  g_assert_cmpint (sc_e2e_set_verified (a.e, "bob", false), ==, SC_OK);
  g_assert_cmpint (sc_e2e_contact (a.e, "bob", &c), ==, SC_OK);
  g_assert_false (c.verified);
  g_assert_cmpint (sc_e2e_set_verified (a.e, "carol", true), ==,
                   SC_ERR_NOT_FOUND);
  party_clear (&a);
  party_clear (&b);
}

static void
test_bad_bundles (void)
{
  struct party a, b;
  struct sc_msg_bundle bundle;
  struct sc_e2e_contact c;

  party_init (&a, "alice", T0);
  party_init (&b, "bob", T0);
  make_bundle (&b, true, &bundle);
  bundle.spk_sig[5] ^= 1;
  g_assert_cmpint (sc_e2e_start_session (a.e, "bob", &bundle, T0), ==,
                   SC_ERR_SIGNATURE);
  make_bundle (&b, true, &bundle);
  bundle.spk[0] ^= 1;
  g_assert_cmpint (sc_e2e_start_session (a.e, "bob", &bundle, T0), ==,
                   SC_ERR_SIGNATURE);
  make_bundle (&b, true, &bundle);
  bundle.spk_id++;
  g_assert_cmpint (sc_e2e_start_session (a.e, "bob", &bundle, T0), ==,
                   SC_ERR_SIGNATURE);
  /* A bad bundle leaves no trace: no contact, no session. */
  g_assert_cmpint (sc_e2e_contact (a.e, "bob", &c), ==, SC_ERR_NOT_FOUND);
  g_assert_cmpint (sc_e2e_has_session (a.e, "bob"), ==, 0);
  /* A bundle for someone else. */
  make_bundle (&b, true, &bundle);
  g_assert_cmpint (sc_e2e_start_session (a.e, "carol", &bundle, T0), ==,
                   SC_ERR_INVALID);
  /* Our own. */
  g_strlcpy (bundle.user, "alice", sizeof bundle.user);
  g_assert_cmpint (sc_e2e_start_session (a.e, "alice", &bundle, T0), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_e2e_start_session (a.e, "bob", NULL, T0), ==,
                   SC_ERR_INVALID);
  party_clear (&a);
  party_clear (&b);
}

/* a's next NORMAL message to b with an empty plaintext, which
 * sc_e2e_encrypt never makes (it always has a content type): made with
 * the ratchet of a's current session record (version, count, then peer
 * identity 64, flags 1, EK_A 32, spk_id 4, opk_id 4, BE32 length, the
 * ratchet state), whose stored state moves on as it would. */
static GBytes *
enc_empty_plaintext (struct party *a, const char *peer)
{
  static const uint8_t prefix[2] = { SC_E2E_VERSION, SC_E2E_KIND_NORMAL };
  const size_t off = 2 + 64 + 1 + 32 + 4 + 4;
  char *name = g_strdup_printf ("session/%s", peer);
  GByteArray *rec = mem_get (a->m, name);
  struct sc_ratchet *r = NULL;
  uint8_t *msg = NULL, *ser = NULL;
  size_t msg_len = 0, ser_len = 0, rlen;

  g_assert_nonnull (rec);
  g_assert_cmpuint (rec->len, >=, off + 4);
  rlen = (size_t) rec->data[off] << 24 | (size_t) rec->data[off + 1] << 16 |
         (size_t) rec->data[off + 2] << 8 | rec->data[off + 3];
  g_assert_cmpuint (rlen, <=, rec->len - off - 4);
  g_assert_cmpint (sc_ratchet_deserialize (sc_dr_labels_default (),
                                           rec->data + off + 4, rlen, &r),
                   ==, SC_OK);
  g_assert_cmpint (
      sc_ratchet_encrypt (r, prefix, sizeof prefix, NULL, 0, &msg, &msg_len),
      ==, SC_OK);
  g_assert_cmpint (sc_ratchet_serialize (r, &ser, &ser_len), ==, SC_OK);
  g_assert_cmpuint (ser_len, ==, rlen);
  memcpy (rec->data + off + 4, ser, ser_len);
  sc_ratchet_free (r);
  free (ser);
  g_free (name);
  return g_bytes_new_take (msg, msg_len);
}

/* A message without even a content type is a protocol error, and like
 * every failed decryption it changes nothing stored (found by the
 * fuzz-e2e harness: the session used to be stored first). */
static void
test_empty_plaintext (void)
{
  struct party a, b;
  GByteArray *rec, *before = g_byte_array_new ();
  GBytes *empty, *next;

  pair_init (&a, &b);
  empty = enc_empty_plaintext (&a, "bob");
  next = enc (&a, &b, "next");
  rec = mem_get (b.m, "session/alice");
  g_byte_array_append (before, rec->data, rec->len);
  g_assert_cmpint (dec_raw (&b, &a, empty, T0, NULL, NULL), ==,
                   SC_ERR_PROTOCOL);
  rec = mem_get (b.m, "session/alice");
  g_assert_cmpmem (rec->data, rec->len, before->data, before->len);
  /* Again: still refused the same way, not taken for a duplicate. */
  g_assert_cmpint (dec_raw (&b, &a, empty, T0, NULL, NULL), ==,
                   SC_ERR_PROTOCOL);
  g_assert_cmpuint (dec (&b, &a, next, "next"), ==, 0);
  g_bytes_unref (empty);
  g_bytes_unref (next);
  g_byte_array_unref (before);
  party_clear (&a);
  party_clear (&b);
}

static void
test_content (void)
{
  struct party a, b;
  uint8_t *big = g_malloc0 (SC_E2E_CONTENT_MAX + 1);
  uint8_t *out = NULL;
  size_t out_len = 0;
  uint8_t ct = 0;
  uint8_t *data = NULL;
  size_t data_len = 0;
  unsigned flags = 0;

  pair_init (&a, &b);
  g_assert_cmpint (sc_e2e_encrypt (a.e, "bob", SC_E2E_CONTENT_TEXT, big,
                                   SC_E2E_CONTENT_MAX + 1, &out, &out_len),
                   ==, SC_ERR_TOO_LARGE);
  /* The largest content fits a message body. */
  g_assert_cmpint (sc_e2e_encrypt (a.e, "bob", SC_E2E_CONTENT_TEXT, big,
                                   SC_E2E_CONTENT_MAX, &out, &out_len),
                   ==, SC_OK);
  g_assert_cmpuint (out_len, <=, SC_BODY_MAX);
  g_assert_cmpint (sc_e2e_decrypt (b.e, "alice", out, out_len, T0, &ct, &data,
                                   &data_len, &flags),
                   ==, SC_OK);
  g_assert_cmpuint (data_len, ==, SC_E2E_CONTENT_MAX);
  free (data);
  free (out);
  /* Other content types come back as they are; so does empty content. */
  g_assert_cmpint (sc_e2e_encrypt (a.e, "bob", 42, NULL, 0, &out, &out_len), ==,
                   SC_OK);
  g_assert_cmpint (sc_e2e_decrypt (b.e, "alice", out, out_len, T0, &ct, &data,
                                   &data_len, &flags),
                   ==, SC_OK);
  g_assert_cmpuint (ct, ==, 42);
  g_assert_cmpuint (data_len, ==, 0);
  g_assert_nonnull (data);
  free (data);
  free (out);
  /* Bad arguments. */
  g_assert_cmpint (sc_e2e_encrypt (a.e, "alice", 1, big, 1, &out, &out_len), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_e2e_encrypt (a.e, "B0b", 1, big, 1, &out, &out_len), ==,
                   SC_ERR_USERNAME);
  g_assert_cmpint (sc_e2e_encrypt (a.e, "bob", 1, NULL, 1, &out, &out_len), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (
      sc_e2e_decrypt (b.e, "alice", big, 1, T0, &ct, &data, &data_len, &flags),
      ==, SC_ERR_TRUNCATED);
  g_assert_cmpint (
      sc_e2e_decrypt (b.e, "alice", big, 0, T0, &ct, &data, &data_len, NULL),
      ==, SC_ERR_INVALID);
  g_free (big);
  party_clear (&a);
  party_clear (&b);
}

/* Records cut short or with a byte changed are refused cleanly. */
static void
test_corrupt_records (void)
{
  static const char *const names[] = { "session/bob", "contact/bob", "prekeys",
                                       "replay", "account" };
  struct party a, b;

  pair_init (&a, &b);
  for (size_t k = 0; k < G_N_ELEMENTS (names); k++)
    {
      struct party *p = strcmp (names[k], "replay") == 0 ? &b : &a;
      const char *name = names[k];
      GByteArray *rec = mem_get (p->m, name);
      GByteArray *orig;

      g_assert_nonnull (rec);
      orig = g_byte_array_new ();
      g_byte_array_append (orig, rec->data, rec->len);
      for (guint cut = 0; cut < orig->len; cut += 1 + cut / 8)
        {
          GByteArray *t = g_byte_array_new ();
          struct sc_e2e_storage st = mem_storage (p->m);
          struct sc_e2e *e = NULL;
          struct sc_msg_prekey_status ps = { 0 };
          struct sc_msg up;
          bool needed = false;
          uint8_t *out = NULL;
          size_t out_len = 0;
          const char *peer = p == &a ? "bob" : "alice";
          int rc;

          g_byte_array_append (t, orig->data, cut);
          g_hash_table_replace (p->m->files, g_strdup (name), t);
          rc = sc_e2e_open (&st, "server:1", p->name, &e);
          if (strcmp (name, "account") == 0)
            {
              g_assert_cmpint (rc, ==, SC_ERR_STORAGE);
              continue;
            }
          g_assert_cmpint (rc, ==, SC_OK);
          if (strcmp (name, "prekeys") == 0)
            g_assert_cmpint (sc_e2e_prekeys_needed (e, &ps, T0, &up, &needed),
                             ==, SC_ERR_STORAGE);
          else if (strcmp (name, "replay") == 0)
            {
              struct party c;
              GBytes *m;

              /* Only a new session reads the replay cache. */
              party_init (&c, "carol", T0);
              {
                struct sc_msg_bundle bundle;

                make_bundle (&b, true, &bundle);
                g_assert_cmpint (sc_e2e_start_session (c.e, "bob", &bundle, T0),
                                 ==, SC_OK);
              }
              m = enc (&c, &b, "x");
              {
                uint8_t ctype = 0;
                uint8_t *data = NULL;
                size_t dl = 0;
                unsigned fl = 0;

                g_assert_cmpint (sc_e2e_decrypt (e, "carol",
                                                 g_bytes_get_data (m, NULL),
                                                 g_bytes_get_size (m), T0,
                                                 &ctype, &data, &dl, &fl),
                                 ==, SC_ERR_STORAGE);
              }
              g_bytes_unref (m);
              party_clear (&c);
            }
          else
            g_assert_cmpint (sc_e2e_encrypt (e, peer, 1, (const uint8_t *) "x",
                                             1, &out, &out_len),
                             ==, SC_ERR_STORAGE);
          g_assert_null (out);
          sc_e2e_free (e);
        }
      {
        GByteArray *back = g_byte_array_new ();

        g_byte_array_append (back, orig->data, orig->len);
        g_hash_table_replace (p->m->files, g_strdup (name), back);
      }
      g_byte_array_unref (orig);
    }
  /* Everything restored: the session still works. */
  {
    GBytes *m = enc (&a, &b, "intact");

    g_assert_cmpuint (dec (&b, &a, m, "intact"), ==, 0);
    g_bytes_unref (m);
  }
  party_clear (&a);
  party_clear (&b);
}

/* Two installations of one account number their prekeys differently,
 * so a message made from the other one's bundle names keys this one does
 * not have (and gets a RESET) instead of failing to decrypt. */
static void
test_other_installation (void)
{
  struct party a1, a2, b;
  GBytes *m;

  party_init (&a1, "alice", T0);
  party_init (&a2, "alice", T0);
  party_init (&b, "bob", T0);
  g_assert_cmpuint (a1.upload.u.prekeys_upload.spk_id, !=,
                    a2.upload.u.prekeys_upload.spk_id);
  g_assert_cmpuint (a1.upload.u.prekeys_upload.opks[0].id, !=,
                    a2.upload.u.prekeys_upload.opks[0].id);
  start (&b, &a1, true, T0);
  m = enc (&b, &a1, "for the old install");
  g_assert_cmpint (dec_raw (&a2, &b, m, T0, NULL, NULL), ==, SC_ERR_NOT_FOUND);
  g_assert_cmpuint (dec (&a1, &b, m, "for the old install"), ==,
                    SC_E2E_NEW_SESSION | SC_E2E_NEW_CONTACT);
  g_bytes_unref (m);
  party_clear (&a1);
  party_clear (&a2);
  party_clear (&b);
}

/* Storage without lock callbacks works too (single process). */
static void
test_no_lock (void)
{
  struct mem *m = mem_new ();
  struct sc_e2e_storage st = mem_storage (m);
  struct sc_e2e *e = NULL;

  st.lock = NULL;
  st.unlock = NULL;
  m->locked = 1; /* the fake's asserts expect the lock held */
  g_assert_cmpint (sc_e2e_open (&st, "s", "alice", &e), ==, SC_OK);
  g_assert_cmpint (m->locks, ==, 0);
  g_assert_cmpint (sc_e2e_has_session (e, "bob"), ==, 0);
  sc_e2e_free (e);
  mem_free (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/common/e2e/open", test_open);
  g_test_add_func ("/common/e2e/open/no-lock", test_no_lock);
  g_test_add_func ("/common/e2e/prekeys/upload", test_prekeys);
  g_test_add_func ("/common/e2e/prekeys/bounded", test_prekeys_bounded);
  g_test_add_func ("/common/e2e/prekeys/no-opk", test_no_opk);
  g_test_add_func ("/common/e2e/prekeys/opk-once", test_opk_once);
  g_test_add_func ("/common/e2e/prekeys/spk-rotated", test_spk_rotated);
  g_test_add_func ("/common/e2e/session/conversation", test_conversation);
  g_test_add_func ("/common/e2e/session/prekey-until-reply",
                   test_prekey_until_reply);
  g_test_add_func ("/common/e2e/session/out-of-order", test_out_of_order);
  g_test_add_func ("/common/e2e/session/old-chain", test_old_chain);
  g_test_add_func ("/common/e2e/session/too-far", test_too_far);
  g_test_add_func ("/common/e2e/session/tampered", test_tampered);
  g_test_add_func ("/common/e2e/session/restart", test_restart);
  g_test_add_func ("/common/e2e/session/simultaneous", test_simultaneous);
  g_test_add_func ("/common/e2e/session/persist-before-send",
                   test_persist_before_send);
  g_test_add_func ("/common/e2e/session/content", test_content);
  g_test_add_func ("/common/e2e/session/empty-plaintext", test_empty_plaintext);
  g_test_add_func ("/common/e2e/replay/prekey", test_replay_prekey);
  g_test_add_func ("/common/e2e/identity/forged-prekey-rejected",
                   test_forged_prekey_rejected);
  g_test_add_func ("/common/e2e/identity/accept-if-compared",
                   test_accept_if_compared);
  g_test_add_func ("/common/e2e/reset", test_reset_flow);
  g_test_add_func ("/common/e2e/identity/peer-reinstalled",
                   test_peer_reinstalled);
  g_test_add_func ("/common/e2e/identity/bundle-changed",
                   test_bundle_identity_changed);
  g_test_add_func ("/common/e2e/identity/bad-bundles", test_bad_bundles);
  g_test_add_func ("/common/e2e/identity/verified", test_verified);
  g_test_add_func ("/common/e2e/safety-number", test_safety_number);
  g_test_add_func ("/common/e2e/storage/corrupt", test_corrupt_records);
  g_test_add_func ("/common/e2e/prekeys/other-installation",
                   test_other_installation);

  return g_test_run ();
}
