/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Double Ratchet (Signal, revision 1, 2016-11-20, sections 3.2-3.5)
 * without header encryption, with the CBC+HMAC ENCRYPT of section 5.2.
 *
 * Decryption never touches the state until the message has authenticated:
 * every key it would derive (skipped keys, the new root and chain keys, the
 * next sending key pair) goes into locals and is copied into the state only
 * after the tag and the padding check out, so a bad message leaves the state
 * byte for byte as it was (section 3.5: "changes to the state object are
 * discarded"). The skipped-key store is a FIFO ring of at most
 * SC_DR_MAX_STORED_KEYS entries keyed by (DHr, N); besides it the state
 * remembers the last few receiving chains and how far each got, so that a
 * replay on a past chain is reported as a duplicate instead of being taken
 * for a new ratchet step. */
#include "securechat/ratchet.h"

#ifdef SC_NOISE_TESTING
#include "securechat/ratchet-testing.h"
#endif

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "securechat/error.h"

#define KEY_LEN    32
#define MK_OUT_LEN (32 + 32 + SC_AES_CBC_IV_LEN)
#define AES_BLOCK  16
#define MAC_MIN    8
#define MAC_MAX    SC_SHA256_LEN
/* Plaintext bound per message; its ciphertext has up to one more block. */
#define PT_MAX (64 * 1024)
#define CT_MAX (PT_MAX + AES_BLOCK)
/* Past receiving chains remembered for duplicate detection. */
#define OLD_CHAINS_MAX 5

/* Serialized state, version 1 (all integers big-endian):
 *   "SCDR" | u8 version | u8 flags
 *   | DHs.priv 32 | DHs.pub 32 | DHr 32 | RK 32 | CKs 32 | CKr 32
 *   | u32 Ns | u32 Nr | u32 PN
 *   | u16 len(AD) | AD
 *   | u8 count | count x (DH 32 | u32 Nr)           past receiving chains
 *   | u16 count | count x (DH 32 | u32 N | MK 32)   skipped keys, oldest first
 * Absent keys are all zero; nothing may follow. */
#define SER_MAGIC   "SCDR"
#define SER_VERSION 1
#define SER_FIXED   (4 + 1 + 1 + 6 * KEY_LEN + 3 * 4 + 2)
#define SER_OLD     (KEY_LEN + 4)
#define SER_SKIPPED (KEY_LEN + 4 + KEY_LEN)

#define F_DHR      0x01u
#define F_CKS      0x02u
#define F_CKR      0x04u
#define F_RECEIVED 0x08u
#define F_ALL      (F_DHR | F_CKS | F_CKR | F_RECEIVED)

struct skipped
{
  uint8_t dh[KEY_LEN];
  uint32_t n;
  uint8_t mk[KEY_LEN];
};

struct old_chain
{
  uint8_t dh[KEY_LEN];
  uint32_t nr; /* every N below this was derived on that chain */
};

struct sc_ratchet
{
  const struct sc_dr_labels *labels;
  uint8_t dhs_priv[KEY_LEN];
  uint8_t dhs_pub[KEY_LEN];
  uint8_t dhr[KEY_LEN];
  uint8_t rk[KEY_LEN];
  uint8_t cks[KEY_LEN];
  uint8_t ckr[KEY_LEN];
  bool has_dhr;
  bool has_cks;
  bool has_ckr;
  bool has_received;
  uint32_t ns;
  uint32_t nr;
  uint32_t pn;
  uint8_t ad[SC_DR_AD_MAX];
  size_t ad_len;
  struct old_chain old[OLD_CHAINS_MAX]; /* oldest first */
  size_t n_old;
  /* Ring of SC_DR_MAX_STORED_KEYS entries, allocated on first use. */
  struct skipped *skipped;
  size_t sk_head;
  size_t sk_count;
};

static const struct sc_dr_labels default_labels = {
  SC_DR_RK_INFO,
  SC_DR_MK_INFO,
  SC_DR_MAC_LEN,
};

const struct sc_dr_labels *
sc_dr_labels_default (void)
{
  return &default_labels;
}

/* ---- Byte helpers -------------------------------------------------------- */

static void
put_be16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

static void
put_be32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}

static uint16_t
get_be16 (const uint8_t *p)
{
  return (uint16_t) ((unsigned) p[0] << 8 | p[1]);
}

static uint32_t
get_be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 |
         (uint32_t) p[3];
}

static bool
all_zero (const uint8_t *p, size_t len)
{
  uint8_t acc = 0;

  for (size_t i = 0; i < len; i++)
    acc |= p[i];
  return acc == 0;
}

static bool
labels_ok (const struct sc_dr_labels *l)
{
  return l != NULL && l->rk_info != NULL && l->mk_info != NULL &&
         l->mac_len >= MAC_MIN && l->mac_len <= MAC_MAX;
}

/* ---- KDFs and ENCRYPT (sections 5.2 and 3.1) ---------------------------- */

int
sc_dr_kdf_rk (const struct sc_dr_labels *l,
              const uint8_t rk[32],
              const uint8_t dh_out[32],
              uint8_t rk_out[32],
              uint8_t ck_out[32])
{
  uint8_t okm[2 * KEY_LEN];
  int ret;

  if (!labels_ok (l) || rk == NULL || dh_out == NULL || rk_out == NULL ||
      ck_out == NULL)
    return SC_ERR_INVALID;
  ret = sc_hkdf_sha256 (rk, KEY_LEN, dh_out, KEY_LEN,
                        (const uint8_t *) l->rk_info, strlen (l->rk_info), okm,
                        sizeof okm);
  if (ret == SC_OK)
    {
      /* rk_out may alias rk: okm is complete before either is written. */
      memcpy (rk_out, okm, KEY_LEN);
      memcpy (ck_out, okm + KEY_LEN, KEY_LEN);
    }
  sc_wipe (okm, sizeof okm);
  return ret;
}

