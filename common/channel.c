/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SecureChat's secure channel (PROTOCOL.md §3-4): Noise_NX with the
 * prologue "SecureChat/1", then transport frames with the rekey rule of §4.
 * Any failure while reading from the peer fails the channel for good. */
#include "securechat/channel.h"

#ifdef SC_NOISE_TESTING
#include "securechat/channel-testing.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/frame.h"

#define PROLOGUE_LEN (sizeof SC_CHANNEL_PROLOGUE - 1)

struct sc_channel
{
  enum sc_noise_role role;
  struct sc_noise_hs *hs; /* until established */
  struct sc_noise_cipher *send;
  struct sc_noise_cipher *recv;
  uint8_t rs[SC_X25519_LEN];
  uint8_t h[SC_SHA256_LEN];
  bool has_rs;
  bool established;
  bool failed;
};

static void
channel_release (struct sc_channel *ch)
{
  sc_noise_hs_free (ch->hs);
  ch->hs = NULL;
  sc_noise_cipher_free (ch->send);
  ch->send = NULL;
  sc_noise_cipher_free (ch->recv);
  ch->recv = NULL;
}

static int
channel_fail (struct sc_channel *ch, int err)
{
  channel_release (ch);
  sc_wipe (ch->h, sizeof ch->h);
  ch->established = false;
  ch->failed = true;
  return err;
}

int
sc_channel_new (enum sc_noise_role role,
                const uint8_t *static_priv,
                struct sc_channel **out)
{
  struct sc_channel *ch;
  int ret;

  if (out == NULL)
    return SC_ERR_INVALID;
  *out = NULL;
  /* The server has a static key; the client has none (PROTOCOL.md §3.1). */
  if (role == SC_NOISE_RESPONDER)
    {
      if (static_priv == NULL)
        return SC_ERR_INVALID;
    }
  else if (role != SC_NOISE_INITIATOR || static_priv != NULL)
    return SC_ERR_INVALID;

  ch = calloc (1, sizeof *ch);
  if (ch == NULL)
    return SC_ERR_NOMEM;
  ch->role = role;
  ret = sc_noise_hs_new (SC_NOISE_PROTOCOL, role,
                         (const uint8_t *) SC_CHANNEL_PROLOGUE, PROLOGUE_LEN,
                         &ch->hs);
  if (ret == SC_OK && role == SC_NOISE_RESPONDER)
    ret = sc_noise_hs_set_static (ch->hs, static_priv);
  if (ret == SC_OK)
    ret = sc_noise_hs_start (ch->hs);
  if (ret != SC_OK)
    {
      sc_channel_free (ch);
      return ret;
    }
  *out = ch;
  return SC_OK;
}

void
sc_channel_free (struct sc_channel *ch)
{
  if (ch == NULL)
    return;
  channel_release (ch);
  sc_wipe (ch, sizeof *ch);
  free (ch);
}

enum sc_noise_action
sc_channel_action (const struct sc_channel *ch)
{
  if (ch == NULL || ch->failed)
    return SC_NOISE_ACTION_FAILED;
  if (ch->established)
    return SC_NOISE_ACTION_SPLIT;
  return sc_noise_hs_action (ch->hs);
}

bool
sc_channel_established (const struct sc_channel *ch)
{
  return ch != NULL && !ch->failed && ch->established;
}

/* After the last handshake message: keep h and rs, Split(), drop the
 * handshake state. */
static int
finish_handshake (struct sc_channel *ch)
{
  size_t h_len = 0;
  int ret;

  if (sc_noise_hs_action (ch->hs) != SC_NOISE_ACTION_SPLIT)
    return SC_OK;
  ret = sc_noise_hs_handshake_hash (ch->hs, ch->h, sizeof ch->h, &h_len);
  if (ret != SC_OK)
    return ret;
  if (h_len != sizeof ch->h)
    return SC_ERR_STATE;
  ch->has_rs = sc_noise_hs_remote_static (ch->hs, ch->rs) == SC_OK;
  ret = sc_noise_hs_split (ch->hs, &ch->send, &ch->recv);
  if (ret != SC_OK)
    return ret;
  if (ch->send == NULL || ch->recv == NULL)
    return SC_ERR_STATE;
  sc_noise_hs_free (ch->hs);
  ch->hs = NULL;
  ch->established = true;
  return SC_OK;
}

int
sc_channel_write_handshake (struct sc_channel *ch,
                            const uint8_t *payload,
                            size_t payload_len,
                            uint8_t *out,
                            size_t out_cap,
                            size_t *out_len)
{
  size_t n = 0;
  int ret;

  if (out_len != NULL)
    *out_len = 0;
  if (ch == NULL)
    return SC_ERR_INVALID;
  if (ch->failed || ch->established)
    return SC_ERR_STATE;
  if (out == NULL || out_len == NULL)
    return channel_fail (ch, SC_ERR_INVALID);
  if (out_cap < SC_FRAME_HEADER_LEN)
    return channel_fail (ch, SC_ERR_BUFFER);
  ret = sc_noise_hs_write_message (ch->hs, payload, payload_len,
                                   out + SC_FRAME_HEADER_LEN,
                                   out_cap - SC_FRAME_HEADER_LEN, &n);
  if (ret == SC_OK)
    ret = sc_frame_header_write (n, out);
  if (ret == SC_OK)
    ret = finish_handshake (ch);
  if (ret != SC_OK)
    {
      sc_wipe (out, SC_FRAME_HEADER_LEN + n);
      return channel_fail (ch, ret);
    }
  *out_len = SC_FRAME_HEADER_LEN + n;
  return SC_OK;
}

