/* soter-bouncer.h — authorization: which action a method needs, asked of
 * polkit with the caller's bus name as the subject (SPEC §8). */
#pragma once

#include <gio/gio.h>

#include "soter-caller.h"

G_BEGIN_DECLS

#define SOTER_ACTION_AUTHENTICATE "io.github.soterd.Soter1.authenticate"
#define SOTER_ACTION_ENROLL "io.github.soterd.Soter1.enroll"
#define SOTER_ACTION_MANAGE "io.github.soterd.Soter1.manage"

/* Returns the action guarding @method, or NULL when it needs none. */
const char *soter_bouncer_action_for_method (const char *method);

/* Who is calling (soter-caller.h) and, when @action_id is not NULL, whether
 * polkit allows them @action_id: both asked at once, as polkit needs only
 * the bus name. Completes with the caller when both said yes; otherwise
 * with the first failure, the other question being cancelled: polkit's
 * SOTER_ERROR_NOT_AUTHORIZED when denied, SOTER_ERROR_INTERNAL when polkit
 * or the bus could not be asked. Callers touch no reader, key or print
 * before it has completed with a caller. */
void         soter_bouncer_admit_async  (GDBusConnection    *connection,
                                         const char         *sender,
                                         const char         *action_id,
                                         GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
SoterCaller *soter_bouncer_admit_finish (GAsyncResult *result,
                                         GError      **error);

G_END_DECLS
