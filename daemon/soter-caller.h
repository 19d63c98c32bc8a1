/* soter-caller.h — who is calling, as the bus and the kernel tell it (SPEC §9).
 *
 * The uid and pid come from the bus daemon (GetConnectionCredentials), never
 * from arguments. From the pid, in a worker thread and through one handle
 * on /proc/PID (so every read is of the same process): the Flatpak app id
 * (read safely from the process's own root, accepted only if it is a valid
 * application id), else the desktop id of the app's systemd unit, else the
 * executable; and the logind session, else the uid's display session. A
 * caller that cannot be identified is refused, never taken for someone
 * else.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The most of .flatpak-info soterd reads; a larger one is refused. */
#define SOTER_CALLER_FLATPAK_INFO_MAX (64 * 1024)

typedef struct {
  char    *sender;      /* unique bus name */
  guint32  uid;
  guint32  pid;
  char    *session;     /* logind session, else the uid's display session, or NULL */
  char    *app_id;      /* shown to the agent: Flatpak id, desktop id, else executable */
  char    *app_name;    /* from the app's desktop file, or NULL */
  char    *app_icon;    /* from the app's desktop file, or NULL */
  char    *flatpak_id;  /* the sandbox's application id (its own app key), or NULL */
} SoterCaller;

void         soter_caller_lookup_async (GDBusConnection    *connection,
                                        const char         *sender,
                                        GCancellable       *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer            user_data);
SoterCaller *soter_caller_lookup_finish (GAsyncResult *result,
                                         GError      **error);
void         soter_caller_free (SoterCaller *caller);

/* What soter_caller_lookup_async() does once the bus has answered, in the
 * calling thread (it reads /proc: never call it on the main loop). @pidfd
 * is the bus's ProcessFD, or -1. Fills in everything but @caller->sender;
 * FALSE with SOTER_ERROR_INTERNAL when the process cannot be identified. */
gboolean soter_caller_identify (SoterCaller *caller,
                                guint32      uid,
                                guint32      pid,
                                int          pidfd,
                                GError     **error);

/* The desktop id in a systemd unit name that follows the freedesktop
 * convention (app[-<launcher>]-<id>-<random>.scope,
 * app[-<launcher>]-<id>[@<random>].service), unescaped; NULL otherwise. */
char *soter_caller_app_id_from_unit (const char *unit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterCaller, soter_caller_free)

G_END_DECLS
