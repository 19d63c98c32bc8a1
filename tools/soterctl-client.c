/* soterctl-client.c — the subcommands that ask soterd, through libsoter:
 * support, enrolled, enroll, list, delete, auth, keys. */
#include <stdio.h>

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "soterctl-agent.h"
#include "soterctl.h"
#include "config.h"

/* ---- shared ----------------------------------------------------------- */

/* Parses a subcommand's options; FALSE with *status set when it must end.
 * @summary and the entries' descriptions are translated here (marked N_()
 * where they are written); @params (MODE, FINGER) stays as typed. */
static gboolean
parse (const char *name, const char *params, const char *summary, const GOptionEntry *entries,
       int min_args, int max_args, int *argc, char ***argv, int *status)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new (params);
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("soterctl %s", name);

  g_set_prgname (prgname);
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary (ctx, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      /* Translators: soterctl SUBCOMMAND: ERROR (see soterctl SUBCOMMAND --help) */
      fprintf (stderr, _("soterctl %s: %s (see soterctl %s --help)\n"), name, error->message,
               name);
      *status = EXIT_USAGE;
      return FALSE;
    }
  if (*argc - 1 < min_args || *argc - 1 > max_args)
    {
      /* Translators: the second %s is the arguments the subcommand takes, as
       * in its --help (e.g. FINGER), or "no arguments". */
      fprintf (stderr, _("soterctl %s: expected %s (see soterctl %s --help)\n"), name,
               params[0] ? params : _("no arguments"), name);
      *status = EXIT_USAGE;
      return FALSE;
    }
  return TRUE;
}

static int
fail (const char *name, const GError *error)
{
  fprintf (stderr, "soterctl %s: %s\n", name, error->message);
  return soterctl_exit_for_error (error);
}

static SoterClient *
connect_client (const char *name, int *status)
{
  g_autoptr(GError) error = NULL;
  SoterClient *client = soter_client_new_sync (NULL, &error);

  if (client == NULL)
    {
      fprintf (stderr, _("soterctl %s: cannot reach soterd: %s\n"), name, error->message);
      *status = EXIT_FAILED;
    }
  return client;
}

static void
print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

static void
add_string (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value);
}

