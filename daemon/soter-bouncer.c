/* soter-bouncer.c — polkit through polkit-gobject.
 *
 * The subject is the caller's unique bus name (polkit asks the bus for its
 * pid, uid and start time), never a pid passed in an argument. User
 * interaction is allowed, so an auth_self rule brings up the session's
 * polkit agent. */
#include "soter-bouncer.h"

#include <polkit/polkit.h>

#include "soter-error.h"

static const struct {
  const char *method;
  const char *action;
} method_actions[] = {
  { "StartSoterAuthentication", SOTER_ACTION_AUTHENTICATE },
  { "GetAppSecureKey", SOTER_ACTION_AUTHENTICATE },
  { "GetAuthKey", SOTER_ACTION_AUTHENTICATE },
  { "Enroll", SOTER_ACTION_ENROLL },
  { "DeleteEnrolledFinger", SOTER_ACTION_ENROLL },
};

const char *
soter_bouncer_action_for_method (const char *method)
{
  for (gsize i = 0; i < G_N_ELEMENTS (method_actions); i++)
    if (g_str_equal (method, method_actions[i].method))
      return method_actions[i].action;
  return NULL;
}

static void
on_checked (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthorizationResult) result = NULL;

  result = polkit_authority_check_authorization_finish (POLKIT_AUTHORITY (source), res, &error);
  if (result == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                                 "could not check authorization: %s", error->message);
      return;
    }
  if (!polkit_authorization_result_get_is_authorized (result))
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_NOT_AUTHORIZED,
                               "the user did not authorize %s",
                               (const char *) g_task_get_task_data (task));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
on_authority (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthority) authority = polkit_authority_get_finish (res, &error);
  g_autoptr(PolkitSubject) subject = NULL;
  const char *sender = g_object_get_data (G_OBJECT (task), "sender");

  if (authority == NULL)
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                               "polkit is not available: %s", error->message);
      return;
    }
  subject = polkit_system_bus_name_new (sender);
  polkit_authority_check_authorization (authority, subject,
                                        g_task_get_task_data (task), NULL,
                                        POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION,
                                        g_task_get_cancellable (task),
                                        on_checked, g_object_ref (task));
}

void
soter_bouncer_check_async (const char         *sender,
                           const char         *action_id,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_task_data (task, g_strdup (action_id), g_free);
  g_object_set_data_full (G_OBJECT (task), "sender", g_strdup (sender), g_free);
  polkit_authority_get_async (cancellable, on_authority, task);
}

gboolean
soter_bouncer_check_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
