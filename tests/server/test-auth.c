/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/auth.c: libxcrypt interop (python-bcrypt fixtures, the
 * crypt_blowfish KAT), malformed hashes, yescrypt for new hashes, and the
 * worker pool driven by a real libevent loop. */
#include <glib.h>
#include <string.h>

#include <event2/event.h>

#include "auth.h"

/* Made with python3-bcrypt 3.2.2: bcrypt.hashpw(b"1234", bcrypt.gensalt(N)). */
#define PY_2B_04 "$2b$04$ap4lGniDSlQQObelwUceT.SS9RORgP78wgfk5hGvUyu87PotMW33y"
#define PY_2B_12 "$2b$12$65/Be1E4hGtwfHia4vAU4ehRaWnaKym5UqEWIAqJg9rEeUZgMkimm"
/* bcrypt.hashpw(b"1234", bcrypt.gensalt(5, prefix=b"2a")) */
#define PY_2A_05 "$2a$05$c3rxfdHQaBMKwLeZNBVe8eB1OlezV67NomqtcNJ22K4JEywdnH65m"
/* bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(4)); python-bcrypt also accepts
 * b"x" * 73 for it (it truncates), we do not. */
#define PY_2B_72X "$2b$04$XLJkRLAYznCRBJu5OHLDaeNopQ71tbYPxNR9MWzp9ucxfPw1vcd.y"
/* The crypt_blowfish test vector for "U*U". */
#define KAT_UU "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

static int
verify (const char *pw, const char *hash)
{
  return auth_verify_password (pw, pw != NULL ? strlen (pw) : 0, hash);
}

static void
test_bcrypt_fixtures (void)
{
  g_assert_cmpint (verify ("1234", PY_2B_04), ==, 1);
  g_assert_cmpint (verify ("1234", PY_2B_12), ==, 1);
  g_assert_cmpint (verify ("1234", PY_2A_05), ==, 1);
  g_assert_cmpint (verify ("U*U", KAT_UU), ==, 1);

  g_assert_cmpint (verify ("12345", PY_2B_04), ==, 0);
  g_assert_cmpint (verify ("123", PY_2B_04), ==, 0);
  g_assert_cmpint (verify ("1235", PY_2A_05), ==, 0);
  g_assert_cmpint (verify ("U*V", KAT_UU), ==, 0);
  g_assert_cmpint (verify ("u*U", KAT_UU), ==, 0);

  /* Only password_len bytes count. */
  g_assert_cmpint (auth_verify_password ("1234garbage", 4, PY_2B_04), ==, 1);
  g_assert_cmpint (auth_verify_password ("1234garbage", 5, PY_2B_04), ==, 0);
  g_assert_true (auth_hash_is_legacy (PY_2B_04));
  g_assert_true (auth_hash_is_legacy (KAT_UU));
}

static void
test_bcrypt_72 (void)
{
  char pw[80];

  memset (pw, 'x', sizeof pw);
  g_assert_cmpint (auth_verify_password (pw, 72, PY_2B_72X), ==, 1);
  /* bcrypt would ignore byte 73 and accept: we refuse. */
  g_assert_cmpint (auth_verify_password (pw, 73, PY_2B_72X), ==, 0);
  g_assert_cmpint (auth_verify_password (pw, 80, PY_2B_72X), ==, 0);
  g_assert_cmpint (auth_verify_password (pw, 71, PY_2B_72X), ==, 0);
}

