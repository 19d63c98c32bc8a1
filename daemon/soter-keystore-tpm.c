/* soter-keystore-tpm.c — the TPM 2.0 key store: private keys that never
 * exist outside the TPM.
 *
 * - The device key (ATTK) is a primary key of the owner hierarchy: made
 *   from the TPM's owner seed and a fixed template, it is the same key
 *   after an OS reinstall (so is cpu_id, its SPKI's SHA-256), until the
 *   TPM's owner clears it. Anyone who may use the owner hierarchy can
 *   derive it, so its template's policy requires PolicySecret on soterd's
 *   NV counter index: only who knows that index's auth value can sign
 *   with it.
 * - App keys (ASKs) and auth keys are ordinary keys under a storage
 *   primary key (the common ECC P-256 "SRK" template), kept as TPM-wrapped
 *   blobs in the key files: "tpm2-public: <base64>" and
 *   "tpm2-private: <base64>", marshalled TPM2B_PUBLIC and TPM2B_PRIVATE.
 *   The private part is encrypted by the TPM; it can be loaded only into
 *   this TPM, and used only with the auth value.
 * - The auth value: 32 random bytes in <state>/tpm/auth (0600). It reaches
 *   the TPM only inside sessions salted with the SRK (HMAC, AES-128-CFB
 *   parameter encryption), never in clear on the TPM's bus.
 * - Signatures are RSA-PSS with salt 20 (SPEC §6), which a TPM cannot make
 *   (its own PSS uses salt 32): soterd encodes EMSA-PSS itself and the TPM
 *   does the raw RSA private operation (TPM2_RSA_Decrypt, scheme NULL, on
 *   keys made for it). Every signature is verified before it is used, so a
 *   faulty TPM answer never leaves soterd.
 * - The counter is the NV counter index (TPM2_NT_COUNTER): the TPM itself
 *   never lets it go back, whatever happens to the files.
 * - The store is whole or refused (90001, and nothing in the TPM or the
 *   files is made anew), as the file store is. What each part's loss means:
 *   - tpm/auth, while device.pub or app keys exist: every key and the
 *     index were made with the lost value. A new one opens none of them
 *     and, with the index gone too, would define a new counter under the
 *     old keys: refused. (A new state directory beside an old index makes
 *     a new value, which the index then refuses: the reinstall case.)
 *   - the NV index, while device.pub or app keys exist: this is the file
 *     store's counter file missing beside its device key. Someone undefined
 *     it, or cleared the TPM, which also changed the owner seed, and with it
 *     the device key and the storage key of every blob. Defining it again
 *     would carry on under keys that may no longer be this TPM's, with
 *     another identity: refused, the administrator decides. Only a store
 *     with neither (new, or a reinstall whose old index was freed) defines
 *     it.
 *   - device.pub is a cache, not state: made again from the owner seed and
 *     the template, whose policy names the index. It is made again only
 *     once the index opened with our auth value, that is, after the rules
 *     above: the TPM was not cleared since the index was defined (a clear
 *     removes the index, and soterd does not define it again under existing
 *     keys), so the owner seed and the index's Name, and so the device key,
 *     are the ones the cache held. The identity cannot fork there.
 * Transient objects and sessions are flushed after each operation (an
 * authentication's counter step and signature share one storage key and
 * session); the device key's public part is kept in <state>/tpm/device.pub
 * so that start-up does not wait for the TPM to derive an RSA key (seconds
 * on some chips).
 */
/* EMSA-PSS encoding without signing has no non-deprecated OpenSSL 3 API
 * (RSA_padding_add_PKCS1_PSS_mgf1); the TPM does the private operation. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "soter-keystore-backend.h"

#include <string.h>

#include <gio/gio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include "soter-error.h"
#include "soter-file.h"

#define KEY_BITS 2048
#define PSS_SALT_LEN 20
#define AUTH_LEN 32
#define PUBLIC_TAG "tpm2-public: "
#define PRIVATE_TAG "tpm2-private: "
/* Part of the device key's template: another primary made from the owner
 * seed with other words is another key. */
#define ATTK_LABEL "soterd device attestation key v1"

/* One operation's TPM objects: see op_begin(). */
typedef struct {
  struct _SoterKeystoreTpm *self;
  ESYS_TR                   srk;
  ESYS_TR                   session;  /* HMAC, salted with the SRK, AES-128-CFB */
  ESYS_TR                   policy;   /* for the ATTK */
  ESYS_TR                   key;
  gboolean                  held;     /* srk and session are the request's (tpm_hold) */
} Op;

struct _SoterKeystoreTpm
{
  SoterKeystoreBackend parent_instance;

  char              *dir;
  guint32            nv_index;
  TSS2_TCTI_CONTEXT *tcti;
  ESYS_CONTEXT      *esys;
  ESYS_TR            nv;          /* the counter index, its auth set */
  TPM2B_AUTH         auth;        /* secret: cleansed in finalize */
  TPM2B_DIGEST       attk_policy; /* PolicySecret (the NV index) */
  char              *tee_name;
  char              *tee_version;
  guint64            counter;     /* the last value the TPM returned */
  Op                 held;        /* the storage key and session of a request */
};

