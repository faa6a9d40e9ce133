/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Noise Protocol Framework, revision 34 (noiseprotocol.org/noise.html):
 * CipherState (§5.1), SymmetricState (§5.2) and HandshakeState (§5.3) for
 * the fundamental patterns (§7.4, §7.5) over 25519, AESGCM / ChaChaPoly and
 * SHA256 / SHA512 / BLAKE2s / BLAKE2b. HKDF is the HMAC construction of §4.3.
 *
 * Each CipherState keeps its key and, while it is in use, one
 * EVP_CIPHER_CTX keyed once, so that a message only sets the nonce. An
 * OpenSSL context is over a kilobyte; a server holding thousands of idle
 * connections sheds them (sc_noise_cipher_shed) and keys a new one on the
 * next message. Secrets (k, the EVP context, ck, private keys, DH outputs)
 * are wiped on free, on Split() and on every failure. */
#include "securechat/noise.h"

#ifdef SC_NOISE_TESTING
#include "securechat/noise-testing.h"
#endif

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "securechat/error.h"

#define DHLEN    SC_X25519_LEN
#define KEYLEN   32
#define TAGLEN   SC_NOISE_TAG_LEN
#define NONCELEN 12
/* §8: protocol names are at most 255 bytes. */
#define MAX_NAME_LEN 255
#define MAX_TOKENS   6
#define MAX_MESSAGES 3

/* ---- Protocol tables ---------------------------------------------------- */

enum token
{
  TOK_END = 0,
  TOK_E,
  TOK_S,
  TOK_EE,
  TOK_ES,
  TOK_SE,
  TOK_SS,
};

struct pattern
{
  const char *name;
  bool init_pre_s; /* pre-message "-> s" */
  bool resp_pre_s; /* pre-message "<- s" */
  unsigned n_messages;
  /* messages[i] is sent by the initiator for even i; TOK_END-terminated. */
  uint8_t messages[MAX_MESSAGES][MAX_TOKENS];
};

/* §7.4 (one-way) and §7.5 (interactive) of revision 34. */
static const struct pattern patterns[] = {
  { "N", false, true, 1, { { TOK_E, TOK_ES } } },
  { "K", true, true, 1, { { TOK_E, TOK_ES, TOK_SS } } },
  { "X", false, true, 1, { { TOK_E, TOK_ES, TOK_S, TOK_SS } } },
  { "NN", false, false, 2, { { TOK_E }, { TOK_E, TOK_EE } } },
  { "NK", false, true, 2, { { TOK_E, TOK_ES }, { TOK_E, TOK_EE } } },
  { "NX", false, false, 2, { { TOK_E }, { TOK_E, TOK_EE, TOK_S, TOK_ES } } },
  { "XN",
    false,
    false,
    3,
    { { TOK_E }, { TOK_E, TOK_EE }, { TOK_S, TOK_SE } } },
  { "XK",
    false,
    true,
    3,
    { { TOK_E, TOK_ES }, { TOK_E, TOK_EE }, { TOK_S, TOK_SE } } },
  { "XX",
    false,
    false,
    3,
    { { TOK_E }, { TOK_E, TOK_EE, TOK_S, TOK_ES }, { TOK_S, TOK_SE } } },
  { "KN", true, false, 2, { { TOK_E }, { TOK_E, TOK_EE, TOK_SE } } },
  { "KK",
    true,
    true,
    2,
    { { TOK_E, TOK_ES, TOK_SS }, { TOK_E, TOK_EE, TOK_SE } } },
  { "KX",
    true,
    false,
    2,
    { { TOK_E }, { TOK_E, TOK_EE, TOK_SE, TOK_S, TOK_ES } } },
  { "IN", false, false, 2, { { TOK_E, TOK_S }, { TOK_E, TOK_EE, TOK_SE } } },
  { "IK",
    false,
    true,
    2,
    { { TOK_E, TOK_ES, TOK_S, TOK_SS }, { TOK_E, TOK_EE, TOK_SE } } },
  { "IX",
    false,
    false,
    2,
    { { TOK_E, TOK_S }, { TOK_E, TOK_EE, TOK_SE, TOK_S, TOK_ES } } },
};

struct cipher_desc
{
  const char *noise_name;
  const char *evp_name;
  enum sc_aead_alg alg;
};

static const struct cipher_desc ciphers[] = {
  { "AESGCM", "AES-256-GCM", SC_AEAD_AES256GCM },
  { "ChaChaPoly", "ChaCha20-Poly1305", SC_AEAD_CHACHAPOLY },
};

struct hash_desc
{
  const char *noise_name;
  const char *evp_name;
  size_t len;
};

static const struct hash_desc hashes[] = {
  { "SHA256", "SHA256", 32 },
  { "SHA512", "SHA512", 64 },
  { "BLAKE2s", "BLAKE2S-256", 32 },
  { "BLAKE2b", "BLAKE2B-512", 64 },
};

/* ---- CipherState (§5.1) ------------------------------------------------- */

struct sc_noise_cipher
{
  uint8_t k[KEYLEN];
  EVP_CIPHER_CTX *ctx; /* keyed with k, or NULL until the next use */
  enum sc_aead_alg alg;
  uint64_t n;
  bool has_k;
  bool dead; /* exhausted or broken: refuses everything */
};

static const char *
cipher_evp_name (enum sc_aead_alg alg)
{
  for (size_t i = 0; i < sizeof ciphers / sizeof ciphers[0]; i++)
    if (ciphers[i].alg == alg)
      return ciphers[i].evp_name;
  return NULL;
}

/* Forgets the key: the EVP context is freed, which cleanses its key
 * schedule. */
