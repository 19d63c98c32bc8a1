/* soter-keystore.c — SOTER's chain of keys over a back end.
 *
 * The device attestation key (ATTK) signs one app secure key (ASK) per app,
 * which signs the app's auth keys, one per scene. Where the private keys and
 * the counter live is the back end's (soter-keystore-backend.h): files under
 * <state>/keys, or a TPM with its blobs under <state>/tpm. Either way each
 * signed key is one file in that directory:
 *   apps/<app>/ask.key
 *   apps/<app>/auth-<scene>.key
 * holding the back end's text for the key followed by two lines,
 * "key_json: …" and "signature: …", so a key, its key_json and the parent's
 * signature over it are written in one atomic rename: there is never a key
 * on disk without its signature, or the other way round.
 *
 * Key generation takes a noticeable time, so callers run key store
 * operations in a worker thread; a (recursive) lock makes each public
 * operation atomic with respect to the others.
 */
#include "soter-keystore.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "soter-error.h"
#include "soter-file.h"
#include "soter-keystore-backend.h"
#include "soter-result.h"

#define JSON_TAG "key_json: "
#define SIG_TAG "signature: "

struct _SoterKeystore
{
  GObject  parent_instance;

  SoterKeystoreBackend *backend;
  char    *keys_dir;
  char    *device_pub_pem;
  char    *cpu_id;
  guint    max_scenes;
  GRecMutex lock;
  GMutex   making_lock;  /* guards making: path → uid of each key being made */
  GCond    made;
  GHashTable *making;
  guint    jobs;      /* in a worker thread, until their callback has run */
};

G_DEFINE_TYPE (SoterKeystore, soter_keystore, G_TYPE_OBJECT)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)

#define BACKEND_GET_CLASS(self) SOTER_KEYSTORE_BACKEND_GET_CLASS ((self)->backend)

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
sign (SoterKeystore *self, SoterKey *key, const char *data, gsize len, GError **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
  g_autoptr(GByteArray) sig = g_byte_array_new ();

  if (!BACKEND_GET_CLASS (self)->sign (self->backend, key, data, len, sig, error))
    return NULL;
  return g_base64_encode (sig->data, sig->len);
}

/* Reads a key file: the key, its key_json and its parent's signature. The
 * file's bytes are cleansed before they are freed. */
static SoterKey *
load_key_file (SoterKeystore *self, const char *path, char **out_json, char **out_sig,
               GError **error)
{
  g_auto(SoterSecret) file = { NULL, 0 };
  g_autoptr(SoterKey) key = NULL;
  g_autoptr(GError) local = NULL;
  const char *line;

  if (!g_file_get_contents (path, &file.data, &file.len, &local))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  key = BACKEND_GET_CLASS (self)->parse (self->backend, file.data, file.len, error);
  if (key == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }

  for (line = file.data; line != NULL && *line != '\0'; )
    {
      const char *eol = strchr (line, '\n');
      gsize n = eol ? (gsize) (eol - line) : strlen (line);

      if (g_str_has_prefix (line, JSON_TAG) && *out_json == NULL)
        *out_json = g_strndup (line + strlen (JSON_TAG), n - strlen (JSON_TAG));
      else if (g_str_has_prefix (line, SIG_TAG) && *out_sig == NULL)
        *out_sig = g_strndup (line + strlen (SIG_TAG), n - strlen (SIG_TAG));
      line = eol ? eol + 1 : NULL;
    }
  if (*out_json == NULL || *out_sig == NULL)
    {
      g_clear_pointer (out_json, g_free);
      g_clear_pointer (out_sig, g_free);
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                   "%s: key file has no key_json or signature", path);
      return NULL;
    }
  return g_steal_pointer (&key);
}

