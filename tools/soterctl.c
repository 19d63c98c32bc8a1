/* soterctl — soterd from a shell: ask for authentications, enroll and list
 * prints, fetch the keys a server registers, and verify what soterd signed.
 * See soterctl(1). */
#include <locale.h>
#include <stdio.h>

#include <soter/soter.h>

#include "soterctl.h"
#include "config.h"

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "support", soterctl_support, "list the authentication modes this device supports" },
  { "enrolled", soterctl_enrolled, "tell whether you have enrolled a mode" },
  { "enroll", soterctl_enroll, "enroll a finger" },
  { "list", soterctl_list, "list your enrolled fingers" },
  { "delete", soterctl_delete, "delete an enrolled finger" },
  { "auth", soterctl_auth, "run a SOTER authentication and print the signed result" },
  { "keys", soterctl_keys, "print the device, app and auth keys a server registers" },
  { "verify", soterctl_verify, "verify a key chain and a signed result, as a server does" },
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
  fprintf (out, "Usage: soterctl COMMAND [OPTION…] [ARGUMENT…]\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'soterctl COMMAND --help' describes a command; soterctl(1) has the rest.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");

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
  fprintf (stderr, "soterctl: unknown command '%s'; try soterctl --help\n", argv[1]);
  return EXIT_USAGE;
}
