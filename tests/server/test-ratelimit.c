/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/ratelimit.c: threshold, doubling, cap, success, expiry, and the
 * bound on the table. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit.h"

static struct ratelimit *
make (size_t max_entries, unsigned limit, uint32_t base, uint32_t max)
{
  struct ratelimit *rl = NULL;

  g_assert_cmpint (ratelimit_new (max_entries, limit, base, max, &rl), ==, 0);
  g_assert_nonnull (rl);
  return rl;
}

static void
test_bad_args (void)
{
  struct ratelimit *rl = (struct ratelimit *) 1;

  g_assert_cmpint (ratelimit_new (0, 5, 1000, 9000, &rl), ==, -1);
  g_assert_null (rl);
  g_assert_cmpint (ratelimit_new (10, 5, 0, 9000, &rl), ==, -1);
  g_assert_cmpint (ratelimit_new (10, 5, 1000, 0, &rl), ==, -1);
  g_assert_cmpint (ratelimit_new (10, 5, 1000, 900, NULL), ==, -1);
  ratelimit_free (NULL);
  g_assert_cmpuint (ratelimit_size (NULL), ==, 0);
  g_assert_cmpuint (ratelimit_check (NULL, "x", 0), ==, 0);
}

static void
test_threshold (void)
{
  struct ratelimit *rl = make (100, 5, 1000, 900000);
  int64_t now = 1000000;
  int i;

  g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 0);
  for (i = 0; i < 4; i++)
    {
      ratelimit_fail (rl, "alice", now);
      g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 0);
    }
  /* The fifth failure starts the back-off. */
  ratelimit_fail (rl, "alice", now);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 1000);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now + 400), ==, 600);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now + 999), ==, 1);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now + 1000), ==, 0);
  /* Other keys are independent. */
  g_assert_cmpuint (ratelimit_check (rl, "bob", now), ==, 0);
  g_assert_cmpuint (ratelimit_check (rl, "alic", now), ==, 0);
  g_assert_cmpuint (ratelimit_size (rl), ==, 1);
  ratelimit_free (rl);
}

static void
test_failures_count (void)
{
  struct ratelimit *rl = make (100, 2, 1000, 4000);
  int64_t now = 1000000;

  g_assert_cmpuint (ratelimit_failures (NULL, "alice", now), ==, 0);
  g_assert_cmpuint (ratelimit_failures (rl, "alice", now), ==, 0);
  ratelimit_fail (rl, "alice", now);
  ratelimit_fail (rl, "alice", now);
  ratelimit_fail (rl, "alice", now);
  g_assert_cmpuint (ratelimit_failures (rl, "alice", now), ==, 3);
  g_assert_cmpuint (ratelimit_failures (rl, "bob", now), ==, 0);
  /* Back-off of 2000 ms, then forgotten after max_ms of quiet. */
  g_assert_cmpuint (ratelimit_failures (rl, "alice", now + 5999), ==, 3);
  g_assert_cmpuint (ratelimit_failures (rl, "alice", now + 6000), ==, 0);
  ratelimit_success (rl, "alice");
  g_assert_cmpuint (ratelimit_failures (rl, "alice", now), ==, 0);
  ratelimit_free (rl);
}

static void
test_doubling_and_cap (void)
{
  struct ratelimit *rl = make (100, 5, 1000, 900000);
  static const uint32_t want[] = { 1000,   2000,   4000,   8000,   16000,
                                   32000,  64000,  128000, 256000, 512000,
                                   900000, 900000, 900000 };
  int64_t now = 5;
  size_t i;

  for (i = 0; i < 4; i++)
    ratelimit_fail (rl, "10.0.0.1", now);
  for (i = 0; i < G_N_ELEMENTS (want); i++)
    {
      ratelimit_fail (rl, "10.0.0.1", now);
      g_assert_cmpuint (ratelimit_check (rl, "10.0.0.1", now), ==, want[i]);
      /* Try again exactly when allowed. */
      now += want[i];
      g_assert_cmpuint (ratelimit_check (rl, "10.0.0.1", now), ==, 0);
    }
  /* Hundreds more failures: no overflow, still the cap. */
  for (i = 0; i < 300; i++)
    ratelimit_fail (rl, "10.0.0.1", now);
  g_assert_cmpuint (ratelimit_check (rl, "10.0.0.1", now), ==, 900000);
  ratelimit_free (rl);
}

static void
test_overflow_safe (void)
{
  /* A base close to UINT32_MAX must not wrap when doubled. */
  struct ratelimit *rl = make (10, 1, 3000000000u, UINT32_MAX);
  int64_t now = 0;

  ratelimit_fail (rl, "k", now);
  g_assert_cmpuint (ratelimit_check (rl, "k", now), ==, 3000000000u);
  ratelimit_fail (rl, "k", now);
  g_assert_cmpuint (ratelimit_check (rl, "k", now), ==, UINT32_MAX);
  ratelimit_free (rl);

  /* base above max: max. */
  rl = make (10, 1, 5000, 3000);
  ratelimit_fail (rl, "k", now);
  g_assert_cmpuint (ratelimit_check (rl, "k", now), ==, 3000);
  ratelimit_free (rl);

  /* A clock near the end of int64_t saturates instead of wrapping. */
  rl = make (10, 1, 1000, 2000);
  ratelimit_fail (rl, "k", INT64_MAX - 10);
  g_assert_cmpuint (ratelimit_check (rl, "k", INT64_MAX - 10), ==, 10);
  ratelimit_free (rl);
}

