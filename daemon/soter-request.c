/* soter-request.c — one authentication, from call to reply.
 *
 * The steps, each one asynchronous and each one cancellable:
 *   check the arguments → who is calling (bus) and polkit, asked together →
 *   the uid's one turn, lock-out, prints, prompt agent → wait in the
 *   reader's (bounded) line → ShowPrompt →
 *   verify (again after a retry or a miss, up to MaxAttempts) → counter,
 *   resultJSON, signature → reply, ClosePrompt, release the reader.
 * Beside them, from the lock-out check on, the auth key is loaded (made the
 * first time) in the key store's thread; the signature waits for it only if
 * the finger came first, and a key that cannot be used ends the request.
 * Every way out goes through finish(), which replies exactly once.
 * A cancel (app, agent, caller gone, timeout, shutdown) sets the outcome and
 * cancels the GCancellable; the step in flight then ends and calls finish().
 */
#include "soter-request.h"

#include "config.h"

#include <string.h>

#include "soter-bouncer.h"
#include "soter-caller.h"
#include "soter-dbus.h"
#include "soter-job.h"
#include "soter-result.h"

#define FP_N_UNKNOWN "unknown"

struct _SoterRequest
{
  SoterContext          *context;
  GDBusMethodInvocation *invocation;
  SoterRequestDone       done;
  gpointer               done_data;
  SoterJob               job;

  char                  *id;
  char                  *challenge;
  char                 **modes;
  char                  *auth_content;
  const char            *mode;

  SoterCaller           *caller;
  char                  *app;          /* key store name of the caller's app */
  SoterDBusAgent        *agent;
  gboolean               prompt_shown;
  SoterAuthKey          *auth_key;     /* loaded while the user is asked */
  struct KeyLoad        *key_load;     /* while it is being loaded */
  char                  *matched_fid;  /* matched, to be signed once loaded */
  GPtrArray             *prints;
  guint                  misses;

  SoterErrorCode         cancel_code;
  char                  *cancel_reason;
  gboolean               caller_gone;
  gboolean               finished;
  gint64                 started_usec;
};

/* G_MESSAGES_DEBUG=soterd: each step with the time since the call arrived. */
#define STEP(self, what) \
  g_debug ("Request %.8s: %s at %.2f ms", (self)->id, (what), \
           (g_get_monotonic_time () - (self)->started_usec) / 1000.0)

static void start_verify (SoterRequest *self);

const char *
soter_request_get_id (SoterRequest *self)
{
  return self->id;
}

const char *
soter_request_get_sender (SoterRequest *self)
{
  return self->job.sender;
}

const char *
soter_request_get_agent_name (SoterRequest *self)
{
  if (self->agent == NULL || !self->prompt_shown)
    return NULL;
  return g_dbus_proxy_get_name (G_DBUS_PROXY (self->agent));
}

static void
log_agent_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), res, &error);

  if (reply == NULL)
    g_debug ("Prompt agent did not take %s: %s", (const char *) data, error->message);
}

static void
finish (SoterRequest *self, SoterErrorCode code, const char *reason,
        const char *result_json, const char *signature)
{
  g_autofree char *msg = NULL;

  g_return_if_fail (!self->finished);
  self->finished = TRUE;

  if (code == SOTER_OK)
    msg = g_strdup ("startSoterAuthentication:ok");
  else
    msg = g_strdup_printf ("startSoterAuthentication:fail %s", reason);

  if (self->caller != NULL)
    g_message ("Authentication %s for uid %u (%s): %u %s", self->id, self->caller->uid,
               self->caller->app_id, code, msg);

  if (!self->caller_gone)
    soter_dbus_manager_complete_start_soter_authentication (
      NULL, g_steal_pointer (&self->invocation), self->mode ? self->mode : "",
      result_json ? result_json : "", signature ? signature : "", code, msg);
  g_clear_object (&self->invocation);

  if (self->prompt_shown)
    soter_dbus_agent_call_close_prompt (self->agent, self->id, code, NULL,
                                        log_agent_reply, (gpointer) "ClosePrompt");
  g_clear_pointer (&self->auth_key, soter_auth_key_unref);
  soter_job_end (&self->job);
  self->done (self, self->done_data);
}

