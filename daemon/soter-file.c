/* soter-file.c — durable, atomic small-file writes, and the clean-up of what
 * a crash can leave.
 *
 * A write goes to a temporary file beside its target, named
 * ".<name>.tmp-XXXXXX", is fsynced, renamed over the target, and the
 * directory is fsynced (without which the rename itself may be lost on power
 * failure; SPEC §6). A write that fails removes its temporary. A process
 * killed between creating and renaming it cannot: the recognisable name lets
 * the next start remove such leftovers, which nothing else in the state
 * directory (soterd's alone, mode 0700) can be mistaken for.
 */
#include "soter-file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#define TEMP_MARK ".tmp-"

static gboolean
set_errno_error (GError **error, int saved, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Could not %s %s: %s", what,
               path, g_strerror (saved));
  return FALSE;
}

static gboolean
fsync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd < 0)
    return set_errno_error (error, errno, "open directory", dir);
  if (fsync (fd) < 0)
    {
      saved = errno;
      close (fd);
      return set_errno_error (error, saved, "sync directory", dir);
    }
  close (fd);
  return TRUE;
}

static gboolean
write_all (int fd, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

gboolean
soter_file_write_atomic (const char *path,
                         const void *data,
                         gsize       len,
                         int         mode,
                         GError    **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s" TEMP_MARK "XXXXXX", dir, base);
  int fd, saved;

  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0)
    return set_errno_error (error, errno, "create a temporary file for", path);

  if (!write_all (fd, data, len) || fchmod (fd, (mode_t) mode) < 0 || fsync (fd) < 0)
    {
      saved = errno;
      close (fd);
      g_unlink (tmp);
      return set_errno_error (error, saved, "write", path);
    }
  if (close (fd) < 0)
    {
      saved = errno;
      g_unlink (tmp);
      return set_errno_error (error, saved, "write", path);
    }
  if (rename (tmp, path) < 0)
    {
      saved = errno;
      g_unlink (tmp);
      return set_errno_error (error, saved, "replace", path);
    }
  return fsync_dir (dir, error);
}

gboolean
soter_file_remove (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_unlink (path) < 0)
    return set_errno_error (error, errno, "remove", path);
  /* As a rename, an unlink is in the directory: without its sync a power
   * loss can bring the file back (a deleted print, enrolled again). */
  return fsync_dir (dir, error);
}

/* Makes @path and any missing parents (0700). After each mkdir the parent
 * is fsynced: the new entry is in the parent directory, and without that
 * sync a power loss can take the directory away with the files that were
 * fsynced into it (keys/apps/<app>/, prints/<uid>/). */
gboolean
soter_file_ensure_dir (const char *path, GError **error)
{
  g_autofree char *parent = NULL;
  int saved;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;
  parent = g_path_get_dirname (path);
  if (strcmp (parent, path) != 0 && !soter_file_ensure_dir (parent, error))
    return FALSE;
  if (mkdir (path, 0700) < 0)
    {
      saved = errno;
      /* Made meanwhile by someone else: whoever made it syncs it. */
      if (saved == EEXIST && g_file_test (path, G_FILE_TEST_IS_DIR))
        return TRUE;
      return set_errno_error (error, saved, "create directory", path);
    }
  return fsync_dir (parent, error);
}

gboolean
soter_file_dir_has_files (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR) ? soter_file_dir_has_files (path)
                                                 : g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return TRUE;
    }
  return FALSE;
}

static gboolean
is_temporary (const char *name)
{
  const char *mark = g_strrstr (name, TEMP_MARK);

  return name[0] == '.' && mark != NULL && strlen (mark) == strlen (TEMP_MARK) + 6;
}

guint
soter_file_remove_temporaries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint removed = 0;

  if (d == NULL)
    return 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        removed += soter_file_remove_temporaries (path);
      else if (is_temporary (name) && g_unlink (path) == 0)
        {
          g_message ("Removed %s, left by an interrupted write", path);
          removed++;
        }
    }
  return removed;
}
