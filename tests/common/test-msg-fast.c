/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The relaying fast path of msg-fast.h against the strict parser: every
 * text the scanner reads, sc_msg_parse reads the same way; every text it
 * must not read is declined (and the strict parser then refuses it or
 * reads it itself); and what the writers produce parses to exactly what
 * they were given. fuzz-msg does the same on arbitrary input.
 *
 * JSON in this file is written with ' for " to stay readable. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "securechat/base64.h"
#include "securechat/error.h"
#include "securechat/init.h"
#include "securechat/msg-fast.h"
#include "securechat/msg.h"

static char *
q (const char *s)
{
  char *r = g_strdup (s);

  for (char *p = r; *p != '\0'; p++)
    if (*p == '\'')
      *p = '"';
  return r;
}

/* Both readers agree on text: the scanner reads it and the strict parser
 * reads the same send. */
static void
assert_fast (const char *text)
{
  struct sc_send_view v;
  struct sc_msg m;

  g_assert_cmpint (sc_msg_scan_send ((const uint8_t *) text, strlen (text), &v),
                   ==, SC_OK);
  g_assert_cmpint (sc_msg_parse ((const uint8_t *) text, strlen (text), &m), ==,
                   SC_OK);
  g_assert_cmpint (m.type, ==, SC_MSG_SEND);
  g_assert_cmpuint (v.id, ==, m.u.send.id);
  g_assert_cmpstr (v.to, ==, m.u.send.to);
  g_assert_cmpmem (v.body, v.body_len, m.u.send.body, m.u.send.body_len);
  sc_msg_clear (&m);
}

/* The scanner declines text; parse_rc is what the strict parser says. */
static void
assert_declined (const char *text, int parse_rc)
{
  struct sc_send_view v;
  struct sc_msg m;

  g_assert_cmpint (sc_msg_scan_send ((const uint8_t *) text, strlen (text), &v),
                   ==, SC_ERR_AGAIN);
  g_assert_cmpint (sc_msg_parse ((const uint8_t *) text, strlen (text), &m), ==,
                   parse_rc);
  sc_msg_clear (&m);
}

static void
test_scan_accepts (void)
{
  static const char *const texts[] = {
    "{'type':'send','id':1,'to':'bob','body':'aGk='}",
    "{'type':'send','id':9007199254740991,'to':'b','body':''}",
    "{'body':'QUJDRA==','to':'a.b-c_9','id':42,'type':'send'}",
    " \t\r\n{ 'type' : 'send' ,\n'id' :7 , 'to':'bob' ,'body':'QUJD' } \n",
    "{'id':10,'type':'send','body':'AAEC','to':'"
    "abcdefghijklmnopqrstuvwxyz012345'}",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      char *t = q (texts[i]);
      assert_fast (t);
      g_free (t);
    }
}

/* Valid sends the scanner leaves to the strict parser. */
static void
test_scan_declines_valid (void)
{
  static const char *const texts[] = {
    "{'type':'send','id':1,'to':'\\u0062ob','body':''}", /* escape */
    "{'type':'send','id':1,'to':'bob','body':'\\/w=='}", /* escaped / */
    "{'type':'s\\u0065nd','id':1,'to':'bob','body':''}",
    "{'t\\u0079pe':'send','id':1,'to':'bob','body':''}",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      char *t = q (texts[i]);
      assert_declined (t, SC_OK);
      g_free (t);
    }
}

