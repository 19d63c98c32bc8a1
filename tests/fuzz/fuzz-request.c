/* libFuzzer target: soterd's handling of what a caller sends, and the JSON
 * it builds from it.
 *
 * Input: challenge, NUL, auth_content, NUL, requested modes one a line.
 * Each goes through soterd's own checks; an accepted challenge is built
 * into a resultJSON (and any valid UTF-8 into a key_json's pub_key), which
 * must parse back, as a server's JSON parser would read it, to an object whose raw
 * (pub_key) is the input exactly. Any other outcome aborts: a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "soter-result.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The member @name of the JSON object @text, which must be a string. */
static char *
member (const char *text, const char *name)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *obj;

  if (!json_parser_load_from_data (parser, text, -1, NULL))
    abort ();
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    abort ();
  obj = json_node_get_object (root);
  if (!json_object_has_member (obj, name))
    abort ();
  return g_strdup (json_object_get_string_member (obj, name));
}

/* Every byte of a built document is printable ASCII or UTF-8 past ASCII:
 * control characters must have been escaped. */
static void
check_no_raw_controls (const char *text)
{
  for (const unsigned char *p = (const unsigned char *) text; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *copy = g_malloc (size + 1);
  const char *challenge, *content = "", *modes_text = "";
  g_auto(GStrv) modes = NULL;
  const char *const available[] = { SOTER_MODE_FINGERPRINT, NULL };
  GError *error = NULL;
  const char *end;

  memcpy (copy, data, size);
  copy[size] = '\0';
  challenge = copy;
  end = copy + size;
  if (strlen (challenge) < size)
    {
      content = challenge + strlen (challenge) + 1;
      if (content + strlen (content) < end)
        modes_text = content + strlen (content) + 1;
    }

  if (soter_check_challenge (challenge, &error))
    {
      SoterResultFields f = {
        .raw = challenge, .fid = "7", .counter = 42, .tee_n = "soterd-software",
        .tee_v = "1", .fp_n = "virtual_device", .fp_v = "1.94.5",
        .cpu_id = "00", .uid = 1000,
      };
      g_autofree char *json = soter_result_json_build (&f);
      g_autofree char *raw = member (json, "raw");

      check_no_raw_controls (json);
      if (strcmp (raw, challenge) != 0)
        abort ();
    }
  g_clear_error (&error);

  if (g_utf8_validate (content, -1, NULL))
    {
      g_autofree char *key_json = soter_key_json_build (content, "00", 1, 1000);
      g_autofree char *pub = member (key_json, "pub_key");

      check_no_raw_controls (key_json);
      if (strcmp (pub, content) != 0)
        abort ();
    }
  soter_check_auth_content (content, &error);
  g_clear_error (&error);

  modes = g_strsplit (modes_text, "\n", -1);
  soter_choose_mode ((const char *const *) modes, available, &error);
  g_clear_error (&error);
  return 0;
}
