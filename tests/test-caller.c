/* Unit tests: identifying a calling process (soter-caller.c), as root with a
 * child chrooted into a directory whose /.flatpak-info the test controls —
 * what any user can arrange with an unprivileged user namespace.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "soter-caller.h"
#include "soter-error.h"

typedef struct {
  char  *root;
  pid_t  pid;
  int    hold;   /* the child waits until this pipe closes */
} Child;

/* A child process whose root is a new directory, prepared by @prepare. */
static Child *
child_new (void (*prepare) (const char *root, gconstpointer data), gconstpointer data)
{
  Child *child = g_new0 (Child, 1);
  int ready[2], hold[2];
  char c;

  child->root = g_dir_make_tmp ("soter-caller-XXXXXX", NULL);
  g_assert_nonnull (child->root);
  if (prepare != NULL)
    prepare (child->root, data);
  g_assert_no_errno (pipe (ready));
  g_assert_no_errno (pipe (hold));
  child->pid = fork ();
  g_assert_cmpint (child->pid, >=, 0);
  if (child->pid == 0)
    {
      close (ready[0]);
      close (hold[1]);
      if (chroot (child->root) != 0 || chdir ("/") != 0)
        _exit (1);
      (void) !write (ready[1], "r", 1);
      (void) !read (hold[0], &c, 1);
      _exit (0);
    }
  close (ready[1]);
  close (hold[0]);
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  close (ready[0]);
  child->hold = hold[1];
  return child;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *sub = g_build_filename (path, name, NULL);
      struct stat st;

      if (lstat (sub, &st) == 0 && S_ISDIR (st.st_mode))
        remove_tree (sub);
      else
        g_unlink (sub);
    }
  g_rmdir (path);
}

static void
child_free (Child *child)
{
  int status;

  close (child->hold);
  g_assert_cmpint (waitpid (child->pid, &status, 0), ==, child->pid);
  remove_tree (child->root);
  g_free (child->root);
  g_free (child);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Child, child_free)

static void
write_info (const char *root, gconstpointer data)
{
  g_autofree char *path = g_build_filename (root, ".flatpak-info", NULL);

  g_assert_true (g_file_set_contents (path, data, -1, NULL));
}

static SoterCaller *
identify (Child *child, int pidfd, GError **error)
{
  SoterCaller *caller = g_new0 (SoterCaller, 1);

  if (!soter_caller_identify (caller, getuid (), (guint32) child->pid, pidfd, error))
    g_clear_pointer (&caller, soter_caller_free);
  return caller;
}

static gboolean
need_root (void)
{
  if (geteuid () == 0)
    return TRUE;
  g_test_skip ("needs root, to chroot a child");
  return FALSE;
}

static void
test_host_process (void)
{
  g_autoptr(Child) child = NULL;
  g_autoptr(SoterCaller) caller = NULL;
  g_autoptr(GError) error = NULL;

  if (!need_root ())
    return;
  child = child_new (NULL, NULL);
  caller = identify (child, -1, &error);
  g_assert_no_error (error);
  g_assert_null (caller->flatpak_id);
  g_assert_cmpuint (caller->pid, ==, (guint) child->pid);
  /* Named by its executable (under valgrind, valgrind's). */
  g_assert_true (g_str_has_prefix (caller->app_id, "/"));
}

