/* soter-reader.c — the reader and its waiting line. */
#include "soter-reader.h"

#include "soter-error.h"

struct _SoterReader
{
  GObject    parent_instance;

  FpContext *context;
  FpDevice  *held;      /* the device open for the current claim */
  GQueue     waiters;   /* of GTask, claims in order of arrival */
  guint      queue_length;
  gboolean   busy;      /* a claim is being opened, or is held */
  guint      prune_id;
  guint      changed_id;
};

G_DEFINE_TYPE (SoterReader, soter_reader, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void   serve_next (SoterReader *self);
static GTask *pop_ready_waiter (SoterReader *self);

FpDevice *
soter_reader_get_device (SoterReader *self)
{
  GPtrArray *devices = fp_context_get_devices (self->context);

  /* soterd uses the first reader libfprint finds, as fprintd does by default. */
  if (devices == NULL || devices->len == 0)
    return NULL;
  return g_ptr_array_index (devices, 0);
}

gboolean
soter_reader_is_busy (SoterReader *self)
{
  return self->busy || !g_queue_is_empty (&self->waiters);
}

/* Drops the cancelled waiters; runs from an idle, not from the "cancelled"
 * handler, where disconnecting the handler would deadlock. */
static gboolean
prune_cancelled (gpointer data)
{
  SoterReader *self = data;
  GList *l = self->waiters.head;

  self->prune_id = 0;
  while (l != NULL)
    {
      GList *next = l->next;
      GTask *task = l->data;

      if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
        {
          g_queue_delete_link (&self->waiters, l);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   "Cancelled while waiting for the reader");
          g_object_unref (task);
        }
      l = next;
    }
  serve_next (self);
  return G_SOURCE_REMOVE;
}

static void
on_waiter_cancelled (GCancellable *cancellable, gpointer data)
{
  SoterReader *self = data;

  if (self->prune_id == 0)
    self->prune_id = g_idle_add (prune_cancelled, self);
}

static void on_closed (GObject *source, GAsyncResult *res, gpointer data);

static void
on_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  SoterReader *self = g_task_get_source_object (task);
  FpDevice *device = FP_DEVICE (source);
  g_autoptr(GError) error = NULL;
  gboolean opened = fp_device_open_finish (device, res, &error);

  if (opened && g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                         "Cancelled while the reader was being opened");
  if (error != NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                                 "could not open the fingerprint reader: %s", error->message);
      /* A cancelled open may have opened the device all the same (libfprint
       * reports the cancellation of an open that has happened): nobody
       * holds it, so it is closed before the next in line is served. */
      if (fp_device_is_open (device))
        fp_device_close (device, NULL, on_closed, g_object_ref (self));
      else
        {
          self->busy = FALSE;
          serve_next (self);
        }
      return;
    }
  g_set_object (&self->held, device);
  g_task_return_pointer (task, g_object_ref (device), g_object_unref);
}

static void
serve_next (SoterReader *self)
{
  while (!self->busy)
    {
      g_autoptr(GTask) task = pop_ready_waiter (self);
      GCancellable *cancellable;
      FpDevice *device;

      if (task == NULL)
        return;
      device = soter_reader_get_device (self);
      if (device == NULL)
        {
          g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_NOT_SUPPORTED,
                                   "no fingerprint reader is connected");
          continue;
        }
      self->busy = TRUE;
      cancellable = g_task_get_cancellable (task);
      fp_device_open (device, cancellable, on_opened, g_steal_pointer (&task));
    }
}

void
soter_reader_claim_async (SoterReader        *self,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, soter_reader_claim_async);
  /* A bounded line: beyond it, nobody waits. */
  if (g_queue_get_length (&self->waiters) >= self->queue_length)
    {
      g_task_return_new_error (task, SOTER_ERROR, SOTER_ERROR_INTERNAL,
                               "too many requests waiting for the reader");
      g_object_unref (task);
      return;
    }
  /* A reader handed over must reach its claimer even if the claim is
   * cancelled after: the claimer then releases it. Cancellations before
   * that are returned explicitly (waiting, opening). */
  g_task_set_check_cancellable (task, FALSE);
  if (cancellable != NULL)
    g_cancellable_connect (cancellable, G_CALLBACK (on_waiter_cancelled), self, NULL);
  g_queue_push_tail (&self->waiters, task);
  serve_next (self);
}

