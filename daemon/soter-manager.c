/* soter-manager.c — one handler per method of io.github.soterd.Soter1.
 *
 * Handlers are short: they find out who is calling (from the bus), ask the
 * bouncer where the method needs polkit, and hand the work to a request,
 * an enrollment, the key store or the agent list. */
#include "soter-manager.h"

#include "config.h"
#include "soter-bouncer.h"
#include "soter-caller.h"
#include "soter-dbus.h"
#include "soter-enroll.h"
#include "soter-error.h"
#include "soter-request.h"
#include "soter-result.h"

struct _SoterManager
{
  GObject           parent_instance;

  SoterContext     *context;
  SoterDBusManager *skeleton;
  GHashTable       *requests;  /* sender → SoterRequest */
  GHashTable       *enrolls;   /* sender → SoterEnroll */
  gboolean          shutting_down;
};

enum { SIGNAL_DRAINED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (SoterManager, soter_manager, G_TYPE_OBJECT)

/* ---- who is calling, and may they? ---------------------------------- */

typedef void (*AuthorizedFunc) (SoterManager          *self,
                                GDBusMethodInvocation *invocation,
                                SoterCaller           *caller,
                                gpointer               data);

typedef struct {
  SoterManager          *self;
  GDBusMethodInvocation *invocation;
  SoterCaller           *caller;
  AuthorizedFunc         func;
  gpointer               data;
  GDestroyNotify         data_free;
} Authorization;

static void
authorization_free (Authorization *a)
{
  g_object_unref (a->self);
  g_clear_object (&a->invocation);
  g_clear_pointer (&a->caller, soter_caller_free);
  if (a->data_free != NULL)
    a->data_free (a->data);
  g_free (a);
}

static void
authorization_done (Authorization *a, const GError *error)
{
  if (error != NULL)
    g_dbus_method_invocation_return_gerror (g_steal_pointer (&a->invocation), error);
  else
    a->func (a->self, g_steal_pointer (&a->invocation), a->caller, a->data);
  authorization_free (a);
}

static void
on_admitted (GObject *source, GAsyncResult *res, gpointer data)
{
  Authorization *a = data;
  g_autoptr(GError) error = NULL;

  a->caller = soter_bouncer_admit_finish (res, &error);
  authorization_done (a, error);
}

/* Identifies the caller, checks the method's polkit action (if it has one),
 * then calls @func, which owns the invocation; on failure the method
 * returns a D-Bus error instead. */
static void
with_caller (SoterManager *self, GDBusMethodInvocation *invocation,
             AuthorizedFunc func, gpointer data, GDestroyNotify data_free)
{
  Authorization *a = g_new0 (Authorization, 1);

  a->self = g_object_ref (self);
  a->invocation = invocation; /* the handler's reference, consumed by the reply */
  a->func = func;
  a->data = data;
  a->data_free = data_free;
  soter_bouncer_admit_async (self->context->connection,
                             g_dbus_method_invocation_get_sender (invocation),
                             soter_bouncer_action_for_method (
                               g_dbus_method_invocation_get_method_name (invocation)),
                             NULL, on_admitted, a);
}

static gboolean
have_keystore (SoterManager *self, GDBusMethodInvocation *invocation)
{
  if (self->context->keystore != NULL)
    return TRUE;
  g_dbus_method_invocation_return_error_literal (invocation, SOTER_ERROR,
                                                 SOTER_ERROR_NOT_SUPPORTED,
                                                 "The key store cannot be used; see soterd's log");
  return FALSE;
}

static void
check_drained (SoterManager *self)
{
  if (self->shutting_down && g_hash_table_size (self->requests) == 0 &&
      g_hash_table_size (self->enrolls) == 0)
    g_signal_emit (self, signals[SIGNAL_DRAINED], 0);
}

/* ---- StartSoterAuthentication, CancelSoterAuthentication, CancelPrompt -- */

static void
on_request_done (SoterRequest *request, gpointer data)
{
  SoterManager *self = data;

  g_hash_table_remove (self->requests, soter_request_get_sender (request));
  check_drained (self);
}

static gboolean
handle_start (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
              const char *challenge, const char *const *modes, const char *auth_content,
              SoterManager *self)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  SoterRequest *request;

