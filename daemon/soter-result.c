/* soter-result.c — argument checks and the signed JSON documents.
 *
 * json-glib does the serialising, so every string is escaped correctly
 * whatever it holds (quotes, control characters, any Unicode), and member
 * order is the order SPEC §5 lists, as Tencent's TEEs send it.
 */
#include "soter-result.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "soter-error.h"

gboolean
soter_check_challenge (const char *challenge, GError **error)
{
  if (challenge == NULL || *challenge == '\0')
    {
      g_set_error_literal (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE,
                           "challenge is empty");
      return FALSE;
    }
  if (!g_utf8_validate (challenge, -1, NULL))
    {
      g_set_error_literal (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE,
                           "challenge is not valid UTF-8");
      return FALSE;
    }
  if (g_utf8_strlen (challenge, -1) > SOTER_MAX_CHALLENGE_CHARS)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE,
                   "challenge is longer than %d characters",
                   SOTER_MAX_CHALLENGE_CHARS);
      return FALSE;
    }
  return TRUE;
}

/* Unicode's Bidi_Control characters: they reorder what follows them, so
 * "Pay 21.00" can be shown as "Pay 00.12" (Trojan Source). Most are also
 * format (Cf) characters; they are named apart, as the sharper reason. */
static gboolean
is_bidi_control (gunichar c)
{
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

/* What makes @c unfit for a prompt, or NULL: what the agent shows must be
 * what the app sent, with nothing hidden, reordered or on a line of its
 * own (SPEC §9). */
static const char *
unfit_for_prompt (gunichar c)
{
  if (is_bidi_control (c))
    return "a bidirectional control character";
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
      return "a control character";
    case G_UNICODE_FORMAT:
      /* Zero-width spaces and joiners, the soft hyphen, the BOM, tags… */
      return "an invisible format character";
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      /* U+2028, U+2029: a line break, as "\n" (a control) is. */
      return "a line or paragraph separator";
    default:
      return NULL;
    }
}

gboolean
soter_check_auth_content (const char *auth_content, GError **error)
{
  /* authContent is optional: "" is fine. Its limit counts characters, so a
   * 42-character Chinese prompt passes although it is 126 bytes. */
  if (auth_content == NULL)
    return TRUE;
  if (!g_utf8_validate (auth_content, -1, NULL))
    {
      g_set_error_literal (error, SOTER_ERROR, SOTER_ERROR_CONTENT_TOO_LONG,
                           "authContent is not valid UTF-8");
      return FALSE;
    }
  if (g_utf8_strlen (auth_content, -1) > SOTER_MAX_CONTENT_CHARS)
    {
      g_set_error (error, SOTER_ERROR, SOTER_ERROR_CONTENT_TOO_LONG,
                   "authContent is longer than %d characters",
                   SOTER_MAX_CONTENT_CHARS);
      return FALSE;
    }
  for (const char *p = auth_content; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      const char *what = unfit_for_prompt (c);

      if (what != NULL)
        {
          g_set_error (error, SOTER_ERROR, SOTER_ERROR_CONTENT_TOO_LONG,
                       "authContent holds %s (U+%04X)", what, c);
          return FALSE;
        }
    }
  return TRUE;
}

const char *
soter_choose_mode (const char *const *requested,
                   const char *const *available,
                   GError           **error)
{
  /* The first requested mode that this machine has wins; unknown strings and
   * "speech" (never supported, as in WeChat) are skipped over. */
  for (gsize i = 0; requested != NULL && requested[i] != NULL; i++)
    for (gsize j = 0; available != NULL && available[j] != NULL; j++)
      if (g_str_equal (requested[i], available[j]))
        return available[j];

  if (requested == NULL || requested[0] == NULL)
    g_set_error_literal (error, SOTER_ERROR, SOTER_ERROR_MODE_NOT_SUPPORTED,
                         "no authentication mode requested");
  else
    g_set_error_literal (error, SOTER_ERROR, SOTER_ERROR_MODE_NOT_SUPPORTED,
                         "none of the requested authentication modes is supported");
  return NULL;
}

static char *
builder_to_string (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;
  GString *fixed;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  if (strchr (text, '\x1f') == NULL)
    return g_steal_pointer (&text);

  /* json-glib 1.6 (Debian 12) escapes control characters below U+001F but
   * writes U+001F itself raw, which RFC 8259 forbids and strict parsers
   * (Python's json among them) reject. A raw 0x1F byte can only stand inside
   * a string of compact output, and never inside a UTF-8 sequence, so
   * escaping every one is exact. */
  fixed = g_string_new (NULL);
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\x1f')
        g_string_append (fixed, "\\u001f");
      else
        g_string_append_c (fixed, *p);
    }
  return g_string_free (fixed, FALSE);
}

char *
soter_result_json_build (const SoterResultFields *f)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *uid = g_strdup_printf ("%u", f->uid);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "raw");
  json_builder_add_string_value (b, f->raw);
  json_builder_set_member_name (b, "fid");
  json_builder_add_string_value (b, f->fid);
  json_builder_set_member_name (b, "counter");
  json_builder_add_int_value (b, (gint64) f->counter);
  json_builder_set_member_name (b, "tee_n");
  json_builder_add_string_value (b, f->tee_n);
  json_builder_set_member_name (b, "tee_v");
  json_builder_add_string_value (b, f->tee_v);
  json_builder_set_member_name (b, "fp_n");
  json_builder_add_string_value (b, f->fp_n);
  json_builder_set_member_name (b, "fp_v");
  json_builder_add_string_value (b, f->fp_v);
  json_builder_set_member_name (b, "cpu_id");
  json_builder_add_string_value (b, f->cpu_id);
  json_builder_set_member_name (b, "uid");
  json_builder_add_string_value (b, uid);
  json_builder_end_object (b);

  return builder_to_string (b);
}

char *
soter_key_json_build (const char *pub_key_pem,
                      const char *cpu_id,
                      guint64     counter,
                      guint32     uid)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *uid_str = g_strdup_printf ("%u", uid);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "pub_key");
  json_builder_add_string_value (b, pub_key_pem);
  json_builder_set_member_name (b, "cpu_id");
  json_builder_add_string_value (b, cpu_id);
  json_builder_set_member_name (b, "counter");
  json_builder_add_int_value (b, (gint64) counter);
  json_builder_set_member_name (b, "uid");
  json_builder_add_string_value (b, uid_str);
  json_builder_end_object (b);

  return builder_to_string (b);
}
