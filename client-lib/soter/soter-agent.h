/* soter-agent.h — a prompt agent for soterd, without D-Bus code.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(SOTER_INSIDE) && !defined(SOTER_COMPILATION)
#error "Only <soter/soter.h> can be included directly."
#endif

#include <gio/gio.h>

#include "soter-client.h"

G_BEGIN_DECLS

#define SOTER_TYPE_AGENT (soter_agent_get_type ())
G_DECLARE_FINAL_TYPE (SoterAgent, soter_agent, SOTER, AGENT, GObject)

SoterAgent *soter_agent_new (SoterClient *client,
                             gboolean     fallback);

SoterClient *soter_agent_get_client (SoterAgent *self);
const char  *soter_agent_get_object_path (SoterAgent *self);
gboolean     soter_agent_get_fallback (SoterAgent *self);
gboolean     soter_agent_get_registered (SoterAgent *self);
GVariant    *soter_agent_dup_details (SoterAgent *self,
                                      const char *request_id);

gboolean soter_agent_register_sync (SoterAgent    *self,
                                    GCancellable  *cancellable,
                                    GError       **error);
void     soter_agent_register (SoterAgent          *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data);
gboolean soter_agent_register_finish (SoterAgent    *self,
                                      GAsyncResult  *result,
                                      GError       **error);

gboolean soter_agent_unregister_sync (SoterAgent    *self,
                                      GCancellable  *cancellable,
                                      GError       **error);

void     soter_agent_cancel (SoterAgent          *self,
                             const char          *request_id,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data);
gboolean soter_agent_cancel_finish (SoterAgent    *self,
                                    GAsyncResult  *result,
                                    GError       **error);
gboolean soter_agent_cancel_sync (SoterAgent    *self,
                                  const char    *request_id,
                                  GCancellable  *cancellable,
                                  GError       **error);

G_END_DECLS
