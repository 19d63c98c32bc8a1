/* soterctl-agent.c — a text prompt agent for `soterctl auth`, on libsoter's
 * SoterAgent. Prompts go to standard error, so standard output carries only
 * the result. */
#include <stdio.h>

#include <glib/gi18n.h>

#include "soterctl-agent.h"

struct _TextAgent
{
  SoterAgent *agent;
  char       *shown;  /* the request_id of the prompt on screen */
};

static void
on_show (SoterAgent *agent, const char *request_id, const char *auth_content,
         const char *app_id, guint uid, char **modes, TextAgent *self)
{
  g_free (self->shown);
  self->shown = g_strdup (request_id);
  /* Translators: %s is the asking app's id, %u the user's uid. */
  fprintf (stderr, _("SOTER authentication for %s (uid %u)\n"), app_id, uid);
  if (auth_content[0] != '\0')
    fprintf (stderr, "  \"%s\"\n", auth_content);
  fprintf (stderr, "%s\n", _("Place an enrolled finger on the reader (Ctrl-C cancels)."));
}

static void
on_update (SoterAgent *agent, const char *request_id, const char *message, TextAgent *self)
{
  fprintf (stderr, "%s\n", message);
}

static void
on_close (SoterAgent *agent, const char *request_id, guint outcome, TextAgent *self)
{
  if (g_strcmp0 (request_id, self->shown) == 0)
    g_clear_pointer (&self->shown, g_free);
}

TextAgent *
text_agent_new (SoterClient *client, GError **error)
{
  g_autoptr(SoterAgent) agent = soter_agent_new (client, TRUE);
  TextAgent *self;

  if (!soter_agent_register_sync (agent, NULL, error))
    return NULL;
  self = g_new0 (TextAgent, 1);
  self->agent = g_steal_pointer (&agent);
  g_signal_connect (self->agent, "show", G_CALLBACK (on_show), self);
  g_signal_connect (self->agent, "update", G_CALLBACK (on_update), self);
  g_signal_connect (self->agent, "close", G_CALLBACK (on_close), self);
  return self;
}

gboolean
text_agent_cancel_shown (TextAgent *self)
{
  if (self == NULL || self->shown == NULL)
    return FALSE;
  /* The reply is not awaited: soterd's answer to the authentication is. */
  soter_agent_cancel (self->agent, self->shown, NULL, NULL, NULL);
  return TRUE;
}

void
text_agent_free (TextAgent *self)
{
  if (self == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->agent, self);
  g_object_unref (self->agent);
  g_free (self->shown);
  g_free (self);
}