static void
cipher_clear (struct sc_noise_cipher *c)
{
  EVP_CIPHER_CTX_free (c->ctx);
  c->ctx = NULL;
  sc_wipe (c->k, sizeof c->k);
  c->has_k = false;
}

static void
cipher_kill (struct sc_noise_cipher *c)
{
  cipher_clear (c);
  c->dead = true;
}

/* The keyed EVP context, made from k when there is none. */
static int
cipher_ctx (struct sc_noise_cipher *c)
{
  const char *name;
  EVP_CIPHER *evp;
  int ok;

  if (c->ctx != NULL)
    return SC_OK;
  name = cipher_evp_name (c->alg);
  if (name == NULL)
    return SC_ERR_INVALID;
  c->ctx = EVP_CIPHER_CTX_new ();
  if (c->ctx == NULL)
    return SC_ERR_NOMEM;
  evp = EVP_CIPHER_fetch (NULL, name, NULL);
  ok = evp != NULL &&
       EVP_CipherInit_ex (c->ctx, evp, NULL, NULL, NULL, 1) == 1 &&
       EVP_CIPHER_CTX_ctrl (c->ctx, EVP_CTRL_AEAD_SET_IVLEN, NONCELEN, NULL) ==
           1 &&
       EVP_CipherInit_ex (c->ctx, NULL, NULL, c->k, NULL, -1) == 1;
  /* The context holds its own reference. */
  EVP_CIPHER_free (evp);
  if (!ok)
    {
      EVP_CIPHER_CTX_free (c->ctx);
      c->ctx = NULL;
      return SC_ERR_CRYPTO;
    }
  return SC_OK;
}

/* Sets k; n is left alone so that REKEY can reuse this. A context in use
 * is keyed again at once. */
static int
cipher_set_key (struct sc_noise_cipher *c, const uint8_t k[KEYLEN])
{
  memcpy (c->k, k, KEYLEN);
  c->has_k = true;
  if (c->ctx != NULL &&
      EVP_CipherInit_ex (c->ctx, NULL, NULL, k, NULL, -1) != 1)
    {
      cipher_clear (c);
      return SC_ERR_CRYPTO;
    }
  return SC_OK;
}

/* §12.3, §12.4: 32 bits of zeros, then the 64-bit counter, big-endian for
 * AESGCM and little-endian for ChaChaPoly. */
static void
make_nonce (enum sc_aead_alg alg, uint64_t n, uint8_t iv[NONCELEN])
{
  memset (iv, 0, 4);
  for (unsigned i = 0; i < 8; i++)
    {
      uint8_t b = (uint8_t) (n >> (8 * i));
      if (alg == SC_AEAD_AES256GCM)
        iv[11 - i] = b;
      else
        iv[4 + i] = b;
    }
}

/* Starts one operation (enc 1 or 0) with nonce n and feeds the AD. */
static int
cipher_begin (struct sc_noise_cipher *c,
              uint64_t n,
              int enc,
              const uint8_t *ad,
              size_t ad_len)
{
  uint8_t iv[NONCELEN];
  int outl = 0;

  if (cipher_ctx (c) != SC_OK)
    return SC_ERR_CRYPTO;
  make_nonce (c->alg, n, iv);
  if (EVP_CipherInit_ex (c->ctx, NULL, NULL, NULL, iv, enc) != 1)
    return SC_ERR_CRYPTO;
  if (ad_len > 0 &&
      EVP_CipherUpdate (c->ctx, NULL, &outl, ad, (int) ad_len) != 1)
    return SC_ERR_CRYPTO;
  return SC_OK;
}

/* ENCRYPT(k, n, ad, pt): out receives len + 16 bytes. */
static int
cipher_seal (struct sc_noise_cipher *c,
             uint64_t n,
             const uint8_t *ad,
             size_t ad_len,
             const uint8_t *pt,
             size_t len,
             uint8_t *out)
{
  int outl = 0;

  if (cipher_begin (c, n, 1, ad, ad_len) != SC_OK)
    return SC_ERR_CRYPTO;
  if (len > 0 && (EVP_CipherUpdate (c->ctx, out, &outl, pt, (int) len) != 1 ||
                  (size_t) outl != len))
    return SC_ERR_CRYPTO;
  if (EVP_CipherFinal_ex (c->ctx, out + len, &outl) != 1 || outl != 0)
    return SC_ERR_CRYPTO;
  if (EVP_CIPHER_CTX_ctrl (c->ctx, EVP_CTRL_AEAD_GET_TAG, TAGLEN, out + len) !=
      1)
    return SC_ERR_CRYPTO;
  return SC_OK;
}

/* DECRYPT(k, n, ad, in): out receives len - 16 bytes, wiped on failure.
 * SC_ERR_DECRYPT for a bad tag, SC_ERR_CRYPTO when OpenSSL itself fails. */
static int
cipher_open (struct sc_noise_cipher *c,
             uint64_t n,
             const uint8_t *ad,
             size_t ad_len,
             const uint8_t *in,
             size_t len,
             uint8_t *out)
{
  uint8_t tag[TAGLEN];
  size_t ct_len = len - TAGLEN;
  int outl = 0;
  int ret = SC_ERR_CRYPTO;

  memcpy (tag, in + ct_len, TAGLEN);
  if (cipher_begin (c, n, 0, ad, ad_len) != SC_OK)
    goto out;
  if (ct_len > 0 &&
      (EVP_CipherUpdate (c->ctx, out, &outl, in, (int) ct_len) != 1 ||
       (size_t) outl != ct_len))
    goto out;
  if (EVP_CIPHER_CTX_ctrl (c->ctx, EVP_CTRL_AEAD_SET_TAG, TAGLEN, tag) != 1)
    goto out;
  /* The AEAD modes write nothing at Final; it checks the tag. */
  if (EVP_CipherFinal_ex (c->ctx, tag, &outl) != 1 || outl != 0)
    {
      ret = SC_ERR_DECRYPT;
      goto out;
    }
  ret = SC_OK;

out:
  if (ret != SC_OK && out != NULL)
    sc_wipe (out, ct_len);
  return ret;
}

