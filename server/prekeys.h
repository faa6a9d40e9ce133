/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Published prekey bundles (PROTOCOL.md sections 5.12-5.14): one file per
 * user, DIR/prekeys/<user>.json (folder 0700, files 0600), holding
 *
 *   {"identity": b64, "spk_id": n, "spk": b64, "spk_sig": b64,
 *    "opks": [{"id": n, "key": b64}, ...]}
 *
 * with the one-time prekeys oldest first. Only public keys: the server
 * never holds a private key of a user. Every change is written atomically
 * (temp file, fsync, rename, fsync of the folder) before the call returns,
 * so an answer never announces what a crash could undo. Files are read on
 * each call and validated strictly (the signature included); a file that
 * fails is logged and counts as "nothing published" for that user.
 *
 * The store functions are the testable core; the prekeys_handle_* and
 * prekeys_send_status functions are the server's message handlers, whose
 * state (the store and the bundle_request limits) is a struct
 * prekeys_service owned by struct server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/msg.h"

#define PREKEYS_DIR_NAME "prekeys"
/* One-time prekeys kept per user; an upload over it drops the oldest. */
#define PREKEYS_OPK_MAX 200
/* Below this many after a fetch, the owner is sent a prekey_status. */
#define PREKEYS_OPK_LOW 20
/* bundle_request per requesting user: a token bucket of PREKEYS_FETCH_BURST
 * requests, refilled at PREKEYS_FETCH_PER_MINUTE. */
#define PREKEYS_FETCH_BURST      60
#define PREKEYS_FETCH_PER_MINUTE 60

struct prekeys;
struct prekeys_service;
struct server;
struct client;

enum prekeys_result
{
  PREKEYS_OK = 0,
  PREKEYS_ERROR = -1,        /* I/O or memory; err says what */
  PREKEYS_BAD_SIGNATURE = 1, /* upload: spk_sig does not verify */
  PREKEYS_NONE = 2,          /* take_bundle: the user published nothing */
};

/* What an upload did. */
struct prekeys_upload_info
{
  bool new_identity; /* a different identity replaced a stored one */
  uint32_t added;    /* one-time prekeys added */
  uint32_t dropped;  /* oldest one-time prekeys dropped over the cap */
  struct sc_msg_prekey_status status; /* what is stored now */
};

/* The store in data_dir/prekeys; the folder is created on the first
 * write. Touches no file. */
int prekeys_open (const char *data_dir,
                  struct prekeys **out,
                  char *err,
                  size_t err_cap);
void prekeys_free (struct prekeys *pk);

/* Verifies up->spk_sig against up->identity, then stores: a first upload
 * or a different identity replaces the bundle whole; the same identity
 * replaces the signed prekey and adds the one-time prekeys whose ids are
 * not stored yet, keeping the newest PREKEYS_OPK_MAX. PREKEYS_OK,
 * PREKEYS_BAD_SIGNATURE (nothing written) or PREKEYS_ERROR. */
int prekeys_upload (struct prekeys *pk,
                    const char *user,
                    const struct sc_msg_prekeys_upload *up,
                    struct prekeys_upload_info *info,
                    char *err,
                    size_t err_cap);

/* Fills out (all but ref) with user's bundle and the oldest one-time
 * prekey, which is removed from the file before this returns; without one
 * left, out->has_opk is false. *left: one-time prekeys remaining.
 * PREKEYS_OK, PREKEYS_NONE or PREKEYS_ERROR. */
int prekeys_take_bundle (struct prekeys *pk,
                         const char *user,
                         struct sc_msg_bundle *out,
                         uint32_t *left,
                         char *err,
                         size_t err_cap);

/* What is stored for user (has_identity false when nothing is).
 * PREKEYS_OK or PREKEYS_ERROR. */
int prekeys_status (struct prekeys *pk,
                    const char *user,
                    struct sc_msg_prekey_status *out,
                    char *err,
                    size_t err_cap);

/* Deletes user's bundle file (securechatd userdel), so that a new account
 * of the same name does not hand out the old one's keys; the folder is
 * synced after. PREKEYS_OK when a file was deleted, PREKEYS_NONE when
 * there was none, or PREKEYS_ERROR. */
int prekeys_delete (struct prekeys *pk,
                    const char *user,
                    char *err,
                    size_t err_cap);

/* Removes the temporary files (DIR/prekeys/.USER.tmp) of writes that a
 * crash or SIGKILL interrupted before their rename; the server calls it at
 * start, while it is the only writer. *removed: how many. PREKEYS_OK
 * (also when the folder does not exist yet) or PREKEYS_ERROR. */
int prekeys_sweep (struct prekeys *pk,
                   unsigned *removed,
                   char *err,
                   size_t err_cap);

/* ---- Server handlers (loop thread). Logs name users and key ids, never
 * key material. ---- */

/* What the handlers keep: the store in data_dir/prekeys (touching no file
 * yet) and the bundle_request limit of each requesting user. Created by
 * server_init, freed by server_cleanup. PREKEYS_OK, or PREKEYS_ERROR with
 * err set (out of memory, a missing argument). */
int prekeys_service_new (const char *data_dir,
                         struct prekeys_service **out,
                         char *err,
                         size_t err_cap);
/* NULL is a no-op. */
void prekeys_service_free (struct prekeys_service *svc);
/* svc's store, owned by svc. */
struct prekeys *prekeys_service_store (struct prekeys_service *svc);

/* "prekeys_upload" from a logged-in client: answered by prekey_status, or
 * by error bad_request (no ref) when the signature does not verify; the
 * connection stays open either way. Uses srv->prekeys. */
void prekeys_handle_upload (struct server *srv,
                            struct client *c,
                            const struct sc_msg_prekeys_upload *m);
/* "bundle_request": answered by bundle, or by error with ref:
 * rate_limited (more than 60 a minute from one user; with retry_after),
 * self_message, unknown_user or no_prekeys. When a one-time prekey was
 * handed out and fewer than PREKEYS_OPK_LOW are left, the owner, if
 * online, is sent a prekey_status. Uses srv->prekeys. */
void prekeys_handle_bundle_request (struct server *srv,
                                    struct client *c,
                                    const struct sc_msg_bundle_request *m);
/* Sends c the prekey_status of c->user (after login). Returns -1 when
 * sending closed the client, else 0 (a store error is logged, and nothing
 * sent). Uses srv->prekeys. */
int prekeys_send_status (struct server *srv, struct client *c);
/* svc's bundle_request limit: 0 when user may fetch a bundle at now_ms
 * (monotonic; the request is counted), else the ms to wait, or -1 when out
 * of memory. */
int64_t prekeys_fetch_check (struct prekeys_service *svc,
                             const char *user,
                             int64_t now_ms);
/* The same limit for prekeys_upload, in a budget of its own per user. */
int64_t prekeys_upload_check (struct prekeys_service *svc,
                              const char *user,
                              int64_t now_ms);
