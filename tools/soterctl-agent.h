/* soterctl-agent.h — soterctl's own prompt, for shells with no agent. */
#pragma once

#include <soter/soter.h>

G_BEGIN_DECLS

typedef struct _TextAgent TextAgent;

/* Registers a fallback prompt agent that prints to standard error: soterd
 * uses it only when no other agent serves the user (as pkexec's text agent
 * is to polkit). */
TextAgent *text_agent_new (SoterClient *client,
                           GError     **error);
void       text_agent_free (TextAgent *agent);

/* When this agent is showing a prompt, the user's Ctrl-C cancels it there
 * (CancelPrompt, so soterd reports 90008 "the user cancelled") and TRUE is
 * returned; otherwise FALSE. */
gboolean   text_agent_cancel_shown (TextAgent *agent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TextAgent, text_agent_free)

G_END_DECLS