static struct sc_noise_cipher *
cipher_new (enum sc_aead_alg alg, const uint8_t k[KEYLEN], int *err)
{
  struct sc_noise_cipher *c = calloc (1, sizeof *c);

  if (c == NULL)
    {
      *err = SC_ERR_NOMEM;
      return NULL;
    }
  c->alg = alg;
  *err = cipher_set_key (c, k);
  if (*err != SC_OK)
    {
      sc_noise_cipher_free (c);
      return NULL;
    }
  return c;
}

int
sc_noise_cipher_encrypt (struct sc_noise_cipher *c,
                         const uint8_t *ad,
                         size_t ad_len,
                         const uint8_t *pt,
                         size_t len,
                         uint8_t *out)
{
  int ret;

  if (c == NULL || out == NULL || (ad == NULL && ad_len > 0) ||
      (pt == NULL && len > 0))
    return SC_ERR_INVALID;
  if (c->dead || !c->has_k)
    return SC_ERR_STATE;
  if (len > SC_NOISE_MAX_MESSAGE - TAGLEN || ad_len > INT_MAX)
    return SC_ERR_TOO_LARGE;
  if (c->n == SC_NOISE_NONCE_MAX)
    {
      cipher_kill (c);
      return SC_ERR_NONCE_EXHAUSTED;
    }
  ret = cipher_seal (c, c->n, ad, ad_len, pt, len, out);
  if (ret != SC_OK)
    {
      sc_wipe (out, len + TAGLEN);
      cipher_kill (c);
      return ret;
    }
  c->n++;
  return SC_OK;
}

int
sc_noise_cipher_decrypt (struct sc_noise_cipher *c,
                         const uint8_t *ad,
                         size_t ad_len,
                         const uint8_t *in,
                         size_t len,
                         uint8_t *out)
{
  int ret;

  if (c == NULL || in == NULL || (ad == NULL && ad_len > 0))
    return SC_ERR_INVALID;
  if (c->dead || !c->has_k)
    return SC_ERR_STATE;
  if (len < TAGLEN)
    return SC_ERR_TRUNCATED;
  if (out == NULL && len > TAGLEN)
    return SC_ERR_INVALID;
  if (len > SC_NOISE_MAX_MESSAGE || ad_len > INT_MAX)
    return SC_ERR_TOO_LARGE;
  if (c->n == SC_NOISE_NONCE_MAX)
    {
      cipher_kill (c);
      return SC_ERR_NONCE_EXHAUSTED;
    }
  ret = cipher_open (c, c->n, ad, ad_len, in, len, out);
  if (ret == SC_ERR_DECRYPT)
    return ret; /* n is not advanced; the caller decides what to do */
  if (ret != SC_OK)
    {
      cipher_kill (c);
      return ret;
    }
  c->n++;
  return SC_OK;
}

int
sc_noise_cipher_rekey (struct sc_noise_cipher *c)
{
  static const uint8_t zeros[KEYLEN] = { 0 };
  uint8_t buf[KEYLEN + TAGLEN];
  int ret;

  if (c == NULL)
    return SC_ERR_INVALID;
  if (c->dead || !c->has_k)
    return SC_ERR_STATE;
  /* §4.2 and §11.3: k = ENCRYPT(k, maxnonce, zerolen, zeros)[0:32]. */
  ret = cipher_seal (c, SC_NOISE_NONCE_MAX, NULL, 0, zeros, sizeof zeros, buf);
  if (ret == SC_OK)
    ret = cipher_set_key (c, buf);
  sc_wipe (buf, sizeof buf);
  if (ret != SC_OK)
    cipher_kill (c);
  return ret;
}

void
sc_noise_cipher_shed (struct sc_noise_cipher *c)
{
  if (c == NULL)
    return;
  EVP_CIPHER_CTX_free (c->ctx);
  c->ctx = NULL;
}

uint64_t
sc_noise_cipher_nonce (const struct sc_noise_cipher *c)
{
  return c != NULL ? c->n : 0;
}

void
sc_noise_cipher_free (struct sc_noise_cipher *c)
{
  if (c == NULL)
    return;
  cipher_clear (c);
  sc_wipe (c, sizeof *c);
  free (c);
}

#ifdef SC_NOISE_TESTING
void
sc_noise_cipher_set_nonce (struct sc_noise_cipher *c, uint64_t n)
{
  if (c != NULL)
    c->n = n;
}
#endif

/* ---- HandshakeState (§5.2, §5.3) ---------------------------------------- */

enum hs_phase
{
  PHASE_SETUP,   /* keys may be set; sc_noise_hs_start not called yet */
  PHASE_RUNNING, /* messages are being exchanged */
  PHASE_DONE,    /* all messages done, Split() pending */
  PHASE_SPLIT,   /* Split() done; only h and rs remain */
  PHASE_FAILED,
};

struct sc_noise_hs
{
  const struct pattern *pattern;
  enum sc_noise_role role;
  enum hs_phase phase;
  unsigned msg_index;

  /* SymmetricState */
  EVP_MD *md;
  EVP_MD_CTX *md_ctx;
  EVP_MAC_CTX *mac_ctx; /* HMAC with md */
  size_t hashlen;
  uint8_t ck[SC_NOISE_MAX_HASH_LEN];
  uint8_t h[SC_NOISE_MAX_HASH_LEN];
  struct sc_noise_cipher cs;

