/* main.c — soterd: options, the bus name, idle exit and signals. */
#include <locale.h>
#include <stdlib.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <openssl/crypto.h>

#include "config.h"
#include "soter-file.h"
#include "soter-manager.h"

#define BUS_NAME "io.github.soterd.Soter1"
#define DEFAULT_STATE_DIR "/var/lib/soterd"
#define SHUTDOWN_GRACE_SECONDS 5

typedef struct {
  GMainLoop    *loop;
  SoterContext  context;
  SoterManager *manager;
  gboolean      no_idle_exit;
  gint64        idle_since;
  int           exit_status;
} Daemon;

static gboolean
on_idle_check (gpointer data)
{
  Daemon *d = data;
  gint64 now = g_get_monotonic_time ();

  if (!soter_manager_is_idle (d->manager))
    {
      d->idle_since = now;
      return G_SOURCE_CONTINUE;
    }
  if (now - d->idle_since >= (gint64) d->context.config.idle_timeout * G_USEC_PER_SEC)
    {
      g_message ("Idle for %u s, exiting", d->context.config.idle_timeout);
      g_main_loop_quit (d->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
on_drained (SoterManager *manager, Daemon *d)
{
  g_main_loop_quit (d->loop);
}

static gboolean
on_grace_over (gpointer data)
{
  Daemon *d = data;

  g_warning ("Requests did not end within %d s of SIGTERM; exiting anyway",
             SHUTDOWN_GRACE_SECONDS);
  g_main_loop_quit (d->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_sigterm (gpointer data)
{
  Daemon *d = data;

  g_message ("Stopping: ending pending requests");
  g_signal_connect (d->manager, "drained", G_CALLBACK (on_drained), d);
  g_timeout_add_seconds (SHUTDOWN_GRACE_SECONDS, on_grace_over, d);
  soter_manager_shutdown (d->manager);
  return G_SOURCE_REMOVE;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer data)
{
  g_message ("soterd %s ready on the system bus as %s", PACKAGE_VERSION, name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *d = data;

  g_warning ("Could not own %s on the system bus (already running, or not allowed)", name);
  d->exit_status = EXIT_FAILURE;
  g_main_loop_quit (d->loop);
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) opts = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config_path = NULL;
  gboolean version = FALSE;
  const char *state_dir;
  Daemon d = { 0 };
  guint owner_id;
  GOptionEntry entries[] = {
    { "no-idle-exit", 't', 0, G_OPTION_ARG_NONE, &d.no_idle_exit,
      "Keep running when idle (for tests and debugging)", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Configuration file (default " SOTER_CONFIG_DEFAULT_PATH ")", "FILE" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  opts = g_option_context_new ("— SOTER biometric authentication daemon");
  g_option_context_add_main_entries (opts, entries, NULL);
  if (!g_option_context_parse (opts, &argc, &argv, &error))
    {
      g_printerr ("soterd: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("soterd %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  /* systemd's ConfigurationDirectory= sets CONFIGURATION_DIRECTORY (the
   * unit's is /etc/soterd, the default's directory). */
  if (config_path == NULL && g_getenv ("CONFIGURATION_DIRECTORY") != NULL &&
      *g_getenv ("CONFIGURATION_DIRECTORY") != '\0')
    config_path = g_build_filename (g_getenv ("CONFIGURATION_DIRECTORY"), "soterd.conf", NULL);
  soter_config_init_defaults (&d.context.config);
  if (!soter_config_load (&d.context.config,
                          config_path ? config_path : SOTER_CONFIG_DEFAULT_PATH, &error))
    {
      g_printerr ("soterd: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* systemd's StateDirectory= sets STATE_DIRECTORY. */
  state_dir = g_getenv ("STATE_DIRECTORY");
  if (state_dir == NULL || *state_dir == '\0')
    state_dir = DEFAULT_STATE_DIR;
  if (!soter_file_ensure_dir (state_dir, &error))
    {
      g_printerr ("soterd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  /* A crash between writing a temporary file and renaming it leaves the
   * temporary behind; the target itself is always whole. */
  soter_file_remove_temporaries (state_dir);

  /* Private keys live in OpenSSL's secure heap where it is available. */
  CRYPTO_secure_malloc_init (64 * 1024, 64);

  d.context.connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (d.context.connection == NULL)
    {
      g_printerr ("soterd: cannot reach the system bus: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_dbus_connection_set_exit_on_close (d.context.connection, FALSE);

  d.context.keystore = soter_keystore_new (state_dir,
                                           &(SoterKeystoreOptions) {
                                             d.context.config.key_store,
                                             d.context.config.tpm_tcti,
                                             d.context.config.tpm_nv_index,
                                             d.context.config.max_scenes,
                                           },
                                           &error);
  if (d.context.keystore == NULL)
    {
      /* Keep running: callers get 90001 with the reason in this log. */
      g_warning ("The key store cannot be used: %s", error->message);
      g_clear_error (&error);
    }
  d.context.lockout = soter_lockout_new (state_dir, d.context.config.lockout_attempts,
                                         d.context.config.lockout_seconds, &error);
  if (d.context.lockout == NULL)
    {
      g_printerr ("soterd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  d.context.prints = soter_prints_new (state_dir);
  d.context.reader = soter_reader_new (d.context.config.queue_length);
  d.context.agents = soter_agents_new (d.context.connection);
  d.context.authenticating = g_hash_table_new (NULL, NULL);
  d.context.enrolling = g_hash_table_new (NULL, NULL);
  if (soter_reader_get_device (d.context.reader) == NULL)
    g_message ("No fingerprint reader found");

  d.manager = soter_manager_new (&d.context);
  if (!soter_manager_export (d.manager, &error))
    {
      g_printerr ("soterd: %s\n", error->message);
      return EXIT_FAILURE;
    }

  d.loop = g_main_loop_new (NULL, FALSE);
  owner_id = g_bus_own_name_on_connection (d.context.connection, BUS_NAME,
                                           G_BUS_NAME_OWNER_FLAGS_NONE,
                                           on_name_acquired, on_name_lost, &d, NULL);
  g_unix_signal_add (SIGTERM, on_sigterm, &d);
  g_unix_signal_add (SIGINT, on_sigterm, &d);
  if (!d.no_idle_exit)
    {
      d.idle_since = g_get_monotonic_time ();
      g_timeout_add_seconds (1, on_idle_check, &d);
    }

  g_main_loop_run (d.loop);

  g_bus_unown_name (owner_id);
  g_dbus_connection_flush_sync (d.context.connection, NULL, NULL);
  /* Key work still running in a thread (an auth key being made for a
   * request that has ended) must not meet OpenSSL's clean-up at exit. */
  while (d.context.keystore != NULL && soter_keystore_is_busy (d.context.keystore))
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&d.manager);
  g_clear_object (&d.context.agents);
  g_clear_pointer (&d.context.authenticating, g_hash_table_unref);
  g_clear_pointer (&d.context.enrolling, g_hash_table_unref);
  g_clear_object (&d.context.reader);
  g_clear_pointer (&d.context.prints, soter_prints_free);
  g_clear_pointer (&d.context.lockout, soter_lockout_free);
  g_clear_object (&d.context.keystore);
  g_clear_object (&d.context.connection);
  soter_config_clear (&d.context.config);
  g_main_loop_unref (d.loop);
  return d.exit_status;
}
