/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test-only hooks. They exist only in the sccommon_testing library, built
 * with SC_NOISE_TESTING; the shipped programs link sccommon, which has no
 * way to fix an ephemeral key or move a nonce. */
#pragma once

#include "securechat/noise.h"

#ifndef SC_NOISE_TESTING
#error "noise-testing.h is for tests only"
#endif

/* Use this ephemeral private key instead of a fresh one (vector tests). */
int sc_noise_hs_set_fixed_ephemeral (struct sc_noise_hs *hs,
                                     const uint8_t priv[SC_X25519_LEN]);
/* Jump the nonce (nonce-exhaustion tests). */
void sc_noise_cipher_set_nonce (struct sc_noise_cipher *c, uint64_t n);
