// Transitional: cli/node_daemon.cc (being moved to cli/node/ on another branch) still includes
// this name. Delete this file once that include reads "cli/run/process.h".
#pragma once

#include "cli/run/process.h"  // IWYU pragma: export
