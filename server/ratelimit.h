/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Failed-login back-off, keyed by a string (a username, or a source
 * address). After `limit` failures the key must wait base_ms, doubling with
 * each further failure up to max_ms. A success clears the key. The table is
 * bounded: when full, the entry with the oldest activity is evicted. Time is
 * passed in (ms, monotonic). */
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
