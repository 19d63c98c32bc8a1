/* libFuzzer target: the verifier's handling of untrusted input.
 *
 * Input: a document, then optionally a NUL byte and a signature text. The
 * document goes through both parsers (resultJSON and key_json, which a
 * server runs on device-supplied bytes), through signature checking against
 * a fixed key (salt scan, strict base64), and is used as a PEM public key
 * (a key_json's pub_key is device-supplied too). */
#include <stdint.h>
#include <string.h>

#include "soter-verify.h"

/* Tencent's sample auth key (tests/data/tencent-soter-samples/auth_key.pem). */
static const char fixed_key[] =
  "-----BEGIN PUBLIC KEY-----\n"
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlywg8g3TKyDsJ7thd4pb\n"
  "6HQ7TJ+UzDOH48XwfWllkGrvzXu0f3iM5AEh2iTEZB05KXwYwkRUuVg8P5HPRZwl\n"
  "LADoO3g3DzzdRCqNtWug26Jg4Ca2cGHoOx7YpHSTgOLxzWjbgEqpUL02KDFrwHNi\n"
  "Ti0QC6+Te29bHnvzQKy23IBu4+qIFGrjpo2MwRt0zCyts/NQONLsOSIbLokz3og2\n"
  "AKgJoG1GtmclmNnbC/jVWQ1tIUt62Ri6OipD1lZOmsdyioYy1IuecFn5wtvrvm73\n"
  "Sz49I8R/vK8CxWSCrYfP+9FkCupoMcmhDZIKdXlTsvp55gemiy7nLkhkRB5Hu5Qf\n"
  "pQIDAQAB\n"
  "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *copy = g_malloc (size + 1);
  const char *nul;
  SoterSigned doc;
  SoterKeyInfo *key;
  SoterResultInfo *result;

  memcpy (copy, data, size);
  copy[size] = '\0';
  nul = memchr (copy, '\0', size);
  doc.data = copy;
  doc.len = nul ? (gsize) (nul - copy) : size;
  doc.signature = nul ? nul + 1 : "";

  result = soter_verify_parse_result (&doc, NULL);
  g_clear_pointer (&result, soter_result_info_free);
  key = soter_verify_parse_key_json (&doc, "fuzz", NULL);
  g_clear_pointer (&key, soter_key_info_free);
  soter_verify_signature (fixed_key, &doc, "fuzz", NULL);
  /* The document as a key: copy up to the NUL, so it is a C string. */
  soter_verify_signature (copy, &doc, "fuzz as key", NULL);

  g_free (copy);
  return 0;
}
