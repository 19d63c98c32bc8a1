/* soter-verify.h — the relying party's side of SOTER: verify a key chain
 * and a signed resultJSON, with no D-Bus and no daemon (OpenSSL, json-glib).
 *
 * Every signature is checked over the bytes exactly as received, before
 * anything is parsed; JSON is parsed only once its signature holds. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SOTER_VERIFY_ERROR (soter_verify_error_quark ())
GQuark soter_verify_error_quark (void);

typedef enum {
  SOTER_VERIFY_ERROR_BAD_BASE64,          /* a signature is not standard base64 */
  SOTER_VERIFY_ERROR_BAD_KEY,             /* not an RSA public key of 2048 bits or more */
  SOTER_VERIFY_ERROR_BAD_SIGNATURE,       /* the message names the link */
  SOTER_VERIFY_ERROR_MALFORMED_JSON,
  SOTER_VERIFY_ERROR_CLAIM_MISMATCH,      /* uid or cpu_id differ along the chain */
  SOTER_VERIFY_ERROR_CHALLENGE_MISMATCH,  /* raw is not the expected challenge */
  SOTER_VERIFY_ERROR_REPLAYED_COUNTER,    /* counter not above the last accepted */
  SOTER_VERIFY_ERROR_STATE,               /* the state file cannot be read or written */
} SoterVerifyError;

/* A signed document, exactly as received. */
typedef struct {
  const char *data;
  gsize       len;
  const char *signature;  /* standard base64 */
} SoterSigned;

/* RSA-PSS, SHA-256, MGF1-SHA-256 over @doc's bytes; the salt length is the
 * signed bytes' "rsa_pss_saltlen" when they carry one (20 or 32), else 20.
 * @link names the link in error messages ("auth key by app key"). */
gboolean soter_verify_signature (const char        *pub_pem,
                                 const SoterSigned *doc,
                                 const char        *link,
                                 GError           **error);

/* A public key parsed once, for a server that checks many documents with the
 * same pinned key (OpenSSL 3's PEM decoding costs more than a verification).
 * A key keeps OpenSSL contexts: use it from one thread at a time. */
typedef struct _SoterVerifyKey SoterVerifyKey;

SoterVerifyKey *soter_verify_key_new (const char *pub_pem,
                                      const char *link,
                                      GError    **error);
void            soter_verify_key_free (SoterVerifyKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterVerifyKey, soter_verify_key_free)

gboolean soter_verify_signature_with_key (SoterVerifyKey    *key,
                                          const SoterSigned *doc,
                                          const char        *link,
                                          GError           **error);

typedef struct {
  char   *pub_key;   /* PEM */
  char   *cpu_id;
  char   *uid;
  gint64  counter;
} SoterKeyInfo;

/* Verifies a key_json with its parent's key, then parses it. */
SoterKeyInfo *soter_verify_key_json (const char        *parent_pub_pem,
                                     const SoterSigned *key_json,
                                     const char        *link,
                                     GError           **error);
void          soter_key_info_free (SoterKeyInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterKeyInfo, soter_key_info_free)

typedef struct _SoterResultInfo SoterResultInfo;

/* Parsing alone, for documents whose signature has been checked already:
 * tolerant of raw control characters inside strings (some devices sign
 * key_json with raw line feeds), strict about the members and their types. */
SoterKeyInfo    *soter_verify_parse_key_json (const SoterSigned *doc,
                                              const char        *link,
                                              GError           **error);
SoterResultInfo *soter_verify_parse_result (const SoterSigned *doc,
                                            GError           **error);

/* A whole chain. Exactly one of the pinned keys is set: the device key (then
 * app_key and auth_key are needed), the app key (then auth_key is needed),
 * or the auth key. */
typedef struct {
  const char  *device_key_pem;
  const char  *app_key_pem;
  const char  *auth_key_pem;
  SoterSigned  app_key;
  SoterSigned  auth_key;
  SoterSigned  result;
  const char  *challenge;    /* NULL: not checked */
  const char  *state_path;   /* NULL: no replay check */
} SoterChain;

struct _SoterResultInfo {
  char   *raw;
  char   *fid;
  char   *cpu_id;
  char   *uid;
  gint64  counter;
};

/* Verifies every link, the claims (uid and cpu_id the same along the chain,
 * raw the challenge) and, with a state file, that counter is above the last
 * one accepted for this cpu_id — and then records it, atomically. */
SoterResultInfo *soter_verify_chain (const SoterChain *chain,
                                     GError          **error);
void             soter_result_info_free (SoterResultInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoterResultInfo, soter_result_info_free)

G_END_DECLS
