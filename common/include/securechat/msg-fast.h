/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The relaying hot path without a JSON tree (PROTOCOL.md §5.5-5.8):
 * scanners for "send", "message" and "sent" as our programs write them,
 * and writers for those and "presence" straight into a caller's
 * buffer.
 *
 * The scanner only accepts. A text it cannot read completely (an escape
 * in a string, an unexpected member, a number with a fraction, a body
 * that is not canonical base64, ...) is declined, and the caller then
 * runs sc_msg_parse(), which gives the precise answer. It never accepts a
 * text sc_msg_parse() refuses, and what it reads is what sc_msg_parse()
 * reads (fuzz-msg-fast and test-msg-fast compare the two). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securechat/msg.h"

/* A "send" read in place: body points into the scanned text. */
struct sc_send_view
{
  uint64_t id;
  char to[SC_USERNAME_MAX + 1];
  const char *body; /* base64, canonical, not NUL-terminated */
  size_t body_len;
};

/* A "message" read in place: body points into the scanned text. */
struct sc_message_view
{
  uint64_t id;
  char from[SC_USERNAME_MAX + 1];
  int64_t ts;
  const char *body; /* base64, canonical, not NUL-terminated */
  size_t body_len;
};

/* Each: SC_OK and *out filled when text is a valid message of that type
 * the scanner reads; SC_ERR_AGAIN when it declines (run sc_msg_parse). */
int
sc_msg_scan_send (const uint8_t *text, size_t len, struct sc_send_view *out);
int sc_msg_scan_message (const uint8_t *text,
                         size_t len,
                         struct sc_message_view *out);
int sc_msg_scan_sent (const uint8_t *text, size_t len, struct sc_msg_sent *out);

/* The longest "message" text for a body of body_len characters. */
#define SC_MSG_MESSAGE_MAX(body_len) ((body_len) + 128)
/* The longest "send" text for a body of body_len bytes before encoding. */
#define SC_MSG_SEND_MAX(body_len) (((body_len) + 2) / 3 * 4 + 96)
/* The longest "sent" and "presence" texts. */
#define SC_MSG_SENT_MAX     96
#define SC_MSG_PRESENCE_MAX 96

/* {"type":"message","id":ID,"from":FROM,"ts":TS,"body":BODY}. body must
 * be canonical base64 (as sc_msg_scan_send() or sc_msg_parse() checked
 * it); its length, the id, ts and from are checked here. */
int sc_msg_write_message (uint64_t id,
                          const char *from,
                          int64_t ts,
                          const char *body,
                          size_t body_len,
                          uint8_t *out,
                          size_t out_cap,
                          size_t *out_len);
/* {"type":"send","id":ID,"to":TO,"body":BASE64(BODY)}: the body is
 * encoded here, straight into out. */
int sc_msg_write_send (uint64_t id,
                       const char *to,
                       const uint8_t *body,
                       size_t body_len,
                       uint8_t *out,
                       size_t out_cap,
                       size_t *out_len);
/* {"type":"sent","ref":REF,"id":ID,"ts":TS} */
int sc_msg_write_sent (uint64_t ref,
                       uint64_t id,
                       int64_t ts,
                       uint8_t *out,
                       size_t out_cap,
                       size_t *out_len);
/* {"type":"presence","user":USER,"status":"online"|"offline"} */
int sc_msg_write_presence (const char *user,
                           bool online,
                           uint8_t *out,
                           size_t out_cap,
                           size_t *out_len);
