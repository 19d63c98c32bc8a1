/* soter-client-prints.c — SoterClient's enrolled prints: enroll one and
 * follow it to its end, list them, delete one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "soter-private.h"

/* ---- Enroll ----------------------------------------------------------- */

/* One enrollment, from the Enroll() call to the EnrollStatus with done set.
 * soterd replies to Enroll() once the reader is reading, and sends the status
 * signals after that reply; soterd leaving the bus ends it too. */
typedef struct {
  GTask   *task;           /* owned while the enrollment runs */
  guint    subscription;
  guint    watch;
  GSource *cancel_source;
  gboolean replied;        /* Enroll() returned */
  char    *final_status;   /* the status that came with done */
} Enrollment;

static void
enrollment_end (Enrollment *e, GError *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&e->task);
  SoterClient *self = g_task_get_source_object (task);
  GDBusConnection *connection = soter_client_get_connection (self);

  if (e->subscription != 0)
    g_dbus_connection_signal_unsubscribe (connection, e->subscription);
  if (e->watch != 0)
    g_bus_unwatch_name (e->watch);
  soter_client_stop_forwarding_cancel (&e->cancel_source);

  if (error != NULL)
    g_task_return_error (task, error);
  else if (g_strcmp0 (e->final_status, "enroll-completed") == 0)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "The enrollment failed: %s",
                             e->final_status);
  g_free (e->final_status);
  g_free (e);
}

static void
on_enroll_status (GDBusConnection *connection, const char *sender, const char *path,
                  const char *iface, const char *signal, GVariant *params, gpointer data)
{
  Enrollment *e = data;
  const char *result;
  gboolean done;

  if (e->final_status != NULL || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sb)")))
    return;
  g_variant_get (params, "(&sb)", &result, &done);
  soter_client_emit_enroll_status (g_task_get_source_object (e->task), result, done);
  if (!done)
    return;
  e->final_status = g_strdup (result);
  if (e->replied)
    enrollment_end (e, NULL);
}

static void
on_soterd_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  enrollment_end (data, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                             "soterd left the bus during the enrollment"));
}

static void
on_enroll_started (GObject *source, GAsyncResult *res, gpointer data)
{
  Enrollment *e = data;
  SoterClient *self = g_task_get_source_object (e->task);
  GError *error = NULL;

  if (!soter_dbus_manager_call_enroll_finish (SOTER_DBUS_MANAGER (source), res, &error))
    {
      enrollment_end (e, soter_strip_dbus_error (error));
      return;
    }
  e->replied = TRUE;
  if (e->final_status != NULL)
    {
      enrollment_end (e, NULL);
      return;
    }
  /* Only now: soterd owns the name, so "vanished" means it left. */
  e->watch = g_bus_watch_name_on_connection (soter_client_get_connection (self), SOTER_BUS_NAME,
                                             G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                             on_soterd_vanished, e, NULL);
  soter_client_emit_enroll_started (self);
}

/**
 * soter_client_enroll:
 * @self: a #SoterClient
 * @finger: (nullable): fprintd's name of the finger, e.g. `right-index-finger`
 *   (%NULL or "" is `right-index-finger`)
 * @cancellable: (nullable): cancels the enrollment in soterd
 * @callback: called when the enrollment has ended
 * @user_data: data for @callback
 *
 * Enrolls a finger of the calling user. #SoterClient::enroll-started says
 * when the reader is reading, then progress comes as
 * #SoterClient::enroll-status signals, one a stage; it completes when the
 * enrollment has ended. Needs the `enroll` polkit action.
 */
void
soter_client_enroll (SoterClient *self, const char *finger, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  Enrollment *e;

  g_return_if_fail (SOTER_IS_CLIENT (self));

  e = g_new0 (Enrollment, 1);
  e->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (e->task, soter_client_enroll);
  if (g_task_return_error_if_cancelled (e->task))
    {
      g_clear_object (&e->task);
      g_free (e);
      return;
    }
  /* Subscribed before the call, so no status can slip past. */
  e->subscription = g_dbus_connection_signal_subscribe (
    soter_client_get_connection (self), SOTER_BUS_NAME, SOTER_MANAGER_IFACE, "EnrollStatus",
    SOTER_MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_enroll_status, e, NULL);
  e->cancel_source = soter_client_forward_cancel (self, e->task);
  soter_dbus_manager_call_enroll (soter_client_get_proxy (self), finger ? finger : "", NULL,
                                  on_enroll_started, e);
}