#define SOTER_TYPE_KEYSTORE_TPM (soter_keystore_tpm_get_type ())
G_DECLARE_FINAL_TYPE (SoterKeystoreTpm, soter_keystore_tpm, SOTER, KEYSTORE_TPM,
                      SoterKeystoreBackend)
G_DEFINE_TYPE (SoterKeystoreTpm, soter_keystore_tpm, SOTER_TYPE_KEYSTORE_BACKEND)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OSSL_PARAM_BLD, OSSL_PARAM_BLD_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OSSL_PARAM, OSSL_PARAM_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIGNUM, BN_free)

/* A key's TPM parts. The ATTK (primary) has no private blob: the TPM makes
 * it again from the owner seed when it is needed. */
typedef struct {
  gboolean      primary;
  TPM2B_PUBLIC  pub;
  TPM2B_PRIVATE priv;
} TpmKey;

/* A TPM response code without the handle, session or parameter number. */
static TSS2_RC
rc_base (TSS2_RC rc)
{
  TSS2_RC base = rc & 0xffff;

  return (base & TPM2_RC_FMT1) ? base & (TPM2_RC_FMT1 | 0x3f) : base;
}

static gboolean
tpm_error (GError **error, TSS2_RC rc, const char *what)
{
  if (rc_base (rc) == TPM2_RC_AUTH_FAIL || rc_base (rc) == TPM2_RC_BAD_AUTH)
    g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                 "%s: the TPM refused soterd's auth value, the tpm/auth file in the state "
                 "directory (%s)", what, Tss2_RC_Decode (rc));
  else
    g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "%s: %s", what, Tss2_RC_Decode (rc));
  return FALSE;
}

static void
flush (SoterKeystoreTpm *self, ESYS_TR *handle)
{
  if (*handle != ESYS_TR_NONE)
    Esys_FlushContext (self->esys, *handle);
  *handle = ESYS_TR_NONE;
}

/* ---- templates ---------------------------------------------------- */

static TPM2B_PUBLIC
rsa_template (void)
{
  TPM2B_PUBLIC t = { 0 };

  t.publicArea.type = TPM2_ALG_RSA;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  /* decrypt with scheme NULL is the raw RSA operation PSS salt 20 needs;
   * sign is kept so that the key says what it is for. No dictionary-attack
   * lock-out: the auth value is 256 random bits, and a lock-out would
   * disable the whole TPM for everyone. */
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_NODA |
                                  TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT |
                                  TPMA_OBJECT_USERWITHAUTH;
  t.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  t.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  t.publicArea.parameters.rsaDetail.keyBits = KEY_BITS;
  t.publicArea.parameters.rsaDetail.exponent = 0;
  return t;
}

static TPM2B_PUBLIC
attk_template (SoterKeystoreTpm *self)
{
  TPM2B_PUBLIC t = rsa_template ();

  /* Usable only through the policy, not with an auth value of its own:
   * whoever derives the same key from the owner seed cannot use it. */
  t.publicArea.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
  t.publicArea.authPolicy = self->attk_policy;
  t.publicArea.unique.rsa.size = strlen (ATTK_LABEL);
  memcpy (t.publicArea.unique.rsa.buffer, ATTK_LABEL, strlen (ATTK_LABEL));
  return t;
}