int
sc_dr_kdf_ck (const uint8_t ck[32], uint8_t ck_out[32], uint8_t mk[32])
{
  static const uint8_t c_mk = 0x01;
  static const uint8_t c_ck = 0x02;
  uint8_t next[KEY_LEN];
  uint8_t key[KEY_LEN];
  int ret;

  if (ck == NULL || ck_out == NULL || mk == NULL)
    return SC_ERR_INVALID;
  ret = sc_hmac_sha256 (ck, KEY_LEN, &c_mk, 1, key);
  if (ret == SC_OK)
    ret = sc_hmac_sha256 (ck, KEY_LEN, &c_ck, 1, next);
  if (ret == SC_OK)
    {
      memcpy (mk, key, KEY_LEN);
      memcpy (ck_out, next, KEY_LEN);
    }
  sc_wipe (key, sizeof key);
  sc_wipe (next, sizeof next);
  return ret;
}

int
sc_dr_message_keys (const struct sc_dr_labels *l,
                    const uint8_t mk[32],
                    uint8_t enc_key[32],
                    uint8_t auth_key[32],
                    uint8_t iv[16])
{
  uint8_t okm[MK_OUT_LEN];
  int ret;

  if (!labels_ok (l) || mk == NULL || enc_key == NULL || auth_key == NULL ||
      iv == NULL)
    return SC_ERR_INVALID;
  /* salt = NULL is HashLen zero bytes (RFC 5869), as the spec asks. */
  ret = sc_hkdf_sha256 (NULL, 0, mk, KEY_LEN, (const uint8_t *) l->mk_info,
                        strlen (l->mk_info), okm, sizeof okm);
  if (ret == SC_OK)
    {
      memcpy (enc_key, okm, 32);
      memcpy (auth_key, okm + 32, 32);
      memcpy (iv, okm + 64, SC_AES_CBC_IV_LEN);
    }
  sc_wipe (okm, sizeof okm);
  return ret;
}

/* tag = HMAC-SHA256(auth_key, a || c), all 32 bytes. */
static int
compute_tag (const uint8_t auth_key[32],
             const uint8_t *a,
             size_t a_len,
             const uint8_t *c,
             size_t c_len,
             uint8_t tag[MAC_MAX])
{
  uint8_t *buf;
  int ret;

  if (a_len > SIZE_MAX - c_len)
    return SC_ERR_TOO_LARGE;
  buf = malloc (a_len + c_len);
  if (buf == NULL)
    return SC_ERR_NOMEM;
  if (a_len > 0)
    memcpy (buf, a, a_len);
  memcpy (buf + a_len, c, c_len);
  ret = sc_hmac_sha256 (auth_key, 32, buf, a_len + c_len, tag);
  free (buf);
  return ret;
}

int
sc_dr_encrypt (const struct sc_dr_labels *l,
               const uint8_t mk[32],
               const uint8_t *a,
               size_t a_len,
               const uint8_t *pt,
               size_t len,
               uint8_t **out,
               size_t *out_len)
{
  uint8_t enc_key[32], auth_key[32], iv[SC_AES_CBC_IV_LEN];
  uint8_t tag[MAC_MAX];
  uint8_t *buf = NULL;
  size_t c_cap, c_len = 0;
  int ret;

  if (out != NULL)
    *out = NULL;
  if (out_len != NULL)
    *out_len = 0;
  if (!labels_ok (l) || mk == NULL || out == NULL || out_len == NULL ||
      (a == NULL && a_len > 0) || (pt == NULL && len > 0))
    return SC_ERR_INVALID;
  if (len > PT_MAX)
    return SC_ERR_TOO_LARGE;

  ret = sc_dr_message_keys (l, mk, enc_key, auth_key, iv);
  if (ret != SC_OK)
    goto out;
  c_cap = (len / AES_BLOCK + 1) * AES_BLOCK;
  buf = malloc (c_cap + l->mac_len);
  if (buf == NULL)
    {
      ret = SC_ERR_NOMEM;
      goto out;
    }
  ret = sc_aes256_cbc_encrypt (enc_key, iv, pt, len, buf, c_cap, &c_len);
  if (ret == SC_OK && c_len != c_cap)
    ret = SC_ERR_CRYPTO;
  if (ret == SC_OK)
    ret = compute_tag (auth_key, a, a_len, buf, c_len, tag);
  if (ret != SC_OK)
    goto out;
  memcpy (buf + c_len, tag, l->mac_len);
  *out = buf;
  *out_len = c_len + l->mac_len;
  buf = NULL;

out:
  if (buf != NULL)
    {
      sc_wipe (buf, c_cap + l->mac_len);
      free (buf);
    }
  sc_wipe (enc_key, sizeof enc_key);
  sc_wipe (auth_key, sizeof auth_key);
  sc_wipe (iv, sizeof iv);
  sc_wipe (tag, sizeof tag);
  return ret;
}

/* Length checks of c || tag: SC_ERR_TRUNCATED for anything that cannot be
 * one, SC_ERR_TOO_LARGE past the plaintext bound. */
static int
check_ct_len (size_t len, size_t mac_len)
{
  if (len < AES_BLOCK + mac_len || (len - mac_len) % AES_BLOCK != 0)
    return SC_ERR_TRUNCATED;
  if (len - mac_len > CT_MAX)
    return SC_ERR_TOO_LARGE;
  return SC_OK;
}

