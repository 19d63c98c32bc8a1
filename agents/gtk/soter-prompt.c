/* soter-prompt.c — the desktop's prompt agent for soterd: GTK 4 + libadwaita.
 *
 * A thin view over libsoter's SoterAgent (all D-Bus stays there): each
 * ShowPrompt becomes one message dialog titled by the asking app, with the
 * app's text, "Touch the fingerprint reader", a status line that
 * UpdatePrompt changes in place, and one Cancel (also Escape, or closing the
 * window), which is CancelPrompt. ClosePrompt takes the dialog down.
 *
 * It registers as its session's regular agent. When soterd refuses it (another
 * agent holds the session: AgentExists) or is not on the bus, it waits
 * quietly and tries again when soterd's name gets a new owner; it starts
 * soterd (D-Bus activation) at most once, with its first registration, so
 * that the session's first request finds an agent. Once registered,
 * SoterAgent itself registers again with every new soterd.
 *
 * A second ShowPrompt while a dialog is up (soterd allows one pending
 * authentication per uid, so it should not come) stacks: each request has
 * its own dialog, presented on top, until its own ClosePrompt or Cancel.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "soter-prompt"

#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>
#include <glib-unix.h>
#include <adwaita.h>

#include <soter/soter.h>

#define AGENT_EXISTS_ERROR "io.github.soterd.Soter1.Error.AgentExists"
#define SOTER_BUS_NAME "io.github.soterd.Soter1"
/* How long a failed request's dialog says so before it goes. */
#define FAILURE_SHOWN_MS 1500

typedef struct {
  AdwApplication *app;
  SoterClient    *client;
  SoterAgent     *agent;
  GHashTable     *prompts;       /* request_id → Prompt */
  guint           watch_id;
  char           *owner;         /* soterd's unique name, as last seen */
  char           *refused_by;    /* the soterd that last refused (or missed) us */
  gboolean        registering;
  gboolean        ever_registered; /* from then on SoterAgent registers again */
  gboolean        said_exists;   /* AgentExists logged once */
} Agent;

typedef struct {
  Agent            *agent;
  char             *request_id;
  GtkWindow        *window;
  GtkLabel         *status;
  gboolean          ended;       /* soterd closed it, or the user cancelled */
  guint             close_id;
} Prompt;

static void try_register (Agent *self);

/* ---- one dialog per request --------------------------------------------- */

static void
prompt_free (Prompt *prompt)
{
  g_clear_handle_id (&prompt->close_id, g_source_remove);
  g_free (prompt->request_id);
  g_free (prompt);
}

static void
on_cancelled (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  /* AccessDenied: the request ended meanwhile; nothing to tell the user. */
  if (!soter_agent_cancel_finish (SOTER_AGENT (source), res, &error))
    g_debug ("CancelPrompt: %s", error->message);
}

static void
user_cancelled (Prompt *prompt)
{
  /* Cancel, Escape and closing the window all end here. */
  if (prompt->ended)
    return;
  prompt->ended = TRUE;
  g_debug ("Prompt %s cancelled by the user", prompt->request_id);
  soter_agent_cancel (prompt->agent->agent, prompt->request_id, NULL, on_cancelled, NULL);
}

static void
on_dialog_destroy (GtkWidget *dialog, Prompt *prompt)
{
  Agent *self = prompt->agent;

  /* The table owns the prompt; a dialog replaced in it is not its entry. */
  if (g_hash_table_lookup (self->prompts, prompt->request_id) == prompt)
    g_hash_table_remove (self->prompts, prompt->request_id);
  else
    prompt_free (prompt);
}

static const char *
lookup_string (GVariant *details, const char *key)
{
  const char *value = NULL;

  if (details == NULL || !g_variant_lookup (details, key, "&s", &value) || *value == '\0')
    return NULL;
  return value;
}