static TPM2B_PUBLIC
srk_template (void)
{
  TPM2B_PUBLIC t = { 0 };

  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                  TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
                                  TPMA_OBJECT_DECRYPT;
  t.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  t.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
  t.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  t.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  t.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  t.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

/* ---- one operation: a storage key and a salted session ----------- */

static void
op_end (Op *op)
{
  if (op->self == NULL)
    return;
  flush (op->self, &op->key);
  flush (op->self, &op->policy);
  if (!op->held)
    {
      flush (op->self, &op->session);
      flush (op->self, &op->srk);
    }
  op->self = NULL;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Op, op_end)

static gboolean
start_session (SoterKeystoreTpm *self, ESYS_TR salt_key, TPM2_SE type, ESYS_TR *out,
               GError **error)
{
  const TPMT_SYM_DEF aes = { .algorithm = TPM2_ALG_AES,
                             .keyBits.aes = 128,
                             .mode.aes = TPM2_ALG_CFB };
  TSS2_RC rc;

  rc = Esys_StartAuthSession (self->esys, salt_key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              ESYS_TR_NONE, NULL, type, &aes, TPM2_ALG_SHA256, out);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not start a TPM session");
  rc = Esys_TRSess_SetAttributes (self->esys, *out, TPMA_SESSION_CONTINUESESSION, 0xff);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not set up a TPM session");
  return TRUE;
}

/* Parameter encryption for the command's first parameter (a secret going
 * in: an auth value) or not (commands whose first parameter is no TPM2B). */
static void
session_encrypt (Op *op, gboolean encrypt)
{
  Esys_TRSess_SetAttributes (op->self->esys, op->session,
                             encrypt ? TPMA_SESSION_DECRYPT : 0, TPMA_SESSION_DECRYPT);
}

static gboolean
op_begin (SoterKeystoreTpm *self, Op *op, GError **error)
{
  const TPM2B_SENSITIVE_CREATE no_auth = { 0 };
  const TPM2B_PUBLIC srk = srk_template ();
  const TPML_PCR_SELECTION no_pcrs = { 0 };
  TSS2_RC rc;

  op->self = self;
  op->srk = op->session = op->policy = op->key = ESYS_TR_NONE;
  op->held = FALSE;
  if (self->held.self != NULL)
    {
      /* Within a request (tpm_hold): its storage key and session. */
      op->srk = self->held.srk;
      op->session = self->held.session;
      op->held = TRUE;
      return TRUE;
    }
  rc = Esys_CreatePrimary (self->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, &no_auth, &srk, NULL, &no_pcrs, &op->srk, NULL, NULL,
                           NULL, NULL);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not make the TPM's storage key");
  return start_session (self, op->srk, TPM2_SE_HMAC, &op->session, error);
}

/* ---- keys ---------------------------------------------------------- */

static EVP_PKEY *
public_key (const TPM2B_PUBLIC *pub, GError **error)
{
  const TPMS_RSA_PARMS *parms = &pub->publicArea.parameters.rsaDetail;
  guint32 exponent = parms->exponent ? parms->exponent : 65537;
  g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new ();
  g_autoptr(BIGNUM) n = NULL;
  g_autoptr(BIGNUM) e = NULL;
  g_autoptr(OSSL_PARAM) params = NULL;
  g_autoptr(EVP_PKEY_CTX) ctx = NULL;
  EVP_PKEY *pkey = NULL;

  if (pub->publicArea.type != TPM2_ALG_RSA || parms->keyBits != KEY_BITS ||
      pub->publicArea.unique.rsa.size != KEY_BITS / 8)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "Not an RSA-%d TPM key", KEY_BITS);
      return NULL;
    }
  n = BN_bin2bn (pub->publicArea.unique.rsa.buffer, pub->publicArea.unique.rsa.size, NULL);
  e = BN_new ();
  ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
  if (bld == NULL || n == NULL || e == NULL || ctx == NULL || !BN_set_word (e, exponent) ||
      !OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_N, n) ||
      !OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_E, e) ||
      (params = OSSL_PARAM_BLD_to_param (bld)) == NULL || EVP_PKEY_fromdata_init (ctx) != 1 ||
      EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
      soter_keystore_openssl_error (error, "Could not read a TPM public key");
      return NULL;
    }
  return pkey;
}

static SoterKey *
key_new (const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv, GError **error)
{
  EVP_PKEY *pkey = public_key (pub, error);
  TpmKey *tk;

  if (pkey == NULL)
    return NULL;
  tk = g_new0 (TpmKey, 1);
  tk->pub = *pub;
  if (priv != NULL)
    tk->priv = *priv;
  else
    tk->primary = TRUE;
  return soter_key_new (pkey, tk, g_free);
}

static char *
marshal_public (const TPM2B_PUBLIC *pub)
{
  guint8 buf[sizeof (TPM2B_PUBLIC)];
  size_t len = 0;

  if (Tss2_MU_TPM2B_PUBLIC_Marshal (pub, buf, sizeof buf, &len) != TSS2_RC_SUCCESS)
    return NULL;
  return g_base64_encode (buf, len);
}

/* The value of the line "@tag<base64>" in @text, decoded. */
static guint8 *
find_line (const char *text, gsize len, const char *tag, gsize *out_len)
{
  g_autofree char *copy = g_strndup (text, len);
  g_auto(GStrv) lines = g_strsplit (copy, "\n", -1);

  for (gsize i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], tag))
      return g_base64_decode (lines[i] + strlen (tag), out_len);
  return NULL;
}

/* The marshalled TPM2B_PUBLIC of @text's "tpm2-public:" line, whole. */
static gboolean
parse_public_line (const char *text, gsize len, TPM2B_PUBLIC *out)
{
  gsize n = 0;
  size_t off = 0;
  g_autofree guint8 *bytes = find_line (text, len, PUBLIC_TAG, &n);

  return bytes != NULL && Tss2_MU_TPM2B_PUBLIC_Unmarshal (bytes, n, &off, out) == TSS2_RC_SUCCESS &&
         off == n;
}

static SoterKey *
tpm_parse (SoterKeystoreBackend *backend, const char *text, gsize len, GError **error)
{
  g_autofree guint8 *priv_bytes = NULL;
  gsize priv_len = 0;
  size_t priv_off = 0;
  TPM2B_PUBLIC pub = { 0 };
  TPM2B_PRIVATE priv = { 0 };

  priv_bytes = find_line (text, len, PRIVATE_TAG, &priv_len);
  if (!parse_public_line (text, len, &pub) || priv_bytes == NULL ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal (priv_bytes, priv_len, &priv_off, &priv) !=
        TSS2_RC_SUCCESS ||
      priv_off != priv_len)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                   "Corrupt key file: no TPM key in it (is it from the file store?)");
      return NULL;
    }
  return key_new (&pub, &priv, error);
}

