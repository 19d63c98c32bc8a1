/* soter-error.h — the daemon's view of SOTER's error codes (SPEC §4).
 *
 * The domain and its D-Bus error names are libsoter's public ones
 * (client-lib/soter/soter-error.h), so daemon and clients cannot drift apart;
 * the daemon adds the success value its replies carry as err_code 0. */
#pragma once

#ifndef SOTER_COMPILATION
#define SOTER_COMPILATION
#endif
#include <soter/soter-error.h>

G_BEGIN_DECLS

typedef guint SoterErrorCode;  /* SOTER_OK or a SoterError value */
#define SOTER_OK 0

G_END_DECLS
