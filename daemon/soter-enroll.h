/* soter-enroll.h — one Enroll call: polkit, the reader, progress signals. */
#pragma once

#include "soter-context.h"

G_BEGIN_DECLS

typedef struct _SoterEnroll SoterEnroll;
typedef void (*SoterEnrollDone) (SoterEnroll *enroll,
                                 gpointer     user_data);

SoterEnroll *soter_enroll_new (SoterContext          *context,
                               GDBusMethodInvocation *invocation,
                               const char            *finger,
                               SoterEnrollDone        done,
                               gpointer               user_data);
void         soter_enroll_free (SoterEnroll *enroll);
void         soter_enroll_start (SoterEnroll *enroll);
void         soter_enroll_cancel (SoterEnroll *enroll,
                                  gboolean     caller_gone);
const char  *soter_enroll_get_sender (SoterEnroll *enroll);

G_END_DECLS