static GtkWidget *
mode_icon (const char *const *modes)
{
  /* Adwaita 43 has auth-fingerprint-symbolic; other themes may have only the
   * older name, or neither. */
  static const char *const names[] = {
    "auth-fingerprint-symbolic", "fingerprint-symbolic", "dialog-password-symbolic", NULL,
  };
  g_autoptr(GIcon) icon = g_themed_icon_new_from_names ((char **) names, -1);
  GtkWidget *image = gtk_image_new_from_gicon (icon);

  gtk_image_set_pixel_size (GTK_IMAGE (image), 64);
  gtk_widget_add_css_class (image, "dim-label");
  /* Only fingerprints are served today; the icon says which mode is asked. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (image), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  g_strv_contains (modes, "fingerPrint")
                                  ? _("Fingerprint") : _("Biometric"),
                                  -1);
  return image;
}

static void
on_cancel_clicked (GtkButton *button, Prompt *prompt)
{
  user_cancelled (prompt);
  gtk_window_destroy (prompt->window);
}

static gboolean
on_close_request (GtkWindow *window, Prompt *prompt)
{
  /* Escape (the shortcut below) and the window manager's close button. */
  user_cancelled (prompt);
  return GDK_EVENT_PROPAGATE;
}

static GtkWidget *
centered_label (const char *text, const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_justify (GTK_LABEL (label), GTK_JUSTIFY_CENTER);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

/* An AdwMessageDialog in all but name (its look, one response that Escape
 * triggers), built from an AdwWindow: AdwMessageDialog 1.2 wants a
 * transient parent an agent does not have, and names its buttons for
 * accessibility by their mnemonic text. */
static Prompt *
prompt_new (Agent *self, const char *request_id, const char *auth_content, const char *app_id,
            const char *const *modes)
{
  g_autoptr(GVariant) details = soter_agent_dup_details (self->agent, request_id);
  const char *app_name = lookup_string (details, "app_name");
  const char *app_icon = lookup_string (details, "app_icon");
  const char *app = app_name != NULL ? app_name : app_id;
  Prompt *prompt = g_new0 (Prompt, 1);
  GtkWidget *window, *content, *message, *heading, *body, *hint, *status, *button, *buttons;
  GtkEventController *shortcuts;

  prompt->agent = self;
  prompt->request_id = g_strdup (request_id);
  if (app == NULL || *app == '\0')
    app = _("An app");

  window = adw_window_new ();
  prompt->window = GTK_WINDOW (window);
  gtk_widget_add_css_class (window, "messagedialog");
  /* Titled by the app: the window list and a screen reader say who asks. */
  gtk_window_set_title (prompt->window, app);
  gtk_window_set_icon_name (prompt->window, app_icon != NULL ? app_icon : "dialog-password");
  gtk_window_set_resizable (prompt->window, FALSE);
  gtk_window_set_default_size (prompt->window, 360, -1);

  content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  message = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_add_css_class (message, "message-area");
  gtk_widget_set_margin_top (message, 24);
  gtk_widget_set_margin_bottom (message, 24);
  gtk_widget_set_margin_start (message, 30);
  gtk_widget_set_margin_end (message, 30);
  /* The heading names the app; the body is the app's own text, what the
   * user confirms. */
  heading = centered_label (app, "title-2");
  gtk_box_append (GTK_BOX (message), heading);
  body = centered_label (auth_content != NULL && *auth_content != '\0'
                         ? auth_content : _("This app asks you to confirm it is you."),
                         "body");
  gtk_box_append (GTK_BOX (message), body);
  gtk_box_append (GTK_BOX (message), mode_icon (modes));
  hint = centered_label (_("Touch the fingerprint reader"), "heading");
  gtk_box_append (GTK_BOX (message), hint);
  /* The status line, changed in place; hidden until soterd says something. */
  status = centered_label (NULL, NULL);
  gtk_widget_set_visible (status, FALSE);
  gtk_box_append (GTK_BOX (message), status);
  prompt->status = GTK_LABEL (status);
  gtk_box_append (GTK_BOX (content), message);

  gtk_box_append (GTK_BOX (content), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_widget_add_css_class (buttons, "response-area");
  button = gtk_button_new_with_mnemonic (_("_Cancel"));
  gtk_widget_set_hexpand (button, TRUE);
  gtk_widget_add_css_class (button, "flat");
  /* GTK 4.8 names a button by its label property (the raw "_Cancel") and
   * by its label child ("Cancel") together: the child is enough. */
  gtk_accessible_reset_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL);
  gtk_box_append (GTK_BOX (buttons), button);
  gtk_box_append (GTK_BOX (content), buttons);
  adw_window_set_content (ADW_WINDOW (window), content);

  /* Enter and Space press Cancel; Escape closes, which cancels. */
  gtk_window_set_default_widget (prompt->window, button);
  gtk_window_set_focus (prompt->window, button);
  shortcuts = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (shortcuts), GTK_SHORTCUT_SCOPE_GLOBAL);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Escape, 0),
                                                          gtk_named_action_new ("window.close")));
  gtk_widget_add_controller (window, shortcuts);

  g_signal_connect (button, "clicked", G_CALLBACK (on_cancel_clicked), prompt);
  g_signal_connect (window, "close-request", G_CALLBACK (on_close_request), prompt);
  g_signal_connect (window, "destroy", G_CALLBACK (on_dialog_destroy), prompt);
  g_object_set_data (G_OBJECT (window), "soter-prompt", prompt);
  gtk_application_add_window (GTK_APPLICATION (self->app), prompt->window);
  return prompt;
}