static void
finish_error (SoterRequest *self, const GError *error)
{
  if (error->domain == SOTER_ERROR)
    finish (self, error->code, error->message, NULL, NULL);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && self->cancel_code != 0)
    finish (self, self->cancel_code, self->cancel_reason, NULL, NULL);
  else
    finish (self, SOTER_ERROR_INTERNAL, error->message, NULL, NULL);
}

/* After a step that did not honour the cancellable: has the request ended? */
static gboolean
finish_if_cancelled (SoterRequest *self)
{
  if (!g_cancellable_is_cancelled (self->job.cancellable))
    return FALSE;
  finish (self, self->cancel_code, self->cancel_reason, NULL, NULL);
  return TRUE;
}

void
soter_request_agent_vanished (SoterRequest *self)
{
  soter_request_cancel (self, SOTER_ERROR_CANCELLED, "the prompt agent left the bus", FALSE);
  self->prompt_shown = FALSE;
}

void
soter_request_cancel (SoterRequest *self, SoterErrorCode code, const char *reason,
                      gboolean caller_gone)
{
  if (self->finished || g_cancellable_is_cancelled (self->job.cancellable))
    return;
  self->cancel_code = code;
  self->cancel_reason = g_strdup (reason);
  self->caller_gone = caller_gone;
  g_cancellable_cancel (self->job.cancellable);
}

static gboolean
on_timeout (gpointer data)
{
  SoterRequest *self = data;

  self->job.timeout_id = 0;
  soter_request_cancel (self, SOTER_ERROR_INTERNAL,
                        "timed out waiting for the authentication to finish", FALSE);
  return G_SOURCE_REMOVE;
}

static void
on_caller_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  soter_request_cancel (data, SOTER_ERROR_CANCELLED, "the caller left the bus", TRUE);
}

static void
update_prompt (SoterRequest *self, const char *message)
{
  soter_dbus_agent_call_update_prompt (self->agent, self->id, message, NULL,
                                       log_agent_reply, (gpointer) "UpdatePrompt");
}

static const char *
retry_message (const GError *error)
{
  switch (error->code)
    {
    case FP_DEVICE_RETRY_TOO_SHORT:
      return "Swipe was too short, try again";
    case FP_DEVICE_RETRY_CENTER_FINGER:
      return "Center your finger on the reader and try again";
    case FP_DEVICE_RETRY_REMOVE_FINGER:
      return "Remove your finger and try again";
    default:
      return "Could not read the finger, try again";
    }
}

static void
on_signed (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterRequest *self = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *signature = NULL;

  if (!soter_keystore_sign_result_finish (SOTER_KEYSTORE (source), res, &json, &signature,
                                          &error))
    {
      finish (self, SOTER_ERROR_INTERNAL, error->message, NULL, NULL);
      return;
    }
  STEP (self, "signed");
  /* Cancelled while signing: the counter value is spent, the result is not
   * handed out. */
  if (finish_if_cancelled (self))
    return;
  finish (self, SOTER_OK, NULL, json, signature);
}

static void
sign_result (SoterRequest *self)
{
  FpDevice *device = self->job.device;
  SoterResultFields fields = {
    .raw = self->challenge,
    .fid = self->matched_fid,
    .fp_n = fp_device_get_driver (device) ? fp_device_get_driver (device) : FP_N_UNKNOWN,
    .fp_v = LIBFPRINT_VERSION,
    .uid = self->caller->uid,
  };

  soter_keystore_sign_result_async (self->context->keystore, self->auth_key, &fields, on_signed,
                                    self);
}

/* ---- the auth key, loaded while the user is asked for a finger ------ */

/* The load outlives the request if the request ends first (the key store's
 * thread cannot be stopped mid-way): the request lets go of it, and the key
 * is dropped when it arrives. */
typedef struct KeyLoad {
  SoterRequest *request;   /* NULL once the request is gone */
} KeyLoad;

