/* soter-result.h — what StartSoterAuthentication answered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(SOTER_INSIDE) && !defined(SOTER_COMPILATION)
#error "Only <soter/soter.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

#define SOTER_TYPE_RESULT (soter_result_get_type ())
G_DECLARE_FINAL_TYPE (SoterResult, soter_result, SOTER, RESULT, GObject)

SoterResult *soter_result_new (const char *auth_mode,
                               const char *result_json,
                               const char *result_json_signature,
                               guint       err_code,
                               const char *err_msg);

const char *soter_result_get_auth_mode (SoterResult *self);
const char *soter_result_get_result_json (SoterResult *self);
const char *soter_result_get_result_json_signature (SoterResult *self);
guint       soter_result_get_err_code (SoterResult *self);
const char *soter_result_get_err_msg (SoterResult *self);

gboolean    soter_result_check (SoterResult *self,
                                GError     **error);

G_END_DECLS
