/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/prekeys.c, the store without sockets: uploads (first, added to,
 * replaced by a new identity, capped), one-time prekeys handed out once
 * each, persistence across reopening, atomic 0600 files, and files that are
 * not what the server wrote. */
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prekeys.h"

#include "securechat/base64.h"
#include "securechat/error.h"
#include "securechat/identity.h"
#include "securechat/init.h"

struct fixture
{
  char *dir;    /* the data folder */
  char *pk_dir; /* DIR/prekeys */
  char *path;   /* DIR/prekeys/alice.json */
  struct prekeys *pk;
  struct sc_identity id; /* alice's */
};

static void
remove_tree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d == NULL)
    {
      g_remove (path);
      return;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *p = g_build_filename (path, name, NULL);
      struct stat sb;

      if (lstat (p, &sb) == 0 && S_ISDIR (sb.st_mode))
        remove_tree (p);
      else
        g_unlink (p);
      g_free (p);
    }
  g_dir_close (d);
  g_rmdir (path);
}

static struct prekeys *
open_ok (const char *dir)
{
  struct prekeys *pk = NULL;
  char err[256] = "";

  if (prekeys_open (dir, &pk, err, sizeof err) != PREKEYS_OK)
    g_error ("prekeys_open: %s", err);
  g_assert_nonnull (pk);
  return pk;
}

static void
fixture_setup (struct fixture *f, gconstpointer data)
{
  (void) data;
  f->dir = g_dir_make_tmp ("test-prekeys-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->pk_dir = g_build_filename (f->dir, PREKEYS_DIR_NAME, NULL);
  f->path = g_build_filename (f->pk_dir, "alice.json", NULL);
  f->pk = open_ok (f->dir);
  g_assert_cmpint (sc_identity_generate (&f->id), ==, SC_OK);
}

static void
fixture_teardown (struct fixture *f, gconstpointer data)
{
  (void) data;
  prekeys_free (f->pk);
  sc_identity_wipe (&f->id);
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->pk_dir);
  g_free (f->path);
}

/* ---- Uploads as a client builds them. ---- */

/* The X25519 "key" of a one-time prekey: its id, repeated. The store never
 * looks inside a key, and this makes every handed-out key checkable. */
static void
opk_key (uint32_t id, uint8_t key[32])
{
  size_t i;

  for (i = 0; i < 32; i += 4)
    {
      key[i] = (uint8_t) (id >> 24);
      key[i + 1] = (uint8_t) (id >> 16);
      key[i + 2] = (uint8_t) (id >> 8);
      key[i + 3] = (uint8_t) id;
    }
}

/* An upload signed by id, with one-time prekeys first .. first + n - 1. */
static struct sc_msg_prekeys_upload
make_upload (const struct sc_identity *id,
             uint32_t spk_id,
             uint32_t first,
             size_t n)
{
  struct sc_msg_prekeys_upload up;
  size_t i;

  memset (&up, 0, sizeof up);
  memcpy (up.identity, id->pub.dh, 32);
  memcpy (up.identity + 32, id->pub.sig, 32);
  up.spk_id = spk_id;
  memset (up.spk, (int) (0x40 + spk_id), sizeof up.spk);
  g_assert_cmpint (sc_spk_sign (id, spk_id, up.spk, up.spk_sig), ==, SC_OK);
  up.n_opks = n;
  up.opks = n > 0 ? g_new0 (struct sc_msg_opk, n) : NULL;
  for (i = 0; i < n; i++)
    {
      up.opks[i].id = first + (uint32_t) i;
      opk_key (up.opks[i].id, up.opks[i].key);
    }
  return up;
}

static void
upload_ok (struct fixture *f,
           const struct sc_msg_prekeys_upload *up,
           struct prekeys_upload_info *info)
{
  char err[256] = "";
  int rc = prekeys_upload (f->pk, "alice", up, info, err, sizeof err);

  if (rc != PREKEYS_OK)
    g_error ("prekeys_upload: %d %s", rc, err);
}

static void
status_ok (struct fixture *f, const char *user, struct sc_msg_prekey_status *st)
{
  char err[256] = "";

  memset (st, 0x5a, sizeof *st);
  if (prekeys_status (f->pk, user, st, err, sizeof err) != PREKEYS_OK)
    g_error ("prekeys_status: %s", err);
}

static int
take (struct fixture *f, struct sc_msg_bundle *b, uint32_t *left)
{
  char err[256] = "";
  int rc;

  memset (b, 0x5a, sizeof *b);
  *left = 12345;
  rc = prekeys_take_bundle (f->pk, "alice", b, left, err, sizeof err);
  if (rc == PREKEYS_ERROR)
    g_error ("prekeys_take_bundle: %s", err);
  return rc;
}

/* The bundle matches the upload it came from. */
static void
assert_bundle_from (const struct sc_msg_bundle *b,
                    const struct sc_msg_prekeys_upload *up)
{
  g_assert_cmpstr (b->user, ==, "alice");
  g_assert_cmpuint (b->ref, ==, 0);
  g_assert_cmpmem (b->identity, 64, up->identity, 64);
  g_assert_cmpuint (b->spk_id, ==, up->spk_id);
  g_assert_cmpmem (b->spk, 32, up->spk, 32);
  g_assert_cmpmem (b->spk_sig, 64, up->spk_sig, 64);
}

static void
assert_opk (const struct sc_msg_bundle *b, uint32_t id)
{
  uint8_t key[32];

  opk_key (id, key);
  g_assert_true (b->has_opk);
  g_assert_cmpuint (b->opk_id, ==, id);
  g_assert_cmpmem (b->opk, 32, key, 32);
}

static json_t *
load_json (const char *path)
{
  json_error_t jerr;
  json_t *root = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);

  if (root == NULL)
    g_error ("%s: %s", path, jerr.text);
  return root;
}

/* The ids stored in the file, in file order. */
static GArray *
file_opk_ids (const char *path)
{
  json_t *root = load_json (path), *v;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  size_t i;

  json_array_foreach (json_object_get (root, "opks"), i, v)
  {
    guint32 id = (guint32) json_integer_value (json_object_get (v, "id"));
    g_array_append_val (ids, id);
  }
  json_decref (root);
  return ids;
}

