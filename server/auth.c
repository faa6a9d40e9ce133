/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Password hashing with libxcrypt, and the pool of threads that runs it so
 * that the event loop never waits for a hash.
 *
 * The loop thread submits jobs to a bounded queue (mutex + condition
 * variable). A worker takes a job, verifies the password (against a dummy
 * yescrypt hash when the user is unknown, so both cases cost the same),
 * rehashes it when the stored hash is legacy, wipes the password, and puts
 * the job on a "finished" list. When that list goes from empty to
 * non-empty the worker writes one byte to a pipe; the loop thread watches
 * the pipe's read end with a persistent event, drains it, takes the whole
 * list and runs each job's done callback. Keeping finished jobs on a list
 * (rather than in the pipe) means a worker never blocks on a full pipe, and
 * auth_pool_free can free every job it still holds. */
#define _GNU_SOURCE 1 /* pipe2 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "log.h"
#include "securechat/crypto.h"

/* bcrypt only looks at the first 72 bytes of a password: anything longer
 * would verify by its prefix, so it is refused. */
#define BCRYPT_PASSWORD_MAX 72
/* The workers' nice value (0 is the loop thread's): see worker_main. */
#define AUTH_WORKER_NICE 10

struct auth_pool
{
  struct event_base *base;
  struct event *ev;
  int pipe_rd;
  int pipe_wr;

  pthread_mutex_t mu;
  pthread_cond_t cond;
  bool stop;
  /* Waiting jobs: a ring buffer of queue_max slots. */
  struct auth_job **queue;
  unsigned queue_max;
  unsigned queue_head;
  unsigned queue_len;
  unsigned running;
  /* Finished jobs not yet handed to the loop, in completion order, and
   * a second array of the same size that the loop swaps in. */
  struct auth_job **done;
  struct auth_job **spare;
  unsigned done_len;
  unsigned done_cap;
  /* queue_len + running, readable without the lock. */
  unsigned load;

  pthread_t *threads;
  unsigned n_threads;

  char *dummy_hash;
};

struct auth_job *
auth_job_new (void)
{
  return calloc (1, sizeof (struct auth_job));
}

static void
job_wipe_password (struct auth_job *job)
{
  if (job->password != NULL)
    {
      OPENSSL_cleanse (job->password, job->password_len);
      free (job->password);
    }
  job->password = NULL;
  job->password_len = 0;
}

void
auth_job_free (struct auth_job *job)
{
  if (job == NULL)
    return;
  job_wipe_password (job);
  free (job->hash);
  free (job->new_hash);
  OPENSSL_cleanse (job, sizeof *job);
  free (job);
}

bool
auth_hash_is_legacy (const char *hash)
{
  return hash != NULL && strncmp (hash, "$y$", 3) != 0;
}

static bool
is_bcrypt (const char *hash)
{
  return strncmp (hash, "$2a$", 4) == 0 || strncmp (hash, "$2b$", 4) == 0 ||
         strncmp (hash, "$2y$", 4) == 0 || strncmp (hash, "$2x$", 4) == 0;
}

/* Verifies with a caller-provided crypt work area. *hashed tells whether
 * a hash was actually computed (not for input refused up front). */
static int
verify_with (struct crypt_data *data,
             const char *password,
             size_t password_len,
             const char *hash,
             bool *hashed)
{
  size_t hash_len;
  const char *out;
  char *pw;
  int ok = 0;

  *hashed = false;
  if (password == NULL || hash == NULL || password_len == 0 ||
      password_len > AUTH_PASSWORD_MAX)
    return 0;
  hash_len = strlen (hash);
  if (hash_len == 0 || hash[0] == '*' || hash_len >= CRYPT_OUTPUT_SIZE)
    return 0;
  if (memchr (password, '\0', password_len) != NULL)
    return 0;
  if (is_bcrypt (hash) && password_len > BCRYPT_PASSWORD_MAX)
    return 0;

  /* crypt needs a NUL-terminated copy; password may not be one. */
  pw = malloc (password_len + 1);
  if (pw == NULL)
    return 0;
  memcpy (pw, password, password_len);
  pw[password_len] = '\0';

  out = crypt_rn (pw, hash, data, (int) sizeof *data);
  *hashed = true;
  if (out != NULL && out[0] != '*' && strlen (out) == hash_len &&
      CRYPTO_memcmp (out, hash, hash_len) == 0)
    ok = 1;

  OPENSSL_cleanse (pw, password_len);
  free (pw);
  OPENSSL_cleanse (data, sizeof *data);
  return ok;
}

