/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test-only access to a channel's transport cipher states, so tests can move
 * their nonces with sc_noise_cipher_set_nonce (rekey-interval tests). Only in
 * sccommon_testing, built with SC_NOISE_TESTING. */
#pragma once

#include "securechat/channel.h"
#include "securechat/noise-testing.h"

#ifndef SC_NOISE_TESTING
#error "channel-testing.h is for tests only"
#endif

/* The sending / receiving CipherState once established; NULL before the
 * handshake completes and after a failure. */
struct sc_noise_cipher *sc_channel_testing_send_cipher (struct sc_channel *ch);
struct sc_noise_cipher *sc_channel_testing_recv_cipher (struct sc_channel *ch);