/* The folder holds exactly these names: no temporary file is left. */
static void
assert_dir_is (const char *dir, const char *const *names)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  GPtrArray *seen = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  size_t i;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (seen, g_strdup (name));
  g_dir_close (d);
  for (i = 0; names[i] != NULL; i++)
    g_assert_true (
        g_ptr_array_find_with_equal_func (seen, names[i], g_str_equal, NULL));
  g_assert_cmpuint (seen->len, ==, i);
  g_ptr_array_unref (seen);
}

/* ---- Tests. ---- */

static void
test_nothing_published (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekey_status st;
  struct sc_msg_bundle b;
  uint32_t left;

  (void) data;
  status_ok (f, "alice", &st);
  g_assert_false (st.has_identity);
  g_assert_cmpuint (st.spk_id, ==, 0);
  g_assert_cmpuint (st.opks, ==, 0);
  g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_NONE);
  g_assert_false (b.has_opk);
  g_assert_cmpuint (left, ==, 0);
  /* Reading creates nothing. */
  g_assert_false (g_file_test (f->pk_dir, G_FILE_TEST_EXISTS));
}

static void
test_first_upload (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 50);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  static const char *const names[] = { "alice.json", NULL };
  json_t *root;
  char b64[89];
  struct stat sb;

  (void) data;
  /* Whatever the umask, the folder is 0700 and the file 0600. */
  umask (0);
  upload_ok (f, &up, &info);
  umask (022);
  g_assert_false (info.new_identity);
  g_assert_cmpuint (info.added, ==, 50);
  g_assert_cmpuint (info.dropped, ==, 0);
  g_assert_true (info.status.has_identity);
  g_assert_cmpmem (info.status.identity, 64, up.identity, 64);
  g_assert_cmpuint (info.status.spk_id, ==, 7);
  g_assert_cmpuint (info.status.opks, ==, 50);

  status_ok (f, "alice", &st);
  g_assert_true (memcmp (&st, &info.status, sizeof st) == 0);
  status_ok (f, "bob", &st);
  g_assert_false (st.has_identity);

  g_assert_cmpint (stat (f->pk_dir, &sb), ==, 0);
  g_assert_true (S_ISDIR (sb.st_mode));
  g_assert_cmpint (sb.st_mode & 07777, ==, 0700);
  g_assert_cmpint (lstat (f->path, &sb), ==, 0);
  g_assert_true (S_ISREG (sb.st_mode));
  g_assert_cmpint (sb.st_mode & 07777, ==, 0600);
  assert_dir_is (f->pk_dir, names);

  /* The documented format, and public keys only. */
  root = load_json (f->path);
  g_assert_cmpuint (json_object_size (root), ==, 5);
  g_assert_cmpint (sc_base64_encode (up.identity, 64, b64, sizeof b64), ==,
                   SC_OK);
  g_assert_cmpstr (json_string_value (json_object_get (root, "identity")), ==,
                   b64);
  g_assert_cmpint (json_integer_value (json_object_get (root, "spk_id")), ==,
                   7);
  g_assert_cmpint (sc_base64_encode (up.spk, 32, b64, sizeof b64), ==, SC_OK);
  g_assert_cmpstr (json_string_value (json_object_get (root, "spk")), ==, b64);
  g_assert_cmpint (sc_base64_encode (up.spk_sig, 64, b64, sizeof b64), ==,
                   SC_OK);
  g_assert_cmpstr (json_string_value (json_object_get (root, "spk_sig")), ==,
                   b64);
  g_assert_cmpuint (json_array_size (json_object_get (root, "opks")), ==, 50);
  g_assert_cmpint (
      json_integer_value (json_object_get (
          json_array_get (json_object_get (root, "opks"), 0), "id")),
      ==, 1);
  json_decref (root);
  g_free (up.opks);
}

static void
test_bad_signature (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 10);
  struct sc_msg_prekeys_upload good = make_upload (&f->id, 3, 100, 5);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  char err[256] = "";
  struct sc_identity other;
  uint8_t sig[64];

  (void) data;
  /* A flipped bit, a signature over another id, another identity's. */
  up.spk_sig[10] ^= 0x01;
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_BAD_SIGNATURE);
  g_assert_cmpuint (info.added, ==, 0);
  g_assert_false (g_file_test (f->pk_dir, G_FILE_TEST_EXISTS));

  g_assert_cmpint (sc_spk_sign (&f->id, 8, up.spk, up.spk_sig), ==, SC_OK);
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_BAD_SIGNATURE);

  g_assert_cmpint (sc_identity_generate (&other), ==, SC_OK);
  g_assert_cmpint (sc_spk_sign (&other, 7, up.spk, sig), ==, SC_OK);
  memcpy (up.spk_sig, sig, 64);
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_BAD_SIGNATURE);
  sc_identity_wipe (&other);

  /* A stored bundle is left as it was. */
  upload_ok (f, &good, &info);
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_BAD_SIGNATURE);
  status_ok (f, "alice", &st);
  g_assert_cmpuint (st.spk_id, ==, 3);
  g_assert_cmpuint (st.opks, ==, 5);
  g_free (up.opks);
  g_free (good.opks);
}

static void
test_add (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload a = make_upload (&f->id, 7, 1, 50);
  struct sc_msg_prekeys_upload b = make_upload (&f->id, 8, 41, 50);
  struct prekeys_upload_info info;
  struct sc_msg_bundle bundle;
  uint32_t left, i;
  GArray *ids;

  (void) data;
  upload_ok (f, &a, &info);
  /* 41..50 are stored already; 41 comes with another key, which is
   * ignored too. Within the upload, 60 twice counts once. */
  memset (b.opks[0].key, 0xee, 32);
  b.opks[30].id = 60;
  upload_ok (f, &b, &info);
  g_assert_false (info.new_identity);
  g_assert_cmpuint (info.added, ==, 39);
  g_assert_cmpuint (info.dropped, ==, 0);
  g_assert_cmpuint (info.status.spk_id, ==, 8);
  g_assert_cmpuint (info.status.opks, ==, 89);

  /* Stored order: 1..50, then the new ones in upload order. */
  ids = file_opk_ids (f->path);
  g_assert_cmpuint (ids->len, ==, 89);
  for (i = 0; i < 50; i++)
    g_assert_cmpuint (g_array_index (ids, guint32, i), ==, i + 1);
  g_assert_cmpuint (g_array_index (ids, guint32, 50), ==, 51);
  g_assert_cmpuint (g_array_index (ids, guint32, 88), ==, 90);
  g_array_unref (ids);

  /* The new signed prekey, the old one-time prekeys first. */
  for (i = 1; i <= 41; i++)
    {
      g_assert_cmpint (take (f, &bundle, &left), ==, PREKEYS_OK);
      assert_bundle_from (&bundle, &b);
      assert_opk (&bundle, i);
      g_assert_cmpuint (left, ==, 89 - i);
    }
  g_free (a.opks);
  g_free (b.opks);
}

