/* soter-job.c — the bookkeeping shared by requests and enrollments. */
#include "soter-job.h"

#include "soter-bouncer.h"

void
soter_job_init (SoterJob *job, SoterContext *context, const char *sender)
{
  job->context = context;
  job->sender = g_strdup (sender);
  job->cancellable = g_cancellable_new ();
}

void
soter_job_begin (SoterJob                *job,
                 const char              *action_id,
                 GBusNameVanishedCallback on_caller_vanished,
                 GSourceFunc              on_timeout,
                 GAsyncReadyCallback      on_admitted,
                 gpointer                 user_data)
{
  SoterContext *ctx = job->context;

  job->watch_id = g_bus_watch_name_on_connection (ctx->connection, job->sender,
                                                  G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                  NULL, on_caller_vanished, user_data, NULL);
  job->timeout_id = g_timeout_add_seconds (ctx->config.request_timeout, on_timeout, user_data);
  soter_bouncer_admit_async (ctx->connection, job->sender, action_id, job->cancellable,
                             on_admitted, user_data);
}

gboolean
soter_job_hold_uid (SoterJob *job, GHashTable *uids, guint32 uid)
{
  g_return_val_if_fail (job->held_uids == NULL, FALSE);
  if (g_hash_table_contains (uids, GUINT_TO_POINTER (uid)))
    return FALSE;
  g_hash_table_add (uids, GUINT_TO_POINTER (uid));
  job->held_uids = g_hash_table_ref (uids);
  job->held_uid = uid;
  return TRUE;
}

void
soter_job_claim_reader (SoterJob *job, GAsyncReadyCallback callback, gpointer user_data)
{
  soter_reader_claim_async (job->context->reader, job->cancellable, callback, user_data);
}

gboolean
soter_job_claim_reader_finish (SoterJob *job, GAsyncResult *result, GError **error)
{
  FpDevice *device = soter_reader_claim_finish (job->context->reader, result, error);

  if (device == NULL)
    return FALSE;
  job->device = device;
  g_object_unref (device); /* the reader keeps it; the job only borrows it */
  return TRUE;
}

void
soter_job_end (SoterJob *job)
{
  g_clear_handle_id (&job->timeout_id, g_source_remove);
  g_clear_handle_id (&job->watch_id, g_bus_unwatch_name);
  if (job->held_uids != NULL)
    {
      g_hash_table_remove (job->held_uids, GUINT_TO_POINTER (job->held_uid));
      g_clear_pointer (&job->held_uids, g_hash_table_unref);
    }
  if (job->device != NULL)
    {
      job->device = NULL;
      soter_reader_release (job->context->reader);
    }
}

void
soter_job_clear (SoterJob *job)
{
  soter_job_end (job);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->sender, g_free);
}
