/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What every fuzz harness shares: the libFuzzer entry points, the seed
 * generator hook, a fixed random stream per step of an input, a reader and
 * a writer for scripted inputs, an in-memory end-to-end storage and the
 * parties (identity and published prekeys) the end-to-end harnesses use.
 *
 * Each harness is built twice: with libFuzzer (fuzz-NAME, clang only) and
 * with replay.c as its main() (replay-NAME, any compiler), which replays
 * files under the sanitizers of the build and writes or checks the seed
 * corpus that fuzz_generate makes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/e2e.h"
#include "securechat/msg.h"

/* The time every harness passes in: inputs must not depend on the clock. */
#define FUZZ_NOW_MS INT64_C (1700000000000)
#define FUZZ_SERVER "127.0.0.1:12345"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Defined by each harness: makes its seed corpus, one fuzz_emit per file,
 * from the real encoders. Runs after LLVMFuzzerInitialize. */
void fuzz_generate (void);
/* Hands one seed to the replay driver (a no-op under libFuzzer). */
void fuzz_emit (const char *name, const void *data, size_t len);
extern void (*fuzz_emit_fn) (const char *name, const void *data, size_t len);

/* A broken invariant: prints why and aborts, so that the fuzzer keeps the
 * input as a crash. */
__attribute__ ((noreturn, format (printf, 1, 2))) void
fuzz_fail (const char *fmt, ...);
#define FUZZ_CHECK(cond)                                                       \
  do                                                                           \
    {                                                                          \
      if (!(cond))                                                             \
        fuzz_fail ("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);      \
    }                                                                          \
  while (0)

/* With FUZZ_TRACE set in the environment, prints a line to stderr (what
 * each step of an input did, when reading a crash or checking a seed). */
__attribute__ ((format (printf, 1, 2))) void fuzz_trace (const char *fmt, ...);

/* Reseeds sc_random with (tag, step): every step of every input draws the
 * same keys whatever ran before it. */
void fuzz_reseed (const char *tag, uint32_t step);

/* Scripted inputs: a sequence of records  u8 op || BE16 len || len bytes.
 * A record cut short by the end of the input keeps what is there. */
struct fuzz_reader
{
  const uint8_t *p;
  size_t left;
};

bool fuzz_next (struct fuzz_reader *r,
                uint8_t *op,
                const uint8_t **data,
                size_t *len);

/* A growing byte buffer for building seeds; aborts when out of memory. */
struct fuzz_buf
{
  uint8_t *p;
  size_t len;
  size_t cap;
};

void fuzz_buf_put (struct fuzz_buf *b, const void *data, size_t len);
void fuzz_buf_u8 (struct fuzz_buf *b, uint8_t v);
void
fuzz_buf_record (struct fuzz_buf *b, uint8_t op, const void *data, size_t len);
void fuzz_buf_record_str (struct fuzz_buf *b, uint8_t op, const char *s);
void fuzz_buf_free (struct fuzz_buf *b);
/* Emits b as a seed and empties it. */
void fuzz_buf_emit (struct fuzz_buf *b, const char *name);

/* The server's static key pair in the handshake harnesses. */
void fuzz_server_key (uint8_t priv[32], uint8_t pub[32]);

/* An in-memory sc_e2e_storage; fuzz_mem_copy makes dst the same records
 * as src (a snapshot to return to before each input). */
struct fuzz_mem;

struct fuzz_mem *fuzz_mem_new (void);
void fuzz_mem_free (struct fuzz_mem *m);
struct sc_e2e_storage fuzz_mem_storage (struct fuzz_mem *m);
void fuzz_mem_copy (struct fuzz_mem *dst, const struct fuzz_mem *src);
/* Whether the storage wrote name since the last fuzz_mem_copy into m. */
bool fuzz_mem_written (const struct fuzz_mem *m, const char *name);
/* Sets name to len bytes of data directly (not a write). */
void fuzz_mem_set (struct fuzz_mem *m,
                   const char *name,
                   const uint8_t *data,
                   size_t len);
void fuzz_mem_remove (struct fuzz_mem *m, const char *name);

/* One account's end-to-end manager over its own memory storage, with the
 * prekeys it published (an upload of a signed prekey and
 * SC_E2E_OPK_TARGET one-time prekeys), all drawn from a stream seeded by
 * user and tag. */
struct fuzz_party
{
  char user[SC_USERNAME_MAX + 1];
  struct fuzz_mem *mem;
  struct sc_e2e *e2e;
  struct sc_msg upload; /* SC_MSG_PREKEYS_UPLOAD */
};

void fuzz_party_init (struct fuzz_party *p, const char *user, const char *tag);
void fuzz_party_clear (struct fuzz_party *p);
/* The bundle the server would hand out for p, with one-time prekey
 * opk (an index into the upload) or none when opk < 0. */
void fuzz_party_bundle (const struct fuzz_party *p,
                        int opk,
                        uint64_t ref,
                        struct sc_msg_bundle *out);
/* p's end-to-end encryption of text to peer; aborts on failure. */
void fuzz_party_encrypt (struct fuzz_party *p,
                         const char *peer,
                         const char *text,
                         uint8_t **msg,
                         size_t *msg_len);
/* p decrypts msg from peer; returns the sc_error. */
int fuzz_party_decrypt (struct fuzz_party *p,
                        const char *peer,
                        const uint8_t *msg,
                        size_t msg_len);
/* a starts a session from b's bundle (its first one-time prekey), and each
 * reads the other's first message ("hello NAME"): where every end-to-end
 * harness starts. The randomness of step i is fuzz_reseed (world, i) for
 * i in 0..3, so one world always gives the same keys. Aborts on failure. */
void fuzz_party_converse (struct fuzz_party *a,
                          struct fuzz_party *b,
                          const char *world);
