/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Who is online, presence fan-out and message delivery. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "securechat/msg-fast.h"
#include "securechat/msg.h"

struct server;
struct client;
struct route;

int route_new (struct route **out);
void route_free (struct route *r);

/* The client logged in as user, or NULL. */
struct client *route_find (const struct route *r, const char *user);
/* Makes c the session of c->user, replacing (and returning) an older
 * session of the same user, or NULL. Announces the user online to the
 * others when there was no older session. */
int route_login (struct server *srv, struct client *c, struct client **old);
/* Called when a logged-in client goes away: announces the user offline when
 * c was its current session. */
void route_logout (struct server *srv, struct client *c);
/* Sends the sorted list of online users to c, in chunks. */
int route_send_presence_list (struct server *srv, struct client *c);
/* Handles a "send" from c: forwards it and acknowledges, or answers with
 * the matching error; a send over c->user's message_rate is answered
 * rate_limited (with ref and retry_after) before anything else. The body
 * is borrowed for the call only. */
void
route_send (struct server *srv, struct client *c, const struct sc_send_view *s);
size_t route_count (const struct route *r);
