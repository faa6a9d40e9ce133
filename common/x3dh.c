/* SPDX-License-Identifier: GPL-3.0-or-later */
/* X3DH: the initiator's and the responder's halves, the KDF and the
 * associated data. The DH outputs, the ephemeral private key and the KDF
 * input are wiped on every path. */
#include "securechat/x3dh.h"

#include <string.h>

#include "securechat/error.h"

#define X3DH_MIN_DH 3
#define X3DH_MAX_DH 4
/* F: 32 bytes of 0xFF for X25519 (X3DH §2.2). */
#define X3DH_F_LEN 32

int
sc_x3dh_kdf (const uint8_t (*dh)[SC_X25519_LEN],
             size_t n_dh,
             const char *info,
             uint8_t *out,
             size_t out_len)
{
  static const uint8_t salt[SC_SHA256_LEN] = { 0 };
  uint8_t ikm[X3DH_F_LEN + X3DH_MAX_DH * SC_X25519_LEN];
  size_t ikm_len;
  int ret;

  if (out == NULL)
    return SC_ERR_INVALID;
  if (out_len > 0)
    memset (out, 0, out_len);
  if (dh == NULL || info == NULL || n_dh < X3DH_MIN_DH || n_dh > X3DH_MAX_DH)
    return SC_ERR_INVALID;

  ikm_len = X3DH_F_LEN + n_dh * SC_X25519_LEN;
  memset (ikm, 0xff, X3DH_F_LEN);
  for (size_t i = 0; i < n_dh; i++)
    memcpy (ikm + X3DH_F_LEN + i * SC_X25519_LEN, dh[i], SC_X25519_LEN);
  ret = sc_hkdf_sha256 (salt, sizeof salt, ikm, ikm_len, (const uint8_t *) info,
                        strlen (info), out, out_len);
  sc_wipe (ikm, sizeof ikm);
  return ret;
}

/* A username as the AD carries it: validated, length returned. */
static int
ad_user (const char *user, size_t *len)
{
  if (user == NULL)
    return SC_ERR_INVALID;
  *len = strnlen (user, SC_USERNAME_MAX + 1);
  return sc_username_validate (user, *len);
}

int
sc_x3dh_ad (const char *user_a,
            const struct sc_identity_public *a,
            const char *user_b,
            const struct sc_identity_public *b,
            uint8_t ad[SC_X3DH_AD_MAX],
            size_t *ad_len)
{
  size_t la = 0, lb = 0;
  uint8_t *p;
  int ret;

  if (ad_len != NULL)
    *ad_len = 0;
  if (ad == NULL || ad_len == NULL || a == NULL || b == NULL)
    return SC_ERR_INVALID;
  memset (ad, 0, SC_X3DH_AD_MAX);
  ret = ad_user (user_a, &la);
  if (ret == SC_OK)
    ret = ad_user (user_b, &lb);
  if (ret != SC_OK)
    return ret;

  p = ad;
  sc_key_encode (a->dh, p);
  p += SC_ENCODED_KEY_LEN;
  memcpy (p, a->sig, SC_ED25519_LEN);
  p += SC_ED25519_LEN;
  sc_key_encode (b->dh, p);
  p += SC_ENCODED_KEY_LEN;
  memcpy (p, b->sig, SC_ED25519_LEN);
  p += SC_ED25519_LEN;
  *p++ = (uint8_t) la;
  memcpy (p, user_a, la);
  p += la;
  *p++ = (uint8_t) lb;
  memcpy (p, user_b, lb);
  p += lb;
  *ad_len = (size_t) (p - ad);
  return SC_OK;
}

/* Clears every output of an X3DH call. */
static void
clear_outputs (uint8_t sk[SC_X3DH_SK_LEN],
               uint8_t *ek_pub,
               uint8_t ad[SC_X3DH_AD_MAX],
               size_t *ad_len)
{
  if (sk != NULL)
    sc_wipe (sk, SC_X3DH_SK_LEN);
  if (ek_pub != NULL)
    memset (ek_pub, 0, SC_X25519_LEN);
  if (ad != NULL)
    memset (ad, 0, SC_X3DH_AD_MAX);
  if (ad_len != NULL)
    *ad_len = 0;
}