static int
hash_with (struct crypt_data *data, const char *password, char **out)
{
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  const char *h;
  size_t len;
  int ret = -1;

  *out = NULL;
  len = strnlen (password, AUTH_PASSWORD_MAX + 1);
  if (len == 0 || len > AUTH_PASSWORD_MAX)
    return -1;
  if (crypt_gensalt_rn (NULL, 0, NULL, 0, setting, (int) sizeof setting) ==
      NULL)
    return -1;
  h = crypt_rn (password, setting, data, (int) sizeof *data);
  if (h != NULL && h[0] != '*' && strncmp (h, "$y$", 3) == 0)
    {
      *out = strdup (h);
      if (*out != NULL)
        ret = 0;
    }
  OPENSSL_cleanse (data, sizeof *data);
  return ret;
}

int
auth_hash_password (const char *password, char **out)
{
  struct crypt_data *data;
  int ret;

  if (out == NULL)
    return -1;
  *out = NULL;
  if (password == NULL)
    return -1;
  data = calloc (1, sizeof *data);
  if (data == NULL)
    return -1;
  ret = hash_with (data, password, out);
  free (data);
  return ret;
}

int
auth_verify_password (const char *password,
                      size_t password_len,
                      const char *hash)
{
  struct crypt_data *data;
  bool hashed;
  int ok;

  data = calloc (1, sizeof *data);
  if (data == NULL)
    return 0;
  ok = verify_with (data, password, password_len, hash, &hashed);
  free (data);
  return ok;
}

static void
run_job (struct auth_pool *pool, struct crypt_data *data, struct auth_job *job)
{
  const char *hash = job->hash != NULL ? job->hash : pool->dummy_hash;
  bool hashed;
  int ok;

  ok = verify_with (data, job->password, job->password_len, hash, &hashed);
  if (!hashed)
    {
      /* Refused without hashing (over-long for bcrypt, say): spend the
       * time of a hash anyway, so that the answer's timing does not tell
       * a known user from an unknown one. */
      crypt_rn ("x", pool->dummy_hash, data, (int) sizeof *data);
      OPENSSL_cleanse (data, sizeof *data);
    }
  job->ok = ok == 1 && job->hash != NULL;
  if (job->ok && auth_hash_is_legacy (job->hash) && job->password != NULL &&
      memchr (job->password, '\0', job->password_len) == NULL)
    {
      /* verify_with checked the length; the password is NUL-terminated
       * by contract (auth.h), but build the string from its length. */
      char *pw = malloc (job->password_len + 1);

      if (pw != NULL)
        {
          memcpy (pw, job->password, job->password_len);
          pw[job->password_len] = '\0';
          if (hash_with (data, pw, &job->new_hash) != 0)
            job->new_hash = NULL;
          OPENSSL_cleanse (pw, job->password_len);
          free (pw);
        }
    }
  /* Nothing after this point needs the password. */
  job_wipe_password (job);
}

static void
notify_loop (struct auth_pool *pool)
{
  static const char byte = 1;
  ssize_t n;

  do
    n = write (pool->pipe_wr, &byte, 1);
  while (n < 0 && errno == EINTR);
  /* EAGAIN: the pipe already holds unread bytes, so the loop will run. */
}

