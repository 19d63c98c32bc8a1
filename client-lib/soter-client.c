/* soter-client.c — SoterClient: soterd's manager for apps, GIO style.
 *
 * Every method comes as async/finish and _sync. The generated proxy does the
 * D-Bus work; this file adds what an app should not have to know: SOTER's
 * D-Bus errors become SOTER_ERROR, a cancelled GCancellable asks soterd to
 * cancel (CancelSoterAuthentication) and the call completes once soterd has
 * let go of the reader, and an enrollment is followed through EnrollStatus
 * to its end.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "soter-private.h"

/**
 * SoterClient:
 *
 * A connection to soterd's manager on the system bus
 * (`io.github.soterd.Soter1`), for an app that asks for SOTER
 * authentications, and for tools that enroll prints or fetch keys.
 *
 * soterd identifies the caller from the bus: every call made through one
 * #SoterClient is the same caller (same uid, same app), and at most one
 * authentication and one enrollment of a caller run at a time.
 *
 * Calls carry no D-Bus timeout of their own: soterd ends every
 * authentication at its request timeout (60 s by default). Pass a
 * #GCancellable to give up earlier: cancelling it asks soterd to cancel, and
 * the call then completes with %G_IO_ERROR_CANCELLED once soterd has
 * answered, so the reader is free again when the callback runs.
 */
struct _SoterClient
{
  GObject           parent_instance;
  GDBusConnection  *connection;
  SoterDBusManager *proxy;
};

G_DEFINE_FINAL_TYPE (SoterClient, soter_client, G_TYPE_OBJECT)

enum { SIGNAL_ENROLL_STARTED, SIGNAL_ENROLL_STATUS, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- shared helpers --------------------------------------------------- */

GError *
soter_strip_dbus_error (GError *error)
{
  if (g_dbus_error_is_remote_error (error) && error->domain != G_DBUS_ERROR &&
      error->domain != G_IO_ERROR)
    g_dbus_error_strip_remote_error (error);
  return error;
}

void
soter_sync_call_begin (SoterSyncCall *call)
{
  call->context = g_main_context_new ();
  call->result = NULL;
  g_main_context_push_thread_default (call->context);
}

void
soter_sync_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SoterSyncCall *call = user_data;

  call->result = g_object_ref (result);
}

GAsyncResult *
soter_sync_call_wait (SoterSyncCall *call)
{
  while (call->result == NULL)
    g_main_context_iteration (call->context, TRUE);
  return call->result;
}

void
soter_sync_call_end (SoterSyncCall *call)
{
  g_main_context_pop_thread_default (call->context);
  g_clear_object (&call->result);
  g_main_context_unref (call->context);
}

SoterDBusManager *
soter_client_get_proxy (SoterClient *self)
{
  return self->proxy;
}

/* ---- construction ----------------------------------------------------- */

static SoterClient *
client_new (GDBusConnection *connection, SoterDBusManager *proxy)
{
  SoterClient *self = g_object_new (SOTER_TYPE_CLIENT, NULL);

  self->connection = g_object_ref (connection);
  self->proxy = g_object_ref (proxy);
  /* soterd bounds every call itself (the request timeout); GDBus's 25 s
   * default would cut an authentication the user is still doing. */
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (proxy), G_MAXINT);
  return self;
}

static void
on_proxy_ready (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  g_autoptr(SoterDBusManager) proxy = soter_dbus_manager_proxy_new_finish (res, &error);

  if (proxy == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task,
                         client_new (g_dbus_proxy_get_connection (G_DBUS_PROXY (proxy)), proxy),
                         g_object_unref);
}

