/* soter-config.h — soterd's settings, from /etc/soterd/soterd.conf. */
#pragma once

#include <glib.h>

#include "soter-keystore.h"

G_BEGIN_DECLS

typedef struct {
  guint max_attempts;      /* non-matching scans allowed in one request */
  guint lockout_attempts;  /* misses in a row for a uid before lock-out */
  guint lockout_seconds;   /* how long a lock-out lasts */
  guint request_timeout;   /* seconds an authentication may run */
  guint idle_timeout;      /* seconds of idleness before soterd exits */
  guint queue_length;      /* admitted requests that may wait for the reader */
  guint max_scenes;        /* auth keys (scenes) per app */
  SoterKeystoreKind key_store;
  char *tpm_tcti;          /* how to reach the TPM (a tss2 TCTI string) */
  guint32 tpm_nv_index;    /* the TPM NV counter index soterd owns */
} SoterConfig;

#define SOTER_CONFIG_DEFAULT_PATH "/etc/soterd/soterd.conf"

void     soter_config_init_defaults (SoterConfig *config);
void     soter_config_clear         (SoterConfig *config);
gboolean soter_config_load          (SoterConfig *config,
                                     const char  *path,
                                     GError     **error);

G_END_DECLS