static void
set_status (Prompt *prompt, const char *text, gboolean error)
{
  gtk_label_set_text (prompt->status, text);
  gtk_widget_set_visible (GTK_WIDGET (prompt->status), text != NULL && *text != '\0');
  if (error)
    gtk_widget_add_css_class (GTK_WIDGET (prompt->status), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (prompt->status), "error");
}

static void
on_show (SoterAgent *agent, const char *request_id, const char *auth_content,
         const char *app_id, guint uid, const char *const *modes, Agent *self)
{
  Prompt *prompt = g_hash_table_lookup (self->prompts, request_id);

  g_debug ("Showing prompt %s for %s", request_id, app_id);
  if (prompt == NULL)
    {
      prompt = prompt_new (self, request_id, auth_content, app_id, modes);
      g_hash_table_replace (self->prompts, g_strdup (request_id), prompt);
    }
  gtk_window_present (prompt->window);
}

static void
on_update (SoterAgent *agent, const char *request_id, const char *message, Agent *self)
{
  Prompt *prompt = g_hash_table_lookup (self->prompts, request_id);

  if (prompt != NULL && !prompt->ended)
    set_status (prompt, message, TRUE);
}

static gboolean
close_now (gpointer data)
{
  Prompt *prompt = data;

  prompt->close_id = 0;
  gtk_window_destroy (prompt->window);
  return G_SOURCE_REMOVE;
}

static void
on_close (SoterAgent *agent, const char *request_id, guint outcome, Agent *self)
{
  Prompt *prompt = g_hash_table_lookup (self->prompts, request_id);
  const char *why = NULL;

  if (prompt == NULL)
    return;
  g_debug ("Closing prompt %s: %u", request_id, outcome);
  prompt->ended = TRUE;
  switch (outcome)
    {
    case 0:
    case SOTER_ERROR_CANCELLED:
      break; /* the user knows */
    case SOTER_ERROR_NO_MATCH:
      why = _("Not recognized");
      break;
    case SOTER_ERROR_LOCKED:
      why = _("Too many attempts. Try again later.");
      break;
    default:
      why = _("The authentication did not complete");
      break;
    }
  if (why == NULL)
    {
      close_now (prompt);
      return;
    }
  /* A moment to read why, then the dialog goes; Cancel closes it at once. */
  set_status (prompt, why, TRUE);
  if (prompt->close_id == 0)
    prompt->close_id = g_timeout_add (FAILURE_SHOWN_MS, close_now, prompt);
}

/* ---- registration ------------------------------------------------------- */

static gboolean
is_agent_exists (const GError *error)
{
  g_autofree char *name = g_dbus_error_get_remote_error (error);

  return g_strcmp0 (name, AGENT_EXISTS_ERROR) == 0;
}

static void
on_registered (GObject *source, GAsyncResult *res, gpointer data)
{
  Agent *self = data;
  g_autoptr(GError) error = NULL;

  self->registering = FALSE;
  if (soter_agent_register_finish (SOTER_AGENT (source), res, &error))
    {
      self->ever_registered = TRUE;
      g_clear_pointer (&self->refused_by, g_free);
      g_debug ("Registered with soterd as the session's prompt agent");
      return;
    }
  /* Wait for the next soterd: this one has said no, or is not there. */
  g_free (self->refused_by);
  self->refused_by = g_strdup (self->owner != NULL ? self->owner : "");
  if (is_agent_exists (error))
    {
      if (!self->said_exists)
        g_message ("Another prompt agent serves this session; waiting for soterd to restart");
      self->said_exists = TRUE;
    }
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    g_debug ("soterd is not running; waiting for it");
  else
    g_message ("Could not register with soterd: %s", error->message);
}

