/* soter-verify.c — verifying SOTER signatures as a relying party. */
#define _GNU_SOURCE /* memmem */
#include "soter-verify.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define DEFAULT_SALT 20
#define MIN_KEY_BITS 2048

G_DEFINE_QUARK (soter-verify-error-quark, soter_verify_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)

/* ---- signatures -------------------------------------------------------- */

/* Large enough for RSA-8192 signatures; longer text is not a signature. */
#define MAX_SIG_BYTES 1024

static const char base64_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* g_base64_decode() skips what it does not know; a verifier must not: only
 * the RFC 4648 alphabet, padded to a multiple of 4, no line breaks. Checked
 * here, so OpenSSL's decoder (which would trim white space) sees only that.
 * Decodes into @out (MAX_SIG_BYTES). */
static gboolean
decode_base64_strict (const char *text, guchar *out, gsize *out_len, const char *link,
                      GError **error)
{
  gsize len = text ? strlen (text) : 0;
  gsize pad = 0;
  int n;

  if (len == 0 || len % 4 != 0 || len / 4 * 3 > MAX_SIG_BYTES)
    goto bad;
  while (pad < 2 && text[len - 1 - pad] == '=')
    pad++;
  if (strspn (text, base64_alphabet) != len - pad)
    goto bad;
  n = EVP_DecodeBlock (out, (const guchar *) text, (int) len);
  if (n < 0 || (gsize) n != len / 4 * 3)
    goto bad;
  *out_len = (gsize) n - pad;
  return TRUE;

bad:
  g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_BASE64,
               "%s: the signature is not standard base64 (RFC 4648, padded, no line breaks)",
               link);
  return FALSE;
}

/* The "rsa_pss_saltlen" a signed document carries, read from its raw bytes
 * (it decides how to check the signature, so it comes before parsing). */
static gboolean
salt_length (const SoterSigned *doc, const char *link, int *out, GError **error)
{
  static const char key[] = "\"rsa_pss_saltlen\"";
  const char *end = doc->data + doc->len;
  const char *p = memmem (doc->data, doc->len, key, strlen (key));
  guint64 v = 0;
  int digits = 0;

  *out = DEFAULT_SALT;
  if (p == NULL)
    return TRUE;
  p += strlen (key);
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  if (p < end && *p == ':')
    p++;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  while (p < end && g_ascii_isdigit (*p) && digits < 4)
    v = v * 10 + (guint64) (*p++ - '0'), digits++;
  if (digits == 0 || (v != 20 && v != 32))
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_SIGNATURE,
                   "%s: unsupported rsa_pss_saltlen (20 and 32 are known)", link);
      return FALSE;
    }
  *out = (int) v;
  return TRUE;
}

static EVP_PKEY *
load_public_key (const char *pem, const char *link, GError **error)
{
  g_autoptr(BIO) bio = BIO_new_mem_buf (pem, -1);
  EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY (bio, NULL, NULL, NULL) : NULL;

  ERR_clear_error ();
  if (pkey == NULL)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_KEY,
                   "%s: the key is not a PEM public key", link);
      return NULL;
    }
  if (!EVP_PKEY_is_a (pkey, "RSA") || EVP_PKEY_get_bits (pkey) < MIN_KEY_BITS)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_KEY,
                   "%s: the key is not RSA of at least %d bits", link, MIN_KEY_BITS);
      EVP_PKEY_free (pkey);
      return NULL;
    }
  return pkey;
}

struct _SoterVerifyKey
{
  EVP_PKEY     *pkey;
  EVP_MD       *sha256;
  EVP_MD_CTX   *digest;  /* reused for every document */
  EVP_PKEY_CTX *pss20;   /* verification contexts, set up once per salt */
  EVP_PKEY_CTX *pss32;
};