/* Writes @data to DIR/NAME exactly (no newline added): the bytes as signed. */
static gboolean
write_exact (const char *dir, const char *name, const char *data, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_set_contents_full (path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

/* Ctrl-C: first the prompt on screen, else the call itself. */
typedef struct {
  GCancellable *cancellable;
  TextAgent    *agent;
  gboolean      interrupted;
} Interrupt;

static gboolean
on_sigint (gpointer data)
{
  Interrupt *it = data;

  it->interrupted = TRUE;
  if (!text_agent_cancel_shown (it->agent))
    g_cancellable_cancel (it->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
store_result (GObject *source, GAsyncResult *res, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (res);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* ---- support, enrolled, list, delete ---------------------------------- */

int
soterctl_support (int argc, char **argv)
{
  g_autoptr(SoterClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) modes = NULL;
  int status = 0;

  if (!parse ("support", "", N_("Lists the authentication modes this device supports, one a "
                                 "line.\nExit status 11 (90001) when there is none."),
              NULL, 0, 0, &argc, &argv, &status))
    return status;
  if ((client = connect_client ("support", &status)) == NULL)
    return status;
  modes = soter_client_get_supported_modes_sync (client, NULL, &error);
  if (modes == NULL)
    return fail ("support", error);
  for (char **m = modes; *m != NULL; m++)
    printf ("%s\n", *m);
  if (modes[0] == NULL)
    {
      fprintf (stderr, "%s\n",
               _("soterctl support: this device supports no SOTER authentication mode"));
      return soterctl_exit_for_code (SOTER_ERROR_NOT_SUPPORTED);
    }
  return 0;
}

int
soterctl_enrolled (int argc, char **argv)
{
  g_autoptr(SoterClient) client = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  /* The yes or no it prints is for scripts: never translated. */
  if (!parse ("enrolled", "MODE", N_("Tells whether you have enrolled MODE (e.g. fingerPrint): "
                                     "prints yes or no.\nExit status 0 when enrolled, 21 "
                                     "(90011) when not."),
              NULL, 1, 1, &argc, &argv, &status))
    return status;
  if ((client = connect_client ("enrolled", &status)) == NULL)
    return status;
  if (soter_client_is_enrolled_sync (client, argv[1], NULL, &error))
    {
      printf ("yes\n");
      return 0;
    }
  if (error != NULL)
    return fail ("enrolled", error);
  printf ("no\n");
  return soterctl_exit_for_code (SOTER_ERROR_NOT_ENROLLED);
}

int
soterctl_list (int argc, char **argv)
{
  g_autoptr(SoterClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fingers = NULL;
  int status = 0;

  if (!parse ("list", "", N_("Lists your enrolled fingers, one a line (fprintd's names)."),
              NULL, 0, 0, &argc, &argv, &status))
    return status;
  if ((client = connect_client ("list", &status)) == NULL)
    return status;
  fingers = soter_client_list_enrolled_fingers_sync (client, NULL, &error);
  if (fingers == NULL)
    return fail ("list", error);
  for (char **f = fingers; *f != NULL; f++)
    printf ("%s\n", *f);
  return 0;
}

int
soterctl_delete (int argc, char **argv)
{
  g_autoptr(SoterClient) client = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!parse ("delete", "FINGER", N_("Deletes one of your enrolled fingers (fprintd's names, "
                                     "e.g. right-index-finger)."),
              NULL, 1, 1, &argc, &argv, &status))
    return status;
  if ((client = connect_client ("delete", &status)) == NULL)
    return status;
  if (!soter_client_delete_enrolled_finger_sync (client, argv[1], NULL, &error))
    return fail ("delete", error);
  return 0;
}

/* ---- enroll ----------------------------------------------------------- */

static void
on_enroll_started (SoterClient *client, const char *finger)
{
  /* Translators: %s is fprintd's name of the finger (right-index-finger). */
  fprintf (stderr, _("Enrolling %s: place your finger on the reader, again after each stage "
                     "(Ctrl-C cancels).\n"), finger);
}

static void
on_enroll_status (SoterClient *client, const char *result, gboolean done, gpointer data)
{
  /* Translators: %s is fprintd's enroll status (enroll-stage-passed, …), as is. */
  printf (_("Enroll result: %s\n"), result);
  fflush (stdout);
}

int
soterctl_enroll (int argc, char **argv)
{
  g_autoptr(SoterClient) client = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  Interrupt it = { cancellable, NULL, FALSE };
  const char *finger;
  guint sigint;
  int status = 0;

  if (!parse ("enroll", "[FINGER]", N_("Enrolls one of your fingers (fprintd's names; "
                                       "right-index-finger by default),\nprinting each stage's "
                                       "result. Ctrl-C cancels (exit status 18)."),
              NULL, 0, 1, &argc, &argv, &status))
    return status;
  finger = argc > 1 ? argv[1] : "right-index-finger";
  if ((client = connect_client ("enroll", &status)) == NULL)
    return status;

  g_signal_connect (client, "enroll-started", G_CALLBACK (on_enroll_started), (gpointer) finger);
  g_signal_connect (client, "enroll-status", G_CALLBACK (on_enroll_status), NULL);
  sigint = g_unix_signal_add (SIGINT, on_sigint, &it);
  soter_client_enroll (client, finger, cancellable, store_result, &res);
  wait_for (&res);
  g_source_remove (sigint);
  if (!soter_client_enroll_finish (client, res, &error))
    return fail ("enroll", error);
  fprintf (stderr, _("Enrolled %s.\n"), finger);
  return 0;
}

/* ---- auth ------------------------------------------------------------- */

static void
print_result (SoterResult *result, gboolean as_json)
{
  if (as_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      /* Taro's names, so the object can go to a server as it is. */
      json_builder_begin_object (b);
      add_string (b, "authMode", soter_result_get_auth_mode (result));
      add_string (b, "resultJSON", soter_result_get_result_json (result));
      add_string (b, "resultJSONSignature", soter_result_get_result_json_signature (result));
      json_builder_set_member_name (b, "errCode");
      json_builder_add_int_value (b, soter_result_get_err_code (result));
      add_string (b, "errMsg", soter_result_get_err_msg (result));
      json_builder_end_object (b);
      print_json (b);
      return;
    }
  /* For scripts, like --json: these names stay English in every locale. */
  printf ("authMode: %s\n", soter_result_get_auth_mode (result));
  printf ("resultJSON: %s\n", soter_result_get_result_json (result));
  printf ("resultJSONSignature: %s\n", soter_result_get_result_json_signature (result));
  printf ("errCode: %u\n", soter_result_get_err_code (result));
  printf ("errMsg: %s\n", soter_result_get_err_msg (result));
}

int
soterctl_auth (int argc, char **argv)
{
  g_autofree char *challenge = NULL, *content = NULL, *out_dir = NULL;
  g_auto(GStrv) modes = NULL;
  gboolean as_json = FALSE, no_agent = FALSE;
  const GOptionEntry entries[] = {
    { "challenge", 'c', 0, G_OPTION_ARG_STRING, &challenge,
      N_("The server's challenge, signed back as raw (required)"), "C" },
    { "mode", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &modes,
      N_("A requested mode (default fingerPrint); may be repeated"), "MODE" },
    { "content", 0, 0, G_OPTION_ARG_STRING, &content,
      N_("What the prompt shows (authContent, at most 42 characters)"), "TEXT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, N_("Print one JSON object, with Taro's names"),
      NULL },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
      N_("Also write result.json and result.sig there, for soterctl verify"), "DIR" },
    { "no-agent", 0, 0, G_OPTION_ARG_NONE, &no_agent,
      N_("Do not bring a text prompt; rely on the session's agent"), NULL },
    { NULL }
  };
  const char *const default_modes[] = { "fingerPrint", NULL };
  g_autoptr(SoterClient) client = NULL;
  g_autoptr(TextAgent) agent = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(SoterResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Interrupt it = { cancellable, NULL, FALSE };
  guint sigint, code;
  int status = 0;

  if (!parse ("auth", "", N_("Asks soterd for a SOTER authentication and prints authMode, "
                             "resultJSON,\nresultJSONSignature, errCode and errMsg. With no "
                             "prompt agent in the session,\nsoterctl shows the prompt itself; "
                             "Ctrl-C cancels (errCode 90008).\nExit status 0 on success, "
                             "10 + (errCode - 90000) on a SOTER failure."),
              entries, 0, 0, &argc, &argv, &status))
    return status;
  if (challenge == NULL)
    {
      fprintf (stderr, "%s\n",
               _("soterctl auth: --challenge is required (see soterctl auth --help)"));
      return EXIT_USAGE;
    }
  if ((client = connect_client ("auth", &status)) == NULL)
    return status;
  if (!no_agent)
    {
      it.agent = agent = text_agent_new (client, &error);
      if (agent == NULL)
        return fail ("auth", error);
    }

  sigint = g_unix_signal_add (SIGINT, on_sigint, &it);
  soter_client_start_authentication (client, challenge,
                                     modes ? (const char *const *) modes : default_modes,
                                     content, cancellable, store_result, &res);
  wait_for (&res);
  g_source_remove (sigint);
  result = soter_client_start_authentication_finish (client, res, &error);
  if (result == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        /* Translators: put before the error message, as "cancelled: …". */
        g_prefix_error_literal (&error, _("cancelled: "));
      return fail ("auth", error);
    }

  print_result (result, as_json);
  code = soter_result_get_err_code (result);
  if (code != 0)
    {
      /* errMsg is WeChat's English protocol string: printed as it is. */
      fprintf (stderr, "soterctl auth: %s (errCode %u)\n", soter_result_get_err_msg (result), code);
      return soterctl_exit_for_code (code);
    }
  if (out_dir != NULL &&
      (!write_exact (out_dir, "result.json", soter_result_get_result_json (result), &error) ||
       !write_exact (out_dir, "result.sig", soter_result_get_result_json_signature (result),
                     &error)))
    {
      fprintf (stderr, "soterctl auth: %s\n", error->message);
      return EXIT_FAILED;
    }
  return 0;
}

/* ---- keys ------------------------------------------------------------- */

int
soterctl_keys (int argc, char **argv)
{
  g_autofree char *scene = NULL, *out_dir = NULL;
  gboolean as_json = FALSE;
  const GOptionEntry entries[] = {
    { "scene", 's', 0, G_OPTION_ARG_STRING, &scene, N_("The auth key's scene (default: default)"),
      "SCENE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, N_("Print one JSON object"), NULL },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
      N_("Write device-key.pem, app-key.json/.sig and auth-key.json/.sig there, for soterctl "
         "verify"), "DIR" },
    { NULL }
  };
  g_autofree char *pem = NULL, *cpu_id = NULL, *tee_n = NULL, *tee_v = NULL;
  g_autofree char *ask = NULL, *ask_sig = NULL, *auth = NULL, *auth_sig = NULL;
  g_autoptr(SoterClient) client = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!parse ("keys", "", N_("Prints the keys a server registers: the device key (PEM, to "
                             "pin), your app secure\nkey and your auth key (key_json and base64 "
                             "signature each), exactly as signed."),
              entries, 0, 0, &argc, &argv, &status))
    return status;
  if ((client = connect_client ("keys", &status)) == NULL)
    return status;
  if (!soter_client_get_device_key_sync (client, &pem, &cpu_id, &tee_n, &tee_v, NULL, &error) ||
      !soter_client_get_app_secure_key_sync (client, &ask, &ask_sig, NULL, &error) ||
      !soter_client_get_auth_key_sync (client, scene, &auth, &auth_sig, NULL, &error))
    return fail ("keys", error);

  if (out_dir != NULL)
    {
      g_autofree char *pem_nl = g_str_has_suffix (pem, "\n") ? g_strdup (pem)
                                                             : g_strconcat (pem, "\n", NULL);

      if (!write_exact (out_dir, "device-key.pem", pem_nl, &error) ||
          !write_exact (out_dir, "app-key.json", ask, &error) ||
          !write_exact (out_dir, "app-key.sig", ask_sig, &error) ||
          !write_exact (out_dir, "auth-key.json", auth, &error) ||
          !write_exact (out_dir, "auth-key.sig", auth_sig, &error))
        {
          fprintf (stderr, "soterctl keys: %s\n", error->message);
          return EXIT_FAILED;
        }
    }
  if (as_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "deviceKey");
      json_builder_begin_object (b);
      add_string (b, "publicKey", pem);
      add_string (b, "cpuId", cpu_id);
      add_string (b, "teeName", tee_n);
      add_string (b, "teeVersion", tee_v);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "appSecureKey");
      json_builder_begin_object (b);
      add_string (b, "keyJson", ask);
      add_string (b, "signature", ask_sig);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "authKey");
      json_builder_begin_object (b);
      add_string (b, "scene", scene && *scene ? scene : "default");
      add_string (b, "keyJson", auth);
      add_string (b, "signature", auth_sig);
      json_builder_end_object (b);
      json_builder_end_object (b);
      print_json (b);
      return 0;
    }
  /* The headings are for people; the keys and the field labels (cpu_id:,
   * tee_n:, tee_v:, signature:) stay as they are, for scripts. */
  printf ("%s\n%s%s", _("Device key (pin it on the server):"), pem,
          g_str_has_suffix (pem, "\n") ? "" : "\n");
  printf ("cpu_id: %s\ntee_n: %s\ntee_v: %s\n\n", cpu_id, tee_n, tee_v);
  printf ("%s\n%s\nsignature: %s\n\n", _("App secure key (key_json, signed by the device key):"),
          ask, ask_sig);
  printf (_("Auth key \"%s\" (key_json, signed by the app secure key):"),
          scene && *scene ? scene : "default");
  printf ("\n%s\nsignature: %s\n", auth, auth_sig);
  return 0;
}
