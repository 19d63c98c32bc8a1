/* soter-manager.h — the exported manager object, /io/github/soterd/Soter1. */
#pragma once

#include "soter-context.h"

G_BEGIN_DECLS

#define SOTER_MANAGER_PATH "/io/github/soterd/Soter1"

#define SOTER_TYPE_MANAGER (soter_manager_get_type ())
G_DECLARE_FINAL_TYPE (SoterManager, soter_manager, SOTER, MANAGER, GObject)

/* Takes ownership of nothing: @context must outlive the manager. */
SoterManager *soter_manager_new (SoterContext *context);
gboolean      soter_manager_export (SoterManager *self,
                                    GError      **error);
/* Nothing in flight, no agent registered: soterd may exit. */
gboolean      soter_manager_is_idle (SoterManager *self);
/* Ends every request (90007); "drained" is emitted once none is left. */
void          soter_manager_shutdown (SoterManager *self);

G_END_DECLS