int
sc_channel_read_handshake (struct sc_channel *ch,
                           const uint8_t *msg,
                           size_t msg_len,
                           uint8_t *payload,
                           size_t payload_cap,
                           size_t *payload_len)
{
  int ret;

  if (payload_len != NULL)
    *payload_len = 0;
  if (ch == NULL)
    return SC_ERR_INVALID;
  if (ch->failed || ch->established)
    return SC_ERR_STATE;
  ret = sc_noise_hs_read_message (ch->hs, msg, msg_len, payload, payload_cap,
                                  payload_len);
  if (ret == SC_OK)
    ret = finish_handshake (ch);
  if (ret != SC_OK)
    {
      if (payload_len != NULL && *payload_len > 0)
        {
          sc_wipe (payload, *payload_len);
          *payload_len = 0;
        }
      return channel_fail (ch, ret);
    }
  return SC_OK;
}

int
sc_channel_remote_static (const struct sc_channel *ch,
                          uint8_t pub[SC_X25519_LEN])
{
  if (ch == NULL || pub == NULL)
    return SC_ERR_INVALID;
  if (ch->failed)
    return SC_ERR_STATE;
  if (ch->established)
    {
      if (!ch->has_rs)
        return SC_ERR_STATE;
      memcpy (pub, ch->rs, SC_X25519_LEN);
      return SC_OK;
    }
  return sc_noise_hs_remote_static (ch->hs, pub);
}

int
sc_channel_handshake_hash (const struct sc_channel *ch,
                           uint8_t out[SC_SHA256_LEN])
{
  if (ch == NULL || out == NULL)
    return SC_ERR_INVALID;
  if (ch->failed || !ch->established)
    return SC_ERR_STATE;
  memcpy (out, ch->h, SC_SHA256_LEN);
  return SC_OK;
}

void
sc_channel_shed (struct sc_channel *ch)
{
  if (ch == NULL || !ch->established)
    return;
  sc_noise_cipher_shed (ch->send);
  sc_noise_cipher_shed (ch->recv);
}

/* PROTOCOL.md §4: REKEY() before the message whose nonce is a non-zero
 * multiple of SC_CHANNEL_REKEY_INTERVAL. */
static int
maybe_rekey (struct sc_noise_cipher *c)
{
  uint64_t n = sc_noise_cipher_nonce (c);

  if (n != 0 && n % SC_CHANNEL_REKEY_INTERVAL == 0)
    return sc_noise_cipher_rekey (c);
  return SC_OK;
}

int
sc_channel_seal (struct sc_channel *ch,
                 const uint8_t *pt,
                 size_t len,
                 uint8_t *out,
                 size_t out_cap,
                 size_t *out_len)
{
  size_t body;
  int ret;

  if (out_len != NULL)
    *out_len = 0;
  if (ch == NULL || out == NULL || out_len == NULL || (pt == NULL && len > 0))
    return SC_ERR_INVALID;
  if (ch->failed || !ch->established)
    return SC_ERR_STATE;
  /* Caller errors are refused before anything changes. */
  if (len > SC_CHANNEL_MAX_PLAINTEXT)
    return SC_ERR_TOO_LARGE;
  body = len + SC_NOISE_TAG_LEN;
  if (out_cap < SC_FRAME_HEADER_LEN + body)
    return SC_ERR_BUFFER;
  ret = sc_frame_header_write (body, out);
  if (ret != SC_OK)
    return ret;

  ret = maybe_rekey (ch->send);
  if (ret == SC_OK)
    ret = sc_noise_cipher_encrypt (ch->send, NULL, 0, pt, len,
                                   out + SC_FRAME_HEADER_LEN);
  if (ret != SC_OK)
    {
      sc_wipe (out, SC_FRAME_HEADER_LEN + body);
      return channel_fail (ch, ret);
    }
  *out_len = SC_FRAME_HEADER_LEN + body;
  return SC_OK;
}

int
sc_channel_open (struct sc_channel *ch,
                 const uint8_t *ct,
                 size_t len,
                 uint8_t *pt,
                 size_t pt_cap,
                 size_t *pt_len)
{
  size_t n;
  int ret;

  if (pt_len != NULL)
    *pt_len = 0;
  if (ch == NULL)
    return SC_ERR_INVALID;
  if (ch->failed)
    return SC_ERR_STATE;
  if (!ch->established)
    return channel_fail (ch, SC_ERR_STATE);
  if (pt_len == NULL || (ct == NULL && len > 0))
    return channel_fail (ch, SC_ERR_INVALID);
  if (len < SC_NOISE_TAG_LEN)
    return channel_fail (ch, SC_ERR_TRUNCATED);
  if (len > SC_NOISE_MAX_MESSAGE)
    return channel_fail (ch, SC_ERR_TOO_LARGE);
  n = len - SC_NOISE_TAG_LEN;
  if (n > pt_cap || (pt == NULL && n > 0))
    return channel_fail (ch, SC_ERR_BUFFER);

  ret = maybe_rekey (ch->recv);
  if (ret == SC_OK)
    ret = sc_noise_cipher_decrypt (ch->recv, NULL, 0, ct, len, pt);
  if (ret != SC_OK)
    return channel_fail (ch, ret);
  *pt_len = n;
  return SC_OK;
}

#ifdef SC_NOISE_TESTING
struct sc_noise_cipher *
sc_channel_testing_send_cipher (struct sc_channel *ch)
{
  return ch != NULL && !ch->failed ? ch->send : NULL;
}

struct sc_noise_cipher *
sc_channel_testing_recv_cipher (struct sc_channel *ch)
{
  return ch != NULL && !ch->failed ? ch->recv : NULL;
}
#endif
