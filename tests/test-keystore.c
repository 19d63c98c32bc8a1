/* Unit tests: the file key store and the lock-out file. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "soter-error.h"
#include "soter-file.h"
#include "soter-keystore.h"
#include "soter-lockout.h"
#include "soter-prints.h"

/* The directories fsync()ed while a case records them (NULL: not
 * recording), by their real path. This definition stands in for libc's
 * for the code linked into this program: the executable's symbol comes
 * first. It does the system call itself. */
static GPtrArray *synced_dirs;

int
fsync (int fd)
{
  struct stat st;

  if (synced_dirs != NULL && fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      char link[64], target[PATH_MAX];
      ssize_t n;

      g_snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
      n = readlink (link, target, sizeof target - 1);
      if (n > 0)
        {
          target[n] = '\0';
          g_ptr_array_add (synced_dirs, g_strdup (target));
        }
    }
  return (int) syscall (SYS_fsync, fd);
}

static void
record_syncs (void)
{
  g_clear_pointer (&synced_dirs, g_ptr_array_unref);
  synced_dirs = g_ptr_array_new_with_free_func (g_free);
}

static void
assert_synced (const char *dir)
{
  char real[PATH_MAX];

  g_assert_nonnull (realpath (dir, real));
  for (guint i = 0; i < synced_dirs->len; i++)
    if (g_str_equal (synced_dirs->pdata[i], real))
      return;
  g_error ("%s was not fsynced", real);
}

static void
stop_recording (void)
{
  g_clear_pointer (&synced_dirs, g_ptr_array_unref);
}

typedef struct {
  char *dir;
} Fixture;

static void
setup_fresh (Fixture *fx, gconstpointer data)
{
  fx->dir = g_dir_make_tmp ("soterd-unit-XXXXXX", NULL);
  g_assert_nonnull (fx->dir);
}

static void
copy_tree (GFile *from, GFile *to)
{
  g_autoptr(GFileEnumerator) e = g_file_enumerate_children (from, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                            G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                            NULL, NULL);
  GFileInfo *info;

  g_assert_nonnull (e);
  while ((info = g_file_enumerator_next_file (e, NULL, NULL)) != NULL)
    {
      g_autoptr(GFile) src = g_file_get_child (from, g_file_info_get_name (info));
      g_autoptr(GFile) dst = g_file_get_child (to, g_file_info_get_name (info));

      if (g_file_query_file_type (src, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL) ==
          G_FILE_TYPE_DIRECTORY)
        {
          g_assert_true (g_file_make_directory (dst, NULL, NULL));
          copy_tree (src, dst);
          g_assert_true (g_file_copy_attributes (src, dst, G_FILE_COPY_ALL_METADATA, NULL, NULL));
        }
      else
        g_assert_true (g_file_copy (src, dst, G_FILE_COPY_ALL_METADATA, NULL, NULL, NULL, NULL));
      g_object_unref (info);
    }
}

static char *template_dir;

/* A state with the device key and app 1000's keys, made once by the key
 * store and copied for each case that does not test their making: RSA key
 * generation takes ~30 s under valgrind. */
static void
setup (Fixture *fx, gconstpointer data)
{
  g_autoptr(GFile) from = NULL;
  g_autoptr(GFile) to = NULL;

  if (template_dir == NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SoterKeystore) ks = NULL;
      g_autofree char *json = NULL, *sig = NULL;

      template_dir = g_dir_make_tmp ("soterd-unit-template-XXXXXX", NULL);
      ks = soter_keystore_new (template_dir, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (soter_keystore_get_auth_key (ks, "1000", 1000, "default", &json, &sig,
                                                  &error));
    }
  setup_fresh (fx, data);
  from = g_file_new_for_path (template_dir);
  to = g_file_new_for_path (fx->dir);
  copy_tree (from, to);
}

