/* soter-lockout.c — the lock-out file, a GKeyFile with one group per uid:
 *   [1000]
 *   Misses=2
 *   LockedUntil=<microseconds since the epoch, 0 when not locked>
 * Wall-clock time, because the lock must outlive a restart of soterd. */
#include "soter-lockout.h"

#include <gio/gio.h>

#include "soter-file.h"

struct _SoterLockout
{
  GKeyFile *kf;
  char     *path;
  guint     max_misses;
  gint64    lock_usec;
};

SoterLockout *
soter_lockout_new (const char *state_dir, guint max_misses, guint lock_seconds,
                   GError **error)
{
  g_autoptr(GError) local = NULL;
  SoterLockout *self = g_new0 (SoterLockout, 1);

  self->kf = g_key_file_new ();
  self->path = g_build_filename (state_dir, "lockout", NULL);
  self->max_misses = max_misses;
  self->lock_usec = (gint64) lock_seconds * G_USEC_PER_SEC;

  if (!g_key_file_load_from_file (self->kf, self->path, G_KEY_FILE_NONE, &local) &&
      !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", self->path);
      soter_lockout_free (self);
      return NULL;
    }
  return self;
}

void
soter_lockout_free (SoterLockout *self)
{
  g_key_file_unref (self->kf);
  g_free (self->path);
  g_free (self);
}

static gboolean
save (SoterLockout *self, GError **error)
{
  gsize len;
  g_autofree char *data = g_key_file_to_data (self->kf, &len, NULL);

  return soter_file_write_atomic (self->path, data, len, 0600, error);
}

gboolean
soter_lockout_is_locked (SoterLockout *self, guint32 uid, gint64 *until_usec)
{
  char group[16];
  gint64 until;

  g_snprintf (group, sizeof group, "%u", uid);
  until = g_key_file_get_int64 (self->kf, group, "LockedUntil", NULL);
  if (until_usec != NULL)
    *until_usec = until;
  return until > g_get_real_time ();
}

gboolean
soter_lockout_record_miss (SoterLockout *self, guint32 uid, gboolean *out_locked,
                           GError **error)
{
  char group[16];
  gint64 misses;
  gboolean locked = FALSE;

  g_snprintf (group, sizeof group, "%u", uid);
  misses = g_key_file_get_int64 (self->kf, group, "Misses", NULL) + 1;
  if (misses >= self->max_misses)
    {
      g_key_file_set_int64 (self->kf, group, "LockedUntil",
                            g_get_real_time () + self->lock_usec);
      misses = 0;
      locked = TRUE;
    }
  g_key_file_set_int64 (self->kf, group, "Misses", misses);
  *out_locked = locked;
  return save (self, error);
}

gboolean
soter_lockout_record_match (SoterLockout *self, guint32 uid, GError **error)
{
  char group[16];

  g_snprintf (group, sizeof group, "%u", uid);
  if (!g_key_file_has_group (self->kf, group))
    return TRUE;
  g_key_file_remove_group (self->kf, group, NULL);
  return save (self, error);
}
