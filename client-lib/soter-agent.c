/* soter-agent.c — SoterAgent: a prompt agent as signals.
 *
 * The generated Agent skeleton is exported on the client's connection;
 * soterd's calls become the "show", "update" and "close" signals, and the
 * agent's user cancels with soter_agent_cancel() (CancelPrompt). Once
 * registered, the agent watches soterd's name and registers again with each
 * new soterd (SPEC §7).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "soter-private.h"

/**
 * SoterAgent:
 *
 * A prompt agent for soterd: what a desktop shell, a dialog or a terminal
 * tool implements to show the user what an app asks (SPEC §7).
 *
 * Make one on a #SoterClient, connect to #SoterAgent::show,
 * #SoterAgent::update and #SoterAgent::close, and register it. soterd then
 * shows its prompts for the user's authentications there (the agent in the
 * caller's logind session, else one of the caller's uid). When the user
 * dismisses a prompt, call soter_agent_cancel(); the authentication ends with
 * %SOTER_ERROR_CANCELLED.
 *
 * A fallback agent (as pkexec's text agent is to polkit) is used only when no
 * other agent serves the user: a command-line tool registers one for the
 * duration of its call.
 *
 * soterd forgets its agents when it stops. A registered agent therefore
 * watches soterd's bus name, in the main context it was registered from:
 * when soterd leaves the bus, #SoterAgent:registered turns %FALSE and each
 * prompt the agent shows is closed, #SoterAgent::close being emitted with
 * %SOTER_ERROR_INTERNAL (soterd can no longer say how the request ended), so
 * that no prompt stays up for a request that is gone. When soterd's name has
 * an owner again, the agent registers with it, with the same options, and
 * #SoterAgent:registered turns %TRUE. Registering again never starts soterd:
 * it happens only once the name has an owner, and is sent to that owner.
 * A failure to register again is logged; the agent keeps watching, and
 * registers with the next soterd. soter_agent_unregister_sync() and
 * disposing of the agent stop the watch.
 */
struct _SoterAgent
{
  GObject         parent_instance;
  SoterClient    *client;
  gboolean        fallback;
  char           *object_path;
  SoterDBusAgent *skeleton;
  gboolean        registered; /* soterd holds the registration */

  /* Watching soterd's name, from the first registration until
   * soter_agent_unregister_sync() or dispose. */
  guint           watch_id;
  gboolean        wanted;       /* the app registered the agent */
  gboolean        registering;  /* the app's RegisterAgent call is out */
  char           *owner;        /* soterd's unique name, as last seen */
  GCancellable   *cancellable;  /* registrations made again */
  GPtrArray      *shown;        /* request_ids of the prompts not closed yet */
  GHashTable     *details;      /* request_id → ShowPrompt's details, while shown */
};

G_DEFINE_FINAL_TYPE (SoterAgent, soter_agent, G_TYPE_OBJECT)

enum { PROP_0, PROP_CLIENT, PROP_FALLBACK, PROP_OBJECT_PATH, PROP_REGISTERED, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_SHOW, SIGNAL_UPDATE, SIGNAL_CLOSE, N_SIGNALS };
static guint signals[N_SIGNALS];

/* soterd calls only from its own name: a prompt shown by anyone else would
 * be a lie to the user. (Checked in each handler, in the agent's own main
 * context: GDBus runs g-authorize-method in a thread of its own.) */
static gboolean
from_soterd (SoterAgent *self, GDBusMethodInvocation *invocation)
{
  GDBusProxy *proxy = G_DBUS_PROXY (soter_client_get_proxy (self->client));
  g_autofree char *owner = g_dbus_proxy_get_name_owner (proxy);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  if (owner != NULL && g_strcmp0 (sender, owner) == 0)
    return TRUE;
  g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR,
                                                 G_DBUS_ERROR_ACCESS_DENIED,
                                                 "Only soterd may call a prompt agent");
  return FALSE;
}

