/* soter-agent.c — SoterAgent: a prompt agent as signals.
 *
 * The generated Agent skeleton is exported on the client's connection;
 * soterd's calls become the "show", "update" and "close" signals, and the
 * agent's user cancels with soter_agent_cancel() (CancelPrompt).
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
 */
struct _SoterAgent
{
  GObject         parent_instance;
  SoterClient    *client;
  gboolean        fallback;
  char           *object_path;
  SoterDBusAgent *skeleton;
  gboolean        registered;
};

G_DEFINE_FINAL_TYPE (SoterAgent, soter_agent, G_TYPE_OBJECT)

enum { PROP_0, PROP_CLIENT, PROP_FALLBACK, PROP_OBJECT_PATH, N_PROPS };
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
  if (!from_soterd (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  soter_dbus_agent_complete_close_prompt (skeleton, invocation);
  g_signal_emit (self, signals[SIGNAL_CLOSE], 0, request_id, outcome);
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

/* Exports the skeleton once; its method calls are dispatched in the
 * thread-default main context of the first export. */
static gboolean
export (SoterAgent *self, GError **error)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (self->skeleton);
  GDBusConnection *connection = soter_client_get_connection (self->client);

  if (g_dbus_interface_skeleton_has_connection (skeleton, connection))
    return TRUE;
  return g_dbus_interface_skeleton_export (skeleton, connection, self->object_path, error);
}

static void
on_registered (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  SoterAgent *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!soter_dbus_manager_call_register_agent_with_options_finish (SOTER_DBUS_MANAGER (source),
                                                                   res, &error))
    {
      g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
      g_task_return_error (task, soter_strip_dbus_error (error));
      return;
    }
  self->registered = TRUE;
  g_task_return_boolean (task, TRUE);
}

/**
 * soter_agent_register:
 * @self: a #SoterAgent
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when soterd has registered the agent
 * @user_data: data for @callback
 *
 * Exports the agent on the client's connection and registers it with soterd.
 * The agent's signals are emitted in the thread-default main context of this
 * call. soterd forgets the agent when it leaves the bus, or restarts: an
 * agent that lives long registers again when soterd's name reappears.
 */
void
soter_agent_register (SoterAgent *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  GVariantBuilder options;
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
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (self->fallback)
    g_variant_builder_add (&options, "{sv}", "fallback", g_variant_new_boolean (TRUE));
  soter_dbus_manager_call_register_agent_with_options (soter_client_get_proxy (self->client),
                                                       self->object_path,
                                                       g_variant_builder_end (&options),
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
 * Unregisters the agent and stops exporting it. (Disposing of the agent, or
 * leaving the bus, does the same without a round trip.)
 *
 * Returns: %TRUE when soterd has forgotten the agent
 */
gboolean
soter_agent_unregister_sync (SoterAgent *self, GCancellable *cancellable, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (SOTER_IS_AGENT (self), FALSE);
  if (!self->registered)
    return TRUE;
  self->registered = FALSE;
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
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
  g_free (SOTER_AGENT (object)->object_path);
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
   * The request ended: take the prompt down.
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
  g_signal_connect (self->skeleton, "handle-show-prompt", G_CALLBACK (handle_show), self);
  g_signal_connect (self->skeleton, "handle-update-prompt", G_CALLBACK (handle_update), self);
  g_signal_connect (self->skeleton, "handle-close-prompt", G_CALLBACK (handle_close), self);
}