int
sc_dr_decrypt (const struct sc_dr_labels *l,
               const uint8_t mk[32],
               const uint8_t *a,
               size_t a_len,
               const uint8_t *in,
               size_t len,
               uint8_t **pt,
               size_t *pt_len)
{
  uint8_t enc_key[32], auth_key[32], iv[SC_AES_CBC_IV_LEN];
  uint8_t tag[MAC_MAX];
  uint8_t *buf = NULL;
  size_t c_len = 0, p_len = 0;
  int ret;

  if (pt != NULL)
    *pt = NULL;
  if (pt_len != NULL)
    *pt_len = 0;
  if (!labels_ok (l) || mk == NULL || pt == NULL || pt_len == NULL ||
      (a == NULL && a_len > 0) || (in == NULL && len > 0))
    return SC_ERR_INVALID;
  ret = check_ct_len (len, l->mac_len);
  if (ret != SC_OK)
    return ret;
  c_len = len - l->mac_len;

  ret = sc_dr_message_keys (l, mk, enc_key, auth_key, iv);
  if (ret == SC_OK)
    ret = compute_tag (auth_key, a, a_len, in, c_len, tag);
  if (ret != SC_OK)
    goto out;
  /* Authenticate before touching the padding. */
  if (!sc_memeq (tag, in + c_len, l->mac_len))
    {
      ret = SC_ERR_DECRYPT;
      goto out;
    }
  buf = malloc (c_len);
  if (buf == NULL)
    {
      ret = SC_ERR_NOMEM;
      goto out;
    }
  ret = sc_aes256_cbc_decrypt (enc_key, iv, in, c_len, buf, c_len, &p_len);
  if (ret != SC_OK)
    goto out;
  *pt = buf;
  *pt_len = p_len;
  buf = NULL;

out:
  if (buf != NULL)
    {
      sc_wipe (buf, c_len);
      free (buf);
    }
  sc_wipe (enc_key, sizeof enc_key);
  sc_wipe (auth_key, sizeof auth_key);
  sc_wipe (iv, sizeof iv);
  sc_wipe (tag, sizeof tag);
  return ret;
}

/* ---- The skipped-key store ----------------------------------------------- */

static struct skipped *
sk_at (const struct sc_ratchet *r, size_t i)
{
  return &r->skipped[(r->sk_head + i) % SC_DR_MAX_STORED_KEYS];
}

static int
sk_reserve (struct sc_ratchet *r)
{
  if (r->skipped != NULL)
    return SC_OK;
  r->skipped = calloc (SC_DR_MAX_STORED_KEYS, sizeof *r->skipped);
  return r->skipped != NULL ? SC_OK : SC_ERR_NOMEM;
}

/* Index of (dh, n) in the store, or -1. Header fields are public: an
 * ordinary comparison is fine. */
static long
sk_find (const struct sc_ratchet *r, const uint8_t dh[KEY_LEN], uint32_t n)
{
  for (size_t i = 0; i < r->sk_count; i++)
    {
      const struct skipped *e = sk_at (r, i);
      if (e->n == n && memcmp (e->dh, dh, KEY_LEN) == 0)
        return (long) i;
    }
  return -1;
}

/* Appends an entry, evicting the oldest when full. r->skipped must exist. */
static void
sk_push (struct sc_ratchet *r, const struct skipped *e)
{
  if (r->sk_count == SC_DR_MAX_STORED_KEYS)
    {
      sc_wipe (sk_at (r, 0), sizeof (struct skipped));
      r->sk_head = (r->sk_head + 1) % SC_DR_MAX_STORED_KEYS;
      r->sk_count--;
    }
  memcpy (sk_at (r, r->sk_count), e, sizeof *e);
  r->sk_count++;
}

/* Removes entry i, keeping the others in order. */
static void
sk_remove (struct sc_ratchet *r, size_t i)
{
  for (size_t j = i; j + 1 < r->sk_count; j++)
    memcpy (sk_at (r, j), sk_at (r, j + 1), sizeof (struct skipped));
  sc_wipe (sk_at (r, r->sk_count - 1), sizeof (struct skipped));
  r->sk_count--;
}

static const struct old_chain *
old_find (const struct sc_ratchet *r, const uint8_t dh[KEY_LEN])
{
  for (size_t i = 0; i < r->n_old; i++)
    if (memcmp (r->old[i].dh, dh, KEY_LEN) == 0)
      return &r->old[i];
  return NULL;
}

static void
old_push (struct sc_ratchet *r, const uint8_t dh[KEY_LEN], uint32_t nr)
{
  if (r->n_old == OLD_CHAINS_MAX)
    {
      memmove (&r->old[0], &r->old[1],
               (OLD_CHAINS_MAX - 1) * sizeof (struct old_chain));
      r->n_old--;
    }
  memcpy (r->old[r->n_old].dh, dh, KEY_LEN);
  r->old[r->n_old].nr = nr;
  r->n_old++;
}

/* Keys derived by a decryption that has not authenticated yet. */
struct pending
{
  struct skipped *keys;
  size_t count;
  size_t cap;
};

static void
pending_clear (struct pending *p)
{
  if (p->keys != NULL)
    {
      sc_wipe (p->keys, p->cap * sizeof *p->keys);
      free (p->keys);
    }
  memset (p, 0, sizeof *p);
}

/* SkipMessageKeys into p: advances ck (in place) from index from to until,
 * recording each message key under dh. */