static void
test_scan_declines_invalid (void)
{
  static const struct
  {
    const char *text;
    int parse_rc;
  } cases[] = {
    { "{'type':'send','id':1,'to':'bob','body':'aGk=','id':2}", SC_ERR_JSON },
    { "{'type':'send','type':'send','id':1,'to':'bob','body':''}",
      SC_ERR_JSON },
    { "{'type':'send','id':1,'to':'bob'}", SC_ERR_FIELD },
    { "{'type':'send','id':1,'to':'bob','body':'','x':1}", SC_ERR_FIELD },
    { "{'type':'send','id':0,'to':'bob','body':''}", SC_ERR_FIELD },
    { "{'type':'send','id':-1,'to':'bob','body':''}", SC_ERR_FIELD },
    { "{'type':'send','id':9007199254740992,'to':'bob','body':''}",
      SC_ERR_FIELD },
    { "{'type':'send','id':99999999999999999,'to':'bob','body':''}",
      SC_ERR_FIELD },
    { "{'type':'send','id':1.0,'to':'bob','body':''}", SC_ERR_FIELD },
    { "{'type':'send','id':1e2,'to':'bob','body':''}", SC_ERR_FIELD },
    { "{'type':'send','id':01,'to':'bob','body':''}", SC_ERR_JSON },
    { "{'type':'send','id':'1','to':'bob','body':''}", SC_ERR_FIELD },
    { "{'type':'send','id':1,'to':'Bob','body':''}", SC_ERR_USERNAME },
    { "{'type':'send','id':1,'to':'','body':''}", SC_ERR_USERNAME },
    { "{'type':'send','id':1,'to':'-bob','body':''}", SC_ERR_USERNAME },
    { "{'type':'send','id':1,'to':'abcdefghijklmnopqrstuvwxyz0123456',"
      "'body':''}",
      SC_ERR_USERNAME },
    { "{'type':'send','id':1,'to':'bob','body':'aGk'}", SC_ERR_FIELD },
    { "{'type':'send','id':1,'to':'bob','body':'aGl='}", SC_ERR_FIELD },
    { "{'type':'send','id':1,'to':'bob','body':'a=Gk'}", SC_ERR_FIELD },
    { "{'type':'send','id':1,'to':'bob','body':'aG k'}", SC_ERR_FIELD },
    { "{'type':'send','id':1,'to':'bob','body':null}", SC_ERR_FIELD },
    { "{'type':'sent','ref':1,'id':1,'ts':0}", SC_OK },
    { "{'type':'send','id':1,'to':'bob','body':''}x", SC_ERR_JSON },
    { "{'type':'send','id':1,'to':'bob','body':''},", SC_ERR_JSON },
    { "{'type':'send','id':1,'to':'bob','body':'',}", SC_ERR_JSON },
    { "{'type':'send','id':1,'to':'bob','body':''", SC_ERR_JSON },
    { "{'type':'send' 'id':1,'to':'bob','body':''}", SC_ERR_JSON },
    { "{'type':'send','id'1,'to':'bob','body':''}", SC_ERR_JSON },
    { "['type','send']", SC_ERR_JSON },
    { "{}", SC_ERR_FIELD },
    { "", SC_ERR_JSON },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *t = q (cases[i].text);
      g_test_message ("%s", t);
      assert_declined (t, cases[i].parse_rc);
      g_free (t);
    }
}

/* The largest bodies, a NUL inside and a text over the limit. */
static void
test_scan_limits (void)
{
  size_t n = SC_BODY_MAX, b64_len = SC_BASE64_ENCODED_LEN (n);
  uint8_t *raw = g_malloc0 (n + 3);
  char *b64 = g_malloc (b64_len + 5);
  GString *s;
  struct sc_send_view v;

  /* 32766 bytes: well inside the limit, read by the scanner. */
  g_assert_cmpint (sc_base64_encode (raw, n - 2, b64, b64_len + 5), ==, SC_OK);
  s = g_string_new ("{\"type\":\"send\",\"id\":1,\"to\":\"bob\",\"body\":\"");
  g_string_append (s, b64);
  g_string_append (s, "\"}");
  assert_fast (s->str);
  g_string_free (s, TRUE);

  /* The last few characters of the range go to the strict parser, which
   * counts padding: 32768 bytes is allowed, 32769 is too large. */
  g_assert_cmpint (sc_base64_encode (raw, n, b64, b64_len + 5), ==, SC_OK);
  s = g_string_new ("{\"type\":\"send\",\"id\":1,\"to\":\"bob\",\"body\":\"");
  g_string_append (s, b64);
  g_string_append (s, "\"}");
  assert_declined (s->str, SC_OK);
  g_string_free (s, TRUE);
  g_assert_cmpint (sc_base64_encode (raw, n + 1, b64, b64_len + 5), ==, SC_OK);
  s = g_string_new ("{\"type\":\"send\",\"id\":1,\"to\":\"bob\",\"body\":\"");
  g_string_append (s, b64);
  g_string_append (s, "\"}");
  assert_declined (s->str, SC_ERR_TOO_LARGE);
  g_string_free (s, TRUE);

  {
    static const char nul[] = "{\"type\":\"send\",\"id\":1,\"to\":\"bob\","
                              "\"body\":\"\"}\0";
    g_assert_cmpint (
        sc_msg_scan_send ((const uint8_t *) nul, sizeof nul - 1, &v), ==,
        SC_ERR_AGAIN);
    g_assert_cmpint (sc_msg_scan_send (NULL, 0, &v), ==, SC_ERR_AGAIN);
  }
  g_free (raw);
  g_free (b64);
}

