/* soter.h — libsoter, an app's and a prompt agent's side of soterd.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define SOTER_INSIDE
#include "soter-enum-types.h"
#include "soter-error.h"
#include "soter-result.h"
#include "soter-client.h"
#include "soter-agent.h"
#undef SOTER_INSIDE