  if (self->shutting_down || g_hash_table_contains (self->requests, sender))
    {
      soter_dbus_manager_complete_start_soter_authentication (
        skeleton, invocation, "", "", "", SOTER_ERROR_INTERNAL,
        self->shutting_down ? "startSoterAuthentication:fail soterd is shutting down"
                            : "startSoterAuthentication:fail an authentication from this "
                              "caller is already in progress");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  request = soter_request_new (self->context, invocation, challenge, modes, auth_content,
                               on_request_done, self);
  g_hash_table_insert (self->requests, g_strdup (sender), request);
  soter_request_start (request);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_cancel (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
               SoterManager *self)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  SoterRequest *request = g_hash_table_lookup (self->requests, sender);
  SoterEnroll *enroll = g_hash_table_lookup (self->enrolls, sender);

  /* Cancelling when nothing is pending is not an error: the request may
   * just have ended, and the app cannot know. */
  if (request != NULL)
    soter_request_cancel (request, SOTER_ERROR_CANCELLED, "the app cancelled", FALSE);
  if (enroll != NULL)
    soter_enroll_cancel (enroll, FALSE);
  soter_dbus_manager_complete_cancel_soter_authentication (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_cancel_prompt (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                      const char *request_id, SoterManager *self)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  GHashTableIter iter;
  SoterRequest *request;

  g_hash_table_iter_init (&iter, self->requests);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &request))
    {
      if (!g_str_equal (soter_request_get_id (request), request_id))
        continue;
      /* Only the agent that was shown the prompt may cancel it. */
      if (g_strcmp0 (soter_request_get_agent_name (request), sender) != 0)
        break;
      soter_request_cancel (request, SOTER_ERROR_CANCELLED, "the user cancelled", FALSE);
      soter_dbus_manager_complete_cancel_prompt (skeleton, invocation);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                         "No prompt %s is shown by this agent", request_id);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_agent_vanished (SoterAgents *agents, const char *bus_name, SoterManager *self)
{
  GHashTableIter iter;
  SoterRequest *request;

  g_hash_table_iter_init (&iter, self->requests);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &request))
    if (g_strcmp0 (soter_request_get_agent_name (request), bus_name) == 0)
      soter_request_agent_vanished (request);
}

/* ---- support and enrollment checks ----------------------------------- */

