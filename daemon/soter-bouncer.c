/* soter-bouncer.c — polkit through polkit-gobject.
 *
 * The subject is the caller's unique bus name (polkit asks the bus for its
 * pid, uid and start time), never a pid passed in an argument. User
 * interaction is allowed, so an auth_self rule brings up the session's
 * polkit agent.
 *
 * The PolkitAuthority is kept once it could be had. polkit-gobject makes
 * it a singleton that dies with its last reference, and making it anew
 * costs a thread and a GDBusProxy set-up (polkitd's properties, match
 * rules) — about a millisecond on every request when it was let go after
 * each check. Its proxy follows polkitd's name owner, so a restarted
 * polkitd is still reached. An authority that could not be had is not
 * kept: the next check tries again. */
#include "soter-bouncer.h"

#include <polkit/polkit.h>

#include "soter-caller.h"
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

/* Only touched from the main thread. */
static PolkitAuthority *the_authority;

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
check (GTask *task)
{
  g_autoptr(PolkitSubject) subject =
    polkit_system_bus_name_new (g_object_get_data (G_OBJECT (task), "sender"));

  polkit_authority_check_authorization (the_authority, subject,
                                        g_task_get_task_data (task), NULL,
                                        POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION,
                                        g_task_get_cancellable (task),
                                        on_checked, g_object_ref (task));
}

static void
on_authority (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthority) authority = polkit_authority_get_finish (res, &error);

  if (authority == NULL)
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                               "polkit is not available: %s", error->message);
      return;
    }
  /* Checks started while it was being made got the same singleton. */
  if (the_authority == NULL)
    the_authority = g_steal_pointer (&authority);
  check (task);
}

static void
soter_bouncer_check_async (const char         *sender,
                           const char         *action_id,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_task_data (task, g_strdup (action_id), g_free);
  g_object_set_data_full (G_OBJECT (task), "sender", g_strdup (sender), g_free);
  if (the_authority != NULL)
    {
      check (task);
      g_object_unref (task);
    }
  else
    polkit_authority_get_async (cancellable, on_authority, task);
}

static gboolean
soter_bouncer_check_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Admission: the caller's credentials and polkit, asked together ---- */

typedef struct {
  SoterCaller  *caller;
  GError       *error;       /* the first failure of either half */
  GCancellable *halves;      /* stops the other half once one has failed */
  GCancellable *outer;
  gulong        outer_id;
  guint         pending;
} Admission;

static void
admission_free (Admission *a)
{
  if (a->outer != NULL)
    g_cancellable_disconnect (a->outer, a->outer_id);
  g_clear_object (&a->outer);
  g_clear_object (&a->halves);
  g_clear_pointer (&a->caller, soter_caller_free);
  g_clear_error (&a->error);
  g_free (a);
}

static void
on_outer_cancelled (GCancellable *outer, gpointer data)
{
  g_cancellable_cancel (data);
}

/* Both halves end here; the task returns once both have ended, with the
 * first failure (the other half then only reports its cancellation). */
static void
admission_half_done (GTask *task, GError *error)
{
  Admission *a = g_task_get_task_data (task);

  if (error != NULL && a->error == NULL)
    {
      a->error = error;
      g_cancellable_cancel (a->halves);
    }
  else if (error != NULL)
    g_error_free (error);

  if (--a->pending > 0)
    return;
  if (a->error != NULL)
    g_task_return_error (task, g_steal_pointer (&a->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&a->caller), (GDestroyNotify) soter_caller_free);
}

static void
on_admission_caller (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  Admission *a = g_task_get_task_data (task);
  GError *error = NULL;

  a->caller = soter_caller_lookup_finish (res, &error);
  admission_half_done (task, error);
}

static void
on_admission_polkit (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  soter_bouncer_check_finish (res, &error);
  admission_half_done (task, error);
}

void
soter_bouncer_admit_async (GDBusConnection    *connection,
                           const char         *sender,
                           const char         *action_id,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Admission *a = g_new0 (Admission, 1);

  a->halves = g_cancellable_new ();
  if (cancellable != NULL)
    {
      a->outer = g_object_ref (cancellable);
      a->outer_id = g_cancellable_connect (cancellable, G_CALLBACK (on_outer_cancelled),
                                           g_object_ref (a->halves), g_object_unref);
    }
  g_task_set_task_data (task, a, (GDestroyNotify) admission_free);

  a->pending = action_id != NULL ? 2 : 1;
  soter_caller_lookup_async (connection, sender, a->halves, on_admission_caller,
                             g_object_ref (task));
  if (action_id != NULL)
    soter_bouncer_check_async (sender, action_id, a->halves, on_admission_polkit,
                               g_object_ref (task));
}

SoterCaller *
soter_bouncer_admit_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
