/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "securechat/error.h"

const char *
sc_strerror (int err)
{
  switch ((enum sc_error) err)
    {
    case SC_OK:
      return "success";
    case SC_ERR_NOMEM:
      return "out of memory";
    case SC_ERR_INVALID:
      return "invalid argument";
    case SC_ERR_TOO_LARGE:
      return "length over limit";
    case SC_ERR_TRUNCATED:
      return "truncated input";
    case SC_ERR_BUFFER:
      return "output buffer too small";
    case SC_ERR_CRYPTO:
      return "cryptographic library failure";
    case SC_ERR_DECRYPT:
      return "decryption failed";
    case SC_ERR_DH:
      return "key exchange gave an all-zero secret";
    case SC_ERR_STATE:
      return "call not valid in this state";
    case SC_ERR_NONCE_EXHAUSTED:
      return "nonces exhausted";
    case SC_ERR_PROTOCOL:
      return "protocol violation";
    case SC_ERR_JSON:
      return "malformed json";
    case SC_ERR_UNKNOWN_TYPE:
      return "unknown message type";
    case SC_ERR_FIELD:
      return "missing, extra or invalid field";
    case SC_ERR_USERNAME:
      return "invalid username";
    case SC_ERR_KEY_MISMATCH:
      return "server key does not match the pinned key";
    case SC_ERR_UNSUPPORTED:
      return "unsupported protocol or version";
    case SC_ERR_BASE64:
      return "invalid base64";
    case SC_ERR_CLOSED:
      return "session closed";
    case SC_ERR_SIGNATURE:
      return "signature does not verify";
    case SC_ERR_DUPLICATE:
      return "message already received";
    case SC_ERR_TOO_FAR:
      return "too many skipped messages";
    case SC_ERR_NO_SESSION:
      return "no end-to-end session";
    case SC_ERR_IDENTITY_CHANGED:
      return "identity key changed";
    case SC_ERR_NOT_FOUND:
      return "not found";
    case SC_ERR_STORAGE:
      return "cannot save state";
    case SC_ERR_AGAIN:
      return "not handled by the fast path";
    }
  return "unknown error";
}