static EVP_PKEY_CTX *
pss_context (SoterVerifyKey *key, int salt)
{
  EVP_PKEY_CTX **slot = salt == 32 ? &key->pss32 : &key->pss20;
  EVP_PKEY_CTX *ctx;

  if (*slot != NULL)
    return *slot;
  ctx = EVP_PKEY_CTX_new_from_pkey (NULL, key->pkey, NULL);
  if (ctx == NULL ||
      EVP_PKEY_verify_init (ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen (ctx, salt) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, key->sha256) != 1 ||
      EVP_PKEY_CTX_set_signature_md (ctx, key->sha256) != 1)
    {
      EVP_PKEY_CTX_free (ctx);
      return NULL;
    }
  return *slot = ctx;
}

SoterVerifyKey *
soter_verify_key_new (const char *pub_pem, const char *link, GError **error)
{
  g_autoptr(EVP_PKEY) pkey = load_public_key (pub_pem, link, error);
  SoterVerifyKey *key;

  if (pkey == NULL)
    return NULL;
  key = g_new0 (SoterVerifyKey, 1);
  key->pkey = g_steal_pointer (&pkey);
  key->sha256 = EVP_MD_fetch (NULL, "SHA256", NULL);
  key->digest = EVP_MD_CTX_new ();
  return key;
}

void
soter_verify_key_free (SoterVerifyKey *key)
{
  EVP_MD_CTX_free (key->digest);
  EVP_PKEY_CTX_free (key->pss20);
  EVP_PKEY_CTX_free (key->pss32);
  EVP_PKEY_free (key->pkey);
  EVP_MD_free (key->sha256);
  g_free (key);
}

gboolean
soter_verify_signature_with_key (SoterVerifyKey *key, const SoterSigned *doc,
                                 const char *link, GError **error)
{
  guchar sig[MAX_SIG_BYTES];
  guchar digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_PKEY_CTX *ctx;
  gsize sig_len;
  int salt;
  gboolean ok;

  if (!decode_base64_strict (doc->signature, sig, &sig_len, link, error) ||
      !salt_length (doc, link, &salt, error))
    return FALSE;

  /* SHA-256 over the bytes as received, then the RSA-PSS check of it. */
  ctx = key->sha256 && key->digest ? pss_context (key, salt) : NULL;
  ok = ctx != NULL &&
       EVP_DigestInit_ex2 (key->digest, key->sha256, NULL) == 1 &&
       EVP_DigestUpdate (key->digest, doc->data, doc->len) == 1 &&
       EVP_DigestFinal_ex (key->digest, digest, &digest_len) == 1 &&
       EVP_PKEY_verify (ctx, sig, sig_len, digest, digest_len) == 1;
  ERR_clear_error ();
  if (!ok)
    g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_SIGNATURE,
                 "%s: the signature does not match (RSA-PSS SHA-256, salt %d)", link, salt);
  return ok;
}

gboolean
soter_verify_signature (const char *pub_pem, const SoterSigned *doc, const char *link,
                        GError **error)
{
  g_autoptr(SoterVerifyKey) key = soter_verify_key_new (pub_pem, link, error);

  return key != NULL && soter_verify_signature_with_key (key, doc, link, error);
}

/* ---- JSON, once its signature holds ------------------------------------ */

/* Some devices sign key_json with raw line feeds inside pub_key, which
 * strict JSON forbids. The bytes are authenticated by now, so escape control
 * characters inside strings and parse that. */
static JsonParser *
parse_object (const SoterSigned *doc, const char *link, JsonObject **out, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) fixed = g_string_sized_new (doc->len + 16);
  g_autoptr(GError) local = NULL;
  gboolean in_string = FALSE, escaped = FALSE;
  JsonNode *root;
  gsize start = 0, closed_at = 0;
  int depth = 0;

  /* A signed document is one JSON object and nothing after it. Checking that
   * here also keeps json-glib 1.6 from input it mishandles: it accepts
   * 2{"a":{}} and {"a":1}{"b":2} (taking the first value) and leaks the
   * rest. */
  while (start < doc->len && g_ascii_isspace (doc->data[start]))
    start++;
  if (start == doc->len || doc->data[start] != '{')
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON,
                   "%s: the signed JSON is not a JSON object", link);
      return NULL;
    }

  for (gsize i = start; i < doc->len; i++)
    {
      guchar c = (guchar) doc->data[i];

      if (closed_at > 0)
        {
          if (!g_ascii_isspace (c))
            {
              g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON,
                           "%s: data after the end of the JSON object", link);
              return NULL;
            }
          continue;
        }
      if (in_string && !escaped && c < 0x20)
        g_string_append_printf (fixed, "\\u%04x", c);
      else
        g_string_append_c (fixed, (char) c);
      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        depth++;
      else if ((c == '}' || c == ']') && --depth == 0)
        closed_at = i;
    }

  if (!json_parser_load_from_data (parser, fixed->str, (gssize) fixed->len, &local) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON,
                   "%s: the signed JSON is not a JSON object%s%s", link,
                   local ? ": " : "", local ? local->message : "");
      return NULL;
    }
  *out = json_node_get_object (root);
  return g_steal_pointer (&parser);
}

