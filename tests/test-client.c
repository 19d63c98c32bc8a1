/* libsoter's C API against a running soterd: run by test_libsoter.py, which
 * provides the private system bus (DBUS_SYSTEM_BUS_ADDRESS), mock polkit,
 * soterd and libfprint's virtual reader (SOTER_TEST_READER, its socket).
 * Each case starts from an empty state directory and a fresh soterd. */
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>

#include <soter/soter.h>

#include "soter-verify.h"

/* Sends one command to the virtual reader: one per connection, read until
 * the reader closes it (see TESTING.md). */
static void
reader (const char *command)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address =
    g_unix_socket_address_new (g_getenv ("SOTER_TEST_READER"));
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  GOutputStream *out;
  char buf[64];

  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_no_error (error);
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_output_stream_write_all (out, command, strlen (command), NULL, NULL, &error);
  g_assert_no_error (error);
  g_socket_shutdown (g_socket_connection_get_socket (conn), FALSE, TRUE, &error);
  g_assert_no_error (error);
  while (g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf,
                              sizeof buf, NULL, &error) > 0)
    ;
  g_assert_no_error (error);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
store_result (GObject *source, GAsyncResult *res, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (res);
}

static SoterClient *
client_new (void)
{
  g_autoptr(GError) error = NULL;
  SoterClient *client = soter_client_new_sync (NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (client);
  return client;
}

/* ---- enrollment ------------------------------------------------------- */

typedef struct {
  GPtrArray *statuses;
  guint      scans;  /* SCANs to send once the reader reads */
  gboolean   cancel; /* cancel instead of scanning */
  GCancellable *cancellable;
} EnrollWatch;

static void
on_enroll_started (SoterClient *client, EnrollWatch *w)
{
  if (w->cancel)
    g_cancellable_cancel (w->cancellable);
  for (guint i = 0; i < w->scans; i++)
    reader ("SCAN finger-1");
}

static void
on_enroll_status (SoterClient *client, const char *result, gboolean done, EnrollWatch *w)
{
  g_ptr_array_add (w->statuses, g_strdup_printf ("%s%s", result, done ? " (done)" : ""));
}

static void
enroll (SoterClient *client, const char *finger)
{
  EnrollWatch w = { g_ptr_array_new_with_free_func (g_free), 5, FALSE, NULL };
  g_autoptr(GError) error = NULL;
  gulong started, status;

  started = g_signal_connect (client, "enroll-started", G_CALLBACK (on_enroll_started), &w);
  status = g_signal_connect (client, "enroll-status", G_CALLBACK (on_enroll_status), &w);
  g_assert_true (soter_client_enroll_sync (client, finger, NULL, &error));
  g_assert_no_error (error);
  g_signal_handler_disconnect (client, started);
  g_signal_handler_disconnect (client, status);

  g_assert_cmpuint (w.statuses->len, ==, 6);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpstr (w.statuses->pdata[i], ==, "enroll-stage-passed");
  g_assert_cmpstr (w.statuses->pdata[5], ==, "enroll-completed (done)");
  g_ptr_array_unref (w.statuses);
}

static void
test_properties_and_support (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) modes = soter_client_get_supported_modes_sync (client, NULL, &error);
  g_auto(GStrv) cached = soter_client_dup_supported_modes (client);
  g_autofree char *version = soter_client_dup_version (client);
  g_autofree char *tee = soter_client_dup_tee_name (client);

  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const char *const *) modes,
                               (const char *const[]){ "fingerPrint", NULL }));
  g_assert_true (g_strv_equal ((const char *const *) cached, (const char *const *) modes));
  g_assert_cmpstr (version, ==, SOTER_TEST_VERSION);
  g_assert_cmpstr (tee, ==, "soterd-software");
  g_assert_true (soter_client_get_connection (client) != NULL);
}

static void
test_enroll_list_is_enrolled_delete (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) before = NULL, after = NULL, empty = NULL;

  g_assert_false (soter_client_is_enrolled_sync (client, "fingerPrint", NULL, &error));
  g_assert_no_error (error);

  enroll (client, "left-thumb");
  after = soter_client_list_enrolled_fingers_sync (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const char *const *) after,
                               (const char *const[]){ "left-thumb", NULL }));
  g_assert_true (soter_client_is_enrolled_sync (client, "fingerPrint", NULL, &error));
  g_assert_no_error (error);

  /* An err_code becomes a SOTER_ERROR. */
  g_assert_false (soter_client_is_enrolled_sync (client, "speech", NULL, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_MODE_NOT_SUPPORTED);
  g_clear_error (&error);

  g_assert_true (soter_client_delete_enrolled_finger_sync (client, "left-thumb", NULL, &error));
  g_assert_no_error (error);
  empty = soter_client_list_enrolled_fingers_sync (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (empty), ==, 0);

  /* A D-Bus error of soterd's arrives with its message only. */
  g_assert_false (soter_client_delete_enrolled_finger_sync (client, "left-thumb", NULL, &error));
  g_assert_nonnull (error);
  g_assert_null (strstr (error->message, "GDBus.Error"));
}

