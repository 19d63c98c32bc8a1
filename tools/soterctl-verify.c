/* soterctl-verify.c — `soterctl verify`: a relying party's check of a SOTER
 * key chain and signed resultJSON, with no D-Bus and no daemon.
 *
 *   soterctl verify (--device-key PEM --app-key JSON SIG | --app-key-pem PEM
 *                    | --auth-key-pem PEM) [--auth-key JSON SIG]
 *                   [--challenge C] [--state FILE] RESULT_JSON SIGNATURE
 *
 * Each argument naming data is a file, or - for standard input (once).
 * Signature files hold base64 as SOTER sends it, or the raw signature.
 * Exit status: 0 when everything holds, 1 when verification failed (the
 * reason on stderr, one line), 2 for a usage error.
 */
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>

#include "soter-verify.h"
#include "soterctl.h"

/* Translators: the option names, PEM, JSON, SIG, C, FILE, RESULT_JSON and
 * SIGNATURE stay as typed; key_json, raw, uid, cpu_id and rsa_pss_saltlen are
 * SOTER's field names. */
static const char usage[] =
  N_("Usage: soterctl verify (--device-key PEM --app-key JSON SIG | --app-key-pem PEM |\n"
  "                        --auth-key-pem PEM) [--auth-key JSON SIG]\n"
  "                       [--challenge C] [--state FILE] RESULT_JSON SIGNATURE\n"
  "\n"
  "Verifies a SOTER key chain and a signed resultJSON as a relying party:\n"
  "the pinned key signs the app secure key's key_json, which signs the auth\n"
  "key's key_json, which signs resultJSON (RSA-PSS SHA-256, salt 20, or the\n"
  "signed rsa_pss_saltlen). Then raw must equal --challenge, uid and cpu_id\n"
  "must match along the chain, and with --state the counter must be above the\n"
  "last one accepted for the cpu_id, which is then recorded.\n"
  "\n"
  "Files may be - for standard input. Signatures are base64 or raw bytes.\n"
  "Exit status: 0 verified, 1 verification failed, 2 usage error.\n");

typedef struct {
  char  *data;
  gsize  len;
} Blob;

static gboolean stdin_used = FALSE;

static gboolean
read_input (const char *name, Blob *out, GError **error)
{
  if (g_strcmp0 (name, "-") == 0)
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
      g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();

      if (stdin_used)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("standard input (-) can be read only once"));
          return FALSE;
        }
      stdin_used = TRUE;
      if (g_output_stream_splice (mem, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
        return FALSE;
      out->len = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (mem));
      out->data = g_malloc (out->len + 1);
      /* Empty input has no buffer at all: memcpy from NULL is undefined. */
      if (out->len > 0)
        memcpy (out->data, g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (mem)),
                out->len);
      out->data[out->len] = '\0';
      return TRUE;
    }
  return g_file_get_contents (name, &out->data, &out->len, error);
}

/* A signature file: base64 text (surrounding white space allowed), or the
 * raw signature bytes, as Tencent's samples store them. */
static char *
signature_text (const Blob *blob)
{
  g_autofree char *text = g_strndup (blob->data, blob->len);
  gboolean printable = strlen (text) == blob->len;

  for (gsize i = 0; printable && i < blob->len; i++)
    if (!g_ascii_isgraph (text[i]) && !g_ascii_isspace (text[i]))
      printable = FALSE;
  if (printable)
    return g_strdup (g_strstrip (text));
  return g_base64_encode ((const guchar *) blob->data, blob->len);
}

typedef struct {
  Blob  json;
  char *sig;
} SignedInput;

static gboolean
read_signed (const char *json_name, const char *sig_name, SignedInput *out, GError **error)
{
  Blob sig = { 0 };

  if (!read_input (json_name, &out->json, error) || !read_input (sig_name, &sig, error))
    return FALSE;
  out->sig = signature_text (&sig);
  g_free (sig.data);
  return TRUE;
}

static int
fail_usage (const char *message)
{
  g_printerr ("soterctl verify: %s\n%s", _(message), _(usage));
  return EXIT_USAGE;
}