static void
on_bus_ready (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  g_autoptr(GDBusConnection) connection = g_bus_get_finish (res, &error);

  if (connection == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  soter_dbus_manager_proxy_new (connection, G_DBUS_PROXY_FLAGS_NONE, SOTER_BUS_NAME,
                                SOTER_MANAGER_PATH, g_task_get_cancellable (task),
                                on_proxy_ready, g_object_ref (task));
}

/**
 * soter_client_new:
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the client is ready
 * @user_data: data for @callback
 *
 * Connects to soterd on the system bus (`$DBUS_SYSTEM_BUS_ADDRESS` is
 * honoured). soterd need not be running: D-Bus starts it on the first call.
 */
void
soter_client_new (GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, soter_client_new);
  g_bus_get (G_BUS_TYPE_SYSTEM, cancellable, on_bus_ready, task);
}

/**
 * soter_client_new_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a new #SoterClient, or %NULL on error
 */
SoterClient *
soter_client_new_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * soter_client_new_sync:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to soterd on the system bus; see soter_client_new().
 *
 * Returns: (transfer full): a new #SoterClient, or %NULL on error
 */
SoterClient *
soter_client_new_sync (GCancellable *cancellable, GError **error)
{
  g_autoptr(GDBusConnection) connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, cancellable, error);

  if (connection == NULL)
    return NULL;
  return soter_client_new_for_connection_sync (connection, cancellable, error);
}

/**
 * soter_client_new_for_connection_sync:
 * @connection: a message bus connection on which soterd runs
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like soter_client_new_sync(), on a bus connection of the app's choosing.
 *
 * Returns: (transfer full): a new #SoterClient, or %NULL on error
 */
SoterClient *
soter_client_new_for_connection_sync (GDBusConnection *connection, GCancellable *cancellable,
                                      GError **error)
{
  g_autoptr(SoterDBusManager) proxy = NULL;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);

  proxy = soter_dbus_manager_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE,
                                             SOTER_BUS_NAME, SOTER_MANAGER_PATH, cancellable,
                                             error);
  if (proxy == NULL)
    return NULL;
  return client_new (connection, proxy);
}

/**
 * soter_client_get_connection:
 * @self: a #SoterClient
 *
 * Returns: (transfer none): the bus connection the client calls soterd on
 */
GDBusConnection *
soter_client_get_connection (SoterClient *self)
{
  g_return_val_if_fail (SOTER_IS_CLIENT (self), NULL);
  return self->connection;
}

/**
 * soter_client_dup_version:
 * @self: a #SoterClient
 *
 * Returns: (transfer full) (nullable): soterd's version, or %NULL when
 *   soterd was not running when the client was made
 */
char *
soter_client_dup_version (SoterClient *self)
{
  g_return_val_if_fail (SOTER_IS_CLIENT (self), NULL);
  return soter_dbus_manager_dup_version (self->proxy);
}

/**
 * soter_client_dup_supported_modes:
 * @self: a #SoterClient
 *
 * The SupportedModes property as last seen; soter_client_get_supported_modes()
 * asks soterd.
 *
 * Returns: (transfer full) (nullable): the supported modes, or %NULL when
 *   soterd was not running when the client was made
 */
char **
soter_client_dup_supported_modes (SoterClient *self)
{
  g_return_val_if_fail (SOTER_IS_CLIENT (self), NULL);
  return soter_dbus_manager_dup_supported_modes (self->proxy);
}

/**
 * soter_client_dup_tee_name:
 * @self: a #SoterClient
 *
 * Returns: (transfer full) (nullable): the key store's name (`tee_n`), or
 *   %NULL when soterd was not running when the client was made
 */
char *
soter_client_dup_tee_name (SoterClient *self)
{
  g_return_val_if_fail (SOTER_IS_CLIENT (self), NULL);
  return soter_dbus_manager_dup_tee_name (self->proxy);
}

/* ---- cancelling through soterd ---------------------------------------- */

static void
on_cancel_sent (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!soter_dbus_manager_call_cancel_soter_authentication_finish (SOTER_DBUS_MANAGER (source),
                                                                   res, &error))
    g_debug ("CancelSoterAuthentication failed: %s", error->message);
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer data)
{
  SoterClient *self = data;

  soter_dbus_manager_call_cancel_soter_authentication (self->proxy, NULL, on_cancel_sent, NULL);
  return G_SOURCE_REMOVE;
}