static void
test_flatpak_app (void)
{
  g_autoptr(Child) child = NULL;
  g_autoptr(SoterCaller) caller = NULL;
  g_autoptr(GError) error = NULL;

  if (!need_root ())
    return;
  child = child_new (write_info, "[Application]\nname=org.example.App\nruntime=x\n");
  caller = identify (child, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (caller->flatpak_id, ==, "org.example.App");
  g_assert_cmpstr (caller->app_id, ==, "org.example.App");
}

/* Names that would reach outside keys/apps/<uid>-<name>/, or are not ids. */
static void
test_invalid_app_ids_are_refused (void)
{
  static const char *const names[] = {
    "/../0", "x/../../0", "..", "org.example.App/../../0", "../../../../tmp/x",
    "app", "org..example", ".org.example", "org.example.", "org.exa mple.App",
    "org.example.Äpp",
  };

  if (!need_root ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *info = g_strdup_printf ("[Application]\nname=%s\n", names[i]);
      g_autoptr(Child) child = child_new (write_info, info);
      g_autoptr(GError) error = NULL;
      g_autoptr(SoterCaller) caller = identify (child, -1, &error);

      g_test_message ("app id %s", names[i]);
      g_assert_null (caller);
      g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
      g_assert_nonnull (strstr (error->message, "is not a valid application id"));
    }
}

static void
test_no_application_group (void)
{
  g_autoptr(Child) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterCaller) caller = NULL;

  if (!need_root ())
    return;
  /* A runtime's sandbox, or a file that is not a key file at all. */
  child = child_new (write_info, "[Runtime]\nruntime=org.gnome.Platform\n");
  caller = identify (child, -1, &error);
  g_assert_null (caller);
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "names no application"));
}

static void
make_special (const char *root, gconstpointer data)
{
  const char *kind = data;
  g_autofree char *path = g_build_filename (root, ".flatpak-info", NULL);
  g_autofree char *target = g_build_filename (root, "real-info", NULL);
  int fd;

  if (g_str_equal (kind, "fifo"))
    g_assert_no_errno (mkfifo (path, 0600));
  else if (g_str_equal (kind, "dir"))
    g_assert_no_errno (g_mkdir (path, 0700));
  else if (g_str_equal (kind, "symlink"))
    {
      g_assert_true (g_file_set_contents (target, "[Application]\nname=org.example.App\n", -1,
                                          NULL));
      g_assert_no_errno (symlink ("/real-info", path));
    }
  else if (g_str_equal (kind, "sparse"))
    {
      fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      g_assert_cmpint (fd, >=, 0);
      g_assert_no_errno (ftruncate (fd, (off_t) 2 << 30));
      close (fd);
    }
  else if (g_str_equal (kind, "just-over"))
    {
      g_autofree char *big = g_malloc0 (SOTER_CALLER_FLATPAK_INFO_MAX + 2);

      memset (big, '#', SOTER_CALLER_FLATPAK_INFO_MAX + 1);
      memcpy (big, "[Application]\nname=org.example.App\n", 35);
      g_assert_true (g_file_set_contents (path, big, -1, NULL));
    }
  else if (g_str_equal (kind, "device"))
    g_assert_no_errno (mknod (path, S_IFCHR | 0600, makedev (1, 3)));  /* /dev/null */
}

/* None of these is read: no hang on a FIFO, no 2 GiB in memory, no device
 * opened, no symlink followed (its target would be soterd's own file). */
static void
test_special_files_are_refused (void)
{
  static const struct {
    const char *kind;
    const char *message;
  } cases[] = {
    { "fifo", "is not a regular file" },
    { "dir", "is not a regular file" },
    { "symlink", "is not a regular file" },
    { "device", "is not a regular file" },
    { "sparse", "is larger than" },
    { "just-over", "is larger than" },
  };

  if (!need_root ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(Child) child = child_new (make_special, cases[i].kind);
      g_autoptr(GError) error = NULL;
      g_autoptr(SoterCaller) caller = identify (child, -1, &error);

      g_test_message (".flatpak-info as %s", cases[i].kind);
      g_assert_null (caller);
      g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
      g_assert_nonnull (strstr (error->message, cases[i].message));
    }
}

static void
write_foreign_info (const char *root, gconstpointer data)
{
  g_autofree char *path = g_build_filename (root, ".flatpak-info", NULL);

  write_info (root, "[Application]\nname=org.example.App\n");
  g_assert_no_errno (chown (path, 4242, 4242));
}