static int
pending_skip (struct pending *p,
              const uint8_t dh[KEY_LEN],
              uint8_t ck[KEY_LEN],
              uint32_t from,
              uint32_t until)
{
  int ret;

  for (uint32_t n = from; n < until; n++)
    {
      struct skipped *e;

      if (p->count == p->cap)
        return SC_ERR_INVALID; /* sized by the caller; cannot happen */
      e = &p->keys[p->count];
      ret = sc_dr_kdf_ck (ck, ck, e->mk);
      if (ret != SC_OK)
        return ret;
      memcpy (e->dh, dh, KEY_LEN);
      e->n = n;
      p->count++;
    }
  return SC_OK;
}

/* Room for cap skipped keys, and r's store for them to be committed to,
 * so that pending_commit cannot fail. */
static int
pending_alloc (struct sc_ratchet *r, struct pending *p, size_t cap)
{
  memset (p, 0, sizeof *p);
  if (cap == 0)
    return SC_OK;
  p->keys = calloc (cap, sizeof *p->keys);
  if (p->keys == NULL)
    return SC_ERR_NOMEM;
  p->cap = cap;
  return sk_reserve (r);
}

/* Whether the store holds any key of chain dh. */
static bool
sk_has_chain (const struct sc_ratchet *r, const uint8_t dh[KEY_LEN])
{
  for (size_t i = 0; i < r->sk_count; i++)
    if (memcmp (sk_at (r, i)->dh, dh, KEY_LEN) == 0)
      return true;
  return false;
}

static void
pending_commit (struct sc_ratchet *r, const struct pending *p)
{
  /* Only the newest SC_DR_MAX_STORED_KEYS can survive the FIFO anyway. */
  size_t first =
      p->count > SC_DR_MAX_STORED_KEYS ? p->count - SC_DR_MAX_STORED_KEYS : 0;
  const uint8_t *chain = NULL;
  bool stale = false;

  for (size_t i = first; i < p->count; i++)
    {
      /* A peer may come back to a ratchet key of a chain we no longer
       * remember but still hold skipped keys of: its new keys replace
       * those, so that the store never has two keys for one (DH, N) (the
       * serializer's one encoding per state). The keys come grouped by
       * chain, so each chain is looked for once. */
      if (chain == NULL || memcmp (chain, p->keys[i].dh, KEY_LEN) != 0)
        {
          chain = p->keys[i].dh;
          stale = sk_has_chain (r, chain);
        }
      if (stale)
        {
          long at = sk_find (r, p->keys[i].dh, p->keys[i].n);

          if (at >= 0)
            sk_remove (r, (size_t) at);
        }
      sk_push (r, &p->keys[i]);
    }
}

/* ---- State --------------------------------------------------------------- */

void
sc_ratchet_free (struct sc_ratchet *r)
{
  if (r == NULL)
    return;
  if (r->skipped != NULL)
    {
      sc_wipe (r->skipped, SC_DR_MAX_STORED_KEYS * sizeof *r->skipped);
      free (r->skipped);
    }
  sc_wipe (r, sizeof *r);
  free (r);
}

static int
ratchet_new (const struct sc_dr_labels *l,
             const uint8_t *ad,
             size_t ad_len,
             struct sc_ratchet **out)
{
  struct sc_ratchet *r;

  if (!labels_ok (l) || (ad == NULL && ad_len > 0))
    return SC_ERR_INVALID;
  if (ad_len > SC_DR_AD_MAX)
    return SC_ERR_TOO_LARGE;
  r = calloc (1, sizeof *r);
  if (r == NULL)
    return SC_ERR_NOMEM;
  r->labels = l;
  if (ad_len > 0)
    memcpy (r->ad, ad, ad_len);
  r->ad_len = ad_len;
  *out = r;
  return SC_OK;
}

/* RatchetInitAlice with the given first ratchet key pair. */
static int
init_alice (const struct sc_dr_labels *l,
            const uint8_t sk[32],
            const uint8_t bob_dh_pub[32],
            const uint8_t dh_priv[32],
            const uint8_t *ad,
            size_t ad_len,
            struct sc_ratchet **out)
{
  struct sc_ratchet *r = NULL;
  uint8_t dh_out[KEY_LEN];
  int ret;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || sk == NULL || bob_dh_pub == NULL)
    return SC_ERR_INVALID;
  ret = ratchet_new (l, ad, ad_len, &r);
  if (ret != SC_OK)
    return ret;
  if (dh_priv != NULL)
    {
      memcpy (r->dhs_priv, dh_priv, KEY_LEN);
      ret = sc_x25519_public (r->dhs_priv, r->dhs_pub);
    }
  else
    ret = sc_x25519_keypair (r->dhs_priv, r->dhs_pub);
  if (ret == SC_OK)
    ret = sc_x25519 (dh_out, r->dhs_priv, bob_dh_pub);
  if (ret == SC_OK)
    ret = sc_dr_kdf_rk (l, sk, dh_out, r->rk, r->cks);
  sc_wipe (dh_out, sizeof dh_out);
  if (ret != SC_OK)
    {
      sc_ratchet_free (r);
      return ret;
    }
  memcpy (r->dhr, bob_dh_pub, KEY_LEN);
  r->has_dhr = true;
  r->has_cks = true;
  *out = r;
  return SC_OK;
}

int
sc_ratchet_init_alice (const struct sc_dr_labels *l,
                       const uint8_t sk[32],
                       const uint8_t bob_dh_pub[32],
                       const uint8_t *ad,
                       size_t ad_len,
                       struct sc_ratchet **out)
{
  return init_alice (l, sk, bob_dh_pub, NULL, ad, ad_len, out);
}

