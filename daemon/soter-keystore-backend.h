/* soter-keystore-backend.h — where SOTER's private keys and counter live.
 *
 * The key store (soter-keystore.c) keeps the chain of keys, the key files'
 * key_json and signature, and the threads. A back end holds the private
 * keys and the counter: in files (soter-keystore-file.c) or in a TPM 2.0
 * (soter-keystore-tpm.c). Every method may block: the key store calls them
 * under its lock, in a worker thread.
 */
#pragma once

#include <glib-object.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

/* Bytes that may be secret: cleansed before they are freed. */
typedef struct {
  char  *data;
  gsize  len;
} SoterSecret;

void soter_secret_clear (SoterSecret *secret);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SoterSecret, soter_secret_clear)

/* A private key as its back end holds it. @pkey is the public key, or the
 * private key itself where the back end keeps it in memory (the file store). */
typedef struct {
  EVP_PKEY      *pkey;
  gpointer       data;
  GDestroyNotify data_free;
} SoterKey;

SoterKey *soter_key_new  (EVP_PKEY      *pkey,
                          gpointer       data,
                          GDestroyNotify data_free);
void      soter_key_free (SoterKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterKey, soter_key_free)

#define SOTER_TYPE_KEYSTORE_BACKEND (soter_keystore_backend_get_type ())
G_DECLARE_DERIVABLE_TYPE (SoterKeystoreBackend, soter_keystore_backend, SOTER, KEYSTORE_BACKEND,
                          GObject)

struct _SoterKeystoreBackendClass
{
  GObjectClass parent_class;

  /* The device key (ATTK): loaded, or made the first time. */
  SoterKey *(*device_key)   (SoterKeystoreBackend *self,
                             GError              **error);
  SoterKey *(*generate)     (SoterKeystoreBackend *self,
                             GError              **error);
  /* Whether generate() may run outside the key store's lock, beside the
   * other operations, so that one app's new key (RSA key generation takes
   * a while) does not hold up other callers' signatures: TRUE for the file
   * store (OpenSSL is thread-safe). The TPM store's one ESYS context, and
   * the TPM itself, do one command at a time. */
  gboolean  generate_is_thread_safe;
  /* A key from the text of its file (lines it does not know are skipped),
   * and that text. */
  SoterKey *(*parse)        (SoterKeystoreBackend *self,
                             const char           *text,
                             gsize                 len,
                             GError              **error);
  gboolean  (*serialize)    (SoterKeystoreBackend *self,
                             SoterKey             *key,
                             SoterSecret          *out_text,
                             GError              **error);
  /* RSA-PSS, SHA-256, MGF1-SHA-256, salt 20 (SPEC §6) over @data. */
  gboolean  (*sign)         (SoterKeystoreBackend *self,
                             SoterKey             *key,
                             const char           *data,
                             gsize                 len,
                             GByteArray           *out_signature,
                             GError              **error);
  /* The next counter value, durable before it is returned: strictly
   * greater than any value returned before, across crashes. */
  gboolean  (*next_counter) (SoterKeystoreBackend *self,
                             guint64              *out_counter,
                             GError              **error);
  guint64   (*get_counter)  (SoterKeystoreBackend *self);
  /* Optional: around the operations of one request, so that what each
   * would set up and tear down (a TPM session) is set up once. */
  void      (*hold)         (SoterKeystoreBackend *self);
  void      (*release)      (SoterKeystoreBackend *self);
  const char *(*get_tee_name)    (SoterKeystoreBackend *self);
  const char *(*get_tee_version) (SoterKeystoreBackend *self);
};

/* The file store under @keys_dir. */
SoterKeystoreBackend *soter_keystore_file_new (const char *keys_dir,
                                               GError    **error);

/* The TPM store: blobs under @tpm_dir, the TPM reached through @tcti (a
 * tss2 TCTI string such as "device:/dev/tpmrm0"), the counter in the NV
 * index @nv_index. */
SoterKeystoreBackend *soter_keystore_tpm_new (const char *tpm_dir,
                                              const char *tcti,
                                              guint32     nv_index,
                                              GError    **error);

/* Shared by the back ends. */
gboolean soter_keystore_openssl_error (GError    **error,
                                       const char *what);

G_END_DECLS
