/* soterctl — soterd from a shell: ask for authentications, enroll and list
 * prints, fetch the keys a server registers, and verify what soterd signed.
 * See soterctl(1). */
#include <locale.h>
#include <stdio.h>

#include <glib/gi18n.h>
#include <soter/soter.h>

#include "soterctl.h"
#include "config.h"

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "support", soterctl_support, N_("list the authentication modes this device supports") },
  { "enrolled", soterctl_enrolled, N_("tell whether you have enrolled a mode") },
  { "enroll", soterctl_enroll, N_("enroll a finger") },
  { "list", soterctl_list, N_("list your enrolled fingers") },
  { "delete", soterctl_delete, N_("delete an enrolled finger") },
  { "auth", soterctl_auth, N_("run a SOTER authentication and print the signed result") },
  { "keys", soterctl_keys, N_("print the device, app and auth keys a server registers") },
  { "verify", soterctl_verify, N_("verify a key chain and a signed result, as a server does") },
};

int
soterctl_exit_for_code (guint err_code)
{
  if (err_code == 0)
    return 0;
  if (err_code > 90000 && err_code <= 90011)
    return EXIT_SOTER_BASE + (int) (err_code - 90000);
  return EXIT_FAILED;
}

int
soterctl_exit_for_error (const GError *error)
{
  if (error->domain == SOTER_ERROR)
    return soterctl_exit_for_code ((guint) error->code);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return soterctl_exit_for_code (SOTER_ERROR_CANCELLED);
  return EXIT_FAILED;
}

static void
usage (FILE *out)
{
  /* Translators: COMMAND, OPTION and ARGUMENT are placeholders; soterctl's
   * command names stay as they are typed. */
  fprintf (out, "%s\n\n%s\n", _("Usage: soterctl COMMAND [OPTION…] [ARGUMENT…]"), _("Commands:"));
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\n%s\n", _("'soterctl COMMAND --help' describes a command; soterctl(1) has the rest."));
}

int
main (int argc, char **argv)
{
  /* Words for people are translated (domain GETTEXT_PACKAGE, from LOCALEDIR:
   * po/). What scripts read stays English in every locale: the command and
   * option names, `enrolled`'s yes/no, the modes and fingers `support` and
   * `list` print, `auth`'s authMode:/resultJSON:/resultJSONSignature:/
   * errCode:/errMsg: lines, the field labels of `keys` (cpu_id:, tee_n:,
   * tee_v:, signature:), every --json object, and `verify`'s "verified:"
   * line. errMsg and soterd's error messages are WeChat's English protocol
   * strings and are printed as soterd sent them. */
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2)
    {
      usage (stderr);
      return EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      usage (stdout);
      return 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("soterctl %s\n", PACKAGE_VERSION);
      return 0;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, _("soterctl: unknown command '%s'; try soterctl --help\n"), argv[1]);
  return EXIT_USAGE;
}
