/* SPDX-License-Identifier: GPL-3.0-or-later */
/* server/ratelimit.c: threshold, doubling, cap, success, expiry, and the
 * bound on the table; token buckets: burst, refill at whole and fractional
 * rates, long silences, clocks going backwards, and the table's pruning. */
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

/* ---- Token buckets ---- */

static struct ratelimit_buckets *
make_buckets (uint32_t rate, uint32_t burst)
{
  struct ratelimit_buckets *rb = NULL;

  g_assert_cmpint (ratelimit_buckets_new (rate, burst, &rb), ==, 0);
  g_assert_nonnull (rb);
  return rb;
}

static void
test_buckets_bad_args (void)
{
  struct ratelimit_buckets *rb = (struct ratelimit_buckets *) 1;

  g_assert_cmpint (ratelimit_buckets_new (0, 10, &rb), ==, -1);
  g_assert_null (rb);
  g_assert_cmpint (ratelimit_buckets_new (10, 0, &rb), ==, -1);
  g_assert_cmpint (ratelimit_buckets_new (RATELIMIT_BUCKET_MAX + 1, 10, &rb),
                   ==, -1);
  g_assert_cmpint (ratelimit_buckets_new (10, RATELIMIT_BUCKET_MAX + 1, &rb),
                   ==, -1);
  g_assert_cmpint (ratelimit_buckets_new (10, 10, NULL), ==, -1);
  ratelimit_buckets_free (NULL);
  g_assert_cmpuint (ratelimit_buckets_size (NULL), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (NULL, "x", 0), ==, -1);
  rb = make_buckets (1, 1);
  g_assert_cmpint (ratelimit_buckets_take (rb, NULL, 0), ==, -1);
  g_assert_cmpuint (ratelimit_buckets_size (rb), ==, 0);
  ratelimit_buckets_free (rb);
}

/* The server's defaults: 400 at once, then 200 a second, one every 5 ms. */
static void
test_buckets_burst_and_refill (void)
{
  struct ratelimit_buckets *rb = make_buckets (200, 400);
  int64_t t0 = 1000000;
  int i;

  for (i = 0; i < 400; i++)
    g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0), ==, 5);
  /* A refusal takes nothing: asking again costs nothing either. */
  g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0), ==, 5);
  g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0 + 3), ==, 2);
  g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0 + 5), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0 + 5), ==, 5);
  /* Other keys are independent, and start full. */
  for (i = 0; i < 400; i++)
    g_assert_cmpint (ratelimit_buckets_take (rb, "bob", t0 + 5), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "bob", t0 + 5), >, 0);
  /* One second later: 200 more for alice, and not one over. */
  for (i = 0; i < 200; i++)
    g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0 + 1005), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0 + 1005), ==, 5);
  /* A steady sender at the rate is never refused. */
  for (i = 1; i <= 2000; i++)
    g_assert_cmpint (ratelimit_buckets_take (rb, "alice", t0 + 1005 + 5 * i),
                     ==, 0);
  g_assert_cmpuint (ratelimit_buckets_size (rb), ==, 2);
  ratelimit_buckets_free (rb);
}

/* 3 a second does not divide a second into whole milliseconds: credit is
 * kept in fractions of a token, so nothing is lost to rounding. */
static void
test_buckets_fractional_rate (void)
{
  struct ratelimit_buckets *rb = make_buckets (3, 2);
  int64_t t0 = 42, t;
  int granted = 0;

  g_assert_cmpint (ratelimit_buckets_take (rb, "k", t0), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", t0), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", t0), ==, 334);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", t0 + 333), ==, 1);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", t0 + 334), ==, 0);
  /* Asking every millisecond for ten seconds gets exactly 3 a second. */
  for (t = t0 + 335; t < t0 + 334 + 10000; t++)
    if (ratelimit_buckets_take (rb, "k", t) == 0)
      granted++;
  g_assert_cmpint (granted, ==, 29);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", t0 + 334 + 10000), ==, 0);
  ratelimit_buckets_free (rb);
}

static void
test_buckets_clock (void)
{
  struct ratelimit_buckets *rb =
      make_buckets (RATELIMIT_BUCKET_MAX, RATELIMIT_BUCKET_MAX);
  struct ratelimit_buckets *slow = make_buckets (1, 1);
  int64_t t0 = 1000;

  /* Years of silence at the largest rate fill the bucket, no more. */
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", t0), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", INT64_MAX / 2), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", INT64_MAX), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", INT64_MAX), ==, 0);
  /* Even the largest rate never says "0 ms": a refusal means wait. */
  for (int i = 0; i < 1000000; i++)
    if (ratelimit_buckets_take (rb, "k", INT64_MAX) != 0)
      break;
  g_assert_cmpint (ratelimit_buckets_take (rb, "k", INT64_MAX), ==, 1);

  /* A clock that goes backwards adds nothing, and the refill counts from
   * the latest time seen. */
  g_assert_cmpint (ratelimit_buckets_take (slow, "k", t0), ==, 0);
  g_assert_cmpint (ratelimit_buckets_take (slow, "k", t0 + 600), ==, 400);
  g_assert_cmpint (ratelimit_buckets_take (slow, "k", t0 - 5000), ==, 400);
  g_assert_cmpint (ratelimit_buckets_take (slow, "k", t0 + 900), ==, 100);
  g_assert_cmpint (ratelimit_buckets_take (slow, "k", t0 + 1000), ==, 0);
  ratelimit_buckets_free (rb);
  ratelimit_buckets_free (slow);
}

/* Thousands of keys: full buckets are dropped as the table grows, spent
 * ones stay, so the table stays small without resetting anyone's limit. */
static void
test_buckets_prune (void)
{
  struct ratelimit_buckets *rb = make_buckets (10, 10);
  int64_t t0 = 5000000;
  char key[32];
  int i, round;

  for (round = 0; round < 10; round++)
    {
      int64_t t = t0 + 2000 * round;

      /* spender empties its bucket, then a thousand new keys arrive,
       * pruning the table: spender's limit holds through it. */
      for (i = 0; i < 10; i++)
        g_assert_cmpint (ratelimit_buckets_take (rb, "spender", t), ==, 0);
      for (i = 0; i < 1000; i++)
        {
          snprintf (key, sizeof key, "r%d-k%d", round, i);
          g_assert_cmpint (ratelimit_buckets_take (rb, key, t), ==, 0);
        }
      g_assert_cmpint (ratelimit_buckets_take (rb, "spender", t), ==, 100);
      /* Earlier rounds' buckets were full again: dropped. */
      g_assert_cmpuint (ratelimit_buckets_size (rb), <=, 2048);
    }
  ratelimit_buckets_free (rb);
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
  g_test_add_func ("/server/ratelimit/buckets/bad-args", test_buckets_bad_args);
  g_test_add_func ("/server/ratelimit/buckets/burst-refill",
                   test_buckets_burst_and_refill);
  g_test_add_func ("/server/ratelimit/buckets/fractional-rate",
                   test_buckets_fractional_rate);
  g_test_add_func ("/server/ratelimit/buckets/clock", test_buckets_clock);
  g_test_add_func ("/server/ratelimit/buckets/prune", test_buckets_prune);
  return g_test_run ();
}
