// See publish_status.h.
#include "adapters/common/publish_status.h"

#include <string>

namespace alertbus::adapter {

void readPublishTable(TomlReader& reader, const toml::table* t, PublishSettings& out) {
  if (!t) return;
  reader.checkKeys(*t, "publish", {"status"});
  const toml::node* n = t->get("status");
  if (!n) return;
  std::string name;
  reader.getString(*t, "status", name, "publish");
  if (!n->is_string()) return;  // getString has said so
  if (name == "actual")
    out.status = schema::Status::ACTUAL;
  else if (name == "exercise")
    out.status = schema::Status::EXERCISE;
  else if (name == "test")
    out.status = schema::Status::TEST;
  else
    reader.err(n, "publish.status = '" + name +
                      "': expected actual (each message keeps its input's status), exercise or test (everything "
                      "this adapter publishes is a drill / a test)");
}

size_t applyPublishStatus(Output& out, const PublishSettings& settings) {
  if (settings.status == schema::Status::ACTUAL) return 0;
  size_t changed = 0;
  for (auto& b : out.messages) {
    auto m = b->getRoot<schema::Message>();
    if (m.getStatus() == settings.status) continue;
    m.setStatus(settings.status);
    ++changed;
  }
  return changed;
}

const char* publishStatusName(const PublishSettings& settings) {
  switch (settings.status) {
    case schema::Status::EXERCISE: return "exercise";
    case schema::Status::TEST: return "test";
    default: return "actual";
  }
}

}  // namespace alertbus::adapter
