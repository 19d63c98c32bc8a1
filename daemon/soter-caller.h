/* soter-caller.h — who is calling, as the bus tells it.
 *
 * The uid and pid come from the bus daemon (GetConnectionCredentials), never
 * from arguments. The pid is used only to find the caller's logind session
 * and to name the app in the prompt, never to decide access. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char    *sender;      /* unique bus name */
  guint32  uid;
  guint32  pid;
  char    *session;     /* logind session id, or NULL */
  char    *app_id;      /* Flatpak app id, else the executable's path */
  char    *flatpak_id;  /* Flatpak app id, or NULL */
} SoterCaller;

void         soter_caller_lookup_async (GDBusConnection    *connection,
                                        const char         *sender,
                                        GCancellable       *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer            user_data);
SoterCaller *soter_caller_lookup_finish (GAsyncResult *result,
                                         GError      **error);
void         soter_caller_free (SoterCaller *caller);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterCaller, soter_caller_free)

G_END_DECLS
