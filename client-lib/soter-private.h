/* soter-private.h — what libsoter's files share and do not export. */
#pragma once

/* The project compiles with soterd's log domain; the library logs as itself. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "libsoter"

#ifndef SOTER_COMPILATION
#define SOTER_COMPILATION
#endif
#include "soter/soter.h"
#include "soter-dbus.h"

G_BEGIN_DECLS

#define SOTER_BUS_NAME "io.github.soterd.Soter1"
#define SOTER_MANAGER_PATH "/io/github/soterd/Soter1"
#define SOTER_MANAGER_IFACE "io.github.soterd.Soter1"

SoterDBusManager *soter_client_get_proxy (SoterClient *self);
void              soter_client_emit_enroll_started (SoterClient *self);
void              soter_client_emit_enroll_status (SoterClient *self,
                                                   const char  *result,
                                                   gboolean     done);

/* While a task waits for soterd, a cancel of its GCancellable is sent on as
 * CancelSoterAuthentication; soterd's answer then completes the task. */
GSource *soter_client_forward_cancel (SoterClient *self,
                                      GTask       *task);
void     soter_client_stop_forwarding_cancel (GSource **source);

/* A mapped D-Bus error (io.github.soterd.Soter1.Error.*) keeps only its message. */
GError *soter_strip_dbus_error (GError *error);

/* Runs an async call to its end in a private main context, for the _sync
 * variants: like GDBus's own sync calls, nothing else of the caller's runs
 * meanwhile, but a GCancellable can still send soterd its cancel. */
typedef struct {
  GMainContext *context;
  GAsyncResult *result;
} SoterSyncCall;

void          soter_sync_call_begin (SoterSyncCall *call);
void          soter_sync_call_done (GObject      *source,
                                    GAsyncResult *result,
                                    gpointer      user_data);
GAsyncResult *soter_sync_call_wait (SoterSyncCall *call);
void          soter_sync_call_end (SoterSyncCall *call);

G_END_DECLS