static gboolean
tpm_serialize (SoterKeystoreBackend *backend, SoterKey *key, SoterSecret *out, GError **error)
{
  TpmKey *tk = key->data;
  guint8 buf[sizeof (TPM2B_PRIVATE)];
  size_t len = 0;
  g_autofree char *pub = marshal_public (&tk->pub);
  g_autofree char *priv = NULL;

  if (pub == NULL ||
      Tss2_MU_TPM2B_PRIVATE_Marshal (&tk->priv, buf, sizeof buf, &len) != TSS2_RC_SUCCESS)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "Could not encode a TPM key");
      return FALSE;
    }
  priv = g_base64_encode (buf, len);
  out->data = g_strdup_printf (PUBLIC_TAG "%s\n" PRIVATE_TAG "%s\n", pub, priv);
  out->len = strlen (out->data);
  return TRUE;
}

static SoterKey *
tpm_generate (SoterKeystoreBackend *backend, GError **error)
{
  SoterKeystoreTpm *self = SOTER_KEYSTORE_TPM (backend);
  const TPM2B_PUBLIC template = rsa_template ();
  const TPML_PCR_SELECTION no_pcrs = { 0 };
  TPM2B_SENSITIVE_CREATE sensitive = { 0 };
  g_auto(Op) op = { NULL };
  TPM2B_PRIVATE *priv = NULL;
  TPM2B_PUBLIC *pub = NULL;
  SoterKey *key;
  TSS2_RC rc;

  if (!op_begin (self, &op, error))
    return NULL;
  sensitive.sensitive.userAuth = self->auth;
  session_encrypt (&op, TRUE);  /* the new key's auth value goes in */
  rc = Esys_Create (self->esys, op.srk, op.session, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                    &template, NULL, &no_pcrs, &priv, &pub, NULL, NULL, NULL);
  OPENSSL_cleanse (&sensitive, sizeof sensitive);
  if (rc != TSS2_RC_SUCCESS)
    {
      tpm_error (error, rc, "Could not make a key in the TPM");
      return NULL;
    }
  key = key_new (pub, priv, error);
  Esys_Free (pub);
  Esys_Free (priv);
  return key;
}

/* Makes the device key in the TPM (op->key) from the owner seed and its
 * template: the same key each time. Its public part goes to @out_pub. */
static gboolean
create_attk (SoterKeystoreTpm *self, Op *op, TPM2B_PUBLIC **out_pub, GError **error)
{
  const TPM2B_PUBLIC template = attk_template (self);
  const TPML_PCR_SELECTION no_pcrs = { 0 };
  const TPM2B_SENSITIVE_CREATE no_auth = { 0 };
  TSS2_RC rc;

  session_encrypt (op, FALSE);
  rc = Esys_CreatePrimary (self->esys, ESYS_TR_RH_OWNER, op->session, ESYS_TR_NONE, ESYS_TR_NONE,
                           &no_auth, &template, NULL, &no_pcrs, &op->key, out_pub, NULL, NULL,
                           NULL);
  return rc == TSS2_RC_SUCCESS || tpm_error (error, rc, "Could not make the device key in the TPM");
}

/* Loads @tk into the TPM for @op, with the authorization it needs. */
static gboolean
load_key (SoterKeystoreTpm *self, Op *op, TpmKey *tk, GError **error)
{
  TSS2_RC rc;

  if (!tk->primary)
    {
      rc = Esys_Load (self->esys, op->srk, op->session, ESYS_TR_NONE, ESYS_TR_NONE, &tk->priv,
                      &tk->pub, &op->key);
      if (rc != TSS2_RC_SUCCESS)
        return tpm_error (error, rc, "Could not load a key into the TPM");
      rc = Esys_TR_SetAuth (self->esys, op->key, &self->auth);
      return rc == TSS2_RC_SUCCESS || tpm_error (error, rc, "Could not use a TPM key");
    }
  else
    {
      TPM2B_PUBLIC *pub = NULL;
      gboolean same;

      if (!create_attk (self, op, &pub, error))
        return FALSE;
      same = pub->publicArea.unique.rsa.size == tk->pub.publicArea.unique.rsa.size &&
             memcmp (pub->publicArea.unique.rsa.buffer, tk->pub.publicArea.unique.rsa.buffer,
                     tk->pub.publicArea.unique.rsa.size) == 0;
      Esys_Free (pub);
      if (!same)
        {
          g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                       "The TPM's device key is not the one soterd knows "
                       "(was the TPM cleared?); remove %s to start anew", self->dir);
          return FALSE;
        }
      /* The policy: proof of the NV index's auth value. */
      if (!start_session (self, op->srk, TPM2_SE_POLICY, &op->policy, error))
        return FALSE;
      rc = Esys_PolicySecret (self->esys, self->nv, op->policy, op->session, ESYS_TR_NONE,
                              ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
      return rc == TSS2_RC_SUCCESS || tpm_error (error, rc, "The TPM refused the device key's policy");
    }
}