static void *
worker_main (void *arg)
{
  struct auth_pool *pool = arg;
  struct crypt_data *data = calloc (1, sizeof *data);

  /* A hash keeps a core busy for tens of milliseconds by design, and a
   * login storm keeps every worker hashing: at the default priority the
   * workers would take the cores from the loop thread, and relaying would
   * wait behind them. SCHED_IDLE runs them only on time the loop leaves
   * over, and the loop takes the core back the moment it wakes (with
   * nice 10 alone, relay p99 during a storm on a shared core was 4.9
   * times its calm value; with SCHED_IDLE, 1.5 times). The price: on a
   * core the relaying saturates, logins wait. Nice 10 stays as the
   * fallback where SCHED_IDLE is refused. (Per thread on Linux; failing
   * is harmless.) */
  (void) setpriority (PRIO_PROCESS, (id_t) gettid (), AUTH_WORKER_NICE);
  {
    struct sched_param sp = { 0 };

    (void) pthread_setschedparam (pthread_self (), SCHED_IDLE, &sp);
  }
  pthread_mutex_lock (&pool->mu);
  for (;;)
    {
      struct auth_job *job;
      bool wake;

      while (!pool->stop && pool->queue_len == 0)
        pthread_cond_wait (&pool->cond, &pool->mu);
      if (pool->stop)
        break;
      job = pool->queue[pool->queue_head];
      pool->queue[pool->queue_head] = NULL;
      pool->queue_head = (pool->queue_head + 1) % pool->queue_max;
      pool->queue_len--;
      pool->running++;
      pthread_mutex_unlock (&pool->mu);

      if (data != NULL)
        run_job (pool, data, job);
      else
        {
          /* No work area: fail closed. */
          job->ok = false;
          job_wipe_password (job);
        }

      pthread_mutex_lock (&pool->mu);
      pool->running--;
      __atomic_store_n (&pool->load, pool->queue_len + pool->running,
                        __ATOMIC_RELAXED);
      /* auth_pool_submit keeps queue_len + done_len <= queue_max, so with
       * at most n_threads running, done never holds more than done_cap. */
      wake = pool->done_len == 0;
      pool->done[pool->done_len++] = job;
      if (wake)
        notify_loop (pool);
    }
  pthread_mutex_unlock (&pool->mu);
  free (data);
  return NULL;
}

/* On the loop thread: deliver every finished job. */
static void
pipe_cb (evutil_socket_t fd, short what, void *arg)
{
  struct auth_pool *pool = arg;
  struct auth_job **jobs;
  unsigned n, i;
  char buf[64];

  (void) what;
  while (read (fd, buf, sizeof buf) > 0)
    ;

  pthread_mutex_lock (&pool->mu);
  n = pool->done_len;
  if (n == 0)
    {
      pthread_mutex_unlock (&pool->mu);
      return;
    }
  /* Swap the list out, so callbacks run without the lock and may
   * submit new jobs. pipe_cb does not nest, so spare is free again by the
   * time it is swapped back in. */
  jobs = pool->done;
  pool->done = pool->spare;
  pool->spare = jobs;
  pool->done_len = 0;
  pthread_mutex_unlock (&pool->mu);

  for (i = 0; i < n; i++)
    {
      struct auth_job *job = jobs[i];

      jobs[i] = NULL;
      if (job->done != NULL)
        job->done (job, job->ud);
      else
        auth_job_free (job);
    }
}

static void
pool_stop_threads (struct auth_pool *pool)
{
  unsigned i;

  pthread_mutex_lock (&pool->mu);
  pool->stop = true;
  pthread_cond_broadcast (&pool->cond);
  pthread_mutex_unlock (&pool->mu);
  for (i = 0; i < pool->n_threads; i++)
    pthread_join (pool->threads[i], NULL);
  pool->n_threads = 0;
}

void
auth_pool_free (struct auth_pool *pool)
{
  unsigned i;

  if (pool == NULL)
    return;
  pool_stop_threads (pool);
  if (pool->ev != NULL)
    event_free (pool->ev);
  for (i = 0; i < pool->queue_len; i++)
    auth_job_free (pool->queue[(pool->queue_head + i) % pool->queue_max]);
  for (i = 0; i < pool->done_len; i++)
    auth_job_free (pool->done[i]);
  if (pool->pipe_rd >= 0)
    close (pool->pipe_rd);
  if (pool->pipe_wr >= 0)
    close (pool->pipe_wr);
  pthread_cond_destroy (&pool->cond);
  pthread_mutex_destroy (&pool->mu);
  free (pool->queue);
  free (pool->done);
  free (pool->spare);
  free (pool->threads);
  free (pool->dummy_hash);
  free (pool);
}