static void
test_enroll_cancelled_by_cancellable (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  EnrollWatch w = { g_ptr_array_new_with_free_func (g_free), 0, TRUE, cancellable };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fingers = NULL;

  g_signal_connect (client, "enroll-started", G_CALLBACK (on_enroll_started), &w);
  g_signal_connect (client, "enroll-status", G_CALLBACK (on_enroll_status), &w);
  g_assert_false (soter_client_enroll_sync (client, NULL, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* soterd ended it: the last status came, done. */
  g_assert_cmpuint (w.statuses->len, ==, 1);
  g_assert_cmpstr (w.statuses->pdata[0], ==, "enroll-failed (done)");
  g_ptr_array_unref (w.statuses);

  fingers = soter_client_list_enrolled_fingers_sync (client, NULL, &error);
  g_assert_cmpuint (g_strv_length (fingers), ==, 0);
  /* and the reader is free for the next enrollment */
  g_signal_handlers_disconnect_by_data (client, &w);
  enroll (client, NULL);
}

/* ---- authentication --------------------------------------------------- */

typedef struct {
  SoterAgent   *agent;
  char         *request_id;
  char         *auth_content;
  char         *app_id;
  guint         uid;
  char        **modes;
  guint         closed_outcome;
  gboolean      closed;
  enum { SCAN, CANCEL_CANCELLABLE, CANCEL_AT_AGENT } action;
  GCancellable *cancellable;
} Prompt;

static void
on_show (SoterAgent *agent, const char *request_id, const char *auth_content,
         const char *app_id, guint uid, char **modes, Prompt *p)
{
  g_free (p->request_id);
  g_free (p->auth_content);
  g_free (p->app_id);
  g_strfreev (p->modes);
  p->request_id = g_strdup (request_id);
  p->auth_content = g_strdup (auth_content);
  p->app_id = g_strdup (app_id);
  p->uid = uid;
  p->modes = g_strdupv (modes);
  switch (p->action)
    {
    case SCAN:
      reader ("SCAN finger-1");
      break;
    case CANCEL_CANCELLABLE:
      g_cancellable_cancel (p->cancellable);
      break;
    case CANCEL_AT_AGENT:
      soter_agent_cancel (agent, request_id, NULL, NULL, NULL);
      break;
    }
}

static void
on_close (SoterAgent *agent, const char *request_id, guint outcome, Prompt *p)
{
  g_assert_cmpstr (request_id, ==, p->request_id);
  p->closed = TRUE;
  p->closed_outcome = outcome;
}

static void
prompt_init (Prompt *p, SoterClient *client)
{
  g_autoptr(GError) error = NULL;

  memset (p, 0, sizeof *p);
  p->agent = soter_agent_new (client, FALSE);
  g_signal_connect (p->agent, "show", G_CALLBACK (on_show), p);
  g_signal_connect (p->agent, "close", G_CALLBACK (on_close), p);
  g_assert_true (soter_agent_register_sync (p->agent, NULL, &error));
  g_assert_no_error (error);
}

static void
prompt_clear (Prompt *p)
{
  g_clear_object (&p->agent);
  g_free (p->request_id);
  g_free (p->auth_content);
  g_free (p->app_id);
  g_strfreev (p->modes);
}

static SoterResult *
authenticate (SoterClient *client, const char *challenge, const char *content,
              GCancellable *cancellable, GError **error)
{
  const char *const modes[] = { "fingerPrint", NULL };
  GAsyncResult *res = NULL;
  SoterResult *result;

  soter_client_start_authentication (client, challenge, modes, content, cancellable,
                                     store_result, &res);
  result = soter_client_start_authentication_finish (client, wait_for (&res), error);
  g_object_unref (res);
  return result;
}

static void
test_authenticate_and_verify_the_chain (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(SoterResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pem = NULL, *cpu_id = NULL, *tee_n = NULL, *tee_v = NULL;
  g_autofree char *ask = NULL, *ask_sig = NULL, *auth = NULL, *auth_sig = NULL;
  g_autofree char *state = NULL;
  SoterResultInfo *info;
  Prompt p;

  enroll (client, NULL);
  prompt_init (&p, client);

  result = authenticate (client, "order-4711", "Pay 12.00 EUR", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (soter_result_check (result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (soter_result_get_err_code (result), ==, 0);
  g_assert_cmpstr (soter_result_get_err_msg (result), ==, "startSoterAuthentication:ok");
  g_assert_cmpstr (soter_result_get_auth_mode (result), ==, "fingerPrint");

  /* What the agent was shown, and told at the end. */
  g_assert_cmpstr (p.auth_content, ==, "Pay 12.00 EUR");
  g_assert_cmpuint (p.uid, ==, getuid ());
  g_assert_true (g_strv_equal ((const char *const *) p.modes,
                               (const char *const[]){ "fingerPrint", NULL }));
  /* The executable soterd saw: test-client, or the tool running it. */
  g_assert_true (p.app_id != NULL && g_path_is_absolute (p.app_id));
  if (g_getenv ("SOTER_CLIENT_WRAPPER") == NULL)
    g_assert_true (g_str_has_suffix (p.app_id, "/test-client"));
  while (!p.closed)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (p.closed_outcome, ==, 0);

  /* The keys, and the whole chain as a relying party checks it. */
  g_assert_true (soter_client_get_device_key_sync (client, &pem, &cpu_id, &tee_n, &tee_v, NULL,
                                                   &error));
  g_assert_no_error (error);
  g_assert_true (soter_client_get_app_secure_key_sync (client, &ask, &ask_sig, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (soter_client_get_auth_key_sync (client, NULL, &auth, &auth_sig, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (tee_n, ==, "soterd-software");

  state = g_build_filename (g_getenv ("SOTER_TEST_TMP"), "verify-state", NULL);
  {
    SoterChain chain = {
      .device_key_pem = pem,
      .app_key = { ask, strlen (ask), ask_sig },
      .auth_key = { auth, strlen (auth), auth_sig },
      .result = { soter_result_get_result_json (result),
                  strlen (soter_result_get_result_json (result)),
                  soter_result_get_result_json_signature (result) },
      .challenge = "order-4711",
      .state_path = state,
    };
    info = soter_verify_chain (&chain, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->cpu_id, ==, cpu_id);
    soter_result_info_free (info);
  }
  prompt_clear (&p);
}

static void
test_soter_failures_are_results (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(SoterResult) empty = NULL, unenrolled = NULL;
  g_autoptr(GError) error = NULL;
  Prompt p;

  prompt_init (&p, client);
  empty = authenticate (client, "", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soter_result_get_err_code (empty), ==, SOTER_ERROR_BAD_CHALLENGE);
  g_assert_cmpstr (soter_result_get_result_json (empty), ==, "");
  g_assert_false (soter_result_check (empty, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE);
  g_assert_true (g_str_has_prefix (error->message, "startSoterAuthentication:fail"));
  g_clear_error (&error);

  unenrolled = authenticate (client, "c", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soter_result_get_err_code (unenrolled), ==, SOTER_ERROR_NOT_ENROLLED);
  g_assert_null (p.request_id); /* no prompt for what cannot succeed */
  prompt_clear (&p);
}

static void
test_cancellable_cancels_in_soterd (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SoterResult) cancelled = NULL, next = NULL;
  g_autoptr(GError) error = NULL;
  Prompt p;

  enroll (client, NULL);
  prompt_init (&p, client);
  p.action = CANCEL_CANCELLABLE;
  p.cancellable = cancellable;

  cancelled = authenticate (client, "c", NULL, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (cancelled);
  g_clear_error (&error);
  /* soterd had ended the request when the call completed. */
  while (!p.closed)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (p.closed_outcome, ==, SOTER_ERROR_CANCELLED);

  /* The reader is free: the next authentication runs at once. */
  p.action = SCAN;
  p.closed = FALSE;
  g_clear_pointer (&p.request_id, g_free);
  next = authenticate (client, "c2", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soter_result_get_err_code (next), ==, 0);
  while (!p.closed)
    g_main_context_iteration (NULL, TRUE);

  /* Already cancelled: nothing is asked of soterd. */
  g_clear_object (&cancelled);
  g_clear_pointer (&p.request_id, g_free);
  cancelled = authenticate (client, "c3", NULL, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (p.request_id);
  prompt_clear (&p);
}

static void
test_agent_cancel_is_the_users_cancel (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(SoterResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Prompt p;

  enroll (client, NULL);
  prompt_init (&p, client);
  p.action = CANCEL_AT_AGENT;
  result = authenticate (client, "c", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soter_result_get_err_code (result), ==, SOTER_ERROR_CANCELLED);
  g_assert_cmpstr (soter_result_get_err_msg (result), ==,
                   "startSoterAuthentication:fail the user cancelled");
  prompt_clear (&p);
}

typedef struct {
  SoterClient *client;
  SoterResult *result;
  GError      *error;
  gboolean     done;
} SyncAuth;

static gpointer
sync_auth_thread (gpointer data)
{
  SyncAuth *s = data;
  const char *const modes[] = { "fingerPrint", NULL };

  s->result = soter_client_start_authentication_sync (s->client, "from-a-thread", modes, "",
                                                      NULL, &s->error);
  g_atomic_int_set (&s->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
test_sync_authentication_from_a_thread (void)
{
  g_autoptr(SoterClient) client = client_new ();
  SyncAuth s = { client, NULL, NULL, FALSE };
  GThread *thread;
  Prompt p;

  enroll (client, NULL);
  /* The agent lives in the main thread, which keeps running. */
  prompt_init (&p, client);
  thread = g_thread_new ("auth", sync_auth_thread, &s);
  while (!g_atomic_int_get (&s.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  g_assert_no_error (s.error);
  g_assert_cmpuint (soter_result_get_err_code (s.result), ==, 0);
  g_assert_nonnull (strstr (soter_result_get_result_json (s.result), "\"from-a-thread\""));
  g_object_unref (s.result);
  prompt_clear (&p);
}

static void
test_agent_registration (void)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(SoterAgent) agent = soter_agent_new (client, TRUE);
  g_autoptr(GError) error = NULL;

  g_assert_true (soter_agent_get_fallback (agent));
  g_assert_true (soter_agent_get_client (agent) == client);
  g_assert_true (g_variant_is_object_path (soter_agent_get_object_path (agent)));
  g_assert_false (soter_agent_get_registered (agent));
  g_assert_true (soter_agent_register_sync (agent, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (soter_agent_get_registered (agent));
  /* Registering twice is harmless. */
  g_assert_true (soter_agent_register_sync (agent, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (soter_agent_unregister_sync (agent, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (soter_agent_get_registered (agent));
  /* A prompt this agent does not show cannot be cancelled by it. */
  g_assert_false (soter_agent_cancel_sync (agent, "no-such-request", NULL, &error));
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED);
}

/* ---- `test-client --agent [fallback]`: a long-lived agent process ------ *
 *
 * A SoterAgent that lives across soterd restarts, for test_libsoter.py to
 * restart soterd under: one line on standard output per event ("ready",
 * "registered"/"unregistered" as its registered property changes,
 * "show ID", "close ID OUTCOME"; g_print flushes each). It runs until
 * standard input closes. */

static void
on_agent_show (SoterAgent *agent, const char *request_id, const char *auth_content,
               const char *app_id, guint uid, char **modes, gpointer data)
{
  g_print ("show %s\n", request_id);
}

static void
on_agent_close (SoterAgent *agent, const char *request_id, guint outcome, gpointer data)
{
  g_print ("close %s %u\n", request_id, outcome);
}

static void
on_agent_registered (SoterAgent *agent, GParamSpec *pspec, gpointer data)
{
  gboolean registered = FALSE;

  g_object_get (agent, "registered", &registered, NULL);
  g_print ("%s\n", registered ? "registered" : "unregistered");
}

static gboolean
on_stdin (int fd, GIOCondition condition, gpointer data)
{
  char buf[64];

  if (read (fd, buf, sizeof buf) > 0)
    return G_SOURCE_CONTINUE;
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static int
run_agent (gboolean fallback)
{
  g_autoptr(SoterClient) client = client_new ();
  g_autoptr(SoterAgent) agent = soter_agent_new (client, fallback);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  g_signal_connect (agent, "show", G_CALLBACK (on_agent_show), NULL);
  g_signal_connect (agent, "close", G_CALLBACK (on_agent_close), NULL);
  if (!soter_agent_register_sync (agent, NULL, &error))
    {
      g_print ("error %s\n", error->message);
      return 1;
    }
  g_print ("ready\n");
  g_signal_connect (agent, "notify::registered", G_CALLBACK (on_agent_registered), NULL);
  g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP, on_stdin, loop);
  g_main_loop_run (loop);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "--agent"))
    return run_agent (argc >= 3 && g_str_equal (argv[2], "fallback"));

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/properties-and-support", test_properties_and_support);
  g_test_add_func ("/client/enroll-list-is-enrolled-delete", test_enroll_list_is_enrolled_delete);
  g_test_add_func ("/client/enroll-cancelled-by-cancellable", test_enroll_cancelled_by_cancellable);
  g_test_add_func ("/client/authenticate-and-verify-the-chain",
                   test_authenticate_and_verify_the_chain);
  g_test_add_func ("/client/soter-failures-are-results", test_soter_failures_are_results);
  g_test_add_func ("/client/cancellable-cancels-in-soterd", test_cancellable_cancels_in_soterd);
  g_test_add_func ("/client/agent-cancel-is-the-users-cancel",
                   test_agent_cancel_is_the_users_cancel);
  g_test_add_func ("/client/sync-authentication-from-a-thread",
                   test_sync_authentication_from_a_thread);
  g_test_add_func ("/client/agent-registration", test_agent_registration);
  return g_test_run ();
}
