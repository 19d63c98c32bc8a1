/* soter-reader.h — the fingerprint reader, shared fairly.
 *
 * One request at a time owns the reader. A request claims it once it has
 * been admitted (polkit said yes, SPEC §9), so that nobody holds a place in
 * line while polkit's dialog waits for a password; claims are served in
 * order, and at most queue_length of them wait. The claim lasts until
 * soter_reader_release(), which hands the open device to the next in line
 * or closes it so that other programs (fprintd) can use it. */
#pragma once

#include <fprint.h>
#include <gio/gio.h>

G_BEGIN_DECLS

#define SOTER_TYPE_READER (soter_reader_get_type ())
G_DECLARE_FINAL_TYPE (SoterReader, soter_reader, SOTER, READER, GObject)

/* At most @queue_length claims wait for the reader; more are refused. */
SoterReader *soter_reader_new (guint queue_length);

/* The reader soterd uses, or NULL where there is none. */
FpDevice *soter_reader_get_device (SoterReader *self);
gboolean  soter_reader_is_busy (SoterReader *self);

/* Waits in line for the reader and opens it; SOTER_ERROR_INTERNAL at once
 * when the line is full. */
void      soter_reader_claim_async (SoterReader        *self,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
FpDevice *soter_reader_claim_finish (SoterReader  *self,
                                     GAsyncResult *result,
                                     GError      **error);
void      soter_reader_release (SoterReader *self);

G_END_DECLS
