/* soter-keystore.c — the file key store.
 *
 * Layout under <state>/keys (directory 0700, files 0600):
 *   device.pem              the ATTK, PKCS#8 PEM
 *   counter                 the counter's reservation, decimal: every value
 *                           handed out is at most this one
 *   apps/<app>/ask.key      the app's ASK
 *   apps/<app>/auth-<scene>.key
 * A .key file is the private key's PEM followed by two lines,
 * "key_json: …" and "signature: …", so a key, its key_json and the parent's
 * signature over it are one file and are written in one atomic rename: there
 * is never a key on disk without its signature, or the other way round.
 *
 * Private key bytes only pass through OpenSSL's secure-memory BIOs and
 * buffers that are cleansed before they are freed.
 *
 * Key generation takes a noticeable time, so callers run key store
 * operations in a worker thread; a (recursive) lock makes each public
 * operation atomic with respect to the others.
 */
#include "soter-keystore.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "soter-error.h"
#include "soter-file.h"
#include "soter-result.h"

#define KEY_BITS 2048
/* Counter values reserved by one durable write (see next_counter). */
#define SOTER_COUNTER_BLOCK 64
#define PSS_SALT_LEN 20
#define JSON_TAG "key_json: "
#define SIG_TAG "signature: "

struct _SoterKeystore
{
  GObject  parent_instance;

  char    *keys_dir;
  char    *counter_path;
  char    *device_pub_pem;
  char    *cpu_id;
  guint64  counter;   /* the last value handed out */
  guint64  reserved;  /* the value on disk: values up to it may be handed out */
  GRecMutex lock;
};

G_DEFINE_TYPE (SoterKeystore, soter_keystore, G_TYPE_OBJECT)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)

typedef struct {
  char  *data;
  gsize  len;
} Secret;

static void
secret_clear (Secret *s)
{
  if (s->data != NULL)
    {
      OPENSSL_cleanse (s->data, s->len);
      g_free (s->data);
    }
  s->data = NULL;
  s->len = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Secret, secret_clear)

static gboolean
openssl_error (GError **error, const char *what)
{
  unsigned long e = ERR_get_error ();
  char buf[256] = "unknown error";

  if (e != 0)
    ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "%s: %s", what, buf);
  return FALSE;
}

static char *
public_pem (EVP_PKEY *pkey)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long len;

  if (bio == NULL || !PEM_write_bio_PUBKEY (bio, pkey))
    return NULL;
  len = BIO_get_mem_data (bio, &data);
  /* Tencent's pub_key ends at the END line, without a newline. */
  while (len > 0 && data[len - 1] == '\n')
    len--;
  return g_strndup (data, (gsize) len);
}

static char *
spki_sha256_hex (EVP_PKEY *pkey)
{
  unsigned char *der = NULL;
  int len = i2d_PUBKEY (pkey, &der);
  char *hex;

  if (len <= 0)
    return NULL;
  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der, (gsize) len);
  OPENSSL_free (der);
  return hex;
}

static char *
pss_sign (EVP_PKEY *pkey, const char *data, gsize len, GError **error)
{
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char sig[KEY_BITS / 8 * 2];
  size_t siglen = sizeof sig;

  if (md == NULL ||
      EVP_DigestSignInit (md, &pctx, EVP_sha256 (), NULL, pkey) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, PSS_SALT_LEN) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) != 1 ||
      EVP_DigestSign (md, sig, &siglen, (const unsigned char *) data, len) != 1)
    {
      openssl_error (error, "Could not sign");
      return NULL;
    }
  return g_base64_encode (sig, siglen);
}

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

/* Reads a private key file; the optional trailer lines go to out_json and
 * out_sig. The file's bytes are cleansed before they are freed. */
static EVP_PKEY *
load_key_file (const char *path, char **out_json, char **out_sig, GError **error)
{
  g_auto(Secret) file = { NULL, 0 };
  g_autoptr(GError) local = NULL;
  g_autoptr(BIO) bio = NULL;
  EVP_PKEY *pkey;
  const char *end;

  if (!g_file_get_contents (path, &file.data, &file.len, &local))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }

  bio = BIO_new_mem_buf (file.data, (int) file.len);
  pkey = bio ? decode_private_key (bio) : NULL;
  if (pkey == NULL)
    {
      openssl_error (error, "Corrupt key file");
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }

  if (out_json == NULL)
    return pkey;

  end = strstr (file.data, "-----END PRIVATE KEY-----\n");
  if (end != NULL)
    {
      g_auto(GStrv) lines = g_strsplit (end + strlen ("-----END PRIVATE KEY-----\n"), "\n", -1);
      for (gsize i = 0; lines[i] != NULL; i++)
        {
          if (g_str_has_prefix (lines[i], JSON_TAG))
            *out_json = g_strdup (lines[i] + strlen (JSON_TAG));
          else if (g_str_has_prefix (lines[i], SIG_TAG))
            *out_sig = g_strdup (lines[i] + strlen (SIG_TAG));
        }
    }
  if (*out_json == NULL || *out_sig == NULL)
    {
      g_clear_pointer (out_json, g_free);
      g_clear_pointer (out_sig, g_free);
      EVP_PKEY_free (pkey);
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                   "%s: key file has no key_json or signature", path);
      return NULL;
    }
  return pkey;
}

