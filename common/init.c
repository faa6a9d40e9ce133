/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "securechat/init.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>

#include "securechat/crypto.h"
#include "securechat/error.h"

/* Each block carries its size in front, so free can wipe all of it. The
 * header is as large as max_align_t to keep the payload aligned. */
union header
{
  size_t size;
  max_align_t align;
};

static void *
wiping_malloc (size_t size)
{
  union header *h;

  if (size > SIZE_MAX - sizeof (*h))
    return NULL;
  h = malloc (sizeof (*h) + size);
  if (h == NULL)
    return NULL;
  h->size = size;
  return h + 1;
}

static void
wiping_free (void *p)
{
  union header *h;

  if (p == NULL)
    return;
  h = (union header *) p - 1;
  sc_wipe (p, h->size);
  free (h);
}

int
sc_init (void)
{
  json_set_alloc_funcs (wiping_malloc, wiping_free);
  return SC_OK;
}