static void
rm_rf (const char *path)
{
  g_autoptr(GFile) f = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) e = g_file_enumerate_children (f, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                            G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                            NULL, NULL);
  GFileInfo *info;

  while (e != NULL && (info = g_file_enumerator_next_file (e, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        rm_rf (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

static void
teardown (Fixture *fx, gconstpointer data)
{
  rm_rf (fx->dir);
  g_free (fx->dir);
}

/* Verifies like a relying party: RSA-PSS, SHA-256, MGF1-SHA-256, salt 20. */
static gboolean
pss_verify (const char *pub_pem, const char *data, const char *sig_b64)
{
  BIO *bio = BIO_new_mem_buf (pub_pem, -1);
  EVP_PKEY *pkey = PEM_read_bio_PUBKEY (bio, NULL, NULL, NULL);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  gsize siglen;
  g_autofree guchar *sig = g_base64_decode (sig_b64, &siglen);
  gboolean ok;

  g_assert_nonnull (pkey);
  ok = EVP_DigestVerifyInit (md, &pctx, EVP_sha256 (), NULL, pkey) == 1 &&
       EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
       EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, 20) == 1 &&
       EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) == 1 &&
       EVP_DigestVerify (md, sig, siglen, (const guchar *) data, strlen (data)) == 1;
  EVP_MD_CTX_free (md);
  EVP_PKEY_free (pkey);
  BIO_free (bio);
  return ok;
}

static char *
json_string (const char *json, const char *member)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  return g_strdup (json_object_get_string_member (
    json_node_get_object (json_parser_get_root (parser)), member));
}

static gint64
json_int (const char *json, const char *member)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  return json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), member);
}

/* Each directory made is fsynced into its parent, or a power loss can take
 * it, and the fsynced files in it, away. */
