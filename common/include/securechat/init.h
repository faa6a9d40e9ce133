/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Process-wide set-up of the libraries common/ builds on. Call once at the
 * start of main(), before any other sc_ function. */
#pragma once

/* Routes jansson's allocations through an allocator that wipes every block
 * when it is freed: the parser's scratch copies of a login message (the
 * password among them) then never linger in freed heap memory. */
int sc_init (void);