static void
test_malformed_hashes (void)
{
  static const char *const bad[] = {
    "",
    "*0",
    "*1",
    "*",
    "$",
    "$2b$",
    "$2b$04$",
    "$2b$04$ap4lGniDSlQQObelwUceT.",
    "$2b$04$ap4lGniDSlQQObelwUceT.SS9RORgP78wgfk5hGvUyu87PotMW33",
    "$2b$04$ap4lGniDSlQQObelwUceT.SS9RORgP78wgfk5hGvUyu87PotMW33yy",
    "$2b$04$ap4lGniDSlQQObelwUceT.SS9RORgP78wgfk5hGvUyu87PotMW33z",
    "$2c$04$ap4lGniDSlQQObelwUceT.SS9RORgP78wgfk5hGvUyu87PotMW33y",
    "$y$",
    "$y$j9T$",
    "$7$",
    "1234",
    "plaintext",
  };
  char *good = NULL;
  size_t i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    if (verify ("1234", bad[i]) != 0)
      g_error ("accepted hash \"%s\"", bad[i]);
  g_assert_cmpint (verify ("1234", NULL), ==, 0);
  g_assert_cmpint (verify (NULL, PY_2B_04), ==, 0);

  /* Every truncation of a real yescrypt hash fails. */
  g_assert_cmpint (auth_hash_password ("1234", &good), ==, 0);
  for (i = 0; i < strlen (good); i++)
    {
      char *cut = g_strndup (good, i);
      if (verify ("1234", cut) != 0)
        g_error ("accepted truncated hash \"%s\"", cut);
      g_free (cut);
    }
  g_assert_cmpint (verify ("1234", good), ==, 1);
  free (good);
}

static void
test_bad_passwords (void)
{
  char *hash = NULL;
  char *long_pw;

  g_assert_cmpint (auth_hash_password ("a\xc3\xa9"
                                       "b",
                                       &hash),
                   ==, 0);
  /* Empty, and a NUL inside the given length. */
  g_assert_cmpint (auth_verify_password ("", 0, hash), ==, 0);
  g_assert_cmpint (auth_verify_password ("a\0\xc3\xa9"
                                         "b",
                                         5, hash),
                   ==, 0);
  g_assert_cmpint (auth_verify_password ("a\xc3\xa9"
                                         "b",
                                         4, hash),
                   ==, 1);
  free (hash);

  g_assert_cmpint (auth_hash_password ("", &hash), ==, -1);
  g_assert_null (hash);
  g_assert_cmpint (auth_hash_password (NULL, &hash), ==, -1);

  /* The longest password crypt(3) takes, and one byte more. */
  long_pw = g_malloc (AUTH_PASSWORD_MAX + 2);
  memset (long_pw, 'p', AUTH_PASSWORD_MAX + 1);
  long_pw[AUTH_PASSWORD_MAX] = '\0';
  g_assert_cmpint (auth_hash_password (long_pw, &hash), ==, 0);
  g_assert_cmpint (verify (long_pw, hash), ==, 1);
  long_pw[AUTH_PASSWORD_MAX] = 'p';
  long_pw[AUTH_PASSWORD_MAX + 1] = '\0';
  g_assert_cmpint (verify (long_pw, hash), ==, 0);
  free (hash);
  g_assert_cmpint (auth_hash_password (long_pw, &hash), ==, -1);
  g_assert_null (hash);
  g_free (long_pw);
}

static void
test_new_hash (void)
{
  char *a = NULL, *b = NULL;

  g_assert_cmpint (auth_hash_password ("correct horse", &a), ==, 0);
  g_assert_cmpint (auth_hash_password ("correct horse", &b), ==, 0);
  g_assert_true (g_str_has_prefix (a, "$y$"));
  g_assert_true (g_str_has_prefix (b, "$y$"));
  g_assert_cmpstr (a, !=, b); /* fresh salt */
  g_assert_false (auth_hash_is_legacy (a));
  g_assert_cmpint (verify ("correct horse", a), ==, 1);
  g_assert_cmpint (verify ("correct horse", b), ==, 1);
  g_assert_cmpint (verify ("correct horsE", a), ==, 0);
  g_assert_cmpint (verify ("correct hors", a), ==, 0);
  g_assert_false (auth_hash_is_legacy (NULL));
  g_assert_cmpint (auth_hash_password ("x", NULL), ==, -1);
  free (a);
  free (b);
}

/* ---- the pool ---- */

