/* soter-keystore-backend.c — what the key store's back ends share. */
#include "soter-keystore-backend.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "soter-error.h"

G_DEFINE_ABSTRACT_TYPE (SoterKeystoreBackend, soter_keystore_backend, G_TYPE_OBJECT)

void
soter_secret_clear (SoterSecret *secret)
{
  if (secret->data != NULL)
    {
      OPENSSL_cleanse (secret->data, secret->len);
      g_free (secret->data);
    }
  secret->data = NULL;
  secret->len = 0;
}

SoterKey *
soter_key_new (EVP_PKEY *pkey, gpointer data, GDestroyNotify data_free)
{
  SoterKey *key = g_new0 (SoterKey, 1);

  key->pkey = pkey;
  key->data = data;
  key->data_free = data_free;
  return key;
}

void
soter_key_free (SoterKey *key)
{
  if (key == NULL)
    return;
  EVP_PKEY_free (key->pkey);
  if (key->data_free != NULL)
    key->data_free (key->data);
  g_free (key);
}

gboolean
soter_keystore_openssl_error (GError **error, const char *what)
{
  unsigned long e = ERR_get_error ();
  char buf[256] = "unknown error";

  if (e != 0)
    ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, "%s: %s", what, buf);
  return FALSE;
}

static void
soter_keystore_backend_class_init (SoterKeystoreBackendClass *klass)
{
}

static void
soter_keystore_backend_init (SoterKeystoreBackend *self)
{
}