static gboolean
pss_verify (EVP_PKEY *pkey, const char *data, gsize len, const guint8 *sig, gsize siglen)
{
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;

  return md != NULL && EVP_DigestVerifyInit (md, &pctx, EVP_sha256 (), NULL, pkey) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, PSS_SALT_LEN) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) == 1 &&
         EVP_DigestVerify (md, sig, siglen, (const guint8 *) data, len) == 1;
}

static gboolean
tpm_sign (SoterKeystoreBackend *backend, SoterKey *key, const char *data, gsize len,
          GByteArray *out, GError **error)
{
  SoterKeystoreTpm *self = SOTER_KEYSTORE_TPM (backend);
  TpmKey *tk = key->data;
  const TPMT_RSA_DECRYPT raw = { .scheme = TPM2_ALG_NULL };
  const TPM2B_DATA no_label = { 0 };
  guint8 digest[32];
  TPM2B_PUBLIC_KEY_RSA em = { .size = KEY_BITS / 8 };
  TPM2B_PUBLIC_KEY_RSA *sig = NULL;
  guint8 padded[KEY_BITS / 8] = { 0 };
  g_auto(Op) op = { NULL };
  TSS2_RC rc;

  if (EVP_Digest (data, len, digest, NULL, EVP_sha256 (), NULL) != 1 ||
      RSA_padding_add_PKCS1_PSS_mgf1 ((RSA *) EVP_PKEY_get0_RSA (key->pkey), em.buffer, digest,
                                      EVP_sha256 (), EVP_sha256 (), PSS_SALT_LEN) != 1)
    return soter_keystore_openssl_error (error, "Could not encode a signature");

  if (!op_begin (self, &op, error) || !load_key (self, &op, tk, error))
    return FALSE;
  session_encrypt (&op, FALSE);
  rc = Esys_RSA_Decrypt (self->esys, op.key, tk->primary ? op.policy : op.session, ESYS_TR_NONE,
                         ESYS_TR_NONE, &em, &raw, &no_label, &sig);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "The TPM could not sign");
  /* The TPM may drop leading zero bytes of the result. */
  if (sig->size <= sizeof padded)
    memcpy (padded + sizeof padded - sig->size, sig->buffer, sig->size);
  Esys_Free (sig);

  if (!pss_verify (key->pkey, data, len, padded, sizeof padded))
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                   "The TPM's signature does not verify; not using it");
      return FALSE;
    }
  g_byte_array_append (out, padded, sizeof padded);
  return TRUE;
}

static gboolean
save_device_public (SoterKeystoreTpm *self, const TPM2B_PUBLIC *pub, GError **error)
{
  g_autofree char *path = g_build_filename (self->dir, "device.pub", NULL);
  g_autofree char *b64 = marshal_public (pub);
  g_autofree char *text = g_strconcat (PUBLIC_TAG, b64, "\n", NULL);

  return soter_file_write_atomic (path, text, strlen (text), 0644, error);
}