static void
test_new_identity (struct fixture *f, gconstpointer data)
{
  struct sc_identity other;
  struct sc_msg_prekeys_upload a = make_upload (&f->id, 7, 1, 50), b;
  struct prekeys_upload_info info;
  struct sc_msg_bundle bundle;
  uint32_t left;
  GArray *ids;

  (void) data;
  upload_ok (f, &a, &info);
  g_assert_cmpint (sc_identity_generate (&other), ==, SC_OK);
  /* Ids that collide with the old identity's are new all the same. */
  b = make_upload (&other, 2, 49, 3);
  upload_ok (f, &b, &info);
  g_assert_true (info.new_identity);
  g_assert_cmpuint (info.added, ==, 3);
  g_assert_cmpmem (info.status.identity, 64, b.identity, 64);
  g_assert_cmpuint (info.status.spk_id, ==, 2);
  g_assert_cmpuint (info.status.opks, ==, 3);

  ids = file_opk_ids (f->path);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpuint (g_array_index (ids, guint32, 0), ==, 49);
  g_array_unref (ids);

  g_assert_cmpint (take (f, &bundle, &left), ==, PREKEYS_OK);
  assert_bundle_from (&bundle, &b);
  assert_opk (&bundle, 49);
  g_assert_cmpuint (left, ==, 2);

  /* Uploading the same identity again adds, it does not replace. */
  g_free (b.opks);
  b = make_upload (&other, 3, 60, 2);
  upload_ok (f, &b, &info);
  g_assert_false (info.new_identity);
  g_assert_cmpuint (info.status.opks, ==, 4);
  sc_identity_wipe (&other);
  g_free (a.opks);
  g_free (b.opks);
}

static void
test_cap (struct fixture *f, gconstpointer data)
{
  struct prekeys_upload_info info;
  struct sc_msg_bundle bundle;
  uint32_t left, round;
  GArray *ids;

  (void) data;
  /* 3 x 100: the first 100 are dropped, oldest first. */
  for (round = 0; round < 3; round++)
    {
      struct sc_msg_prekeys_upload up =
          make_upload (&f->id, 1 + round, 1 + 100 * round, SC_OPK_UPLOAD_MAX);

      upload_ok (f, &up, &info);
      g_assert_cmpuint (info.added, ==, 100);
      g_assert_cmpuint (info.dropped, ==, round < 2 ? 0 : 100);
      g_assert_cmpuint (info.status.opks, ==,
                        round < 2 ? 100 * (round + 1) : PREKEYS_OPK_MAX);
      g_free (up.opks);
    }
  ids = file_opk_ids (f->path);
  g_assert_cmpuint (ids->len, ==, PREKEYS_OPK_MAX);
  g_assert_cmpuint (g_array_index (ids, guint32, 0), ==, 101);
  g_assert_cmpuint (g_array_index (ids, guint32, PREKEYS_OPK_MAX - 1), ==, 300);
  g_array_unref (ids);
  g_assert_cmpint (take (f, &bundle, &left), ==, PREKEYS_OK);
  assert_opk (&bundle, 101);
  g_assert_cmpuint (left, ==, PREKEYS_OPK_MAX - 1);

  /* Partly new: only the new ones count, and push out as many old. */
  {
    struct sc_msg_prekeys_upload up = make_upload (&f->id, 9, 251, 100);

    upload_ok (f, &up, &info);
    g_assert_cmpuint (info.added, ==, 50);
    g_assert_cmpuint (info.dropped, ==, 49);
    g_assert_cmpuint (info.status.opks, ==, PREKEYS_OPK_MAX);
    g_free (up.opks);
  }
  g_assert_cmpint (take (f, &bundle, &left), ==, PREKEYS_OK);
  assert_opk (&bundle, 151);

  /* 152..350 are stored. 152 was stored when the upload came: it stays
   * ignored even once 351 and 352 have pushed it out. */
  {
    struct sc_msg_prekeys_upload up = make_upload (&f->id, 9, 351, 3);

    up.opks[2].id = 152;
    upload_ok (f, &up, &info);
    g_assert_cmpuint (info.added, ==, 2);
    g_assert_cmpuint (info.dropped, ==, 1);
    g_free (up.opks);
  }
  ids = file_opk_ids (f->path);
  g_assert_cmpuint (ids->len, ==, PREKEYS_OPK_MAX);
  g_assert_cmpuint (g_array_index (ids, guint32, 0), ==, 153);
  g_assert_cmpuint (g_array_index (ids, guint32, PREKEYS_OPK_MAX - 1), ==, 352);
  g_array_unref (ids);
}

static void
test_hundred_fetches (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1000, 100);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  struct sc_msg_bundle b;
  GHashTable *seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  uint32_t left, i;
  GArray *ids;

  (void) data;
  upload_ok (f, &up, &info);
  for (i = 0; i < 100; i++)
    {
      g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_OK);
      assert_bundle_from (&b, &up);
      g_assert_true (b.has_opk);
      /* Each is handed out once; and in upload order. */
      g_assert_false (
          g_hash_table_contains (seen, GUINT_TO_POINTER (b.opk_id)));
      g_hash_table_add (seen, GUINT_TO_POINTER (b.opk_id));
      assert_opk (&b, 1000 + i);
      g_assert_cmpuint (left, ==, 99 - i);
      /* The file already agrees when the call returns. */
      ids = file_opk_ids (f->path);
      g_assert_cmpuint (ids->len, ==, 99 - i);
      g_array_unref (ids);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 100);

  /* Then bundles without a one-time prekey, as long as anyone asks. */
  for (i = 0; i < 3; i++)
    {
      g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_OK);
      assert_bundle_from (&b, &up);
      g_assert_false (b.has_opk);
      g_assert_cmpuint (b.opk_id, ==, 0);
      g_assert_cmpuint (left, ==, 0);
    }
  status_ok (f, "alice", &st);
  g_assert_true (st.has_identity);
  g_assert_cmpuint (st.spk_id, ==, 7);
  g_assert_cmpuint (st.opks, ==, 0);
  g_hash_table_unref (seen);
  g_free (up.opks);
}

