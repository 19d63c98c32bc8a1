/* soter-prints.c — enrolled prints on disk, libfprint's own serialisation,
 * one file per finger, written atomically. */
#include "soter-prints.h"

#include <gio/gio.h>

#include "soter-error.h"
#include "soter-file.h"

static const char *const finger_names[] = {
  [FP_FINGER_LEFT_THUMB] = "left-thumb",
  [FP_FINGER_LEFT_INDEX] = "left-index-finger",
  [FP_FINGER_LEFT_MIDDLE] = "left-middle-finger",
  [FP_FINGER_LEFT_RING] = "left-ring-finger",
  [FP_FINGER_LEFT_LITTLE] = "left-little-finger",
  [FP_FINGER_RIGHT_THUMB] = "right-thumb",
  [FP_FINGER_RIGHT_INDEX] = "right-index-finger",
  [FP_FINGER_RIGHT_MIDDLE] = "right-middle-finger",
  [FP_FINGER_RIGHT_RING] = "right-ring-finger",
  [FP_FINGER_RIGHT_LITTLE] = "right-little-finger",
};

struct _SoterPrints
{
  char *dir;
};

FpFinger
soter_finger_from_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return FP_FINGER_RIGHT_INDEX;
  for (guint f = FP_FINGER_FIRST; f <= FP_FINGER_LAST; f++)
    if (g_str_equal (name, finger_names[f]))
      return (FpFinger) f;
  return FP_FINGER_UNKNOWN;
}

const char *
soter_finger_to_name (FpFinger finger)
{
  if (finger < FP_FINGER_FIRST || finger > FP_FINGER_LAST)
    return NULL;
  return finger_names[finger];
}

SoterPrints *
soter_prints_new (const char *state_dir)
{
  SoterPrints *self = g_new0 (SoterPrints, 1);

  self->dir = g_build_filename (state_dir, "prints", NULL);
  return self;
}

void
soter_prints_free (SoterPrints *self)
{
  g_free (self->dir);
  g_free (self);
}

static char *
print_path (SoterPrints *self, guint32 uid, FpFinger finger)
{
  char uid_str[16];

  g_snprintf (uid_str, sizeof uid_str, "%u", uid);
  return g_build_filename (self->dir, uid_str, soter_finger_to_name (finger), NULL);
}

GStrv
soter_prints_list (SoterPrints *self, guint32 uid)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (guint f = FP_FINGER_FIRST; f <= FP_FINGER_LAST; f++)
    {
      g_autofree char *path = print_path (self, uid, (FpFinger) f);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_strv_builder_add (b, finger_names[f]);
    }
  return g_strv_builder_end (b);
}

GPtrArray *
soter_prints_load (SoterPrints *self, guint32 uid, FpDevice *device, GError **error)
{
  g_autoptr(GPtrArray) prints = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint f = FP_FINGER_FIRST; f <= FP_FINGER_LAST; f++)
    {
      g_autofree char *path = print_path (self, uid, (FpFinger) f);
      g_autofree char *data = NULL;
      g_autoptr(GError) local = NULL;
      gsize len;
      FpPrint *print;

      if (!g_file_get_contents (path, &data, &len, &local))
        {
          if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            continue;
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      print = fp_print_deserialize ((const guchar *) data, len, &local);
      if (print == NULL)
        {
          /* One unreadable print must not hide the others; say so in the log. */
          g_warning ("Ignoring unreadable print %s: %s", path, local->message);
          continue;
        }
      if (device != NULL && !fp_print_compatible (print, device))
        {
          g_object_unref (print);
          continue;
        }
      g_ptr_array_add (prints, print);
    }
  return g_steal_pointer (&prints);
}

gboolean
soter_prints_save (SoterPrints *self, guint32 uid, FpPrint *print, GError **error)
{
  g_autofree char *path = print_path (self, uid, fp_print_get_finger (print));
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree guchar *data = NULL;
  gsize len;

  if (!soter_file_ensure_dir (dir, error) ||
      !fp_print_serialize (print, &data, &len, error))
    return FALSE;
  return soter_file_write_atomic (path, data, len, 0600, error);
}

gboolean
soter_prints_delete (SoterPrints *self, guint32 uid, FpFinger finger, GError **error)
{
  g_autofree char *path = print_path (self, uid, finger);
  g_autoptr(GError) local = NULL;

  /* Durable: a deleted print must not come back after a power loss. */
  if (!soter_file_remove (path, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_set_error (error, SOTER_ERROR, SOTER_ERROR_NOT_ENROLLED,
                     "%s is not enrolled", soter_finger_to_name (finger));
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}