/* Writes the private key (and the optional trailer) in one atomic file. */
static gboolean
save_key_file (const char *path, EVP_PKEY *pkey, const char *json, const char *sig,
               GError **error)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_secmem ());
  g_auto(Secret) buf = { NULL, 0 };
  char *data = NULL;
  long len;

  if (bio == NULL || !PEM_write_bio_PrivateKey (bio, pkey, NULL, NULL, 0, NULL, NULL))
    return openssl_error (error, "Could not encode key");
  if (json != NULL &&
      (BIO_printf (bio, JSON_TAG "%s\n" SIG_TAG "%s\n", json, sig) <= 0))
    return openssl_error (error, "Could not encode key");

  len = BIO_get_mem_data (bio, &data);
  buf.len = (gsize) len;
  buf.data = g_memdup2 (data, buf.len);
  return soter_file_write_atomic (path, buf.data, buf.len, 0600, error);
}

static EVP_PKEY *
generate_key (GError **error)
{
  EVP_PKEY *pkey = EVP_RSA_gen (KEY_BITS);

  if (pkey == NULL)
    openssl_error (error, "Could not generate an RSA key");
  return pkey;
}

static gboolean
load_counter (SoterKeystore *self, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  guint64 v;

  if (!g_file_get_contents (self->counter_path, &text, NULL, &local))
    {
      if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      self->counter = self->reserved = 0;
      return TRUE;
    }
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

gboolean
soter_keystore_next_counter (SoterKeystore *self, guint64 *out_counter, GError **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);

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

static EVP_PKEY *
load_or_create_device_key (SoterKeystore *self, GError **error)
{
  g_autofree char *path = g_build_filename (self->keys_dir, "device.pem", NULL);
  g_autoptr(EVP_PKEY) pkey = NULL;

  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return load_key_file (path, NULL, NULL, error);

  pkey = generate_key (error);
  if (pkey == NULL || !save_key_file (path, pkey, NULL, NULL, error))
    return NULL;
  g_message ("Created the device attestation key");
  return g_steal_pointer (&pkey);
}

/* Loads a signed key, or makes it: a fresh key, its key_json with the next
 * counter value, signed by @parent_pkey. */
static EVP_PKEY *
load_or_create_signed_key (SoterKeystore *self,
                           const char    *path,
                           EVP_PKEY      *parent_pkey,
                           guint32        uid,
                           char         **out_json,
                           char         **out_sig,
                           GError       **error)
{
  g_autoptr(EVP_PKEY) pkey = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *json = NULL;
  g_autofree char *sig = NULL;
  g_autofree char *dir = NULL;
  guint64 counter;

  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return load_key_file (path, out_json, out_sig, error);

  if (parent_pkey == NULL)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "No parent key for %s", path);
      return NULL;
    }
  dir = g_path_get_dirname (path);
  if (!soter_file_ensure_dir (dir, error))
    return NULL;
  pkey = generate_key (error);
  if (pkey == NULL)
    return NULL;
  pem = public_pem (pkey);
  if (pem == NULL)
    {
      openssl_error (error, "Could not encode a public key");
      return NULL;
    }
  if (!soter_keystore_next_counter (self, &counter, error))
    return NULL;
  json = soter_key_json_build (pem, self->cpu_id, counter, uid);
  sig = pss_sign (parent_pkey, json, strlen (json), error);
  if (sig == NULL || !save_key_file (path, pkey, json, sig, error))
    return NULL;

  *out_json = g_steal_pointer (&json);
  *out_sig = g_steal_pointer (&sig);
  return g_steal_pointer (&pkey);
}

static char *
app_dir (SoterKeystore *self, const char *app)
{
  return g_build_filename (self->keys_dir, "apps", app, NULL);
}