static void
test_persistence (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 50);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  struct sc_msg_bundle b;
  uint32_t left, i;

  (void) data;
  upload_ok (f, &up, &info);
  for (i = 0; i < 3; i++)
    g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_OK);

  /* A new store on the same folder (a restarted server). */
  prekeys_free (f->pk);
  f->pk = open_ok (f->dir);
  status_ok (f, "alice", &st);
  g_assert_true (st.has_identity);
  g_assert_cmpmem (st.identity, 64, up.identity, 64);
  g_assert_cmpuint (st.spk_id, ==, 7);
  g_assert_cmpuint (st.opks, ==, 47);
  g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_OK);
  assert_bundle_from (&b, &up);
  assert_opk (&b, 4);
  g_assert_cmpuint (left, ==, 46);
  g_free (up.opks);
}

static void
test_atomic (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 5);
  struct prekeys_upload_info info;
  struct sc_msg_bundle b;
  static const char *const one[] = { "alice.json", NULL };
  static const char *const two[] = { "alice.json", "bob.json", NULL };
  char *stale = g_build_filename (f->pk_dir, ".alice.tmp", NULL);
  char *bob = g_build_filename (f->pk_dir, "bob.json", NULL);
  char err[256] = "";
  uint32_t left;
  struct stat before, after;

  (void) data;
  /* A temporary file left by a crash is no obstacle, and goes away. */
  g_assert_cmpint (g_mkdir (f->pk_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (stale, "half a file", -1, NULL));
  upload_ok (f, &up, &info);
  assert_dir_is (f->pk_dir, one);

  /* Each change is a new file renamed over the old one. */
  g_assert_cmpint (lstat (f->path, &before), ==, 0);
  g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_OK);
  g_assert_cmpint (lstat (f->path, &after), ==, 0);
  g_assert_cmpuint (before.st_ino, !=, after.st_ino);
  g_assert_cmpint (after.st_mode & 07777, ==, 0600);
  assert_dir_is (f->pk_dir, one);

  g_assert_cmpint (prekeys_upload (f->pk, "bob", &up, &info, err, sizeof err),
                   ==, PREKEYS_OK);
  assert_dir_is (f->pk_dir, two);
  g_assert_true (g_file_test (bob, G_FILE_TEST_IS_REGULAR));
  g_free (stale);
  g_free (bob);
  g_free (up.opks);
}

/* Files the server did not write, or that were damaged: each is logged,
 * and the user counts as having published nothing until the next upload
 * replaces the file. */
struct corrupt_case
{
  const char *name;
  /* Applied to the JSON text of a valid file with 3 one-time prekeys. */
  char *(*mutate) (const char *valid);
};

static char *
replace_first (const char *s, const char *from, const char *to)
{
  const char *at = strstr (s, from);

  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - s), s, to,
                          at + strlen (from));
}

/* The member of root named key, changed by fn. */
static char *
edit_json (const char *valid, void (*fn) (json_t *root))
{
  json_error_t jerr;
  json_t *root = json_loads (valid, 0, &jerr);
  size_t len;
  char *r;

  g_assert_nonnull (root);
  fn (root);
  /* sc_init gave jansson an allocator of its own: dump into ours. */
  len = json_dumpb (root, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
  g_assert_cmpuint (len, >, 0);
  r = g_malloc (len + 1);
  g_assert_cmpuint (
      json_dumpb (root, r, len, JSON_COMPACT | JSON_PRESERVE_ORDER), ==, len);
  r[len] = '\0';
  json_decref (root);
  return r;
}

static char *
m_empty (const char *v)
{
  return g_strdup ("");
}

static char *
m_truncated (const char *v)
{
  return g_strndup (v, strlen (v) / 2);
}

static char *
m_garbage (const char *v)
{
  return g_strdup ("\x01\xff not json at all \"\\");
}

static char *
m_array (const char *v)
{
  return g_strdup_printf ("[%s]", v);
}

static char *
m_trailing (const char *v)
{
  return g_strdup_printf ("%s{}", v);
}

static char *
m_duplicate_member (const char *v)
{
  return replace_first (v, "{", "{\"spk_id\":7,");
}

static void
del_spk (json_t *root)
{
  json_object_del (root, "spk");
}

static char *
m_missing (const char *v)
{
  return edit_json (v, del_spk);
}

static void
add_extra (json_t *root)
{
  json_object_set_new (root, "extra", json_true ());
}

static char *
m_extra (const char *v)
{
  return edit_json (v, add_extra);
}

static void
spk_id_zero (json_t *root)
{
  json_object_set_new (root, "spk_id", json_integer (0));
}

static char *
m_spk_id_zero (const char *v)
{
  return edit_json (v, spk_id_zero);
}

static void
spk_id_big (json_t *root)
{
  json_object_set_new (root, "spk_id", json_integer (4294967296LL));
}

static char *
m_spk_id_big (const char *v)
{
  return edit_json (v, spk_id_big);
}

static void
spk_id_string (json_t *root)
{
  json_object_set_new (root, "spk_id", json_string ("7"));
}

static char *
m_spk_id_string (const char *v)
{
  return edit_json (v, spk_id_string);
}

static void
short_identity (json_t *root)
{
  /* 63 bytes. */
  json_object_set_new (
      root, "identity",
      json_string ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
                   "gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+"));
}

static char *
m_short_identity (const char *v)
{
  return edit_json (v, short_identity);
}

static void
bad_base64 (json_t *root)
{
  char *s = g_strdup (json_string_value (json_object_get (root, "spk")));

  s[3] = '!';
  json_object_set_new (root, "spk", json_string (s));
  g_free (s);
}

static char *
m_bad_base64 (const char *v)
{
  return edit_json (v, bad_base64);
}

