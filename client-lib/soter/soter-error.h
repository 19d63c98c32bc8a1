/* soter-error.h — SOTER's error codes (SPEC §4) as a GError domain.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(SOTER_INSIDE) && !defined(SOTER_COMPILATION)
#error "Only <soter/soter.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * SoterError:
 * @SOTER_ERROR_NOT_SUPPORTED: the device does not support SOTER: no biometric
 *   device of any mode, or the key store cannot be used (90001)
 * @SOTER_ERROR_NOT_AUTHORIZED: the user did not authorize the use of biometric
 *   authentication: polkit said no (90002)
 * @SOTER_ERROR_MODE_NOT_SUPPORTED: no requested authentication mode is
 *   supported (90003)
 * @SOTER_ERROR_BAD_CHALLENGE: no challenge, a challenge over 512 characters,
 *   or one that is not UTF-8 (90004)
 * @SOTER_ERROR_CONTENT_TOO_LONG: authContent over 42 characters, or holding
 *   control, bidi-control or format characters (90005)
 * @SOTER_ERROR_INTERNAL: an internal error; the message says which (90007)
 * @SOTER_ERROR_CANCELLED: the user or the app cancelled (90008)
 * @SOTER_ERROR_NO_MATCH: the finger was not recognized, attempts used up (90009)
 * @SOTER_ERROR_LOCKED: too many failed attempts in a row; locked for a while (90010)
 * @SOTER_ERROR_NOT_ENROLLED: the user has not enrolled the requested mode (90011)
 *
 * The `err_code` values of SOTER as WeChat and Taro document them, so an
 * `errCode` can be compared with `error->code` directly. Errors in this domain
 * also travel as D-Bus errors named `io.github.soterd.Soter1.Error.*` for the
 * methods that have no `err_code` of their own.
 */
typedef enum {
  SOTER_ERROR_NOT_SUPPORTED = 90001,
  SOTER_ERROR_NOT_AUTHORIZED = 90002,
  SOTER_ERROR_MODE_NOT_SUPPORTED = 90003,
  SOTER_ERROR_BAD_CHALLENGE = 90004,
  SOTER_ERROR_CONTENT_TOO_LONG = 90005,
  SOTER_ERROR_INTERNAL = 90007,
  SOTER_ERROR_CANCELLED = 90008,
  SOTER_ERROR_NO_MATCH = 90009,
  SOTER_ERROR_LOCKED = 90010,
  SOTER_ERROR_NOT_ENROLLED = 90011,
} SoterError;

/**
 * SOTER_ERROR:
 *
 * The error domain of SOTER's error codes, see #SoterError.
 */
#define SOTER_ERROR (soter_error_quark ())
GQuark soter_error_quark (void);

G_END_DECLS