struct run
{
  struct event_base *base;
  unsigned expected;
  unsigned done;
  GHashTable *results; /* conn_id -> struct auth_job * (kept) */
};

static void
job_done (struct auth_job *job, void *ud)
{
  struct run *r = ud;

  g_assert_null (job->password);
  g_hash_table_insert (r->results, GSIZE_TO_POINTER (job->conn_id), job);
  r->done++;
  if (r->done == r->expected)
    event_base_loopbreak (r->base);
}

static void
timeout_cb (evutil_socket_t fd, short what, void *arg)
{
  (void) fd;
  (void) what;
  (void) arg;
  g_error ("the pool did not finish in time");
}

static void
run_loop (struct run *r)
{
  struct timeval tv = { 60, 0 };
  struct event *t = evtimer_new (r->base, timeout_cb, NULL);

  evtimer_add (t, &tv);
  if (r->done < r->expected)
    event_base_dispatch (r->base);
  event_free (t);
  g_assert_cmpuint (r->done, ==, r->expected);
}

static struct auth_job *
make_job (uint64_t id, const char *user, const char *pw, const char *hash)
{
  struct auth_job *job = auth_job_new ();

  g_assert_nonnull (job);
  job->conn_id = id;
  g_strlcpy (job->user, user, sizeof job->user);
  job->password = strdup (pw);
  job->password_len = strlen (pw);
  job->hash = hash != NULL ? strdup (hash) : NULL;
  job->done = job_done;
  return job;
}

static void
run_init (struct run *r)
{
  memset (r, 0, sizeof *r);
  r->base = event_base_new ();
  g_assert_nonnull (r->base);
  r->results =
      g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) auth_job_free);
}

static void
run_clear (struct run *r)
{
  g_hash_table_destroy (r->results);
  event_base_free (r->base);
}

static struct auth_job *
result (struct run *r, uint64_t id)
{
  struct auth_job *job =
      g_hash_table_lookup (r->results, GSIZE_TO_POINTER (id));
  g_assert_nonnull (job);
  return job;
}

static void
test_pool_results (void)
{
  struct auth_pool *pool = NULL;
  struct run r;
  char *yes = NULL;
  unsigned i;

  run_init (&r);
  g_assert_cmpint (auth_hash_password ("s3cret", &yes), ==, 0);
  g_assert_cmpint (auth_pool_new (r.base, 3, 64, &pool), ==, 0);
  g_assert_cmpuint (auth_pool_load (pool), ==, 0);

  /* id % 4: 0 right password, 1 wrong password, 2 unknown user,
   * 3 legacy bcrypt hash with the right password. */
  r.expected = 24;
  for (i = 0; i < r.expected; i++)
    {
      struct auth_job *job;

      switch (i % 4)
        {
        case 0:
          job = make_job (i, "alice", "s3cret", yes);
          break;
        case 1:
          job = make_job (i, "alice", "s3creT", yes);
          break;
        case 2:
          job = make_job (i, "nobody", "s3cret", NULL);
          break;
        default:
          job = make_job (i, "kitty", "1234", PY_2B_04);
          break;
        }
      job->ud = &r;
      g_assert_cmpint (auth_pool_submit (pool, job), ==, 0);
    }
  g_assert_cmpuint (auth_pool_load (pool), <=, r.expected);
  run_loop (&r);
  g_assert_cmpuint (auth_pool_load (pool), ==, 0);

  for (i = 0; i < r.expected; i++)
    {
      struct auth_job *job = result (&r, i);

      g_assert_cmpint (job->ok, ==, i % 4 == 0 || i % 4 == 3);
      g_assert_null (job->password);
      g_assert_cmpuint (job->password_len, ==, 0);
      if (i % 4 == 3)
        {
          g_assert_nonnull (job->new_hash);
          g_assert_true (g_str_has_prefix (job->new_hash, "$y$"));
          g_assert_cmpint (verify ("1234", job->new_hash), ==, 1);
          g_assert_cmpint (verify ("12345", job->new_hash), ==, 0);
        }
      else
        g_assert_null (job->new_hash);
    }
  auth_pool_free (pool);
  free (yes);
  run_clear (&r);
}

