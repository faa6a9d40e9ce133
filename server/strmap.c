/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "securechat/crypto.h"

struct slot
{
  char *key; /* NULL = empty */
  void *value;
  uint64_t hash;
};

struct strmap
{
  struct slot *slots;
  size_t cap; /* power of two */
  size_t count;
  uint64_t seed[2];
};

/* SipHash would be the textbook choice; a seeded FNV-1a variant mixed
 * through a 64-bit finaliser keeps collisions unpredictable for peers who
 * cannot see the seed, which is all the map needs. */
static uint64_t
hash_key (const struct strmap *m, const char *key)
{
  uint64_t h = m->seed[0] ^ UINT64_C (0xcbf29ce484222325);
  for (const unsigned char *p = (const unsigned char *) key; *p; p++)
    {
      h ^= *p;
      h *= UINT64_C (0x100000001b3);
    }
  h ^= m->seed[1];
  h ^= h >> 33;
  h *= UINT64_C (0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= UINT64_C (0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return h;
}

int
strmap_new (struct strmap **out)
{
  struct strmap *m;

  *out = NULL;
  m = calloc (1, sizeof (*m));
  if (m == NULL)
    return -1;
  m->cap = 16;
  m->slots = calloc (m->cap, sizeof (*m->slots));
  if (m->slots == NULL || sc_random (m->seed, sizeof (m->seed)) != 0)
    {
      free (m->slots);
      free (m);
      return -1;
    }
  *out = m;
  return 0;
}

void
strmap_free (struct strmap *m)
{
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->cap; i++)
    free (m->slots[i].key);
  free (m->slots);
  free (m);
}

static size_t
find_slot (const struct strmap *m, const char *key, uint64_t h)
{
  size_t mask = m->cap - 1;
  size_t i = (size_t) h & mask;

  while (m->slots[i].key != NULL)
    {
      if (m->slots[i].hash == h && strcmp (m->slots[i].key, key) == 0)
        return i;
      i = (i + 1) & mask;
    }
  return i;
}

static int
grow (struct strmap *m)
{
  size_t new_cap = m->cap * 2;
  struct slot *old = m->slots;
  size_t old_cap = m->cap;
  struct slot *slots = calloc (new_cap, sizeof (*slots));

  if (slots == NULL)
    return -1;
  m->slots = slots;
  m->cap = new_cap;
  for (size_t i = 0; i < old_cap; i++)
    {
      if (old[i].key == NULL)
        continue;
      size_t j = (size_t) old[i].hash & (new_cap - 1);
      while (slots[j].key != NULL)
        j = (j + 1) & (new_cap - 1);
      slots[j] = old[i];
    }
  free (old);
  return 0;
}

void *
strmap_get (const struct strmap *m, const char *key)
{
  size_t i = find_slot (m, key, hash_key (m, key));
  return m->slots[i].key != NULL ? m->slots[i].value : NULL;
}

int
strmap_set (struct strmap *m, const char *key, void *value)
{
  uint64_t h = hash_key (m, key);
  size_t i = find_slot (m, key, h);

  if (m->slots[i].key != NULL)
    {
      m->slots[i].value = value;
      return 0;
    }
  /* Keep the load factor under 1/2 so probes stay short. */
  if ((m->count + 1) * 2 > m->cap)
    {
      if (grow (m) != 0)
        return -1;
      i = find_slot (m, key, h);
    }
  m->slots[i].key = strdup (key);
  if (m->slots[i].key == NULL)
    return -1;
  m->slots[i].value = value;
  m->slots[i].hash = h;
  m->count++;
  return 0;
}

void *
strmap_remove (struct strmap *m, const char *key)
{
  size_t mask = m->cap - 1;
  size_t i = find_slot (m, key, hash_key (m, key));
  void *value;

  if (m->slots[i].key == NULL)
    return NULL;
  value = m->slots[i].value;
  free (m->slots[i].key);
  m->slots[i].key = NULL;
  m->count--;

  /* Backward-shift deletion: move later members of the probe run into the
   * hole when their home slot does not lie after it. */
  size_t hole = i;
  size_t j = (i + 1) & mask;
  while (m->slots[j].key != NULL)
    {
      size_t home = (size_t) m->slots[j].hash & mask;
      /* j may move into the hole when the hole lies on its probe path,
       * i.e. between its home slot and j. */
      if (((j - home) & mask) >= ((j - hole) & mask))
        {
          m->slots[hole] = m->slots[j];
          m->slots[j].key = NULL;
          hole = j;
        }
      j = (j + 1) & mask;
    }
  return value;
}

size_t
strmap_count (const struct strmap *m)
{
  return m->count;
}

int
strmap_next (const struct strmap *m,
             size_t *pos,
             const char **key,
             void **value)
{
  while (*pos < m->cap)
    {
      size_t i = (*pos)++;
      if (m->slots[i].key != NULL)
        {
          *key = m->slots[i].key;
          *value = m->slots[i].value;
          return 1;
        }
    }
  return 0;
}