  uint8_t s_priv[DHLEN];
  uint8_t s_pub[DHLEN];
  uint8_t e_priv[DHLEN];
  uint8_t e_pub[DHLEN];
  uint8_t rs[DHLEN];
  uint8_t re[DHLEN];
  bool has_s;
  bool has_e;
  bool has_rs;
  bool has_re;
#ifdef SC_NOISE_TESTING
  uint8_t fixed_e[DHLEN];
  bool has_fixed_e;
#endif
};

/* Wipes every secret of the handshake (not h or the public keys). */
static void
hs_wipe_secrets (struct sc_noise_hs *hs)
{
  sc_wipe (hs->ck, sizeof hs->ck);
  sc_wipe (hs->s_priv, sizeof hs->s_priv);
  sc_wipe (hs->e_priv, sizeof hs->e_priv);
#ifdef SC_NOISE_TESTING
  sc_wipe (hs->fixed_e, sizeof hs->fixed_e);
  hs->has_fixed_e = false;
#endif
  hs->has_s = false;
  hs->has_e = false;
  cipher_clear (&hs->cs);
}

/* Any error fails the handshake for good. After Split() there is nothing
 * left to fail: a stray call is refused and h and rs stay readable. */
static int
hs_fail (struct sc_noise_hs *hs, int err)
{
  if (hs->phase == PHASE_SPLIT)
    return err;
  hs_wipe_secrets (hs);
  sc_wipe (hs->h, sizeof hs->h);
  hs->phase = PHASE_FAILED;
  return err;
}

/* True when the component [p, p + len) of the name equals s. */
static bool
component_is (const char *p, size_t len, const char *s)
{
  return strlen (s) == len && memcmp (p, s, len) == 0;
}

static int
parse_name (const char *name,
            const struct pattern **pattern,
            const struct cipher_desc **cipher,
            const struct hash_desc **hash)
{
  const char *part[5];
  size_t part_len[5];
  size_t name_len = strnlen (name, MAX_NAME_LEN + 1);
  size_t n = 0;
  const char *p = name;
  const char *end = name + name_len;

  if (name_len > MAX_NAME_LEN)
    return SC_ERR_UNSUPPORTED;
  /* Exactly five '_'-separated components. */
  while (n < 5)
    {
      const char *sep = memchr (p, '_', (size_t) (end - p));
      part[n] = p;
      part_len[n] = (size_t) ((sep != NULL ? sep : end) - p);
      n++;
      if (sep == NULL)
        break;
      p = sep + 1;
    }
  if (n != 5 || part[4] + part_len[4] != end)
    return SC_ERR_UNSUPPORTED;
  if (!component_is (part[0], part_len[0], "Noise") ||
      !component_is (part[2], part_len[2], "25519"))
    return SC_ERR_UNSUPPORTED;

  *pattern = NULL;
  for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
    if (component_is (part[1], part_len[1], patterns[i].name))
      *pattern = &patterns[i];
  *cipher = NULL;
  for (size_t i = 0; i < sizeof ciphers / sizeof ciphers[0]; i++)
    if (component_is (part[3], part_len[3], ciphers[i].noise_name))
      *cipher = &ciphers[i];
  *hash = NULL;
  for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
    if (component_is (part[4], part_len[4], hashes[i].noise_name))
      *hash = &hashes[i];
  if (*pattern == NULL || *cipher == NULL || *hash == NULL)
    return SC_ERR_UNSUPPORTED;
  return SC_OK;
}

/* HASH(a || b) into out (hashlen bytes). */
static int
hash2 (struct sc_noise_hs *hs,
       const uint8_t *a,
       size_t a_len,
       const uint8_t *b,
       size_t b_len,
       uint8_t *out)
{
  unsigned int out_len = 0;

  if (EVP_DigestInit_ex (hs->md_ctx, hs->md, NULL) != 1 ||
      (a_len > 0 && EVP_DigestUpdate (hs->md_ctx, a, a_len) != 1) ||
      (b_len > 0 && EVP_DigestUpdate (hs->md_ctx, b, b_len) != 1) ||
      EVP_DigestFinal_ex (hs->md_ctx, out, &out_len) != 1 ||
      out_len != hs->hashlen)
    return SC_ERR_CRYPTO;
  return SC_OK;
}

/* HMAC-HASH(key, a || b) into out (hashlen bytes). */
static int
hmac2 (struct sc_noise_hs *hs,
       const uint8_t *key,
       const uint8_t *a,
       size_t a_len,
       const uint8_t *b,
       size_t b_len,
       uint8_t *out)
{
  size_t out_len = 0;

  if (EVP_MAC_init (hs->mac_ctx, key, hs->hashlen, NULL) != 1 ||
      (a_len > 0 && EVP_MAC_update (hs->mac_ctx, a, a_len) != 1) ||
      (b_len > 0 && EVP_MAC_update (hs->mac_ctx, b, b_len) != 1) ||
      EVP_MAC_final (hs->mac_ctx, out, &out_len, hs->hashlen) != 1 ||
      out_len != hs->hashlen)
    return SC_ERR_CRYPTO;
  return SC_OK;
}