FpDevice *
soter_reader_claim_finish (SoterReader *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(SoterReader) self = data;
  g_autoptr(GError) error = NULL;

  if (!fp_device_close_finish (FP_DEVICE (source), res, &error))
    {
      if (g_error_matches (error, FP_DEVICE_ERROR, FP_DEVICE_ERROR_REMOVED))
        g_debug ("Closed the removed fingerprint reader");
      else
        g_warning ("Could not close the fingerprint reader: %s", error->message);
    }
  g_clear_object (&self->held);
  self->busy = FALSE;
  serve_next (self);
}

/* The first in line that has not been cancelled, taken off the line; NULL
 * when the line is empty. */
static GTask *
pop_ready_waiter (SoterReader *self)
{
  GTask *task;

  while ((task = g_queue_pop_head (&self->waiters)) != NULL)
    {
      if (!g_task_return_error_if_cancelled (task))
        return task;
      g_object_unref (task);
    }
  return NULL;
}

/* Whether @device is still among the context's devices (not unplugged). */
static gboolean
is_present (SoterReader *self, FpDevice *device)
{
  GPtrArray *devices = fp_context_get_devices (self->context);

  return devices != NULL && g_ptr_array_find (devices, device, NULL);
}

void
soter_reader_release (SoterReader *self)
{
  FpDevice *device = self->held;
  g_autoptr(GTask) next = NULL;

  g_return_if_fail (self->busy);
  if (device == NULL || !fp_device_is_open (device))
    {
      g_clear_object (&self->held);
      self->busy = FALSE;
      serve_next (self);
      return;
    }
  /* Someone is waiting: hand the open reader over rather than closing and
   * reopening it between two requests (unless it was unplugged). */
  if (is_present (self, device))
    next = pop_ready_waiter (self);
  if (next != NULL)
    {
      g_task_return_pointer (next, g_object_ref (device), g_object_unref);
      return;
    }
  fp_device_close (device, NULL, on_closed, g_object_ref (self));
}

/* From an idle: libfprint emits device-removed before it takes the device
 * off its list. */
static gboolean
emit_changed (gpointer data)
{
  SoterReader *self = data;

  self->changed_id = 0;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  serve_next (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_changed (SoterReader *self)
{
  if (self->changed_id == 0)
    self->changed_id = g_idle_add (emit_changed, self);
}

static void
on_device_added (FpContext *context, FpDevice *device, SoterReader *self)
{
  g_message ("Fingerprint reader %s (%s) connected", fp_device_get_name (device),
             fp_device_get_driver (device));
  schedule_changed (self);
}

static void
on_device_removed (FpContext *context, FpDevice *device, SoterReader *self)
{
  /* A claim in progress fails on its own (FP_DEVICE_ERROR_REMOVED); its
   * release then closes the device instead of handing it on. */
  g_message ("Fingerprint reader %s (%s) removed", fp_device_get_name (device),
             fp_device_get_driver (device));
  schedule_changed (self);
}

SoterReader *
soter_reader_new (guint queue_length)
{
  SoterReader *self = g_object_new (SOTER_TYPE_READER, NULL);

  self->queue_length = queue_length;
  self->context = fp_context_new ();
  /* Readers come and go (USB): SupportedModes follows them. */
  g_signal_connect_object (self->context, "device-added", G_CALLBACK (on_device_added), self, 0);
  g_signal_connect_object (self->context, "device-removed", G_CALLBACK (on_device_removed), self,
                           0);
  fp_context_enumerate (self->context);
  return self;
}

static void
soter_reader_finalize (GObject *object)
{
  SoterReader *self = SOTER_READER (object);

  g_clear_handle_id (&self->prune_id, g_source_remove);
  g_clear_handle_id (&self->changed_id, g_source_remove);
  g_queue_clear_full (&self->waiters, g_object_unref);
  g_clear_object (&self->held);
  g_clear_object (&self->context);
  G_OBJECT_CLASS (soter_reader_parent_class)->finalize (object);
}

static void
soter_reader_class_init (SoterReaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = soter_reader_finalize;

  /* A reader was connected or removed. */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

static void
soter_reader_init (SoterReader *self)
{
  g_queue_init (&self->waiters);
}