/* Every one-byte change of a valid send: the scanner never reads one the
 * strict parser refuses, and reads the same send when both accept. */
static void
test_scan_mutations (void)
{
  char *base = q ("{'type':'send','id':123,'to':'bob','body':'QUJDRA=='}");
  size_t len = strlen (base);
  static const char alphabet[] = " \t\"'{}[],:\\/=+-.0129aAeEstxyz\x80\xff";
  unsigned accepted = 0;

  for (size_t i = 0; i < len; i++)
    for (size_t k = 0; k < sizeof alphabet - 1; k++)
      {
        char *t = g_strdup (base);
        struct sc_send_view v;
        struct sc_msg m;
        int fast, strict;

        t[i] = alphabet[k];
        fast = sc_msg_scan_send ((const uint8_t *) t, len, &v);
        strict = sc_msg_parse ((const uint8_t *) t, len, &m);
        if (fast == SC_OK)
          {
            accepted++;
            g_assert_cmpint (strict, ==, SC_OK);
            g_assert_cmpuint (v.id, ==, m.u.send.id);
            g_assert_cmpstr (v.to, ==, m.u.send.to);
            g_assert_cmpmem (v.body, v.body_len, m.u.send.body,
                             m.u.send.body_len);
          }
        else
          g_assert_cmpint (fast, ==, SC_ERR_AGAIN);
        sc_msg_clear (&m);
        g_free (t);
      }
  /* Whitespace, digits and user-name letters keep many of them valid. */
  g_assert_cmpuint (accepted, >, 20);
  g_free (base);
}

static void
test_write_message (void)
{
  static const struct
  {
    uint64_t id;
    const char *from;
    int64_t ts;
    const char *body;
  } cases[] = {
    { 1, "a", 0, "" },
    { SC_ID_MAX, "abcdefghijklmnopqrstuvwxyz012345", (int64_t) SC_ID_MAX,
      "QUJDRA==" },
    { 1042, "alice", 1764099197123, "aGk=" },
  };
  uint8_t out[256];

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      struct sc_msg m;
      size_t n = 0, body_len = strlen (cases[i].body);

      g_assert_cmpint (sc_msg_write_message (cases[i].id, cases[i].from,
                                             cases[i].ts, cases[i].body,
                                             body_len, out, sizeof out, &n),
                       ==, SC_OK);
      g_assert_cmpuint (n, <=, SC_MSG_MESSAGE_MAX (body_len));
      g_assert_cmpint (sc_msg_parse (out, n, &m), ==, SC_OK);
      g_assert_cmpint (m.type, ==, SC_MSG_MESSAGE);
      g_assert_cmpuint (m.u.message.id, ==, cases[i].id);
      g_assert_cmpstr (m.u.message.from, ==, cases[i].from);
      g_assert_cmpint (m.u.message.ts, ==, cases[i].ts);
      g_assert_cmpmem (m.u.message.body, m.u.message.body_len, cases[i].body,
                       body_len);
      sc_msg_clear (&m);
      /* One byte short of room: refused, nothing claimed written. */
      g_assert_cmpint (sc_msg_write_message (cases[i].id, cases[i].from,
                                             cases[i].ts, cases[i].body,
                                             body_len, out, n - 1, &n),
                       ==, SC_ERR_BUFFER);
      g_assert_cmpuint (n, ==, 0);
    }
  {
    size_t n;
    g_assert_cmpint (
        sc_msg_write_message (0, "a", 0, "", 0, out, sizeof out, &n), ==,
        SC_ERR_INVALID);
    g_assert_cmpint (sc_msg_write_message (SC_ID_MAX + 1, "a", 0, "", 0, out,
                                           sizeof out, &n),
                     ==, SC_ERR_INVALID);
    g_assert_cmpint (
        sc_msg_write_message (1, "A", 0, "", 0, out, sizeof out, &n), ==,
        SC_ERR_INVALID);
    g_assert_cmpint (
        sc_msg_write_message (1, "a", -1, "", 0, out, sizeof out, &n), ==,
        SC_ERR_INVALID);
    g_assert_cmpint (
        sc_msg_write_message (1, "a", 0, NULL, 4, out, sizeof out, &n), ==,
        SC_ERR_INVALID);
  }
}

