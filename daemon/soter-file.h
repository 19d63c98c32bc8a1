/* soter-file.h — durable, atomic small-file writes for the state directory. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean soter_file_write_atomic (const char *path,
                                  const void *data,
                                  gsize       len,
                                  int         mode,
                                  GError    **error);

gboolean soter_file_ensure_dir (const char *path,
                                GError    **error);

/* Removes, under @dir, the temporary files of writes a crash interrupted;
 * returns how many. Called at start, before anything is read. */
guint    soter_file_remove_temporaries (const char *dir);

G_END_DECLS