#ifdef SC_NOISE_TESTING
int
sc_ratchet_init_alice_fixed (const struct sc_dr_labels *l,
                             const uint8_t sk[32],
                             const uint8_t bob_dh_pub[32],
                             const uint8_t dh_priv[32],
                             const uint8_t *ad,
                             size_t ad_len,
                             struct sc_ratchet **out)
{
  if (dh_priv == NULL)
    {
      if (out != NULL)
        *out = NULL;
      return SC_ERR_INVALID;
    }
  return init_alice (l, sk, bob_dh_pub, dh_priv, ad, ad_len, out);
}
#endif

int
sc_ratchet_init_bob (const struct sc_dr_labels *l,
                     const uint8_t sk[32],
                     const uint8_t bob_dh_priv[32],
                     const uint8_t *ad,
                     size_t ad_len,
                     struct sc_ratchet **out)
{
  struct sc_ratchet *r = NULL;
  int ret;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || sk == NULL || bob_dh_priv == NULL)
    return SC_ERR_INVALID;
  ret = ratchet_new (l, ad, ad_len, &r);
  if (ret != SC_OK)
    return ret;
  memcpy (r->dhs_priv, bob_dh_priv, KEY_LEN);
  ret = sc_x25519_public (r->dhs_priv, r->dhs_pub);
  if (ret != SC_OK)
    {
      sc_ratchet_free (r);
      return ret;
    }
  memcpy (r->rk, sk, KEY_LEN);
  *out = r;
  return SC_OK;
}

int
sc_ratchet_has_received (const struct sc_ratchet *r)
{
  return r != NULL && r->has_received;
}

size_t
sc_ratchet_stored_keys (const struct sc_ratchet *r)
{
  return r != NULL ? r->sk_count : 0;
}

/* a = BE16 len(AD) || AD || prefix || header, malloc'd. */
static int
build_ad (const struct sc_ratchet *r,
          const uint8_t *prefix,
          size_t prefix_len,
          const uint8_t header[SC_DR_HEADER_LEN],
          uint8_t **a,
          size_t *a_len)
{
  size_t len = 2 + r->ad_len + prefix_len + SC_DR_HEADER_LEN;
  uint8_t *buf = malloc (len);
  uint8_t *p = buf;

  if (buf == NULL)
    return SC_ERR_NOMEM;
  put_be16 (p, (uint16_t) r->ad_len);
  p += 2;
  if (r->ad_len > 0)
    memcpy (p, r->ad, r->ad_len);
  p += r->ad_len;
  if (prefix_len > 0)
    memcpy (p, prefix, prefix_len);
  p += prefix_len;
  memcpy (p, header, SC_DR_HEADER_LEN);
  *a = buf;
  *a_len = len;
  return SC_OK;
}

int
sc_ratchet_encrypt (struct sc_ratchet *r,
                    const uint8_t *prefix,
                    size_t prefix_len,
                    const uint8_t *pt,
                    size_t len,
                    uint8_t **msg,
                    size_t *msg_len)
{
  uint8_t header[SC_DR_HEADER_LEN];
  uint8_t ck_next[KEY_LEN], mk[KEY_LEN];
  uint8_t *a = NULL, *ct = NULL, *out = NULL;
  size_t a_len = 0, ct_len = 0;
  int ret;

  if (msg != NULL)
    *msg = NULL;
  if (msg_len != NULL)
    *msg_len = 0;
  if (r == NULL || msg == NULL || msg_len == NULL ||
      (prefix == NULL && prefix_len > 0) || (pt == NULL && len > 0))
    return SC_ERR_INVALID;
  if (prefix_len > SC_DR_PREFIX_MAX || len > PT_MAX)
    return SC_ERR_TOO_LARGE;
  /* Bob has no sending chain until Alice's first message arrives. */
  if (!r->has_cks)
    return SC_ERR_STATE;
  /* N travels as 32 bits and 2^32 - 1 is never sent (the receiver's Nr
   * would not fit). */
  if (r->ns == UINT32_MAX)
    return SC_ERR_NONCE_EXHAUSTED;

  ret = sc_dr_kdf_ck (r->cks, ck_next, mk);
  if (ret != SC_OK)
    goto out;
  memcpy (header, r->dhs_pub, KEY_LEN);
  put_be32 (header + KEY_LEN, r->pn);
  put_be32 (header + KEY_LEN + 4, r->ns);
  ret = build_ad (r, prefix, prefix_len, header, &a, &a_len);
  if (ret == SC_OK)
    ret = sc_dr_encrypt (r->labels, mk, a, a_len, pt, len, &ct, &ct_len);
  if (ret != SC_OK)
    goto out;
  out = malloc (prefix_len + SC_DR_HEADER_LEN + ct_len);
  if (out == NULL)
    {
      ret = SC_ERR_NOMEM;
      goto out;
    }
  if (prefix_len > 0)
    memcpy (out, prefix, prefix_len);
  memcpy (out + prefix_len, header, SC_DR_HEADER_LEN);
  memcpy (out + prefix_len + SC_DR_HEADER_LEN, ct, ct_len);
  *msg = out;
  *msg_len = prefix_len + SC_DR_HEADER_LEN + ct_len;
  memcpy (r->cks, ck_next, KEY_LEN);
  r->ns++;

out:
  free (a);
  free (ct);
  sc_wipe (ck_next, sizeof ck_next);
  sc_wipe (mk, sizeof mk);
  return ret;
}

/* ---- RatchetDecrypt ----------------------------------------------------- */

/* The new values a decryption commits. */
struct next
{
  uint8_t rk[KEY_LEN];
  uint8_t ckr[KEY_LEN];
  uint8_t cks[KEY_LEN];
  uint8_t dhs_priv[KEY_LEN];
  uint8_t dhs_pub[KEY_LEN];
  uint8_t mk[KEY_LEN];
  uint8_t dh_out[KEY_LEN];
};