/* A file of someone else's, bind-mounted there (say /proc/kmsg or another
 * user's file), is not read as root; a pid that now names another user's
 * process is not taken for the caller. */
static void
test_foreign_files_and_processes (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterCaller) caller = NULL;
  g_autoptr(Child) child = NULL;

  if (!need_root ())
    return;
  child = child_new (write_foreign_info, NULL);
  caller = identify (child, -1, &error);
  g_assert_null (caller);
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "is not its own file"));
  g_clear_error (&error);

  caller = g_new0 (SoterCaller, 1);
  g_assert_false (soter_caller_identify (caller, 4242, (guint32) child->pid, -1, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "does not run as the caller's uid"));
}

static void
test_pidfd (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterCaller) caller = NULL;
  Child *child;
  int pidfd, status;

  if (!need_root ())
    return;
  child = child_new (write_info, "[Application]\nname=org.example.App\n");
  pidfd = (int) syscall (SYS_pidfd_open, child->pid, 0);
  if (pidfd < 0)
    {
      child_free (child);
      g_test_skip ("no pidfd_open() here");
      return;
    }
  caller = identify (child, pidfd, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (caller->flatpak_id, ==, "org.example.App");
  g_clear_pointer (&caller, soter_caller_free);

  /* A pidfd of another process than the pid named is refused. */
  {
    int self_fd = (int) syscall (SYS_pidfd_open, getpid (), 0);

    caller = identify (child, self_fd, &error);
    g_assert_null (caller);
    g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
    g_clear_error (&error);
    close (self_fd);
  }

  /* Once the process has exited, its pidfd says so. */
  close (child->hold);
  g_assert_cmpint (waitpid (child->pid, &status, 0), ==, child->pid);
  caller = identify (child, pidfd, &error);
  g_assert_null (caller);
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "gone"));
  close (pidfd);
  remove_tree (child->root);
  g_free (child->root);
  g_free (child);
}

static void
test_app_id_from_unit (void)
{
  static const struct {
    const char *unit;
    const char *id;
  } cases[] = {
    { "app-gnome-org.gnome.Calculator-1234.scope", "org.gnome.Calculator" },
    { "app-org.gnome.Calculator-1234.scope", "org.gnome.Calculator" },
    { "app-flatpak-org.example.App-98765.scope", "org.example.App" },
    { "app-gnome-org.gnome.Terminal@a1b2.service", "org.gnome.Terminal" },
    { "app-org.gnome.Terminal.service", "org.gnome.Terminal" },
    { "app-gnome-firefox\\x2desr-42.scope", "firefox-esr" },
    { "app-kde-org.kde.konsole-3.scope", "org.kde.konsole" },
    { "app-gnome-org.gnome.Maps.desktop-77.scope", "org.gnome.Maps" },
    { "session-2.scope", NULL },
    { "user@1000.service", NULL },
    { "app-.scope", NULL },
    { "app--1.scope", NULL },
    { "app-gnome-\\x2f..\\x2fetc\\x2fx-1.scope", NULL },
    { "app-gnome-..-1.scope", NULL },
    { "app-gnome-org.example.App-1.mount", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *id = soter_caller_app_id_from_unit (cases[i].unit);

      g_test_message ("%s", cases[i].unit);
      g_assert_cmpstr (id, ==, cases[i].id);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/caller/host-process", test_host_process);
  g_test_add_func ("/caller/flatpak-app", test_flatpak_app);
  g_test_add_func ("/caller/invalid-app-ids-are-refused", test_invalid_app_ids_are_refused);
  g_test_add_func ("/caller/no-application-group", test_no_application_group);
  g_test_add_func ("/caller/special-files-are-refused", test_special_files_are_refused);
  g_test_add_func ("/caller/foreign-files-and-processes", test_foreign_files_and_processes);
  g_test_add_func ("/caller/pidfd", test_pidfd);
  g_test_add_func ("/caller/app-id-from-unit", test_app_id_from_unit);
  return g_test_run ();
}
