/* soter-client.h — an app's connection to soterd.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(SOTER_INSIDE) && !defined(SOTER_COMPILATION)
#error "Only <soter/soter.h> can be included directly."
#endif

#include <gio/gio.h>

#include "soter-result.h"

G_BEGIN_DECLS

#define SOTER_TYPE_CLIENT (soter_client_get_type ())
G_DECLARE_FINAL_TYPE (SoterClient, soter_client, SOTER, CLIENT, GObject)

void             soter_client_new                     (GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
SoterClient     *soter_client_new_finish              (GAsyncResult        *result,
                                                       GError             **error);
SoterClient     *soter_client_new_sync                (GCancellable        *cancellable,
                                                       GError             **error);
SoterClient     *soter_client_new_for_connection_sync (GDBusConnection     *connection,
                                                       GCancellable        *cancellable,
                                                       GError             **error);

GDBusConnection *soter_client_get_connection          (SoterClient *self);
char            *soter_client_dup_version             (SoterClient *self);
char           **soter_client_dup_supported_modes     (SoterClient *self);
char            *soter_client_dup_tee_name            (SoterClient *self);

/* StartSoterAuthentication */
void         soter_client_start_authentication        (SoterClient         *self,
                                                       const char          *challenge,
                                                       const char * const  *modes,
                                                       const char          *auth_content,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
SoterResult *soter_client_start_authentication_finish (SoterClient   *self,
                                                       GAsyncResult  *result,
                                                       GError       **error);
SoterResult *soter_client_start_authentication_sync   (SoterClient         *self,
                                                       const char          *challenge,
                                                       const char * const  *modes,
                                                       const char          *auth_content,
                                                       GCancellable        *cancellable,
                                                       GError             **error);

/* CancelSoterAuthentication */
void     soter_client_cancel_authentication        (SoterClient         *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean soter_client_cancel_authentication_finish (SoterClient   *self,
                                                    GAsyncResult  *result,
                                                    GError       **error);
gboolean soter_client_cancel_authentication_sync   (SoterClient   *self,
                                                    GCancellable  *cancellable,
                                                    GError       **error);

/* CheckIsSupportSoterAuthentication */
void     soter_client_get_supported_modes        (SoterClient         *self,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
char   **soter_client_get_supported_modes_finish (SoterClient   *self,
                                                  GAsyncResult  *result,
                                                  GError       **error);
char   **soter_client_get_supported_modes_sync   (SoterClient   *self,
                                                  GCancellable  *cancellable,
                                                  GError       **error);

/* CheckIsSoterEnrolledInDevice */
void     soter_client_is_enrolled        (SoterClient         *self,
                                          const char          *mode,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
gboolean soter_client_is_enrolled_finish (SoterClient   *self,
                                          GAsyncResult  *result,
                                          GError       **error);
gboolean soter_client_is_enrolled_sync   (SoterClient   *self,
                                          const char    *mode,
                                          GCancellable  *cancellable,
                                          GError       **error);

/* GetDeviceKey */
void     soter_client_get_device_key        (SoterClient         *self,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
gboolean soter_client_get_device_key_finish (SoterClient   *self,
                                             GAsyncResult  *result,
                                             char         **public_key_pem,
                                             char         **cpu_id,
                                             char         **tee_name,
                                             char         **tee_version,
                                             GError       **error);
gboolean soter_client_get_device_key_sync   (SoterClient   *self,
                                             char         **public_key_pem,
                                             char         **cpu_id,
                                             char         **tee_name,
                                             char         **tee_version,
                                             GCancellable  *cancellable,
                                             GError       **error);

/* GetAppSecureKey */
void     soter_client_get_app_secure_key        (SoterClient         *self,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean soter_client_get_app_secure_key_finish (SoterClient   *self,
                                                 GAsyncResult  *result,
                                                 char         **key_json,
                                                 char         **key_json_signature,
                                                 GError       **error);
gboolean soter_client_get_app_secure_key_sync   (SoterClient   *self,
                                                 char         **key_json,
                                                 char         **key_json_signature,
                                                 GCancellable  *cancellable,
                                                 GError       **error);

/* GetAuthKey */
void     soter_client_get_auth_key        (SoterClient         *self,
                                           const char          *scene,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
gboolean soter_client_get_auth_key_finish (SoterClient   *self,
                                           GAsyncResult  *result,
                                           char         **key_json,
                                           char         **key_json_signature,
                                           GError       **error);
gboolean soter_client_get_auth_key_sync   (SoterClient   *self,
                                           const char    *scene,
                                           char         **key_json,
                                           char         **key_json_signature,
                                           GCancellable  *cancellable,
                                           GError       **error);

/* Enroll, followed to its end through EnrollStatus */
void     soter_client_enroll        (SoterClient         *self,
                                     const char          *finger,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
gboolean soter_client_enroll_finish (SoterClient   *self,
                                     GAsyncResult  *result,
                                     GError       **error);
gboolean soter_client_enroll_sync   (SoterClient   *self,
                                     const char    *finger,
                                     GCancellable  *cancellable,
                                     GError       **error);

/* ListEnrolledFingers */
void     soter_client_list_enrolled_fingers        (SoterClient         *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
char   **soter_client_list_enrolled_fingers_finish (SoterClient   *self,
                                                    GAsyncResult  *result,
                                                    GError       **error);
char   **soter_client_list_enrolled_fingers_sync   (SoterClient   *self,
                                                    GCancellable  *cancellable,
                                                    GError       **error);

/* DeleteEnrolledFinger */
void     soter_client_delete_enrolled_finger        (SoterClient         *self,
                                                     const char          *finger,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
gboolean soter_client_delete_enrolled_finger_finish (SoterClient   *self,
                                                     GAsyncResult  *result,
                                                     GError       **error);
gboolean soter_client_delete_enrolled_finger_sync   (SoterClient   *self,
                                                     const char    *finger,
                                                     GCancellable  *cancellable,
                                                     GError       **error);

G_END_DECLS
