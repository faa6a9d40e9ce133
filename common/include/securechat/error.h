/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Error codes of the protocol core. Every common/ function that can fail
 * returns 0 (SC_OK) or one of these negative values; sc_strerror() names it. */
#pragma once

enum sc_error
{
  SC_OK = 0,
  SC_ERR_NOMEM = -1,             /* allocation failed */
  SC_ERR_INVALID = -2,           /* bad argument from the caller (a bug) */
  SC_ERR_TOO_LARGE = -3,         /* a length is over its limit */
  SC_ERR_TRUNCATED = -4,         /* input ends before the structure does */
  SC_ERR_BUFFER = -5,            /* the caller's output buffer is too small */
  SC_ERR_CRYPTO = -6,            /* OpenSSL failed internally */
  SC_ERR_DECRYPT = -7,           /* authentication or padding failed */
  SC_ERR_DH = -8,                /* X25519 gave a low-order (all-zero) result */
  SC_ERR_STATE = -9,             /* call not valid in the current state */
  SC_ERR_NONCE_EXHAUSTED = -10,  /* a cipher state ran out of nonces */
  SC_ERR_PROTOCOL = -11,         /* the peer broke the protocol */
  SC_ERR_JSON = -12,             /* not a JSON object, bad UTF-8, dup keys */
  SC_ERR_UNKNOWN_TYPE = -13,     /* a message "type" we do not know */
  SC_ERR_FIELD = -14,            /* missing, extra or mistyped field */
  SC_ERR_USERNAME = -15,         /* username outside the allowed set */
  SC_ERR_KEY_MISMATCH = -16,     /* server key differs from the pinned key */
  SC_ERR_UNSUPPORTED = -17,      /* unsupported Noise name / version */
  SC_ERR_BASE64 = -18,           /* not canonical base64 */
  SC_ERR_CLOSED = -19,           /* the session is closed */
  SC_ERR_SIGNATURE = -20,        /* a signature does not verify */
  SC_ERR_DUPLICATE = -21,        /* message already decrypted (replay) */
  SC_ERR_TOO_FAR = -22,          /* more than MAX_SKIP messages skipped */
  SC_ERR_NO_SESSION = -23,       /* no end-to-end session with the peer */
  SC_ERR_IDENTITY_CHANGED = -24, /* a contact's identity key changed */
  SC_ERR_NOT_FOUND = -25,        /* no such stored item */
  SC_ERR_STORAGE = -26,          /* persisting state failed */
  SC_ERR_AGAIN = -27,            /* not handled here: take the general path */
};

const char *sc_strerror (int err);