/* §4.3 HKDF(chaining_key, input_key_material, 2). */
static int
hkdf2 (struct sc_noise_hs *hs,
       const uint8_t *ikm,
       size_t ikm_len,
       uint8_t out1[SC_NOISE_MAX_HASH_LEN],
       uint8_t out2[SC_NOISE_MAX_HASH_LEN])
{
  static const uint8_t one = 0x01;
  static const uint8_t two = 0x02;
  uint8_t temp_key[SC_NOISE_MAX_HASH_LEN];
  int ret;

  ret = hmac2 (hs, hs->ck, ikm, ikm_len, NULL, 0, temp_key);
  if (ret == SC_OK)
    ret = hmac2 (hs, temp_key, &one, 1, NULL, 0, out1);
  if (ret == SC_OK)
    ret = hmac2 (hs, temp_key, out1, hs->hashlen, &two, 1, out2);
  sc_wipe (temp_key, sizeof temp_key);
  return ret;
}

static int
mix_hash (struct sc_noise_hs *hs, const uint8_t *data, size_t len)
{
  return hash2 (hs, hs->h, hs->hashlen, data, len, hs->h);
}

static int
mix_key (struct sc_noise_hs *hs, const uint8_t *ikm, size_t ikm_len)
{
  uint8_t ck[SC_NOISE_MAX_HASH_LEN];
  uint8_t k[SC_NOISE_MAX_HASH_LEN];
  int ret;

  ret = hkdf2 (hs, ikm, ikm_len, ck, k);
  if (ret == SC_OK)
    {
      memcpy (hs->ck, ck, hs->hashlen);
      /* A 64-byte output is truncated to the 32-byte key. */
      ret = cipher_set_key (&hs->cs, k);
      hs->cs.n = 0;
    }
  sc_wipe (ck, sizeof ck);
  sc_wipe (k, sizeof k);
  return ret;
}

/* EncryptAndHash: out receives len (+ 16 once a key is set) bytes. */
static int
encrypt_and_hash (struct sc_noise_hs *hs,
                  const uint8_t *pt,
                  size_t len,
                  uint8_t *out,
                  size_t *out_len)
{
  int ret;

  if (hs->cs.has_k)
    {
      if (hs->cs.n == SC_NOISE_NONCE_MAX)
        return SC_ERR_NONCE_EXHAUSTED;
      ret = cipher_seal (&hs->cs, hs->cs.n, hs->h, hs->hashlen, pt, len, out);
      if (ret != SC_OK)
        return ret;
      hs->cs.n++;
      *out_len = len + TAGLEN;
    }
  else
    {
      if (len > 0)
        memcpy (out, pt, len);
      *out_len = len;
    }
  return mix_hash (hs, out, *out_len);
}

/* DecryptAndHash of len bytes of in; out receives the plaintext. */
static int
decrypt_and_hash (struct sc_noise_hs *hs,
                  const uint8_t *in,
                  size_t len,
                  uint8_t *out)
{
  int ret;

  if (hs->cs.has_k)
    {
      if (len < TAGLEN)
        return SC_ERR_TRUNCATED;
      if (hs->cs.n == SC_NOISE_NONCE_MAX)
        return SC_ERR_NONCE_EXHAUSTED;
      ret = cipher_open (&hs->cs, hs->cs.n, hs->h, hs->hashlen, in, len, out);
      if (ret != SC_OK)
        return ret;
      hs->cs.n++;
    }
  else if (len > 0)
    memcpy (out, in, len);
  return mix_hash (hs, in, len);
}

/* The keys of a DH token, from this side's point of view. */
static int
dh_token (struct sc_noise_hs *hs, enum token tok)
{
  bool init = hs->role == SC_NOISE_INITIATOR;
  const uint8_t *priv = NULL;
  const uint8_t *pub = NULL;
  bool ok = false;
  uint8_t dh[DHLEN];
  int ret;

  switch (tok)
    {
    case TOK_EE:
      ok = hs->has_e && hs->has_re;
      priv = hs->e_priv;
      pub = hs->re;
      break;
    case TOK_ES:
      ok = init ? hs->has_e && hs->has_rs : hs->has_s && hs->has_re;
      priv = init ? hs->e_priv : hs->s_priv;
      pub = init ? hs->rs : hs->re;
      break;
    case TOK_SE:
      ok = init ? hs->has_s && hs->has_re : hs->has_e && hs->has_rs;
      priv = init ? hs->s_priv : hs->e_priv;
      pub = init ? hs->re : hs->rs;
      break;
    case TOK_SS:
      ok = hs->has_s && hs->has_rs;
      priv = hs->s_priv;
      pub = hs->rs;
      break;
    default:
      break;
    }
  if (!ok)
    return SC_ERR_STATE;
  ret = sc_x25519 (dh, priv, pub);
  if (ret == SC_OK)
    ret = mix_key (hs, dh, sizeof dh);
  sc_wipe (dh, sizeof dh);
  return ret;
}

int
sc_noise_hs_new (const char *protocol_name,
                 enum sc_noise_role role,
                 const uint8_t *prologue,
                 size_t prologue_len,
                 struct sc_noise_hs **out)
{
  const struct pattern *pattern;
  const struct cipher_desc *cipher;
  const struct hash_desc *hash;
  struct sc_noise_hs *hs;
  EVP_MAC *mac = NULL;
  OSSL_PARAM params[2];
  size_t name_len;
  int ret;

  if (out == NULL)
    return SC_ERR_INVALID;
  *out = NULL;
  if (protocol_name == NULL || (prologue == NULL && prologue_len > 0) ||
      (role != SC_NOISE_INITIATOR && role != SC_NOISE_RESPONDER))
    return SC_ERR_INVALID;
  ret = parse_name (protocol_name, &pattern, &cipher, &hash);
  if (ret != SC_OK)
    return ret;

  hs = calloc (1, sizeof *hs);
  if (hs == NULL)
    return SC_ERR_NOMEM;
  hs->pattern = pattern;
  hs->role = role;
  hs->phase = PHASE_SETUP;
  hs->cs.alg = cipher->alg;
  hs->hashlen = hash->len;

