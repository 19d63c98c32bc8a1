/* soter-request.h — one StartSoterAuthentication, from call to reply. */
#pragma once

#include "soter-context.h"
#include "soter-error.h"

G_BEGIN_DECLS

typedef struct _SoterRequest SoterRequest;
typedef void (*SoterRequestDone) (SoterRequest *request,
                                  gpointer      user_data);

/* Takes the invocation; @done runs once the reply has left, and the owner
 * then frees the request with soter_request_free(). */
SoterRequest *soter_request_new (SoterContext          *context,
                                 GDBusMethodInvocation *invocation,
                                 const char            *challenge,
                                 const char *const     *modes,
                                 const char            *auth_content,
                                 SoterRequestDone       done,
                                 gpointer               user_data);
void          soter_request_free (SoterRequest *request);
void          soter_request_start (SoterRequest *request);

const char *soter_request_get_id (SoterRequest *request);
const char *soter_request_get_sender (SoterRequest *request);
/* The bus name of the agent that was shown the prompt, or NULL. */
const char *soter_request_get_agent_name (SoterRequest *request);

/* Ends the request with @code (90008 for a cancel, 90007 for a timeout…).
 * With @caller_gone no reply is sent: there is nobody to send it to. */
void soter_request_cancel (SoterRequest  *request,
                           SoterErrorCode code,
                           const char    *reason,
                           gboolean       caller_gone);

/* The agent showing the prompt left the bus: cancel (90008), and call it no more. */
void soter_request_agent_vanished (SoterRequest *request);

G_END_DECLS
