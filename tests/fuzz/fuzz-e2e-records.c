/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The end-to-end manager's stored records (common/e2e.c: account,
 * identity, prekeys, replay cache, contacts, sessions), as a damaged or
 * tampered key store on disk would hand them over.
 *
 * The world is made once, from fixed seeds: alice, who has a session with
 * bob (each has answered the other) and one that carol started. Before
 * each input alice's storage goes back to that snapshot; then the input's
 * records replace hers. Input: records (fuzz.h) whose op names the record
 * (op % 8: account, identity, prekeys, replay, contact/bob, session/bob,
 * contact/carol, session/carol); an empty one removes it. Then alice's
 * manager opens the storage and runs every kind of call over it: contacts,
 * sessions, decrypting bob's next message and a new session from dave,
 * encrypting to carol, prekeys, accepting and verifying keys.
 *
 * Checked: the calls fail only with documented errors, and every record
 * the manager writes, it can read again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/init.h"

static const char *const names[] = {
  "account",     "identity",    "prekeys",       "replay",
  "contact/bob", "session/bob", "contact/carol", "session/carol",
};
#define N_NAMES (sizeof names / sizeof names[0])

static struct fuzz_party alice, bob, carol, dave;
static struct fuzz_mem *snapshot, *work;
static uint8_t *bob_msg, *dave_msg;
static size_t bob_len, dave_len;
static struct sc_msg_prekey_status status;

static void
world_init (void)
{
  struct sc_msg_bundle bundle;
  uint8_t *m = NULL;
  size_t len = 0;

  fuzz_party_init (&alice, "alice", "records");
  fuzz_party_init (&bob, "bob", "records");
  fuzz_party_init (&carol, "carol", "records");
  fuzz_party_init (&dave, "dave", "records");
  fuzz_party_converse (&alice, &bob, "records-world");
  fuzz_reseed ("records-world", 4);
  fuzz_party_bundle (&alice, 0, 1, &bundle);
  if (sc_e2e_start_session (carol.e2e, "alice", &bundle, FUZZ_NOW_MS) != SC_OK)
    fuzz_fail ("world: carol cannot start a session");
  fuzz_party_encrypt (&carol, "alice", "hello alice", &m, &len);
  fuzz_reseed ("records-world", 5);
  if (fuzz_party_decrypt (&alice, "carol", m, len) != SC_OK)
    fuzz_fail ("world: alice cannot read carol");
  free (m);

  snapshot = fuzz_mem_new ();
  fuzz_mem_copy (snapshot, alice.mem);
  work = fuzz_mem_new ();

  /* What comes next: bob's next message, and dave's first. */
  fuzz_reseed ("records-world", 6);
  fuzz_party_encrypt (&bob, "alice", "bob again", &bob_msg, &bob_len);
  fuzz_reseed ("records-world", 7);
  fuzz_party_bundle (&alice, 1, 1, &bundle);
  if (sc_e2e_start_session (dave.e2e, "alice", &bundle, FUZZ_NOW_MS) != SC_OK)
    fuzz_fail ("world: dave cannot start a session");
  fuzz_party_encrypt (&dave, "alice", "hi, dave here", &dave_msg, &dave_len);

  /* What the server holds for alice: all she published. */
  memset (&status, 0, sizeof status);
  status.has_identity = true;
  memcpy (status.identity, alice.upload.u.prekeys_upload.identity,
          sizeof status.identity);
  status.spk_id = alice.upload.u.prekeys_upload.spk_id;
  status.opks = SC_E2E_OPK_TARGET;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  sc_init ();
  world_init ();
  return 0;
}

/* Errors a call over damaged records may give. */
static void
check_rc (const char *what, int rc)
{
  if (rc >= 0 || rc == SC_ERR_STORAGE || rc == SC_ERR_NOT_FOUND ||
      rc == SC_ERR_NO_SESSION || rc == SC_ERR_IDENTITY_CHANGED ||
      rc == SC_ERR_DECRYPT || rc == SC_ERR_DUPLICATE || rc == SC_ERR_TOO_FAR ||
      rc == SC_ERR_DH || rc == SC_ERR_PROTOCOL || rc == SC_ERR_STATE ||
      rc == SC_ERR_NONCE_EXHAUSTED || rc == SC_ERR_TRUNCATED)
    {
      fuzz_trace ("%s: %s", what, rc >= 0 ? "ok" : sc_strerror (rc));
      return;
    }
  fuzz_fail ("%s: unexpected %s", what, sc_strerror (rc));
}

static int
decrypt (struct sc_e2e *e, const char *peer, const uint8_t *m, size_t len)
{
  uint8_t type = 0, *data = NULL;
  size_t data_len = 0;
  unsigned flags = 0;
  int rc = sc_e2e_decrypt (e, peer, m, len, FUZZ_NOW_MS, &type, &data,
                           &data_len, &flags);

  if (data != NULL)
    {
      sc_wipe (data, data_len);
      free (data);
    }
  return rc;
}

