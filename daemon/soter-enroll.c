/* soter-enroll.c — enrolling a finger.
 *
 * Enroll() replies once the reader is ours and libfprint is reading; from
 * then on the caller follows EnrollStatus (sent to it alone) until done is
 * TRUE. Results are fprintd's names. The print is stored only when the
 * enrollment completed, in one atomic write, replacing any earlier print of
 * that finger. */
#include "soter-enroll.h"

#include "soter-bouncer.h"
#include "soter-caller.h"
#include "soter-dbus.h"
#include "soter-error.h"
#include "soter-job.h"

#define MANAGER_PATH "/io/github/soterd/Soter1"
#define MANAGER_IFACE "io.github.soterd.Soter1"

struct _SoterEnroll
{
  SoterContext          *context;
  GDBusMethodInvocation *invocation;  /* until Enroll() has replied */
  SoterEnrollDone        done;
  gpointer               done_data;

  SoterJob               job;
  FpFinger               finger;
  SoterCaller           *caller;
  gboolean               caller_gone;
  gboolean               timed_out;
};

const char *
soter_enroll_get_sender (SoterEnroll *self)
{
  return self->job.sender;
}

static void
emit_status (SoterEnroll *self, const char *result, gboolean done)
{
  if (self->caller_gone)
    return;
  g_dbus_connection_emit_signal (self->context->connection, self->job.sender, MANAGER_PATH,
                                 MANAGER_IFACE, "EnrollStatus",
                                 g_variant_new ("(sb)", result, done), NULL);
}

/* Ends the enrollment: a D-Bus error when Enroll() has not replied yet, else
 * the final EnrollStatus. */
static void
finish (SoterEnroll *self, const char *status, const GError *error)
{
  if (self->invocation != NULL)
    {
      /* A D-Bus name a shell user can read, rather than GIO's unmapped one. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !self->caller_gone)
        g_dbus_method_invocation_return_error_literal (
          g_steal_pointer (&self->invocation), SOTER_ERROR,
          self->timed_out ? SOTER_ERROR_INTERNAL : SOTER_ERROR_CANCELLED,
          self->timed_out ? "The enrollment timed out waiting for the reader"
                          : "The enrollment was cancelled");
      else if (!self->caller_gone)
        g_dbus_method_invocation_return_gerror (g_steal_pointer (&self->invocation), error);
      g_clear_object (&self->invocation);
    }
  else
    emit_status (self, status, TRUE);

  soter_job_end (&self->job);
  self->done (self, self->done_data);
}

static const char *
status_for_error (const GError *error)
{
  if (error->domain == FP_DEVICE_RETRY)
    switch (error->code)
      {
      case FP_DEVICE_RETRY_TOO_SHORT:
        return "enroll-swipe-too-short";
      case FP_DEVICE_RETRY_CENTER_FINGER:
        return "enroll-finger-not-centered";
      case FP_DEVICE_RETRY_REMOVE_FINGER:
        return "enroll-remove-and-retry";
      default:
        return "enroll-retry-scan";
      }
  if (g_error_matches (error, FP_DEVICE_ERROR, FP_DEVICE_ERROR_REMOVED))
    return "enroll-disconnected";
  if (g_error_matches (error, FP_DEVICE_ERROR, FP_DEVICE_ERROR_DATA_FULL))
    return "enroll-data-full";
  if (g_error_matches (error, FP_DEVICE_ERROR, FP_DEVICE_ERROR_DATA_DUPLICATE))
    return "enroll-duplicate";
  return "enroll-failed";
}

static void
on_progress (FpDevice *device, gint completed, FpPrint *print, gpointer data, GError *error)
{
  SoterEnroll *self = data;

  emit_status (self, error ? status_for_error (error) : "enroll-stage-passed", FALSE);
}

static void
on_enrolled (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterEnroll *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(FpPrint) print = fp_device_enroll_finish (FP_DEVICE (source), res, &error);

  if (print == NULL)
    {
      g_message ("Enrollment for uid %u ended: %s", self->caller->uid, error->message);
      finish (self, self->timed_out ? "enroll-failed" : status_for_error (error), error);
      return;
    }
  if (!soter_prints_save (self->context->prints, self->caller->uid, print, &error))
    {
      g_warning ("Could not store the enrolled print: %s", error->message);
      finish (self, "enroll-failed", error);
      return;
    }
  g_message ("Enrolled %s for uid %u", soter_finger_to_name (self->finger), self->caller->uid);
  finish (self, "enroll-completed", NULL);
}

static void
on_reader_claimed (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterEnroll *self = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *username = NULL;
  FpPrint *template;

  if (!soter_job_claim_reader_finish (&self->job, res, &error))
    {
      finish (self, "enroll-failed", error);
      return;
    }
  if (g_cancellable_set_error_if_cancelled (self->job.cancellable, &error))
    {
      finish (self, "enroll-failed", error);
      return;
    }

  /* A floating reference: fp_device_enroll() sinks it and owns the template. */
  template = fp_print_new (self->job.device);
  username = g_strdup_printf ("%u", self->caller->uid);
  fp_print_set_finger (template, self->finger);
  fp_print_set_username (template, username);
  fp_device_enroll (self->job.device, template, self->job.cancellable, on_progress, self, NULL,
                    on_enrolled, self);

  /* Enrollment has started: Enroll() returns, progress follows as signals. */
  soter_dbus_manager_complete_enroll (NULL, g_steal_pointer (&self->invocation));
}

static void
on_admitted (GObject *source, GAsyncResult *res, gpointer data)
{
  SoterEnroll *self = data;
  g_autoptr(GError) error = NULL;

  self->caller = soter_bouncer_admit_finish (res, &error);
  if (self->caller == NULL)
    {
      finish (self, "enroll-failed", error);
      return;
    }
  /* One enrollment per user at a time: a user's many connections must not
   * fill the reader's line for everyone else. */
  if (!soter_job_hold_uid (&self->job, self->context->enrolling, self->caller->uid))
    {
      g_set_error_literal (&error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                           "An enrollment for this user is already in progress");
      finish (self, "enroll-failed", error);
      return;
    }
  soter_job_claim_reader (&self->job, on_reader_claimed, self);
}

static void
on_caller_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  soter_enroll_cancel (data, TRUE);
}

