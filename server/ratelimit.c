/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Failed-login back-off. Entries live in a balanced search tree (tsearch,
 * a red-black tree in glibc) keyed by string, so an attacker who picks the
 * keys (usernames) cannot degrade lookups the way colliding keys degrade a
 * hash table, and on a list ordered by last activity, so the oldest entry
 * is evicted in O(1) when the table is full. Time only moves forward, so
 * "touch" is "move to the tail".
 *
 * A key that has been quiet for max_ms after its back-off ended is
 * forgotten: an occasional typo spread over months never adds up to a
 * lock-out, while an attacker who tries once per back-off never gets
 * there. */
#define _GNU_SOURCE 1 /* tdestroy */
#include "ratelimit.h"

#include <limits.h>
#include <search.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct rl_entry
{
  char *key;
  unsigned failures;
  int64_t last_ms;  /* last failure */
  int64_t until_ms; /* back-off ends; == last_ms below the limit */
  struct rl_entry *prev;
  struct rl_entry *next;
};

struct ratelimit
{
  void *tree;
  struct rl_entry *oldest; /* list head */
  struct rl_entry *newest; /* list tail */
  size_t size;
  size_t max_entries;
  unsigned limit;
  uint32_t base_ms;
  uint32_t max_ms;
};

static int
entry_cmp (const void *a, const void *b)
{
  const struct rl_entry *ea = a, *eb = b;

  return strcmp (ea->key, eb->key);
}

static void
list_unlink (struct ratelimit *rl, struct rl_entry *e)
{
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    rl->oldest = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  else
    rl->newest = e->prev;
  e->prev = e->next = NULL;
}

static void
list_append (struct ratelimit *rl, struct rl_entry *e)
{
  e->prev = rl->newest;
  e->next = NULL;
  if (rl->newest != NULL)
    rl->newest->next = e;
  else
    rl->oldest = e;
  rl->newest = e;
}

static void
entry_free (void *p)
{
  struct rl_entry *e = p;

  if (e == NULL)
    return;
  free (e->key);
  free (e);
}

static struct rl_entry *
find (const struct ratelimit *rl, const char *key)
{
  struct rl_entry probe;
  void *const *node;

  memset (&probe, 0, sizeof probe);
  probe.key = (char *) key;
  node = tfind (&probe, &rl->tree, entry_cmp);
  return node != NULL ? *node : NULL;
}

static void
remove_entry (struct ratelimit *rl, struct rl_entry *e)
{
  tdelete (e, &rl->tree, entry_cmp);
  list_unlink (rl, e);
  rl->size--;
  entry_free (e);
}

/* Saturating now + ms. */
static int64_t
add_ms (int64_t now, uint32_t ms)
{
  if (now > INT64_MAX - (int64_t) ms)
    return INT64_MAX;
  return now + (int64_t) ms;
}

static bool
expired (const struct ratelimit *rl, const struct rl_entry *e, int64_t now)
{
  int64_t quiet_from = e->until_ms > e->last_ms ? e->until_ms : e->last_ms;

  return now >= add_ms (quiet_from, rl->max_ms);
}

/* base_ms * 2^(failures - limit), capped at max_ms without overflowing. */
static uint32_t
backoff_ms (const struct ratelimit *rl, unsigned failures)
{
  unsigned shift = failures - rl->limit;
  uint32_t cap = rl->max_ms;

  if (rl->base_ms >= cap)
    return cap;
  if (shift >= 32 || rl->base_ms > (cap >> shift))
    return cap;
  return rl->base_ms << shift;
}

int
ratelimit_new (size_t max_entries,
               unsigned limit,
               uint32_t base_ms,
               uint32_t max_ms,
               struct ratelimit **out)
{
  struct ratelimit *rl;

  if (out == NULL)
    return -1;
  *out = NULL;
  if (max_entries == 0 || base_ms == 0 || max_ms == 0)
    return -1;
  rl = calloc (1, sizeof *rl);
  if (rl == NULL)
    return -1;
  rl->max_entries = max_entries;
  rl->limit = limit;
  rl->base_ms = base_ms;
  rl->max_ms = max_ms;
  *out = rl;
  return 0;
}

static void
noop_free (void *p)
{
  (void) p;
}

void
ratelimit_free (struct ratelimit *rl)
{
  struct rl_entry *e, *next;

  if (rl == NULL)
    return;
  tdestroy (rl->tree, noop_free);
  for (e = rl->oldest; e != NULL; e = next)
    {
      next = e->next;
      entry_free (e);
    }
  free (rl);
}

uint32_t
ratelimit_check (const struct ratelimit *rl, const char *key, int64_t now_ms)
{
  const struct rl_entry *e;
  int64_t wait;

  if (rl == NULL || key == NULL)
    return 0;
  e = find (rl, key);
  if (e == NULL || e->failures < rl->limit || now_ms >= e->until_ms)
    return 0;
  wait = e->until_ms - now_ms;
  if (wait > (int64_t) UINT32_MAX)
    return UINT32_MAX;
  return (uint32_t) wait;
}

unsigned
ratelimit_failures (const struct ratelimit *rl, const char *key, int64_t now_ms)
{
  const struct rl_entry *e;

  if (rl == NULL || key == NULL)
    return 0;
  e = find (rl, key);
  if (e == NULL || expired (rl, e, now_ms))
    return 0;
  return e->failures;
}

