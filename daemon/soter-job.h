/* soter-job.h — what every piece of a caller's work on the reader carries:
 * the watch on the caller, the timeout, its uid's turn, the reader once it
 * is ours. Embedded by SoterRequest and SoterEnroll. */
#pragma once

#include "soter-context.h"

G_BEGIN_DECLS

typedef struct {
  SoterContext      *context;
  char              *sender;
  GCancellable      *cancellable;
  GHashTable        *held_uids;   /* where held_uid is marked busy, or NULL */
  guint32            held_uid;
  FpDevice          *device;      /* borrowed from the reader while it is ours */
  guint              watch_id;
  guint              timeout_id;  /* the handler must zero it when it fires */
} SoterJob;

void soter_job_init (SoterJob     *job,
                     SoterContext *context,
                     const char   *sender);

/* Watches the caller, arms the request timeout and starts the admission:
 * the caller looked up on the bus and polkit asked for @action_id
 * (soter_bouncer_admit_async(); @on_admitted finishes it with
 * soter_bouncer_admit_finish()). Nothing waits for the reader before it is
 * admitted. */
void soter_job_begin (SoterJob                *job,
                      const char              *action_id,
                      GBusNameVanishedCallback on_caller_vanished,
                      GSourceFunc              on_timeout,
                      GAsyncReadyCallback      on_admitted,
                      gpointer                 user_data);

/* Marks @uid busy in @uids (uid → nothing) until the job ends; FALSE if it
 * is already: one job of a kind per uid at a time. */
gboolean soter_job_hold_uid (SoterJob   *job,
                             GHashTable *uids,
                             guint32     uid);

/* Joins the line for the reader (bounded: an error at once when it is
 * full); on success job->device is set. */
void     soter_job_claim_reader (SoterJob           *job,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data);
gboolean soter_job_claim_reader_finish (SoterJob     *job,
                                        GAsyncResult *result,
                                        GError      **error);

/* Stops the watch and the timeout, gives back the reader and the uid's
 * turn. Safe to call more than once. */
void soter_job_end (SoterJob *job);
void soter_job_clear (SoterJob *job);

G_END_DECLS
