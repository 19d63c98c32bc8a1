/* soter-job.h — what every piece of a caller's work on the reader carries:
 * its place in line, the watch on the caller, the timeout, the reader once
 * it is ours. Embedded by SoterRequest and SoterEnroll. */
#pragma once

#include "soter-context.h"

G_BEGIN_DECLS

typedef struct {
  SoterContext      *context;
  char              *sender;
  GCancellable      *cancellable;
  SoterReaderTicket *ticket;      /* our place in line, until we claim */
  FpDevice          *device;      /* borrowed from the reader while it is ours */
  guint              watch_id;
  guint              timeout_id;  /* the handler must zero it when it fires */
} SoterJob;

void soter_job_init (SoterJob     *job,
                     SoterContext *context,
                     const char   *sender);

/* Takes a place in line for the reader (on arrival, so callers are served
 * in order of arrival), watches the caller, arms the request timeout and
 * starts the admission: the caller looked up on the bus and polkit asked
 * for @action_id (soter_bouncer_admit_async(); @on_admitted finishes it
 * with soter_bouncer_admit_finish()). */
void soter_job_begin (SoterJob                *job,
                      const char              *action_id,
                      GBusNameVanishedCallback on_caller_vanished,
                      GSourceFunc              on_timeout,
                      GAsyncReadyCallback      on_admitted,
                      gpointer                 user_data);

/* Claims the reader with the job's ticket; on success job->device is set. */
void     soter_job_claim_reader (SoterJob           *job,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data);
gboolean soter_job_claim_reader_finish (SoterJob     *job,
                                        GAsyncResult *result,
                                        GError      **error);

/* Stops the watch and the timeout, and gives back the reader or the place
 * in line. Safe to call more than once. */
void soter_job_end (SoterJob *job);
void soter_job_clear (SoterJob *job);

G_END_DECLS