static void
test_write_sent_presence (void)
{
  uint8_t out[SC_MSG_SENT_MAX];
  struct sc_msg m;
  size_t n = 0;

  g_assert_cmpint (sc_msg_write_sent (SC_ID_MAX, SC_ID_MAX, (int64_t) SC_ID_MAX,
                                      out, sizeof out, &n),
                   ==, SC_OK);
  g_assert_cmpint (sc_msg_parse (out, n, &m), ==, SC_OK);
  g_assert_cmpint (m.type, ==, SC_MSG_SENT);
  g_assert_cmpuint (m.u.sent.ref, ==, SC_ID_MAX);
  g_assert_cmpuint (m.u.sent.id, ==, SC_ID_MAX);
  g_assert_cmpint (m.u.sent.ts, ==, (int64_t) SC_ID_MAX);
  sc_msg_clear (&m);
  g_assert_cmpint (sc_msg_write_sent (7, 1042, 0, out, sizeof out, &n), ==,
                   SC_OK);
  g_assert_cmpmem (
      out, n, "{\"type\":\"sent\",\"ref\":7,\"id\":1042,\"ts\":0}",
      strlen ("{\"type\":\"sent\",\"ref\":7,\"id\":1042,\"ts\":0}"));
  g_assert_cmpint (sc_msg_write_sent (0, 1, 0, out, sizeof out, &n), ==,
                   SC_ERR_INVALID);

  for (int online = 0; online <= 1; online++)
    {
      const char *user = "abcdefghijklmnopqrstuvwxyz012345";

      g_assert_cmpint (
          sc_msg_write_presence (user, online, out, sizeof out, &n), ==, SC_OK);
      g_assert_cmpint (sc_msg_parse (out, n, &m), ==, SC_OK);
      g_assert_cmpint (m.type, ==, SC_MSG_PRESENCE);
      g_assert_cmpstr (m.u.presence.user, ==, user);
      g_assert_cmpint (m.u.presence.online, ==, online);
      sc_msg_clear (&m);
    }
  g_assert_cmpint (sc_msg_write_presence ("", true, out, sizeof out, &n), ==,
                   SC_ERR_INVALID);
  g_assert_cmpint (sc_msg_write_presence ("bob", true, out, 10, &n), ==,
                   SC_ERR_BUFFER);
}

/* What the server writes (and sc_msg_encode) is read by the client's
 * scanners as the strict parser reads it; what breaks a rule is declined
 * and refused by the strict parser. */
static void
test_scan_message_sent (void)
{
  static const char *const good[] = {
    "{'type':'message','id':1042,'from':'alice','ts':1764099197123,"
    "'body':'aGk='}",
    "{'body':'','ts':0,'from':'a','id':9007199254740991,'type':'message'}",
    "{'type':'sent','ref':7,'id':1042,'ts':0}",
    " {'ts':9007199254740991 ,'id':1,'ref':9007199254740991,'type':'sent'}\n",
  };
  static const char *const bad[] = {
    "{'type':'message','id':1,'from':'a','ts':-1,'body':''}",
    "{'type':'message','id':1,'from':'a','ts':01,'body':''}",
    "{'type':'message','id':1,'from':'a','ts':0,'body':'','ts':0}",
    "{'type':'message','id':1,'from':'A','ts':0,'body':''}",
    "{'type':'message','id':1,'from':'a','ts':0,'body':'aGk'}",
    "{'type':'message','id':1,'from':'a','ts':0}",
    "{'type':'sent','ref':0,'id':1,'ts':0}",
    "{'type':'sent','ref':1,'id':1,'ts':9007199254740992}",
    "{'type':'sent','ref':1,'id':1,'ts':0.5}",
    "{'type':'sent','ref':1,'id':1,'ts':0,'x':0}",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (good); i++)
    {
      char *t = q (good[i]);
      size_t len = strlen (t);
      struct sc_message_view mv;
      struct sc_msg_sent st;
      struct sc_msg m;

      g_assert_cmpint (sc_msg_parse ((const uint8_t *) t, len, &m), ==, SC_OK);
      if (m.type == SC_MSG_MESSAGE)
        {
          g_assert_cmpint (sc_msg_scan_message ((const uint8_t *) t, len, &mv),
                           ==, SC_OK);
          g_assert_cmpuint (mv.id, ==, m.u.message.id);
          g_assert_cmpstr (mv.from, ==, m.u.message.from);
          g_assert_cmpint (mv.ts, ==, m.u.message.ts);
          g_assert_cmpmem (mv.body, mv.body_len, m.u.message.body,
                           m.u.message.body_len);
          g_assert_cmpint (sc_msg_scan_sent ((const uint8_t *) t, len, &st), ==,
                           SC_ERR_AGAIN);
        }
      else
        {
          g_assert_cmpint (m.type, ==, SC_MSG_SENT);
          g_assert_cmpint (sc_msg_scan_sent ((const uint8_t *) t, len, &st), ==,
                           SC_OK);
          g_assert_cmpuint (st.ref, ==, m.u.sent.ref);
          g_assert_cmpuint (st.id, ==, m.u.sent.id);
          g_assert_cmpint (st.ts, ==, m.u.sent.ts);
          g_assert_cmpint (sc_msg_scan_message ((const uint8_t *) t, len, &mv),
                           ==, SC_ERR_AGAIN);
        }
      sc_msg_clear (&m);
      g_free (t);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      char *t = q (bad[i]);
      size_t len = strlen (t);
      struct sc_message_view mv;
      struct sc_msg_sent st;
      struct sc_msg m;

      g_test_message ("%s", t);
      g_assert_cmpint (sc_msg_scan_message ((const uint8_t *) t, len, &mv), ==,
                       SC_ERR_AGAIN);
      g_assert_cmpint (sc_msg_scan_sent ((const uint8_t *) t, len, &st), ==,
                       SC_ERR_AGAIN);
      g_assert_cmpint (sc_msg_parse ((const uint8_t *) t, len, &m), !=, SC_OK);
      g_free (t);
    }
}

