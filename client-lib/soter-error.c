/* soter-error.c — the SOTER GError domain and its D-Bus error names, shared
 * by libsoter and soterd.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SOTER_COMPILATION
#define SOTER_COMPILATION
#endif
#include "soter/soter-error.h"

#include <gio/gio.h>

static const GDBusErrorEntry soter_error_entries[] = {
  { SOTER_ERROR_NOT_SUPPORTED, "io.github.soterd.Soter1.Error.NotSupported" },
  { SOTER_ERROR_NOT_AUTHORIZED, "io.github.soterd.Soter1.Error.NotAuthorized" },
  { SOTER_ERROR_MODE_NOT_SUPPORTED, "io.github.soterd.Soter1.Error.ModeNotSupported" },
  { SOTER_ERROR_BAD_CHALLENGE, "io.github.soterd.Soter1.Error.BadChallenge" },
  { SOTER_ERROR_CONTENT_TOO_LONG, "io.github.soterd.Soter1.Error.ContentTooLong" },
  { SOTER_ERROR_INTERNAL, "io.github.soterd.Soter1.Error.Internal" },
  { SOTER_ERROR_CANCELLED, "io.github.soterd.Soter1.Error.Cancelled" },
  { SOTER_ERROR_NO_MATCH, "io.github.soterd.Soter1.Error.NoMatch" },
  { SOTER_ERROR_LOCKED, "io.github.soterd.Soter1.Error.Locked" },
  { SOTER_ERROR_NOT_ENROLLED, "io.github.soterd.Soter1.Error.NotEnrolled" },
};

GQuark
soter_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("soter-error-quark", &quark,
                                      soter_error_entries,
                                      G_N_ELEMENTS (soter_error_entries));
  return (GQuark) quark;
}