/* header.dh == DHr: the current receiving chain. */
static int
decrypt_current (struct sc_ratchet *r,
                 const uint8_t *a,
                 size_t a_len,
                 const uint8_t *c,
                 size_t c_len,
                 uint32_t n,
                 struct next *nx,
                 uint8_t **pt,
                 size_t *pt_len)
{
  struct pending p;
  int ret;

  /* Alice's DHr is Bob's prekey until his first reply; nothing is ever
   * sent on it. */
  if (!r->has_ckr)
    return SC_ERR_DECRYPT;
  if (n < r->nr)
    return SC_ERR_DUPLICATE;
  if (n - r->nr > SC_DR_MAX_SKIP)
    return SC_ERR_TOO_FAR;
  ret = pending_alloc (r, &p, n - r->nr);
  if (ret != SC_OK)
    goto out;
  memcpy (nx->ckr, r->ckr, KEY_LEN);
  ret = pending_skip (&p, r->dhr, nx->ckr, r->nr, n);
  if (ret == SC_OK)
    ret = sc_dr_kdf_ck (nx->ckr, nx->ckr, nx->mk);
  if (ret == SC_OK)
    ret = sc_dr_decrypt (r->labels, nx->mk, a, a_len, c, c_len, pt, pt_len);
  if (ret != SC_OK)
    goto out;

  pending_commit (r, &p);
  memcpy (r->ckr, nx->ckr, KEY_LEN);
  r->nr = n + 1;

out:
  pending_clear (&p);
  return ret;
}

/* header.dh is new: SkipMessageKeys(PN), DHRatchet, SkipMessageKeys(N). */
static int
decrypt_new_chain (struct sc_ratchet *r,
                   const uint8_t *a,
                   size_t a_len,
                   const uint8_t *c,
                   size_t c_len,
                   const uint8_t dh[KEY_LEN],
                   uint32_t pn,
                   uint32_t n,
                   struct next *nx,
                   uint8_t **pt,
                   size_t *pt_len)
{
  struct pending p;
  uint8_t ck_old[KEY_LEN] = { 0 };
  uint32_t skip_old = 0;
  int ret;

  /* Both bounds before any derivation (SkipMessageKeys raises when
   * Nr + MAX_SKIP < until, also without a receiving chain). */
  if ((uint64_t) pn > (uint64_t) r->nr + SC_DR_MAX_SKIP || n > SC_DR_MAX_SKIP)
    return SC_ERR_TOO_FAR;
  if (r->has_ckr && pn > r->nr)
    skip_old = pn - r->nr;
  ret = pending_alloc (r, &p, (size_t) skip_old + n);
  if (ret != SC_OK)
    goto out;

  if (skip_old > 0)
    {
      memcpy (ck_old, r->ckr, KEY_LEN);
      ret = pending_skip (&p, r->dhr, ck_old, r->nr, pn);
      if (ret != SC_OK)
        goto out;
    }
  /* DHRatchet. A low-order header key fails here (SC_ERR_DH). */
  ret = sc_x25519 (nx->dh_out, r->dhs_priv, dh);
  if (ret == SC_OK)
    ret = sc_dr_kdf_rk (r->labels, r->rk, nx->dh_out, nx->rk, nx->ckr);
  if (ret == SC_OK)
    ret = sc_x25519_keypair (nx->dhs_priv, nx->dhs_pub);
  if (ret == SC_OK)
    ret = sc_x25519 (nx->dh_out, nx->dhs_priv, dh);
  if (ret == SC_OK)
    ret = sc_dr_kdf_rk (r->labels, nx->rk, nx->dh_out, nx->rk, nx->cks);
  if (ret == SC_OK)
    ret = pending_skip (&p, dh, nx->ckr, 0, n);
  if (ret == SC_OK)
    ret = sc_dr_kdf_ck (nx->ckr, nx->ckr, nx->mk);
  if (ret == SC_OK)
    ret = sc_dr_decrypt (r->labels, nx->mk, a, a_len, c, c_len, pt, pt_len);
  if (ret != SC_OK)
    goto out;

  /* Commit. */
  if (r->has_ckr)
    old_push (r, r->dhr, r->nr > pn ? r->nr : pn);
  pending_commit (r, &p);
  r->pn = r->ns;
  r->ns = 0;
  r->nr = n + 1;
  memcpy (r->dhr, dh, KEY_LEN);
  memcpy (r->rk, nx->rk, KEY_LEN);
  memcpy (r->ckr, nx->ckr, KEY_LEN);
  memcpy (r->cks, nx->cks, KEY_LEN);
  memcpy (r->dhs_priv, nx->dhs_priv, KEY_LEN);
  memcpy (r->dhs_pub, nx->dhs_pub, KEY_LEN);
  r->has_dhr = true;
  r->has_ckr = true;
  r->has_cks = true;

out:
  sc_wipe (ck_old, sizeof ck_old);
  pending_clear (&p);
  return ret;
}

