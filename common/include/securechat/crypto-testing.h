/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test-only hook of the random source (sccommon_testing only, built with
 * SC_NOISE_TESTING). Fuzz harnesses and their corpus generators need every
 * key, identity and prekey id to come out the same on every run, so that a
 * recorded input meets the very state it was made for; the shipped
 * programs link sccommon, where sc_random is always the OpenSSL CSPRNG. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "securechat/crypto.h"

#ifndef SC_NOISE_TESTING
#error "crypto-testing.h is for tests only"
#endif

/* From now on sc_random returns SHA-256(seed || BE64 counter) blocks, the
 * counter starting at 0: the same seed gives the same stream. A NULL seed
 * goes back to the CSPRNG. Process-wide and not thread-safe. */
void sc_random_testing_seed (const uint8_t *seed, size_t seed_len);
