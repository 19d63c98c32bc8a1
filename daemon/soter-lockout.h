/* soter-lockout.h — misses in a row per uid, and the lock-out they cause.
 * Kept in <state>/lockout so that restarting soterd does not reset it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SoterLockout SoterLockout;

SoterLockout *soter_lockout_new (const char *state_dir,
                                 guint       max_misses,
                                 guint       lock_seconds,
                                 GError    **error);
void          soter_lockout_free (SoterLockout *self);

/* TRUE while @uid is locked; *until_usec is the wall-clock end (g_get_real_time). */
gboolean soter_lockout_is_locked (SoterLockout *self,
                                  guint32       uid,
                                  gint64       *until_usec);
/* Counts a miss; *out_locked says whether this miss locked the uid. */
gboolean soter_lockout_record_miss (SoterLockout *self,
                                    guint32       uid,
                                    gboolean     *out_locked,
                                    GError      **error);
gboolean soter_lockout_record_match (SoterLockout *self,
                                     guint32       uid,
                                     GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterLockout, soter_lockout_free)

G_END_DECLS
