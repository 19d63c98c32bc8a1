/* Unit tests: the relying party's verifier, on Tencent's real samples and
 * on documents signed here. */
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "soter-verify.h"

#define SAMPLES SOTER_TEST_DATA "/tencent-soter-samples/"

static char *
sample (const char *name, gsize *len)
{
  g_autofree char *path = g_strconcat (SAMPLES, name, NULL);
  g_autoptr(GError) error = NULL;
  char *data = NULL;

  g_file_get_contents (path, &data, len, &error);
  g_assert_no_error (error);
  return data;
}

static char *
sample_signature (const char *name)
{
  gsize len;
  g_autofree char *raw = sample (name, &len);

  return g_base64_encode ((const guchar *) raw, len);
}

typedef struct {
  char       *pem;
  char       *data;
  gsize       len;
  char       *sig;
  const char *link;
} Doc;

static void
doc_load (Doc *d, const char *pem, const char *json, const char *sig)
{
  d->pem = sample (pem, NULL);
  d->data = sample (json, &d->len);
  d->sig = sample_signature (sig);
  d->link = json;
}

static void
doc_clear (Doc *d)
{
  g_free (d->pem);
  g_free (d->data);
  g_free (d->sig);
}

static gboolean
doc_verifies (const Doc *d, GError **error)
{
  SoterSigned s = { d->data, d->len, d->sig };

  return soter_verify_signature (d->pem, &s, d->link, error);
}

/* Every sample verifies; changing any single byte of it, or of its raw
 * signature, makes it fail. */
static void
test_tencent_samples_and_every_byte (void)
{
  const char *docs[][3] = {
    { "auth_key.pem", "final_json.txt", "final_signature.bin" },
    { "ask.pem", "auth_key_json.txt", "auth_key_signature.bin" },
    { "hw_auth_key.pem", "hw_final_json.txt", "hw_final_signature.bin" },  /* salt 32 */
  };

  for (gsize k = 0; k < G_N_ELEMENTS (docs); k++)
    {
      Doc d = { 0 };
      gsize sig_len;
      g_autofree guchar *sig = NULL;
      g_autoptr(GError) error = NULL;

      doc_load (&d, docs[k][0], docs[k][1], docs[k][2]);
      g_assert_true (doc_verifies (&d, &error));
      g_assert_no_error (error);

      for (gsize i = 0; i < d.len; i++)
        {
          d.data[i] ^= 0x01;
          g_assert_false (doc_verifies (&d, NULL));
          d.data[i] ^= 0x01;
        }
      sig = g_base64_decode (d.sig, &sig_len);
      for (gsize i = 0; i < sig_len; i++)
        {
          g_autofree char *b64 = NULL;
          char *orig = d.sig;

          sig[i] ^= 0x80;
          b64 = g_base64_encode (sig, sig_len);
          d.sig = b64;
          g_assert_false (doc_verifies (&d, NULL));
          d.sig = orig;
          sig[i] ^= 0x80;
        }
      doc_clear (&d);
    }
}

static void
test_tencent_chain (void)
{
  g_autofree char *ask = sample ("ask.pem", NULL);
  gsize auth_len, res_len;
  g_autofree char *auth = sample ("auth_key_json.txt", &auth_len);
  g_autofree char *auth_sig = sample_signature ("auth_key_signature.bin");
  g_autofree char *res = sample ("final_json.txt", &res_len);
  g_autofree char *res_sig = sample_signature ("final_signature.bin");
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterResultInfo) info = NULL;
  SoterChain chain = {
    .app_key_pem = ask,
    .auth_key = { auth, auth_len, auth_sig },
    .result = { res, res_len, res_sig },
    .challenge = "I'm a demo challenge string",
  };

  info = soter_verify_chain (&chain, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->counter, ==, 246);
  g_assert_cmpstr (info->uid, ==, "10115");
  g_assert_cmpstr (info->fid, ==, "2313170");

  chain.challenge = "I'm a demo challenge strinG";
  g_assert_null (soter_verify_chain (&chain, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_CHALLENGE_MISMATCH);
}