/* Writes the key and its trailer in one atomic file. */
static gboolean
save_key_file (SoterKeystore *self, const char *path, SoterKey *key, const char *json,
               const char *sig, GError **error)
{
  g_auto(SoterSecret) text = { NULL, 0 };
  g_auto(SoterSecret) file = { NULL, 0 };
  g_autofree char *trailer = NULL;
  gsize trailer_len;

  if (!BACKEND_GET_CLASS (self)->serialize (self->backend, key, &text, error))
    return FALSE;
  /* The trailer is public (key_json and its signature); the text may be a
   * private key: it goes into one buffer of the exact size, cleansed, as
   * printf-style helpers leave copies behind in the heap as they grow. */
  trailer = g_strconcat (JSON_TAG, json, "\n", SIG_TAG, sig, "\n", NULL);
  trailer_len = strlen (trailer);
  file.len = text.len + trailer_len;
  file.data = g_malloc (file.len);
  memcpy (file.data, text.data, text.len);
  memcpy (file.data + text.len, trailer, trailer_len);
  return soter_file_write_atomic (path, file.data, file.len, 0600, error);
}

gboolean
soter_keystore_next_counter (SoterKeystore *self, guint64 *out_counter, GError **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);

  return BACKEND_GET_CLASS (self)->next_counter (self->backend, out_counter, error);
}

/* Whether @dir may hold one more auth key for a scene: at most max_scenes
 * besides "default", which every app may have (else one host app could
 * use up its uid's scenes and stop the others from authenticating). */
static gboolean
room_for_scene (SoterKeystore *self, const char *dir, GError **error)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "auth-") && g_str_has_suffix (name, ".key") &&
        !g_str_equal (name, "auth-" SOTER_DEFAULT_SCENE ".key"))
      n++;
  if (n < self->max_scenes)
    return TRUE;
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED,
               "An app may have at most %u scenes (MaxScenes)", self->max_scenes);
  return FALSE;
}

static SoterKey *
generate (SoterKeystore *self, GError **error)
{
  if (BACKEND_GET_CLASS (self)->generate_is_thread_safe)
    return BACKEND_GET_CLASS (self)->generate (self->backend, error);
  {
    G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
    return BACKEND_GET_CLASS (self)->generate (self->backend, error);
  }
}

static SoterKey *
load_key_file_locked (SoterKeystore *self, const char *path, char **out_json, char **out_sig,
                      GError **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);

  return load_key_file (self, path, out_json, out_sig, error);
}

/* The new key's key_json (with the next counter value), its parent's
 * signature and its file: one locked step. */
static SoterKey *
commit_new_key (SoterKeystore *self,
                const char    *path,
                SoterKey      *new_key,
                SoterKey      *parent,
                guint32        uid,
                char         **out_json,
                char         **out_sig,
                GError       **error)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
  g_autoptr(SoterKey) key = new_key;
  g_autofree char *pem = NULL;
  g_autofree char *json = NULL;
  g_autofree char *sig = NULL;
  guint64 counter;

  pem = public_pem (key->pkey);
  if (pem == NULL)
    {
      soter_keystore_openssl_error (error, "Could not encode a public key");
      return NULL;
    }

  if (!soter_keystore_next_counter (self, &counter, error))
    return NULL;
  json = soter_key_json_build (pem, self->cpu_id, counter, uid);
  sig = sign (self, parent, json, strlen (json), error);
  if (sig == NULL || !save_key_file (self, path, key, json, sig, error))
    return NULL;

  *out_json = g_steal_pointer (&json);
  *out_sig = g_steal_pointer (&sig);
  return g_steal_pointer (&key);
}

/* Whether a key of @uid is being made. */
static gboolean
uid_is_making (SoterKeystore *self, guint32 uid)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->making);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (GPOINTER_TO_UINT (value) == uid)
      return TRUE;
  return FALSE;
}

/* Loads a signed key, or makes it: a fresh key, its key_json with the next
 * counter value, signed by @parent. A @scene key counts against MaxScenes.
 * Called without the lock: the key is generated outside it (where the back
 * end allows), so other callers' signatures go on meanwhile; the counter,
 * the signature and the file are one locked step. */
