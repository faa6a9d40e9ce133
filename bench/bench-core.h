/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the two load generators share, securechat-bench (bench/, the
 * comparison with other servers) and sc-bench (tests/bench/, the load
 * and abuse scenarios): one clock, latency samples and their
 * percentiles, the server's CPU time and memory from /proc, and the
 * parsing of their options. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Latencies kept per run; later ones are counted as dropped. */
#define BENCH_MAX_SAMPLES (16u * 1024 * 1024)

struct bench_samples
{
  uint32_t *us; /* microseconds */
  size_t n;
  size_t cap;
  uint64_t dropped; /* not stored: over BENCH_MAX_SAMPLES or no memory */
  bool sorted;
};

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_mono_ns (void);

void bench_put_be64 (uint8_t *p, uint64_t v);
uint64_t bench_get_be64 (const uint8_t *p);

void bench_samples_add (struct bench_samples *s, int64_t ns);
/* The p-quantile (0 < p <= 1, nearest rank) in milliseconds, or -1
 * without samples. Sorts the samples the first time. */
double bench_samples_quantile_ms (struct bench_samples *s, double p);
void bench_samples_free (struct bench_samples *s);

/* utime + stime of the whole process (all threads), in clock ticks. */
bool bench_proc_cpu_ticks (pid_t pid, uint64_t *ticks);
/* VmRSS and VmHWM in KiB; -1 when unknown. */
void bench_proc_mem (pid_t pid, long *rss_kib, long *hwm_kib);

/* --NAME's value s as an integer in lo..hi; prints why not, as prog. */
int bench_parse_uint (const char *prog,
                      const char *name,
                      const char *s,
                      unsigned lo,
                      unsigned hi,
                      unsigned *out);
/* Seconds with up to three decimals ("2", "0.5") in (0, max_s], or in
 * [0, max_s] with zero_ok; *out_ms in milliseconds. */
int bench_parse_seconds (const char *prog,
                         const char *name,
                         const char *s,
                         bool zero_ok,
                         unsigned max_s,
                         unsigned *out_ms);
/* The first line of the file at path, without its line end (malloc'd),
 * or NULL after saying why, as prog. The copy on the stack is wiped. */
char *bench_read_password_file (const char *prog, const char *path);
/* "HOST:PORT" or "[V6]:PORT" with a numeric port. */
int bench_split_hostport (
    const char *s, char *host, size_t host_cap, char *port, size_t port_cap);