static void
spk_changed (json_t *root)
{
  /* Valid base64 of 32 bytes, but not the key that was signed. */
  json_object_set_new (
      root, "spk",
      json_string ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
}

static char *
m_unsigned_spk (const char *v)
{
  return edit_json (v, spk_changed);
}

static void
opks_not_array (json_t *root)
{
  json_object_set_new (root, "opks", json_object ());
}

static char *
m_opks_object (const char *v)
{
  return edit_json (v, opks_not_array);
}

static void
opk_dup (json_t *root)
{
  json_t *arr = json_object_get (root, "opks");

  json_array_append (arr, json_array_get (arr, 0));
}

static char *
m_duplicate_opk (const char *v)
{
  return edit_json (v, opk_dup);
}

static void
opk_extra (json_t *root)
{
  json_object_set_new (json_array_get (json_object_get (root, "opks"), 1), "x",
                       json_null ());
}

static char *
m_opk_extra (const char *v)
{
  return edit_json (v, opk_extra);
}

static void
opk_id_zero (json_t *root)
{
  json_object_set_new (json_array_get (json_object_get (root, "opks"), 2), "id",
                       json_integer (0));
}

static char *
m_opk_id_zero (const char *v)
{
  return edit_json (v, opk_id_zero);
}

static void
opk_short_key (json_t *root)
{
  json_object_set_new (json_array_get (json_object_get (root, "opks"), 0),
                       "key", json_string ("AAAA"));
}

static char *
m_opk_short_key (const char *v)
{
  return edit_json (v, opk_short_key);
}

static void
opk_not_object (json_t *root)
{
  json_array_append_new (json_object_get (root, "opks"), json_integer (5));
}

static char *
m_opk_integer (const char *v)
{
  return edit_json (v, opk_not_object);
}

static void
opks_too_many (json_t *root)
{
  json_t *arr = json_object_get (root, "opks");
  json_t *first = json_array_get (arr, 0);
  int i;

  for (i = 0; i < PREKEYS_OPK_MAX - 2; i++)
    {
      json_t *o = json_deep_copy (first);

      json_object_set_new (o, "id", json_integer (1000 + i));
      json_array_append_new (arr, o);
    }
}

static char *
m_too_many_opks (const char *v)
{
  return edit_json (v, opks_too_many);
}

static char *
m_huge (const char *v)
{
  /* Valid JSON, and whitespace past the size limit. */
  GString *s = g_string_new (v);

  while (s->len <= 64 * 1024)
    g_string_append (s, "          ");
  return g_string_free (s, FALSE);
}

static const struct corrupt_case corrupt_cases[] = {
  { "empty", m_empty },
  { "truncated", m_truncated },
  { "garbage", m_garbage },
  { "array", m_array },
  { "trailing", m_trailing },
  { "duplicate-member", m_duplicate_member },
  { "missing-member", m_missing },
  { "extra-member", m_extra },
  { "spk-id-zero", m_spk_id_zero },
  { "spk-id-over-max", m_spk_id_big },
  { "spk-id-string", m_spk_id_string },
  { "identity-63-bytes", m_short_identity },
  { "bad-base64", m_bad_base64 },
  { "signature-does-not-verify", m_unsigned_spk },
  { "opks-object", m_opks_object },
  { "duplicate-opk-id", m_duplicate_opk },
  { "opk-extra-member", m_opk_extra },
  { "opk-id-zero", m_opk_id_zero },
  { "opk-short-key", m_opk_short_key },
  { "opk-integer", m_opk_integer },
  { "too-many-opks", m_too_many_opks },
  { "too-large", m_huge },
};

static void
assert_nothing (struct fixture *f)
{
  struct sc_msg_prekey_status st;
  struct sc_msg_bundle b;
  uint32_t left;

  status_ok (f, "alice", &st);
  g_assert_false (st.has_identity);
  g_assert_cmpuint (st.spk_id, ==, 0);
  g_assert_cmpuint (st.opks, ==, 0);
  g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_NONE);
  g_assert_false (b.has_opk);
}

/* After the damage, an upload (of the same identity) starts afresh. */
static void
assert_recovers (struct fixture *f)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 9, 500, 2);
  struct prekeys_upload_info info;
  struct sc_msg_bundle b;
  uint32_t left;

  upload_ok (f, &up, &info);
  g_assert_false (info.new_identity);
  g_assert_cmpuint (info.status.opks, ==, 2);
  g_assert_cmpint (take (f, &b, &left), ==, PREKEYS_OK);
  assert_bundle_from (&b, &up);
  assert_opk (&b, 500);
  g_free (up.opks);
}

static void
test_corrupt (struct fixture *f, gconstpointer data)
{
  const struct corrupt_case *c = data;
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 3);
  struct prekeys_upload_info info;
  char *valid, *bad;

  upload_ok (f, &up, &info);
  g_assert_true (g_file_get_contents (f->path, &valid, NULL, NULL));
  bad = c->mutate (valid);
  g_assert_true (g_file_set_contents (f->path, bad, -1, NULL));
  g_assert_cmpint (chmod (f->path, 0600), ==, 0);
  assert_nothing (f);
  assert_recovers (f);
  g_free (valid);
  g_free (bad);
  g_free (up.opks);
}

/* prekeys_sweep: the temporary files of interrupted writes go, every
 * other name stays; a store whose folder does not exist yet is fine. */