static void
test_bad_base64 (void)
{
  Doc d = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *orig = NULL;

  doc_load (&d, "auth_key.pem", "final_json.txt", "final_signature.bin");
  orig = d.sig;
  d.sig = g_strdup_printf ("%.64s\n%s", orig, orig + 64);  /* a line break */
  g_assert_false (doc_verifies (&d, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_BASE64);
  /* OpenSSL's decoder would trim the white space, g_base64_decode() would
   * skip what it does not know: none of these is standard base64, and each
   * is refused as such (all but the first are 344 characters, like orig). */
  char *forms[] = {
    g_strdup ("not base64!"),
    g_strdup_printf (" %.343s", orig),
    g_strdup_printf ("%.343s ", orig),
    g_strdup_printf ("%.343s\n", orig),
    g_strdup_printf ("\t%.343s", orig),
    g_strdup_printf ("%.340s=A==", orig),  /* padding inside */
    g_strdup_printf ("%.338s======", orig), /* too much padding */
    g_strdup_printf ("-%.343s", orig),     /* the URL-safe alphabet */
    g_strdup_printf ("%.342s_=", orig),
    g_strdup_printf ("%.343s", orig),      /* not a multiple of 4 */
    g_strdup_printf ("    %.340s", orig),  /* 340 good characters after the spaces */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_free (d.sig);
      d.sig = forms[i];
      g_clear_error (&error);
      g_assert_false (doc_verifies (&d, &error));
      g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_BASE64);
    }
  /* and the sample itself, padded with "==", still verifies */
  g_free (d.sig);
  d.sig = g_steal_pointer (&orig);
  g_assert_cmpuint (strlen (d.sig), ==, 344);
  g_assert_true (g_str_has_suffix (d.sig, "=="));
  g_clear_error (&error);
  g_assert_true (doc_verifies (&d, &error));
  g_assert_no_error (error);
  doc_clear (&d);
}

/* ---- documents signed here ---------------------------------------------- */

/* Made by the openssl command, in a process of its own: under valgrind,
 * generating the RSA keys in here took most of a minute. */
static EVP_PKEY *
make_key (const char *type, int bits)
{
  g_autofree char *rsa_bits = g_strdup_printf ("rsa_keygen_bits:%d", bits);
  const char *argv[] = {
    "openssl", "genpkey", "-algorithm", type, "-pkeyopt",
    g_str_equal (type, "RSA") ? rsa_bits : "ec_paramgen_curve:P-256", NULL
  };
  g_autofree char *pem = NULL;
  g_autoptr(GError) error = NULL;
  EVP_PKEY *pkey;
  BIO *bio;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, &pem, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  bio = BIO_new_mem_buf (pem, -1);
  pkey = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
  BIO_free (bio);
  g_assert_nonnull (pkey);
  g_assert_true (EVP_PKEY_is_a (pkey, type));
  return pkey;
}

static char *
pub_pem (EVP_PKEY *pkey)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  char *data;
  long len;
  char *out;

  PEM_write_bio_PUBKEY (bio, pkey);
  len = BIO_get_mem_data (bio, &data);
  out = g_strndup (data, (gsize) len);
  BIO_free (bio);
  return out;
}

static char *
sign (EVP_PKEY *pkey, const char *data, int salt)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  guchar sig[512];
  size_t len = sizeof sig;

  g_assert_cmpint (EVP_DigestSignInit (md, &pctx, EVP_sha256 (), NULL, pkey), ==, 1);
  EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, salt);
  EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ());
  g_assert_cmpint (EVP_DigestSign (md, sig, &len, (const guchar *) data, strlen (data)), ==, 1);
  EVP_MD_CTX_free (md);
  return g_base64_encode (sig, len);
}

static EVP_PKEY *device, *ask, *auth;