  ret = SC_ERR_CRYPTO;
  hs->md = EVP_MD_fetch (NULL, hash->evp_name, NULL);
  if (hs->md == NULL || (size_t) EVP_MD_get_size (hs->md) != hash->len)
    goto fail;
  hs->md_ctx = EVP_MD_CTX_new ();
  mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
  if (hs->md_ctx == NULL || mac == NULL)
    goto fail;
  hs->mac_ctx = EVP_MAC_CTX_new (mac);
  if (hs->mac_ctx == NULL)
    goto fail;
  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST,
                                                (char *) hash->evp_name, 0);
  params[1] = OSSL_PARAM_construct_end ();
  if (EVP_MAC_CTX_set_params (hs->mac_ctx, params) != 1)
    goto fail;

  /* InitializeSymmetric(protocol_name), then MixHash(prologue). */
  name_len = strlen (protocol_name);
  if (name_len <= hs->hashlen)
    memcpy (hs->h, protocol_name, name_len);
  else if ((ret = hash2 (hs, (const uint8_t *) protocol_name, name_len, NULL, 0,
                         hs->h)) != SC_OK)
    goto fail;
  memcpy (hs->ck, hs->h, hs->hashlen);
  ret = mix_hash (hs, prologue, prologue_len);
  if (ret != SC_OK)
    goto fail;

  EVP_MAC_free (mac);
  *out = hs;
  return SC_OK;

fail:
  EVP_MAC_free (mac);
  sc_noise_hs_free (hs);
  return ret;
}

void
sc_noise_hs_free (struct sc_noise_hs *hs)
{
  if (hs == NULL)
    return;
  hs_wipe_secrets (hs);
  EVP_MAC_CTX_free (hs->mac_ctx);
  EVP_MD_CTX_free (hs->md_ctx);
  EVP_MD_free (hs->md);
  sc_wipe (hs, sizeof *hs);
  free (hs);
}

/* Whether a key may be set before the handshake starts: hs and the key are
 * given and the handshake is still being set up. Any misuse of a live
 * handshake fails it. */
static int
hs_check_setup (struct sc_noise_hs *hs, const void *key)
{
  if (hs == NULL)
    return SC_ERR_INVALID;
  if (hs->phase == PHASE_FAILED)
    return SC_ERR_STATE;
  if (key == NULL)
    return hs_fail (hs, SC_ERR_INVALID);
  if (hs->phase != PHASE_SETUP)
    return hs_fail (hs, SC_ERR_STATE);
  return SC_OK;
}

int
sc_noise_hs_set_static (struct sc_noise_hs *hs,
                        const uint8_t priv[SC_X25519_LEN])
{
  int ret = hs_check_setup (hs, priv);

  if (ret != SC_OK)
    return ret;
  memcpy (hs->s_priv, priv, DHLEN);
  ret = sc_x25519_public (hs->s_priv, hs->s_pub);
  if (ret != SC_OK)
    return hs_fail (hs, ret);
  hs->has_s = true;
  return SC_OK;
}

int
sc_noise_hs_set_remote_static (struct sc_noise_hs *hs,
                               const uint8_t pub[SC_X25519_LEN])
{
  int ret = hs_check_setup (hs, pub);
  bool pre;

  if (ret != SC_OK)
    return ret;
  /* Only a pre-message gives a remote static key in advance. */
  pre = hs->role == SC_NOISE_INITIATOR ? hs->pattern->resp_pre_s
                                       : hs->pattern->init_pre_s;
  if (!pre)
    return hs_fail (hs, SC_ERR_INVALID);
  memcpy (hs->rs, pub, DHLEN);
  hs->has_rs = true;
  return SC_OK;
}

/* Whether the messages sent by role contain token tok. */
static bool
sends_token (const struct pattern *p, enum sc_noise_role role, enum token tok)
{
  unsigned first = role == SC_NOISE_INITIATOR ? 0 : 1;

  for (unsigned i = first; i < p->n_messages; i += 2)
    for (unsigned j = 0; j < MAX_TOKENS && p->messages[i][j] != TOK_END; j++)
      if (p->messages[i][j] == tok)
        return true;
  return false;
}

int
sc_noise_hs_start (struct sc_noise_hs *hs)
{
  const struct pattern *p;
  bool init;
  bool need_s;
  bool need_rs;
  int ret;

  if (hs == NULL)
    return SC_ERR_INVALID;
  if (hs->phase == PHASE_FAILED)
    return SC_ERR_STATE;
  if (hs->phase != PHASE_SETUP)
    return hs_fail (hs, SC_ERR_STATE);
  p = hs->pattern;
  init = hs->role == SC_NOISE_INITIATOR;
  need_s = (init ? p->init_pre_s : p->resp_pre_s) ||
           sends_token (p, hs->role, TOK_S);
  need_rs = init ? p->resp_pre_s : p->init_pre_s;
  if ((need_s && !hs->has_s) || (need_rs && !hs->has_rs))
    return hs_fail (hs, SC_ERR_INVALID);

  /* Pre-messages: the initiator's keys first, then the responder's. */
  if (p->init_pre_s)
    {
      ret = mix_hash (hs, init ? hs->s_pub : hs->rs, DHLEN);
      if (ret != SC_OK)
        return hs_fail (hs, ret);
    }
  if (p->resp_pre_s)
    {
      ret = mix_hash (hs, init ? hs->rs : hs->s_pub, DHLEN);
      if (ret != SC_OK)
        return hs_fail (hs, ret);
    }
  hs->phase = PHASE_RUNNING;
  return SC_OK;
}