int
soterctl_verify (int argc, char **argv)
{
  const char *device_key = NULL, *app_key_pem = NULL, *auth_key_pem = NULL;
  const char *app_key[2] = { NULL }, *auth_key[2] = { NULL };
  const char *challenge = NULL, *state = NULL, *positional[2] = { NULL };
  g_autofree char *device_pem = NULL, *ask_pem = NULL, *auth_pem = NULL;
  SignedInput ask = { { 0 } }, auth = { { 0 } }, result = { { 0 } };
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterResultInfo) info = NULL;
  SoterChain chain = { 0 };
  int npos = 0, pinned;

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
#define NEED(n) if (i + (n) >= argc) return fail_usage (N_("missing value after an option"))
      if (g_str_equal (a, "--help") || g_str_equal (a, "-h"))
        {
          g_print ("%s", _(usage));
          return 0;
        }
      else if (g_str_equal (a, "--device-key")) { NEED (1); device_key = argv[++i]; }
      else if (g_str_equal (a, "--app-key-pem")) { NEED (1); app_key_pem = argv[++i]; }
      else if (g_str_equal (a, "--auth-key-pem")) { NEED (1); auth_key_pem = argv[++i]; }
      else if (g_str_equal (a, "--app-key")) { NEED (2); app_key[0] = argv[++i]; app_key[1] = argv[++i]; }
      else if (g_str_equal (a, "--auth-key")) { NEED (2); auth_key[0] = argv[++i]; auth_key[1] = argv[++i]; }
      else if (g_str_equal (a, "--challenge")) { NEED (1); challenge = argv[++i]; }
      else if (g_str_equal (a, "--state")) { NEED (1); state = argv[++i]; }
      else if (a[0] == '-' && a[1] != '\0')
        return fail_usage (N_("unknown option"));
      else if (npos < 2)
        positional[npos++] = a;
      else
        return fail_usage (N_("too many arguments"));
#undef NEED
    }

  pinned = (device_key != NULL) + (app_key_pem != NULL) + (auth_key_pem != NULL);
  if (pinned != 1)
    return fail_usage (N_("pin exactly one key: --device-key, --app-key-pem or --auth-key-pem"));
  if (npos != 2)
    return fail_usage (N_("RESULT_JSON and SIGNATURE are needed"));
  if (device_key != NULL && app_key[0] == NULL)
    return fail_usage (N_("--device-key needs --app-key JSON SIG"));
  if (auth_key_pem == NULL && auth_key[0] == NULL)
    return fail_usage (N_("--auth-key JSON SIG is needed unless --auth-key-pem is given"));

  {
    Blob b = { 0 };
    const char *pem_name = device_key ? device_key : app_key_pem ? app_key_pem : auth_key_pem;

    if (!read_input (pem_name, &b, &error))
      goto io_error;
    if (device_key) chain.device_key_pem = device_pem = b.data;
    else if (app_key_pem) chain.app_key_pem = ask_pem = b.data;
    else chain.auth_key_pem = auth_pem = b.data;
  }
  if ((app_key[0] && !read_signed (app_key[0], app_key[1], &ask, &error)) ||
      (auth_key[0] && !read_signed (auth_key[0], auth_key[1], &auth, &error)) ||
      !read_signed (positional[0], positional[1], &result, &error))
    goto io_error;

  chain.app_key = (SoterSigned) { ask.json.data, ask.json.len, ask.sig };
  chain.auth_key = (SoterSigned) { auth.json.data, auth.json.len, auth.sig };
  chain.result = (SoterSigned) { result.json.data, result.json.len, result.sig };
  chain.challenge = challenge;
  chain.state_path = state;

  info = soter_verify_chain (&chain, &error);
  g_free (ask.json.data); g_free (ask.sig);
  g_free (auth.json.data); g_free (auth.sig);
  g_free (result.json.data); g_free (result.sig);
  if (info == NULL)
    {
      /* The reason is libsoter-verify's (English, as a server logs it). */
      g_printerr (_("soterctl verify: FAILED: %s\n"), error->message);
      return EXIT_VERIFY_FAILED;
    }
  /* For scripts: English in every locale. */
  g_print ("verified: cpu_id %s, uid %s, fid %s, counter %" G_GINT64_FORMAT "\n", info->cpu_id,
           info->uid, info->fid, info->counter);
  return 0;

io_error:
  g_printerr ("soterctl verify: %s\n", error->message);
  g_free (ask.json.data); g_free (ask.sig);
  g_free (auth.json.data); g_free (auth.sig);
  g_free (result.json.data); g_free (result.sig);
  return EXIT_USAGE;
}