static void
test_sweep (struct fixture *f, gconstpointer data)
{
  static const char *const stale[] = { ".alice.tmp", ".bob.tmp", ".a.b-c_d.tmp",
                                       NULL };
  static const char *const kept[] = { "alice.json",   ".Alice.tmp", "..tmp",
                                      ".alice.tmp.1", "notes.txt",  NULL };
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 5);
  struct prekeys_upload_info info;
  unsigned removed = 99;
  char err[256] = "";
  int i;

  (void) data;
  g_assert_cmpint (prekeys_sweep (f->pk, &removed, err, sizeof err), ==,
                   PREKEYS_OK);
  g_assert_cmpuint (removed, ==, 0);

  upload_ok (f, &up, &info);
  for (i = 0; stale[i] != NULL; i++)
    {
      char *p = g_build_filename (f->pk_dir, stale[i], NULL);
      g_assert_true (g_file_set_contents (p, "{\"identity\": ", -1, NULL));
      g_free (p);
    }
  for (i = 1; kept[i] != NULL; i++)
    {
      char *p = g_build_filename (f->pk_dir, kept[i], NULL);
      g_assert_true (g_file_set_contents (p, "not ours", -1, NULL));
      g_free (p);
    }
  g_assert_cmpint (prekeys_sweep (f->pk, &removed, err, sizeof err), ==,
                   PREKEYS_OK);
  g_assert_cmpuint (removed, ==, 3);
  assert_dir_is (f->pk_dir, kept);
  g_assert_cmpint (prekeys_sweep (f->pk, &removed, err, sizeof err), ==,
                   PREKEYS_OK);
  g_assert_cmpuint (removed, ==, 0);
  g_assert_cmpint (prekeys_sweep (NULL, &removed, err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_free (up.opks);
}

static void
test_not_a_file (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 3);
  struct prekeys_upload_info info;
  char *target = g_build_filename (f->dir, "elsewhere.json", NULL);
  char *valid;

  (void) data;
  upload_ok (f, &up, &info);
  g_assert_true (g_file_get_contents (f->path, &valid, NULL, NULL));

  /* A symbolic link, even to a valid file, is not followed. */
  g_assert_true (g_file_set_contents (target, valid, -1, NULL));
  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_assert_cmpint (symlink (target, f->path), ==, 0);
  assert_nothing (f);
  /* The upload replaces the link, not the file it points to. */
  assert_recovers (f);
  {
    char *still;

    g_assert_true (g_file_get_contents (target, &still, NULL, NULL));
    g_assert_cmpstr (still, ==, valid);
    g_free (still);
  }

  /* A folder in its place: nothing, and an upload cannot replace it. */
  g_assert_cmpint (g_unlink (f->path), ==, 0);
  g_assert_cmpint (g_mkdir (f->path, 0700), ==, 0);
  assert_nothing (f);
  {
    char err[256] = "";

    g_assert_cmpint (
        prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err), ==,
        PREKEYS_ERROR);
    g_assert_cmpstr (err, !=, "");
  }
  g_free (target);
  g_free (valid);
  g_free (up.opks);
}

