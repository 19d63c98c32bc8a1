/* soter-config.c — reads soterd.conf (a GKeyFile, group [soterd]).
 *
 * A missing file means the defaults; a present file with a bad value is an
 * error, so that a typo in a security setting never silently falls back.
 */
#include "soter-config.h"

#include <gio/gio.h>

void
soter_config_init_defaults (SoterConfig *config)
{
  config->max_attempts = 3;
  config->lockout_attempts = 5;
  config->lockout_seconds = 30;
  config->request_timeout = 60;
  config->idle_timeout = 30;
  config->queue_length = 16;
  config->max_scenes = SOTER_KEYSTORE_DEFAULT_MAX_SCENES;
  config->key_store = SOTER_KEYSTORE_KIND_AUTO;
  config->tpm_tcti = g_strdup (SOTER_KEYSTORE_DEFAULT_TCTI);
  config->tpm_nv_index = SOTER_KEYSTORE_DEFAULT_NV_INDEX;
}

void
soter_config_clear (SoterConfig *config)
{
  g_clear_pointer (&config->tpm_tcti, g_free);
}

static gboolean
read_key_store (GKeyFile *kf, SoterConfig *config, GError **error)
{
  g_autofree char *kind = g_key_file_get_string (kf, "soterd", "KeyStore", NULL);
  g_autofree char *tcti = g_key_file_get_string (kf, "soterd", "TpmTcti", NULL);
  g_autofree char *index = g_key_file_get_string (kf, "soterd", "TpmCounterIndex", NULL);
  guint64 v;

  if (g_strcmp0 (kind, "file") == 0)
    config->key_store = SOTER_KEYSTORE_KIND_FILE;
  else if (g_strcmp0 (kind, "tpm") == 0)
    config->key_store = SOTER_KEYSTORE_KIND_TPM;
  else if (kind != NULL && g_strcmp0 (kind, "auto") != 0)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "KeyStore must be auto, file or tpm");
      return FALSE;
    }
  if (tcti != NULL)
    {
      g_free (config->tpm_tcti);
      config->tpm_tcti = g_steal_pointer (&tcti);
    }
  if (index != NULL)
    {
      /* The owner's NV index range (TPM 2.0 Part 2, TPM_HT_NV_INDEX). */
      if (!g_str_has_prefix (index, "0x") ||
          !g_ascii_string_to_unsigned (index + 2, 16, 0x01000000, 0x01bfffff, &v, NULL))
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "TpmCounterIndex must be an NV index from 0x01000000 to 0x01bfffff");
          return FALSE;
        }
      config->tpm_nv_index = (guint32) v;
    }
  return TRUE;
}

static gboolean
read_uint (GKeyFile *kf, const char *key, guint min, guint *out, GError **error)
{
  g_autoptr(GError) local = NULL;
  gint64 v;

  if (!g_key_file_has_key (kf, "soterd", key, NULL))
    return TRUE;
  v = g_key_file_get_int64 (kf, "soterd", key, &local);
  if (local != NULL || v < min || v > G_MAXINT32)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s must be a whole number from %u to %d", key, min, G_MAXINT32);
      return FALSE;
    }
  *out = (guint) v;
  return TRUE;
}

gboolean
soter_config_load (SoterConfig *config, const char *path, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", path);
      return FALSE;
    }

  if (!read_uint (kf, "MaxAttempts", 1, &config->max_attempts, error) ||
      !read_uint (kf, "LockoutAttempts", 1, &config->lockout_attempts, error) ||
      !read_uint (kf, "LockoutSeconds", 0, &config->lockout_seconds, error) ||
      !read_uint (kf, "RequestTimeout", 1, &config->request_timeout, error) ||
      !read_uint (kf, "IdleTimeout", 1, &config->idle_timeout, error) ||
      !read_uint (kf, "QueueLength", 1, &config->queue_length, error) ||
      !read_uint (kf, "MaxScenes", 1, &config->max_scenes, error) ||
      !read_key_store (kf, config, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  return TRUE;
}