void
ratelimit_fail (struct ratelimit *rl, const char *key, int64_t now_ms)
{
  struct rl_entry *e;

  if (rl == NULL || key == NULL)
    return;
  e = find (rl, key);
  if (e != NULL && expired (rl, e, now_ms))
    {
      e->failures = 0;
      e->until_ms = e->last_ms = now_ms;
    }
  if (e == NULL)
    {
      void *node;

      if (rl->size >= rl->max_entries && rl->oldest != NULL)
        remove_entry (rl, rl->oldest);
      e = calloc (1, sizeof *e);
      if (e == NULL)
        return;
      e->key = strdup (key);
      if (e->key == NULL)
        {
          free (e);
          return;
        }
      node = tsearch (e, &rl->tree, entry_cmp);
      if (node == NULL)
        {
          entry_free (e);
          return;
        }
      list_append (rl, e);
      rl->size++;
    }
  else
    {
      list_unlink (rl, e);
      list_append (rl, e);
    }

  if (e->failures < UINT_MAX)
    e->failures++;
  e->last_ms = now_ms;
  if (e->failures >= rl->limit)
    e->until_ms = add_ms (now_ms, backoff_ms (rl, e->failures));
  else
    e->until_ms = now_ms;
}

void
ratelimit_success (struct ratelimit *rl, const char *key)
{
  struct rl_entry *e;

  if (rl == NULL || key == NULL)
    return;
  e = find (rl, key);
  if (e != NULL)
    remove_entry (rl, e);
}

size_t
ratelimit_size (const struct ratelimit *rl)
{
  return rl != NULL ? rl->size : 0;
}

/* ---- Token buckets ----
 *
 * Credit is kept in thousandths of a token, so that a rate of r tokens a
 * second refills exactly r units a millisecond, for any whole r. */
#define UNITS_PER_TOKEN 1000
/* Full buckets are dropped when a new key would take the table past this
 * many; the threshold then follows the buckets left (twice as many). */
#define BUCKETS_PRUNE_AT 1024

struct rl_bucket
{
  int64_t credit; /* units, 0..full */
  int64_t last_ms;
};

struct ratelimit_buckets
{
  struct strmap *map; /* key -> struct rl_bucket * */
  int64_t rate;       /* units a millisecond */
  int64_t full;       /* units */
  size_t prune_at;
};

int
ratelimit_buckets_new (uint32_t rate,
                       uint32_t burst,
                       struct ratelimit_buckets **out)
{
  struct ratelimit_buckets *rb;

  if (out == NULL)
    return -1;
  *out = NULL;
  if (rate == 0 || rate > RATELIMIT_BUCKET_MAX || burst == 0 ||
      burst > RATELIMIT_BUCKET_MAX)
    return -1;
  rb = calloc (1, sizeof *rb);
  if (rb == NULL || strmap_new (&rb->map) != 0)
    {
      free (rb);
      return -1;
    }
  rb->rate = rate;
  rb->full = (int64_t) burst * UNITS_PER_TOKEN;
  rb->prune_at = BUCKETS_PRUNE_AT;
  *out = rb;
  return 0;
}

void
ratelimit_buckets_free (struct ratelimit_buckets *rb)
{
  size_t pos = 0;
  const char *key;
  void *value;

  if (rb == NULL)
    return;
  while (strmap_next (rb->map, &pos, &key, &value))
    free (value);
  strmap_free (rb->map);
  free (rb);
}

static void
bucket_refill (const struct ratelimit_buckets *rb,
               struct rl_bucket *b,
               int64_t now)
{
  int64_t elapsed, missing;

  if (now <= b->last_ms)
    return;
  elapsed = now - b->last_ms;
  b->last_ms = now;
  missing = rb->full - b->credit;
  /* Compared by division first: elapsed * rate could overflow after a long
   * silence. */
  if (elapsed >= (missing + rb->rate - 1) / rb->rate)
    b->credit = rb->full;
  else
    b->credit += elapsed * rb->rate;
}

/* Drops the buckets that are full again. Keys are copied out first: the
 * map may not change while it is walked. */
static void
buckets_prune (struct ratelimit_buckets *rb, int64_t now)
{
  size_t n = strmap_count (rb->map), n_full = 0, pos = 0, i;
  const char **full;
  const char *key;
  void *value;

  full = calloc (n, sizeof *full);
  if (full == NULL)
    return;
  while (strmap_next (rb->map, &pos, &key, &value) && n_full < n)
    {
      struct rl_bucket *b = value;

      bucket_refill (rb, b, now);
      if (b->credit == rb->full)
        full[n_full++] = key;
    }
  /* Removing a key frees only that key's copy: the others stay valid. */
  for (i = 0; i < n_full; i++)
    free (strmap_remove (rb->map, full[i]));
  free (full);
}

int64_t
ratelimit_buckets_take (struct ratelimit_buckets *rb,
                        const char *key,
                        int64_t now_ms)
{
  struct rl_bucket *b;

  if (rb == NULL || key == NULL)
    return -1;
  b = strmap_get (rb->map, key);
  if (b == NULL)
    {
      if (strmap_count (rb->map) >= rb->prune_at)
        {
          size_t left;

          buckets_prune (rb, now_ms);
          left = strmap_count (rb->map);
          rb->prune_at =
              left * 2 > BUCKETS_PRUNE_AT ? left * 2 : BUCKETS_PRUNE_AT;
        }
      b = malloc (sizeof *b);
      if (b == NULL)
        return -1;
      b->credit = rb->full;
      b->last_ms = now_ms;
      if (strmap_set (rb->map, key, b) != 0)
        {
          free (b);
          return -1;
        }
    }
  bucket_refill (rb, b, now_ms);
  if (b->credit < UNITS_PER_TOKEN)
    return (UNITS_PER_TOKEN - b->credit + rb->rate - 1) / rb->rate;
  b->credit -= UNITS_PER_TOKEN;
  return 0;
}

size_t
ratelimit_buckets_size (const struct ratelimit_buckets *rb)
{
  return rb != NULL ? strmap_count (rb->map) : 0;
}
