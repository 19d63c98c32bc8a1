/* soter-reader.h — the fingerprint reader, shared fairly.
 *
 * One request at a time owns the reader. A request takes a ticket when it
 * arrives, which holds its place in line; it claims the reader with that
 * ticket once polkit and its other checks have passed, and the claim
 * completes when every earlier ticket has been served or dropped. The claim
 * lasts until soter_reader_release(), which hands the open device to the
 * next in line or closes it so that other programs (fprintd) can use it. */
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

typedef struct _SoterReaderTicket SoterReaderTicket;

SoterReaderTicket *soter_reader_take_ticket (SoterReader *self);
/* Gives up a ticket that has not been used to claim. */
void               soter_reader_drop_ticket (SoterReader       *self,
                                             SoterReaderTicket *ticket);

/* Uses up @ticket, whatever the outcome. */
void      soter_reader_claim_async (SoterReader        *self,
                                    SoterReaderTicket  *ticket,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data);
FpDevice *soter_reader_claim_finish (SoterReader  *self,
                                     GAsyncResult *result,
                                     GError      **error);
void      soter_reader_release (SoterReader *self);

G_END_DECLS