static void
test_new_directories_are_synced_into_their_parents (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a = g_build_filename (fx->dir, "a", NULL);
  g_autofree char *ab = g_build_filename (fx->dir, "a", "b", NULL);
  g_autofree char *abc = g_build_filename (fx->dir, "a", "b", "c", NULL);

  record_syncs ();
  g_assert_true (soter_file_ensure_dir (abc, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (abc, G_FILE_TEST_IS_DIR));
  assert_synced (fx->dir);
  assert_synced (a);
  assert_synced (ab);
  /* An existing directory is left alone. */
  g_ptr_array_set_size (synced_dirs, 0);
  g_assert_true (soter_file_ensure_dir (abc, &error));
  g_assert_cmpuint (synced_dirs->len, ==, 0);
  stop_recording ();
  /* A file in the way is an error, not a directory. */
  g_assert_cmpint (g_rmdir (abc), ==, 0);
  g_assert_true (g_file_set_contents (abc, "", -1, NULL));
  g_assert_false (soter_file_ensure_dir (abc, &error));
  g_assert_nonnull (error);
}

/* A deleted print is gone for good: the unlink is synced into its
 * directory, or a power loss can bring the print back. */
static void
test_deleted_print_is_synced_away (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (fx->dir, "prints", "1000", NULL);
  g_autofree char *path = g_build_filename (dir, "right-index-finger", NULL);
  SoterPrints *prints = soter_prints_new (fx->dir);

  g_assert_true (soter_file_ensure_dir (dir, &error));
  g_assert_true (g_file_set_contents (path, "a print", -1, NULL));
  record_syncs ();
  g_assert_true (soter_prints_delete (prints, 1000, FP_FINGER_RIGHT_INDEX, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  assert_synced (dir);
  stop_recording ();
  /* Not there: the caller's error, as before. */
  g_assert_false (soter_prints_delete (prints, 1000, FP_FINGER_RIGHT_INDEX, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_NOT_ENROLLED);
  soter_prints_free (prints);
}

static void
test_device_key_persists (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = NULL;
  g_autoptr(SoterKeystore) again = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "keys", "device.pem", NULL);
  g_autofree char *counter = g_build_filename (fx->dir, "keys", "counter", NULL);
  g_autofree char *text = NULL;
  struct stat st;

  record_syncs ();
  ks = soter_keystore_new (fx->dir, NULL, &error);
  g_assert_no_error (error);
  assert_synced (fx->dir);  /* keys/ was made in it */
  stop_recording ();
  /* The counter file is made first, with the device key: a device key
   * without it is a store that lost it (test_missing_counter...). */
  g_assert_true (g_file_get_contents (counter, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "0\n");
  g_assert_cmpuint (strlen (soter_keystore_get_cpu_id (ks)), ==, 64);
  g_assert_true (g_str_has_prefix (soter_keystore_get_device_key_pem (ks),
                                   "-----BEGIN PUBLIC KEY-----\n"));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  again = soter_keystore_new (fx->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (soter_keystore_get_cpu_id (again), ==, soter_keystore_get_cpu_id (ks));
}

static void
test_counter_increases_and_persists (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = soter_keystore_new (fx->dir, NULL, &error);
  g_autoptr(SoterKeystore) again = NULL;
  guint64 a, b, c;

  g_assert_true (soter_keystore_next_counter (ks, &a, &error));
  g_assert_true (soter_keystore_next_counter (ks, &b, &error));
  g_assert_cmpuint (b, ==, a + 1);
  g_clear_object (&ks);

  again = soter_keystore_new (fx->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (soter_keystore_next_counter (again, &c, &error));
  g_assert_cmpuint (c, >, b);
}

static void
test_corrupt_counter_is_refused (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = soter_keystore_new (fx->dir, NULL, &error);
  g_autofree char *path = g_build_filename (fx->dir, "keys", "counter", NULL);
  g_autoptr(SoterKeystore) again = NULL;
  guint64 v;

  g_assert_true (soter_keystore_next_counter (ks, &v, &error));
  g_assert_true (g_file_set_contents (path, "garbage", -1, NULL));
  /* Starting again from 0 would hand out old counter values: refuse. */
  again = soter_keystore_new (fx->dir, NULL, &error);
  g_assert_null (again);
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "corrupt"));
}

/* A snapshot of every file under @dir: path → contents. */
static GHashTable *
snapshot (const char *dir)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (todo, g_strdup (dir));
  while (todo->len > 0)
    {
      g_autofree char *d = g_ptr_array_steal_index (todo, todo->len - 1);
      g_autoptr(GDir) it = g_dir_open (d, 0, NULL);
      const char *name;

      while (it != NULL && (name = g_dir_read_name (it)) != NULL)
        {
          char *path = g_build_filename (d, name, NULL);
          char *contents = NULL;

          if (g_file_test (path, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (todo, path);
          else
            {
              g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
              g_hash_table_insert (files, path, contents);
            }
        }
    }
  return files;
}

static void
assert_same_files (GHashTable *before, GHashTable *after)
{
  GHashTableIter it;
  gpointer path, contents;

  g_assert_cmpuint (g_hash_table_size (after), ==, g_hash_table_size (before));
  g_hash_table_iter_init (&it, before);
  while (g_hash_table_iter_next (&it, &path, &contents))
    g_assert_cmpstr (g_hash_table_lookup (after, path), ==, contents);
}

/* A device key without its counter file: the counter cannot start again
 * (it would hand out values already signed), so the store is refused and
 * nothing is written. */
static void
test_missing_counter_is_refused (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = soter_keystore_new (fx->dir, NULL, &error);
  g_autofree char *path = g_build_filename (fx->dir, "keys", "counter", NULL);
  g_autoptr(SoterKeystore) again = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  guint64 v;

  g_assert_true (soter_keystore_next_counter (ks, &v, &error));
  g_clear_object (&ks);
  g_assert_cmpint (g_unlink (path), ==, 0);
  before = snapshot (fx->dir);

  again = soter_keystore_new (fx->dir, NULL, &error);
  g_assert_null (again);
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "counter is missing beside the device key"));
  after = snapshot (fx->dir);
  assert_same_files (before, after);
}

/* Keys and a used counter without the device key: a new device key would
 * be a second identity beside the app keys it did not sign. */
static void
test_missing_device_key_is_refused (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "keys", "device.pem", NULL);
  g_autofree char *counter = g_build_filename (fx->dir, "keys", "counter", NULL);
  g_autoptr(SoterKeystore) ks = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;

  g_assert_cmpint (g_unlink (path), ==, 0);
  before = snapshot (fx->dir);
  ks = soter_keystore_new (fx->dir, NULL, &error);
  g_assert_null (ks);
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "refusing to make a new device key"));
  after = snapshot (fx->dir);
  assert_same_files (before, after);

  /* The same with the app keys alone (the counter lost too). */
  g_clear_error (&error);
  g_assert_cmpint (g_unlink (counter), ==, 0);
  g_assert_null (soter_keystore_new (fx->dir, NULL, &error));
  g_assert_nonnull (strstr (error->message, "refusing to make a new device key"));
}