static gboolean
on_timeout (gpointer data)
{
  SoterEnroll *self = data;

  self->job.timeout_id = 0;
  self->timed_out = TRUE;
  g_cancellable_cancel (self->job.cancellable);
  return G_SOURCE_REMOVE;
}

void
soter_enroll_cancel (SoterEnroll *self, gboolean caller_gone)
{
  self->caller_gone = self->caller_gone || caller_gone;
  g_cancellable_cancel (self->job.cancellable);
}

void
soter_enroll_start (SoterEnroll *self)
{
  SoterContext *ctx = self->context;

  if (self->finger == FP_FINGER_UNKNOWN)
    {
      g_autoptr(GError) error =
        g_error_new_literal (G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                             "Unknown finger name; use fprintd's names, "
                             "e.g. right-index-finger");
      finish (self, "enroll-failed", error);
      return;
    }
  if (soter_reader_get_device (ctx->reader) == NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (SOTER_ERROR, SOTER_ERROR_NOT_SUPPORTED,
                                                     "No fingerprint reader is connected");
      finish (self, "enroll-failed", error);
      return;
    }
  soter_job_begin (&self->job, SOTER_ACTION_ENROLL, on_caller_vanished, on_timeout,
                   on_admitted, self);
}

SoterEnroll *
soter_enroll_new (SoterContext *context, GDBusMethodInvocation *invocation,
                  const char *finger, SoterEnrollDone done, gpointer user_data)
{
  SoterEnroll *self = g_new0 (SoterEnroll, 1);

  self->context = context;
  self->invocation = invocation; /* the handler's reference, consumed by the reply */
  self->done = done;
  self->done_data = user_data;
  soter_job_init (&self->job, context, g_dbus_method_invocation_get_sender (invocation));
  self->finger = soter_finger_from_name (finger);
  return self;
}

void
soter_enroll_free (SoterEnroll *self)
{
  soter_job_clear (&self->job);
  g_clear_object (&self->invocation);
  g_clear_pointer (&self->caller, soter_caller_free);
  g_free (self);
}
