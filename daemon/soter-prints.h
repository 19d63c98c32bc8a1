/* soter-prints.h — enrolled prints, per uid, under <state>/prints/<uid>/,
 * named by fprintd's finger names. */
#pragma once

#include <fprint.h>

G_BEGIN_DECLS

typedef struct _SoterPrints SoterPrints;

/* fprintd's names: "left-thumb" … "right-little-finger"; "" is right-index-finger.
 * FP_FINGER_UNKNOWN for anything else. */
FpFinger    soter_finger_from_name (const char *name);
const char *soter_finger_to_name (FpFinger finger);

SoterPrints *soter_prints_new (const char *state_dir);
void         soter_prints_free (SoterPrints *self);

/* The uid's enrolled fingers, in finger order; never NULL. */
GStrv      soter_prints_list (SoterPrints *self,
                              guint32      uid);
/* The uid's prints that @device can read, in finger order. */
GPtrArray *soter_prints_load (SoterPrints *self,
                              guint32      uid,
                              FpDevice    *device,
                              GError     **error);
gboolean   soter_prints_save (SoterPrints *self,
                              guint32      uid,
                              FpPrint     *print,
                              GError     **error);
gboolean   soter_prints_delete (SoterPrints *self,
                                guint32      uid,
                                FpFinger     finger,
                                GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterPrints, soter_prints_free)

G_END_DECLS
