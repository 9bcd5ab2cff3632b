// The [publish] status lane shared by every adapter (adapters/common/publish_status.h): reading the key with
// file:line errors, and forcing the status of everything an adapter publishes.
#include "adapters/common/publish_status.h"

#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <vector>

using namespace alertbus;
using namespace alertbus::adapter;

namespace {

// Reads `text` as a whole adapter config file and returns the [publish] settings; errors go to `errors`.
PublishSettings read(const std::string& text, std::vector<ConfigError>& errors) {
  TomlReader r("met.toml", errors);
  toml::table root;
  PublishSettings s;
  if (r.parseText(text, root)) readPublishTable(r, r.table(root, "publish", ""), s);
  return s;
}

MessagePtr message(const std::string& id, schema::Status status) {
  auto b = std::make_unique<capnp::MallocMessageBuilder>();
  auto m = b->initRoot<schema::Message>();
  m.setId(id);
  m.setStatus(status);
  m.setMsgType(schema::MsgType::ALERT);
  return b;
}

}  // namespace

TEST_CASE("publish status: the key is read, defaults to actual, bad values are file:line errors", "[publish]") {
  std::vector<ConfigError> errors;
  SECTION("absent table: actual") {
    CHECK(read("[input]\nwatch_dir = \"x\"\n", errors).status == schema::Status::ACTUAL);
    CHECK(errors.empty());
  }
  SECTION("each lane") {
    CHECK(read("[publish]\nstatus = \"exercise\"\n", errors).status == schema::Status::EXERCISE);
    CHECK(read("[publish]\nstatus = \"test\"\n", errors).status == schema::Status::TEST);
    CHECK(read("[publish]\nstatus = \"actual\"\n", errors).status == schema::Status::ACTUAL);
    CHECK(errors.empty());
  }
  SECTION("an unknown value names file, line, key and value") {
    auto s = read("[publish]\n\nstatus = \"Exercise\"\n", errors);
    CHECK(s.status == schema::Status::ACTUAL);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].str().rfind("met.toml:3: publish.status = 'Exercise': expected actual", 0) == 0);
  }
  SECTION("system and draft are not lanes an adapter publishes in") {
    read("[publish]\nstatus = \"system\"\n", errors);
    read("[publish]\nstatus = \"draft\"\n", errors);
    CHECK(errors.size() == 2);
  }
  SECTION("not a string") {
    read("[publish]\nstatus = true\n", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].str() == "met.toml:2: publish.status: expected a string");
  }
  SECTION("an unknown key") {
    read("[publish]\nstatus = \"exercise\"\nlane = \"drill\"\n", errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == 3);
    CHECK(errors[0].reason.find("lane") != std::string::npos);
  }
}

TEST_CASE("publish status: exercise makes everything exercise, a CAP Actual too; actual changes nothing",
          "[publish]") {
  Output out;
  out.messages.push_back(message("cap-actual", schema::Status::ACTUAL));
  out.messages.push_back(message("cap-test", schema::Status::TEST));
  out.messages.push_back(message("cap-exercise", schema::Status::EXERCISE));
  auto statuses = [&] {
    std::vector<schema::Status> v;
    for (auto& m : out.messages) v.push_back(m->getRoot<schema::Message>().getStatus());
    return v;
  };
  SECTION("actual: each message keeps its input's status (a drill never becomes actual)") {
    PublishSettings s;
    CHECK(applyPublishStatus(out, s) == 0);
    CHECK(statuses() == std::vector<schema::Status>{schema::Status::ACTUAL, schema::Status::TEST,
                                                    schema::Status::EXERCISE});
  }
  SECTION("exercise") {
    PublishSettings s;
    s.status = schema::Status::EXERCISE;
    CHECK(applyPublishStatus(out, s) == 2);
    CHECK(statuses() == std::vector<schema::Status>(3, schema::Status::EXERCISE));
    CHECK(std::string(publishStatusName(s)) == "exercise");
  }
  SECTION("test") {
    PublishSettings s;
    s.status = schema::Status::TEST;
    CHECK(applyPublishStatus(out, s) == 2);
    CHECK(statuses() == std::vector<schema::Status>(3, schema::Status::TEST));
  }
}
