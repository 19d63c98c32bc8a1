/* soter-agents.h — the registered prompt agents (SPEC §7). */
#pragma once

#include <gio/gio.h>

#include "soter-dbus.h"

G_BEGIN_DECLS

#define SOTER_TYPE_AGENTS (soter_agents_get_type ())
G_DECLARE_FINAL_TYPE (SoterAgents, soter_agents, SOTER, AGENTS, GObject)

SoterAgents *soter_agents_new (GDBusConnection *connection);

/* The D-Bus error a registration gets while another agent holds the session. */
#define SOTER_AGENT_EXISTS_ERROR "io.github.soterd.Soter1.Error.AgentExists"

/* At most this many registrations per bus connection. */
#define SOTER_AGENTS_MAX_PER_CONNECTION 8

/* FALSE with G_IO_ERROR_EXISTS when another regular agent holds @session
 * (or, with no session, @uid): the first holds it until it unregisters or
 * leaves the bus; with G_DBUS_ERROR_LIMITS_EXCEEDED when @bus_name has too
 * many. Fallback agents hold nothing. */
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

/* The agent for a caller (unique name @caller): the regular agent of the
 * caller's session, else a fallback agent there (the caller's own first),
 * else the same for the caller's uid. NULL when there is none. A new
 * reference. */
SoterDBusAgent *soter_agents_lookup (SoterAgents *self,
                                     guint32      uid,
                                     const char  *session,
                                     const char  *caller);

G_END_DECLS
