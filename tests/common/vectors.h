/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The known-answer vector files under $SC_VECTORS_DIR, for the tests. */
#ifndef SC_TESTS_COMMON_VECTORS_H
#define SC_TESTS_COMMON_VECTORS_H

#include <glib.h>
#include <jansson.h>

/* The JSON file $SC_VECTORS_DIR/subdir/file, duplicate keys refused (owned
 * by the caller). Aborts the test program (g_error) when the variable is
 * unset or the file is missing or malformed. */
json_t *sc_test_load_vectors (const char *subdir, const char *file);

/* Decodes the hex string s, which must be exactly len bytes, into out. */
void sc_test_unhex_into (const char *s, guint8 *out, gsize len);

/* Decodes the hex string s (of even length) into a g_malloc'd buffer with
 * a byte to spare, so never NULL; *len receives the byte count. */
guint8 *sc_test_unhex (const char *s, gsize *len);

#endif
