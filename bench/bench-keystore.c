/* bench-keystore — the key store's signing latency: the file store against
 * the TPM store on the same machine, in one run.
 *
 *   bench-keystore N TCTI
 *
 * For each store, in a fresh state directory: opening it, making the first
 * auth key (ATTK → ASK → auth key), then N signatures of a resultJSON-sized
 * document with the auth key (each loads the key: SPEC §6 keeps no private
 * key in memory between uses), N counter steps, and N times an
 * authentication's whole key work as soterd does it: the auth key loaded
 * (soter_keystore_load_auth_key_async, while the prompt is shown), then the
 * counter step, resultJSON and signature (soter_keystore_sign_result_async,
 * after the match), the latter also on its own. Prints a Markdown table of
 * p50 and p90 in milliseconds, and the ratios TPM / file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "soter-keystore.h"

typedef struct {
  double open_ms;
  double first_key_ms;
  double sign[2];     /* p50, p90 */
  double counter[2];
  double result[2];   /* load, then counter, resultJSON, signature */
  double after[2];    /* counter, resultJSON, signature: after the match */
} Figures;

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static void
percentiles (double *ms, guint n, double out[2])
{
  qsort (ms, n, sizeof *ms, cmp_double);
  out[0] = ms[n / 2];
  out[1] = ms[(n * 9) / 10];
}

static double
since (gint64 t0)
{
  return (double) (g_get_monotonic_time () - t0) / 1000.0;
}

static void
on_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

