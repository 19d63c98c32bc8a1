/* soter-caller.c — who is calling: the bus's credentials, then the process.
 *
 * Everything about the process is read through one O_PATH handle on
 * /proc/PID, opened first: once open, it names that process and no other
 * (its files answer ESRCH after the process exits, even if the pid is
 * reused). What remains is the time between the bus noting the pid and
 * that open. Where the bus daemon gives a pidfd (ProcessFD: dbus-broker ≥ 34,
 * dbus-daemon ≥ 1.15.x; not Debian 12's 1.14), a pidfd that still answers
 * after the open proves the pid was not reused. Without one, the process's
 * start time is read before anything else and checked again, through a fresh
 * /proc/PID, after everything else: a pid that was reused meanwhile is seen.
 *
 * A Flatpak app is known by /.flatpak-info in its own root. Any user can
 * make a process whose root holds any file (an unprivileged user namespace
 * and a chroot), so the file is opened without following a symlink, as an
 * O_PATH handle (no device is ever opened, no FIFO waited on), accepted
 * only as a regular file of at most 64 KiB, and its app id only if
 * g_application_id_is_valid(): it becomes part of a key store path. Any
 * doubt refuses the call rather than falling back to another identity.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE /* O_PATH */
#include "soter-caller.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <gio/gunixfdlist.h>
#include <systemd/sd-login.h>

#include "soter-error.h"

/* Display strings (executable paths, scripts, desktop names) are capped. */
#define DISPLAY_MAX_CHARS 256
#define CMDLINE_MAX 4096

void
soter_caller_free (SoterCaller *caller)
{
  g_free (caller->sender);
  g_free (caller->session);
  g_free (caller->app_id);
  g_free (caller->app_name);
  g_free (caller->app_icon);
  g_free (caller->flatpak_id);
  g_free (caller);
}

static gboolean
fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, SOTER_ERROR, SOTER_ERROR_INTERNAL, msg);
  return FALSE;
}

/* Text from the process (a path, a script name, a desktop file's Name) as
 * an agent may show it: valid UTF-8, no control or format characters (a
 * bidi override in a file name must not reorder the prompt), bounded. */