static SoterKey *
load_or_create_signed_key (SoterKeystore *self,
                           const char    *path,
                           SoterKey      *parent,
                           guint32        uid,
                           gboolean       scene,
                           char         **out_json,
                           char         **out_sig,
                           GError       **error)
{
  g_autoptr(SoterKey) key = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  {
    G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);

    if (g_file_test (path, G_FILE_TEST_EXISTS))
      return load_key_file (self, path, out_json, out_sig, error);
    if (parent == NULL)
      {
        g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "No parent key for %s", path);
        return NULL;
      }
    if (!soter_file_ensure_dir (dir, error))
      return NULL;
  }

  /* One key of a uid is made at a time (an app asking for many scenes at
   * once does not get a generation each, in parallel, on root's CPU); keys
   * of other uids are made beside it. Others that need the same key wait
   * for it, then load it. */
  g_mutex_lock (&self->making_lock);
  while (g_hash_table_contains (self->making, path) || uid_is_making (self, uid))
    g_cond_wait (&self->made, &self->making_lock);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_mutex_unlock (&self->making_lock);
      return load_key_file_locked (self, path, out_json, out_sig, error);
    }
  /* Nothing else of this uid is being made, and an app directory is one
   * uid's: the files are the count, and stay it until this key is saved. */
  if (scene && !room_for_scene (self, dir, error))
    {
      g_mutex_unlock (&self->making_lock);
      return NULL;
    }
  g_hash_table_insert (self->making, g_strdup (path), GUINT_TO_POINTER (uid));
  g_mutex_unlock (&self->making_lock);

  g_debug ("Making a key for %s", path);
  key = generate (self, error);
  if (key != NULL)
    key = commit_new_key (self, path, g_steal_pointer (&key), parent, uid, out_json, out_sig,
                          error);

  g_mutex_lock (&self->making_lock);
  g_hash_table_remove (self->making, path);
  g_cond_broadcast (&self->made);
  g_mutex_unlock (&self->making_lock);
  return g_steal_pointer (&key);
}

/* "<uid>" or "<uid>-<application id>": the only names an app directory may
 * have, so that no name can reach outside keys/apps/. */
static gboolean
is_app_name (const char *app)
{
  g_autofree char *uid_part = NULL;
  const char *dash;
  guint64 uid;

  if (app == NULL || strchr (app, '/') != NULL)
    return FALSE;
  dash = strchr (app, '-');
  uid_part = dash ? g_strndup (app, (gsize) (dash - app)) : g_strdup (app);
  if (!g_ascii_string_to_unsigned (uid_part, 10, 0, G_MAXUINT32, &uid, NULL))
    return FALSE;
  return dash == NULL || g_application_id_is_valid (dash + 1);
}

static char *
app_dir (SoterKeystore *self, const char *app, GError **error)
{
  g_autofree char *apps = g_build_filename (self->keys_dir, "apps", NULL);
  g_autofree char *dir = NULL;
  g_autofree char *parent = NULL;

  if (!is_app_name (app))
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "not a valid app: %s", app);
      return NULL;
    }
  dir = g_build_filename (apps, app, NULL);
  parent = g_path_get_dirname (dir);
  /* By construction; checked all the same, as a key path. */
  g_assert (g_str_equal (parent, apps));
  return g_steal_pointer (&dir);
}

static SoterKey *
load_app_key (SoterKeystore *self, const char *app, guint32 uid,
              char **out_json, char **out_sig, GError **error)
{
  g_autofree char *dir = app_dir (self, app, error);
  g_autofree char *path = NULL;
  g_autoptr(SoterKey) device = NULL;

  if (dir == NULL)
    return NULL;
  path = g_build_filename (dir, "ask.key", NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);

      device = BACKEND_GET_CLASS (self)->device_key (self->backend, error);
      if (device == NULL)
        return NULL;
    }
  return load_or_create_signed_key (self, path, device, uid, FALSE, out_json, out_sig, error);
}

