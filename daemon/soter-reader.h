/* soter-reader.h — the fingerprint reader, shared fairly.
 *
 * One request at a time owns the reader: a claim waits in line (first come,
 * first served), opens the device, and lasts until soter_reader_release(),
 * which closes it so that other programs (fprintd) can use it too. */
#pragma once

#include <fprint.h>
#include <gio/gio.h>

G_BEGIN_DECLS

#define SOTER_TYPE_READER (soter_reader_get_type ())
G_DECLARE_FINAL_TYPE (SoterReader, soter_reader, SOTER, READER, GObject)

SoterReader *soter_reader_new (void);

/* The reader soterd uses, or NULL where there is none. */
FpDevice *soter_reader_get_device (SoterReader *self);
gboolean  soter_reader_is_busy (SoterReader *self);

void      soter_reader_claim_async (SoterReader        *self,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
FpDevice *soter_reader_claim_finish (SoterReader  *self,
                                     GAsyncResult *result,
                                     GError      **error);
void      soter_reader_release (SoterReader *self);

G_END_DECLS