/* A first start killed between the counter file and the device key left a
 * counter of 0 and nothing else: still a new store. */
static void
test_interrupted_first_start_completes (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *keys = g_build_filename (fx->dir, "keys", NULL);
  g_autofree char *counter = g_build_filename (keys, "counter", NULL);
  g_autoptr(SoterKeystore) ks = NULL;
  guint64 v;

  g_assert_cmpint (g_mkdir (keys, 0700), ==, 0);
  g_assert_true (g_file_set_contents (counter, "0\n", -1, NULL));
  ks = soter_keystore_new (fx->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (soter_keystore_next_counter (ks, &v, &error));
  g_assert_cmpuint (v, ==, 1);
}

static void
test_key_chain_verifies (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = soter_keystore_new (fx->dir, NULL, &error);
  g_autofree char *ask_json = NULL, *ask_sig = NULL, *auth_json = NULL, *auth_sig = NULL;
  g_autofree char *ask_pub = NULL, *auth_pub = NULL, *sig = NULL;
  g_autofree char *again_json = NULL, *again_sig = NULL;
  g_autofree char *uid = NULL, *cpu_id = NULL;
  const char *msg = "{\"raw\":\"x\"}";

  g_assert_true (soter_keystore_get_app_key (ks, "1000", 1000, &ask_json, &ask_sig, &error));
  g_assert_true (soter_keystore_get_auth_key (ks, "1000", 1000, "default", &auth_json, &auth_sig,
                                              &error));
  sig = soter_keystore_sign (ks, "1000", 1000, "default", msg, strlen (msg), &error);
  g_assert_no_error (error);

  ask_pub = json_string (ask_json, "pub_key");
  auth_pub = json_string (auth_json, "pub_key");
  g_assert_true (pss_verify (soter_keystore_get_device_key_pem (ks), ask_json, ask_sig));
  g_assert_true (pss_verify (ask_pub, auth_json, auth_sig));
  g_assert_true (pss_verify (auth_pub, msg, sig));
  g_assert_false (pss_verify (auth_pub, "{\"raw\":\"y\"}", sig));
  g_assert_false (pss_verify (ask_pub, msg, sig));

  uid = json_string (ask_json, "uid");
  cpu_id = json_string (ask_json, "cpu_id");
  g_assert_cmpstr (uid, ==, "1000");
  g_assert_cmpstr (cpu_id, ==, soter_keystore_get_cpu_id (ks));
  g_assert_cmpint (json_int (ask_json, "counter"), <, json_int (auth_json, "counter"));

  /* Stable: the same key and signature next time. */
  g_assert_true (soter_keystore_get_auth_key (ks, "1000", 1000, "default", &again_json,
                                              &again_sig, &error));
  g_assert_cmpstr (again_json, ==, auth_json);
  g_assert_cmpstr (again_sig, ==, auth_sig);
}

static void
test_apps_have_their_own_keys (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = soter_keystore_new (fx->dir, NULL, &error);
  g_autofree char *a = NULL, *as = NULL, *b = NULL, *bs = NULL;
  g_autofree char *app_b = soter_keystore_app_name (1000, "org.example.App");
  g_autofree char *pub_a = NULL, *pub_b = NULL;

  g_assert_cmpstr (app_b, ==, "1000-org.example.App");
  g_assert_true (soter_keystore_get_app_key (ks, "1000", 1000, &a, &as, &error));
  g_assert_true (soter_keystore_get_app_key (ks, app_b, 1000, &b, &bs, &error));
  pub_a = json_string (a, "pub_key");
  pub_b = json_string (b, "pub_key");
  g_assert_cmpstr (pub_a, !=, pub_b);
}

static void
on_done (GObject *source, GAsyncResult *res, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (res);
}

static GAsyncResult *
wait_for (GAsyncResult **res)
{
  while (*res == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *res;
}

static SoterAuthKey *
load_auth_key (SoterKeystore *ks, const char *app, GError **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  soter_keystore_load_auth_key_async (ks, app, 1000, NULL, on_done, &res);
  return soter_keystore_load_auth_key_finish (ks, wait_for (&res), error);
}

static void
sign_result (SoterKeystore *ks, SoterAuthKey *key, const char *raw, char **json, char **sig)
{
  SoterResultFields fields = { .raw = raw, .fid = "7", .fp_n = "virtual_device",
                               .fp_v = "1.94.5", .uid = 1000 };
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;

  soter_keystore_sign_result_async (ks, key, &fields, on_done, &res);
  g_assert_true (soter_keystore_sign_result_finish (ks, wait_for (&res), json, sig, &error));
  g_assert_no_error (error);
}

/* As a request does: the auth key loaded first, the results signed with it
 * after the match. (The load making the key, on an app's first
 * authentication, is tested through soterd in test_soterd.py.) */
static void
test_auth_key_loaded_ahead_signs_results (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = soter_keystore_new (fx->dir, NULL, &error);
  g_autoptr(SoterAuthKey) key = load_auth_key (ks, "1000", &error);
  g_autofree char *auth_json = NULL, *auth_sig = NULL, *auth_pub = NULL;
  g_autofree char *json1 = NULL, *sig1 = NULL, *json2 = NULL, *sig2 = NULL;
  g_autofree char *raw = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (key);
  sign_result (ks, key, "first", &json1, &sig1);
  sign_result (ks, key, "second", &json2, &sig2);

  /* The key that signed is the app's auth key, as GetAuthKey hands it out. */
  g_assert_true (soter_keystore_get_auth_key (ks, "1000", 1000, "default", &auth_json,
                                              &auth_sig, &error));
  auth_pub = json_string (auth_json, "pub_key");
  g_assert_true (pss_verify (auth_pub, json1, sig1));
  g_assert_true (pss_verify (auth_pub, json2, sig2));
  raw = json_string (json2, "raw");
  g_assert_cmpstr (raw, ==, "second");
  /* The key's counter came first, then each result's, each higher. */
  g_assert_cmpint (json_int (auth_json, "counter"), <, json_int (json1, "counter"));
  g_assert_cmpint (json_int (json1, "counter"), <, json_int (json2, "counter"));
}

static void
test_corrupt_auth_key_is_refused_and_kept (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = soter_keystore_new (fx->dir, NULL, &error);
  g_autofree char *json = NULL, *sig = NULL, *after = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "keys", "apps", "1000", "auth-default.key",
                                            NULL);
  g_autoptr(SoterAuthKey) key = NULL;
  const char *garbage = "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n";

  g_assert_true (soter_keystore_get_auth_key (ks, "1000", 1000, "default", &json, &sig, &error));
  g_assert_true (g_file_set_contents (path, garbage, -1, NULL));

  key = load_auth_key (ks, "1000", &error);
  g_assert_null (key);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "auth-default.key"));
  /* Not replaced by a new key: the relying party pinned the old one. */
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, garbage);
}

