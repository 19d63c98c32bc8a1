/* soter-caller.c — caller credentials from the bus daemon. */
#include "soter-caller.h"

#include <systemd/sd-login.h>

#include "soter-error.h"

void
soter_caller_free (SoterCaller *caller)
{
  g_free (caller->sender);
  g_free (caller->session);
  g_free (caller->app_id);
  g_free (caller->flatpak_id);
  g_free (caller);
}

static char *
flatpak_app_id (guint32 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/root/.flatpak-info", pid);
  g_autoptr(GKeyFile) kf = g_key_file_new ();

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL))
    return NULL;
  return g_key_file_get_string (kf, "Application", "name", NULL);
}

static void
on_credentials (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) creds = NULL;
  g_autoptr(SoterCaller) caller = g_new0 (SoterCaller, 1);
  g_autofree char *exe_link = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* As is: the one who cancelled knows why (a timeout, a cancel call). */
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (reply == NULL)
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                               "could not identify the caller: %s", error->message);
      return;
    }
  creds = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (creds, "UnixUserID", "u", &caller->uid))
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                               "the bus did not tell the caller's uid");
      return;
    }
  caller->sender = g_strdup (g_task_get_task_data (task));
  if (g_variant_lookup (creds, "ProcessID", "u", &caller->pid) && caller->pid > 0)
    {
      if (sd_pid_get_session ((pid_t) caller->pid, &caller->session) < 0)
        caller->session = NULL;
      caller->flatpak_id = flatpak_app_id (caller->pid);
      exe_link = g_strdup_printf ("/proc/%u/exe", caller->pid);
    }
  if (caller->flatpak_id != NULL)
    caller->app_id = g_strdup (caller->flatpak_id);
  else if (exe_link != NULL)
    caller->app_id = g_file_read_link (exe_link, NULL);
  if (caller->app_id == NULL)
    caller->app_id = g_strdup (caller->sender);

  g_task_return_pointer (task, g_steal_pointer (&caller), (GDestroyNotify) soter_caller_free);
}

void
soter_caller_lookup_async (GDBusConnection    *connection,
                           const char         *sender,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  GTask *task = g_task_new (connection, cancellable, callback, user_data);

  g_task_set_task_data (task, g_strdup (sender), g_free);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, cancellable, on_credentials, task);
}

SoterCaller *
soter_caller_lookup_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
