/* soter-file.c — durable, atomic small-file writes.
 *
 * GLib's g_file_set_contents_full() already writes a temporary file, fsyncs
 * it and renames it over the target (and removes the temporary on failure).
 * What it does not do is fsync the directory, without which the rename itself
 * may be lost on power failure; SPEC §6 asks for that too.
 */
#include "soter-file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

static gboolean
fsync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd < 0)
    goto fail;
  if (fsync (fd) < 0)
    {
      saved = errno;
      close (fd);
      errno = saved;
      goto fail;
    }
  close (fd);
  return TRUE;

fail:
  saved = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               "Could not sync directory %s: %s", dir, g_strerror (saved));
  return FALSE;
}

gboolean
soter_file_write_atomic (const char *path,
                         const void *data,
                         gsize       len,
                         int         mode,
                         GError    **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (!g_file_set_contents_full (path, data, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT |
                                 G_FILE_SET_CONTENTS_DURABLE,
                                 mode, error))
    return FALSE;

  return fsync_dir (dir, error);
}

gboolean
soter_file_ensure_dir (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not create directory %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
