/* soter-keystore-file.c — the file key store: private keys in files.
 *
 * Under <state>/keys (directory 0700, files 0600):
 *   device.pem   the ATTK, PKCS#8 PEM
 *   counter      the counter's reservation, decimal: every value handed
 *                out is at most this one
 * and the key store's apps/<app>/ key files, whose text starts with the
 * private key's PKCS#8 PEM.
 *
 * The store is whole or refused (soterd then answers 90001 and rewrites
 * nothing): a device key without its counter file, or a counter that
 * handed out values, or app keys, without the device key, are what is
 * left of a store that lost a file. Starting that part anew would hand
 * out counter values again (the counter) or give the machine a second
 * identity beside the keys apps registered (the device key). Only an empty
 * directory is initialised, the counter file first ("0"), then the device
 * key: an interrupted first start leaves a counter of 0 and nothing else,
 * which is still taken for new.
 *
 * Private key bytes only pass through OpenSSL's secure-memory BIOs and
 * buffers that are cleansed before they are freed.
 */
#include "soter-keystore-backend.h"

#include <string.h>

#include <gio/gio.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "soter-error.h"
#include "soter-file.h"

#define KEY_BITS 2048
/* Counter values reserved by one durable write (see next_counter). */
#define SOTER_COUNTER_BLOCK 64
#define PSS_SALT_LEN 20

struct _SoterKeystoreFile
{
  SoterKeystoreBackend parent_instance;

  char    *keys_dir;
  char    *counter_path;
  gboolean counter_on_disk;  /* keys/counter exists */
  guint64  counter;   /* the last value handed out */
  guint64  reserved;  /* the value on disk: values up to it may be handed out */
};

#define SOTER_TYPE_KEYSTORE_FILE (soter_keystore_file_get_type ())
G_DECLARE_FINAL_TYPE (SoterKeystoreFile, soter_keystore_file, SOTER, KEYSTORE_FILE,
                      SoterKeystoreBackend)
G_DEFINE_TYPE (SoterKeystoreFile, soter_keystore_file, SOTER_TYPE_KEYSTORE_BACKEND)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)

/* The RSA key in @bio's first PEM block ("PRIVATE KEY", PKCS#8). Decoding
 * the DER as RSA directly costs a third of PEM_read_bio_PrivateKey(), which
 * tries every decoder OpenSSL has (0.13 against 0.38 ms here); the key is
 * decoded for every signature (SPEC §6 wipes it after use). The DER lives
 * in OpenSSL's secure heap and is cleansed. */
static EVP_PKEY *
decode_private_key (BIO *bio)
{
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  const unsigned char *p;
  EVP_PKEY *pkey = NULL;
  long len = 0;

  if (PEM_read_bio_ex (bio, &name, &header, &der, &len, PEM_FLAG_SECURE | PEM_FLAG_ONLY_B64) != 1)
    return NULL;
  if (g_strcmp0 (name, PEM_STRING_PKCS8INF) == 0)
    {
      p = der;
      pkey = d2i_PrivateKey_ex (EVP_PKEY_RSA, NULL, &p, len, NULL, NULL);
      if (pkey != NULL && p != der + len)
        g_clear_pointer (&pkey, EVP_PKEY_free);  /* trailing bytes: not what we wrote */
    }
  OPENSSL_secure_clear_free (der, (size_t) len);
  OPENSSL_secure_free (name);
  OPENSSL_secure_free (header);
  return pkey;
}

static SoterKey *
file_parse (SoterKeystoreBackend *backend, const char *text, gsize len, GError **error)
{
  g_autoptr(BIO) bio = BIO_new_mem_buf (text, (int) len);
  EVP_PKEY *pkey = bio ? decode_private_key (bio) : NULL;

  if (pkey == NULL)
    {
      soter_keystore_openssl_error (error, "Corrupt key file");
      return NULL;
    }
  return soter_key_new (pkey, NULL, NULL);
}

static gboolean
file_serialize (SoterKeystoreBackend *backend, SoterKey *key, SoterSecret *out,
                GError **error)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_secmem ());
  char *data = NULL;
  long len;

  if (bio == NULL || !PEM_write_bio_PrivateKey (bio, key->pkey, NULL, NULL, 0, NULL, NULL))
    return soter_keystore_openssl_error (error, "Could not encode key");
  len = BIO_get_mem_data (bio, &data);
  out->len = (gsize) len;
  out->data = g_memdup2 (data, out->len);
  return TRUE;
}

static SoterKey *
file_generate (SoterKeystoreBackend *backend, GError **error)
{
  EVP_PKEY *pkey = EVP_RSA_gen (KEY_BITS);

  if (pkey == NULL)
    {
      soter_keystore_openssl_error (error, "Could not generate an RSA key");
      return NULL;
    }
  return soter_key_new (pkey, NULL, NULL);
}

static gboolean
file_sign (SoterKeystoreBackend *backend, SoterKey *key, const char *data, gsize len,
           GByteArray *out, GError **error)
{
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char sig[KEY_BITS / 8 * 2];
  size_t siglen = sizeof sig;

  if (md == NULL ||
      EVP_DigestSignInit (md, &pctx, EVP_sha256 (), NULL, key->pkey) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, PSS_SALT_LEN) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) != 1 ||
      EVP_DigestSign (md, sig, &siglen, (const unsigned char *) data, len) != 1)
    return soter_keystore_openssl_error (error, "Could not sign");
  g_byte_array_append (out, sig, (guint) siglen);
  return TRUE;
}