/* Every record e wrote must load again. */
static void
check_written (struct sc_e2e *e)
{
  static const char *const peers[] = { "bob", "carol", "dave" };
  struct sc_e2e_contact ct;
  struct sc_msg up;
  bool needed = false;
  char name[64];
  int rc;

  for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++)
    {
      snprintf (name, sizeof name, "session/%s", peers[i]);
      if (fuzz_mem_written (work, name) &&
          sc_e2e_has_session (e, peers[i]) == SC_ERR_STORAGE)
        fuzz_fail ("alice cannot read the %s she wrote", name);
      snprintf (name, sizeof name, "contact/%s", peers[i]);
      if (fuzz_mem_written (work, name) &&
          sc_e2e_contact (e, peers[i], &ct) == SC_ERR_STORAGE)
        fuzz_fail ("alice cannot read the %s she wrote", name);
    }
  if (fuzz_mem_written (work, "prekeys"))
    {
      rc = sc_e2e_prekeys_needed (e, &status, FUZZ_NOW_MS, &up, &needed);
      if (rc == SC_ERR_STORAGE)
        fuzz_fail ("alice cannot read the prekeys she wrote");
      sc_msg_clear (&up);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct fuzz_reader rd = { data, size };
  struct sc_e2e_storage st;
  struct sc_e2e_contact ct;
  struct sc_e2e *e = NULL;
  struct sc_msg up;
  const uint8_t *d;
  uint8_t *m = NULL;
  size_t len, m_len = 0;
  bool needed = false;
  uint8_t op;
  int rc;

  fuzz_mem_copy (work, snapshot);
  for (int i = 0; i < 32 && fuzz_next (&rd, &op, &d, &len); i++)
    {
      if (len == 0)
        fuzz_mem_remove (work, names[op % N_NAMES]);
      else
        fuzz_mem_set (work, names[op % N_NAMES], d, len);
    }
  st = fuzz_mem_storage (work);
  fuzz_reseed ("records", 0);
  rc = sc_e2e_open (&st, FUZZ_SERVER, "alice", &e);
  fuzz_trace ("open: %s", sc_strerror (rc));
  if (rc != SC_OK)
    {
      FUZZ_CHECK (e == NULL);
      FUZZ_CHECK (rc == SC_ERR_STORAGE || rc == SC_ERR_STATE);
      return 0;
    }

  check_rc ("has_session bob", sc_e2e_has_session (e, "bob"));
  check_rc ("contact carol", sc_e2e_contact (e, "carol", &ct));
  fuzz_reseed ("records", 1);
  check_rc ("decrypt from bob", decrypt (e, "bob", bob_msg, bob_len));
  fuzz_reseed ("records", 2);
  check_rc ("decrypt from dave", decrypt (e, "dave", dave_msg, dave_len));
  fuzz_reseed ("records", 3);
  rc = sc_e2e_encrypt (e, "carol", SC_E2E_CONTENT_TEXT,
                       (const uint8_t *) "hi carol", 8, &m, &m_len);
  check_rc ("encrypt to carol", rc);
  free (m);
  fuzz_reseed ("records", 4);
  rc = sc_e2e_prekeys_needed (e, &status, FUZZ_NOW_MS, &up, &needed);
  check_rc ("prekeys", rc);
  sc_msg_clear (&up);
  check_rc ("accept bob", sc_e2e_accept_identity (e, "bob"));
  check_rc ("verify carol", sc_e2e_set_verified (e, "carol", true));
  check_written (e);
  sc_e2e_free (e);
  return 0;
}

/* ---- seeds ---- */

static void
emit_records (const char *name, int only, int cut, uint8_t first_byte)
{
  struct sc_e2e_storage st = fuzz_mem_storage (snapshot);
  struct fuzz_buf b = { 0 };

  for (size_t i = 0; i < N_NAMES; i++)
    {
      uint8_t *buf = NULL;
      size_t len = 0;

      if (only >= 0 && (size_t) only != i)
        continue;
      if (st.load (st.ud, names[i], &buf, &len) != SC_OK)
        fuzz_fail ("seed: alice has no %s", names[i]);
      if (cut > 0 && (size_t) cut < len)
        len -= (size_t) cut;
      if (first_byte != 0)
        buf[0] = first_byte;
      fuzz_buf_record (&b, (uint8_t) i, buf, len);
      free (buf);
    }
  fuzz_buf_emit (&b, name);
  fuzz_buf_free (&b);
}

void
fuzz_generate (void)
{
  char name[64];

  emit_records ("all-records", -1, 0, 0);
  for (size_t i = 0; i < N_NAMES; i++)
    {
      snprintf (name, sizeof name, "%s", names[i]);
      for (char *p = name; *p != '\0'; p++)
        if (*p == '/')
          *p = '-';
      emit_records (name, (int) i, 0, 0);
    }
  emit_records ("truncated-prekeys", 2, 5, 0);
  emit_records ("truncated-session-bob", 5, 40, 0);
  emit_records ("version-2-session-carol", 7, 0, 2);
  emit_records ("version-127-contact-bob", 4, 0, 0x7f);
  {
    struct fuzz_buf b = { 0 };

    /* No identity (a new one is made), no account, no sessions. */
    fuzz_buf_record (&b, 1, NULL, 0);
    fuzz_buf_record (&b, 0, NULL, 0);
    fuzz_buf_record (&b, 5, NULL, 0);
    fuzz_buf_record (&b, 7, NULL, 0);
    fuzz_buf_emit (&b, "removed");
    /* Another account's storage. */
    fuzz_buf_record_str (&b, 0,
                         "\x01\x05"
                         "other\x03"
                         "bob");
    fuzz_buf_emit (&b, "other-account");
    fuzz_buf_free (&b);
  }
}