static void
test_scene_names (Fixture *fx, gconstpointer data)
{
  const char *bad[] = { "", ".", "..", "../device", "a/b", ".hidden", "sp ace", "é" };

  g_assert_true (soter_keystore_check_scene ("default", NULL));
  g_assert_true (soter_keystore_check_scene ("pay_v2.1-x", NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (soter_keystore_check_scene (bad[i], &error));
      g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
    }
}

static void
test_lockout (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterLockout) lo = soter_lockout_new (fx->dir, 3, 3600, &error);
  g_autoptr(SoterLockout) again = NULL;
  gboolean locked = TRUE;
  gint64 until;

  g_assert_no_error (error);
  g_assert_true (soter_lockout_record_miss (lo, 1000, &locked, &error));
  g_assert_false (locked);
  g_assert_true (soter_lockout_record_match (lo, 1000, &error)); /* resets */
  g_assert_true (soter_lockout_record_miss (lo, 1000, &locked, &error));
  g_assert_true (soter_lockout_record_miss (lo, 1000, &locked, &error));
  g_assert_false (locked);
  g_assert_false (soter_lockout_is_locked (lo, 1000, NULL));
  g_assert_true (soter_lockout_record_miss (lo, 1000, &locked, &error));
  g_assert_true (locked);
  g_assert_true (soter_lockout_is_locked (lo, 1000, &until));
  g_assert_cmpint (until, >, g_get_real_time () + (gint64) 3500 * G_USEC_PER_SEC);
  g_assert_false (soter_lockout_is_locked (lo, 1001, NULL)); /* per uid */

  /* Kept across a restart. */
  again = soter_lockout_new (fx->dir, 3, 3600, &error);
  g_assert_true (soter_lockout_is_locked (again, 1000, NULL));
}

