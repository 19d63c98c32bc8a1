/* soter-result.h — checking a request's arguments and building the JSON
 * that soterd signs (resultJSON and key_json, SPEC §5 and §6). Pure
 * functions: no I/O, no daemon state, so they are unit-tested directly. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SOTER_MODE_FINGERPRINT "fingerPrint"
#define SOTER_MAX_CHALLENGE_CHARS 512
#define SOTER_MAX_CONTENT_CHARS 42

typedef struct {
  const char *raw;     /* the challenge, as passed in */
  const char *fid;     /* libfprint finger number of the matched print */
  guint64     counter;
  const char *tee_n;
  const char *tee_v;
  const char *fp_n;
  const char *fp_v;
  const char *cpu_id;
  guint32     uid;
} SoterResultFields;

gboolean soter_check_challenge (const char *challenge,
                                GError    **error);
/* 90005: over 42 characters, or holding a control, bidirectional control,
 * format (Cf), line or paragraph separator character. */
gboolean soter_check_auth_content (const char *auth_content,
                                   GError    **error);
/* Returns the mode soterd will use (static string), or NULL with 90003. */
const char *soter_choose_mode (const char *const *requested,
                               const char *const *available,
                               GError           **error);

char *soter_result_json_build (const SoterResultFields *fields);
char *soter_key_json_build (const char *pub_key_pem,
                            const char *cpu_id,
                            guint64     counter,
                            guint32     uid);

G_END_DECLS