static void
on_auth_key_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  KeyLoad *load = data;
  SoterRequest *self = load->request;
  g_autoptr(SoterAuthKey) key = NULL;
  g_autoptr(GError) error = NULL;

  key = soter_keystore_load_auth_key_finish (SOTER_KEYSTORE (source), res, &error);
  g_free (load);
  if (self == NULL)
    return;
  self->key_load = NULL;

  if (key == NULL && self->matched_fid != NULL)
    finish_error (self, error);   /* a cancellation included: nothing else is pending */
  else if (key == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Whatever the request waits for (the reader, the agent, a finger)
       * ends with this. */
      g_autofree char *reason = g_strdup_printf ("the auth key cannot be used: %s",
                                                 error->message);
      soter_request_cancel (self, SOTER_ERROR_INTERNAL, reason, FALSE);
    }
  else if (key != NULL)
    {
      STEP (self, "auth key loaded");
      self->auth_key = g_steal_pointer (&key);
      if (self->matched_fid != NULL)
        sign_result (self);
    }
}

static void
load_auth_key (SoterRequest *self)
{
  KeyLoad *load = g_new0 (KeyLoad, 1);

  load->request = self;
  self->key_load = load;
  soter_keystore_load_auth_key_async (self->context->keystore, self->app, self->caller->uid,
                                      self->job.cancellable, on_auth_key_loaded, load);
}

static void
count_miss (SoterRequest *self)
{
  g_autoptr(GError) error = NULL;
  gboolean locked = FALSE;

  self->misses++;
  if (!soter_lockout_record_miss (self->context->lockout, self->caller->uid, &locked, &error))
    {
      finish (self, SOTER_ERROR_INTERNAL, error->message, NULL, NULL);
      return;
    }
  if (locked)
    {
      g_autofree char *reason =
        g_strdup_printf ("too many failed attempts, locked for %u seconds",
                         self->context->config.lockout_seconds);
      finish (self, SOTER_ERROR_LOCKED, reason, NULL, NULL);
      return;
    }
  if (self->misses >= self->context->config.max_attempts)
    {
      finish (self, SOTER_ERROR_NO_MATCH, "fingerprint not recognized", NULL, NULL);
      return;
    }

  {
    g_autofree char *message =
      g_strdup_printf ("Not recognized, try again (%u of %u attempts left)",
                       self->context->config.max_attempts - self->misses,
                       self->context->config.max_attempts);
    update_prompt (self, message);
  }
  start_verify (self);
}