static char *
display_string (const char *text, gssize len)
{
  g_autofree char *valid = g_utf8_make_valid (text, len);
  GString *out = g_string_new (NULL);
  guint n = 0;

  for (const char *p = valid; *p != '\0' && n < DISPLAY_MAX_CHARS; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType t = g_unichar_type (c);

      if (t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT || t == G_UNICODE_LINE_SEPARATOR ||
          t == G_UNICODE_PARAGRAPH_SEPARATOR)
        c = 0xFFFD;
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* Reads a small /proc file relative to @dirfd (at most @max bytes). */
static char *
read_proc_file (int dirfd, const char *name, gsize max, gsize *out_len)
{
  int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  g_autofree char *buf = NULL;
  gsize len = 0;

  if (fd < 0)
    return NULL;
  buf = g_malloc (max + 1);
  while (len < max)
    {
      ssize_t n = read (fd, buf + len, max - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (gsize) n;
    }
  close (fd);
  buf[len] = '\0';
  if (out_len != NULL)
    *out_len = len;
  return g_steal_pointer (&buf);
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks. The
 * command name before it is in parentheses and may hold anything, so the
 * fields are counted from the last ')'. */
static gboolean
read_start_time (int dirfd, guint64 *out)
{
  g_autofree char *stat = read_proc_file (dirfd, "stat", 1024, NULL);
  g_auto(GStrv) fields = NULL;
  const char *p;

  if (stat == NULL || (p = strrchr (stat, ')')) == NULL || p[1] != ' ')
    return FALSE;
  /* fields[0] is field 3 (the state). */
  fields = g_strsplit (p + 2, " ", 21);
  if (g_strv_length (fields) < 20)
    return FALSE;
  return g_ascii_string_to_unsigned (fields[19], 10, 0, G_MAXUINT64, out, NULL);
}

/* ---- the sandbox -------------------------------------------------------- */

/* The Flatpak app id from /.flatpak-info in the process's root: *out_id
 * NULL (and TRUE) when there is no such file. Flatpak writes it as the
 * user: a file owned by anyone else, or in procfs or sysfs (whatever the
 * caller bind-mounted there), is not read as root. */
static gboolean
read_flatpak_id (int proc_fd, guint32 uid, char **out_id, GError **error)
{
  struct statfs sfs;
  g_autofree char *data = NULL;
  g_autofree char *name = NULL;
  g_autofree char *reopen = NULL;
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  struct stat st;
  gsize len = 0;
  int root_fd, path_fd, fd;

  *out_id = NULL;
  root_fd = openat (proc_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return fail (error, "could not open the calling process's root directory: %s",
                 g_strerror (errno));
  path_fd = openat (root_fd, ".flatpak-info", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  close (root_fd);
  if (path_fd < 0 && errno == ENOENT)
    return TRUE;
  if (path_fd < 0)
    return fail (error, "could not open the calling process's .flatpak-info: %s",
                 g_strerror (errno));
  /* An O_PATH handle opens nothing: the file is checked before it is read,
   * and read only if it is a regular file of bounded size. */
  if (fstat (path_fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (path_fd);
      return fail (error, "the calling process's .flatpak-info is not a regular file");
    }
  if (st.st_uid != uid || fstatfs (path_fd, &sfs) < 0 || sfs.f_type == PROC_SUPER_MAGIC ||
      sfs.f_type == SYSFS_MAGIC || sfs.f_type == DEBUGFS_MAGIC)
    {
      close (path_fd);
      return fail (error, "the calling process's .flatpak-info is not its own file");
    }
  if (st.st_size > SOTER_CALLER_FLATPAK_INFO_MAX)
    {
      close (path_fd);
      return fail (error, "the calling process's .flatpak-info is larger than %d bytes",
                   SOTER_CALLER_FLATPAK_INFO_MAX);
    }
  reopen = g_strdup_printf ("/proc/self/fd/%d", path_fd);
  fd = open (reopen, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  close (path_fd);
  if (fd < 0)
    return fail (error, "could not read the calling process's .flatpak-info: %s",
                 g_strerror (errno));
  data = g_malloc (SOTER_CALLER_FLATPAK_INFO_MAX + 1);
  for (;;)
    {
      ssize_t n = read (fd, data + len, SOTER_CALLER_FLATPAK_INFO_MAX + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 || (len += (gsize) n) > SOTER_CALLER_FLATPAK_INFO_MAX)
        break;
    }
  close (fd);
  /* It may have grown since it was measured. */
  if (len > SOTER_CALLER_FLATPAK_INFO_MAX)
    return fail (error, "the calling process's .flatpak-info is larger than %d bytes",
                 SOTER_CALLER_FLATPAK_INFO_MAX);

  if (!g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, NULL) ||
      (name = g_key_file_get_string (kf, "Application", "name", NULL)) == NULL)
    return fail (error, "the calling process's .flatpak-info names no application");
  if (!g_application_id_is_valid (name))
    {
      g_autofree char *shown = display_string (name, -1);
      g_autofree char *escaped = g_strescape (shown, NULL);
      return fail (error, "the calling process's Flatpak app id \"%s\" is not a valid "
                   "application id", escaped);
    }
  *out_id = g_steal_pointer (&name);
  return TRUE;
}

/* ---- host apps: the systemd unit, the desktop file, the executable ------ */

/* A desktop file id as the desktop entry spec allows it, safe as a path
 * component. */
static gboolean
is_desktop_id (const char *id)
{
  gsize len = strlen (id);

  if (len == 0 || len > 255 || id[0] == '.' || id[0] == '-')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
      return FALSE;
  return TRUE;
}

/* systemd's unit name escaping: "\xNN" for a byte, nothing else. */
static char *
unescape_unit (const char *text, gsize len)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    {
      if (text[i] == '\\' && i + 3 < len && text[i + 1] == 'x' &&
          g_ascii_isxdigit (text[i + 2]) && g_ascii_isxdigit (text[i + 3]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (text[i + 2]) * 16 +
                                          g_ascii_xdigit_value (text[i + 3])));
          i += 3;
        }
      else
        g_string_append_c (out, text[i]);
    }
  return g_string_free (out, FALSE);
}

char *
soter_caller_app_id_from_unit (const char *unit)
{
  const char *start, *end, *dash;
  g_autofree char *id = NULL;

  if (!g_str_has_prefix (unit, "app-"))
    return NULL;
  start = unit + strlen ("app-");
  if (g_str_has_suffix (unit, ".scope"))
    {
      /* app[-<launcher>]-<id>-<random>.scope */
      end = unit + strlen (unit) - strlen (".scope");
      while (end > start && end[-1] != '-')
        end--;
      if (end <= start + 1)
        return NULL;
      end--;
    }
  else if (g_str_has_suffix (unit, ".service"))
    {
      /* app[-<launcher>]-<id>[@<random>].service */
      const char *at = strchr (start, '@');

      end = at ? at : unit + strlen (unit) - strlen (".service");
    }
  else
    return NULL;
  /* The launcher holds no '-', and the id's own dashes are escaped. */
  dash = memchr (start, '-', (gsize) (end - start));
  if (dash != NULL)
    start = dash + 1;
  if (end <= start)
    return NULL;
  id = unescape_unit (start, (gsize) (end - start));
  if (g_str_has_suffix (id, ".desktop"))
    id[strlen (id) - strlen (".desktop")] = '\0';
  return is_desktop_id (id) ? g_steal_pointer (&id) : NULL;
}

/* The leaf of the process's cgroup path (its unit, under systemd). */
static char *
read_cgroup_leaf (int proc_fd)
{
  g_autofree char *text = read_proc_file (proc_fd, "cgroup", 8192, NULL);
  g_auto(GStrv) lines = NULL;
  const char *path = NULL;

  if (text == NULL)
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  /* The unified hierarchy, else systemd's own (legacy cgroup layout). */
  for (char **l = lines; *l != NULL && path == NULL; l++)
    if (g_str_has_prefix (*l, "0::"))
      path = *l + strlen ("0::");
  for (char **l = lines; *l != NULL && path == NULL; l++)
    {
      const char *p = strstr (*l, ":name=systemd:");
      if (p != NULL)
        path = p + strlen (":name=systemd:");
    }
  if (path == NULL || strrchr (path, '/') == NULL)
    return NULL;
  return g_strdup (strrchr (path, '/') + 1);
}

/* Name and icon from the app's desktop file, in the system's data
 * directories (and Flatpak's exports) only: a file the user could write
 * must not name an app to the user. */
static void
read_desktop_file (SoterCaller *caller, const char *id)
{
  const char *const *system_dirs = g_get_system_data_dirs ();
  g_autoptr(GPtrArray) dirs = g_ptr_array_new ();

  for (const char *const *d = system_dirs; *d != NULL; d++)
    g_ptr_array_add (dirs, (gpointer) *d);
  g_ptr_array_add (dirs, (gpointer) "/var/lib/flatpak/exports/share");
  for (guint i = 0; i < dirs->len; i++)
    {
      g_autofree char *file = g_strconcat (id, ".desktop", NULL);
      g_autofree char *path = g_build_filename (dirs->pdata[i], "applications", file, NULL);
      g_autoptr(GKeyFile) kf = g_key_file_new ();
      g_autofree char *name = NULL;
      g_autofree char *icon = NULL;

      if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL))
        continue;
      name = g_key_file_get_string (kf, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_NAME,
                                    NULL);
      icon = g_key_file_get_string (kf, G_KEY_FILE_DESKTOP_GROUP, G_KEY_FILE_DESKTOP_KEY_ICON,
                                    NULL);
      if (name != NULL && *name != '\0')
        caller->app_name = display_string (name, -1);
      if (icon != NULL && *icon != '\0')
        caller->app_icon = display_string (icon, -1);
      return;
    }
}

/* Interpreters whose executable says nothing about the app they run. */
static gboolean
is_interpreter (const char *exe)
{
  static const char *const names[] = {
    "python", "perl", "ruby", "node", "nodejs", "gjs", "lua", "luajit", "php", "tclsh",
    "wish", "sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "Rscript", "java",
  };
  g_autofree char *base = g_path_get_basename (exe);

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      gsize n = strlen (names[i]);
      char next = base[strlen (base) < n ? 0 : n];

      /* "python3.11", "gjs-console", "perl5.36": a version or a variant. */
      if (strncmp (base, names[i], n) == 0 &&
          (next == '\0' || g_ascii_isdigit (next) || next == '.' || next == '-'))
        return TRUE;
    }
  return FALSE;
}

/* "<interpreter> <script>" from the command line, or NULL. */
static char *
script_of (int proc_fd, const char *exe)
{
  gsize len = 0;
  g_autofree char *cmdline = read_proc_file (proc_fd, "cmdline", CMDLINE_MAX, &len);
  const char *end;

  if (cmdline == NULL || len == 0)
    return NULL;
  end = cmdline + len;
  /* argv[0], then the first argument that is not an option; "-m module"
   * (Python) names the module; "-c"/"-e" code has no name. */
  for (const char *arg = cmdline + strlen (cmdline) + 1; arg < end; arg += strlen (arg) + 1)
    {
      if (g_str_equal (arg, "-m"))
        {
          const char *module = arg + strlen (arg) + 1;
          return module < end ? g_strdup_printf ("%s -m %s", exe, module) : NULL;
        }
      if (g_str_equal (arg, "-c") || g_str_equal (arg, "-e"))
        return NULL;
      if (arg[0] != '-')
        return g_strdup_printf ("%s %s", exe, arg);
    }
  return NULL;
}

static void
identify_host_app (SoterCaller *caller, int proc_fd)
{
  g_autofree char *unit = read_cgroup_leaf (proc_fd);
  g_autofree char *desktop_id = unit ? soter_caller_app_id_from_unit (unit) : NULL;
  g_autofree char *exe = NULL;
  g_autofree char *script = NULL;
  char buf[4096];
  ssize_t n;

  if (desktop_id != NULL)
    {
      read_desktop_file (caller, desktop_id);
      caller->app_id = g_steal_pointer (&desktop_id);
      return;
    }
  n = readlinkat (proc_fd, "exe", buf, sizeof buf - 1);
  if (n <= 0)
    return;
  buf[n] = '\0';
  exe = g_strdup (buf);
  if (is_interpreter (exe))
    script = script_of (proc_fd, exe);
  caller->app_id = display_string (script ? script : exe, -1);
}

/* ---- the whole process -------------------------------------------------- */

/* Whether the process runs as @uid (real or effective: the bus took the
 * effective uid when it connected), so that a pid reused by another user's
 * process is not taken for the caller. */
static gboolean
process_has_uid (int proc_fd, guint32 uid)
{
  g_autofree char *status = read_proc_file (proc_fd, "status", 8192, NULL);
  const char *line = status ? strstr (status, "\nUid:") : NULL;
  guint64 real, effective;
  char *end;

  if (line == NULL)
    return FALSE;
  real = g_ascii_strtoull (line + strlen ("\nUid:"), &end, 10);
  effective = g_ascii_strtoull (end, NULL, 10);
  return real == uid || effective == uid;
}

static int
pidfd_alive (int pidfd)
{
#ifdef SYS_pidfd_send_signal
  return syscall (SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
#else
  return FALSE;
#endif
}

/* The pid a pidfd stands for, from /proc/self/fdinfo. */
static gboolean
pidfd_names (int pidfd, guint32 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/fdinfo/%d", pidfd);
  g_autofree char *info = NULL;
  g_autofree char *expect = g_strdup_printf ("\nPid:\t%u\n", pid);

  if (!g_file_get_contents (path, &info, NULL, NULL))
    return FALSE;
  return strstr (info, expect) != NULL;
}

gboolean
soter_caller_identify (SoterCaller *caller, guint32 uid, guint32 pid, int pidfd, GError **error)
{
  g_autofree char *proc_path = g_strdup_printf ("/proc/%u", pid);
  guint64 started = 0, started_after = 0;
  gboolean ok = FALSE;
  int proc_fd, again_fd;

  caller->uid = uid;
  caller->pid = pid;
  if (pid == 0)
    return fail (error, "the bus did not tell the caller's process");
  proc_fd = open (proc_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0)
    return fail (error, "the calling process is gone");
  if (pidfd >= 0 && (!pidfd_names (pidfd, pid) || !pidfd_alive (pidfd)))
    {
      close (proc_fd);
      return fail (error, "the calling process is gone");
    }
  if (!read_start_time (proc_fd, &started))
    {
      close (proc_fd);
      return fail (error, "the calling process is gone");
    }

  if (!process_has_uid (proc_fd, uid))
    {
      fail (error, "the calling process does not run as the caller's uid");
      goto out;
    }
  if (!read_flatpak_id (proc_fd, uid, &caller->flatpak_id, error))
    goto out;
  if (caller->flatpak_id != NULL)
    {
      caller->app_id = g_strdup (caller->flatpak_id);
      read_desktop_file (caller, caller->flatpak_id);
    }
  else
    identify_host_app (caller, proc_fd);
  if (caller->app_id == NULL)
    caller->app_id = g_strdup_printf ("pid %u", pid);

  /* The logind session; a process outside any (under user@.service, as
   * gnome-shell and systemd-started agents are) belongs to its user's
   * display session. */
  if (sd_pid_get_session ((pid_t) pid, &caller->session) < 0)
    {
      caller->session = NULL;
      if (sd_uid_get_display ((uid_t) uid, &caller->session) < 0)
        caller->session = NULL;
    }

  /* Still the same process? (sd-login went by the pid.) */
  again_fd = open (proc_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (again_fd < 0 || !read_start_time (again_fd, &started_after) ||
      started_after != started || !read_start_time (proc_fd, &started_after) ||
      (pidfd >= 0 && !pidfd_alive (pidfd)))
    {
      if (again_fd >= 0)
        close (again_fd);
      fail (error, "the calling process exited while it was being identified");
      goto out;
    }
  close (again_fd);
  ok = TRUE;

out:
  close (proc_fd);
  return ok;
}

/* ---- asynchronously, from the bus --------------------------------------- */

typedef struct {
  char    *sender;
  guint32  uid;
  guint32  pid;
  int      pidfd;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  if (lookup->pidfd >= 0)
    close (lookup->pidfd);
  g_free (lookup->sender);
  g_free (lookup);
}

static void
identify_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Lookup *lookup = data;
  g_autoptr(SoterCaller) caller = g_new0 (SoterCaller, 1);
  GError *error = NULL;

  caller->sender = g_strdup (lookup->sender);
  if (!soter_caller_identify (caller, lookup->uid, lookup->pid, lookup->pidfd, &error))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_steal_pointer (&caller), (GDestroyNotify) soter_caller_free);
}

static void
on_credentials (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  Lookup *lookup = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) creds = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  gint32 fd_index;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), &fds,
                                                           res, &error);
  if (reply == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* As is: the one who cancelled knows why (a timeout, a cancel call). */
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (reply == NULL)
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                               "could not identify the caller: %s", error->message);
      return;
    }
  creds = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (creds, "UnixUserID", "u", &lookup->uid))
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                               "the bus did not tell the caller's uid");
      return;
    }
  if (!g_variant_lookup (creds, "ProcessID", "u", &lookup->pid))
    lookup->pid = 0;
  if (fds != NULL && g_variant_lookup (creds, "ProcessFD", "h", &fd_index))
    lookup->pidfd = g_unix_fd_list_get (fds, fd_index, NULL);
  g_task_run_in_thread (task, identify_thread);
}

void
soter_caller_lookup_async (GDBusConnection    *connection,
                           const char         *sender,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  GTask *task = g_task_new (connection, cancellable, callback, user_data);
  Lookup *lookup = g_new0 (Lookup, 1);

  lookup->sender = g_strdup (sender);
  lookup->pidfd = -1;
  g_task_set_task_data (task, lookup, (GDestroyNotify) lookup_free);
  g_dbus_connection_call_with_unix_fd_list (connection, "org.freedesktop.DBus",
                                            "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                            "GetConnectionCredentials",
                                            g_variant_new ("(s)", sender),
                                            G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                            -1, NULL, cancellable, on_credentials, task);
}

SoterCaller *
soter_caller_lookup_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