static char *
key_json (EVP_PKEY *pkey, const char *uid, gboolean raw_newlines)
{
  g_autofree char *pem = pub_pem (pkey);
  g_autofree char *escaped = NULL;
  g_auto(GStrv) lines = NULL;

  g_strchomp (pem);
  lines = g_strsplit (pem, "\n", -1);
  escaped = g_strjoinv (raw_newlines ? "\n" : "\\n", lines);
  return g_strdup_printf ("{\"pub_key\":\"%s\",\"cpu_id\":\"dev-1\",\"counter\":5,\"uid\":\"%s\"}",
                          escaped, uid);
}

typedef struct {
  char *device_pem, *ask_json, *ask_sig, *auth_json, *auth_sig, *res, *res_sig;
} Chain;

static void
chain_make (Chain *c, const char *result_json, const char *auth_uid)
{
  c->device_pem = pub_pem (device);
  c->ask_json = key_json (ask, "1000", TRUE);  /* raw line feeds, as some devices sign */
  c->ask_sig = sign (device, c->ask_json, 20);
  c->auth_json = key_json (auth, auth_uid, FALSE);
  c->auth_sig = sign (ask, c->auth_json, 20);
  c->res = g_strdup (result_json);
  c->res_sig = sign (auth, c->res, 20);
}

static void
chain_clear (Chain *c)
{
  g_free (c->device_pem); g_free (c->ask_json); g_free (c->ask_sig);
  g_free (c->auth_json); g_free (c->auth_sig); g_free (c->res); g_free (c->res_sig);
}

static SoterResultInfo *
chain_verify (Chain *c, const char *state, GError **error)
{
  SoterChain chain = {
    .device_key_pem = c->device_pem,
    .app_key = { c->ask_json, strlen (c->ask_json), c->ask_sig },
    .auth_key = { c->auth_json, strlen (c->auth_json), c->auth_sig },
    .result = { c->res, strlen (c->res), c->res_sig },
    .challenge = "chal",
    .state_path = state,
  };
  return soter_verify_chain (&chain, error);
}

#define RESULT(counter, uid) \
  "{\"raw\":\"chal\",\"fid\":\"7\",\"counter\":" #counter ",\"cpu_id\":\"dev-1\",\"uid\":\"" uid "\"}"