/* The client's send: the body is encoded in place, and the text parses to
 * the same send, from the empty body to the largest. */
static void
test_write_send (void)
{
  static const size_t sizes[] = { 0, 1, 2, 3, 100, SC_BODY_MAX };
  uint8_t *raw = g_malloc (SC_BODY_MAX);

  for (size_t i = 0; i < SC_BODY_MAX; i++)
    raw[i] = (uint8_t) (i * 7 + 3);
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      size_t cap = SC_MSG_SEND_MAX (sizes[i]), n = 0;
      uint8_t *out = g_malloc (cap);
      uint8_t *back = g_malloc (sizes[i] + 3);
      size_t back_len = 0;
      struct sc_msg m;

      g_assert_cmpint (sc_msg_write_send (SC_ID_MAX,
                                          "abcdefghijklmnopqrstuvwxyz012345",
                                          raw, sizes[i], out, cap, &n),
                       ==, SC_OK);
      g_assert_cmpint (sc_msg_parse (out, n, &m), ==, SC_OK);
      g_assert_cmpint (m.type, ==, SC_MSG_SEND);
      g_assert_cmpuint (m.u.send.id, ==, SC_ID_MAX);
      g_assert_cmpint (sc_base64_decode (m.u.send.body, m.u.send.body_len, back,
                                         sizes[i] + 3, &back_len),
                       ==, SC_OK);
      g_assert_cmpmem (back, back_len, raw, sizes[i]);
      sc_msg_clear (&m);
      g_assert_cmpint (sc_msg_write_send (SC_ID_MAX,
                                          "abcdefghijklmnopqrstuvwxyz012345",
                                          raw, sizes[i], out, n - 1, &n),
                       ==, SC_ERR_BUFFER);
      g_assert_cmpuint (n, ==, 0);
      g_free (out);
      g_free (back);
    }
  {
    uint8_t out[64];
    size_t n;

    g_assert_cmpint (
        sc_msg_write_send (1, "bob", raw, SC_BODY_MAX + 1, out, sizeof out, &n),
        ==, SC_ERR_INVALID);
    g_assert_cmpint (sc_msg_write_send (0, "bob", raw, 1, out, sizeof out, &n),
                     ==, SC_ERR_INVALID);
    g_assert_cmpint (sc_msg_write_send (1, "Bob", raw, 1, out, sizeof out, &n),
                     ==, SC_ERR_INVALID);
  }
  g_free (raw);
}

int
main (int argc, char **argv)
{
  sc_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/msg-fast/scan/accepts", test_scan_accepts);
  g_test_add_func ("/msg-fast/scan/declines-valid", test_scan_declines_valid);
  g_test_add_func ("/msg-fast/scan/declines-invalid",
                   test_scan_declines_invalid);
  g_test_add_func ("/msg-fast/scan/limits", test_scan_limits);
  g_test_add_func ("/msg-fast/scan/mutations", test_scan_mutations);
  g_test_add_func ("/msg-fast/scan/message-sent", test_scan_message_sent);
  g_test_add_func ("/msg-fast/write/message", test_write_message);
  g_test_add_func ("/msg-fast/write/send", test_write_send);
  g_test_add_func ("/msg-fast/write/sent-presence", test_write_sent_presence);
  return g_test_run ();
}
