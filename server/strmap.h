/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A string-keyed hash map (open addressing, linear probing, tombstone-free
 * backward-shift deletion) for the loop thread: online users, pending
 * connections per source address. Keys are copied; values are pointers the
 * caller owns. The hash is keyed with a random seed so that peers cannot
 * choose colliding keys. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct strmap;

int strmap_new (struct strmap **out);
void strmap_free (struct strmap *m);
void *strmap_get (const struct strmap *m, const char *key);
/* Inserts or replaces; returns 0, or -1 when out of memory. */
int strmap_set (struct strmap *m, const char *key, void *value);
/* Returns the removed value, or NULL. */
void *strmap_remove (struct strmap *m, const char *key);
size_t strmap_count (const struct strmap *m);
/* Iteration: start with *pos = 0; returns 0 at the end. Do not modify the
 * map while iterating. */
int strmap_next (const struct strmap *m,
                 size_t *pos,
                 const char **key,
                 void **value);