static SoterKey *
load_auth_key (SoterKeystore *self, const char *app, guint32 uid, const char *scene,
               char **out_json, char **out_sig, GError **error)
{
  g_autofree char *dir = app_dir (self, app, error);
  g_autofree char *name = g_strdup_printf ("auth-%s.key", scene);
  g_autofree char *path = NULL;
  g_autoptr(SoterKey) ask = NULL;

  if (dir == NULL)
    return NULL;
  path = g_build_filename (dir, name, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *ask_json = NULL;
      g_autofree char *ask_sig = NULL;

      ask = load_app_key (self, app, uid, &ask_json, &ask_sig, error);
      if (ask == NULL)
        return NULL;
    }
  return load_or_create_signed_key (self, path, ask, uid,
                                    !g_str_equal (scene, SOTER_DEFAULT_SCENE), out_json, out_sig,
                                    error);
}

gboolean
soter_keystore_get_app_key (SoterKeystore *self, const char *app, guint32 uid,
                            char **out_key_json, char **out_signature, GError **error)
{
  g_autoptr(SoterKey) key = load_app_key (self, app, uid, out_key_json, out_signature, error);
  return key != NULL;
}

gboolean
soter_keystore_get_auth_key (SoterKeystore *self, const char *app, guint32 uid,
                             const char *scene, char **out_key_json,
                             char **out_signature, GError **error)
{
  g_autoptr(SoterKey) key = NULL;

  if (!soter_keystore_check_scene (scene, error))
    return FALSE;
  key = load_auth_key (self, app, uid, scene, out_key_json, out_signature, error);
  return key != NULL;
}

char *
soter_keystore_sign (SoterKeystore *self, const char *app, guint32 uid,
                     const char *scene, const char *data, gsize len, GError **error)
{
  g_autofree char *json = NULL;
  g_autofree char *sig = NULL;
  g_autoptr(SoterKey) key = NULL;

  if (!soter_keystore_check_scene (scene, error))
    return NULL;
  key = load_auth_key (self, app, uid, scene, &json, &sig, error);
  if (key == NULL)
    return NULL;
  return sign (self, key, data, len, error);
}

/* ---- in a worker thread ------------------------------------------- */

typedef struct {
  char             *app;
  guint32           uid;
  char             *scene;
  SoterResultFields fields;   /* raw, fid, fp_n, fp_v owned by the job */
  char             *json;     /* results */
  char             *signature;
  SoterAuthKey     *auth_key;
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
  g_clear_pointer (&job->auth_key, soter_auth_key_unref);
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
on_job_completed (GObject *task, GParamSpec *pspec, gpointer data)
{
  SoterKeystore *self = SOTER_KEYSTORE (g_task_get_source_object (G_TASK (task)));

  self->jobs--;
}

/* Runs @func in a worker thread, counted until the task's callback has run
 * (GTask notifies "completed" right after it, in the caller's context). */
static void
run_job (SoterKeystore *self, GTask *task, GTaskThreadFunc func)
{
  self->jobs++;
  g_signal_connect (task, "notify::completed", G_CALLBACK (on_job_completed), NULL);
  g_task_run_in_thread (task, func);
}

gboolean
soter_keystore_is_busy (SoterKeystore *self)
{
  return self->jobs > 0;
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
  run_job (self, task, get_key_thread);
}

gboolean
soter_keystore_get_key_finish (SoterKeystore *self, GAsyncResult *result, char **out_key_json,
                               char **out_signature, GError **error)
{
  return job_finish (result, out_key_json, out_signature, error);
}

/* ---- an authentication's key work ---------------------------------- */

struct _SoterAuthKey {
  SoterKey *key;
};

static void
auth_key_clear (gpointer data)
{
  g_clear_pointer (&((SoterAuthKey *) data)->key, soter_key_free);
}

SoterAuthKey *
soter_auth_key_ref (SoterAuthKey *key)
{
  return g_atomic_rc_box_acquire (key);
}

void
soter_auth_key_unref (SoterAuthKey *key)
{
  g_atomic_rc_box_release_full (key, auth_key_clear);
}

static void
load_auth_key_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SoterKeystore *self = source;
  Job *job = data;
  GError *error = NULL;
  g_autofree char *key_json = NULL;
  g_autofree char *key_sig = NULL;
  SoterKey *key;

  /* Made here if the app has none yet: that takes a counter value, before
   * the one the result will take. */
  key = load_auth_key (self, job->app, job->uid, SOTER_DEFAULT_SCENE, &key_json, &key_sig,
                       &error);
  if (key == NULL)
    g_task_return_error (task, error);
  else
    {
      SoterAuthKey *auth = g_atomic_rc_box_new0 (SoterAuthKey);

      auth->key = key;
      g_task_return_pointer (task, auth, (GDestroyNotify) soter_auth_key_unref);
    }
  release_thread_state ();
}

