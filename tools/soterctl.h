/* soterctl.h — what soterctl's subcommands share. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Exit status (soterctl(1)): 0 success; 1 the check failed or soterd could
 * not be asked; 2 usage; 10 + (err_code − 90000) for a SOTER error, so
 * 90002 → 12, 90008 (cancelled) → 18, 90011 (not enrolled) → 21. */
#define EXIT_VERIFY_FAILED 1
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_SOTER_BASE 10

int soterctl_exit_for_code (guint err_code);
int soterctl_exit_for_error (const GError *error);

/* Each subcommand gets argv from its own name on. */
int soterctl_verify (int argc, char **argv);
int soterctl_support (int argc, char **argv);
int soterctl_enrolled (int argc, char **argv);
int soterctl_enroll (int argc, char **argv);
int soterctl_list (int argc, char **argv);
int soterctl_delete (int argc, char **argv);
int soterctl_auth (int argc, char **argv);
int soterctl_keys (int argc, char **argv);

G_END_DECLS