static gboolean
handle_show (SoterDBusAgent *skeleton, GDBusMethodInvocation *invocation,
             const char *request_id, GVariant *details, SoterAgent *self)
{
  const char *auth_content = "", *app_id = "";
  g_autofree const char **modes = NULL;
  guint32 uid = G_MAXUINT32;

  if (!from_soterd (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  g_variant_lookup (details, "auth_content", "&s", &auth_content);
  g_variant_lookup (details, "app_id", "&s", &app_id);
  g_variant_lookup (details, "uid", "u", &uid);
  if (!g_variant_lookup (details, "modes", "^a&s", &modes))
    modes = g_new0 (const char *, 1);

  /* ShowPrompt returns at once (SPEC §7); the prompt lives on. */
  soter_dbus_agent_complete_show_prompt (skeleton, invocation);
  if (!g_ptr_array_find_with_equal_func (self->shown, request_id, g_str_equal, NULL))
    g_ptr_array_add (self->shown, g_strdup (request_id));
  g_hash_table_replace (self->details, g_strdup (request_id), g_variant_ref (details));
  g_signal_emit (self, signals[SIGNAL_SHOW], 0, request_id, auth_content, app_id, uid, modes);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_update (SoterDBusAgent *skeleton, GDBusMethodInvocation *invocation,
               const char *request_id, const char *message, SoterAgent *self)
{
  if (!from_soterd (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  soter_dbus_agent_complete_update_prompt (skeleton, invocation);
  g_signal_emit (self, signals[SIGNAL_UPDATE], 0, request_id, message);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_close (SoterDBusAgent *skeleton, GDBusMethodInvocation *invocation,
              const char *request_id, guint outcome, SoterAgent *self)
{
  guint i;

  if (!from_soterd (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  soter_dbus_agent_complete_close_prompt (skeleton, invocation);
  if (g_ptr_array_find_with_equal_func (self->shown, request_id, g_str_equal, &i))
    g_ptr_array_remove_index (self->shown, i);
  g_signal_emit (self, signals[SIGNAL_CLOSE], 0, request_id, outcome);
  g_hash_table_remove (self->details, request_id);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/**
 * soter_agent_new:
 * @client: the #SoterClient whose connection the agent is exported on
 * @fallback: whether the agent serves only when no other agent does
 *
 * Returns: (transfer full): a new, unregistered #SoterAgent
 */
SoterAgent *
soter_agent_new (SoterClient *client, gboolean fallback)
{
  g_return_val_if_fail (SOTER_IS_CLIENT (client), NULL);
  return g_object_new (SOTER_TYPE_AGENT, "client", client, "fallback", fallback, NULL);
}

/**
 * soter_agent_get_client:
 * @self: a #SoterAgent
 *
 * Returns: (transfer none): the agent's client
 */
SoterClient *
soter_agent_get_client (SoterAgent *self)
{
  g_return_val_if_fail (SOTER_IS_AGENT (self), NULL);
  return self->client;
}

/**
 * soter_agent_get_object_path:
 * @self: a #SoterAgent
 *
 * Returns: the path the agent is exported at on the client's connection
 */
const char *
soter_agent_get_object_path (SoterAgent *self)
{
  g_return_val_if_fail (SOTER_IS_AGENT (self), NULL);
  return self->object_path;
}

/**
 * soter_agent_get_fallback:
 * @self: a #SoterAgent
 *
 * Returns: whether the agent serves only when no other agent does
 */
gboolean
soter_agent_get_fallback (SoterAgent *self)
{
  g_return_val_if_fail (SOTER_IS_AGENT (self), FALSE);
  return self->fallback;
}

/**
 * soter_agent_dup_details:
 * @self: a #SoterAgent
 * @request_id: the request_id of a prompt the agent shows
 *
 * All that soterd's ShowPrompt said of a prompt (SPEC §7): besides what
 * #SoterAgent::show passes, `app_name` and `app_icon` (both strings) where
 * soterd knows the asking app by a desktop file. Available from
 * #SoterAgent::show until the handlers of #SoterAgent::close have run.
 *
 * Returns: (transfer full) (nullable): the prompt's details, an `a{sv}`
 *   dictionary, or %NULL when the agent shows no such prompt
 */
GVariant *
soter_agent_dup_details (SoterAgent *self, const char *request_id)
{
  GVariant *details;

  g_return_val_if_fail (SOTER_IS_AGENT (self), NULL);
  g_return_val_if_fail (request_id != NULL, NULL);
  details = g_hash_table_lookup (self->details, request_id);
  return details != NULL ? g_variant_ref (details) : NULL;
}

/**
 * soter_agent_get_registered:
 * @self: a #SoterAgent
 *
 * Whether soterd holds the agent's registration now; see
 * #SoterAgent:registered.
 *
 * Returns: %TRUE while soterd shows its prompts through this agent
 */
gboolean
soter_agent_get_registered (SoterAgent *self)
{
  g_return_val_if_fail (SOTER_IS_AGENT (self), FALSE);
  return self->registered;
}

static void
set_registered (SoterAgent *self, gboolean registered)
{
  if (self->registered == registered)
    return;
  self->registered = registered;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REGISTERED]);
}

static GVariant *
registration_options (SoterAgent *self)
{
  GVariantBuilder options;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (self->fallback)
    g_variant_builder_add (&options, "{sv}", "fallback", g_variant_new_boolean (TRUE));
  return g_variant_builder_end (&options);
}

/* ---- soterd's name ----------------------------------------------------- *
 *
 * The watch starts before the app's first RegisterAgent call is sent, so it
 * sees every owner from the one that call reaches on. Its first report is
 * the owner at that moment (or none, when the call then starts soterd); a
 * _sync registration returns before the caller's context hears that report,
 * so a registration whose owner is not known yet takes the next one seen. */

typedef struct {
  SoterAgent *self;  /* not a reference: the call is cancelled in dispose */
  char       *owner; /* the soterd asked */
} Reregistration;

static void
on_registered_again (GObject *source, GAsyncResult *res, gpointer data)
{
  Reregistration *again = data;
  SoterAgent *self = again->self;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = soter_dbus_manager_call_register_agent_with_options_finish (SOTER_DBUS_MANAGER (source),
                                                                   res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ; /* unregistered, or disposed of: self may be gone */
  else if (g_strcmp0 (self->owner, again->owner) != 0)
    ; /* that soterd left meanwhile; the next one is asked */
  else if (!ok)
    g_message ("Could not register prompt agent %s with soterd %s again: %s",
               self->object_path, again->owner, error->message);
  else
    {
      g_debug ("Prompt agent %s registered again with soterd %s", self->object_path,
               again->owner);
      set_registered (self, TRUE);
    }
  g_free (again->owner);
  g_free (again);
}

static void
register_again (SoterAgent *self, const char *owner)
{
  g_autoptr(SoterDBusManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  Reregistration *again;

  /* Addressed to the owner itself, and never auto-starting: this call does
   * not wait on the bus, and cannot be what starts soterd. */
  manager = soter_dbus_manager_proxy_new_sync (soter_client_get_connection (self->client),
                                               G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                               G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS |
                                               G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                               owner, SOTER_MANAGER_PATH, NULL, &error);
  if (manager == NULL)
    {
      g_message ("Could not register prompt agent %s with soterd %s again: %s",
                 self->object_path, owner, error->message);
      return;
    }
  again = g_new0 (Reregistration, 1);
  again->self = self;
  again->owner = g_strdup (owner);
  soter_dbus_manager_call_register_agent_with_options (manager, self->object_path,
                                                       registration_options (self),
                                                       self->cancellable, on_registered_again,
                                                       again);
}

static void
on_soterd_appeared (GDBusConnection *connection, const char *name, const char *owner,
                    gpointer data)
{
  SoterAgent *self = data;
  gboolean unknown = self->owner == NULL;
  gboolean same = g_strcmp0 (self->owner, owner) == 0;

  g_free (self->owner);
  self->owner = g_strdup (owner);
  /* While the app's own call is out, its reply says how it went. */
  if (!self->wanted || self->registering)
    return;
  /* The soterd a _sync registration reached, or the one registered with. */
  if (self->registered && (unknown || same))
    return;
  set_registered (self, FALSE);
  register_again (self, owner);
}

static void
on_soterd_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  SoterAgent *self = data;
  g_autoptr(GPtrArray) shown = NULL;

  /* Not a soterd the agent knew of: the first report, before the
   * registration that started soterd. */
  if (self->owner == NULL)
    return;
  g_clear_pointer (&self->owner, g_free);
  if (!self->wanted)
    return;
  set_registered (self, FALSE);
  /* No ClosePrompt can come now: take down what this soterd showed. */
  shown = g_steal_pointer (&self->shown);
  self->shown = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < shown->len; i++)
    {
      g_signal_emit (self, signals[SIGNAL_CLOSE], 0, shown->pdata[i], SOTER_ERROR_INTERNAL);
      g_hash_table_remove (self->details, shown->pdata[i]);
    }
}

static void
stop_watching (SoterAgent *self)
{
  self->wanted = FALSE;
  if (self->watch_id != 0)
    g_bus_unwatch_name (self->watch_id);
  self->watch_id = 0;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->owner, g_free);
  g_ptr_array_set_size (self->shown, 0);
  g_hash_table_remove_all (self->details);
}

/* Exports the skeleton once, and starts watching soterd's name; soterd's
 * calls and the watch are dispatched in the thread-default main context of
 * the first export. */
static gboolean
export (SoterAgent *self, GError **error)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (self->skeleton);
  GDBusConnection *connection = soter_client_get_connection (self->client);

  if (!g_dbus_interface_skeleton_has_connection (skeleton, connection) &&
      !g_dbus_interface_skeleton_export (skeleton, connection, self->object_path, error))
    return FALSE;
  if (self->watch_id == 0)
    {
      self->cancellable = g_cancellable_new ();
      /* No G_BUS_NAME_WATCHER_FLAGS_AUTO_START: watching starts nothing. */
      self->watch_id = g_bus_watch_name_on_connection (connection, SOTER_BUS_NAME,
                                                       G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                       on_soterd_appeared, on_soterd_vanished,
                                                       self, NULL);
    }
  return TRUE;
}

static void
on_registered (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  SoterAgent *self = g_task_get_source_object (task);
  GError *error = NULL;

  self->registering = FALSE;
  if (!soter_dbus_manager_call_register_agent_with_options_finish (SOTER_DBUS_MANAGER (source),
                                                                   res, &error))
    {
      /* A first registration leaves nothing behind; an agent registered
       * before keeps waiting for soterd. */
      if (!self->wanted)
        {
          stop_watching (self);
          g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
        }
      g_task_return_error (task, soter_strip_dbus_error (error));
      return;
    }
  self->wanted = TRUE;
  set_registered (self, TRUE);
  g_task_return_boolean (task, TRUE);
}

/**
 * soter_agent_register:
 * @self: a #SoterAgent
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when soterd has registered the agent
 * @user_data: data for @callback
 *
 * Exports the agent on the client's connection and registers it with soterd
 * (which D-Bus starts if need be). The agent's signals are emitted in the
 * thread-default main context of this call. From then on the agent watches
 * soterd's bus name and registers again with each new soterd, until
 * soter_agent_unregister_sync() (see #SoterAgent).
 */
void
soter_agent_register (SoterAgent *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (SOTER_IS_AGENT (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_agent_register);

  if (self->registered)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (!export (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  self->registering = TRUE;
  soter_dbus_manager_call_register_agent_with_options (soter_client_get_proxy (self->client),
                                                       self->object_path,
                                                       registration_options (self),
                                                       cancellable, on_registered,
                                                       g_object_ref (task));
}

/**
 * soter_agent_register_finish:
 * @self: a #SoterAgent
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the agent is registered
 */
gboolean
soter_agent_register_finish (SoterAgent *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * soter_agent_register_sync:
 * @self: a #SoterAgent
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Registers the agent; see soter_agent_register(). The signals are emitted
 * in the calling thread's thread-default main context, which the caller
 * iterates.
 *
 * Returns: %TRUE when the agent is registered
 */
gboolean
soter_agent_register_sync (SoterAgent *self, GCancellable *cancellable, GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  g_return_val_if_fail (SOTER_IS_AGENT (self), FALSE);

  /* Export from the caller's context: the skeleton dispatches soterd's
   * calls there, not in the private context of the call. */
  if (!self->registered && !export (self, error))
    return FALSE;
  soter_sync_call_begin (&call);
  soter_agent_register (self, cancellable, soter_sync_call_done, &call);
  ok = soter_agent_register_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return ok;
}

/**
 * soter_agent_unregister_sync:
 * @self: a #SoterAgent
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Unregisters the agent, stops exporting it and stops watching soterd's
 * name. (Disposing of the agent, or leaving the bus, does the same without a
 * round trip.)
 *
 * Returns: %TRUE when soterd has forgotten the agent
 */
gboolean
soter_agent_unregister_sync (SoterAgent *self, GCancellable *cancellable, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (SOTER_IS_AGENT (self), FALSE);
  if (!self->wanted && !self->registered)
    return TRUE;
  stop_watching (self);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
  /* Lost with a soterd that left: nothing to tell (nor to start) soterd. */
  if (!self->registered)
    return TRUE;
  set_registered (self, FALSE);
  ok = soter_dbus_manager_call_unregister_agent_sync (soter_client_get_proxy (self->client),
                                                      self->object_path, cancellable, error);
  if (!ok && error != NULL)
    soter_strip_dbus_error (*error);
  return ok;
}

static void
on_cancel_prompt (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!soter_dbus_manager_call_cancel_prompt_finish (SOTER_DBUS_MANAGER (source), res, &error))
    g_task_return_error (task, soter_strip_dbus_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * soter_agent_cancel:
 * @self: a #SoterAgent
 * @request_id: the request_id of a prompt this agent shows
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when soterd has taken the cancel
 * @user_data: data for @callback
 *
 * Tells soterd the user dismissed the prompt: the authentication ends with
 * %SOTER_ERROR_CANCELLED and #SoterAgent::close follows.
 */
void
soter_agent_cancel (SoterAgent *self, const char *request_id, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (SOTER_IS_AGENT (self));
  g_return_if_fail (request_id != NULL);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, soter_agent_cancel);
  soter_dbus_manager_call_cancel_prompt (soter_client_get_proxy (self->client), request_id,
                                         cancellable, on_cancel_prompt, task);
}

/**
 * soter_agent_cancel_finish:
 * @self: a #SoterAgent
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when soterd took the cancel; %G_DBUS_ERROR_ACCESS_DENIED
 *   when this agent shows no such prompt (any more)
 */
gboolean
soter_agent_cancel_finish (SoterAgent *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * soter_agent_cancel_sync:
 * @self: a #SoterAgent
 * @request_id: the request_id of a prompt this agent shows
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of soter_agent_cancel().
 *
 * Returns: %TRUE when soterd took the cancel
 */
gboolean
soter_agent_cancel_sync (SoterAgent *self, const char *request_id, GCancellable *cancellable,
                         GError **error)
{
  SoterSyncCall call;
  gboolean ok;

  soter_sync_call_begin (&call);
  soter_agent_cancel (self, request_id, cancellable, soter_sync_call_done, &call);
  ok = soter_agent_cancel_finish (self, soter_sync_call_wait (&call), error);
  soter_sync_call_end (&call);
  return ok;
}

static void
soter_agent_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SoterAgent *self = SOTER_AGENT (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_FALLBACK:
      g_value_set_boolean (value, self->fallback);
      break;
    case PROP_OBJECT_PATH:
      g_value_set_string (value, self->object_path);
      break;
    case PROP_REGISTERED:
      g_value_set_boolean (value, self->registered);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
soter_agent_set_property (GObject *object, guint prop_id, const GValue *value,
                          GParamSpec *pspec)
{
  SoterAgent *self = SOTER_AGENT (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_FALLBACK:
      self->fallback = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
soter_agent_dispose (GObject *object)
{
  SoterAgent *self = SOTER_AGENT (object);

  stop_watching (self);
  /* Unexporting is enough: soterd's next call fails, and it moves on. A
   * round trip here could block a dispose. */
  if (self->skeleton != NULL &&
      g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton)))
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
  if (self->registered && self->client != NULL)
    soter_dbus_manager_call_unregister_agent (soter_client_get_proxy (self->client),
                                              self->object_path, NULL, NULL, NULL);
  self->registered = FALSE;
  /* A call already queued must not reach a disposed agent. */
  if (self->skeleton != NULL)
    g_signal_handlers_disconnect_by_data (self->skeleton, self);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (soter_agent_parent_class)->dispose (object);
}

static void
soter_agent_finalize (GObject *object)
{
  SoterAgent *self = SOTER_AGENT (object);

  g_ptr_array_unref (self->shown);
  g_hash_table_unref (self->details);
  g_free (self->object_path);
  G_OBJECT_CLASS (soter_agent_parent_class)->finalize (object);
}

static void
soter_agent_class_init (SoterAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = soter_agent_get_property;
  object_class->set_property = soter_agent_set_property;
  object_class->dispose = soter_agent_dispose;
  object_class->finalize = soter_agent_finalize;

  /**
   * SoterAgent:client:
   *
   * The client whose connection the agent is exported on.
   */
  props[PROP_CLIENT] = g_param_spec_object ("client", NULL, "The agent's client",
                                            SOTER_TYPE_CLIENT,
                                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                            G_PARAM_STATIC_STRINGS);
  /**
   * SoterAgent:fallback:
   *
   * Whether the agent serves only when no other agent does.
   */
  props[PROP_FALLBACK] = g_param_spec_boolean ("fallback", NULL,
                                               "Serve only when no other agent does", FALSE,
                                               G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                               G_PARAM_STATIC_STRINGS);
  /**
   * SoterAgent:object-path:
   *
   * Where the agent is exported on the client's connection.
   */
  props[PROP_OBJECT_PATH] = g_param_spec_string ("object-path", NULL, "The agent's object path",
                                                 NULL,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * SoterAgent:registered:
   *
   * Whether soterd holds the agent's registration: %TRUE once
   * soter_agent_register() succeeded, %FALSE while soterd is gone (it left
   * the bus, or is restarting) until the agent has registered with the new
   * soterd, and after soter_agent_unregister_sync(). A UI can tell from it
   * whether prompts can reach it.
   */
  props[PROP_REGISTERED] = g_param_spec_boolean ("registered", NULL,
                                                 "Whether soterd holds the registration", FALSE,
                                                 G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                                                 G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * SoterAgent::show:
   * @self: the #SoterAgent
   * @request_id: the request, for soter_agent_cancel()
   * @auth_content: what the app asks the user to confirm (may be empty)
   * @app_id: the asking app, as soterd identified it
   * @uid: the asking user
   * @modes: (array zero-terminated=1): the requested modes
   *
   * Show a prompt: the user is asked to put a finger on the reader.
   */
  signals[SIGNAL_SHOW] =
    g_signal_new ("show", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT,
                  G_TYPE_STRV);
  /**
   * SoterAgent::update:
   * @self: the #SoterAgent
   * @request_id: the request
   * @message: e.g. "Not recognized, try again"
   *
   * Tell the user how the prompt is going.
   */
  signals[SIGNAL_UPDATE] =
    g_signal_new ("update", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * SoterAgent::close:
   * @self: the #SoterAgent
   * @request_id: the request
   * @outcome: the request's err_code: 0 on success, else a #SoterError value
   *
   * The request ended: take the prompt down. When soterd leaves the bus
   * while the prompt is shown, the agent emits this itself, with
   * %SOTER_ERROR_INTERNAL.
   */
  signals[SIGNAL_CLOSE] =
    g_signal_new ("close", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
}

static void
soter_agent_init (SoterAgent *self)
{
  static guint next_id = 0;

  self->object_path = g_strdup_printf ("/io/github/soterd/Soter1/Agent/a%u",
                                       g_atomic_int_add (&next_id, 1));
  self->skeleton = soter_dbus_agent_skeleton_new ();
  self->shown = g_ptr_array_new_with_free_func (g_free);
  self->details = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_variant_unref);
  g_signal_connect (self->skeleton, "handle-show-prompt", G_CALLBACK (handle_show), self);
  g_signal_connect (self->skeleton, "handle-update-prompt", G_CALLBACK (handle_update), self);
  g_signal_connect (self->skeleton, "handle-close-prompt", G_CALLBACK (handle_close), self);
}
