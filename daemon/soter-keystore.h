/* soter-keystore.h — SOTER's keys and anti-replay counter (SPEC §6).
 *
 * The device attestation key (ATTK), one app secure key (ASK) per app, one
 * auth key per app and scene, and the counter, in files under <state>/keys
 * or in a TPM (soter-keystore-backend.h). Private keys never leave the key
 * store's implementation: callers get public PEM, key_json and signatures
 * only.
 */
#pragma once

#include <gio/gio.h>

#include "soter-result.h"

G_BEGIN_DECLS

#define SOTER_TYPE_KEYSTORE (soter_keystore_get_type ())
G_DECLARE_FINAL_TYPE (SoterKeystore, soter_keystore, SOTER, KEYSTORE, GObject)

#define SOTER_DEFAULT_SCENE "default"
#define SOTER_KEYSTORE_DEFAULT_TCTI "device:/dev/tpmrm0"
/* An NV index in the owner's range: "SOT" */
#define SOTER_KEYSTORE_DEFAULT_NV_INDEX 0x01534f54

typedef enum {
  SOTER_KEYSTORE_KIND_AUTO,
  SOTER_KEYSTORE_KIND_FILE,
  SOTER_KEYSTORE_KIND_TPM,
} SoterKeystoreKind;

/* Auth keys (scenes) an app may have, the default one included. */
#define SOTER_KEYSTORE_DEFAULT_MAX_SCENES 16

typedef struct {
  SoterKeystoreKind kind;
  const char       *tpm_tcti;
  guint32           tpm_nv_index;
  guint             max_scenes;   /* 0: the default */
} SoterKeystoreOptions;

/* @options NULL: the file store. */
SoterKeystore *soter_keystore_new (const char                 *state_dir,
                                   const SoterKeystoreOptions *options,
                                   GError                    **error);

const char *soter_keystore_get_device_key_pem (SoterKeystore *self);
const char *soter_keystore_get_cpu_id (SoterKeystore *self);
const char *soter_keystore_get_tee_name (SoterKeystore *self);
const char *soter_keystore_get_tee_version (SoterKeystore *self);
guint64     soter_keystore_get_counter (SoterKeystore *self);

/* Advances the counter and makes the new value durable before returning it. */
gboolean soter_keystore_next_counter (SoterKeystore *self,
                                      guint64       *out_counter,
                                      GError       **error);

/* An app is "<uid>" or "<uid>-<flatpak app id>"; NULL when @flatpak_id is
 * not a valid application id. Every key path is built from these checked
 * components and stays under keys/apps/. */
char    *soter_keystore_app_name (guint32     uid,
                                  const char *flatpak_id);
gboolean soter_keystore_check_scene (const char *scene,
                                     GError    **error);

gboolean soter_keystore_get_app_key (SoterKeystore *self,
                                     const char    *app,
                                     guint32        uid,
                                     char         **out_key_json,
                                     char         **out_signature,
                                     GError       **error);
gboolean soter_keystore_get_auth_key (SoterKeystore *self,
                                      const char    *app,
                                      guint32        uid,
                                      const char    *scene,
                                      char         **out_key_json,
                                      char         **out_signature,
                                      GError       **error);

/* Signs @data (exact bytes) with the app's auth key for @scene; base64. */
char *soter_keystore_sign (SoterKeystore *self,
                           const char    *app,
                           guint32        uid,
                           const char    *scene,
                           const char    *data,
                           gsize          len,
                           GError       **error);

/* Whether work started by one of the _async calls below has not completed
 * yet (its callback not run). A request that ended while its auth key was
 * being loaded leaves such work behind; the daemon lets it finish before it
 * exits, as OpenSSL is torn down at exit. */
gboolean soter_keystore_is_busy (SoterKeystore *self);

/* The same operations in a worker thread (key generation takes a while). */

/* The app secure key (@scene NULL) or the auth key for @scene. */
void     soter_keystore_get_key_async (SoterKeystore      *self,
                                       const char         *app,
                                       guint32             uid,
                                       const char         *scene,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
gboolean soter_keystore_get_key_finish (SoterKeystore *self,
                                        GAsyncResult  *result,
                                        char         **out_key_json,
                                        char         **out_signature,
                                        GError       **error);

/* An app's default auth key, loaded (made first if the app has none) ahead
 * of the signature it is for: a request loads it while it waits for the
 * reader, the agent and the finger, so that the signature after the match
 * does not wait for the file and its decoding. Opaque: the private key
 * stays inside the key store and is wiped when the last reference goes; a
 * request drops it when it ends (SPEC §6: no private key outlives the use
 * it was loaded for). */
typedef struct _SoterAuthKey SoterAuthKey;

SoterAuthKey *soter_auth_key_ref   (SoterAuthKey *key);
void          soter_auth_key_unref (SoterAuthKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterAuthKey, soter_auth_key_unref)

void          soter_keystore_load_auth_key_async  (SoterKeystore      *self,
                                                   const char         *app,
                                                   guint32             uid,
                                                   GCancellable       *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer            user_data);
SoterAuthKey *soter_keystore_load_auth_key_finish (SoterKeystore *self,
                                                   GAsyncResult  *result,
                                                   GError       **error);

/* As a TEE does: takes the next counter value, fills it into @fields (all
 * else set by the caller), builds resultJSON and signs it with @key. */
void     soter_keystore_sign_result_async (SoterKeystore           *self,
                                           SoterAuthKey            *key,
                                           const SoterResultFields *fields,
                                           GAsyncReadyCallback      callback,
                                           gpointer                 user_data);
gboolean soter_keystore_sign_result_finish (SoterKeystore *self,
                                            GAsyncResult  *result,
                                            char         **out_result_json,
                                            char         **out_signature,
                                            GError       **error);

G_END_DECLS