static SoterKey *
tpm_device_key (SoterKeystoreBackend *backend, GError **error)
{
  SoterKeystoreTpm *self = SOTER_KEYSTORE_TPM (backend);
  g_autofree char *path = g_build_filename (self->dir, "device.pub", NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_auto(Op) op = { NULL };
  TPM2B_PUBLIC *pub = NULL;
  SoterKey *key;

  if (g_file_get_contents (path, &text, &len, NULL))
    {
      TPM2B_PUBLIC cached = { 0 };

      if (parse_public_line (text, len, &cached))
        return key_new (&cached, NULL, error);
      g_warning ("%s is corrupt; asking the TPM again", path);
    }

  if (!op_begin (self, &op, error) || !create_attk (self, &op, &pub, error))
    return NULL;
  key = key_new (pub, NULL, error);
  if (key != NULL && !save_device_public (self, pub, error))
    g_clear_pointer (&key, soter_key_free);
  Esys_Free (pub);
  return key;
}

/* ---- the counter ---------------------------------------------------- */

/* A file that shows this store was set up and used beyond its auth value
 * (device.pub, or an app's key), or NULL: see the top. */
static char *
store_evidence (SoterKeystoreTpm *self)
{
  g_autofree char *device = g_build_filename (self->dir, "device.pub", NULL);
  g_autofree char *apps = g_build_filename (self->dir, "apps", NULL);

  if (g_file_test (device, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&device);
  if (soter_file_dir_has_files (apps))
    return g_steal_pointer (&apps);
  return NULL;
}

static gboolean
read_counter (SoterKeystoreTpm *self, Op *op, GError **error)
{
  TPM2B_MAX_NV_BUFFER *data = NULL;
  TSS2_RC rc;
  guint64 v = 0;

  session_encrypt (op, FALSE);
  rc = Esys_NV_Read (self->esys, self->nv, self->nv, op->session, ESYS_TR_NONE, ESYS_TR_NONE, 8,
                     0, &data);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not read the TPM's counter");
  for (gsize i = 0; i < data->size && i < 8; i++)
    v = (v << 8) | data->buffer[i];
  Esys_Free (data);
  self->counter = v;
  return TRUE;
}

static gboolean
increment_counter (SoterKeystoreTpm *self, Op *op, GError **error)
{
  TSS2_RC rc;

  session_encrypt (op, FALSE);
  rc = Esys_NV_Increment (self->esys, self->nv, self->nv, op->session, ESYS_TR_NONE,
                          ESYS_TR_NONE);
  return rc == TSS2_RC_SUCCESS || tpm_error (error, rc, "Could not advance the TPM's counter");
}

static gboolean
tpm_next_counter (SoterKeystoreBackend *backend, guint64 *out_counter, GError **error)
{
  SoterKeystoreTpm *self = SOTER_KEYSTORE_TPM (backend);
  g_auto(Op) op = { NULL };

  if (!op_begin (self, &op, error) || !increment_counter (self, &op, error) ||
      !read_counter (self, &op, error))
    return FALSE;
  *out_counter = self->counter;
  return TRUE;
}

static guint64
tpm_get_counter (SoterKeystoreBackend *backend)
{
  return SOTER_KEYSTORE_TPM (backend)->counter;
}

/* PolicySecret(NV index) as TPM2_PolicySecret computes it, from the index's
 * Name: the same for every index defined alike at the same handle. */
static void
compute_attk_policy (SoterKeystoreTpm *self, const TPM2B_NAME *nv_name)
{
  const guint8 cc[4] = { 0x00, 0x00, 0x01, 0x51 };  /* TPM2_CC_PolicySecret */
  g_autoptr(GChecksum) h = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32] = { 0 };
  gsize len = sizeof digest;

  g_checksum_update (h, digest, sizeof digest);
  g_checksum_update (h, cc, sizeof cc);
  g_checksum_update (h, nv_name->name, nv_name->size);
  g_checksum_get_digest (h, digest, &len);
  /* Then PolicyUpdate with the (empty) policyRef. */
  g_checksum_reset (h);
  g_checksum_update (h, digest, sizeof digest);
  g_checksum_get_digest (h, digest, &len);
  self->attk_policy.size = sizeof digest;
  memcpy (self->attk_policy.buffer, digest, sizeof digest);
}

/* Finds soterd's NV counter index, or defines it, and reads it. */
static gboolean
open_counter (SoterKeystoreTpm *self, GError **error)
{
  const TPMA_NV attributes = TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE | TPMA_NV_NO_DA |
                             TPMA_NV_ORDERLY | (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT);
  g_auto(Op) op = { NULL };
  TPMS_CAPABILITY_DATA *handles = NULL;
  TPM2B_NV_PUBLIC *pub = NULL;
  TPM2B_NAME *name = NULL;
  gboolean defined, written, ours;
  TSS2_RC rc;

  if (!op_begin (self, &op, error))
    return FALSE;
  rc = Esys_GetCapability (self->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_HANDLES, self->nv_index, 1, NULL, &handles);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not list the TPM's NV indexes");
  defined = handles->data.handles.count > 0 &&
            handles->data.handles.handle[0] == self->nv_index;
  Esys_Free (handles);
  if (defined)
    {
      rc = Esys_TR_FromTPMPublic (self->esys, self->nv_index, ESYS_TR_NONE, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &self->nv);
      if (rc != TSS2_RC_SUCCESS)
        return tpm_error (error, rc, "Could not look up the TPM's counter index");
    }
  else
    {
      TPM2B_NV_PUBLIC def = { 0 };
      g_autofree char *evidence = store_evidence (self);

      if (evidence != NULL)
        {
          g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                       "The TPM has no NV index 0x%08x, but %s shows that this store used "
                       "it: it was undefined, or the TPM was cleared (and its keys with it). "
                       "Refusing to define it again under the old keys; move %s away to "
                       "start anew", self->nv_index, evidence, self->dir);
          return FALSE;
        }
      def.nvPublic.nvIndex = self->nv_index;
      def.nvPublic.nameAlg = TPM2_ALG_SHA256;
      def.nvPublic.attributes = attributes;
      def.nvPublic.dataSize = 8;
      session_encrypt (&op, TRUE);  /* the index's auth value goes in */
      rc = Esys_NV_DefineSpace (self->esys, ESYS_TR_RH_OWNER, op.session, ESYS_TR_NONE,
                                ESYS_TR_NONE, &self->auth, &def, &self->nv);
      if (rc != TSS2_RC_SUCCESS)
        return tpm_error (error, rc, "Could not define the TPM's counter index");
      g_message ("Defined the TPM counter index 0x%08x", self->nv_index);
    }

  rc = Esys_TR_SetAuth (self->esys, self->nv, &self->auth);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not use the TPM's counter index");
  rc = Esys_NV_ReadPublic (self->esys, self->nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
                           &name);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not look up the TPM's counter index");
  written = (pub->nvPublic.attributes & TPMA_NV_WRITTEN) != 0;
  ours = (pub->nvPublic.attributes & ~TPMA_NV_WRITTEN) == attributes &&
         pub->nvPublic.dataSize == 8 && pub->nvPublic.nameAlg == TPM2_ALG_SHA256;
  Esys_Free (pub);
  if (!ours)
    {
      Esys_Free (name);
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                   "TPM NV index 0x%08x is not soterd's counter; set TpmCounterIndex to a "
                   "free index", self->nv_index);
      return FALSE;
    }
  /* A counter that was never incremented cannot be read, nor is its Name
   * final: give it its first value, and read the Name again. */
  if (!written)
    {
      g_clear_pointer (&name, Esys_Free);
      if (!increment_counter (self, &op, error))
        return FALSE;
      rc = Esys_NV_ReadPublic (self->esys, self->nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               NULL, &name);
      if (rc != TSS2_RC_SUCCESS)
        return tpm_error (error, rc, "Could not look up the TPM's counter index");
    }
  compute_attk_policy (self, name);
  Esys_Free (name);

  if (!read_counter (self, &op, error))
    {
      /* Most likely a state directory made anew (a reinstall) beside the
       * old installation's index: say how to free it. */
      g_prefix_error (error, "TPM NV index 0x%08x (if soterd's state directory was made anew, "
                      "free the old index with 'tpm2_nvundefine 0x%08x'; its counter does not "
                      "go back): ", self->nv_index, self->nv_index);
      return FALSE;
    }
  return TRUE;
}