static void
test_unwritable (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 3);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  char err[256] = "";

  (void) data;
  /* A file where the folder should be. */
  g_assert_true (g_file_set_contents (f->pk_dir, "x", -1, NULL));
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_ERROR);
  g_assert_cmpstr (err, !=, "");
  g_assert_cmpuint (info.added, ==, 0);
  g_assert_false (info.status.has_identity);
  /* Reading through it is an error, not "nothing published". */
  err[0] = '\0';
  g_assert_cmpint (prekeys_status (f->pk, "alice", &st, err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_cmpstr (err, !=, "");
  g_free (up.opks);
}

static void
test_bad_args (struct fixture *f, gconstpointer data)
{
  static const char *const bad_users[] = {
    "",       ".",   "..",
    "Alice",  "a/b", "../alice",
    ".alice", "a b", "abcdefghijklmnopqrstuvwxyz0123456",
  };
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 3);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  struct sc_msg_bundle b;
  struct prekeys *pk = (struct prekeys *) 0x1;
  char err[256];
  uint32_t left;
  size_t i;

  (void) data;
  for (i = 0; i < G_N_ELEMENTS (bad_users); i++)
    {
      err[0] = '\0';
      g_assert_cmpint (
          prekeys_upload (f->pk, bad_users[i], &up, &info, err, sizeof err), ==,
          PREKEYS_ERROR);
      g_assert_cmpstr (err, !=, "");
      g_assert_cmpint (
          prekeys_take_bundle (f->pk, bad_users[i], &b, &left, err, sizeof err),
          ==, PREKEYS_ERROR);
      g_assert_cmpint (
          prekeys_status (f->pk, bad_users[i], &st, err, sizeof err), ==,
          PREKEYS_ERROR);
    }
  g_assert_cmpint (prekeys_upload (f->pk, NULL, &up, &info, err, sizeof err),
                   ==, PREKEYS_ERROR);
  g_assert_cmpint (prekeys_upload (NULL, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_ERROR);
  g_assert_cmpint (
      prekeys_upload (f->pk, "alice", NULL, &info, err, sizeof err), ==,
      PREKEYS_ERROR);
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, NULL, err, sizeof err),
                   ==, PREKEYS_ERROR);
  /* An upload the parser would not have let through. */
  up.n_opks = SC_OPK_UPLOAD_MAX + 1;
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_ERROR);
  up.n_opks = 3;
  up.spk_id = 0;
  g_assert_cmpint (prekeys_upload (f->pk, "alice", &up, &info, err, sizeof err),
                   ==, PREKEYS_ERROR);
  g_assert_cmpint (
      prekeys_take_bundle (f->pk, "alice", NULL, &left, err, sizeof err), ==,
      PREKEYS_ERROR);
  g_assert_cmpint (
      prekeys_take_bundle (f->pk, "alice", &b, NULL, err, sizeof err), ==,
      PREKEYS_ERROR);
  g_assert_cmpint (prekeys_status (f->pk, "alice", NULL, err, sizeof err), ==,
                   PREKEYS_ERROR);
  /* Nothing was written by any of them. */
  g_assert_false (g_file_test (f->pk_dir, G_FILE_TEST_EXISTS));

  g_assert_cmpint (prekeys_open (NULL, &pk, err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_null (pk);
  g_assert_cmpint (prekeys_open ("", &pk, NULL, 0), ==, PREKEYS_ERROR);
  g_assert_cmpint (prekeys_open (f->dir, NULL, err, sizeof err), ==,
                   PREKEYS_ERROR);
  prekeys_free (NULL);
  g_free (up.opks);
}

/* Usernames are the file names: users never see each other's bundle. */
static void
test_users_apart (struct fixture *f, gconstpointer data)
{
  struct sc_identity bob_id;
  struct sc_msg_prekeys_upload a = make_upload (&f->id, 7, 1, 2), b;
  struct prekeys_upload_info info;
  struct sc_msg_bundle bundle;
  char err[256] = "";
  uint32_t left;

  (void) data;
  g_assert_cmpint (sc_identity_generate (&bob_id), ==, SC_OK);
  b = make_upload (&bob_id, 3, 1, 2);
  upload_ok (f, &a, &info);
  g_assert_cmpint (
      prekeys_upload (f->pk, "b0b.x_y-z", &b, &info, err, sizeof err), ==,
      PREKEYS_OK);
  g_assert_false (info.new_identity);
  g_assert_cmpint (
      prekeys_take_bundle (f->pk, "b0b.x_y-z", &bundle, &left, err, sizeof err),
      ==, PREKEYS_OK);
  g_assert_cmpstr (bundle.user, ==, "b0b.x_y-z");
  g_assert_cmpmem (bundle.identity, 64, b.identity, 64);
  g_assert_cmpuint (left, ==, 1);
  g_assert_cmpint (take (f, &bundle, &left), ==, PREKEYS_OK);
  assert_bundle_from (&bundle, &a);
  g_assert_cmpuint (left, ==, 1);
  sc_identity_wipe (&bob_id);
  g_free (a.opks);
  g_free (b.opks);
}

/* userdel's part: the file goes, a later upload starts afresh, and no
 * other user's file is touched. */
static void
test_delete (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload a = make_upload (&f->id, 7, 1, 3);
  struct sc_msg_prekeys_upload b = make_upload (&f->id, 9, 100, 2);
  char *bob_path = g_build_filename (f->pk_dir, "bob.json", NULL);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  struct sc_msg_bundle bundle;
  char err[256] = "";
  uint32_t left;

  (void) data;
  /* No folder yet: nothing to delete. */
  g_assert_cmpint (prekeys_delete (f->pk, "alice", err, sizeof err), ==,
                   PREKEYS_NONE);
  g_assert_false (g_file_test (f->pk_dir, G_FILE_TEST_EXISTS));

  upload_ok (f, &a, &info);
  g_assert_cmpint (prekeys_upload (f->pk, "bob", &a, &info, err, sizeof err),
                   ==, PREKEYS_OK);
  g_assert_cmpint (prekeys_delete (f->pk, "alice", err, sizeof err), ==,
                   PREKEYS_OK);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (bob_path, G_FILE_TEST_IS_REGULAR));
  status_ok (f, "alice", &st);
  g_assert_false (st.has_identity);
  g_assert_cmpint (take (f, &bundle, &left), ==, PREKEYS_NONE);
  g_assert_cmpint (prekeys_delete (f->pk, "alice", err, sizeof err), ==,
                   PREKEYS_NONE);

  /* The same identity uploading again gets only what it uploads now. */
  upload_ok (f, &b, &info);
  g_assert_false (info.new_identity);
  g_assert_cmpuint (info.status.opks, ==, 2);
  g_assert_cmpint (take (f, &bundle, &left), ==, PREKEYS_OK);
  assert_bundle_from (&bundle, &b);
  assert_opk (&bundle, 100);

  /* What cannot be deleted, or named, is an error. */
  g_assert_cmpint (g_unlink (bob_path), ==, 0);
  g_assert_cmpint (g_mkdir (bob_path, 0700), ==, 0);
  g_assert_cmpint (prekeys_delete (f->pk, "bob", err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_nonnull (strstr (err, "cannot delete the prekeys of bob"));
  g_assert_cmpint (prekeys_delete (f->pk, "..", err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_cmpint (prekeys_delete (f->pk, "Bob", err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_cmpint (prekeys_delete (NULL, "bob", err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_cmpint (prekeys_delete (f->pk, NULL, NULL, 0), ==, PREKEYS_ERROR);
  g_assert_true (g_file_test (bob_path, G_FILE_TEST_IS_DIR));
  g_free (bob_path);
  g_free (a.opks);
  g_free (b.opks);
}

/* ---- The handlers' state. ---- */

static struct prekeys_service *
service_ok (const char *dir)
{
  struct prekeys_service *svc = NULL;
  char err[256] = "";

  if (prekeys_service_new (dir, &svc, err, sizeof err) != PREKEYS_OK)
    g_error ("prekeys_service_new: %s", err);
  g_assert_nonnull (svc);
  g_assert_nonnull (prekeys_service_store (svc));
  return svc;
}

/* The service's store is DIR/prekeys, as for prekeys_open, and creating
 * it touches no file. */
static void
test_service_store (struct fixture *f, gconstpointer data)
{
  struct sc_msg_prekeys_upload up = make_upload (&f->id, 7, 1, 3);
  struct prekeys_service *svc = service_ok (f->dir);
  struct prekeys_upload_info info;
  struct sc_msg_prekey_status st;
  char err[256] = "";

  (void) data;
  g_assert_false (g_file_test (f->pk_dir, G_FILE_TEST_EXISTS));
  g_assert_cmpint (prekeys_upload (prekeys_service_store (svc), "alice", &up,
                                   &info, err, sizeof err),
                   ==, PREKEYS_OK);
  g_assert_true (g_file_test (f->path, G_FILE_TEST_IS_REGULAR));
  /* The fixture's own store on the same folder sees the upload. */
  status_ok (f, "alice", &st);
  g_assert_true (st.has_identity);
  g_assert_cmpuint (st.spk_id, ==, 7);
  g_assert_cmpuint (st.opks, ==, 3);
  prekeys_service_free (svc);
  prekeys_service_free (NULL);
  g_free (up.opks);
}

static void
test_service_bad_args (void)
{
  struct prekeys_service *svc = (struct prekeys_service *) &svc;
  char err[256] = "";

  g_assert_cmpint (prekeys_service_new (NULL, &svc, err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_null (svc);
  g_assert_nonnull (strstr (err, "missing argument"));
  svc = (struct prekeys_service *) &svc;
  g_assert_cmpint (prekeys_service_new ("", &svc, NULL, 0), ==, PREKEYS_ERROR);
  g_assert_null (svc);
  err[0] = '\0';
  g_assert_cmpint (prekeys_service_new ("/tmp", NULL, err, sizeof err), ==,
                   PREKEYS_ERROR);
  g_assert_nonnull (strstr (err, "missing argument"));
}

/* ---- The bundle_request limit (the service keeps no file for it). ---- */

/* Uploads have a budget of their own: spending it does not touch the
 * bundle_request budget, nor the other way round. */
static void
test_upload_limit (void)
{
  struct prekeys_service *svc = service_ok ("/nonexistent");
  int64_t t0 = 1000000, i;

  for (i = 0; i < PREKEYS_FETCH_BURST; i++)
    g_assert_cmpint (prekeys_upload_check (svc, "alice", t0), ==, 0);
  g_assert_cmpint (prekeys_upload_check (svc, "alice", t0), ==, 1000);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0), ==, 0);
  g_assert_cmpint (prekeys_upload_check (svc, "bob", t0), ==, 0);
  g_assert_cmpint (prekeys_upload_check (svc, "alice", t0 + 1000), ==, 0);
  prekeys_service_free (svc);
}

static void
test_limit_burst_and_refill (void)
{
  struct prekeys_service *svc = service_ok ("/nonexistent");
  int64_t t0 = 1000000, i;

  /* A full bucket: 60 at once, then one a second. */
  for (i = 0; i < PREKEYS_FETCH_BURST; i++)
    g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0), ==, 0);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0), ==, 1000);
  /* Refused requests are not counted. */
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0), ==, 1000);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 400), ==, 600);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 999), ==, 1);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 1000), ==, 0);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 1000), ==, 1000);
  /* Over a minute: 60 a minute at most once the burst is spent. */
  for (i = 1; i <= 60; i++)
    {
      g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 1000 + i * 1000),
                       ==, 0);
      g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 1000 + i * 1000),
                       >, 0);
    }
  /* Each user has a bucket of its own. */
  g_assert_cmpint (prekeys_fetch_check (svc, "bob", t0 + 61000), ==, 0);
  /* A clock that goes backwards adds no credit, and the next second still
   * counts from the latest time seen. */
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0), ==, 1000);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 61500), ==, 500);
  /* Idle for a minute: the whole burst again, and no more. */
  for (i = 0; i < PREKEYS_FETCH_BURST; i++)
    g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 200000), ==, 0);
  g_assert_cmpint (prekeys_fetch_check (svc, "alice", t0 + 200000), ==, 1000);
  prekeys_service_free (svc);
}