static void
test_full_chain_and_replay (void)
{
  g_autofree char *dir = g_dir_make_tmp ("soter-verify-XXXXXX", NULL);
  g_autofree char *state = g_build_filename (dir, "state", NULL);
  g_autofree char *lock = g_strconcat (state, ".lock", NULL);
  g_autoptr(GError) error = NULL;
  Chain c = { 0 }, later = { 0 };
  SoterResultInfo *info;

  chain_make (&c, RESULT (10, "1000"), "1000");
  info = chain_verify (&c, state, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->counter, ==, 10);
  soter_result_info_free (info);

  /* The same result again is a replay. */
  g_assert_null (chain_verify (&c, state, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_REPLAYED_COUNTER);
  g_clear_error (&error);

  /* A later counter is accepted, and recorded. */
  chain_make (&later, RESULT (11, "1000"), "1000");
  info = chain_verify (&later, state, &error);
  g_assert_no_error (error);
  soter_result_info_free (info);
  g_assert_null (chain_verify (&later, state, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_REPLAYED_COUNTER);

  chain_clear (&c);
  chain_clear (&later);
  g_unlink (state);
  g_unlink (lock);
  g_rmdir (dir);
}

static void
test_claims_and_json (void)
{
  g_autoptr(GError) error = NULL;
  Chain c = { 0 };

  chain_make (&c, RESULT (10, "1001"), "1000");  /* result uid differs */
  g_assert_null (chain_verify (&c, NULL, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_CLAIM_MISMATCH);
  g_clear_error (&error);
  chain_clear (&c);

  chain_make (&c, RESULT (10, "1000"), "999");   /* auth key uid differs from the ASK's */
  g_assert_null (chain_verify (&c, NULL, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_CLAIM_MISMATCH);
  g_clear_error (&error);
  chain_clear (&c);

  chain_make (&c, "2{\"raw\":\"chal\"}", "1000");  /* json-glib 1.6 takes this */
  g_assert_null (chain_verify (&c, NULL, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON);
  g_clear_error (&error);
  chain_clear (&c);

  chain_make (&c, RESULT (10, "1000") "{}", "1000");  /* data after the object */
  g_assert_null (chain_verify (&c, NULL, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON);
  g_clear_error (&error);
  chain_clear (&c);

  chain_make (&c, "{\"raw\":\"chal\",", "1000");  /* signed, but not JSON */
  g_assert_null (chain_verify (&c, NULL, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON);
  g_clear_error (&error);
  chain_clear (&c);

  chain_make (&c, "{\"raw\":\"chal\",\"fid\":\"7\",\"counter\":\"10\",\"cpu_id\":\"dev-1\","
                  "\"uid\":\"1000\"}", "1000");   /* counter as a string */
  g_assert_null (chain_verify (&c, NULL, &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON);
  chain_clear (&c);
}

static void
test_wrong_keys (void)
{
  EVP_PKEY *ec = make_key ("EC", 0), *small = make_key ("RSA", 1024);
  g_autofree char *ec_pem = pub_pem (ec), *small_pem = pub_pem (small);
  const char *data = "{}";
  g_autofree char *sig = sign (small, data, 20);
  SoterSigned s = { data, 2, sig };
  g_autoptr(GError) error = NULL;

  g_assert_false (soter_verify_signature (ec_pem, &s, "ec", &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_KEY);
  g_clear_error (&error);
  g_assert_false (soter_verify_signature (small_pem, &s, "small", &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_KEY);
  g_clear_error (&error);
  g_assert_false (soter_verify_signature ("garbage", &s, "garbage", &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_KEY);
  EVP_PKEY_free (ec);
  EVP_PKEY_free (small);
}

static void
test_salt_follows_the_signed_json (void)
{
  g_autofree char *pem = pub_pem (auth);
  const char *with32 = "{\"raw\":\"x\",\"rsa_pss_saltlen\":32}";
  g_autofree char *sig32 = sign (auth, with32, 32);
  g_autofree char *sig20 = sign (auth, with32, 20);
  const char *with99 = "{\"rsa_pss_saltlen\":99}";
  g_autofree char *sig99 = sign (auth, with99, 20);
  SoterSigned ok = { with32, strlen (with32), sig32 };
  SoterSigned wrong = { with32, strlen (with32), sig20 };
  SoterSigned odd = { with99, strlen (with99), sig99 };
  g_autoptr(GError) error = NULL;

  g_assert_true (soter_verify_signature (pem, &ok, "32", NULL));
  g_assert_false (soter_verify_signature (pem, &wrong, "20 where 32 is signed", NULL));
  g_assert_false (soter_verify_signature (pem, &odd, "99", &error));
  g_assert_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_SIGNATURE);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  device = make_key ("RSA", 2048);
  ask = make_key ("RSA", 2048);
  auth = make_key ("RSA", 2048);
  g_test_add_func ("/verify/tencent-samples-and-every-byte", test_tencent_samples_and_every_byte);
  g_test_add_func ("/verify/tencent-chain", test_tencent_chain);
  g_test_add_func ("/verify/bad-base64", test_bad_base64);
  g_test_add_func ("/verify/full-chain-and-replay", test_full_chain_and_replay);
  g_test_add_func ("/verify/claims-and-json", test_claims_and_json);
  g_test_add_func ("/verify/wrong-keys", test_wrong_keys);
  g_test_add_func ("/verify/salt-follows-the-signed-json", test_salt_follows_the_signed_json);
  rc = g_test_run ();
  EVP_PKEY_free (device);
  EVP_PKEY_free (ask);
  EVP_PKEY_free (auth);
  return rc;
}