int
sc_ratchet_decrypt (struct sc_ratchet *r,
                    const uint8_t *msg,
                    size_t msg_len,
                    size_t prefix_len,
                    uint8_t **pt,
                    size_t *pt_len)
{
  struct next nx;
  const uint8_t *header, *c;
  const struct old_chain *old;
  uint8_t *a = NULL;
  size_t a_len = 0, c_len;
  uint32_t pn, n;
  long idx;
  int ret;

  if (pt != NULL)
    *pt = NULL;
  if (pt_len != NULL)
    *pt_len = 0;
  if (r == NULL || pt == NULL || pt_len == NULL || (msg == NULL && msg_len > 0))
    return SC_ERR_INVALID;
  if (prefix_len > SC_DR_PREFIX_MAX)
    return SC_ERR_TOO_LARGE;
  if (msg_len < prefix_len + SC_DR_HEADER_LEN + AES_BLOCK + r->labels->mac_len)
    return SC_ERR_TRUNCATED;
  header = msg + prefix_len;
  c = header + SC_DR_HEADER_LEN;
  c_len = msg_len - prefix_len - SC_DR_HEADER_LEN;
  ret = check_ct_len (c_len, r->labels->mac_len);
  if (ret != SC_OK)
    return ret;
  pn = get_be32 (header + KEY_LEN);
  n = get_be32 (header + KEY_LEN + 4);
  /* A sender stops before N = 2^32 - 1 (Nr would not fit). */
  if (n == UINT32_MAX)
    return SC_ERR_PROTOCOL;

  memset (&nx, 0, sizeof nx);
  ret = build_ad (r, msg, prefix_len, header, &a, &a_len);
  if (ret != SC_OK)
    goto out;

  /* TrySkippedMessageKeys. */
  idx = sk_find (r, header, n);
  if (idx >= 0)
    {
      ret = sc_dr_decrypt (r->labels, sk_at (r, (size_t) idx)->mk, a, a_len, c,
                           c_len, pt, pt_len);
      if (ret == SC_OK)
        sk_remove (r, (size_t) idx);
    }
  else if (r->has_dhr && memcmp (header, r->dhr, KEY_LEN) == 0)
    ret = decrypt_current (r, a, a_len, c, c_len, n, &nx, pt, pt_len);
  else if ((old = old_find (r, header)) != NULL)
    /* A past chain: its keys below nr were used or are gone; nothing was
     * ever sent beyond it. */
    ret = n < old->nr ? SC_ERR_DUPLICATE : SC_ERR_DECRYPT;
  else
    ret = decrypt_new_chain (r, a, a_len, c, c_len, header, pn, n, &nx, pt,
                             pt_len);
  if (ret == SC_OK)
    r->has_received = true;

out:
  free (a);
  sc_wipe (&nx, sizeof nx);
  return ret;
}

/* ---- Serialization ------------------------------------------------------- */

int
sc_ratchet_serialize (const struct sc_ratchet *r,
                      uint8_t **out,
                      size_t *out_len)
{
  uint8_t *buf, *p;
  size_t len;
  unsigned flags = 0;

  if (out != NULL)
    *out = NULL;
  if (out_len != NULL)
    *out_len = 0;
  if (r == NULL || out == NULL || out_len == NULL)
    return SC_ERR_INVALID;
  len = SER_FIXED + r->ad_len + 1 + r->n_old * SER_OLD + 2 +
        r->sk_count * SER_SKIPPED;
  buf = malloc (len);
  if (buf == NULL)
    return SC_ERR_NOMEM;

  if (r->has_dhr)
    flags |= F_DHR;
  if (r->has_cks)
    flags |= F_CKS;
  if (r->has_ckr)
    flags |= F_CKR;
  if (r->has_received)
    flags |= F_RECEIVED;

  p = buf;
  memcpy (p, SER_MAGIC, 4);
  p += 4;
  *p++ = SER_VERSION;
  *p++ = (uint8_t) flags;
  memcpy (p, r->dhs_priv, KEY_LEN);
  p += KEY_LEN;
  memcpy (p, r->dhs_pub, KEY_LEN);
  p += KEY_LEN;
  memcpy (p, r->dhr, KEY_LEN);
  p += KEY_LEN;
  memcpy (p, r->rk, KEY_LEN);
  p += KEY_LEN;
  memcpy (p, r->cks, KEY_LEN);
  p += KEY_LEN;
  memcpy (p, r->ckr, KEY_LEN);
  p += KEY_LEN;
  put_be32 (p, r->ns);
  p += 4;
  put_be32 (p, r->nr);
  p += 4;
  put_be32 (p, r->pn);
  p += 4;
  put_be16 (p, (uint16_t) r->ad_len);
  p += 2;
  if (r->ad_len > 0)
    memcpy (p, r->ad, r->ad_len);
  p += r->ad_len;
  *p++ = (uint8_t) r->n_old;
  for (size_t i = 0; i < r->n_old; i++)
    {
      memcpy (p, r->old[i].dh, KEY_LEN);
      put_be32 (p + KEY_LEN, r->old[i].nr);
      p += SER_OLD;
    }
  put_be16 (p, (uint16_t) r->sk_count);
  p += 2;
  for (size_t i = 0; i < r->sk_count; i++)
    {
      const struct skipped *e = sk_at (r, i);
      memcpy (p, e->dh, KEY_LEN);
      put_be32 (p + KEY_LEN, e->n);
      memcpy (p + KEY_LEN + 4, e->mk, KEY_LEN);
      p += SER_SKIPPED;
    }
  *out = buf;
  *out_len = len;
  return SC_OK;
}

/* A bounded reader: every getter checks the remaining length first. */
struct reader
{
  const uint8_t *p;
  size_t left;
};

static const uint8_t *
take (struct reader *rd, size_t n)
{
  const uint8_t *p = rd->p;

  if (rd->left < n)
    return NULL;
  rd->p += n;
  rd->left -= n;
  return p;
}

