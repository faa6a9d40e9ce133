/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test-only hooks of the ratchet (sccommon_testing only). */
#pragma once

#include "securechat/ratchet.h"

#ifndef SC_NOISE_TESTING
#error "ratchet-testing.h is for tests only"
#endif

/* Like sc_ratchet_init_alice with a fixed first ratchet key pair. */
int sc_ratchet_init_alice_fixed (const struct sc_dr_labels *l,
                                 const uint8_t sk[32],
                                 const uint8_t bob_dh_pub[32],
                                 const uint8_t dh_priv[32],
                                 const uint8_t *ad,
                                 size_t ad_len,
                                 struct sc_ratchet **out);