static gboolean
handle_check_support (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                      SoterManager *self)
{
  soter_dbus_manager_complete_check_is_support_soter_authentication (
    skeleton, invocation, soter_dbus_manager_get_supported_modes (skeleton));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
check_enrolled (SoterManager *self, GDBusMethodInvocation *invocation,
                SoterCaller *caller, gpointer data)
{
  const char *mode = data;
  const char *const *supported = soter_dbus_manager_get_supported_modes (self->skeleton);
  g_auto(GStrv) fingers = NULL;

  if (supported == NULL || !g_strv_contains (supported, mode))
    {
      soter_dbus_manager_complete_check_is_soter_enrolled_in_device (
        self->skeleton, invocation, FALSE, SOTER_ERROR_MODE_NOT_SUPPORTED,
        "checkIsSoterEnrolledInDevice:fail the authentication mode is not supported");
      return;
    }
  fingers = soter_prints_list (self->context->prints, caller->uid);
  soter_dbus_manager_complete_check_is_soter_enrolled_in_device (
    self->skeleton, invocation, fingers[0] != NULL, SOTER_OK, "checkIsSoterEnrolledInDevice:ok");
}

static gboolean
handle_check_enrolled (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                       const char *mode, SoterManager *self)
{
  with_caller (self, invocation, check_enrolled, g_strdup (mode), g_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- keys ------------------------------------------------------------ */

static gboolean
handle_get_device_key (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                       SoterManager *self)
{
  SoterKeystore *ks = self->context->keystore;

  if (!have_keystore (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  soter_dbus_manager_complete_get_device_key (skeleton, invocation,
                                              soter_keystore_get_device_key_pem (ks),
                                              soter_keystore_get_cpu_id (ks),
                                              soter_keystore_get_tee_name (ks),
                                              soter_keystore_get_tee_version (ks));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_key (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GDBusMethodInvocation) invocation = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *sig = NULL;

  if (!soter_keystore_get_key_finish (SOTER_KEYSTORE (source), res, &json, &sig, &error))
    g_dbus_method_invocation_return_gerror (g_steal_pointer (&invocation), error);
  else
    g_dbus_method_invocation_return_value (g_steal_pointer (&invocation),
                                           g_variant_new ("(ss)", json, sig));
}

static void
get_key (SoterManager *self, GDBusMethodInvocation *invocation, SoterCaller *caller,
         gpointer data)
{
  const char *scene = data;
  g_autofree char *app = soter_keystore_app_name (caller->uid, caller->flatpak_id);

  if (app == NULL)
    {
      g_dbus_method_invocation_return_error_literal (invocation, SOTER_ERROR,
                                                     SOTER_ERROR_INTERNAL,
                                                     "The caller's app id cannot name a key");
      return;
    }
  soter_keystore_get_key_async (self->context->keystore, app, caller->uid,
                                scene == NULL ? NULL : *scene ? scene : SOTER_DEFAULT_SCENE,
                                on_key, invocation);
}

static gboolean
handle_get_app_secure_key (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                           SoterManager *self)
{
  if (have_keystore (self, invocation))
    with_caller (self, invocation, get_key, NULL, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_auth_key (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                     const char *scene, SoterManager *self)
{
  g_autoptr(GError) error = NULL;

  if (!have_keystore (self, invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  /* Refuse a bad scene before polkit is asked anything. */
  if (*scene != '\0' && !soter_keystore_check_scene (scene, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  with_caller (self, invocation, get_key, g_strdup (scene), g_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- agents ---------------------------------------------------------- */

typedef struct {
  char     *path;
  gboolean  fallback;
} AgentRegistration;

static void
agent_registration_free (AgentRegistration *reg)
{
  g_free (reg->path);
  g_free (reg);
}

static void
register_agent (SoterManager *self, GDBusMethodInvocation *invocation, SoterCaller *caller,
                gpointer data)
{
  AgentRegistration *reg = data;
  g_autoptr(GError) error = NULL;

  /* A sandboxed app would otherwise be shown every prompt of its user, and
   * decide what the user sees while the finger is read (SPEC §7). */
  if (caller->flatpak_id != NULL)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                             "A sandboxed app (%s) cannot register a prompt "
                                             "agent", caller->flatpak_id);
      return;
    }
  if (!soter_agents_add (self->context->agents, caller->sender, reg->path, caller->uid,
                         caller->session, reg->fallback, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        g_dbus_method_invocation_return_dbus_error (invocation, SOTER_AGENT_EXISTS_ERROR,
                                                    error->message);
      else
        g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  /* Both methods reply with no values. */
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
register_agent_with (SoterManager *self, GDBusMethodInvocation *invocation, const char *path,
                     gboolean fallback)
{
  AgentRegistration *reg = g_new0 (AgentRegistration, 1);

  reg->path = g_strdup (path);
  reg->fallback = fallback;
  with_caller (self, invocation, register_agent, reg, (GDestroyNotify) agent_registration_free);
}

static gboolean
handle_register_agent (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                       const char *path, SoterManager *self)
{
  register_agent_with (self, invocation, path, FALSE);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_register_agent_with_options (SoterDBusManager *skeleton,
                                    GDBusMethodInvocation *invocation, const char *path,
                                    GVariant *options, SoterManager *self)
{
  gboolean fallback = FALSE;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  /* Unknown options are refused, so an agent never believes in an option
   * this soterd does not honour. */
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      if (g_str_equal (key, "fallback") && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        fallback = g_variant_get_boolean (value);
      else
        {
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                                 G_DBUS_ERROR_INVALID_ARGS,
                                                 "Unknown agent option %s of type %s", key,
                                                 g_variant_get_type_string (value));
          g_variant_unref (value);
          return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
    }
  register_agent_with (self, invocation, path, fallback);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unregister_agent (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
                         const char *path, SoterManager *self)
{
  if (!soter_agents_remove (self->context->agents,
                            g_dbus_method_invocation_get_sender (invocation), path))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "No agent %s is registered by this caller", path);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  soter_dbus_manager_complete_unregister_agent (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- enrolled prints ------------------------------------------------- */

static void
on_enroll_done (SoterEnroll *enroll, gpointer data)
{
  SoterManager *self = data;

  g_hash_table_remove (self->enrolls, soter_enroll_get_sender (enroll));
  check_drained (self);
}

static gboolean
handle_enroll (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
               const char *finger, SoterManager *self)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  SoterEnroll *enroll;

  if (self->shutting_down || g_hash_table_contains (self->enrolls, sender))
    {
      g_dbus_method_invocation_return_error_literal (invocation, SOTER_ERROR,
                                                     SOTER_ERROR_INTERNAL,
                                                     "An enrollment from this caller is "
                                                     "already in progress");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  enroll = soter_enroll_new (self->context, invocation, finger, on_enroll_done, self);
  g_hash_table_insert (self->enrolls, g_strdup (sender), enroll);
  soter_enroll_start (enroll);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
list_fingers (SoterManager *self, GDBusMethodInvocation *invocation, SoterCaller *caller,
              gpointer data)
{
  g_auto(GStrv) fingers = soter_prints_list (self->context->prints, caller->uid);

  soter_dbus_manager_complete_list_enrolled_fingers (self->skeleton, invocation,
                                                     (const char *const *) fingers);
}

static gboolean
handle_list (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation, SoterManager *self)
{
  with_caller (self, invocation, list_fingers, NULL, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
delete_finger (SoterManager *self, GDBusMethodInvocation *invocation, SoterCaller *caller,
               gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!soter_prints_delete (self->context->prints, caller->uid, GPOINTER_TO_INT (data), &error))
    {
      g_dbus_method_invocation_take_error (invocation, g_steal_pointer (&error));
      return;
    }
  g_message ("Deleted %s of uid %u", soter_finger_to_name (GPOINTER_TO_INT (data)), caller->uid);
  soter_dbus_manager_complete_delete_enrolled_finger (self->skeleton, invocation);
}

static gboolean
handle_delete (SoterDBusManager *skeleton, GDBusMethodInvocation *invocation,
               const char *finger, SoterManager *self)
{
  FpFinger f = *finger ? soter_finger_from_name (finger) : FP_FINGER_UNKNOWN;

  if (f == FP_FINGER_UNKNOWN)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "Unknown finger name '%s'; use fprintd's names, "
                                             "e.g. right-index-finger", finger);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  with_caller (self, invocation, delete_finger, GINT_TO_POINTER (f), NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- life cycle ------------------------------------------------------ */

gboolean
soter_manager_is_idle (SoterManager *self)
{
  return g_hash_table_size (self->requests) == 0 && g_hash_table_size (self->enrolls) == 0 &&
         soter_agents_count (self->context->agents) == 0 &&
         !soter_reader_is_busy (self->context->reader);
}

void
soter_manager_shutdown (SoterManager *self)
{
  GHashTableIter iter;
  gpointer value;

  self->shutting_down = TRUE;
  g_hash_table_iter_init (&iter, self->requests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    soter_request_cancel (value, SOTER_ERROR_INTERNAL, "soterd is shutting down", FALSE);
  g_hash_table_iter_init (&iter, self->enrolls);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    soter_enroll_cancel (value, FALSE);
  check_drained (self);
}

gboolean
soter_manager_export (SoterManager *self, GError **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                           self->context->connection, SOTER_MANAGER_PATH, error);
}

/* SupportedModes follows the reader (and the key store): a reader unplugged
 * or plugged in changes it, with PropertiesChanged. */
static void
update_supported_modes (SoterReader *reader, SoterManager *self)
{
  static const char *const fingerprint[] = { SOTER_MODE_FINGERPRINT, NULL };
  static const char *const none[] = { NULL };
  gboolean supported = self->context->keystore != NULL &&
                       soter_reader_get_device (reader) != NULL;

  soter_dbus_manager_set_supported_modes (self->skeleton, supported ? fingerprint : none);
}

SoterManager *
soter_manager_new (SoterContext *context)
{
  SoterManager *self = g_object_new (SOTER_TYPE_MANAGER, NULL);
  SoterDBusManager *sk;

  self->context = context;
  self->skeleton = sk = soter_dbus_manager_skeleton_new ();
  soter_dbus_manager_set_version (sk, PACKAGE_VERSION);
  soter_dbus_manager_set_tee_name (sk, context->keystore
                                         ? soter_keystore_get_tee_name (context->keystore)
                                         : "");
  update_supported_modes (context->reader, self);
  g_signal_connect_object (context->reader, "changed", G_CALLBACK (update_supported_modes), self,
                           0);

  g_signal_connect (sk, "handle-start-soter-authentication", G_CALLBACK (handle_start), self);
  g_signal_connect (sk, "handle-cancel-soter-authentication", G_CALLBACK (handle_cancel), self);
  g_signal_connect (sk, "handle-cancel-prompt", G_CALLBACK (handle_cancel_prompt), self);
  g_signal_connect (sk, "handle-check-is-support-soter-authentication",
                    G_CALLBACK (handle_check_support), self);
  g_signal_connect (sk, "handle-check-is-soter-enrolled-in-device",
                    G_CALLBACK (handle_check_enrolled), self);
  g_signal_connect (sk, "handle-get-device-key", G_CALLBACK (handle_get_device_key), self);
  g_signal_connect (sk, "handle-get-app-secure-key", G_CALLBACK (handle_get_app_secure_key), self);
  g_signal_connect (sk, "handle-get-auth-key", G_CALLBACK (handle_get_auth_key), self);
  g_signal_connect (sk, "handle-register-agent", G_CALLBACK (handle_register_agent), self);
  g_signal_connect (sk, "handle-register-agent-with-options",
                    G_CALLBACK (handle_register_agent_with_options), self);
  g_signal_connect (sk, "handle-unregister-agent", G_CALLBACK (handle_unregister_agent), self);
  g_signal_connect (sk, "handle-enroll", G_CALLBACK (handle_enroll), self);
  g_signal_connect (sk, "handle-list-enrolled-fingers", G_CALLBACK (handle_list), self);
  g_signal_connect (sk, "handle-delete-enrolled-finger", G_CALLBACK (handle_delete), self);
  g_signal_connect_object (context->agents, "agent-vanished", G_CALLBACK (on_agent_vanished),
                           self, 0);
  return self;
}

static void
soter_manager_finalize (GObject *object)
{
  SoterManager *self = SOTER_MANAGER (object);

  g_hash_table_unref (self->requests);
  g_hash_table_unref (self->enrolls);
  g_clear_object (&self->skeleton);
  G_OBJECT_CLASS (soter_manager_parent_class)->finalize (object);
}

static void
soter_manager_class_init (SoterManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = soter_manager_finalize;
  signals[SIGNAL_DRAINED] = g_signal_new ("drained", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}

static void
soter_manager_init (SoterManager *self)
{
  self->requests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) soter_request_free);
  self->enrolls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) soter_enroll_free);
}