/* The cancel is sent from the task's own main context. The task is not
 * completed by the cancel: soterd's answer completes it, and GTask then
 * returns G_IO_ERROR_CANCELLED. */
GSource *
soter_client_forward_cancel (SoterClient *self, GTask *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  GSource *source;

  if (cancellable == NULL)
    return NULL;
  source = g_cancellable_source_new (cancellable);
  g_source_set_callback (source, G_SOURCE_FUNC (on_cancelled), g_object_ref (self),
                         g_object_unref);
  g_source_attach (source, g_task_get_context (task));
  return source;
}

void
soter_client_stop_forwarding_cancel (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* ---- StartSoterAuthentication ----------------------------------------- */

static void
on_authenticated (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GSource *cancel_source = g_task_get_task_data (task);
  g_autofree char *mode = NULL, *json = NULL, *signature = NULL, *msg = NULL;
  GError *error = NULL;
  guint code = 0;

  soter_client_stop_forwarding_cancel (&cancel_source);
  g_task_set_task_data (task, NULL, NULL);
  if (!soter_dbus_manager_call_start_soter_authentication_finish (
        SOTER_DBUS_MANAGER (source), &mode, &json, &signature, &code, &msg, res, &error))
    {
      g_task_return_error (task, soter_strip_dbus_error (error));
      return;
    }
  g_task_return_pointer (task, soter_result_new (mode, json, signature, code, msg),
                         g_object_unref);
}

/**
 * soter_client_start_authentication:
 * @self: a #SoterClient
 * @challenge: the app server's challenge, signed back as `raw` (1 to 512 characters)
 * @modes: (array zero-terminated=1): the requested modes, e.g. `fingerPrint`
 * @auth_content: (nullable): what the prompt shows (at most 42 characters)
 * @cancellable: (nullable): cancels the authentication in soterd
 * @callback: called when the authentication has ended
 * @user_data: data for @callback
 *
 * Asks soterd for a SOTER authentication: the prompt agent of the user's
 * session shows @auth_content, the user puts an enrolled finger on the
 * reader, and soterd signs a resultJSON holding @challenge with this app's
 * auth key. It completes when the authentication has ended, however it ended.
 */
void
soter_client_start_authentication (SoterClient *self, const char *challenge,
                                   const char *const *modes, const char *auth_content,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  static const char *const no_modes[] = { NULL };
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (SOTER_IS_CLIENT (self));
  g_return_if_fail (challenge != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_client_start_authentication);
  if (g_task_return_error_if_cancelled (task))
    return;
  g_task_set_task_data (task, soter_client_forward_cancel (self, task), NULL);
  /* No GCancellable on the call itself: its reply must come, so that the
   * task ends only when soterd has ended the request. */
  soter_dbus_manager_call_start_soter_authentication (self->proxy, challenge,
                                                      modes ? modes : no_modes,
                                                      auth_content ? auth_content : "", NULL,
                                                      on_authenticated, g_object_ref (task));
}

/**
 * soter_client_start_authentication_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the outcome of soter_client_start_authentication(). Every SOTER
 * outcome, success or failure, is a #SoterResult (see soter_result_check());
 * @error is set only when soterd could not be asked (e.g. it is not
 * installed) or when @cancellable was cancelled (%G_IO_ERROR_CANCELLED).
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
SoterResult *
soter_client_start_authentication_finish (SoterClient *self, GAsyncResult *result,
                                          GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * soter_client_start_authentication_sync:
 * @self: a #SoterClient
 * @challenge: the app server's challenge (1 to 512 characters)
 * @modes: (array zero-terminated=1): the requested modes, e.g. `fingerPrint`
 * @auth_content: (nullable): what the prompt shows (at most 42 characters)
 * @cancellable: (nullable): cancels the authentication in soterd
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_start_authentication(). The prompt agent
 * must not run in the calling thread.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
SoterResult *
soter_client_start_authentication_sync (SoterClient *self, const char *challenge,
                                        const char *const *modes, const char *auth_content,
                                        GCancellable *cancellable, GError **error)
{
  SoterSyncCall call;
  SoterResult *result;

  soter_sync_call_begin (&call);
  soter_client_start_authentication (self, challenge, modes, auth_content, cancellable,
                                     soter_sync_call_done, &call);
  result = soter_client_start_authentication_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return result;
}

/* ---- CancelSoterAuthentication ---------------------------------------- */

static void
on_cancel_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!soter_dbus_manager_call_cancel_soter_authentication_finish (SOTER_DBUS_MANAGER (source),
                                                                   res, &error))
    g_task_return_error (task, soter_strip_dbus_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * soter_client_cancel_authentication:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when soterd has taken the cancel
 * @user_data: data for @callback
 *
 * Cancels this caller's pending authentication, which then ends with
 * %SOTER_ERROR_CANCELLED (90008), and its enrollment. Nothing pending is not
 * an error. (Cancelling the #GCancellable of a call does the same.)
 */
void
soter_client_cancel_authentication (SoterClient *self, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (SOTER_IS_CLIENT (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_client_cancel_authentication);
  soter_dbus_manager_call_cancel_soter_authentication (self->proxy, cancellable, on_cancel_done,
                                                       task);
}

/**
 * soter_client_cancel_authentication_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when soterd took the cancel
 */
gboolean
soter_client_cancel_authentication_finish (SoterClient *self, GAsyncResult *result,
                                           GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * soter_client_cancel_authentication_sync:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_cancel_authentication().
 *
 * Returns: %TRUE when soterd took the cancel
 */
gboolean
soter_client_cancel_authentication_sync (SoterClient *self, GCancellable *cancellable,
                                         GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  soter_sync_call_begin (&call);
  soter_client_cancel_authentication (self, cancellable, soter_sync_call_done, &call);
  ok = soter_client_cancel_authentication_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return ok;
}

/* ---- CheckIsSupportSoterAuthentication -------------------------------- */

static void
on_supported (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  char **modes = NULL;

  if (!soter_dbus_manager_call_check_is_support_soter_authentication_finish (
        SOTER_DBUS_MANAGER (source), &modes, res, &error))
    g_task_return_error (task, soter_strip_dbus_error (error));
  else
    g_task_return_pointer (task, modes, (GDestroyNotify) g_strfreev);
}

/**
 * soter_client_get_supported_modes:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * Asks which modes this device supports (CheckIsSupportSoterAuthentication,
 * Taro's `checkIsSupportSoterAuthentication`).
 */
void
soter_client_get_supported_modes (SoterClient *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (SOTER_IS_CLIENT (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_client_get_supported_modes);
  soter_dbus_manager_call_check_is_support_soter_authentication (self->proxy, cancellable,
                                                                 on_supported, task);
}

/**
 * soter_client_get_supported_modes_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the supported modes (e.g. `fingerPrint`),
 *   empty when none, or %NULL with @error set
 */
char **
soter_client_get_supported_modes_finish (SoterClient *self, GAsyncResult *result,
                                         GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * soter_client_get_supported_modes_sync:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_get_supported_modes().
 *
 * Returns: (transfer full): the supported modes, or %NULL with @error set
 */
char **
soter_client_get_supported_modes_sync (SoterClient *self, GCancellable *cancellable,
                                       GError **error)
{
  SoterSyncCall call;
  char **modes;

  soter_sync_call_begin (&call);
  soter_client_get_supported_modes (self, cancellable, soter_sync_call_done, &call);
  modes = soter_client_get_supported_modes_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return modes;
}

/* ---- CheckIsSoterEnrolledInDevice ------------------------------------- */

static void
on_enrolled_checked (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autofree char *msg = NULL;
  GError *error = NULL;
  gboolean enrolled = FALSE;
  guint code = 0;

  if (!soter_dbus_manager_call_check_is_soter_enrolled_in_device_finish (
        SOTER_DBUS_MANAGER (source), &enrolled, &code, &msg, res, &error))
    g_task_return_error (task, soter_strip_dbus_error (error));
  else if (code != 0)
    g_task_return_new_error (task, SOTER_ERROR, (int) code, "%s", msg);
  else
    g_task_return_boolean (task, enrolled);
}

/**
 * soter_client_is_enrolled:
 * @self: a #SoterClient
 * @mode: a mode, e.g. `fingerPrint`
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the answer
 * @user_data: data for @callback
 *
 * Asks whether the calling user has enrolled @mode
 * (CheckIsSoterEnrolledInDevice).
 */
void
soter_client_is_enrolled (SoterClient *self, const char *mode, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (SOTER_IS_CLIENT (self));
  g_return_if_fail (mode != NULL);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_client_is_enrolled);
  soter_dbus_manager_call_check_is_soter_enrolled_in_device (self->proxy, mode, cancellable,
                                                             on_enrolled_checked, task);
}

/**
 * soter_client_is_enrolled_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when enrolled; %FALSE when not, or with @error set when
 *   soterd answered with an err_code (e.g. %SOTER_ERROR_MODE_NOT_SUPPORTED)
 */
gboolean
soter_client_is_enrolled_finish (SoterClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * soter_client_is_enrolled_sync:
 * @self: a #SoterClient
 * @mode: a mode, e.g. `fingerPrint`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_is_enrolled().
 *
 * Returns: %TRUE when enrolled
 */
gboolean
soter_client_is_enrolled_sync (SoterClient *self, const char *mode, GCancellable *cancellable,
                               GError **error)
{
  SoterSyncCall call;
  gboolean enrolled;

  soter_sync_call_begin (&call);
  soter_client_is_enrolled (self, mode, cancellable, soter_sync_call_done, &call);
  enrolled = soter_client_is_enrolled_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return enrolled;
}

/* ---- keys ------------------------------------------------------------- */

/* A key's strings, carried from the reply to the finish function. */
typedef struct {
  char *a, *b, *c, *d;
} Strings;

static void
strings_free (Strings *s)
{
  g_free (s->a);
  g_free (s->b);
  g_free (s->c);
  g_free (s->d);
  g_free (s);
}

static gboolean
propagate_strings (SoterClient *self, GAsyncResult *result, char **a, char **b, char **c,
                   char **d, GError **error)
{
  Strings *s;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  s = g_task_propagate_pointer (G_TASK (result), error);
  if (s == NULL)
    return FALSE;
#define GIVE(field)                       \
  if (field != NULL)                      \
    *field = g_steal_pointer (&s->field);
  GIVE (a) GIVE (b) GIVE (c) GIVE (d)
#undef GIVE
  strings_free (s);
  return TRUE;
}

/* The three key methods answer only strings: one callback takes them all. */
static void
on_strings (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  const GVariantType *type = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  Strings *s;

  reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), res, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, soter_strip_dbus_error (error));
      return;
    }
  if (!g_variant_is_of_type (reply, type))
    {
      g_task_return_new_error (task, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_SIGNATURE,
                               "soterd answered %s, not %s", g_variant_get_type_string (reply),
                               g_variant_type_peek_string (type));
      return;
    }
  s = g_new0 (Strings, 1);
  {
    char **slots[] = { &s->a, &s->b, &s->c, &s->d };

    for (gsize i = 0; i < g_variant_n_children (reply) && i < G_N_ELEMENTS (slots); i++)
      g_variant_get_child (reply, i, "s", slots[i]);
  }
  g_task_return_pointer (task, s, (GDestroyNotify) strings_free);
}

static void
call_for_strings (SoterClient *self, const char *method, GVariant *args, const char *reply_type,
                  gpointer source_tag, GCancellable *cancellable, GAsyncReadyCallback callback,
                  gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, (gpointer) G_VARIANT_TYPE (reply_type), NULL);
  g_dbus_proxy_call (G_DBUS_PROXY (self->proxy), method, args, G_DBUS_CALL_FLAGS_NONE, -1,
                     cancellable, on_strings, task);
}

/**
 * soter_client_get_device_key:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the key
 * @user_data: data for @callback
 *
 * Gets the device key's public half (the ATTK), which a relying party pins.
 */
void
soter_client_get_device_key (SoterClient *self, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (SOTER_IS_CLIENT (self));
  call_for_strings (self, "GetDeviceKey", NULL, "(ssss)", soter_client_get_device_key,
                    cancellable, callback, user_data);
}

/**
 * soter_client_get_device_key_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @public_key_pem: (out) (optional): the public key, PEM
 * @cpu_id: (out) (optional): the device id (SHA-256 of the key, hex)
 * @tee_name: (out) (optional): the key store's name (`tee_n`)
 * @tee_version: (out) (optional): the key store's version (`tee_v`)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
soter_client_get_device_key_finish (SoterClient *self, GAsyncResult *result,
                                    char **public_key_pem, char **cpu_id, char **tee_name,
                                    char **tee_version, GError **error)
{
  return propagate_strings (self, result, public_key_pem, cpu_id, tee_name, tee_version, error);
}

/**
 * soter_client_get_device_key_sync:
 * @self: a #SoterClient
 * @public_key_pem: (out) (optional): the public key, PEM
 * @cpu_id: (out) (optional): the device id (SHA-256 of the key, hex)
 * @tee_name: (out) (optional): the key store's name (`tee_n`)
 * @tee_version: (out) (optional): the key store's version (`tee_v`)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_get_device_key().
 *
 * Returns: %TRUE on success
 */
gboolean
soter_client_get_device_key_sync (SoterClient *self, char **public_key_pem, char **cpu_id,
                                  char **tee_name, char **tee_version,
                                  GCancellable *cancellable, GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  soter_sync_call_begin (&call);
  soter_client_get_device_key (self, cancellable, soter_sync_call_done, &call);
  ok = soter_client_get_device_key_finish (self, soter_sync_call_wait (&call), public_key_pem,
                                           cpu_id, tee_name, tee_version, error);
  soter_sync_call_end (&call);
  return ok;
}

/**
 * soter_client_get_app_secure_key:
 * @self: a #SoterClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the key
 * @user_data: data for @callback
 *
 * Gets this app's secure key (ASK) as Tencent's key_json, signed by the
 * device key; soterd makes it on first use. Needs the `authenticate` polkit
 * action.
 */
void
soter_client_get_app_secure_key (SoterClient *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (SOTER_IS_CLIENT (self));
  call_for_strings (self, "GetAppSecureKey", NULL, "(ss)", soter_client_get_app_secure_key,
                    cancellable, callback, user_data);
}

/**
 * soter_client_get_app_secure_key_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @key_json: (out) (optional): the key_json, exactly as signed
 * @key_json_signature: (out) (optional): its base64 signature by the device key
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
soter_client_get_app_secure_key_finish (SoterClient *self, GAsyncResult *result,
                                        char **key_json, char **key_json_signature,
                                        GError **error)
{
  return propagate_strings (self, result, key_json, key_json_signature, NULL, NULL, error);
}

/**
 * soter_client_get_app_secure_key_sync:
 * @self: a #SoterClient
 * @key_json: (out) (optional): the key_json, exactly as signed
 * @key_json_signature: (out) (optional): its base64 signature by the device key
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_get_app_secure_key().
 *
 * Returns: %TRUE on success
 */
gboolean
soter_client_get_app_secure_key_sync (SoterClient *self, char **key_json,
                                      char **key_json_signature, GCancellable *cancellable,
                                      GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  soter_sync_call_begin (&call);
  soter_client_get_app_secure_key (self, cancellable, soter_sync_call_done, &call);
  ok = soter_client_get_app_secure_key_finish (self, soter_sync_call_wait (&call), key_json,
                                               key_json_signature, error);
  soter_sync_call_end (&call);
  return ok;
}

/**
 * soter_client_get_auth_key:
 * @self: a #SoterClient
 * @scene: (nullable): the scene; %NULL or "" is `default`, the key
 *   soter_client_start_authentication() signs with
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the key
 * @user_data: data for @callback
 *
 * Gets this app's auth key for @scene as key_json, signed by the app secure
 * key; soterd makes it on first use. Needs the `authenticate` polkit action.
 */
void
soter_client_get_auth_key (SoterClient *self, const char *scene, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (SOTER_IS_CLIENT (self));
  call_for_strings (self, "GetAuthKey", g_variant_new ("(s)", scene ? scene : ""), "(ss)",
                    soter_client_get_auth_key, cancellable, callback, user_data);
}

/**
 * soter_client_get_auth_key_finish:
 * @self: a #SoterClient
 * @result: the #GAsyncResult given to the callback
 * @key_json: (out) (optional): the key_json, exactly as signed
 * @key_json_signature: (out) (optional): its base64 signature by the app secure key
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
soter_client_get_auth_key_finish (SoterClient *self, GAsyncResult *result, char **key_json,
                                  char **key_json_signature, GError **error)
{
  return propagate_strings (self, result, key_json, key_json_signature, NULL, NULL, error);
}

/**
 * soter_client_get_auth_key_sync:
 * @self: a #SoterClient
 * @scene: (nullable): the scene; %NULL or "" is `default`
 * @key_json: (out) (optional): the key_json, exactly as signed
 * @key_json_signature: (out) (optional): its base64 signature by the app secure key
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_client_get_auth_key().
 *
 * Returns: %TRUE on success
 */
gboolean
soter_client_get_auth_key_sync (SoterClient *self, const char *scene, char **key_json,
                                char **key_json_signature, GCancellable *cancellable,
                                GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  soter_sync_call_begin (&call);
  soter_client_get_auth_key (self, scene, cancellable, soter_sync_call_done, &call);
  ok = soter_client_get_auth_key_finish (self, soter_sync_call_wait (&call), key_json,
                                         key_json_signature, error);
  soter_sync_call_end (&call);
  return ok;
}

/* ---- the object ------------------------------------------------------- */

void
soter_client_emit_enroll_started (SoterClient *self)
{
  g_signal_emit (self, signals[SIGNAL_ENROLL_STARTED], 0);
}

void
soter_client_emit_enroll_status (SoterClient *self, const char *result, gboolean done)
{
  g_signal_emit (self, signals[SIGNAL_ENROLL_STATUS], 0, result, done);
}

static void
soter_client_dispose (GObject *object)
{
  SoterClient *self = SOTER_CLIENT (object);

  g_clear_object (&self->proxy);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (soter_client_parent_class)->dispose (object);
}

static void
soter_client_class_init (SoterClientClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = soter_client_dispose;

  /* Registers SOTER's D-Bus error names, so replies map to SOTER_ERROR. */
  (void) SOTER_ERROR;

  /**
   * SoterClient::enroll-started:
   * @self: the #SoterClient
   *
   * An enrollment started with soter_client_enroll() has the reader and is
   * reading: the moment to ask the user for a finger.
   */
  signals[SIGNAL_ENROLL_STARTED] =
    g_signal_new ("enroll-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);

  /**
   * SoterClient::enroll-status:
   * @self: the #SoterClient
   * @result: fprintd's name for the step, e.g. `enroll-stage-passed`,
   *   `enroll-retry-scan`, `enroll-completed`
   * @done: whether the enrollment has ended
   *
   * Progress of an enrollment started with soter_client_enroll().
   */
  signals[SIGNAL_ENROLL_STATUS] =
    g_signal_new ("enroll-status", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
soter_client_init (SoterClient *self)
{
}