/* A yescrypt hash of a random password that nobody knows. */
static char *
make_dummy_hash (void)
{
  unsigned char rnd[24];
  char pw[2 * sizeof rnd + 1];
  char *hash = NULL;
  size_t i;

  if (sc_random (rnd, sizeof rnd) != 0)
    return NULL;
  for (i = 0; i < sizeof rnd; i++)
    snprintf (pw + 2 * i, 3, "%02x", rnd[i]);
  if (auth_hash_password (pw, &hash) != 0)
    hash = NULL;
  OPENSSL_cleanse (rnd, sizeof rnd);
  OPENSSL_cleanse (pw, sizeof pw);
  return hash;
}

int
auth_pool_new (struct event_base *base,
               unsigned workers,
               unsigned queue_max,
               struct auth_pool **out)
{
  struct auth_pool *pool;
  sigset_t all, old;
  int fds[2];
  unsigned i;

  if (out == NULL)
    return -1;
  *out = NULL;
  if (base == NULL || workers < 1 || queue_max < 1 || workers > 1024 ||
      queue_max > (1u << 24))
    return -1;

  pool = calloc (1, sizeof *pool);
  if (pool == NULL)
    return -1;
  pool->base = base;
  pool->pipe_rd = -1;
  pool->pipe_wr = -1;
  pool->queue_max = queue_max;
  /* Every job is either queued, running or finished: at most
   * queue_max + workers finished ones wait for the loop. */
  pool->done_cap = queue_max + workers;
  if (pthread_mutex_init (&pool->mu, NULL) != 0)
    {
      free (pool);
      return -1;
    }
  if (pthread_cond_init (&pool->cond, NULL) != 0)
    {
      pthread_mutex_destroy (&pool->mu);
      free (pool);
      return -1;
    }
  pool->queue = calloc (queue_max, sizeof *pool->queue);
  pool->done = calloc (pool->done_cap, sizeof *pool->done);
  pool->spare = calloc (pool->done_cap, sizeof *pool->spare);
  pool->threads = calloc (workers, sizeof *pool->threads);
  pool->dummy_hash = make_dummy_hash ();
  if (pool->queue == NULL || pool->done == NULL || pool->spare == NULL ||
      pool->threads == NULL || pool->dummy_hash == NULL)
    goto fail;

  if (pipe2 (fds, O_CLOEXEC | O_NONBLOCK) != 0)
    goto fail;
  pool->pipe_rd = fds[0];
  pool->pipe_wr = fds[1];
  pool->ev =
      event_new (base, pool->pipe_rd, EV_READ | EV_PERSIST, pipe_cb, pool);
  if (pool->ev == NULL || event_add (pool->ev, NULL) != 0)
    goto fail;

  /* Workers never take the process's signals: those belong to the loop. */
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  for (i = 0; i < workers; i++)
    {
      if (pthread_create (&pool->threads[i], NULL, worker_main, pool) != 0)
        break;
      pool->n_threads++;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (pool->n_threads != workers)
    goto fail;

  *out = pool;
  return 0;

fail:
  auth_pool_free (pool);
  return -1;
}

int
auth_pool_submit (struct auth_pool *pool, struct auth_job *job)
{
  if (pool == NULL || job == NULL)
    return -1;
  pthread_mutex_lock (&pool->mu);
  /* Finished jobs the loop has not collected yet still count, which
   * bounds the finished list too. */
  if (pool->stop || pool->queue_len + pool->done_len >= pool->queue_max)
    {
      pthread_mutex_unlock (&pool->mu);
      return -1;
    }
  job->ok = false;
  pool->queue[(pool->queue_head + pool->queue_len) % pool->queue_max] = job;
  pool->queue_len++;
  __atomic_store_n (&pool->load, pool->queue_len + pool->running,
                    __ATOMIC_RELAXED);
  pthread_cond_signal (&pool->cond);
  pthread_mutex_unlock (&pool->mu);
  return 0;
}

unsigned
auth_pool_load (const struct auth_pool *pool)
{
  if (pool == NULL)
    return 0;
  return __atomic_load_n (&pool->load, __ATOMIC_RELAXED);
}