static void
on_verified (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterRequest *self = data;
  FpDevice *device = FP_DEVICE (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(FpPrint) scanned = NULL;
  FpPrint *matched = NULL;
  gboolean match = FALSE;

  if (fp_device_has_feature (device, FP_DEVICE_FEATURE_IDENTIFY))
    {
      fp_device_identify_finish (device, res, &matched, &scanned, &error);
      match = matched != NULL;
    }
  else if (fp_device_verify_finish (device, res, &match, &scanned, &error) && match)
    {
      matched = g_object_ref (g_ptr_array_index (self->prints, 0));
    }
  G_GNUC_UNUSED g_autoptr(FpPrint) matched_owned = matched;  /* frees it on every path */

  if (error != NULL && error->domain == FP_DEVICE_RETRY && !g_cancellable_is_cancelled (self->job.cancellable))
    {
      update_prompt (self, retry_message (error));
      start_verify (self);
      return;
    }
  if (error != NULL)
    {
      if (g_error_matches (error, FP_DEVICE_ERROR, FP_DEVICE_ERROR_REMOVED))
        finish (self, SOTER_ERROR_INTERNAL, "the fingerprint reader was removed", NULL, NULL);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        finish_error (self, error);
      else
        {
          g_autofree char *reason = g_strdup_printf ("fingerprint reader error: %s", error->message);
          finish (self, SOTER_ERROR_INTERNAL, reason, NULL, NULL);
        }
      return;
    }
  if (finish_if_cancelled (self))
    return;

  if (!match)
    {
      count_miss (self);
      return;
    }
  STEP (self, "matched");
  if (!soter_lockout_record_match (self->context->lockout, self->caller->uid, &error))
    {
      finish (self, SOTER_ERROR_INTERNAL, error->message, NULL, NULL);
      return;
    }
  self->matched_fid = g_strdup_printf ("%d", (int) fp_print_get_finger (matched));
  if (self->auth_key != NULL)
    sign_result (self);
  /* else on_auth_key_loaded() signs, or ends the request */
}

static void
start_verify (SoterRequest *self)
{
  FpDevice *device = self->job.device;

  /* Readers that can tell which finger it was search all of the caller's
   * prints; the others (the plain virtual_device among them) check the
   * first enrolled finger, as fprintd's "any" does on such readers. */
  if (fp_device_has_feature (device, FP_DEVICE_FEATURE_IDENTIFY))
    fp_device_identify (device, self->prints, self->job.cancellable, NULL, NULL, NULL,
                        on_verified, self);
  else
    fp_device_verify (device, g_ptr_array_index (self->prints, 0), self->job.cancellable,
                      NULL, NULL, NULL, on_verified, self);
}

static void
on_prompt_shown (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterRequest *self = data;
  g_autoptr(GError) error = NULL;

  if (!soter_dbus_agent_call_show_prompt_finish (SOTER_DBUS_AGENT (source), res, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        finish_error (self, error);
      else
        {
          /* A prompt the user cannot see must not lead to a finger read. */
          g_autofree char *reason = g_strdup_printf ("the prompt agent failed: %s", error->message);
          self->prompt_shown = FALSE;
          finish (self, SOTER_ERROR_INTERNAL, reason, NULL, NULL);
        }
      return;
    }
  STEP (self, "prompt shown");
  start_verify (self);
}

static void
show_prompt (SoterRequest *self)
{
  g_auto(GVariantBuilder) details = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add (&details, "{sv}", "auth_content", g_variant_new_string (self->auth_content));
  g_variant_builder_add (&details, "{sv}", "app_id", g_variant_new_string (self->caller->app_id));
  if (self->caller->app_name != NULL)
    g_variant_builder_add (&details, "{sv}", "app_name",
                           g_variant_new_string (self->caller->app_name));
  if (self->caller->app_icon != NULL)
    g_variant_builder_add (&details, "{sv}", "app_icon",
                           g_variant_new_string (self->caller->app_icon));
  g_variant_builder_add (&details, "{sv}", "uid", g_variant_new_uint32 (self->caller->uid));
  g_variant_builder_add (&details, "{sv}", "modes",
                         g_variant_new_strv ((const char *const *) self->modes, -1));
  self->prompt_shown = TRUE;
  soter_dbus_agent_call_show_prompt (self->agent, self->id, g_variant_builder_end (&details),
                                     self->job.cancellable, on_prompt_shown, self);
}

/* Lock-out, prints and agent: checked before queueing for the reader, and
 * the lock-out again once the reader is ours (it may have begun meanwhile). */
static gboolean
check_can_proceed (SoterRequest *self)
{
  SoterContext *ctx = self->context;
  gint64 until;

  if (soter_lockout_is_locked (ctx->lockout, self->caller->uid, &until))
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (until / G_USEC_PER_SEC);
      g_autofree char *when = g_date_time_format_iso8601 (dt);
      g_autofree char *reason = g_strdup_printf ("too many failed attempts, locked until %s", when);
      finish (self, SOTER_ERROR_LOCKED, reason, NULL, NULL);
      return FALSE;
    }
  if (self->agent == NULL)
    {
      finish (self, SOTER_ERROR_INTERNAL,
              "no prompt agent is registered for the session", NULL, NULL);
      return FALSE;
    }
  return TRUE;
}

static void
on_reader_claimed (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterRequest *self = data;
  g_autoptr(GError) error = NULL;

  if (!soter_job_claim_reader_finish (&self->job, res, &error))
    {
      finish_error (self, error);
      return;
    }
  STEP (self, "reader open");
  if (finish_if_cancelled (self) || !check_can_proceed (self))
    return;

  self->prints = soter_prints_load (self->context->prints, self->caller->uid,
                                    self->job.device, &error);
  if (self->prints == NULL)
    {
      finish (self, SOTER_ERROR_INTERNAL, error->message, NULL, NULL);
      return;
    }
  if (self->prints->len == 0)
    {
      finish (self, SOTER_ERROR_NOT_ENROLLED,
              "no fingerprint is enrolled on this reader for the user", NULL, NULL);
      return;
    }
  show_prompt (self);
}

static void
on_admitted (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterRequest *self = data;
  SoterContext *ctx = self->context;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fingers = NULL;

  self->caller = soter_bouncer_admit_finish (res, &error);
  if (self->caller == NULL)
    {
      finish_error (self, error);
      return;
    }
  STEP (self, "caller known and authorized");
  if (finish_if_cancelled (self))
    return;

  /* At most one pending authentication per uid (SPEC §9): a user's many
   * connections cannot fill the reader's line for everyone else. */
  if (!soter_job_hold_uid (&self->job, ctx->authenticating, self->caller->uid))
    {
      finish (self, SOTER_ERROR_INTERNAL,
              "an authentication for this user is already in progress", NULL, NULL);
      return;
    }
  self->app = soter_keystore_app_name (self->caller->uid, self->caller->flatpak_id);
  if (self->app == NULL)
    {
      finish (self, SOTER_ERROR_INTERNAL, "the caller's app id cannot name a key", NULL, NULL);
      return;
    }
  fingers = soter_prints_list (ctx->prints, self->caller->uid);
  if (fingers[0] == NULL)
    {
      finish (self, SOTER_ERROR_NOT_ENROLLED, "no fingerprint is enrolled for the user",
              NULL, NULL);
      return;
    }
  self->agent = soter_agents_lookup (ctx->agents, self->caller->uid, self->caller->session,
                                     self->caller->sender);
  if (!check_can_proceed (self))
    return;

  /* The key is loaded (made, the first time) while the request waits for
   * the reader, the agent and the finger: the signature after the match
   * then waits for nothing but itself. */
  load_auth_key (self);
  soter_job_claim_reader (&self->job, on_reader_claimed, self);
}

void
soter_request_start (SoterRequest *self)
{
  SoterContext *ctx = self->context;
  g_autoptr(GError) error = NULL;
  const char *available[] = { SOTER_MODE_FINGERPRINT, NULL };

  /* The arguments first: they cost nothing and touch nothing. */
  if (!soter_check_challenge (self->challenge, &error) ||
      !soter_check_auth_content (self->auth_content, &error))
    {
      finish_error (self, error);
      return;
    }
  if (ctx->keystore == NULL || soter_reader_get_device (ctx->reader) == NULL)
    {
      finish (self, SOTER_ERROR_NOT_SUPPORTED,
              ctx->keystore == NULL ? "the key store cannot be used"
                                    : "no fingerprint reader is connected",
              NULL, NULL);
      return;
    }
  self->mode = soter_choose_mode ((const char *const *) self->modes, available, &error);
  if (self->mode == NULL)
    {
      finish_error (self, error);
      return;
    }

  /* The request joins the reader's line only once polkit has said yes. */
  soter_job_begin (&self->job, SOTER_ACTION_AUTHENTICATE, on_caller_vanished, on_timeout,
                   on_admitted, self);
}

SoterRequest *
soter_request_new (SoterContext          *context,
                   GDBusMethodInvocation *invocation,
                   const char            *challenge,
                   const char *const     *modes,
                   const char            *auth_content,
                   SoterRequestDone       done,
                   gpointer               user_data)
{
  SoterRequest *self = g_new0 (SoterRequest, 1);

  self->context = context;
  self->invocation = invocation; /* the handler's reference, consumed by the reply */
  self->done = done;
  self->done_data = user_data;
  self->id = g_uuid_string_random ();
  soter_job_init (&self->job, context, g_dbus_method_invocation_get_sender (invocation));
  self->challenge = g_strdup (challenge);
  self->modes = g_strdupv ((char **) modes);
  self->auth_content = g_strdup (auth_content);
  self->started_usec = g_get_monotonic_time ();
  return self;
}

void
soter_request_free (SoterRequest *self)
{
  soter_job_clear (&self->job);
  g_clear_object (&self->invocation);
  g_clear_object (&self->agent);
  if (self->key_load != NULL)
    self->key_load->request = NULL;
  g_clear_pointer (&self->auth_key, soter_auth_key_unref);
  g_free (self->matched_fid);
  g_clear_pointer (&self->prints, g_ptr_array_unref);
  g_clear_pointer (&self->caller, soter_caller_free);
  g_free (self->app);
  g_free (self->id);
  g_free (self->challenge);
  g_strfreev (self->modes);
  g_free (self->auth_content);
  g_free (self->cancel_reason);
  g_free (self);
}