static void
try_register (Agent *self)
{
  if (self->registering || self->ever_registered)
    return;
  self->registering = TRUE;
  soter_agent_register (self->agent, NULL, on_registered, self);
}

static void
on_soterd_appeared (GDBusConnection *connection, const char *name, const char *owner,
                    gpointer data)
{
  Agent *self = data;

  g_free (self->owner);
  self->owner = g_strdup (owner);
  /* A new soterd (never the one that refused): one more try. */
  if (self->refused_by != NULL && g_strcmp0 (self->refused_by, owner) != 0)
    try_register (self);
}

static void
on_soterd_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  Agent *self = data;

  g_clear_pointer (&self->owner, g_free);
}

static void
on_client (GObject *source, GAsyncResult *res, gpointer data)
{
  Agent *self = data;
  g_autoptr(GError) error = NULL;

  self->client = soter_client_new_finish (res, &error);
  if (self->client == NULL)
    {
      g_warning ("Cannot reach the system bus: %s", error->message);
      g_application_release (G_APPLICATION (self->app));
      return;
    }
  self->agent = soter_agent_new (self->client, FALSE);
  g_signal_connect (self->agent, "show", G_CALLBACK (on_show), self);
  g_signal_connect (self->agent, "update", G_CALLBACK (on_update), self);
  g_signal_connect (self->agent, "close", G_CALLBACK (on_close), self);
  /* Watching starts nothing (no auto-start flag). */
  self->watch_id = g_bus_watch_name_on_connection (soter_client_get_connection (self->client),
                                                   SOTER_BUS_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_soterd_appeared, on_soterd_vanished,
                                                   self, NULL);
  /* The one registration that may start soterd. */
  try_register (self);
}

/* ---- the application ---------------------------------------------------- */

static void
on_activate (GApplication *app, Agent *self)
{
  /* Activated again (a second copy started): this one already serves. */
  if (self->prompts != NULL)
    return;
  self->prompts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) prompt_free);
  /* No window until a prompt: the agent lives as long as the session. */
  g_application_hold (app);
  soter_client_new (NULL, on_client, self);
}

static void
on_shutdown (GApplication *app, Agent *self)
{
  GDBusConnection *connection = NULL;
  GList *windows;

  /* The prompts go with their windows; soterd ends their requests when the
   * agent leaves the bus. */
  while ((windows = gtk_application_get_windows (GTK_APPLICATION (app))) != NULL)
    {
      Prompt *prompt = g_object_get_data (windows->data, "soter-prompt");

      if (prompt != NULL)
        prompt->ended = TRUE;
      gtk_window_destroy (windows->data);
    }
  if (self->watch_id != 0)
    g_bus_unwatch_name (self->watch_id);
  self->watch_id = 0;
  if (self->client != NULL)
    connection = g_object_ref (soter_client_get_connection (self->client));
  /* Disposing of the agent unregisters it (a call not waited for). */
  g_clear_object (&self->agent);
  g_clear_object (&self->client);
  if (connection != NULL)
    {
      g_dbus_connection_flush_sync (connection, NULL, NULL);
      g_object_unref (connection);
    }
}

static gboolean
on_signal (gpointer data)
{
  g_application_quit (G_APPLICATION (data));
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  Agent self = { 0 };
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_application_name (_("Fingerprint Prompt"));

  /* Unique on the session bus: a second copy (autostart and the user unit
   * both enabled) activates this one and exits. */
  self.app = adw_application_new ("io.github.soterd.Prompt", G_APPLICATION_DEFAULT_FLAGS);
  g_signal_connect (self.app, "activate", G_CALLBACK (on_activate), &self);
  g_signal_connect (self.app, "shutdown", G_CALLBACK (on_shutdown), &self);
  g_unix_signal_add (SIGTERM, on_signal, self.app);
  g_unix_signal_add (SIGINT, on_signal, self.app);

  status = g_application_run (G_APPLICATION (self.app), argc, argv);

  g_clear_pointer (&self.prompts, g_hash_table_unref);
  g_clear_object (&self.app);
  g_free (self.owner);
  g_free (self.refused_by);
  return status;
}
