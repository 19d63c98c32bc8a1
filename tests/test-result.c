/* Unit tests: argument checks and the JSON soterd signs. */
#include <string.h>

#include <json-glib/json-glib.h>

#include "soter-error.h"
#include "soter-result.h"

static char *
repeat (const char *unit, guint n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    g_string_append (s, unit);
  return g_string_free (s, FALSE);
}

static void
test_challenge (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *max_ascii = repeat ("a", 512);
  g_autofree char *over_ascii = repeat ("a", 513);
  g_autofree char *max_cjk = repeat ("挑", 512);
  g_autofree char *over_cjk = repeat ("挑", 513);

  g_assert_true (soter_check_challenge (max_ascii, NULL));
  g_assert_true (soter_check_challenge (max_cjk, NULL));

  g_assert_false (soter_check_challenge ("", &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE);
  g_clear_error (&error);
  g_assert_false (soter_check_challenge (over_ascii, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE);
  g_clear_error (&error);
  g_assert_false (soter_check_challenge (over_cjk, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE);
  g_clear_error (&error);
  g_assert_false (soter_check_challenge ("bad \xff\xfe utf-8", &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_BAD_CHALLENGE);
  g_assert_nonnull (strstr (error->message, "UTF-8"));
}

static void
test_auth_content_counts_characters (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cjk42 = repeat ("请", 42);
  g_autofree char *cjk43 = repeat ("请", 43);

  g_assert_true (soter_check_auth_content ("", NULL));
  g_assert_true (soter_check_auth_content (cjk42, NULL));
  g_assert_false (soter_check_auth_content (cjk43, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_CONTENT_TOO_LONG);
}

/* A prompt shows what the app sent: nothing hidden, reordered or put on a
 * line of its own (SPEC §9). Each class is refused with 90005, and the
 * message names the class and the character. */
static void
test_auth_content_refuses_unfit_characters (void)
{
  static const struct {
    const char *text;
    const char *message;
  } unfit[] = {
    { "Pay\n12.00 EUR", "holds a control character (U+000A)" },
    { "Pay\t12.00", "holds a control character (U+0009)" },
    { "\x1b[2JPay", "holds a control character (U+001B)" },
    { "Pay \x7f", "holds a control character (U+007F)" },
    { "Pay \xc2\x85 12", "holds a control character (U+0085)" },      /* C1: NEL */
    { "Pay \xc2\x9b""2J", "holds a control character (U+009B)" },     /* C1: CSI */
    { "Pay \xe2\x80\xae""00.12", "holds a bidirectional control character (U+202E)" },
    { "\xe2\x80\xaaPay", "holds a bidirectional control character (U+202A)" },
    { "Pay \xe2\x81\xa6x\xe2\x81\xa9", "holds a bidirectional control character (U+2066)" },
    { "Pay \xe2\x81\xa9", "holds a bidirectional control character (U+2069)" },
    { "Pay \xe2\x80\x8f", "holds a bidirectional control character (U+200F)" }, /* RLM */
    { "Pay \xd8\x9c", "holds a bidirectional control character (U+061C)" },     /* ALM */
    { "Pay 1\xe2\x80\x8b""2", "holds an invisible format character (U+200B)" }, /* ZWSP */
    { "Pay \xe2\x80\x8d", "holds an invisible format character (U+200D)" },      /* ZWJ */
    { "Pay \xe2\x81\xa0", "holds an invisible format character (U+2060)" },      /* WJ */
    { "\xef\xbb\xbfPay", "holds an invisible format character (U+FEFF)" },       /* BOM */
    { "Pay\xc2\xad", "holds an invisible format character (U+00AD)" },            /* SHY */
    { "Pay \xf3\xa0\x80\x81", "holds an invisible format character (U+E0001)" }, /* tag */
    { "Pay\xe2\x80\xa8""12", "holds a line or paragraph separator (U+2028)" },
    { "Pay\xe2\x80\xa9""12", "holds a line or paragraph separator (U+2029)" },
  };
  static const char *const fit[] = {
    "Pay 12.00 EUR to Example Shop",
    "支付 12.00 元",
    "ادفع ١٢٫٠٠ يورو",   /* right-to-left text itself is fine */
    "Café — 12,00 €",
    "👍 12.00",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (unfit); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", unfit[i].message);
      g_assert_false (soter_check_auth_content (unfit[i].text, &error));
      g_assert_error (error, SOTER_ERROR, SOTER_ERROR_CONTENT_TOO_LONG);
      g_assert_cmpuint (SOTER_ERROR_CONTENT_TOO_LONG, ==, 90005);
      g_assert_true (g_str_has_prefix (error->message, "authContent "));
      g_assert_cmpstr (error->message + strlen ("authContent "), ==, unfit[i].message);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (fit); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (soter_check_auth_content (fit[i], &error));
      g_assert_no_error (error);
    }
}

static void
test_choose_mode (void)
{
  const char *available[] = { "fingerPrint", NULL };
  const char *both[] = { "speech", "fingerPrint", NULL };
  const char *speech[] = { "speech", NULL };
  const char *none[] = { NULL };
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (soter_choose_mode (both, available, NULL), ==, "fingerPrint");
  g_assert_null (soter_choose_mode (speech, available, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_MODE_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_null (soter_choose_mode (none, available, &error));
  g_assert_error (error, SOTER_ERROR, SOTER_ERROR_MODE_NOT_SUPPORTED);
}

static JsonObject *
parse_object (const char *json, JsonParser **parser_out)
{
  JsonParser *parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  *parser_out = parser;
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_result_json_escapes_everything (void)
{
  /* Every control character from U+0001 to U+001F, quotes, backslashes,
   * DEL, and text beyond the BMP. */
  GString *raw = g_string_new ("\"q\" \\b\\ ");
  g_autofree char *json = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *obj;
  SoterResultFields f = {
    .fid = "7", .counter = G_GUINT64_CONSTANT (9007199254740991), .tee_n = "soterd-software",
    .tee_v = "1", .fp_n = "virtual_device", .fp_v = "1.94.5", .cpu_id = "ab", .uid = 1000,
  };
  const char *order[] = { "raw", "fid", "counter", "tee_n", "tee_v", "fp_n", "fp_v",
                          "cpu_id", "uid" };
  GList *l;
  guint i = 0;

  for (char c = 1; c < 0x20; c++)
    g_string_append_c (raw, c);
  g_string_append (raw, "\x7f 中文 🔐");
  f.raw = raw->str;

  json = soter_result_json_build (&f);
  for (const char *p = json; *p; p++)
    g_assert_cmpint ((guchar) *p, >=, 0x20);  /* no raw control character */

  obj = parse_object (json, &parser);
  g_assert_cmpstr (json_object_get_string_member (obj, "raw"), ==, raw->str);
  g_assert_cmpint (json_object_get_int_member (obj, "counter"), ==, 9007199254740991);
  g_assert_cmpstr (json_object_get_string_member (obj, "uid"), ==, "1000");
  members = json_object_get_members (obj);
  for (l = members; l != NULL; l = l->next, i++)
    g_assert_cmpstr (l->data, ==, order[i]);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (order));
  g_string_free (raw, TRUE);
}

static void
test_key_json_shape (void)
{
  const char *pem = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----";
  g_autofree char *json = soter_key_json_build (pem, "cafe", 42, 0);
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *obj = parse_object (json, &parser);

  g_assert_true (g_str_has_prefix (json, "{\"pub_key\":\"-----BEGIN PUBLIC KEY-----\\nMIIB"));
  g_assert_cmpstr (json_object_get_string_member (obj, "pub_key"), ==, pem);
  g_assert_cmpstr (json_object_get_string_member (obj, "cpu_id"), ==, "cafe");
  g_assert_cmpint (json_object_get_int_member (obj, "counter"), ==, 42);
  g_assert_cmpstr (json_object_get_string_member (obj, "uid"), ==, "0");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/result/challenge", test_challenge);
  g_test_add_func ("/result/auth-content-counts-characters", test_auth_content_counts_characters);
  g_test_add_func ("/result/auth-content-refuses-unfit-characters",
                   test_auth_content_refuses_unfit_characters);
  g_test_add_func ("/result/choose-mode", test_choose_mode);
  g_test_add_func ("/result/result-json-escapes-everything", test_result_json_escapes_everything);
  g_test_add_func ("/result/key-json-shape", test_key_json_shape);
  return g_test_run ();
}