int
sc_x3dh_initiate (const struct sc_identity *alice,
                  const char *alice_user,
                  const struct sc_prekey_bundle *bob,
                  const char *bob_user,
                  const char *info,
                  const uint8_t *ek_priv_fixed,
                  uint8_t sk[SC_X3DH_SK_LEN],
                  uint8_t ek_pub[SC_X25519_LEN],
                  uint8_t ad[SC_X3DH_AD_MAX],
                  size_t *ad_len)
{
  uint8_t ek_priv[SC_X25519_LEN];
  uint8_t dh[X3DH_MAX_DH][SC_X25519_LEN];
  size_t n_dh = 0;
  int ret;

  clear_outputs (sk, ek_pub, ad, ad_len);
  if (alice == NULL || bob == NULL || info == NULL || sk == NULL ||
      ek_pub == NULL || ad == NULL || ad_len == NULL)
    return SC_ERR_INVALID;

  /* The bundle comes from the server: nothing of it is used before its
   * signature verifies. */
  ret = sc_spk_verify (&bob->identity, bob->spk_id, bob->spk, bob->spk_sig);
  if (ret != SC_OK)
    return ret;
  ret = sc_x3dh_ad (alice_user, &alice->pub, bob_user, &bob->identity, ad,
                    ad_len);
  if (ret != SC_OK)
    return ret;

  memset (dh, 0, sizeof dh);
  if (ek_priv_fixed != NULL)
    {
      memcpy (ek_priv, ek_priv_fixed, SC_X25519_LEN);
      ret = sc_x25519_public (ek_priv, ek_pub);
    }
  else
    ret = sc_x25519_keypair (ek_priv, ek_pub);
  if (ret != SC_OK)
    goto out;

  ret = sc_x25519 (dh[n_dh++], alice->dh_priv, bob->spk);
  if (ret != SC_OK)
    goto out;
  ret = sc_x25519 (dh[n_dh++], ek_priv, bob->identity.dh);
  if (ret != SC_OK)
    goto out;
  ret = sc_x25519 (dh[n_dh++], ek_priv, bob->spk);
  if (ret != SC_OK)
    goto out;
  if (bob->has_opk)
    {
      ret = sc_x25519 (dh[n_dh++], ek_priv, bob->opk);
      if (ret != SC_OK)
        goto out;
    }
  ret = sc_x3dh_kdf ((const uint8_t (*)[SC_X25519_LEN]) dh, n_dh, info, sk,
                     SC_X3DH_SK_LEN);

out:
  sc_wipe (ek_priv, sizeof ek_priv);
  sc_wipe (dh, sizeof dh);
  if (ret != SC_OK)
    clear_outputs (sk, ek_pub, ad, ad_len);
  return ret;
}

int
sc_x3dh_respond (const struct sc_identity *bob,
                 const char *bob_user,
                 const uint8_t spk_priv[SC_X25519_LEN],
                 const uint8_t *opk_priv,
                 const struct sc_identity_public *alice,
                 const char *alice_user,
                 const uint8_t ek_pub[SC_X25519_LEN],
                 const char *info,
                 uint8_t sk[SC_X3DH_SK_LEN],
                 uint8_t ad[SC_X3DH_AD_MAX],
                 size_t *ad_len)
{
  uint8_t dh[X3DH_MAX_DH][SC_X25519_LEN];
  size_t n_dh = 0;
  int ret;

  clear_outputs (sk, NULL, ad, ad_len);
  if (bob == NULL || spk_priv == NULL || alice == NULL || ek_pub == NULL ||
      info == NULL || sk == NULL || ad == NULL || ad_len == NULL)
    return SC_ERR_INVALID;

  ret = sc_x3dh_ad (alice_user, alice, bob_user, &bob->pub, ad, ad_len);
  if (ret != SC_OK)
    return ret;

  memset (dh, 0, sizeof dh);
  ret = sc_x25519 (dh[n_dh++], spk_priv, alice->dh);
  if (ret != SC_OK)
    goto out;
  ret = sc_x25519 (dh[n_dh++], bob->dh_priv, ek_pub);
  if (ret != SC_OK)
    goto out;
  ret = sc_x25519 (dh[n_dh++], spk_priv, ek_pub);
  if (ret != SC_OK)
    goto out;
  if (opk_priv != NULL)
    {
      ret = sc_x25519 (dh[n_dh++], opk_priv, ek_pub);
      if (ret != SC_OK)
        goto out;
    }
  ret = sc_x3dh_kdf ((const uint8_t (*)[SC_X25519_LEN]) dh, n_dh, info, sk,
                     SC_X3DH_SK_LEN);

out:
  sc_wipe (dh, sizeof dh);
  if (ret != SC_OK)
    clear_outputs (sk, NULL, ad, ad_len);
  return ret;
}
