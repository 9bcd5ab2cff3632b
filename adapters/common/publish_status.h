// The [publish] table every adapter shares (config/met.toml explains it): `status`, the lane everything the
// adapter publishes goes in. Read once at start; applied by the runtime to every message before validation,
// so --dry-run shows it too. Pure: no I/O.
#pragma once

#include <cstddef>

#include "adapters/common/output.h"
#include "common/toml_reader.h"
#include "schemas/message.capnp.h"

namespace alertbus::adapter {

struct PublishSettings {
  // ACTUAL (the default, "actual"): each message keeps its own status: what its input says (CAP <status>,
  // GB/T 35965 状态: Exercise stays exercise), actual for formats that carry none (gauge CSV, 119 dispatch
  // JSON, NAVTEX, AIS). EXERCISE or TEST ("exercise", "test"): every message the adapter publishes has that
  // status, whatever its input says: dispatch JSON and NAVTEX have no drill marker, and a drill feed must never
  // produce actual (a CAP saying Actual read by an adapter set to exercise is published as exercise).
  schema::Status status = schema::Status::ACTUAL;
};

// Reads [publish] (`t` = nullptr: absent, defaults). Reports through `reader`, as file:line: reason, unknown
// keys and a status other than actual, exercise or test (system is the bus's own lane, draft not a lane a
// whole adapter publishes in).
void readPublishTable(TomlReader& reader, const toml::table* t, PublishSettings& out);

// Puts every message of `out` in the configured lane; for ACTUAL nothing changes. Returns how many messages
// had another status before. Cost O(messages).
size_t applyPublishStatus(Output& out, const PublishSettings& settings);

// "actual", "exercise", "test": for log lines.
const char* publishStatusName(const PublishSettings& settings);

}  // namespace alertbus::adapter
