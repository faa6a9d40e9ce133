/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Two kinds of limits keyed by a string, with the time passed in (ms,
 * monotonic):
 *
 * struct ratelimit: failed-login back-off, keyed by a username or a
 * source address. After `limit` failures the key must wait base_ms,
 * doubling with each further failure up to max_ms. A success clears the
 * key. The table is bounded: when full, the entry with the oldest activity
 * is evicted.
 *
 * struct ratelimit_buckets: token buckets, keyed by a username (messages
 * sent, bundle requests, prekey uploads). Each key may act `burst` times
 * at once, then `rate` times a second. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

int ratelimit_new (size_t max_entries,
                   unsigned limit,
                   uint32_t base_ms,
                   uint32_t max_ms,
                   struct ratelimit **out);
void ratelimit_free (struct ratelimit *rl);
/* 0 when key may try now, else the ms to wait. */
uint32_t
ratelimit_check (const struct ratelimit *rl, const char *key, int64_t now_ms);
/* The failures key has to its name at now_ms (0 once forgotten). */
unsigned ratelimit_failures (const struct ratelimit *rl,
                             const char *key,
                             int64_t now_ms);
void ratelimit_fail (struct ratelimit *rl, const char *key, int64_t now_ms);
void ratelimit_success (struct ratelimit *rl, const char *key);
size_t ratelimit_size (const struct ratelimit *rl);

struct ratelimit_buckets;

/* rate: tokens added a second (1..RATELIMIT_BUCKET_MAX); burst: what a
 * bucket holds, and what a new key starts with (1..RATELIMIT_BUCKET_MAX).
 * -1 for other values, or when out of memory. */
#define RATELIMIT_BUCKET_MAX 1000000u
int ratelimit_buckets_new (uint32_t rate,
                           uint32_t burst,
                           struct ratelimit_buckets **out);
/* NULL is a no-op. */
void ratelimit_buckets_free (struct ratelimit_buckets *rb);
/* Takes one token from key's bucket at now_ms: 0 when there was one, else
 * the ms until there is one (>= 1; a refusal takes nothing), or -1 when out
 * of memory. A clock that goes backwards adds nothing. */
int64_t ratelimit_buckets_take (struct ratelimit_buckets *rb,
                                const char *key,
                                int64_t now_ms);
/* Buckets held: keys that spent tokens lately (full buckets are dropped
 * as the table grows, since a new key starts full anyway). */
size_t ratelimit_buckets_size (const struct ratelimit_buckets *rb);