static void
test_lockout_expires (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterLockout) lo = soter_lockout_new (fx->dir, 1, 0, &error);
  gboolean locked = FALSE;

  g_assert_true (soter_lockout_record_miss (lo, 5, &locked, &error));
  g_assert_true (locked);
  /* A zero-second lock-out has already ended. */
  g_assert_false (soter_lockout_is_locked (lo, 5, NULL));
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  g_test_add ("/keystore/device-key-persists", Fixture, NULL, setup_fresh,
              test_device_key_persists, teardown);
  ADD ("/keystore/counter-increases-and-persists", test_counter_increases_and_persists);
  ADD ("/keystore/corrupt-counter-is-refused", test_corrupt_counter_is_refused);
  ADD ("/keystore/missing-counter-is-refused", test_missing_counter_is_refused);
  ADD ("/keystore/missing-device-key-is-refused", test_missing_device_key_is_refused);
  g_test_add ("/keystore/interrupted-first-start-completes", Fixture, NULL, setup_fresh,
              test_interrupted_first_start_completes, teardown);
  g_test_add ("/file/new-directories-are-synced-into-their-parents", Fixture, NULL,
              setup_fresh, test_new_directories_are_synced_into_their_parents, teardown);
  g_test_add ("/file/deleted-print-is-synced-away", Fixture, NULL, setup_fresh,
              test_deleted_print_is_synced_away, teardown);
  ADD ("/keystore/key-chain-verifies", test_key_chain_verifies);
  ADD ("/keystore/apps-have-their-own-keys", test_apps_have_their_own_keys);
  ADD ("/keystore/scene-names", test_scene_names);
  ADD ("/keystore/auth-key-loaded-ahead-signs-results", test_auth_key_loaded_ahead_signs_results);
  ADD ("/keystore/corrupt-auth-key-is-refused-and-kept", test_corrupt_auth_key_is_refused_and_kept);
  ADD ("/lockout/misses-lock-and-persist", test_lockout);
  ADD ("/lockout/expires", test_lockout_expires);
#undef ADD
  status = g_test_run ();
  if (template_dir != NULL)
    rm_rf (template_dir);
  g_free (template_dir);
  return status;
}