void
soter_keystore_load_auth_key_async (SoterKeystore *self, const char *app, guint32 uid,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Job *job = g_new0 (Job, 1);

  job->app = g_strdup (app);
  job->uid = uid;
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  run_job (self, task, load_auth_key_thread);
}

SoterAuthKey *
soter_keystore_load_auth_key_finish (SoterKeystore *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
sign_result_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SoterKeystore *self = source;
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);
  Job *job = data;
  GError *error = NULL;

  /* What the key store itself says: fixed once the store is open. */
  job->fields.tee_n = soter_keystore_get_tee_name (self);
  job->fields.tee_v = soter_keystore_get_tee_version (self);
  job->fields.cpu_id = self->cpu_id;

  if (BACKEND_GET_CLASS (self)->hold != NULL)
    BACKEND_GET_CLASS (self)->hold (self->backend);
  if (soter_keystore_next_counter (self, &job->fields.counter, &error))
    {
      job->json = soter_result_json_build (&job->fields);
      job->signature = sign (self, job->auth_key->key, job->json, strlen (job->json), &error);
    }
  if (BACKEND_GET_CLASS (self)->release != NULL)
    BACKEND_GET_CLASS (self)->release (self->backend);
  if (job->signature == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  release_thread_state ();
}

void
soter_keystore_sign_result_async (SoterKeystore *self, SoterAuthKey *key,
                                  const SoterResultFields *fields,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  Job *job = g_new0 (Job, 1);

  job->auth_key = soter_auth_key_ref (key);
  job->fields = *fields;
  job->fields.raw = g_strdup (fields->raw);
  job->fields.fid = g_strdup (fields->fid);
  job->fields.fp_n = g_strdup (fields->fp_n);
  job->fields.fp_v = g_strdup (fields->fp_v);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  run_job (self, task, sign_result_thread);
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
  if (flatpak_id == NULL)
    return g_strdup_printf ("%u", uid);
  /* The caller's identification checked it already; a key path depends on it. */
  if (!g_application_id_is_valid (flatpak_id))
    return NULL;
  return g_strdup_printf ("%u-%s", uid, flatpak_id);
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
  return BACKEND_GET_CLASS (self)->get_tee_name (self->backend);
}

const char *
soter_keystore_get_tee_version (SoterKeystore *self)
{
  return BACKEND_GET_CLASS (self)->get_tee_version (self->backend);
}

guint64
soter_keystore_get_counter (SoterKeystore *self)
{
  G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new (&self->lock);

  return BACKEND_GET_CLASS (self)->get_counter (self->backend);
}

/* KeyStore=auto: the TPM where /dev/tpmrm0 answers, unless this machine's
 * keys already live in files. Moving them would change cpu_id and every key
 * apps' servers registered, so an existing file store is kept; and a TPM
 * store, once made, is never replaced by files because the TPM failed once.
 * Only a machine with no store yet falls back to files (*out_fallback). */