static char *
member_string (JsonObject *obj, const char *name, const char *link, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON,
                   "%s: \"%s\" is missing or not a string", link, name);
      return NULL;
    }
  return g_strdup (json_node_get_string (node));
}

static gboolean
member_counter (JsonObject *obj, const char *link, gint64 *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "counter");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 0)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_MALFORMED_JSON,
                   "%s: \"counter\" is missing or not a whole number", link);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

void
soter_key_info_free (SoterKeyInfo *info)
{
  g_free (info->pub_key);
  g_free (info->cpu_id);
  g_free (info->uid);
  g_free (info);
}

SoterKeyInfo *
soter_verify_key_json (const char *parent_pub_pem, const SoterSigned *key_json,
                       const char *link, GError **error)
{
  if (!soter_verify_signature (parent_pub_pem, key_json, link, error))
    return NULL;
  return soter_verify_parse_key_json (key_json, link, error);
}

SoterKeyInfo *
soter_verify_parse_key_json (const SoterSigned *key_json, const char *link, GError **error)
{
  g_autoptr(SoterKeyInfo) info = g_new0 (SoterKeyInfo, 1);
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *obj;

  parser = parse_object (key_json, link, &obj, error);
  if (parser == NULL ||
      (info->pub_key = member_string (obj, "pub_key", link, error)) == NULL ||
      (info->cpu_id = member_string (obj, "cpu_id", link, error)) == NULL ||
      (info->uid = member_string (obj, "uid", link, error)) == NULL ||
      !member_counter (obj, link, &info->counter, error))
    return NULL;
  return g_steal_pointer (&info);
}

void
soter_result_info_free (SoterResultInfo *info)
{
  g_free (info->raw);
  g_free (info->fid);
  g_free (info->cpu_id);
  g_free (info->uid);
  g_free (info);
}

SoterResultInfo *
soter_verify_parse_result (const SoterSigned *doc, GError **error)
{
  g_autoptr(SoterResultInfo) info = g_new0 (SoterResultInfo, 1);
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *obj;

  parser = parse_object (doc, "resultJSON", &obj, error);
  if (parser == NULL ||
      (info->raw = member_string (obj, "raw", "resultJSON", error)) == NULL ||
      (info->fid = member_string (obj, "fid", "resultJSON", error)) == NULL ||
      (info->cpu_id = member_string (obj, "cpu_id", "resultJSON", error)) == NULL ||
      (info->uid = member_string (obj, "uid", "resultJSON", error)) == NULL ||
      !member_counter (obj, "resultJSON", &info->counter, error))
    return NULL;
  return g_steal_pointer (&info);
}

/* ---- replay protection -------------------------------------------------- */

/* The state file is a key file: [counters] <hex of cpu_id>=<last counter>.
 * A lock file beside it serialises servers checking at the same time. */