/* ---- set-up ---------------------------------------------------------- */

static gboolean
load_auth (SoterKeystoreTpm *self, GError **error)
{
  g_autofree char *path = g_build_filename (self->dir, "auth", NULL);
  g_auto(SoterSecret) secret = { NULL, 0 };
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents (path, &secret.data, &secret.len, &local))
    {
      g_autofree char *evidence = NULL;

      if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      evidence = store_evidence (self);
      if (evidence != NULL)
        {
          g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                       "%s is missing, but %s shows that keys were made with it; refusing "
                       "to make a new auth value, which opens none of them. Put it back, or "
                       "move %s away to start anew", path, evidence, self->dir);
          return FALSE;
        }
      secret.len = AUTH_LEN;
      secret.data = g_malloc (AUTH_LEN);
      if (RAND_priv_bytes ((unsigned char *) secret.data, AUTH_LEN) != 1)
        return soter_keystore_openssl_error (error, "Could not make an auth value");
      if (!soter_file_write_atomic (path, secret.data, secret.len, 0600, error))
        return FALSE;
    }
  if (secret.len != AUTH_LEN)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "%s is corrupt", path);
      return FALSE;
    }
  self->auth.size = AUTH_LEN;
  memcpy (self->auth.buffer, secret.data, AUTH_LEN);
  return TRUE;
}

static gboolean
read_properties (SoterKeystoreTpm *self, GError **error)
{
  TPMS_CAPABILITY_DATA *cap = NULL;
  guint32 manufacturer = 0, fw1 = 0, fw2 = 0;
  char vendor[5] = { 0 };
  TSS2_RC rc;

  rc = Esys_GetCapability (self->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 16, NULL, &cap);
  if (rc != TSS2_RC_SUCCESS)
    return tpm_error (error, rc, "Could not ask the TPM what it is");
  for (guint32 i = 0; i < cap->data.tpmProperties.count; i++)
    {
      const TPMS_TAGGED_PROPERTY *p = &cap->data.tpmProperties.tpmProperty[i];

      if (p->property == TPM2_PT_MANUFACTURER)
        manufacturer = p->value;
      else if (p->property == TPM2_PT_FIRMWARE_VERSION_1)
        fw1 = p->value;
      else if (p->property == TPM2_PT_FIRMWARE_VERSION_2)
        fw2 = p->value;
    }
  Esys_Free (cap);

  /* The manufacturer is four ASCII characters, NUL- or space-padded. */
  for (int i = 0; i < 4; i++)
    {
      char c = (char) ((manufacturer >> (24 - 8 * i)) & 0xff);
      vendor[i] = g_ascii_isprint (c) ? c : '\0';
    }
  g_strchomp (vendor);
  self->tee_name = g_strdup_printf ("TPM2 %s", vendor[0] ? vendor : "unknown");
  self->tee_version = g_strdup_printf ("%u.%u.%u.%u", fw1 >> 16, fw1 & 0xffff, fw2 >> 16,
                                       fw2 & 0xffff);
  return TRUE;
}

/* Without a resource manager (swtpm, /dev/tpm0) what a killed soterd had
 * loaded stays in the TPM, whose few slots (three objects on swtpm) then
 * run out: soterd takes itself for the only user of such a TPM and frees
 * them at start. Under the kernel's resource manager (/dev/tpmrm0, what the
 * unit allows) a client sees only its own objects, none at start: this
 * frees nothing there. */