static EVP_PKEY *
load_app_key (SoterKeystore *self, const char *app, guint32 uid,
              char **out_json, char **out_sig, GError **error)
{
  g_autofree char *dir = app_dir (self, app);
  g_autofree char *path = g_build_filename (dir, "ask.key", NULL);
  g_autoptr(EVP_PKEY) device = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      device = load_or_create_device_key (self, error);
      if (device == NULL)
        return NULL;
    }
  return load_or_create_signed_key (self, path, device, uid, out_json, out_sig, error);
}

static EVP_PKEY *
load_auth_key (SoterKeystore *self, const char *app, guint32 uid, const char *scene,
               char **out_json, char **out_sig, GError **error)
{
  g_autofree char *dir = app_dir (self, app);
  g_autofree char *name = g_strdup_printf ("auth-%s.key", scene);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(EVP_PKEY) ask = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *ask_json = NULL;
      g_autofree char *ask_sig = NULL;

      ask = load_app_key (self, app, uid, &ask_json, &ask_sig, error);
      if (ask == NULL)
        return NULL;
    }
  return load_or_create_signed_key (self, path, ask, uid, out_json, out_sig, error);
}

gboolean
soter_keystore_get_app_key (SoterKeystore *self, const char *app, guint32 uid,
                            char **out_key_json, char **out_signature, GError **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
  g_autoptr(EVP_PKEY) pkey = load_app_key (self, app, uid, out_key_json, out_signature, error);
  return pkey != NULL;
}

gboolean
soter_keystore_get_auth_key (SoterKeystore *self, const char *app, guint32 uid,
                             const char *scene, char **out_key_json,
                             char **out_signature, GError **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
  g_autoptr(EVP_PKEY) pkey = NULL;

  if (!soter_keystore_check_scene (scene, error))
    return FALSE;
  pkey = load_auth_key (self, app, uid, scene, out_key_json, out_signature, error);
  return pkey != NULL;
}

char *
soter_keystore_sign (SoterKeystore *self, const char *app, guint32 uid,
                     const char *scene, const char *data, gsize len, GError **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
  g_autofree char *json = NULL;
  g_autofree char *sig = NULL;
  g_autoptr(EVP_PKEY) pkey = NULL;

  if (!soter_keystore_check_scene (scene, error))
    return NULL;
  pkey = load_auth_key (self, app, uid, scene, &json, &sig, error);
  if (pkey == NULL)
    return NULL;
  return pss_sign (pkey, data, len, error);
}

/* ---- in a worker thread ------------------------------------------- */

typedef struct {
  char             *app;
  guint32           uid;
  char             *scene;
  SoterResultFields fields;   /* raw, fid, fp_n, fp_v owned by the job */
  char             *json;     /* results */
  char             *signature;
} Job;

static void
job_free (Job *job)
{
  g_free (job->app);
  g_free (job->scene);
  g_free ((char *) job->fields.raw);
  g_free ((char *) job->fields.fid);
  g_free ((char *) job->fields.fp_n);
  g_free ((char *) job->fields.fp_v);
  g_free (job->json);
  g_free (job->signature);
  g_free (job);
}

static gboolean
job_finish (GAsyncResult *result, char **out_json, char **out_signature, GError **error)
{
  Job *job;

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  job = g_task_get_task_data (G_TASK (result));
  *out_json = g_steal_pointer (&job->json);
  *out_signature = g_steal_pointer (&job->signature);
  return TRUE;
}

/* GLib's pool threads outlive a job; free OpenSSL's per-thread state (its
 * random generators) now rather than whenever the thread happens to exit. */
static void
release_thread_state (void)
{
  OPENSSL_thread_stop ();
}

static void
get_key_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SoterKeystore *self = source;
  Job *job = data;
  GError *error = NULL;
  gboolean ok;

  if (job->scene == NULL)
    ok = soter_keystore_get_app_key (self, job->app, job->uid, &job->json, &job->signature,
                                     &error);
  else
    ok = soter_keystore_get_auth_key (self, job->app, job->uid, job->scene, &job->json,
                                      &job->signature, &error);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  release_thread_state ();
}

void
soter_keystore_get_key_async (SoterKeystore *self, const char *app, guint32 uid,
                              const char *scene, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  Job *job = g_new0 (Job, 1);

  job->app = g_strdup (app);
  job->uid = uid;
  job->scene = g_strdup (scene);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, get_key_thread);
}

gboolean
soter_keystore_get_key_finish (SoterKeystore *self, GAsyncResult *result, char **out_key_json,
                               char **out_signature, GError **error)
{
  return job_finish (result, out_key_json, out_signature, error);
}

