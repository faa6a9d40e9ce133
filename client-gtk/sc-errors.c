/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sc-errors.h"

#include <glib/gi18n.h>

#include "securechat/error.h"
#include "securechat/msg.h"

const char *
sc_errors_describe_code (int sc_code)
{
  switch (sc_code)
    {
    case SC_CODE_BAD_REQUEST:
      return _ ("The server did not understand a request from this app.");
    case SC_CODE_UNKNOWN_TYPE:
      return _ ("The server does not know a request this app sent; the "
                "server may be older than the app.");
    case SC_CODE_UNSUPPORTED_VERSION:
      return _ ("The server speaks a protocol version this app does not "
                "support. Update the app, or ask the server's administrator.");
    case SC_CODE_AUTH_FAILED:
      /* Wrong password and unknown user look the same on purpose. */
      return _ ("Wrong user name or password.");
    case SC_CODE_RATE_LIMITED:
      return _ ("Too many attempts. Wait a moment, then try again.");
    case SC_CODE_SERVER_BUSY:
      return _ ("The server is busy; trying again shortly.");
    case SC_CODE_SERVER_FULL:
      return _ ("The server has too many users connected; trying again "
                "shortly.");
    case SC_CODE_NOT_LOGGED_IN:
      return _ ("The server expected a login first.");
    case SC_CODE_ALREADY_LOGGED_IN:
      return _ ("The server says this connection is already logged in.");
    case SC_CODE_RECIPIENT_OFFLINE:
      return _ ("The recipient is not online, so the message was not "
                "delivered.");
    case SC_CODE_UNKNOWN_USER:
      return _ ("There is no user with that name on this server.");
    case SC_CODE_SELF_MESSAGE:
      return _ ("You cannot send a message to yourself.");
    case SC_CODE_TOO_LARGE:
      return _ ("The message is too large for this server.");
    case SC_CODE_INTERNAL:
      return _ ("The server ran into an error while relaying messages.");
    case SC_CODE_SERVER_SHUTDOWN:
      return _ ("The server is shutting down; reconnecting when it is back.");
    case SC_CODE_SESSION_REPLACED:
      return _ ("You logged in from another place, so this window was signed "
                "out.");
    case SC_CODE_IDLE_TIMEOUT:
      return _ ("The connection was quiet for too long and the server closed "
                "it.");
    case SC_CODE_PROTOCOL_ERROR:
      return _ ("The server closed the connection because this app broke the "
                "protocol.");
    case SC_CODE_CLIENT_QUIT:
      return _ ("Signed out.");
    case SC_CODE_NO_PREKEYS:
      return _ ("The recipient has not set up encryption yet (they have not "
                "signed in with a current app), so the message was not "
                "sent.");
    default:
      return _ ("The server reported an error this app does not know.");
    }
}

char *
sc_errors_describe_error (int sc_err)
{
  const char *text = NULL;

  switch (sc_err)
    {
    case SC_OK:
      text = _ ("No error.");
      break;
    case SC_ERR_NOMEM:
      text = _ ("The computer ran out of memory.");
      break;
    case SC_ERR_INVALID:
    case SC_ERR_BUFFER:
      /* Only a bug gets here: say so, with the code for the report. */
      return g_strdup_printf (_ ("An internal error occurred in the app (%s)."),
                              sc_strerror (sc_err));
    case SC_ERR_TOO_LARGE:
      text = _ ("The message is too large, or too many messages are waiting.");
      break;
    case SC_ERR_TRUNCATED:
      text = _ ("The message is incomplete or damaged.");
      break;
    case SC_ERR_CRYPTO:
      text = _ ("The encryption library failed.");
      break;
    case SC_ERR_DECRYPT:
      text = _ ("The message could not be decrypted: it was damaged or "
                "forged on the way.");
      break;
    case SC_ERR_DH:
      text = _ ("A key exchange failed: the other side sent an invalid key.");
      break;
    case SC_ERR_STATE:
      text = _ ("That is not possible right now.");
      break;
    case SC_ERR_NONCE_EXHAUSTED:
      text = _ ("The connection used up its encryption keys and has to be "
                "opened again.");
      break;
    case SC_ERR_PROTOCOL:
    case SC_ERR_JSON:
    case SC_ERR_UNKNOWN_TYPE:
    case SC_ERR_FIELD:
    case SC_ERR_BASE64:
      text = _ ("Received a message in an incorrect format.");
      break;
    case SC_ERR_USERNAME:
      text = _ ("User names are 1 to 32 characters: lower-case letters, "
                "digits, dots, underscores and hyphens, starting with a "
                "letter or a digit.");
      break;
    case SC_ERR_KEY_MISMATCH:
      text = _ ("The server's key does not match the key saved for it. "
                "The password was not sent.");
      break;
    case SC_ERR_UNSUPPORTED:
      text = _ ("The message uses a format or version this app does not "
                "support.");
      break;
    case SC_ERR_CLOSED:
      text = _ ("No data received from the server; the connection was "
                "lost.");
      break;
    case SC_ERR_SIGNATURE:
      text = _ ("The server handed out keys with a bad signature.");
      break;
    case SC_ERR_DUPLICATE:
      text = _ ("This message was already received once (a replay), so it "
                "was dropped.");
      break;
    case SC_ERR_TOO_FAR:
      text = _ ("Too many messages went missing before this one.");
      break;
    case SC_ERR_NO_SESSION:
      text = _ ("There is no encrypted conversation with the sender yet; "
                "they were asked to start a new one.");
      break;
    case SC_ERR_IDENTITY_CHANGED:
      text = _ ("The contact's identity key changed. Compare the safety "
                "number with them, then accept the new key.");
      break;
    case SC_ERR_NOT_FOUND:
      text = _ ("A key needed for this is no longer on this computer; the "
                "sender was asked to start a new conversation.");
      break;
    case SC_ERR_STORAGE:
      text = _ ("Your keys could not be read or saved on this computer.");
      break;
    default:
      return g_strdup_printf (_ ("An unexpected error occurred (code %d)."),
                              sc_err);
    }
  return g_strdup (text);
}
