/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Building a jansson tree for every relayed message was two thirds of the
 * server's time per message (bench/results/profile-securechatd.md). The
 * "send" that clients write is a flat object of four members with no
 * escapes; this reads exactly that shape and leaves everything else to
 * the strict parser. */
#include "securechat/msg-fast.h"

#include <string.h>

#include "securechat/base64.h"
#include "securechat/crypto.h"
#include "securechat/error.h"
#include "securechat/frame.h"

/* sc_msg_parse's limit on a JSON text. */
#define TEXT_MAX (SC_FRAME_MAX - SC_AEAD_TAG_LEN)

/* JSON's four whitespace characters (RFC 8259 §2), as jansson reads them. */
static const uint8_t *
skip_ws (const uint8_t *p, const uint8_t *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* A string at p (its opening quote) up to the next quote. NULL when the
 * text ends first or the string holds a backslash: escapes are left to
 * the strict parser. The characters themselves are checked by the
 * caller, against a set that is all printable ASCII. */
static const uint8_t *
scan_string (const uint8_t *p,
             const uint8_t *end,
             const uint8_t **s,
             size_t *len)
{
  const uint8_t *q;

  if (p >= end || *p != '"')
    return NULL;
  p++;
  q = memchr (p, '"', (size_t) (end - p));
  if (q == NULL || memchr (p, '\\', (size_t) (q - p)) != NULL)
    return NULL;
  *s = p;
  *len = (size_t) (q - p);
  return q + 1;
}

/* An integer in min..SC_ID_MAX (min 0 or 1), digits only, no leading zero.
 * Anything else (a sign, a fraction, an exponent, too many digits)
 * declines. */
static const uint8_t *
scan_uint (const uint8_t *p, const uint8_t *end, uint64_t min, uint64_t *out)
{
  uint64_t v = 0;
  unsigned n = 0;

  if (p >= end || *p < '0' || *p > '9')
    return NULL;
  if (*p == '0')
    p++; /* "0" alone: "01" is not JSON */
  else
    while (p < end && *p >= '0' && *p <= '9')
      {
        if (++n > 16) /* SC_ID_MAX has 16 digits */
          return NULL;
        v = v * 10 + (uint64_t) (*p - '0');
        p++;
      }
  if (p < end &&
      ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
    return NULL;
  if (v < min || v > SC_ID_MAX)
    return NULL;
  *out = v;
  return p;
}

enum kind
{
  KIND_TYPE, /* the "type" member: the expected name */
  KIND_ID,   /* 1..SC_ID_MAX */
  KIND_TS,   /* 0..SC_ID_MAX */
  KIND_USER, /* a user name */
  KIND_BODY, /* canonical base64 */
};

struct member
{
  const char *name;
  size_t name_len;
  enum kind kind;
};

#define MEMBER(name, kind)                                                     \
  {                                                                            \
    name, sizeof (name) - 1, kind                                              \
  }
#define MAX_MEMBERS 5

struct values
{
  uint64_t num[MAX_MEMBERS];
  const uint8_t *str[MAX_MEMBERS];
  size_t str_len[MAX_MEMBERS];
};

/* One flat object with exactly the members listed, in any order, each
 * once; type is the value the "type" member must have. */
static int
scan_flat (const uint8_t *text,
           size_t len,
           const char *type,
           const struct member *members,
           size_t n_members,
           struct values *v)
{
  const uint8_t *p, *end, *k, *s;
  size_t k_len, s_len, type_len = strlen (type);
  unsigned seen = 0, all = (1u << n_members) - 1;

  if (text == NULL || len == 0 || len > TEXT_MAX)
    return SC_ERR_AGAIN;
  end = text + len;
  p = skip_ws (text, end);
  if (p >= end || *p++ != '{')
    return SC_ERR_AGAIN;
  for (;;)
    {
      size_t i;

      p = skip_ws (p, end);
      if ((p = scan_string (p, end, &k, &k_len)) == NULL)
        return SC_ERR_AGAIN;
      for (i = 0; i < n_members; i++)
        if (k_len == members[i].name_len &&
            memcmp (k, members[i].name, k_len) == 0)
          break;
      /* An unexpected member, or a duplicate. */
      if (i == n_members || (seen & (1u << i)))
        return SC_ERR_AGAIN;
      seen |= 1u << i;
      p = skip_ws (p, end);
      if (p >= end || *p++ != ':')
        return SC_ERR_AGAIN;
      p = skip_ws (p, end);
      switch (members[i].kind)
        {
        case KIND_TYPE:
          p = scan_string (p, end, &s, &s_len);
          if (p == NULL || s_len != type_len || memcmp (s, type, s_len) != 0)
            return SC_ERR_AGAIN;
          break;
        case KIND_ID:
        case KIND_TS:
          p = scan_uint (p, end, members[i].kind == KIND_ID ? 1 : 0,
                         &v->num[i]);
          if (p == NULL)
            return SC_ERR_AGAIN;
          break;
        case KIND_USER:
          p = scan_string (p, end, &s, &s_len);
          if (p == NULL ||
              sc_username_validate ((const char *) s, s_len) != SC_OK)
            return SC_ERR_AGAIN;
          v->str[i] = s;
          v->str_len[i] = s_len;
          break;
        case KIND_BODY:
          p = scan_string (p, end, &s, &s_len);
          /* The limit on the decoded size needs a padding-aware count
           * only at the very top of the range: leave that to the
           * strict parser. */
          if (p == NULL || s_len > SC_BODY_B64_MAX - 4 ||
              sc_base64_validate ((const char *) s, s_len) != SC_OK)
            return SC_ERR_AGAIN;
          v->str[i] = s;
          v->str_len[i] = s_len;
          break;
        }
      p = skip_ws (p, end);
      if (p >= end)
        return SC_ERR_AGAIN;
      if (*p == '}')
        break;
      if (*p++ != ',')
        return SC_ERR_AGAIN;
    }
  if (seen != all || skip_ws (p + 1, end) != end)
    return SC_ERR_AGAIN;
  return SC_OK;
}

static void
copy_user (char out[SC_USERNAME_MAX + 1], const uint8_t *s, size_t len)
{
  memcpy (out, s, len);
  out[len] = '\0';
}

int
sc_msg_scan_send (const uint8_t *text, size_t len, struct sc_send_view *out)
{
  static const struct member members[] = {
    MEMBER ("type", KIND_TYPE),
    MEMBER ("id", KIND_ID),
    MEMBER ("to", KIND_USER),
    MEMBER ("body", KIND_BODY),
  };
  struct values v;

  if (out == NULL)
    return SC_ERR_AGAIN;
  memset (out, 0, sizeof *out);
  if (scan_flat (text, len, "send", members, 4, &v) != SC_OK)
    return SC_ERR_AGAIN;
  out->id = v.num[1];
  copy_user (out->to, v.str[2], v.str_len[2]);
  out->body = (const char *) v.str[3];
  out->body_len = v.str_len[3];
  return SC_OK;
}

int
sc_msg_scan_message (const uint8_t *text,
                     size_t len,
                     struct sc_message_view *out)
{
  static const struct member members[] = {
    MEMBER ("type", KIND_TYPE), MEMBER ("id", KIND_ID),
    MEMBER ("from", KIND_USER), MEMBER ("ts", KIND_TS),
    MEMBER ("body", KIND_BODY),
  };
  struct values v;

  if (out == NULL)
    return SC_ERR_AGAIN;
  memset (out, 0, sizeof *out);
  if (scan_flat (text, len, "message", members, 5, &v) != SC_OK)
    return SC_ERR_AGAIN;
  out->id = v.num[1];
  copy_user (out->from, v.str[2], v.str_len[2]);
  out->ts = (int64_t) v.num[3];
  out->body = (const char *) v.str[4];
  out->body_len = v.str_len[4];
  return SC_OK;
}

int
sc_msg_scan_sent (const uint8_t *text, size_t len, struct sc_msg_sent *out)
{
  static const struct member members[] = {
    MEMBER ("type", KIND_TYPE),
    MEMBER ("ref", KIND_ID),
    MEMBER ("id", KIND_ID),
    MEMBER ("ts", KIND_TS),
  };
  struct values v;

  if (out == NULL)
    return SC_ERR_AGAIN;
  memset (out, 0, sizeof *out);
  if (scan_flat (text, len, "sent", members, 4, &v) != SC_OK)
    return SC_ERR_AGAIN;
  out->ref = v.num[1];
  out->id = v.num[2];
  out->ts = (int64_t) v.num[3];
  return SC_OK;
}

/* ---- writers ------------------------------------------------------------ */

struct writer
{
  uint8_t *p;
  uint8_t *end;
  bool overflow;
};

static void
put (struct writer *w, const void *s, size_t len)
{
  if (w->overflow || (size_t) (w->end - w->p) < len)
    {
      w->overflow = true;
      return;
    }
  memcpy (w->p, s, len);
  w->p += len;
}

#define PUT_LITERAL(w, lit) put ((w), (lit), sizeof (lit) - 1)

static void
put_uint (struct writer *w, uint64_t v)
{
  char digits[20];
  size_t n = sizeof digits;

  do
    {
      digits[--n] = (char) ('0' + v % 10);
      v /= 10;
    }
  while (v != 0);
  put (w, digits + n, sizeof digits - n);
}

static int
finish (struct writer *w, uint8_t *out, size_t *out_len)
{
  if (w->overflow)
    return SC_ERR_BUFFER;
  *out_len = (size_t) (w->p - out);
  return SC_OK;
}

/* A user name to be written: validated, so that it needs no escaping. */
static int
check_user (const char *user, size_t *len)
{
  if (user == NULL)
    return SC_ERR_INVALID;
  *len = strnlen (user, SC_USERNAME_MAX + 1);
  return sc_username_validate (user, *len) == SC_OK ? SC_OK : SC_ERR_INVALID;
}

int
sc_msg_write_message (uint64_t id,
                      const char *from,
                      int64_t ts,
                      const char *body,
                      size_t body_len,
                      uint8_t *out,
                      size_t out_cap,
                      size_t *out_len)
{
  struct writer w = { out, out + out_cap, false };
  size_t from_len;

  if (out_len == NULL || out == NULL)
    return SC_ERR_INVALID;
  *out_len = 0;
  if (id < 1 || id > SC_ID_MAX || ts < 0 || (uint64_t) ts > SC_ID_MAX ||
      check_user (from, &from_len) != SC_OK || (body == NULL && body_len > 0) ||
      body_len > SC_BODY_B64_MAX)
    return SC_ERR_INVALID;
  PUT_LITERAL (&w, "{\"type\":\"message\",\"id\":");
  put_uint (&w, id);
  PUT_LITERAL (&w, ",\"from\":\"");
  put (&w, from, from_len);
  PUT_LITERAL (&w, "\",\"ts\":");
  put_uint (&w, (uint64_t) ts);
  PUT_LITERAL (&w, ",\"body\":\"");
  put (&w, body, body_len);
  PUT_LITERAL (&w, "\"}");
  return finish (&w, out, out_len);
}

int
sc_msg_write_send (uint64_t id,
                   const char *to,
                   const uint8_t *body,
                   size_t body_len,
                   uint8_t *out,
                   size_t out_cap,
                   size_t *out_len)
{
  struct writer w = { out, out + out_cap, false };
  size_t to_len, b64_len;

  if (out_len == NULL || out == NULL)
    return SC_ERR_INVALID;
  *out_len = 0;
  if (id < 1 || id > SC_ID_MAX || check_user (to, &to_len) != SC_OK ||
      (body == NULL && body_len > 0) || body_len > SC_BODY_MAX)
    return SC_ERR_INVALID;
  b64_len = SC_BASE64_ENCODED_LEN (body_len);
  PUT_LITERAL (&w, "{\"type\":\"send\",\"id\":");
  put_uint (&w, id);
  PUT_LITERAL (&w, ",\"to\":\"");
  put (&w, to, to_len);
  PUT_LITERAL (&w, "\",\"body\":\"");
  /* Encoded in place; the encoder's NUL lands where the quote goes. */
  if (w.overflow || (size_t) (w.end - w.p) < b64_len + 1 ||
      sc_base64_encode (body != NULL ? body : (const uint8_t *) "", body_len,
                        (char *) w.p, b64_len + 1) != SC_OK)
    return SC_ERR_BUFFER;
  w.p += b64_len;
  PUT_LITERAL (&w, "\"}");
  return finish (&w, out, out_len);
}

int
sc_msg_write_sent (uint64_t ref,
                   uint64_t id,
                   int64_t ts,
                   uint8_t *out,
                   size_t out_cap,
                   size_t *out_len)
{
  struct writer w = { out, out + out_cap, false };

  if (out_len == NULL || out == NULL)
    return SC_ERR_INVALID;
  *out_len = 0;
  if (ref < 1 || ref > SC_ID_MAX || id < 1 || id > SC_ID_MAX || ts < 0 ||
      (uint64_t) ts > SC_ID_MAX)
    return SC_ERR_INVALID;
  PUT_LITERAL (&w, "{\"type\":\"sent\",\"ref\":");
  put_uint (&w, ref);
  PUT_LITERAL (&w, ",\"id\":");
  put_uint (&w, id);
  PUT_LITERAL (&w, ",\"ts\":");
  put_uint (&w, (uint64_t) ts);
  PUT_LITERAL (&w, "}");
  return finish (&w, out, out_len);
}

int
sc_msg_write_presence (const char *user,
                       bool online,
                       uint8_t *out,
                       size_t out_cap,
                       size_t *out_len)
{
  struct writer w = { out, out + out_cap, false };
  size_t user_len;

  if (out_len == NULL || out == NULL)
    return SC_ERR_INVALID;
  *out_len = 0;
  if (check_user (user, &user_len) != SC_OK)
    return SC_ERR_INVALID;
  PUT_LITERAL (&w, "{\"type\":\"presence\",\"user\":\"");
  put (&w, user, user_len);
  if (online)
    PUT_LITERAL (&w, "\",\"status\":\"online\"}");
  else
    PUT_LITERAL (&w, "\",\"status\":\"offline\"}");
  return finish (&w, out, out_len);
}
