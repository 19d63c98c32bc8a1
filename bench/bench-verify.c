/* bench-verify — how many SOTER resultJSON signatures are checked per
 * second, on Tencent's sample (RSA-2048, PSS, salt 20), for a fixed time.
 * Prints "<verifications per second>".
 *
 *   bench-verify SAMPLES_DIR SECONDS [soter|openssl-pss]
 *
 * soter:       soter-verify with a pinned key (what a server runs per reply)
 * openssl-pss: the floor: OpenSSL alone, EVP_DigestVerify RSA-PSS over the
 *              same bytes with a parsed key and nothing else around it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "soter-verify.h"

static gboolean
openssl_pss_verify (EVP_PKEY *pkey, const char *json, gsize len, const guchar *sig,
                    gsize sig_len)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  gboolean ok = EVP_DigestVerifyInit (md, &pctx, EVP_sha256 (), NULL, pkey) == 1 &&
                EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, 20) == 1 &&
                EVP_DigestVerify (md, sig, sig_len, (const guchar *) json, len) == 1;

  EVP_MD_CTX_free (md);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autofree char *pem = NULL, *json = NULL, *raw_sig = NULL, *sig = NULL;
  gsize json_len, sig_len;
  double seconds = argc > 2 ? atof (argv[2]) : 3.0;
  g_autofree char *dir = g_strdup (argc > 1 ? argv[1] : "tests/data/tencent-soter-samples");
  g_autofree char *pem_path = g_build_filename (dir, "auth_key.pem", NULL);
  g_autofree char *json_path = g_build_filename (dir, "final_json.txt", NULL);
  g_autofree char *sig_path = g_build_filename (dir, "final_signature.bin", NULL);
  g_autoptr(SoterVerifyKey) key = NULL;
  gboolean floor = argc > 3 && g_str_equal (argv[3], "openssl-pss");
  EVP_PKEY *pkey = NULL;
  SoterSigned doc;
  gint64 start, now;
  guint64 n = 0;

  if (!g_file_get_contents (pem_path, &pem, NULL, NULL) ||
      !g_file_get_contents (json_path, &json, &json_len, NULL) ||
      !g_file_get_contents (sig_path, &raw_sig, &sig_len, NULL))
    {
      fprintf (stderr, "bench-verify: cannot read the samples in %s\n", dir);
      return 2;
    }
  sig = g_base64_encode ((const guchar *) raw_sig, sig_len);
  doc = (SoterSigned) { json, json_len, sig };
  /* A server parses its pinned key once; every check after that is this. */
  key = soter_verify_key_new (pem, "bench", NULL);
  {
    BIO *bio = BIO_new_mem_buf (pem, -1);
    pkey = PEM_read_bio_PUBKEY (bio, NULL, NULL, NULL);
    BIO_free (bio);
  }

  start = g_get_monotonic_time ();
  do
    {
      for (int i = 0; i < 100; i++)
        if (floor ? !openssl_pss_verify (pkey, json, json_len, (const guchar *) raw_sig, sig_len)
                  : key == NULL || !soter_verify_signature_with_key (key, &doc, "bench", NULL))
          {
            fprintf (stderr, "bench-verify: the sample did not verify\n");
            return 1;
          }
      n += 100;
      now = g_get_monotonic_time ();
    }
  while (now - start < seconds * G_USEC_PER_SEC);

  printf ("%.0f\n", n / ((now - start) / (double) G_USEC_PER_SEC));
  EVP_PKEY_free (pkey);
  return 0;
}