enum sc_noise_action
sc_noise_hs_action (const struct sc_noise_hs *hs)
{
  bool init_turn;

  if (hs == NULL)
    return SC_NOISE_ACTION_FAILED;
  switch (hs->phase)
    {
    case PHASE_SETUP:
    case PHASE_RUNNING:
      init_turn = hs->msg_index % 2 == 0;
      return init_turn == (hs->role == SC_NOISE_INITIATOR)
                 ? SC_NOISE_ACTION_WRITE
                 : SC_NOISE_ACTION_READ;
    case PHASE_DONE:
    case PHASE_SPLIT:
      return SC_NOISE_ACTION_SPLIT;
    case PHASE_FAILED:
      break;
    }
  return SC_NOISE_ACTION_FAILED;
}

static const uint8_t *
current_tokens (const struct sc_noise_hs *hs)
{
  return hs->pattern->messages[hs->msg_index];
}

static void
message_done (struct sc_noise_hs *hs)
{
  hs->msg_index++;
  if (hs->msg_index == hs->pattern->n_messages)
    hs->phase = PHASE_DONE;
}

static int
generate_ephemeral (struct sc_noise_hs *hs)
{
#ifdef SC_NOISE_TESTING
  if (hs->has_fixed_e)
    {
      memcpy (hs->e_priv, hs->fixed_e, DHLEN);
      sc_wipe (hs->fixed_e, DHLEN);
      hs->has_fixed_e = false;
      return sc_x25519_public (hs->e_priv, hs->e_pub);
    }
#endif
  return sc_x25519_keypair (hs->e_priv, hs->e_pub);
}

int
sc_noise_hs_write_message (struct sc_noise_hs *hs,
                           const uint8_t *payload,
                           size_t payload_len,
                           uint8_t *out,
                           size_t out_cap,
                           size_t *out_len)
{
  const uint8_t *toks;
  bool keyed;
  size_t need = 0;
  size_t pos = 0;
  size_t n = 0;
  int ret;

  if (out_len != NULL)
    *out_len = 0;
  if (hs == NULL)
    return SC_ERR_INVALID;
  if (hs->phase == PHASE_FAILED)
    return SC_ERR_STATE;
  if (hs->phase != PHASE_RUNNING ||
      sc_noise_hs_action (hs) != SC_NOISE_ACTION_WRITE)
    return hs_fail (hs, SC_ERR_STATE);
  if (out == NULL || out_len == NULL || (payload == NULL && payload_len > 0))
    return hs_fail (hs, SC_ERR_INVALID);
  if (payload_len > SC_NOISE_MAX_MESSAGE)
    return hs_fail (hs, SC_ERR_TOO_LARGE);

  /* The exact size first, so nothing is written when it cannot fit. */
  toks = current_tokens (hs);
  keyed = hs->cs.has_k;
  for (unsigned i = 0; i < MAX_TOKENS && toks[i] != TOK_END; i++)
    {
      if (toks[i] == TOK_E)
        need += DHLEN;
      else if (toks[i] == TOK_S)
        need += DHLEN + (keyed ? TAGLEN : 0);
      else
        keyed = true;
    }
  need += payload_len + (keyed ? TAGLEN : 0);
  if (need > SC_NOISE_MAX_MESSAGE)
    return hs_fail (hs, SC_ERR_TOO_LARGE);
  if (need > out_cap)
    return hs_fail (hs, SC_ERR_BUFFER);

  for (unsigned i = 0; i < MAX_TOKENS && toks[i] != TOK_END; i++)
    {
      switch ((enum token) toks[i])
        {
        case TOK_E:
          if (hs->has_e)
            {
              ret = SC_ERR_STATE;
              goto fail;
            }
          ret = generate_ephemeral (hs);
          if (ret != SC_OK)
            goto fail;
          hs->has_e = true;
          memcpy (out + pos, hs->e_pub, DHLEN);
          pos += DHLEN;
          ret = mix_hash (hs, hs->e_pub, DHLEN);
          break;
        case TOK_S:
          if (!hs->has_s)
            {
              ret = SC_ERR_STATE;
              goto fail;
            }
          ret = encrypt_and_hash (hs, hs->s_pub, DHLEN, out + pos, &n);
          pos += n;
          break;
        default:
          ret = dh_token (hs, (enum token) toks[i]);
          break;
        }
      if (ret != SC_OK)
        goto fail;
    }
  ret = encrypt_and_hash (hs, payload, payload_len, out + pos, &n);
  if (ret != SC_OK)
    goto fail;
  pos += n;
  if (pos != need)
    {
      ret = SC_ERR_STATE;
      goto fail;
    }
  *out_len = pos;
  message_done (hs);
  return SC_OK;

fail:
  sc_wipe (out, need);
  return hs_fail (hs, ret);
}