/**
 * soter_client_enroll_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * On failure the error is %G_IO_ERROR_FAILED naming the last status (e.g.
 * `enroll-duplicate`), %G_IO_ERROR_CANCELLED, or soterd's error (e.g.
 * %SOTER_ERROR_NOT_AUTHORIZED).
 *
 * Returns: %TRUE when the print was enrolled and stored
 */
gboolean
soter_client_enroll_finish (SoterClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * soter_client_enroll_sync:
 * @self: a #SoterClient
 * @finger: (nullable): fprintd's name of the finger
 * @cancellable: (nullable): cancels the enrollment in soterd
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_enroll(). #SoterClient::enroll-status
 * is emitted from within this call.
 *
 * Returns: %TRUE when the print was enrolled and stored
 */
gboolean
soter_client_enroll_sync (SoterClient *self, const char *finger, GCancellable *cancellable,
                          GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  soter_sync_call_begin (&call);
  soter_client_enroll (self, finger, cancellable, soter_sync_call_done, &call);
  ok = soter_client_enroll_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return ok;
}

/* ---- ListEnrolledFingers ---------------------------------------------- */

static void
on_listed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  char **fingers = NULL;

  if (!soter_dbus_manager_call_list_enrolled_fingers_finish (SOTER_DBUS_MANAGER (source),
                                                             &fingers, res, &error))
    g_task_return_error (task, soter_strip_dbus_error (error));
  else
    g_task_return_pointer (task, fingers, (GDestroyNotify) g_strfreev);
}

/**
 * soter_client_list_enrolled_fingers:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the list
 * @user_data: data for @callback
 *
 * Lists the calling user's enrolled fingers.
 */
void
soter_client_list_enrolled_fingers (SoterClient *self, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (SOTER_IS_CLIENT (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_client_list_enrolled_fingers);
  soter_dbus_manager_call_list_enrolled_fingers (soter_client_get_proxy (self), cancellable,
                                                 on_listed, task);
}

/**
 * soter_client_list_enrolled_fingers_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): fprintd's names of the enrolled fingers (empty
 *   when none), or %NULL with @error set
 */
char **
soter_client_list_enrolled_fingers_finish (SoterClient *self, GAsyncResult *result,
                                           GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * soter_client_list_enrolled_fingers_sync:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_list_enrolled_fingers().
 *
 * Returns: (transfer full): the enrolled fingers, or %NULL with @error set
 */
char **
soter_client_list_enrolled_fingers_sync (SoterClient *self, GCancellable *cancellable,
                                         GError **error)
{
  SoterSyncCall call;
  char **fingers;

  soter_sync_call_begin (&call);
  soter_client_list_enrolled_fingers (self, cancellable, soter_sync_call_done, &call);
  fingers = soter_client_list_enrolled_fingers_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return fingers;
}

/* ---- DeleteEnrolledFinger --------------------------------------------- */

static void
on_deleted (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!soter_dbus_manager_call_delete_enrolled_finger_finish (SOTER_DBUS_MANAGER (source), res,
                                                              &error))
    g_task_return_error (task, soter_strip_dbus_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * soter_client_delete_enrolled_finger:
 * @self: a #SoterClient
 * @finger: fprintd's name of the finger
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: data for @callback
 *
 * Deletes one of the calling user's enrolled prints. Needs the `enroll`
 * polkit action.
 */
void
soter_client_delete_enrolled_finger (SoterClient *self, const char *finger,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  GTask *task;

  g_return_if_fail (SOTER_IS_CLIENT (self));
  g_return_if_fail (finger != NULL);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_client_delete_enrolled_finger);
  soter_dbus_manager_call_delete_enrolled_finger (soter_client_get_proxy (self), finger,
                                                  cancellable, on_deleted, task);
}

/**
 * soter_client_delete_enrolled_finger_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the print was deleted
 */
gboolean
soter_client_delete_enrolled_finger_finish (SoterClient *self, GAsyncResult *result,
                                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * soter_client_delete_enrolled_finger_sync:
 * @self: a #SoterClient
 * @finger: fprintd's name of the finger
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_delete_enrolled_finger().
 *
 * Returns: %TRUE when the print was deleted
 */
gboolean
soter_client_delete_enrolled_finger_sync (SoterClient *self, const char *finger,
                                          GCancellable *cancellable, GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  soter_sync_call_begin (&call);
  soter_client_delete_enrolled_finger (self, finger, cancellable, soter_sync_call_done, &call);
  ok = soter_client_delete_enrolled_finger_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return ok;
}
