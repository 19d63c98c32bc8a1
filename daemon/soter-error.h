/* soter-error.h — SOTER's error codes (SPEC §4) as a GError domain.
 *
 * The values are WeChat's numbers, so an err_code can be taken straight from
 * error->code. The domain is registered with D-Bus error names for the few
 * methods that have no err_code of their own (GetAppSecureKey, Enroll, …).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SOTER_OK = 0,
  SOTER_ERROR_NOT_SUPPORTED = 90001,      /* no biometric device, or no key store */
  SOTER_ERROR_NOT_AUTHORIZED = 90002,     /* polkit said no */
  SOTER_ERROR_MODE_NOT_SUPPORTED = 90003, /* no requested mode is available */
  SOTER_ERROR_BAD_CHALLENGE = 90004,      /* empty, too long or not UTF-8 */
  SOTER_ERROR_CONTENT_TOO_LONG = 90005,   /* authContent over 42 characters */
  SOTER_ERROR_INTERNAL = 90007,           /* reader vanished, store failed, … */
  SOTER_ERROR_CANCELLED = 90008,          /* the user or the app cancelled */
  SOTER_ERROR_NO_MATCH = 90009,           /* not recognized, attempts used up */
  SOTER_ERROR_LOCKED = 90010,             /* too many misses in a row */
  SOTER_ERROR_NOT_ENROLLED = 90011,       /* nothing enrolled for the caller */
} SoterErrorCode;

#define SOTER_ERROR (soter_error_quark ())
GQuark soter_error_quark (void);

G_END_DECLS