static gboolean
check_and_record_counter (const char *path, const char *cpu_id, gint64 counter,
                          GError **error)
{
  g_autofree char *lock_path = g_strconcat (path, ".lock", NULL);
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local = NULL;
  g_autoptr(GString) key = g_string_new (NULL);
  g_autofree char *data = NULL;
  gboolean ok = FALSE;
  gint64 last = -1;
  gsize len;
  int lock_fd;

  for (const char *p = cpu_id; *p; p++)
    g_string_append_printf (key, "%02x", (guchar) *p);

  lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || flock (lock_fd, LOCK_EX) < 0)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_STATE,
                   "cannot lock %s: %s", lock_path, g_strerror (errno));
      goto out;
    }
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local) &&
      !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_STATE,
                   "cannot read the state file %s: %s", path, local->message);
      goto out;
    }
  g_clear_error (&local);
  if (g_key_file_has_key (kf, "counters", key->str, NULL))
    {
      last = g_key_file_get_int64 (kf, "counters", key->str, &local);
      if (local != NULL)
        {
          g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_STATE,
                       "the state file %s is corrupt", path);
          goto out;
        }
    }
  if (counter <= last)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_REPLAYED_COUNTER,
                   "replayed: counter %" G_GINT64_FORMAT " is not above %" G_GINT64_FORMAT
                   ", the last accepted for this cpu_id", counter, last);
      goto out;
    }
  g_key_file_set_int64 (kf, "counters", key->str, counter);
  data = g_key_file_to_data (kf, &len, NULL);
  if (!g_file_set_contents_full (path, data, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local))
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_STATE,
                   "cannot write the state file: %s", local->message);
      goto out;
    }
  ok = TRUE;

out:
  if (lock_fd >= 0)
    close (lock_fd);
  return ok;
}

/* ---- the chain ---------------------------------------------------------- */

static gboolean
claims_match (const char *what, const char *a, const char *b, const char *link,
              GError **error)
{
  if (g_strcmp0 (a, b) == 0)
    return TRUE;
  g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_CLAIM_MISMATCH,
               "%s: %s \"%s\" differs from the key's \"%s\"", link, what, a, b);
  return FALSE;
}

SoterResultInfo *
soter_verify_chain (const SoterChain *chain, GError **error)
{
  g_autoptr(SoterKeyInfo) ask = NULL;
  g_autoptr(SoterKeyInfo) auth = NULL;
  g_autoptr(SoterResultInfo) info = NULL;
  const char *ask_pem = chain->app_key_pem;
  const char *auth_pem = chain->auth_key_pem;

  if (chain->device_key_pem != NULL)
    {
      ask = soter_verify_key_json (chain->device_key_pem, &chain->app_key,
                                   "app secure key by device key", error);
      if (ask == NULL)
        return NULL;
      ask_pem = ask->pub_key;
    }
  if (ask_pem != NULL)
    {
      auth = soter_verify_key_json (ask_pem, &chain->auth_key, "auth key by app secure key",
                                    error);
      if (auth == NULL)
        return NULL;
      if (ask != NULL && (!claims_match ("cpu_id", auth->cpu_id, ask->cpu_id,
                                         "auth key", error) ||
                          !claims_match ("uid", auth->uid, ask->uid, "auth key", error)))
        return NULL;
      auth_pem = auth->pub_key;
    }
  if (auth_pem == NULL)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_BAD_KEY,
                   "no pinned key: give the device key, the app secure key or the auth key");
      return NULL;
    }
  if (!soter_verify_signature (auth_pem, &chain->result, "resultJSON by auth key", error))
    return NULL;

  info = soter_verify_parse_result (&chain->result, error);
  if (info == NULL)
    return NULL;
  if (auth != NULL && (!claims_match ("cpu_id", info->cpu_id, auth->cpu_id, "resultJSON",
                                      error) ||
                       !claims_match ("uid", info->uid, auth->uid, "resultJSON", error)))
    return NULL;
  if (chain->challenge != NULL && g_strcmp0 (info->raw, chain->challenge) != 0)
    {
      g_set_error (error, SOTER_VERIFY_ERROR, SOTER_VERIFY_ERROR_CHALLENGE_MISMATCH,
                   "resultJSON: raw is not the expected challenge");
      return NULL;
    }
  if (chain->state_path != NULL &&
      !check_and_record_counter (chain->state_path, info->cpu_id, info->counter, error))
    return NULL;
  return g_steal_pointer (&info);
}
