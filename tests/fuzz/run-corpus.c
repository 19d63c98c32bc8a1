/* Replays fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer, so
 * that every build (gcc included) checks the in-tree corpus: a regression
 * test for every input that once mattered. TAP output, one case per file. */
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GDir) dir = g_dir_open (argv[i], 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (files, g_build_filename (argv[i], name, NULL));
    }
  g_ptr_array_sort (files, (GCompareFunc) g_strcmp0);
  printf ("1..%u\n", files->len);
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *data = NULL;
      gsize len;

      if (!g_file_get_contents (files->pdata[i], &data, &len, NULL))
        {
          printf ("not ok %u - %s (unreadable)\n", i + 1, (char *) files->pdata[i]);
          continue;
        }
      LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
      {
        g_autofree char *base = g_path_get_basename (files->pdata[i]);
        printf ("ok %u - %s\n", i + 1, base);
      }
    }
  return files->len > 0 ? 0 : 1;
}
