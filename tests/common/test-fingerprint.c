/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Server key fingerprints (PROTOCOL.md section 9). */
#include <glib.h>
#include <string.h>

#include "securechat/error.h"
#include "securechat/fingerprint.h"

/* Expected values computed independently of our code with
 *   printf '\x00\x01...\x1f' | openssl dgst -sha256 -binary | base64
 *   head -c 32 /dev/zero | openssl dgst -sha256 -binary | base64
 * and the trailing '=' removed. */
#define FP_COUNTING "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0"
#define FP_ZERO     "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU"

static void
test_known_answer (void)
{
  uint8_t pub[SC_X25519_LEN];
  char fp[SC_FINGERPRINT_LEN + 1];
  size_t i;

  for (i = 0; i < sizeof pub; i++)
    pub[i] = (uint8_t) i;
  memset (fp, 'X', sizeof fp);
  g_assert_cmpint (sc_fingerprint (pub, fp), ==, SC_OK);
  g_assert_cmpstr (fp, ==, FP_COUNTING);
  g_assert_cmpuint (strlen (fp), ==, SC_FINGERPRINT_LEN);

  memset (pub, 0, sizeof pub);
  g_assert_cmpint (sc_fingerprint (pub, fp), ==, SC_OK);
  g_assert_cmpstr (fp, ==, FP_ZERO);
}

static void
test_validate_good (void)
{
  g_assert_cmpint (sc_fingerprint_validate (FP_COUNTING), ==, SC_OK);
  g_assert_cmpint (sc_fingerprint_validate (FP_ZERO), ==, SC_OK);
  /* The example of PROTOCOL.md section 9. */
  g_assert_cmpint (sc_fingerprint_validate (
                       "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
                   ==, SC_OK);
}

static const struct
{
  const char *name;
  const char *fp;
} bad[] = {
  { "empty", "" },
  { "prefix-only", "SHA256:" },
  { "no-prefix", "Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0" },
  { "lowercase-prefix", "sha256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0" },
  { "md5-prefix", "MD5:xxYw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0" },
  { "short", "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN" },
  { "long", "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0A" },
  { "padded", "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0=" },
  { "url-safe", "SHA256:Yw3NKWbEM2aRElRIu7JbT_QSpJxzLbLIq8G4WBvXEN0" },
  { "space", "SHA256:Yw3NKWbEM2aRElRIu7JbT QSpJxzLbLIq8G4WBvXEN0" },
  { "leading-space", " SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN" },
  { "trailing-newline",
    "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0\n" },
  { "pad-in-body", "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXE=0" },
  /* '1' leaves a nonzero bit in the two bits past the digest. */
  { "nonzero-pad-bits", "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN1" },
  { "hex", "SHA256:630dcd2966c43366911254" },
};

static void
test_validate_bad (gconstpointer data)
{
  size_t i = GPOINTER_TO_SIZE (data);

  g_assert_cmpint (sc_fingerprint_validate (bad[i].fp), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_fingerprint_equal (bad[i].fp, bad[i].fp), ==, 0);
  g_assert_cmpint (sc_fingerprint_equal (bad[i].fp, FP_COUNTING), ==, 0);
}

static void
test_equal (void)
{
  char a[] = FP_COUNTING, b[] = FP_COUNTING;

  g_assert_cmpint (sc_fingerprint_equal (a, b), ==, 1);
  g_assert_cmpint (sc_fingerprint_equal (FP_ZERO, FP_ZERO), ==, 1);
  g_assert_cmpint (sc_fingerprint_equal (a, FP_ZERO), ==, 0);
  /* One character different, first and last positions of the hash. */
  b[7] = 'Z';
  g_assert_cmpint (sc_fingerprint_equal (a, b), ==, 0);
  b[7] = a[7];
  b[SC_FINGERPRINT_LEN - 1] = 'E';
  g_assert_cmpint (sc_fingerprint_validate (b), ==, SC_OK);
  g_assert_cmpint (sc_fingerprint_equal (a, b), ==, 0);
  g_assert_cmpint (sc_fingerprint_equal (NULL, a), ==, 0);
  g_assert_cmpint (sc_fingerprint_equal (a, NULL), ==, 0);
  g_assert_cmpint (sc_fingerprint_equal (NULL, NULL), ==, 0);
}

static void
test_bad_args (void)
{
  uint8_t pub[SC_X25519_LEN] = { 0 };
  char fp[SC_FINGERPRINT_LEN + 1];

  g_assert_cmpint (sc_fingerprint (NULL, fp), ==, SC_ERR_INVALID);
  g_assert_cmpstr (fp, ==, "");
  g_assert_cmpint (sc_fingerprint (pub, NULL), ==, SC_ERR_INVALID);
  g_assert_cmpint (sc_fingerprint_validate (NULL), ==, SC_ERR_INVALID);
}

int
main (int argc, char **argv)
{
  size_t i;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/fingerprint/known-answer", test_known_answer);
  g_test_add_func ("/common/fingerprint/validate/good", test_validate_good);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      char *path =
          g_strdup_printf ("/common/fingerprint/validate/%s", bad[i].name);
      g_test_add_data_func (path, GSIZE_TO_POINTER (i), test_validate_bad);
      g_free (path);
    }
  g_test_add_func ("/common/fingerprint/equal", test_equal);
  g_test_add_func ("/common/fingerprint/bad-args", test_bad_args);
  return g_test_run ();
}
