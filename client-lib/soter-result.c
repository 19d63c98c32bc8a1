/* soter-result.c — what StartSoterAuthentication answered: an immutable
 * object with SOTER's five fields, as the Taro API names them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "soter-private.h"

/**
 * SoterResult:
 *
 * The outcome of a SOTER authentication, with the fields of Taro's
 * `startSoterAuthentication` success and failure callbacks: #SoterResult:auth-mode,
 * #SoterResult:result-json, #SoterResult:result-json-signature,
 * #SoterResult:err-code and #SoterResult:err-msg.
 *
 * A result with an err-code of 0 carries a resultJSON and its signature,
 * which the app sends to its server as they are: the server verifies the
 * signature over these exact bytes (see libsoter-verify). Any other err-code is
 * one of #SoterError; soter_result_check() turns it into a #GError.
 */
struct _SoterResult
{
  GObject  parent_instance;
  char    *auth_mode;
  char    *result_json;
  char    *result_json_signature;
  guint    err_code;
  char    *err_msg;
};

G_DEFINE_FINAL_TYPE (SoterResult, soter_result, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_AUTH_MODE,
  PROP_RESULT_JSON,
  PROP_RESULT_JSON_SIGNATURE,
  PROP_ERR_CODE,
  PROP_ERR_MSG,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
soter_result_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SoterResult *self = SOTER_RESULT (object);

  switch (prop_id)
    {
    case PROP_AUTH_MODE:
      g_value_set_string (value, self->auth_mode);
      break;
    case PROP_RESULT_JSON:
      g_value_set_string (value, self->result_json);
      break;
    case PROP_RESULT_JSON_SIGNATURE:
      g_value_set_string (value, self->result_json_signature);
      break;
    case PROP_ERR_CODE:
      g_value_set_uint (value, self->err_code);
      break;
    case PROP_ERR_MSG:
      g_value_set_string (value, self->err_msg);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
soter_result_set_property (GObject *object, guint prop_id, const GValue *value,
                           GParamSpec *pspec)
{
  SoterResult *self = SOTER_RESULT (object);

  switch (prop_id)
    {
    case PROP_AUTH_MODE:
      self->auth_mode = g_value_dup_string (value);
      break;
    case PROP_RESULT_JSON:
      self->result_json = g_value_dup_string (value);
      break;
    case PROP_RESULT_JSON_SIGNATURE:
      self->result_json_signature = g_value_dup_string (value);
      break;
    case PROP_ERR_CODE:
      self->err_code = g_value_get_uint (value);
      break;
    case PROP_ERR_MSG:
      self->err_msg = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
soter_result_finalize (GObject *object)
{
  SoterResult *self = SOTER_RESULT (object);

  g_free (self->auth_mode);
  g_free (self->result_json);
  g_free (self->result_json_signature);
  g_free (self->err_msg);
  G_OBJECT_CLASS (soter_result_parent_class)->finalize (object);
}

static GParamSpec *
string_property (const char *name, const char *blurb)
{
  return g_param_spec_string (name, NULL, blurb, "",
                              G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                              G_PARAM_STATIC_STRINGS);
}

static void
soter_result_class_init (SoterResultClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = soter_result_get_property;
  object_class->set_property = soter_result_set_property;
  object_class->finalize = soter_result_finalize;

  /**
   * SoterResult:auth-mode:
   *
   * The mode that authenticated, e.g. `fingerPrint`.
   */
  props[PROP_AUTH_MODE] = string_property ("auth-mode", "The mode that authenticated");
  /**
   * SoterResult:result-json:
   *
   * The signed statement, exactly as signed (empty on failure).
   */
  props[PROP_RESULT_JSON] = string_property ("result-json", "The signed resultJSON");
  /**
   * SoterResult:result-json-signature:
   *
   * The base64 RSA-PSS signature of #SoterResult:result-json by the auth key.
   */
  props[PROP_RESULT_JSON_SIGNATURE] = string_property ("result-json-signature",
                                                       "The signature of resultJSON");
  /**
   * SoterResult:err-code:
   *
   * 0 on success, else a #SoterError value.
   */
  props[PROP_ERR_CODE] = g_param_spec_uint ("err-code", NULL, "0 or a SoterError", 0,
                                            G_MAXUINT, 0,
                                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                            G_PARAM_STATIC_STRINGS);
  /**
   * SoterResult:err-msg:
   *
   * `startSoterAuthentication:ok`, or `startSoterAuthentication:fail` and the reason.
   */
  props[PROP_ERR_MSG] = string_property ("err-msg", "The outcome in words");
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
soter_result_init (SoterResult *self)
{
}

/**
 * soter_result_new:
 * @auth_mode: the mode that authenticated
 * @result_json: the signed resultJSON
 * @result_json_signature: its base64 signature
 * @err_code: 0 or a #SoterError value
 * @err_msg: the outcome in words
 *
 * Makes a result, e.g. in a test double of #SoterClient.
 *
 * Returns: (transfer full): a new #SoterResult
 */
SoterResult *
soter_result_new (const char *auth_mode, const char *result_json,
                  const char *result_json_signature, guint err_code, const char *err_msg)
{
  return g_object_new (SOTER_TYPE_RESULT, "auth-mode", auth_mode, "result-json", result_json,
                       "result-json-signature", result_json_signature, "err-code", err_code,
                       "err-msg", err_msg, NULL);
}

/**
 * soter_result_get_auth_mode:
 * @self: a #SoterResult
 *
 * Returns: the mode that authenticated, e.g. `fingerPrint`
 */
const char *
soter_result_get_auth_mode (SoterResult *self)
{
  g_return_val_if_fail (SOTER_IS_RESULT (self), NULL);
  return self->auth_mode;
}

/**
 * soter_result_get_result_json:
 * @self: a #SoterResult
 *
 * Returns: the signed resultJSON, byte for byte as signed; empty on failure
 */
const char *
soter_result_get_result_json (SoterResult *self)
{
  g_return_val_if_fail (SOTER_IS_RESULT (self), NULL);
  return self->result_json;
}

/**
 * soter_result_get_result_json_signature:
 * @self: a #SoterResult
 *
 * Returns: the base64 signature of the resultJSON; empty on failure
 */
const char *
soter_result_get_result_json_signature (SoterResult *self)
{
  g_return_val_if_fail (SOTER_IS_RESULT (self), NULL);
  return self->result_json_signature;
}

/**
 * soter_result_get_err_code:
 * @self: a #SoterResult
 *
 * Returns: 0 on success, else a #SoterError value
 */
guint
soter_result_get_err_code (SoterResult *self)
{
  g_return_val_if_fail (SOTER_IS_RESULT (self), SOTER_ERROR_INTERNAL);
  return self->err_code;
}

/**
 * soter_result_get_err_msg:
 * @self: a #SoterResult
 *
 * Returns: `startSoterAuthentication:ok`, or `startSoterAuthentication:fail`
 *   and the reason
 */
const char *
soter_result_get_err_msg (SoterResult *self)
{
  g_return_val_if_fail (SOTER_IS_RESULT (self), NULL);
  return self->err_msg;
}

/**
 * soter_result_check:
 * @self: a #SoterResult
 * @error: return location for a #GError
 *
 * Whether the authentication succeeded; if not, @error is set in the
 * %SOTER_ERROR domain with the err-code as its code and the err-msg as its
 * message. From Python or JavaScript this raises, so an app can write
 * `client.start_authentication_finish(res).check()`.
 *
 * Returns: %TRUE when err-code is 0
 */
gboolean
soter_result_check (SoterResult *self, GError **error)
{
  g_return_val_if_fail (SOTER_IS_RESULT (self), FALSE);

  if (self->err_code == 0)
    return TRUE;
  g_set_error_literal (error, SOTER_ERROR, (int) self->err_code, self->err_msg);
  return FALSE;
}
