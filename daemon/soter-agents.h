/* soter-agents.h — the registered prompt agents (SPEC §7). */
#pragma once

#include <gio/gio.h>

#include "soter-dbus.h"

G_BEGIN_DECLS

#define SOTER_TYPE_AGENTS (soter_agents_get_type ())
G_DECLARE_FINAL_TYPE (SoterAgents, soter_agents, SOTER, AGENTS, GObject)

SoterAgents *soter_agents_new (GDBusConnection *connection);

/* At most this many registrations per bus connection. */
#define SOTER_AGENTS_MAX_PER_CONNECTION 8

/* FALSE (with G_DBUS_ERROR_LIMITS_EXCEEDED) when @bus_name has too many. */
gboolean soter_agents_add (SoterAgents *self,
                           const char  *bus_name,
                           const char  *path,
                           guint32      uid,
                           const char  *session,
                           gboolean     fallback,
                           GError     **error);
gboolean soter_agents_remove (SoterAgents *self,
                              const char  *bus_name,
                              const char  *path);
guint    soter_agents_count (SoterAgents *self);

/* The agent for a caller: the newest in the caller's logind session, else
 * the newest of the caller's uid; a fallback agent only where no regular one
 * of the same reach exists. NULL when there is none. A new reference. */
SoterDBusAgent *soter_agents_lookup (SoterAgents *self,
                                     guint32      uid,
                                     const char  *session);

G_END_DECLS
