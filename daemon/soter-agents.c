/* soter-agents.c — registered prompt agents, watched on the bus.
 *
 * An agent is the pair (unique bus name, object path). When its bus name
 * leaves, every registration it made goes, and "agent-vanished" tells the
 * manager, which cancels the requests that agent was showing. */
#include "soter-agents.h"

typedef struct {
  char           *bus_name;
  char           *path;
  guint32         uid;
  char           *session;
  gboolean        fallback;
  guint           watch_id;
  SoterDBusAgent *proxy;
} Agent;

struct _SoterAgents
{
  GObject          parent_instance;
  GDBusConnection *connection;
  GList           *agents; /* of Agent, newest first */
};

enum { SIGNAL_AGENT_VANISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (SoterAgents, soter_agents, G_TYPE_OBJECT)

static void
agent_free (Agent *agent)
{
  g_bus_unwatch_name (agent->watch_id);
  g_clear_object (&agent->proxy);
  g_free (agent->bus_name);
  g_free (agent->path);
  g_free (agent->session);
  g_free (agent);
}

static void
on_agent_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  SoterAgents *self = data;
  g_autofree char *bus_name = g_strdup (name);
  GList *l = self->agents;

  while (l != NULL)
    {
      GList *next = l->next;
      Agent *agent = l->data;

      if (g_str_equal (agent->bus_name, bus_name))
        {
          g_debug ("Prompt agent %s%s left the bus", agent->bus_name, agent->path);
          self->agents = g_list_delete_link (self->agents, l);
          agent_free (agent);
        }
      l = next;
    }
  g_signal_emit (self, signals[SIGNAL_AGENT_VANISHED], 0, bus_name);
}

static GList *
find (SoterAgents *self, const char *bus_name, const char *path)
{
  for (GList *l = self->agents; l != NULL; l = l->next)
    {
      Agent *agent = l->data;
      if (g_str_equal (agent->bus_name, bus_name) && g_str_equal (agent->path, path))
        return l;
    }
  return NULL;
}

/* An agent serves its uid in one logind session, or (registered from no
 * session at all) its uid alone. A session's holder is per uid, so that
 * another user's process in the same session (sudo) cannot hold it. */
static gboolean
same_reach (const Agent *agent, guint32 uid, const char *session)
{
  return agent->uid == uid && g_strcmp0 (agent->session, session) == 0;
}

gboolean
soter_agents_add (SoterAgents *self, const char *bus_name, const char *path,
                  guint32 uid, const char *session, gboolean fallback, GError **error)
{
  Agent *agent;
  guint count = 0;

  /* polkit's model: the first regular agent of a session holds it until it
   * unregisters or leaves the bus; nobody takes its prompts over. (Checked
   * before anything changes: a refused registration keeps what was.) */
  for (GList *l = self->agents; l != NULL && !fallback; l = l->next)
    {
      Agent *holder = l->data;

      if (!holder->fallback && same_reach (holder, uid, session) &&
          !(g_str_equal (holder->bus_name, bus_name) && g_str_equal (holder->path, path)))
        {
          if (session != NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                         "A prompt agent is already registered for session %s", session);
          else
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                         "A prompt agent is already registered for uid %u", uid);
          return FALSE;
        }
    }

  /* Registering again moves the agent to the front, as the newest. */
  soter_agents_remove (self, bus_name, path);

  /* Any caller may register: bound what one connection can make us keep. */
  for (GList *l = self->agents; l != NULL; l = l->next)
    if (g_str_equal (((Agent *) l->data)->bus_name, bus_name))
      count++;
  if (count >= SOTER_AGENTS_MAX_PER_CONNECTION)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED,
                   "A connection may register at most %d prompt agents",
                   SOTER_AGENTS_MAX_PER_CONNECTION);
      return FALSE;
    }

  agent = g_new0 (Agent, 1);
  agent->bus_name = g_strdup (bus_name);
  agent->path = g_strdup (path);
  agent->uid = uid;
  agent->session = g_strdup (session);
  agent->fallback = fallback;
  agent->proxy = soter_dbus_agent_proxy_new_sync (self->connection,
                                                  G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                                  G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS |
                                                  G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                                  bus_name, path, NULL, NULL);
  agent->watch_id = g_bus_watch_name_on_connection (self->connection, bus_name,
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    NULL, on_agent_vanished, self, NULL);
  self->agents = g_list_prepend (self->agents, agent);
  g_debug ("Prompt agent %s%s registered for uid %u, session %s%s",
           bus_name, path, uid, session ? session : "(none)", fallback ? " (fallback)" : "");
  return TRUE;
}

gboolean
soter_agents_remove (SoterAgents *self, const char *bus_name, const char *path)
{
  GList *l = find (self, bus_name, path);

  if (l == NULL)
    return FALSE;
  agent_free (l->data);
  self->agents = g_list_delete_link (self->agents, l);
  return TRUE;
}

guint
soter_agents_count (SoterAgents *self)
{
  return g_list_length (self->agents);
}

/* Lower is better: a regular agent of the caller's session; else a
 * fallback agent of that session, the caller's own first (soterctl's);
 * else the same for the caller's uid. */
static guint
rank (const Agent *agent, const char *session, const char *caller)
{
  gboolean same_session = session != NULL && g_strcmp0 (agent->session, session) == 0;
  guint r = same_session ? 0 : 3;

  if (agent->fallback)
    r += g_strcmp0 (agent->bus_name, caller) == 0 ? 1 : 2;
  return r;
}

SoterDBusAgent *
soter_agents_lookup (SoterAgents *self, guint32 uid, const char *session, const char *caller)
{
  Agent *best = NULL;

  /* Newest first: among agents of the same rank, the newest wins (only
   * fallback agents can share a rank within a session). */
  for (GList *l = self->agents; l != NULL; l = l->next)
    {
      Agent *agent = l->data;

      if (agent->uid != uid || agent->proxy == NULL)
        continue;
      if (best == NULL || rank (agent, session, caller) < rank (best, session, caller))
        best = agent;
    }
  return best ? g_object_ref (best->proxy) : NULL;
}

SoterAgents *
soter_agents_new (GDBusConnection *connection)
{
  SoterAgents *self = g_object_new (SOTER_TYPE_AGENTS, NULL);

  self->connection = g_object_ref (connection);
  return self;
}

static void
soter_agents_finalize (GObject *object)
{
  SoterAgents *self = SOTER_AGENTS (object);

  g_list_free_full (self->agents, (GDestroyNotify) agent_free);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (soter_agents_parent_class)->finalize (object);
}

static void
soter_agents_class_init (SoterAgentsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = soter_agents_finalize;
  signals[SIGNAL_AGENT_VANISHED] =
    g_signal_new ("agent-vanished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
soter_agents_init (SoterAgents *self)
{
}
