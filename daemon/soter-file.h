/* soter-file.h — durable, atomic small-file writes for the state directory. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean soter_file_write_atomic (const char *path,
                                  const void *data,
                                  gsize       len,
                                  int         mode,
                                  GError    **error);

/* unlink(), then fsync of the directory: the removal is durable. The
 * error is G_IO_ERROR_NOT_FOUND where there was no such file. */
gboolean soter_file_remove (const char *path,
                            GError    **error);

/* mkdir -p, each new directory's entry fsynced into its parent. */
gboolean soter_file_ensure_dir (const char *path,
                                GError    **error);

/* Whether @dir or a directory under it holds a regular file (symbolic
 * links are not followed). */
gboolean soter_file_dir_has_files (const char *dir);

/* Removes, under @dir, the temporary files of writes a crash interrupted;
 * returns how many. Called at start, before anything is read. */
guint    soter_file_remove_temporaries (const char *dir);

G_END_DECLS