static void
flush_leftovers (SoterKeystoreTpm *self)
{
  /* tss2's TPM2_TRANSIENT_FIRST shifts 0x80 into an int's sign bit
   * (undefined behaviour): the ranges' first handles, spelled out. */
  const TPM2_HANDLE ranges[] = { (TPM2_HANDLE) TPM2_HT_TRANSIENT << TPM2_HR_SHIFT,
                                 (TPM2_HANDLE) TPM2_HT_LOADED_SESSION << TPM2_HR_SHIFT,
                                 (TPM2_HANDLE) TPM2_HT_SAVED_SESSION << TPM2_HR_SHIFT };
  TSS2_SYS_CONTEXT *sys = NULL;
  guint freed = 0;

  if (Esys_GetSysContext (self->esys, &sys) != TSS2_RC_SUCCESS)
    return;
  for (gsize r = 0; r < G_N_ELEMENTS (ranges); r++)
    {
      TPMS_CAPABILITY_DATA *cap = NULL;

      if (Esys_GetCapability (self->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              TPM2_CAP_HANDLES, ranges[r], TPM2_MAX_CAP_HANDLES, NULL,
                              &cap) != TSS2_RC_SUCCESS)
        continue;
      for (guint32 i = 0; i < cap->data.handles.count; i++)
        {
          TPM2_HANDLE h = cap->data.handles.handle[i];

          if ((h >> TPM2_HR_SHIFT) == (ranges[r] >> TPM2_HR_SHIFT) &&
              Tss2_Sys_FlushContext (sys, h) == TSS2_RC_SUCCESS)
            freed++;
        }
      Esys_Free (cap);
    }
  if (freed > 0)
    g_message ("Freed %u objects and sessions left in the TPM (by a soterd that was killed?)",
               freed);
}

/* A request (a counter step and a signature) sets up the storage key and
 * the salted session once, not per operation: each costs milliseconds of
 * tpm2-tss's host-side crypto (bench/RESULTS.md). Flushed at its end. */
static void
tpm_hold (SoterKeystoreBackend *backend)
{
  SoterKeystoreTpm *self = SOTER_KEYSTORE_TPM (backend);
  g_autoptr(GError) error = NULL;
  Op op;

  g_return_if_fail (self->held.self == NULL);
  if (!op_begin (self, &op, &error))
    {
      /* Each operation will try on its own, and report. */
      op_end (&op);
      g_debug ("No TPM session for the request: %s", error->message);
      return;
    }
  self->held = op;
}

static void
tpm_release (SoterKeystoreBackend *backend)
{
  op_end (&SOTER_KEYSTORE_TPM (backend)->held);
}

static const char *
tpm_get_tee_name (SoterKeystoreBackend *backend)
{
  return SOTER_KEYSTORE_TPM (backend)->tee_name;
}

static const char *
tpm_get_tee_version (SoterKeystoreBackend *backend)
{
  return SOTER_KEYSTORE_TPM (backend)->tee_version;
}

SoterKeystoreBackend *
soter_keystore_tpm_new (const char *tpm_dir, const char *tcti, guint32 nv_index,
                        GError **error)
{
  g_autoptr(SoterKeystoreTpm) self = g_object_new (SOTER_TYPE_KEYSTORE_TPM, NULL);
  TSS2_RC rc;

  self->dir = g_strdup (tpm_dir);
  self->nv_index = nv_index;
  rc = Tss2_TctiLdr_Initialize (tcti, &self->tcti);
  if (rc != TSS2_RC_SUCCESS)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "Cannot reach the TPM at %s: %s",
                   tcti, Tss2_RC_Decode (rc));
      return NULL;
    }
  rc = Esys_Initialize (&self->esys, self->tcti, NULL);
  if (rc != TSS2_RC_SUCCESS)
    {
      tpm_error (error, rc, "Cannot talk to the TPM");
      return NULL;
    }
  flush_leftovers (self);
  if (!read_properties (self, error) || !soter_file_ensure_dir (tpm_dir, error) ||
      !load_auth (self, error) || !open_counter (self, error))
    return NULL;
  return SOTER_KEYSTORE_BACKEND (g_steal_pointer (&self));
}

static void
soter_keystore_tpm_finalize (GObject *object)
{
  SoterKeystoreTpm *self = SOTER_KEYSTORE_TPM (object);

  OPENSSL_cleanse (&self->auth, sizeof self->auth);
  op_end (&self->held);
  if (self->esys != NULL)
    Esys_Finalize (&self->esys);
  if (self->tcti != NULL)
    Tss2_TctiLdr_Finalize (&self->tcti);
  g_free (self->dir);
  g_free (self->tee_name);
  g_free (self->tee_version);
  G_OBJECT_CLASS (soter_keystore_tpm_parent_class)->finalize (object);
}

static void
soter_keystore_tpm_class_init (SoterKeystoreTpmClass *klass)
{
  SoterKeystoreBackendClass *backend_class = SOTER_KEYSTORE_BACKEND_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = soter_keystore_tpm_finalize;
  backend_class->device_key = tpm_device_key;
  backend_class->generate = tpm_generate;
  backend_class->parse = tpm_parse;
  backend_class->serialize = tpm_serialize;
  backend_class->sign = tpm_sign;
  backend_class->next_counter = tpm_next_counter;
  backend_class->get_counter = tpm_get_counter;
  backend_class->hold = tpm_hold;
  backend_class->release = tpm_release;
  backend_class->get_tee_name = tpm_get_tee_name;
  backend_class->get_tee_version = tpm_get_tee_version;
}

static void
soter_keystore_tpm_init (SoterKeystoreTpm *self)
{
  self->nv = ESYS_TR_NONE;
}
