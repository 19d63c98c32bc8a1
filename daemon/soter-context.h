/* soter-context.h — what every request needs from the daemon, in one place. */
#pragma once

#include <gio/gio.h>

#include "soter-agents.h"
#include "soter-config.h"
#include "soter-keystore.h"
#include "soter-lockout.h"
#include "soter-prints.h"
#include "soter-reader.h"

G_BEGIN_DECLS

typedef struct {
  GDBusConnection *connection;
  SoterConfig      config;
  SoterKeystore   *keystore;   /* NULL when the key store cannot be used */
  SoterReader     *reader;
  SoterPrints     *prints;
  SoterLockout    *lockout;
  SoterAgents     *agents;
  GHashTable      *authenticating; /* uids with an authentication under way */
  GHashTable      *enrolling;      /* uids with an enrollment under way */
} SoterContext;

G_END_DECLS