static void
test_success_clears (void)
{
  struct ratelimit *rl = make (100, 2, 1000, 8000);
  int64_t now = 0;

  ratelimit_fail (rl, "alice", now);
  ratelimit_fail (rl, "alice", now);
  ratelimit_fail (rl, "bob", now);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 1000);
  g_assert_cmpuint (ratelimit_size (rl), ==, 2);
  ratelimit_success (rl, "alice");
  g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 0);
  g_assert_cmpuint (ratelimit_size (rl), ==, 1);
  /* Counting starts over. */
  ratelimit_fail (rl, "alice", now);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 0);
  ratelimit_fail (rl, "alice", now);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 1000);
  /* Unknown keys: nothing happens. */
  ratelimit_success (rl, "nobody");
  g_assert_cmpuint (ratelimit_size (rl), ==, 2);
  ratelimit_free (rl);
}

static void
test_quiet_keys_forgotten (void)
{
  struct ratelimit *rl = make (100, 3, 1000, 10000);
  int64_t now = 0;

  /* Two typos, then nothing for max_ms: forgotten. */
  ratelimit_fail (rl, "alice", now);
  ratelimit_fail (rl, "alice", now);
  now += 10000;
  ratelimit_fail (rl, "alice", now);
  g_assert_cmpuint (ratelimit_check (rl, "alice", now), ==, 0);

  /* Just below max_ms of quiet: not forgotten. */
  ratelimit_fail (rl, "bob", 0);
  ratelimit_fail (rl, "bob", 0);
  ratelimit_fail (rl, "bob", 9999);
  g_assert_cmpuint (ratelimit_check (rl, "bob", 9999), ==, 1000);

  /* Retrying as soon as each back-off ends never resets the count. */
  now = 100000;
  ratelimit_fail (rl, "carol", now);
  ratelimit_fail (rl, "carol", now);
  ratelimit_fail (rl, "carol", now);
  for (int i = 0; i < 10; i++)
    {
      uint32_t wait = ratelimit_check (rl, "carol", now);
      g_assert_cmpuint (wait, >, 0);
      now += wait;
      ratelimit_fail (rl, "carol", now);
    }
  g_assert_cmpuint (ratelimit_check (rl, "carol", now), ==, 10000);
  ratelimit_free (rl);
}

static void
test_eviction_bound (void)
{
  struct ratelimit *rl = make (8, 1, 1000, 1000);
  char key[32];
  int i;

  for (i = 0; i < 8; i++)
    {
      snprintf (key, sizeof key, "user%d", i);
      ratelimit_fail (rl, key, i);
    }
  g_assert_cmpuint (ratelimit_size (rl), ==, 8);
  /* Touch user0 so user1 becomes the oldest. */
  ratelimit_fail (rl, "user0", 100);
  ratelimit_fail (rl, "newcomer", 101);
  g_assert_cmpuint (ratelimit_size (rl), ==, 8);
  g_assert_cmpuint (ratelimit_check (rl, "user1", 101), ==, 0);
  g_assert_cmpuint (ratelimit_check (rl, "user0", 101), >, 0);
  g_assert_cmpuint (ratelimit_check (rl, "user2", 101), >, 0);
  g_assert_cmpuint (ratelimit_check (rl, "newcomer", 101), ==, 1000);

  /* A flood of distinct keys never grows the table past its bound. */
  for (i = 0; i < 10000; i++)
    {
      snprintf (key, sizeof key, "flood-%d", i);
      ratelimit_fail (rl, key, 200 + i);
      g_assert_cmpuint (ratelimit_size (rl), <=, 8);
    }
  g_assert_cmpuint (ratelimit_size (rl), ==, 8);
  /* The last eight survive, the rest are gone. */
  g_assert_cmpuint (ratelimit_check (rl, "flood-9999", 10199), >, 0);
  g_assert_cmpuint (ratelimit_check (rl, "flood-9992", 10199), >, 0);
  g_assert_cmpuint (ratelimit_check (rl, "flood-9991", 10199), ==, 0);
  ratelimit_free (rl);
}

static void
test_many_keys (void)
{
  struct ratelimit *rl = make (5000, 2, 100, 1000);
  char key[32];
  int i;

  for (i = 0; i < 5000; i++)
    {
      snprintf (key, sizeof key, "k%d", i);
      ratelimit_fail (rl, key, 0);
      if (i % 2 == 0)
        ratelimit_fail (rl, key, 0);
    }
  g_assert_cmpuint (ratelimit_size (rl), ==, 5000);
  for (i = 0; i < 5000; i++)
    {
      snprintf (key, sizeof key, "k%d", i);
      g_assert_cmpuint (ratelimit_check (rl, key, 0), ==, i % 2 == 0 ? 100 : 0);
    }
  for (i = 0; i < 5000; i += 3)
    {
      snprintf (key, sizeof key, "k%d", i);
      ratelimit_success (rl, key);
    }
  g_assert_cmpuint (ratelimit_size (rl), ==, 5000 - 1667);
  ratelimit_free (rl);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/ratelimit/bad-args", test_bad_args);
  g_test_add_func ("/server/ratelimit/threshold", test_threshold);
  g_test_add_func ("/server/ratelimit/failures", test_failures_count);
  g_test_add_func ("/server/ratelimit/doubling-cap", test_doubling_and_cap);
  g_test_add_func ("/server/ratelimit/overflow", test_overflow_safe);
  g_test_add_func ("/server/ratelimit/success-clears", test_success_clears);
  g_test_add_func ("/server/ratelimit/quiet-forgotten",
                   test_quiet_keys_forgotten);
  g_test_add_func ("/server/ratelimit/eviction-bound", test_eviction_bound);
  g_test_add_func ("/server/ratelimit/many-keys", test_many_keys);
  return g_test_run ();
}