static GAsyncResult *
wait_for (GAsyncResult **res)
{
  while (*res == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *res;
}

static gboolean
measure (const SoterKeystoreOptions *options, guint n, Figures *f)
{
  g_autofree char *dir = g_dir_make_tmp ("soterd-bench-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SoterKeystore) ks = NULL;
  g_autofree double *ms = g_new (double, n);
  g_autofree double *after = g_new (double, n);
  g_autofree char *json = NULL;
  g_autofree char *sig = NULL;
  /* About the size of a resultJSON. */
  const char *doc = "{\"raw\":\"order-4711\",\"fid\":\"7\",\"counter\":12,\"tee_n\":\"TPM2 IBM\","
                    "\"tee_v\":\"8217.4131.22.13878\",\"fp_n\":\"virtual_device\",\"fp_v\":"
                    "\"1.94.5\",\"cpu_id\":\"899462f7e0ff34b6873693d9370cae27fbbe5fa909229"
                    "8cd78f14ec1dc23b392\",\"uid\":\"1000\"}";
  gint64 t0;

  t0 = g_get_monotonic_time ();
  ks = soter_keystore_new (dir, options, &error);
  f->open_ms = since (t0);
  t0 = g_get_monotonic_time ();
  if (ks == NULL ||
      !soter_keystore_get_auth_key (ks, "1000", 1000, SOTER_DEFAULT_SCENE, &json, &sig, &error))
    {
      g_printerr ("bench-keystore: %s\n", error->message);
      return FALSE;
    }
  f->first_key_ms = since (t0);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *s = NULL;

      t0 = g_get_monotonic_time ();
      s = soter_keystore_sign (ks, "1000", 1000, SOTER_DEFAULT_SCENE, doc, strlen (doc), &error);
      ms[i] = since (t0);
      if (s == NULL)
        {
          g_printerr ("bench-keystore: %s\n", error->message);
          return FALSE;
        }
    }
  percentiles (ms, n, f->sign);

  for (guint i = 0; i < n; i++)
    {
      guint64 c;

      t0 = g_get_monotonic_time ();
      if (!soter_keystore_next_counter (ks, &c, &error))
        {
          g_printerr ("bench-keystore: %s\n", error->message);
          return FALSE;
        }
      ms[i] = since (t0);
    }
  percentiles (ms, n, f->counter);

  for (guint i = 0; i < n; i++)
    {
      SoterResultFields fields = { .raw = "order-4711", .fid = "7", .fp_n = "virtual_device",
                                   .fp_v = "1.94.5", .uid = 1000 };
      g_autoptr(GAsyncResult) loaded = NULL;
      g_autoptr(GAsyncResult) res = NULL;
      g_autoptr(SoterAuthKey) key = NULL;
      g_autofree char *rjson = NULL;
      g_autofree char *rsig = NULL;
      gint64 t1;

      t0 = g_get_monotonic_time ();
      soter_keystore_load_auth_key_async (ks, "1000", 1000, NULL, on_done, &loaded);
      key = soter_keystore_load_auth_key_finish (ks, wait_for (&loaded), &error);
      t1 = g_get_monotonic_time ();
      if (key != NULL)
        {
          soter_keystore_sign_result_async (ks, key, &fields, on_done, &res);
          soter_keystore_sign_result_finish (ks, wait_for (&res), &rjson, &rsig, &error);
        }
      if (rsig == NULL)
        {
          g_printerr ("bench-keystore: %s\n", error->message);
          return FALSE;
        }
      ms[i] = since (t0);
      after[i] = since (t1);
    }
  percentiles (ms, n, f->result);
  percentiles (after, n, f->after);
  return TRUE;
}

int
main (int argc, char **argv)
{
  SoterKeystoreOptions file = { SOTER_KEYSTORE_KIND_FILE, NULL, 0, 0 };
  SoterKeystoreOptions tpm = { SOTER_KEYSTORE_KIND_TPM, NULL, SOTER_KEYSTORE_DEFAULT_NV_INDEX, 0 };
  Figures ff, tf;
  guint n;

  if (argc != 3 || (n = (guint) atoi (argv[1])) < 10)
    {
      g_printerr ("usage: bench-keystore N(≥10) TCTI\n");
      return 2;
    }
  tpm.tpm_tcti = argv[2];
  if (!measure (&file, n, &ff) || !measure (&tpm, n, &tf))
    return 1;

  printf ("| key store, %u each (ms) | file | TPM (%s) | TPM / file |\n|---|---|---|---|\n", n,
          argv[2]);
  printf ("| open (start-up) | %.2f | %.2f | %.1f |\n", ff.open_ms, tf.open_ms,
          tf.open_ms / ff.open_ms);
  printf ("| first auth key (ATTK → ASK → auth key) | %.1f | %.1f | %.2f |\n", ff.first_key_ms,
          tf.first_key_ms, tf.first_key_ms / ff.first_key_ms);
  printf ("| sign p50 | %.2f | %.2f | %.1f |\n", ff.sign[0], tf.sign[0], tf.sign[0] / ff.sign[0]);
  printf ("| sign p90 | %.2f | %.2f | %.1f |\n", ff.sign[1], tf.sign[1], tf.sign[1] / ff.sign[1]);
  printf ("| an authentication's key work (auth key load, counter, resultJSON, signature) p50 | %.2f | %.2f | "
          "%.1f |\n", ff.result[0], tf.result[0], tf.result[0] / ff.result[0]);
  printf ("| an authentication's key work p90 | %.2f | %.2f | %.1f |\n", ff.result[1],
          tf.result[1], tf.result[1] / ff.result[1]);
  printf ("| of which after the match (counter, resultJSON, signature) p50 | %.2f | %.2f | "
          "%.1f |\n", ff.after[0], tf.after[0], tf.after[0] / ff.after[0]);
  printf ("| of which after the match p90 | %.2f | %.2f | %.1f |\n", ff.after[1], tf.after[1],
          tf.after[1] / ff.after[1]);
  /* The file store's step is in memory but once in 64 (a block reserved
   * durably): no meaningful ratio. */
  printf ("| counter step p50 | %.4f | %.2f | — |\n", ff.counter[0], tf.counter[0]);
  printf ("| counter step p90 | %.4f | %.2f | — |\n", ff.counter[1], tf.counter[1]);
  return 0;
}
