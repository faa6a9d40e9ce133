/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A prekey bundle from the server: sc_msg_parse of a "bundle", then
 * sc_e2e_start_session on it (signed prekey verification, the contact's
 * identity check, X3DH as the initiator) and a first message.
 *
 * The world is made once, from fixed seeds: alice, who has a session with
 * bob (each has answered the other), and bob and carol, who published
 * prekeys. Before each input every storage goes back to its snapshot.
 * Input: the JSON text of one message.
 *
 * Checked: nothing is stored from a bundle whose signature does not
 * verify; a changed identity creates no session and leaves the contact
 * marked changed; a session started from the bundle a user really
 * published gives a first message that user decrypts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/init.h"
#include "securechat/msg.h"

static struct fuzz_party alice, bob, carol;
static struct fuzz_mem *snapshot[3];

static struct fuzz_party *
party_named (const char *user)
{
  if (strcmp (user, "bob") == 0)
    return &bob;
  if (strcmp (user, "carol") == 0)
    return &carol;
  return NULL;
}

static void
restore (void)
{
  fuzz_mem_copy (alice.mem, snapshot[0]);
  fuzz_mem_copy (bob.mem, snapshot[1]);
  fuzz_mem_copy (carol.mem, snapshot[2]);
}

static void
world_init (void)
{
  fuzz_party_init (&alice, "alice", "bundle");
  fuzz_party_init (&bob, "bob", "bundle");
  fuzz_party_init (&carol, "carol", "bundle");
  fuzz_party_converse (&alice, &bob, "bundle-world");
  for (int i = 0; i < 3; i++)
    snapshot[i] = fuzz_mem_new ();
  fuzz_mem_copy (snapshot[0], alice.mem);
  fuzz_mem_copy (snapshot[1], bob.mem);
  fuzz_mem_copy (snapshot[2], carol.mem);
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

/* Whether b is exactly what p published (with one of its one-time
 * prekeys, or none). */
static bool
published (const struct fuzz_party *p, const struct sc_msg_bundle *b)
{
  const struct sc_msg_prekeys_upload *u = &p->upload.u.prekeys_upload;

  if (memcmp (b->identity, u->identity, sizeof b->identity) != 0 ||
      b->spk_id != u->spk_id || memcmp (b->spk, u->spk, sizeof b->spk) != 0)
    return false;
  if (!b->has_opk)
    return true;
  for (size_t i = 0; i < u->n_opks; i++)
    if (u->opks[i].id == b->opk_id)
      return memcmp (u->opks[i].key, b->opk, sizeof b->opk) == 0;
  return false;
}

/* alice's record kind/peer ("session", "contact") into b (empty when
 * absent). */
static void
record_of (const char *kind, const char *peer, struct fuzz_buf *b)
{
  struct sc_e2e_storage st = fuzz_mem_storage (alice.mem);
  char name[64];
  uint8_t *buf = NULL;
  size_t len = 0;

  b->len = 0;
  snprintf (name, sizeof name, "%s/%s", kind, peer);
  if (st.load (st.ud, name, &buf, &len) == SC_OK)
    {
      fuzz_buf_u8 (b, 1);
      fuzz_buf_put (b, buf, len);
      free (buf);
    }
}

static bool
same (const struct fuzz_buf *a, const struct fuzz_buf *b)
{
  return a->len == b->len && (a->len == 0 || memcmp (a->p, b->p, a->len) == 0);
}

static void
check_bundle (const struct sc_msg_bundle *b)
{
  struct fuzz_buf sessions[2] = { { 0 } }, contacts[2] = { { 0 } };
  struct fuzz_party *peer = party_named (b->user);
  struct sc_e2e_contact ct;
  uint8_t *m = NULL;
  size_t len = 0;
  int rc;

  restore ();
  record_of ("session", b->user, &sessions[0]);
  record_of ("contact", b->user, &contacts[0]);
  fuzz_reseed ("bundle", 0);
  rc = sc_e2e_start_session (alice.e2e, b->user, b, FUZZ_NOW_MS);
  fuzz_trace ("start_session with %s: %s", b->user, sc_strerror (rc));
  record_of ("session", b->user, &sessions[1]);
  record_of ("contact", b->user, &contacts[1]);
  switch (rc)
    {
    case SC_OK:
      FUZZ_CHECK (sc_e2e_has_session (alice.e2e, b->user) == 1);
      fuzz_reseed ("bundle", 1);
      rc = sc_e2e_encrypt (alice.e2e, b->user, SC_E2E_CONTENT_TEXT,
                           (const uint8_t *) "hi", 2, &m, &len);
      FUZZ_CHECK (rc == SC_OK);
      FUZZ_CHECK (len >= 2 && m[1] == SC_E2E_KIND_PREKEY);
      if (peer != NULL)
        {
          fuzz_reseed ("bundle", 2);
          rc = fuzz_party_decrypt (peer, "alice", m, len);
          fuzz_trace ("%s decrypts: %s", b->user, sc_strerror (rc));
          if (published (peer, b) && rc != SC_OK)
            fuzz_fail ("%s cannot read a session from its own bundle: %s",
                       b->user, sc_strerror (rc));
        }
      free (m);
      break;
    case SC_ERR_IDENTITY_CHANGED:
      /* No session, and the new key is kept for the user to compare. */
      FUZZ_CHECK (same (&sessions[0], &sessions[1]));
      FUZZ_CHECK (sc_e2e_contact (alice.e2e, b->user, &ct) == SC_OK);
      FUZZ_CHECK (ct.changed && !ct.verified);
      FUZZ_CHECK (memcmp (ct.pending.dh, b->identity, 32) == 0);
      FUZZ_CHECK (sc_e2e_encrypt (alice.e2e, b->user, SC_E2E_CONTENT_TEXT,
                                  (const uint8_t *) "hi", 2, &m,
                                  &len) == SC_ERR_IDENTITY_CHANGED);
      break;
    case SC_ERR_SIGNATURE:
    case SC_ERR_DH:
    case SC_ERR_INVALID: /* a bundle of alice herself */
      if (!same (&sessions[0], &sessions[1]) ||
          !same (&contacts[0], &contacts[1]))
        fuzz_fail ("a refused bundle (%s) changed alice's records",
                   sc_strerror (rc));
      break;
    default:
      fuzz_fail ("sc_e2e_start_session: unexpected %s", sc_strerror (rc));
    }
  for (int i = 0; i < 2; i++)
    {
      fuzz_buf_free (&sessions[i]);
      fuzz_buf_free (&contacts[i]);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sc_msg m;

  if (sc_msg_parse (data, size, &m) != SC_OK)
    return 0;
  if (m.type == SC_MSG_BUNDLE)
    check_bundle (&m.u.bundle);
  sc_msg_clear (&m);
  return 0;
}

/* ---- seeds ---- */

static void
emit_bundle (const char *name, const struct sc_msg_bundle *b)
{
  struct sc_msg m;
  char *json = NULL;
  size_t len = 0;

  memset (&m, 0, sizeof m);
  m.type = SC_MSG_BUNDLE;
  m.u.bundle = *b;
  if (sc_msg_encode (&m, &json, &len) != SC_OK)
    fuzz_fail ("seed %s does not encode", name);
  fuzz_emit (name, json, len);
  free (json);
}

void
fuzz_generate (void)
{
  struct fuzz_party bob2;
  struct sc_msg_bundle b;

  fuzz_party_bundle (&bob, 1, 7, &b);
  emit_bundle ("bob-opk", &b);
  fuzz_party_bundle (&bob, -1, 8, &b);
  emit_bundle ("bob-no-opk", &b);
  fuzz_party_bundle (&carol, 0, 9, &b);
  emit_bundle ("carol-opk", &b);
  fuzz_party_bundle (&carol, -1, 10, &b);
  emit_bundle ("carol-no-opk", &b);
  fuzz_party_bundle (&alice, 0, 11, &b);
  emit_bundle ("alice-herself", &b);

  /* The server swapped keys: a one-time prekey is not signed, the signed
   * prekey is. */
  fuzz_party_bundle (&carol, 0, 12, &b);
  memset (b.opk, 0, sizeof b.opk);
  emit_bundle ("carol-zero-opk", &b);
  fuzz_party_bundle (&carol, 1, 13, &b);
  b.opk[5] ^= 1;
  emit_bundle ("carol-other-opk", &b);
  fuzz_party_bundle (&carol, 1, 14, &b);
  b.spk[0] ^= 1;
  emit_bundle ("carol-other-spk", &b);
  fuzz_party_bundle (&carol, 1, 15, &b);
  b.spk_sig[63] ^= 0x80;
  emit_bundle ("carol-bad-signature", &b);
  fuzz_party_bundle (&carol, 1, 16, &b);
  b.spk_id++;
  emit_bundle ("carol-other-spk-id", &b);

  /* bob reinstalled (or the server lies): another identity. */
  fuzz_party_init (&bob2, "bob", "bundle-reinstalled");
  fuzz_party_bundle (&bob2, 0, 17, &b);
  emit_bundle ("bob-new-identity", &b);
  /* carol's keys under bob's name. */
  fuzz_party_bundle (&carol, 2, 18, &b);
  memcpy (b.user, "bob", 4);
  emit_bundle ("carol-as-bob", &b);
  fuzz_party_clear (&bob2);
}
