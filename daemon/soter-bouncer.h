/* soter-bouncer.h — authorization: which action a method needs, asked of
 * polkit with the caller's bus name as the subject (SPEC §8). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SOTER_ACTION_AUTHENTICATE "io.github.soterd.Soter1.authenticate"
#define SOTER_ACTION_ENROLL "io.github.soterd.Soter1.enroll"
#define SOTER_ACTION_MANAGE "io.github.soterd.Soter1.manage"

/* Returns the action guarding @method, or NULL when it needs none. */
const char *soter_bouncer_action_for_method (const char *method);

/* Completes with TRUE when allowed; FALSE with SOTER_ERROR_NOT_AUTHORIZED when
 * denied, SOTER_ERROR_INTERNAL when polkit could not be asked. */
void     soter_bouncer_check_async (const char         *sender,
                                    const char         *action_id,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
gboolean soter_bouncer_check_finish (GAsyncResult *result,
                                     GError      **error);

G_END_DECLS