static void
test_pool_legacy_wrong (void)
{
  struct auth_pool *pool = NULL;
  struct run r;

  run_init (&r);
  g_assert_cmpint (auth_pool_new (r.base, 1, 4, &pool), ==, 0);
  r.expected = 2;
  {
    struct auth_job *a = make_job (1, "kitty", "4321", PY_2B_04);
    struct auth_job *b = make_job (2, "kitty", "U*U", KAT_UU);

    a->ud = b->ud = &r;
    g_assert_cmpint (auth_pool_submit (pool, a), ==, 0);
    g_assert_cmpint (auth_pool_submit (pool, b), ==, 0);
  }
  run_loop (&r);
  g_assert_false (result (&r, 1)->ok);
  g_assert_null (result (&r, 1)->new_hash);
  g_assert_true (result (&r, 2)->ok);
  g_assert_nonnull (result (&r, 2)->new_hash);
  g_assert_cmpint (verify ("U*U", result (&r, 2)->new_hash), ==, 1);
  auth_pool_free (pool);
  run_clear (&r);
}

static void
test_pool_full (void)
{
  struct auth_pool *pool = NULL;
  struct auth_job *rejected = NULL;
  struct run r;
  unsigned i, accepted = 0;

  run_init (&r);
  g_assert_cmpint (auth_pool_new (r.base, 1, 2, &pool), ==, 0);
  /* One running and two waiting at most: the fourth cannot fit. */
  for (i = 0; i < 4; i++)
    {
      struct auth_job *job = make_job (i, "u", "pw", NULL);

      job->ud = &r;
      if (auth_pool_submit (pool, job) == 0)
        accepted++;
      else
        {
          /* The caller still owns a rejected job. */
          g_assert_nonnull (job->password);
          g_assert_null (rejected);
          rejected = job;
          break;
        }
    }
  g_assert_nonnull (rejected);
  g_assert_cmpuint (accepted, >=, 2);
  g_assert_cmpuint (accepted, <=, 3);
  g_assert_cmpuint (auth_pool_load (pool), <=, 3);
  g_assert_cmpuint (auth_pool_load (pool), >=, 1);

  r.expected = accepted;
  run_loop (&r);
  /* Room again once the loop collected the results. */
  rejected->conn_id = 100;
  g_assert_cmpint (auth_pool_submit (pool, rejected), ==, 0);
  r.expected++;
  run_loop (&r);
  g_assert_false (result (&r, 100)->ok);

  g_assert_cmpint (auth_pool_submit (pool, NULL), ==, -1);
  g_assert_cmpint (auth_pool_submit (NULL, rejected), ==, -1);
  auth_pool_free (pool);
  run_clear (&r);
}

static void
never_called (struct auth_job *job, void *ud)
{
  (void) job;
  (void) ud;
  g_error ("callback of a job freed with the pool");
}

static void
test_pool_free_pending (void)
{
  struct event_base *base = event_base_new ();
  struct auth_pool *pool = NULL;
  unsigned i;

  g_assert_cmpint (auth_pool_new (base, 2, 16, &pool), ==, 0);
  for (i = 0; i < 16; i++)
    {
      struct auth_job *job = make_job (i, "u", "pw", NULL);

      job->done = never_called;
      if (auth_pool_submit (pool, job) != 0)
        auth_job_free (job);
    }
  /* Queued, running and finished-but-undelivered jobs are all freed (the
   * leak checker verifies), without their callbacks. */
  auth_pool_free (pool);
  event_base_free (base);
}

