/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Password hashing (libxcrypt) and the worker pool that runs it off the
 * event loop. Jobs go to a bounded queue; a fixed set of threads verifies
 * them; results come back to the loop thread through a pipe watched by an
 * event, where the job's done callback runs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest password crypt(3) accepts: libxcrypt refuses passphrases of
 * CRYPT_MAX_PASSPHRASE_SIZE (512) bytes or more. */
#define AUTH_PASSWORD_MAX 511

struct event_base;
struct auth_pool;

struct auth_job
{
  /* in */
  uint64_t conn_id;
  char user[33];
  char *password; /* owned; wiped and freed by auth_job_free */
  size_t password_len;
  char *hash; /* owned copy of the stored hash; NULL = unknown user,
                 verified against the dummy hash so timing matches */
  /* out (valid in done) */
  bool ok;
  char *new_hash; /* set when ok and the stored hash was not yescrypt:
                     the password rehashed with yescrypt (upgrade) */
  /* runs on the loop thread, and owns job from then on (auth_job_free) */
  void (*done) (struct auth_job *job, void *ud);
  void *ud;
};

struct auth_job *auth_job_new (void);
void auth_job_free (struct auth_job *job);

/* workers >= 1, queue_max >= 1. */
int auth_pool_new (struct event_base *base,
                   unsigned workers,
                   unsigned queue_max,
                   struct auth_pool **out);
/* Takes ownership of job on success (0). -1 when the queue is full: the
 * caller still owns the job and answers "server_busy". */
int auth_pool_submit (struct auth_pool *pool, struct auth_job *job);
/* Jobs waiting or running. */
unsigned auth_pool_load (const struct auth_pool *pool);
/* Stops the workers; jobs not yet done are freed without their callback. */
void auth_pool_free (struct auth_pool *pool);

/* A new yescrypt hash at libxcrypt's default cost; *out is malloc'd. */
int auth_hash_password (const char *password, char **out);
/* 1 when password matches hash, 0 otherwise (also for a malformed hash, a
 * '*' failure token, or a password over 72 bytes against bcrypt). The
 * final comparison is constant-time. */
int auth_verify_password (const char *password,
                          size_t password_len,
                          const char *hash);
/* True for hashes to rewrite after a successful login (anything but $y$). */
bool auth_hash_is_legacy (const char *hash);