int
sc_noise_hs_read_message (struct sc_noise_hs *hs,
                          const uint8_t *msg,
                          size_t msg_len,
                          uint8_t *payload_out,
                          size_t payload_cap,
                          size_t *payload_len)
{
  const uint8_t *toks;
  uint8_t rs[DHLEN];
  size_t pos = 0;
  size_t rest;
  size_t plen = 0;
  int ret;

  if (payload_len != NULL)
    *payload_len = 0;
  if (hs == NULL)
    return SC_ERR_INVALID;
  if (hs->phase == PHASE_FAILED)
    return SC_ERR_STATE;
  if (hs->phase != PHASE_RUNNING ||
      sc_noise_hs_action (hs) != SC_NOISE_ACTION_READ)
    return hs_fail (hs, SC_ERR_STATE);
  if (payload_len == NULL || (msg == NULL && msg_len > 0))
    return hs_fail (hs, SC_ERR_INVALID);
  if (msg_len > SC_NOISE_MAX_MESSAGE)
    return hs_fail (hs, SC_ERR_TOO_LARGE);

  toks = current_tokens (hs);
  for (unsigned i = 0; i < MAX_TOKENS && toks[i] != TOK_END; i++)
    {
      size_t need;

      switch ((enum token) toks[i])
        {
        case TOK_E:
          if (msg_len - pos < DHLEN)
            return hs_fail (hs, SC_ERR_TRUNCATED);
          if (hs->has_re)
            return hs_fail (hs, SC_ERR_STATE);
          memcpy (hs->re, msg + pos, DHLEN);
          hs->has_re = true;
          pos += DHLEN;
          ret = mix_hash (hs, hs->re, DHLEN);
          break;
        case TOK_S:
          need = DHLEN + (hs->cs.has_k ? TAGLEN : 0);
          if (msg_len - pos < need)
            return hs_fail (hs, SC_ERR_TRUNCATED);
          if (hs->has_rs)
            return hs_fail (hs, SC_ERR_STATE);
          ret = decrypt_and_hash (hs, msg + pos, need, rs);
          if (ret == SC_OK)
            {
              memcpy (hs->rs, rs, DHLEN);
              hs->has_rs = true;
            }
          sc_wipe (rs, sizeof rs);
          pos += need;
          break;
        default:
          ret = dh_token (hs, (enum token) toks[i]);
          break;
        }
      if (ret != SC_OK)
        return hs_fail (hs, ret);
    }

  rest = msg_len - pos;
  if (hs->cs.has_k)
    {
      if (rest < TAGLEN)
        return hs_fail (hs, SC_ERR_TRUNCATED);
      plen = rest - TAGLEN;
    }
  else
    plen = rest;
  if (plen > payload_cap || (payload_out == NULL && plen > 0))
    return hs_fail (hs, SC_ERR_BUFFER);
  ret = decrypt_and_hash (hs, msg + pos, rest, payload_out);
  if (ret != SC_OK)
    return hs_fail (hs, ret);
  *payload_len = plen;
  message_done (hs);
  return SC_OK;
}

int
sc_noise_hs_remote_static (const struct sc_noise_hs *hs,
                           uint8_t pub[SC_X25519_LEN])
{
  if (hs == NULL || pub == NULL)
    return SC_ERR_INVALID;
  if (hs->phase == PHASE_FAILED || !hs->has_rs)
    return SC_ERR_STATE;
  memcpy (pub, hs->rs, DHLEN);
  return SC_OK;
}

int
sc_noise_hs_handshake_hash (const struct sc_noise_hs *hs,
                            uint8_t *out,
                            size_t out_cap,
                            size_t *out_len)
{
  if (out_len != NULL)
    *out_len = 0;
  if (hs == NULL || out == NULL || out_len == NULL)
    return SC_ERR_INVALID;
  if (hs->phase != PHASE_DONE && hs->phase != PHASE_SPLIT)
    return SC_ERR_STATE;
  if (out_cap < hs->hashlen)
    return SC_ERR_BUFFER;
  memcpy (out, hs->h, hs->hashlen);
  *out_len = hs->hashlen;
  return SC_OK;
}

int
sc_noise_hs_split (struct sc_noise_hs *hs,
                   struct sc_noise_cipher **send,
                   struct sc_noise_cipher **recv)
{
  uint8_t k1[SC_NOISE_MAX_HASH_LEN];
  uint8_t k2[SC_NOISE_MAX_HASH_LEN];
  struct sc_noise_cipher *c1 = NULL;
  struct sc_noise_cipher *c2 = NULL;
  int ret;

  if (send != NULL)
    *send = NULL;
  if (recv != NULL)
    *recv = NULL;
  if (hs == NULL)
    return SC_ERR_INVALID;
  if (hs->phase == PHASE_FAILED)
    return SC_ERR_STATE;
  if (send == NULL || recv == NULL)
    return hs_fail (hs, SC_ERR_INVALID);
  if (hs->phase != PHASE_DONE)
    return hs_fail (hs, SC_ERR_STATE);

  ret = hkdf2 (hs, NULL, 0, k1, k2);
  if (ret == SC_OK)
    c1 = cipher_new (hs->cs.alg, k1, &ret);
  /* One-way patterns (§7.4): the second CipherState is discarded. */
  if (ret == SC_OK && hs->pattern->n_messages > 1)
    c2 = cipher_new (hs->cs.alg, k2, &ret);
  sc_wipe (k1, sizeof k1);
  sc_wipe (k2, sizeof k2);
  if (ret != SC_OK)
    {
      sc_noise_cipher_free (c1);
      sc_noise_cipher_free (c2);
      return hs_fail (hs, ret);
    }

  if (hs->role == SC_NOISE_INITIATOR)
    {
      *send = c1;
      *recv = c2;
    }
  else
    {
      *send = c2;
      *recv = c1;
    }
  hs_wipe_secrets (hs);
  hs->phase = PHASE_SPLIT;
  return SC_OK;
}

#ifdef SC_NOISE_TESTING
int
sc_noise_hs_set_fixed_ephemeral (struct sc_noise_hs *hs,
                                 const uint8_t priv[SC_X25519_LEN])
{
  if (hs == NULL)
    return SC_ERR_INVALID;
  if (hs->phase == PHASE_FAILED)
    return SC_ERR_STATE;
  if (priv == NULL)
    return hs_fail (hs, SC_ERR_INVALID);
  if ((hs->phase != PHASE_SETUP && hs->phase != PHASE_RUNNING) || hs->has_e)
    return hs_fail (hs, SC_ERR_STATE);
  memcpy (hs->fixed_e, priv, DHLEN);
  hs->has_fixed_e = true;
  return SC_OK;
}
#endif