static void
sign_result_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SoterKeystore *self = source;
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
  Job *job = data;
  GError *error = NULL;
  g_autoptr(EVP_PKEY) pkey = NULL;
  g_autofree char *key_json = NULL;
  g_autofree char *key_sig = NULL;

  /* What the key store itself says: fixed once the store is open. */
  job->fields.tee_n = soter_keystore_get_tee_name (self);
  job->fields.tee_v = soter_keystore_get_tee_version (self);
  job->fields.cpu_id = self->cpu_id;

  /* The auth key first, loaded once: making it takes a counter value, and
   * the result's counter must come after it. */
  pkey = load_auth_key (self, job->app, job->fields.uid, SOTER_DEFAULT_SCENE, &key_json,
                        &key_sig, &error);
  if (pkey != NULL && soter_keystore_next_counter (self, &job->fields.counter, &error))
    {
      job->json = soter_result_json_build (&job->fields);
      job->signature = pss_sign (pkey, job->json, strlen (job->json), &error);
    }
  if (job->signature == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  release_thread_state ();
}

void
soter_keystore_sign_result_async (SoterKeystore *self, const char *app,
                                  const SoterResultFields *fields,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  Job *job = g_new0 (Job, 1);

  job->app = g_strdup (app);
  job->fields = *fields;
  job->fields.raw = g_strdup (fields->raw);
  job->fields.fid = g_strdup (fields->fid);
  job->fields.fp_n = g_strdup (fields->fp_n);
  job->fields.fp_v = g_strdup (fields->fp_v);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, sign_result_thread);
}

gboolean
soter_keystore_sign_result_finish (SoterKeystore *self, GAsyncResult *result,
                                   char **out_result_json, char **out_signature,
                                   GError **error)
{
  return job_finish (result, out_result_json, out_signature, error);
}

/* ---- names --------------------------------------------------------- */

char *
soter_keystore_app_name (guint32 uid, const char *flatpak_id)
{
  if (flatpak_id != NULL && *flatpak_id != '\0')
    return g_strdup_printf ("%u-%s", uid, flatpak_id);
  return g_strdup_printf ("%u", uid);
}

gboolean
soter_keystore_check_scene (const char *scene, GError **error)
{
  /* A scene names a file: keep it to a safe, bounded alphabet. */
  gsize len = strlen (scene);

  if (len == 0 || len > 64 || scene[0] == '.')
    goto bad;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (scene[i]) && scene[i] != '_' && scene[i] != '-' && scene[i] != '.')
      goto bad;
  return TRUE;

bad:
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
               "A scene is 1 to 64 characters of A-Z, a-z, 0-9, '_', '-' and '.', "
               "not starting with '.'");
  return FALSE;
}

const char *
soter_keystore_get_device_key_pem (SoterKeystore *self)
{
  return self->device_pub_pem;
}

const char *
soter_keystore_get_cpu_id (SoterKeystore *self)
{
  return self->cpu_id;
}

const char *
soter_keystore_get_tee_name (SoterKeystore *self)
{
  return "soterd-software";
}

const char *
soter_keystore_get_tee_version (SoterKeystore *self)
{
  /* The version of the file store's on-disk format. */
  return "1";
}

guint64
soter_keystore_get_counter (SoterKeystore *self)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);

  return self->counter;
}

SoterKeystore *
soter_keystore_new (const char *state_dir, GError **error)
{
  g_autoptr(SoterKeystore) self = g_object_new (SOTER_TYPE_KEYSTORE, NULL);
  g_autoptr(EVP_PKEY) device = NULL;

  self->keys_dir = g_build_filename (state_dir, "keys", NULL);
  self->counter_path = g_build_filename (self->keys_dir, "counter", NULL);

  if (!soter_file_ensure_dir (self->keys_dir, error) || !load_counter (self, error))
    return NULL;
  device = load_or_create_device_key (self, error);
  if (device == NULL)
    return NULL;
  self->device_pub_pem = public_pem (device);
  self->cpu_id = spki_sha256_hex (device);
  if (self->device_pub_pem == NULL || self->cpu_id == NULL)
    {
      openssl_error (error, "Could not encode the device key");
      return NULL;
    }
  return g_steal_pointer (&self);
}

static void
soter_keystore_finalize (GObject *object)
{
  SoterKeystore *self = SOTER_KEYSTORE (object);

  g_free (self->keys_dir);
  g_free (self->counter_path);
  g_free (self->device_pub_pem);
  g_free (self->cpu_id);
  g_rec_mutex_clear (&self->lock);
  G_OBJECT_CLASS (soter_keystore_parent_class)->finalize (object);
}

static void
soter_keystore_class_init (SoterKeystoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = soter_keystore_finalize;
}

static void
soter_keystore_init (SoterKeystore *self)
{
  g_rec_mutex_init (&self->lock);
}