static SoterKeystoreKind
choose_kind (const char *state_dir, const SoterKeystoreOptions *options, gboolean *out_fallback)
{
  g_autofree char *file_device = g_build_filename (state_dir, "keys", "device.pem", NULL);
  g_autofree char *tpm_dir = g_build_filename (state_dir, "tpm", NULL);

  *out_fallback = FALSE;
  if (options->kind != SOTER_KEYSTORE_KIND_AUTO)
    return options->kind;
  if (g_file_test (tpm_dir, G_FILE_TEST_IS_DIR))
    return SOTER_KEYSTORE_KIND_TPM;
  if (g_file_test (file_device, G_FILE_TEST_EXISTS))
    return SOTER_KEYSTORE_KIND_FILE;
  if (g_strcmp0 (options->tpm_tcti, SOTER_KEYSTORE_DEFAULT_TCTI) == 0 &&
      access ("/dev/tpmrm0", R_OK | W_OK) != 0)
    return SOTER_KEYSTORE_KIND_FILE;
  *out_fallback = TRUE;
  return SOTER_KEYSTORE_KIND_TPM;
}

static SoterKeystoreBackend *
open_backend (const char *state_dir, const SoterKeystoreOptions *options, char **out_dir,
              GError **error)
{
  gboolean fallback;
  SoterKeystoreKind kind = choose_kind (state_dir, options, &fallback);
  g_autoptr(GError) local = NULL;
  SoterKeystoreBackend *backend;

  if (kind == SOTER_KEYSTORE_KIND_TPM)
    {
      g_autofree char *tpm_dir = g_build_filename (state_dir, "tpm", NULL);

      backend = soter_keystore_tpm_new (tpm_dir, options->tpm_tcti, options->tpm_nv_index,
                                        &local);
      if (backend != NULL)
        {
          *out_dir = g_steal_pointer (&tpm_dir);
          return backend;
        }
      if (!fallback)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      /* auto, and no store yet: a TPM that does not work is no TPM. Remove
       * what the attempt made (its directory did not exist), so the next
       * start does not take it for a TPM store. */
      g_message ("Not using the TPM: %s", local->message);
      for (const char *const *f = (const char *const[]) { "auth", "device.pub", NULL }; *f; f++)
        {
          g_autofree char *path = g_build_filename (tpm_dir, *f, NULL);
          g_unlink (path);
        }
      g_rmdir (tpm_dir);
    }
  *out_dir = g_build_filename (state_dir, "keys", NULL);
  return soter_keystore_file_new (*out_dir, error);
}

SoterKeystore *
soter_keystore_new (const char *state_dir, const SoterKeystoreOptions *options,
                    GError **error)
{
  static const SoterKeystoreOptions file_store = { SOTER_KEYSTORE_KIND_FILE, NULL, 0, 0 };
  g_autoptr(SoterKeystore) self = g_object_new (SOTER_TYPE_KEYSTORE, NULL);
  g_autoptr(SoterKey) device = NULL;

  if (options == NULL)
    options = &file_store;
  self->max_scenes = options->max_scenes ? options->max_scenes : SOTER_KEYSTORE_DEFAULT_MAX_SCENES;
  self->backend = open_backend (state_dir, options, &self->keys_dir, error);
  if (self->backend == NULL)
    return NULL;
  device = BACKEND_GET_CLASS (self)->device_key (self->backend, error);
  if (device == NULL)
    return NULL;
  self->device_pub_pem = public_pem (device->pkey);
  self->cpu_id = spki_sha256_hex (device->pkey);
  if (self->device_pub_pem == NULL || self->cpu_id == NULL)
    {
      soter_keystore_openssl_error (error, "Could not encode the device key");
      return NULL;
    }
  g_debug ("Key store: %s (%s %s)", self->keys_dir, soter_keystore_get_tee_name (self),
           soter_keystore_get_tee_version (self));
  return g_steal_pointer (&self);
}

static void
soter_keystore_finalize (GObject *object)
{
  SoterKeystore *self = SOTER_KEYSTORE (object);

  g_clear_object (&self->backend);
  g_free (self->keys_dir);
  g_free (self->device_pub_pem);
  g_free (self->cpu_id);
  g_rec_mutex_clear (&self->lock);
  g_mutex_clear (&self->making_lock);
  g_cond_clear (&self->made);
  g_hash_table_unref (self->making);
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
  g_mutex_init (&self->making_lock);
  g_cond_init (&self->made);
  self->making = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}