static void
test_pool_args (void)
{
  struct event_base *base = event_base_new ();
  struct auth_pool *pool = (struct auth_pool *) 1;

  g_assert_cmpint (auth_pool_new (base, 0, 4, &pool), ==, -1);
  g_assert_null (pool);
  g_assert_cmpint (auth_pool_new (base, 1, 0, &pool), ==, -1);
  g_assert_cmpint (auth_pool_new (NULL, 1, 1, &pool), ==, -1);
  g_assert_cmpint (auth_pool_new (base, 1, 1, NULL), ==, -1);
  auth_pool_free (NULL);
  auth_job_free (NULL);
  g_assert_cmpuint (auth_pool_load (NULL), ==, 0);
  event_base_free (base);
}

/* Unknown users cost a real hash: the dummy is checked in their place. */
static void
test_pool_unknown_user_timing (void)
{
  struct auth_pool *pool = NULL;
  struct run r;
  char *yes = NULL;
  double known = 1e9, unknown = 1e9, refused = 1e9;
  char long_pw[81];
  int round;

  run_init (&r);
  g_assert_cmpint (auth_hash_password ("pw", &yes), ==, 0);
  g_assert_cmpint (auth_pool_new (r.base, 1, 4, &pool), ==, 0);
  memset (long_pw, 'x', 80);
  long_pw[80] = '\0';
  for (round = 0; round < 3; round++)
    {
      struct auth_job *job;
      gint64 t0;
      double dt;

      job = make_job (1000 + (unsigned) round * 2, "a", "bad", yes);
      job->ud = &r;
      r.expected++;
      t0 = g_get_monotonic_time ();
      g_assert_cmpint (auth_pool_submit (pool, job), ==, 0);
      run_loop (&r);
      dt = (double) (g_get_monotonic_time () - t0);
      known = MIN (known, dt);

      job = make_job (1001 + (unsigned) round * 2, "b", "bad", NULL);
      job->ud = &r;
      r.expected++;
      t0 = g_get_monotonic_time ();
      g_assert_cmpint (auth_pool_submit (pool, job), ==, 0);
      run_loop (&r);
      dt = (double) (g_get_monotonic_time () - t0);
      unknown = MIN (unknown, dt);

      /* Refused before hashing (80 bytes against bcrypt): same time. */
      job = make_job (2000 + (unsigned) round, "c", long_pw, PY_2B_04);
      job->ud = &r;
      r.expected++;
      t0 = g_get_monotonic_time ();
      g_assert_cmpint (auth_pool_submit (pool, job), ==, 0);
      run_loop (&r);
      g_assert_false (result (&r, 2000 + (unsigned) round)->ok);
      dt = (double) (g_get_monotonic_time () - t0);
      refused = MIN (refused, dt);
    }
  g_test_message ("best of 3: known user %.1f ms, unknown user %.1f ms, "
                  "refused password %.1f ms",
                  known / 1000, unknown / 1000, refused / 1000);
  /* The same work, so within a generous factor of each other. */
  g_assert_cmpfloat (unknown, >, known / 4);
  g_assert_cmpfloat (known, >, unknown / 4);
  g_assert_cmpfloat (refused, >, unknown / 4);
  auth_pool_free (pool);
  free (yes);
  run_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/auth/verify/bcrypt-fixtures", test_bcrypt_fixtures);
  g_test_add_func ("/server/auth/verify/bcrypt-72", test_bcrypt_72);
  g_test_add_func ("/server/auth/verify/malformed", test_malformed_hashes);
  g_test_add_func ("/server/auth/verify/bad-passwords", test_bad_passwords);
  g_test_add_func ("/server/auth/hash/yescrypt", test_new_hash);
  g_test_add_func ("/server/auth/pool/results", test_pool_results);
  g_test_add_func ("/server/auth/pool/legacy-wrong", test_pool_legacy_wrong);
  g_test_add_func ("/server/auth/pool/full", test_pool_full);
  g_test_add_func ("/server/auth/pool/free-pending", test_pool_free_pending);
  g_test_add_func ("/server/auth/pool/args", test_pool_args);
  g_test_add_func ("/server/auth/pool/unknown-user-timing",
                   test_pool_unknown_user_timing);
  return g_test_run ();
}