static int
parse_state (struct sc_ratchet *r, const uint8_t *in, size_t len)
{
  struct reader rd = { in, len };
  const uint8_t *p;
  uint8_t pub[KEY_LEN];
  unsigned flags;
  size_t n_old, n_sk;
  int ret;

  p = take (&rd, SER_FIXED);
  if (p == NULL)
    return SC_ERR_TRUNCATED;
  if (memcmp (p, SER_MAGIC, 4) != 0)
    return SC_ERR_FIELD;
  if (p[4] != SER_VERSION)
    return SC_ERR_UNSUPPORTED;
  flags = p[5];
  p += 6;
  if ((flags & ~F_ALL) != 0)
    return SC_ERR_FIELD;
  r->has_dhr = (flags & F_DHR) != 0;
  r->has_cks = (flags & F_CKS) != 0;
  r->has_ckr = (flags & F_CKR) != 0;
  r->has_received = (flags & F_RECEIVED) != 0;
  memcpy (r->dhs_priv, p, KEY_LEN);
  memcpy (r->dhs_pub, p + KEY_LEN, KEY_LEN);
  memcpy (r->dhr, p + 2 * KEY_LEN, KEY_LEN);
  memcpy (r->rk, p + 3 * KEY_LEN, KEY_LEN);
  memcpy (r->cks, p + 4 * KEY_LEN, KEY_LEN);
  memcpy (r->ckr, p + 5 * KEY_LEN, KEY_LEN);
  p += 6 * KEY_LEN;
  r->ns = get_be32 (p);
  r->nr = get_be32 (p + 4);
  r->pn = get_be32 (p + 8);
  r->ad_len = get_be16 (p + 12);

  /* Only the shapes the ratchet itself produces: Bob before his first
   * message (no DHr, no chains), Alice before a reply (DHr, CKs), and
   * anyone after a DH ratchet step (all three, having received). */
  if ((r->has_cks || r->has_ckr) && !r->has_dhr)
    return SC_ERR_FIELD;
  if (r->has_dhr && !r->has_cks)
    return SC_ERR_FIELD;
  if (r->has_received != r->has_ckr)
    return SC_ERR_FIELD;
  if ((!r->has_dhr && !all_zero (r->dhr, KEY_LEN)) ||
      (!r->has_cks &&
       (!all_zero (r->cks, KEY_LEN) || r->ns != 0 || r->pn != 0)) ||
      (!r->has_ckr && (!all_zero (r->ckr, KEY_LEN) || r->nr != 0)))
    return SC_ERR_FIELD;
  ret = sc_x25519_public (r->dhs_priv, pub);
  if (ret != SC_OK)
    return ret;
  if (!sc_memeq (pub, r->dhs_pub, KEY_LEN))
    return SC_ERR_FIELD;

  if (r->ad_len > SC_DR_AD_MAX)
    return SC_ERR_TOO_LARGE;
  p = take (&rd, r->ad_len);
  if (p == NULL)
    return SC_ERR_TRUNCATED;
  if (r->ad_len > 0)
    memcpy (r->ad, p, r->ad_len);

  p = take (&rd, 1);
  if (p == NULL)
    return SC_ERR_TRUNCATED;
  n_old = p[0];
  if (n_old > OLD_CHAINS_MAX)
    return SC_ERR_TOO_LARGE;
  if (n_old > 0 && !r->has_ckr)
    return SC_ERR_FIELD;
  for (size_t i = 0; i < n_old; i++)
    {
      p = take (&rd, SER_OLD);
      if (p == NULL)
        return SC_ERR_TRUNCATED;
      if (old_find (r, p) != NULL || memcmp (p, r->dhr, KEY_LEN) == 0)
        return SC_ERR_FIELD;
      memcpy (r->old[i].dh, p, KEY_LEN);
      r->old[i].nr = get_be32 (p + KEY_LEN);
      r->n_old = i + 1;
    }

  p = take (&rd, 2);
  if (p == NULL)
    return SC_ERR_TRUNCATED;
  n_sk = get_be16 (p);
  if (n_sk > SC_DR_MAX_STORED_KEYS)
    return SC_ERR_TOO_LARGE;
  if (n_sk > 0 && !r->has_ckr)
    return SC_ERR_FIELD;
  if (rd.left < n_sk * SER_SKIPPED)
    return SC_ERR_TRUNCATED;
  if (rd.left > n_sk * SER_SKIPPED)
    return SC_ERR_FIELD; /* trailing bytes */
  if (n_sk > 0)
    {
      ret = sk_reserve (r);
      if (ret != SC_OK)
        return ret;
    }
  for (size_t i = 0; i < n_sk; i++)
    {
      struct skipped e;

      /* The length was checked above; the test keeps the compiler's
       * null-dereference analysis (and any later edit) honest. */
      p = take (&rd, SER_SKIPPED);
      if (p == NULL)
        return SC_ERR_TRUNCATED;
      memcpy (e.dh, p, KEY_LEN);
      e.n = get_be32 (p + KEY_LEN);
      memcpy (e.mk, p + KEY_LEN + 4, KEY_LEN);
      if (sk_find (r, e.dh, e.n) >= 0)
        ret = SC_ERR_FIELD;
      else
        sk_push (r, &e);
      sc_wipe (&e, sizeof e);
      if (ret != SC_OK)
        return ret;
    }
  return SC_OK;
}

int
sc_ratchet_deserialize (const struct sc_dr_labels *l,
                        const uint8_t *in,
                        size_t len,
                        struct sc_ratchet **out)
{
  struct sc_ratchet *r = NULL;
  int ret;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || (in == NULL && len > 0))
    return SC_ERR_INVALID;
  ret = ratchet_new (l, NULL, 0, &r);
  if (ret != SC_OK)
    return ret;
  ret = parse_state (r, in, len);
  if (ret != SC_OK)
    {
      sc_ratchet_free (r);
      return ret;
    }
  *out = r;
  return SC_OK;
}