static SoterKey *
file_device_key (SoterKeystoreBackend *backend, GError **error)
{
  SoterKeystoreFile *self = SOTER_KEYSTORE_FILE (backend);
  g_autofree char *path = g_build_filename (self->keys_dir, "device.pem", NULL);
  g_autofree char *apps = g_build_filename (self->keys_dir, "apps", NULL);
  g_autoptr(SoterKey) key = NULL;
  g_auto(SoterSecret) text = { NULL, 0 };
  g_autoptr(GError) local = NULL;

  if (g_file_get_contents (path, &text.data, &text.len, &local))
    {
      key = file_parse (backend, text.data, text.len, error);
      if (key == NULL)
        g_prefix_error (error, "%s: ", path);
      return g_steal_pointer (&key);
    }
  if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }

  /* No device key: only a new store may make one (see the top). */
  if (self->reserved > 0 || soter_file_dir_has_files (apps))
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                   "%s is missing, but %s shows that this store has made keys; refusing to "
                   "make a new device key (a second identity beside the keys apps "
                   "registered). Put the device key back, or move %s away to start anew",
                   path, self->reserved > 0 ? self->counter_path : apps, self->keys_dir);
      return NULL;
    }
  if (!self->counter_on_disk)
    {
      if (!soter_file_write_atomic (self->counter_path, "0\n", 2, 0600, error))
        return NULL;
      self->counter_on_disk = TRUE;
    }
  key = file_generate (backend, error);
  if (key == NULL || !file_serialize (backend, key, &text, error) ||
      !soter_file_write_atomic (path, text.data, text.len, 0600, error))
    return NULL;
  g_message ("Created the device attestation key");
  return g_steal_pointer (&key);
}

static gboolean
load_counter (SoterKeystoreFile *self, GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *device = g_build_filename (self->keys_dir, "device.pem", NULL);
  g_autoptr(GError) local = NULL;
  guint64 v;

  if (!g_file_get_contents (self->counter_path, &text, NULL, &local))
    {
      if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      /* The device key is made after the counter file: a device key
       * without one means the file was lost, and values up to an unknown
       * one were handed out. */
      if (g_file_test (device, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                       "%s is missing beside the device key; refusing to start the counter "
                       "again, which would hand out old counter values. Put it back, or "
                       "write into it a value above any counter this machine has signed",
                       self->counter_path);
          return FALSE;
        }
      self->counter = self->reserved = 0;
      return TRUE;
    }
  self->counter_on_disk = TRUE;
  /* Never reset a counter we cannot read: that would replay old values. */
  g_strstrip (text);
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &v, NULL))
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                   "%s is corrupt; refusing to reuse counter values", self->counter_path);
      return FALSE;
    }
  /* Values up to the reservation may have been handed out before a crash:
   * carry on after it. */
  self->counter = self->reserved = v;
  return TRUE;
}

static gboolean
file_next_counter (SoterKeystoreBackend *backend, guint64 *out_counter, GError **error)
{
  SoterKeystoreFile *self = SOTER_KEYSTORE_FILE (backend);

  /* Advance in memory first: a value whose reservation failed is never
   * handed out again, whether or not it reached the disk. */
  self->counter++;
  if (self->counter > self->reserved)
    {
      /* Values are reserved durably in blocks, before any is handed out: a
       * crash skips the rest of a block, and never hands a value out twice.
       * One durable write per block instead of one per signature. */
      guint64 reserve = self->counter + SOTER_COUNTER_BLOCK - 1;
      g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", reserve);

      if (!soter_file_write_atomic (self->counter_path, text, strlen (text), 0600, error))
        {
          g_prefix_error (error, "Could not store the counter: ");
          return FALSE;
        }
      self->reserved = reserve;
    }
  *out_counter = self->counter;
  return TRUE;
}

static guint64
file_get_counter (SoterKeystoreBackend *backend)
{
  return SOTER_KEYSTORE_FILE (backend)->counter;
}

static const char *
file_get_tee_name (SoterKeystoreBackend *backend)
{
  return "soterd-software";
}

static const char *
file_get_tee_version (SoterKeystoreBackend *backend)
{
  /* The version of the file store's on-disk format. */
  return "1";
}

SoterKeystoreBackend *
soter_keystore_file_new (const char *keys_dir, GError **error)
{
  g_autoptr(SoterKeystoreFile) self = g_object_new (SOTER_TYPE_KEYSTORE_FILE, NULL);

  self->keys_dir = g_strdup (keys_dir);
  self->counter_path = g_build_filename (keys_dir, "counter", NULL);
  if (!soter_file_ensure_dir (keys_dir, error) || !load_counter (self, error))
    return NULL;
  return SOTER_KEYSTORE_BACKEND (g_steal_pointer (&self));
}

static void
soter_keystore_file_finalize (GObject *object)
{
  SoterKeystoreFile *self = SOTER_KEYSTORE_FILE (object);

  g_free (self->keys_dir);
  g_free (self->counter_path);
  G_OBJECT_CLASS (soter_keystore_file_parent_class)->finalize (object);
}

static void
soter_keystore_file_class_init (SoterKeystoreFileClass *klass)
{
  SoterKeystoreBackendClass *backend_class = SOTER_KEYSTORE_BACKEND_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = soter_keystore_file_finalize;
  backend_class->device_key = file_device_key;
  backend_class->generate = file_generate;
  backend_class->generate_is_thread_safe = TRUE;
  backend_class->parse = file_parse;
  backend_class->serialize = file_serialize;
  backend_class->sign = file_sign;
  backend_class->next_counter = file_next_counter;
  backend_class->get_counter = file_get_counter;
  backend_class->get_tee_name = file_get_tee_name;
  backend_class->get_tee_version = file_get_tee_version;
}

static void
soter_keystore_file_init (SoterKeystoreFile *self)
{
}