/* Many requesting users: full buckets are dropped, spent ones are not, so
 * the table stays small without resetting anyone's limit. */
static void
test_limit_many_users (void)
{
  struct prekeys_service *svc = service_ok ("/nonexistent");
  int64_t t0 = 5000000;
  char name[SC_USERNAME_MAX + 1];
  int i;

  for (i = 0; i < PREKEYS_FETCH_BURST; i++)
    g_assert_cmpint (prekeys_fetch_check (svc, "spender", t0), ==, 0);
  for (i = 0; i < 3000; i++)
    {
      g_snprintf (name, sizeof name, "user%d", i);
      g_assert_cmpint (prekeys_fetch_check (svc, name, t0 + 100), ==, 0);
    }
  /* user0..user2999 are full again a minute later; spender is not: it
   * spends each request as soon as it has it. */
  for (i = 1; i <= 70; i++)
    {
      g_assert_cmpint (prekeys_fetch_check (svc, "spender", t0 + 1000 * i), ==,
                       0);
      g_assert_cmpint (prekeys_fetch_check (svc, "spender", t0 + 1000 * i), ==,
                       1000);
    }
  for (i = 0; i < 3000; i++)
    {
      g_snprintf (name, sizeof name, "late%d", i);
      g_assert_cmpint (prekeys_fetch_check (svc, name, t0 + 70000), ==, 0);
    }
  g_assert_cmpint (prekeys_fetch_check (svc, "spender", t0 + 70000), >, 0);
  prekeys_service_free (svc);
}

/* Limits belong to a service: another one (another server) starts every
 * user with a full bucket, and leaves the first one's alone. */
static void
test_limit_per_service (void)
{
  struct prekeys_service *a = service_ok ("/nonexistent");
  struct prekeys_service *b = service_ok ("/nonexistent");
  int64_t t0 = 9000000;
  int i;

  for (i = 0; i < PREKEYS_FETCH_BURST; i++)
    g_assert_cmpint (prekeys_fetch_check (a, "spender", t0), ==, 0);
  g_assert_cmpint (prekeys_fetch_check (a, "spender", t0), ==, 1000);
  for (i = 0; i < PREKEYS_FETCH_BURST; i++)
    g_assert_cmpint (prekeys_fetch_check (b, "spender", t0), ==, 0);
  g_assert_cmpint (prekeys_fetch_check (b, "spender", t0), ==, 1000);
  prekeys_service_free (b);
  g_assert_cmpint (prekeys_fetch_check (a, "spender", t0), ==, 1000);
  prekeys_service_free (a);
}

int
main (int argc, char **argv)
{
  size_t i;

  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sc_init (), ==, SC_OK);

#define ADD(path, fn)                                                          \
  g_test_add (path, struct fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/server/prekeys/nothing-published", test_nothing_published);
  ADD ("/server/prekeys/upload/first", test_first_upload);
  ADD ("/server/prekeys/upload/bad-signature", test_bad_signature);
  ADD ("/server/prekeys/upload/add", test_add);
  ADD ("/server/prekeys/upload/new-identity", test_new_identity);
  ADD ("/server/prekeys/upload/cap", test_cap);
  ADD ("/server/prekeys/take/hundred", test_hundred_fetches);
  ADD ("/server/prekeys/persistence", test_persistence);
  ADD ("/server/prekeys/file/atomic", test_atomic);
  ADD ("/server/prekeys/file/sweep", test_sweep);
  ADD ("/server/prekeys/file/not-a-file", test_not_a_file);
  ADD ("/server/prekeys/file/unwritable", test_unwritable);
  ADD ("/server/prekeys/users-apart", test_users_apart);
  ADD ("/server/prekeys/bad-args", test_bad_args);
  ADD ("/server/prekeys/delete", test_delete);
  ADD ("/server/prekeys/service/store", test_service_store);
#undef ADD
  g_test_add_func ("/server/prekeys/service/bad-args", test_service_bad_args);
  g_test_add_func ("/server/prekeys/limit/burst-and-refill",
                   test_limit_burst_and_refill);
  g_test_add_func ("/server/prekeys/limit/many-users", test_limit_many_users);
  g_test_add_func ("/server/prekeys/limit/uploads", test_upload_limit);
  g_test_add_func ("/server/prekeys/limit/per-service", test_limit_per_service);
  for (i = 0; i < G_N_ELEMENTS (corrupt_cases); i++)
    {
      char *path =
          g_strdup_printf ("/server/prekeys/corrupt/%s", corrupt_cases[i].name);

      g_test_add (path, struct fixture, &corrupt_cases[i], fixture_setup,
                  test_corrupt, fixture_teardown);
      g_free (path);
    }
  return g_test_run ();
}
