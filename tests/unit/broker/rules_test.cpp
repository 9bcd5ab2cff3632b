// Routing rules: validation (every error path, with its line), matching semantics, explain() reasons,
// and equivalence of the indexed route() with the naive file-order scan of explain() on random input.
#include "broker/rules.h"

#include <catch2/catch.hpp>
#include <random>
#include <sstream>

using namespace alertbus;
using schema::Status;

namespace {

// 2024-07-01T00:00:00Z; local (+08:00) 08:00.
constexpr int64_t kDayMs = 1719792000000LL;
constexpr int64_t kHourMs = 3600 * 1000LL;
int64_t localTime(int hour, int minute = 0) {  // ms for hh:mm in +08:00 on that day
  return kDayMs + (hour - 8) * kHourMs + minute * 60000LL;
}
const int64_t kNoon = localTime(12);

std::shared_ptr<const RuleSet> parseOk(const std::string& text) {
  std::vector<RuleError> errors;
  auto rs = RuleSet::parse(text, "rules.toml", errors);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  REQUIRE(errors.empty());
  REQUIRE(rs);
  return rs;
}

std::vector<RuleError> parseBad(const std::string& text) {
  std::vector<RuleError> errors;
  auto rs = RuleSet::parse(text, "rules.toml", errors);
  CHECK_FALSE(rs);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  return errors;
}

// True if some error is on `line` and contains `needle`.
bool hasError(const std::vector<RuleError>& errors, int line, const std::string& needle) {
  for (auto& e : errors)
    if (e.line == line && e.reason.find(needle) != std::string::npos) return true;
  return false;
}

MessageFacts warning(std::string event, int colour, std::vector<std::string> codes, std::string sender = "met",
                     Status status = Status::ACTUAL) {
  MessageFacts f;
  f.sender = std::move(sender);
  f.id = "t1";
  f.status = status;
  f.msgType = schema::MsgType::ALERT;
  f.kind = Kind::warning;
  if (!event.empty()) f.events.push_back(std::move(event));
  f.categories = {schema::Category::MET};
  f.colourRank = colour;
  f.severityRank = colour;
  f.adminCodes = std::move(codes);
  return f;
}

std::vector<std::string> dests(const RuleSet& rs, const MessageFacts& f, int64_t nowMs = kNoon) {
  std::vector<Destination> out;
  rs.route(f, nowMs, out);
  std::vector<std::string> s;
  for (auto& d : out) s.push_back(d.str());
  return s;
}

using V = std::vector<std::string>;

}  // namespace

// ---------------------------------------------------------------- validation

TEST_CASE("rules: a TOML syntax error is one error with its line", "[rules]") {
  auto errors = parseBad("[[rule]]\nname = \"x\"\nto = [\"sms:a\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 3);
  CHECK(errors[0].reason.find("TOML syntax error") != std::string::npos);
  CHECK(errors[0].str().rfind("rules.toml:3: TOML syntax error", 0) == 0);
}

TEST_CASE("rules: unknown key 'evnt' is reported with its line", "[rules]") {
  auto errors = parseBad("[[rule]]\nname = \"x\"\nevnt = [\"typhoon\"]\nto = [\"sms:a\"]\n");
  REQUIRE(errors.size() == 1);
  CHECK(hasError(errors, 3, "rule 'x': unknown key 'evnt'"));
}

TEST_CASE("rules: unknown top-level key 'timezon' is reported", "[rules]") {
  auto errors = parseBad("timezon = \"+08:00\"\n");
  CHECK(hasError(errors, 1, "unknown key 'timezon'"));
}

TEST_CASE("rules: unknown key 'accept' under destinations is reported", "[rules]") {
  auto errors = parseBad("[destinations.\"dashboard:x\"]\naccept = [\"test\"]\n");
  CHECK(hasError(errors, 2, "unknown key 'accept'"));
}

TEST_CASE("rules: unknown key 'r' in an area circle is reported", "[rules]") {
  auto errors = parseBad("[[rule]]\nname = \"x\"\narea_circles = [{lat = 30, lon = 121, r = 5}]\nto = [\"sms:a\"]\n");
  CHECK(hasError(errors, 3, "unknown key 'r'"));
  CHECK(hasError(errors, 3, "missing key 'radius_km'"));
}

TEST_CASE("rules: wrong types are reported", "[rules]") {
  SECTION("status = \"actual\" (a string, not a list)") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nstatus = \"actual\"\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "status must be an array of strings, got a string"));
  }
  SECTION("event = [1]") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nevent = [1]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "element must be a string, got an integer"));
  }
  SECTION("continue = \"yes\"") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\ncontinue = \"yes\"\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "continue must be true or false, got a string"));
  }
  SECTION("min_colour = 3") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nmin_colour = 3\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "min_colour must be a string"));
  }
  SECTION("name = 7") {
    auto errors = parseBad("[[rule]]\nname = 7\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 2, "name must be a non-empty string, got an integer"));
  }
  SECTION("hours = 8") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nhours = 8\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "hours must be a string"));
  }
  SECTION("timezone = 8") {
    auto errors = parseBad("timezone = 8\n");
    CHECK(hasError(errors, 1, "timezone must be a string"));
  }
  SECTION("[rule] as a single table") {
    auto errors = parseBad("[rule]\nname = \"x\"\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 1, "rule must be an array of tables"));
  }
  SECTION("destinations = 1") {
    auto errors = parseBad("destinations = 1\n");
    CHECK(hasError(errors, 1, "destinations must be a table"));
  }
  SECTION("area_circles = [5]") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\narea_circles = [5]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "must be a table"));
  }
  SECTION("area_circles lat = \"30\"") {
    auto errors = parseBad(
        "[[rule]]\nname = \"x\"\narea_circles = [{lat = \"30\", lon = 121, radius_km = 1}]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "lat must be a number, got a string"));
  }
}

TEST_CASE("rules: bad enum names list the allowed ones", "[rules]") {
  struct Case {
    const char* line;
    const char* expect;
  };
  for (auto c : {Case{"status = [\"actul\"]", "unknown value 'actul' (allowed: actual, exercise, system, test, draft)"},
                 Case{"msg_type = [\"alarm\"]", "unknown value 'alarm' (allowed: alert, update, cancel, ack, error)"},
                 Case{"kind = [\"warn\"]", "unknown value 'warn' (allowed: warning, forecast"},
                 Case{"category = [\"weather\"]", "unknown value 'weather' (allowed: geo, met"},
                 Case{"min_severity = \"high\"", "unknown value 'high' (allowed: minor, moderate, severe, extreme)"},
                 Case{"min_colour = \"purple\"", "unknown value 'purple' (allowed: blue, yellow, orange, red)"},
                 Case{"min_response_level = \"V\"", "unknown value 'V' (allowed: IV, III, II, I)"}}) {
    INFO(c.line);
    auto errors = parseBad(std::string("[[rule]]\nname = \"x\"\n") + c.line + "\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, c.expect));
  }
}

TEST_CASE("rules: accept_status 'rehearsal' and an empty accept_status are reported", "[rules]") {
  auto errors = parseBad(
      "[destinations.\"dashboard:a\"]\naccept_status = [\"actual\", \"rehearsal\"]\n"
      "[destinations.\"dashboard:b\"]\naccept_status = []\n");
  CHECK(hasError(errors, 2, "unknown status 'rehearsal'"));
  CHECK(hasError(errors, 4, "accept_status must not be empty"));
}

TEST_CASE("rules: an empty condition list status = [] is reported", "[rules]") {
  auto errors = parseBad("[[rule]]\nname = \"x\"\nstatus = []\nto = [\"sms:a\"]\n");
  CHECK(hasError(errors, 3, "status must not be empty"));
}

TEST_CASE("rules: duplicate rule name 'typhoon' names the first line", "[rules]") {
  auto errors = parseBad(
      "[[rule]]\nname = \"typhoon\"\nto = [\"sms:a\"]\ncontinue = true\n"
      "[[rule]]\nname = \"typhoon\"\nto = [\"sms:b\"]\n");
  REQUIRE(errors.size() == 1);
  CHECK(hasError(errors, 5, "duplicate rule name (first defined at line 1)"));
}

TEST_CASE("rules: bad \"outlet:target\" destinations are reported", "[rules]") {
  struct Case {
    const char* dest;
    const char* expect;
  };
  for (auto c : {Case{"sms", "expected \"outlet:target\""}, Case{"SMS:duty", "outlet 'SMS' must match"},
                 Case{"sms:", "target is empty"}, Case{"sms:duty officers", "whitespace"},
                 Case{":duty", "outlet '' must match"}}) {
    INFO(c.dest);
    auto errors = parseBad(std::string("[[rule]]\nname = \"x\"\nto = [\"") + c.dest + "\"]\n");
    CHECK(hasError(errors, 3, c.expect));
  }
  SECTION("as a [destinations] key") {
    auto errors = parseBad("[destinations.\"dashboard\"]\naccept_status = [\"test\"]\n");
    CHECK(hasError(errors, 1, "expected \"outlet:target\""));
  }
}

TEST_CASE("rules: bad event patterns, sender names and area codes are reported", "[rules]") {
  SECTION("event 'ty*phoon'") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nevent = [\"ty*phoon\"]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "'*' is allowed only at the end"));
  }
  SECTION("event '*'") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nevent = [\"*\"]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "omit 'event'"));
  }
  SECTION("event 'river level'") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nevent = [\"river level\"]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "outside [A-Za-z0-9_.-]"));
  }
  SECTION("sender 'Met Office'") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nsender = [\"Met Office\"]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "agency name 'Met Office' must match"));
  }
  SECTION("area code '3302'") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\narea_codes = [\"3302\"]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 3, "'3302' is not a 6- or 12-digit GB/T 2260 code"));
  }
}

TEST_CASE("rules: geometry errors are reported", "[rules]") {
  auto rule = [](const std::string& body) { return "[[rule]]\nname = \"x\"\n" + body + "\nto = [\"sms:a\"]\n"; };
  SECTION("unclosed polygon ring") {
    auto errors = parseBad(rule("area_polygons = [[[30,121],[30,122],[29,122],[29.5,121]]]"));
    CHECK(hasError(errors, 3, "area_polygons[0]: ring not closed"));
  }
  SECTION("ring with 3 points") {
    auto errors = parseBad(rule("area_polygons = [[[30,121],[30,122],[30,121]]]"));
    CHECK(hasError(errors, 3, "at least 4 points"));
  }
  SECTION("latitude 95 in a polygon") {
    auto errors = parseBad(rule("area_polygons = [[[95,121],[30,122],[29,122],[95,121]]]"));
    CHECK(hasError(errors, 3, "area_polygons[0][0]: latitude 95 out of range"));
  }
  SECTION("longitude 200 in a polygon") {
    auto errors = parseBad(rule("area_polygons = [[[30,200],[30,122],[29,122],[30,200]]]"));
    CHECK(hasError(errors, 3, "longitude 200 out of range"));
  }
  SECTION("a point that is not a pair") {
    auto errors = parseBad(rule("area_polygons = [[[30,121,5],[30,122],[29,122],[30,121,5]]]"));
    CHECK(hasError(errors, 3, "must be a [lat, lon] pair"));
  }
  SECTION("circle latitude -91") {
    auto errors = parseBad(rule("area_circles = [{lat = -91, lon = 121, radius_km = 1}]"));
    CHECK(hasError(errors, 3, "latitude -91 out of range"));
  }
  SECTION("circle longitude 181") {
    auto errors = parseBad(rule("area_circles = [{lat = 30, lon = 181, radius_km = 1}]"));
    CHECK(hasError(errors, 3, "longitude 181 out of range"));
  }
  SECTION("negative radius") {
    auto errors = parseBad(rule("area_circles = [{lat = 30, lon = 121, radius_km = -3}]"));
    CHECK(hasError(errors, 3, "radius_km -3 must be a finite number >= 0"));
  }
  SECTION("empty polygon list") {
    auto errors = parseBad(rule("area_polygons = []"));
    CHECK(hasError(errors, 3, "non-empty array of rings"));
  }
}

TEST_CASE("rules: bad hours and timezone are reported", "[rules]") {
  auto rule = [](const std::string& body) { return "[[rule]]\nname = \"x\"\n" + body + "\nto = [\"sms:a\"]\n"; };
  for (auto h : {"8:00-20:00", "08:00-25:00", "08:60-20:00", "08:00_20:00", "24:00-08:00"}) {
    INFO(h);
    auto errors = parseBad(rule(std::string("hours = \"") + h + "\""));
    CHECK(hasError(errors, 3, "is not \"HH:MM-HH:MM\""));
  }
  SECTION("empty window 08:00-08:00") {
    auto errors = parseBad(rule("hours = \"08:00-08:00\""));
    CHECK(hasError(errors, 3, "empty window"));
  }
  for (auto tz : {"Asia/Shanghai", "+8", "+08:00:00", "+15:00", "08:00"}) {
    INFO(tz);
    auto errors = parseBad(std::string("timezone = \"") + tz + "\"\n");
    CHECK(hasError(errors, 1, "is not a UTC offset"));
  }
}

TEST_CASE("rules: cross-field checks", "[rules]") {
  SECTION("a rule with no 'to'") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nevent = [\"typhoon\"]\n");
    CHECK(hasError(errors, 1, "rule 'x': missing required key 'to'"));
  }
  SECTION("an empty 'to'") {
    auto errors = parseBad("[[rule]]\nname = \"x\"\nto = []\n");
    CHECK(hasError(errors, 3, "to must not be empty"));
  }
  SECTION("a rule with no name") {
    auto errors = parseBad("[[rule]]\nto = [\"sms:a\"]\n");
    CHECK(hasError(errors, 1, "rule[0]: missing required key 'name'"));
  }
  SECTION("status exercise that none of the rule's destinations accepts") {
    auto errors = parseBad("[[rule]]\nname = \"drill\"\nstatus = [\"exercise\"]\nto = [\"sms:duty\"]\n");
    CHECK(hasError(errors, 1, "status exercise is accepted by none of its destinations"));
  }
  SECTION("a stopping rule without conditions makes later rules unreachable") {
    auto errors = parseBad(
        "[[rule]]\nname = \"all\"\nto = [\"sms:a\"]\n"
        "[[rule]]\nname = \"later\"\nevent = [\"gale\"]\nto = [\"sms:b\"]\n");
    CHECK(hasError(errors, 1, "from line 4) is unreachable"));
  }
  SECTION("a [destinations] entry that no rule uses is not an error") {
    auto rs = parseOk("[destinations.\"dashboard:spare\"]\naccept_status = [\"test\"]\n");
    CHECK(rs->size() == 0);
  }
  SECTION("a catch-all rule at the end is fine") {
    auto rs = parseOk("[[rule]]\nname = \"all\"\nto = [\"sms:a\"]\n");
    CHECK(dests(*rs, warning("x", 1, {})) == V{"sms:a"});
  }
}

TEST_CASE("rules: all errors of bad-many.toml are collected in one pass, in line order", "[rules]") {
  std::vector<RuleError> errors;
  auto path = std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/rules/bad-many.toml";
  auto rs = RuleSet::parseFile(path, errors);
  CHECK_FALSE(rs);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  CHECK(hasError(errors, 2, "timezone 'Asia/Shanghai'"));
  CHECK(hasError(errors, 3, "unknown key 'colour_scheme'"));
  CHECK(hasError(errors, 6, "unknown status 'rehearsal'"));
  CHECK(hasError(errors, 10, "unknown key 'evnt'"));
  CHECK(hasError(errors, 11, "unknown value 'purple'"));
  CHECK(hasError(errors, 12, "expected \"outlet:target\""));
  CHECK(hasError(errors, 14, "duplicate rule name (first defined at line 8)"));
  CHECK(hasError(errors, 16, "ring not closed"));
  CHECK(hasError(errors, 17, "latitude 95 out of range"));
  CHECK(hasError(errors, 17, "radius_km -3"));
  CHECK(hasError(errors, 18, "is not \"HH:MM-HH:MM\""));
  CHECK(errors.size() == 11);
  for (size_t i = 1; i < errors.size(); ++i) CHECK(errors[i - 1].line <= errors[i].line);
  REQUIRE_FALSE(errors.empty());
  CHECK(errors[0].str().find("bad-many.toml:2: ") != std::string::npos);
}

TEST_CASE("rules: bad-syntax.toml gives one error on line 4", "[rules]") {
  std::vector<RuleError> errors;
  CHECK_FALSE(RuleSet::parseFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/rules/bad-syntax.toml", errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 4);
}

TEST_CASE("rules: bad-missing-to.toml reports the rule without 'to'", "[rules]") {
  std::vector<RuleError> errors;
  CHECK_FALSE(RuleSet::parseFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/rules/bad-missing-to.toml", errors));
  REQUIRE(errors.size() == 1);
  CHECK(hasError(errors, 2, "rule 'forgot-destinations': missing required key 'to'"));
}

TEST_CASE("rules: a missing file is one error naming the path", "[rules]") {
  std::vector<RuleError> errors;
  CHECK_FALSE(RuleSet::parseFile("/nonexistent/rules.toml", errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].str().rfind("/nonexistent/rules.toml: cannot open", 0) == 0);
}

// ---------------------------------------------------------------- semantics

TEST_CASE("rules: good.toml and config/rules.toml parse", "[rules]") {
  std::vector<RuleError> errors;
  auto good = RuleSet::parseFile(std::string(ALERTBUS_SOURCE_DIR) + "/tests/data/rules/good.toml", errors);
  auto config = RuleSet::parseFile(std::string(ALERTBUS_SOURCE_DIR) + "/config/rules.toml", errors);
  for (auto& e : errors) UNSCOPED_INFO(e.str());
  REQUIRE(errors.empty());
  REQUIRE(good);
  REQUIRE(config);
  CHECK(good->size() == 3);
  CHECK(good->outlets() == V{"dashboard", "sms"});

  auto f = warning("typhoon", 3, {"330212"});
  f.severityRank = 3;
  CHECK(dests(*good, f) == V{"sms:flood-duty-officers", "dashboard:city-desk"});
}

TEST_CASE("router: orange typhoon warning for 330212 reaches the district desk", "[rules]") {
  std::vector<RuleError> errors;
  auto rs = RuleSet::parseFile(std::string(ALERTBUS_SOURCE_DIR) + "/config/rules.toml", errors);
  REQUIRE(rs);
  auto got = dests(*rs, warning("typhoon", 3, {"330212"}));
  CHECK(got == V{"dashboard:city-desk", "dashboard:training-desk", "sms:typhoon-command", "sms:flood-duty-officers",
                 "maritime-watch:vessels-at-risk", "dashboard:district-yinzhou"});
  SECTION("the same warning as an exercise reaches only the drill participants and the training desk") {
    auto ex = warning("typhoon", 3, {"330212"}, "met", Status::EXERCISE);
    CHECK(dests(*rs, ex) == V{"sms:drill-participants", "dashboard:training-desk"});
    ex.kind = Kind::sitrep;  // the SMS outlet's summary of the drill is not texted back to the participants
    CHECK(dests(*rs, ex) == V{"dashboard:training-desk"});
  }
  SECTION("at night it also wakes the duty leaders") {
    auto night = dests(*rs, warning("typhoon", 3, {"330212"}), localTime(23));
    CHECK(std::find(night.begin(), night.end(), "sms:night-duty-leaders") != night.end());
  }
}

TEST_CASE("rules: exercise traffic reaches only destinations that opted in", "[rules]") {
  auto rs = parseOk(R"(
[destinations."dashboard:training-desk"]
accept_status = ["actual", "exercise", "test"]
[[rule]]
name = "typhoon"
event = ["typhoon"]
to = ["sms:flood-duty-officers", "dashboard:training-desk", "dashboard:city-desk"]
)");
  CHECK(dests(*rs, warning("typhoon", 3, {})) ==
        V{"sms:flood-duty-officers", "dashboard:training-desk", "dashboard:city-desk"});
  for (auto st : {Status::EXERCISE, Status::TEST}) {
    auto f = warning("typhoon", 3, {}, "met", st);
    CHECK(dests(*rs, f) == V{"dashboard:training-desk"});
    std::vector<Destination> out;
    auto verdicts = rs->explain(f, kNoon, out);
    REQUIRE(verdicts.size() == 1);
    CHECK(verdicts[0].matched);
    CHECK(verdicts[0].refused == V{"sms:flood-duty-officers", "dashboard:city-desk"});
  }
  SECTION("draft and system reach nobody") {
    CHECK(dests(*rs, warning("typhoon", 3, {}, "met", Status::DRAFT)).empty());
    CHECK(dests(*rs, warning("typhoon", 3, {}, "met", Status::SYSTEM)).empty());
  }
}

TEST_CASE("rules: continue semantics and de-duplication", "[rules]") {
  auto rs = parseOk(R"(
[[rule]]
name = "first"
event = ["typhoon"]
to = ["dashboard:city-desk", "sms:a"]
continue = true
[[rule]]
name = "second-stops"
event = ["typhoon"]
to = ["sms:b", "dashboard:city-desk"]
[[rule]]
name = "never-for-typhoon"
event = ["typhoon", "gale"]
to = ["sms:c"]
)");
  CHECK(dests(*rs, warning("typhoon", 1, {})) == V{"dashboard:city-desk", "sms:a", "sms:b"});
  CHECK(dests(*rs, warning("gale", 1, {})) == V{"sms:c"});
  CHECK(dests(*rs, warning("fog", 1, {})).empty());

  std::vector<Destination> out;
  auto v = rs->explain(warning("typhoon", 1, {}), kNoon, out);
  REQUIRE(v.size() == 3);
  CHECK(v[0].matched);
  CHECK(v[1].matched);
  CHECK_FALSE(v[2].evaluated);
  CHECK_FALSE(v[2].matched);
  CHECK(v[2].reasons.empty());
  CHECK(v[1].line == 7);
  CHECK(out.size() == 3);
}

TEST_CASE("rules: route() clears a reused output vector", "[rules]") {
  auto rs = parseOk("[[rule]]\nname = \"x\"\nevent = [\"typhoon\"]\nto = [\"sms:a\"]\n");
  std::vector<Destination> out{{"stale", "one"}, {"stale", "two"}};
  rs->route(warning("typhoon", 1, {}), kNoon, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].str() == "sms:a");
  rs->route(warning("gale", 1, {}), kNoon, out);
  CHECK(out.empty());
}

TEST_CASE("rules: conditions on status, msg_type, kind, sender, category and levels", "[rules]") {
  auto rs = parseOk(R"(
[[rule]]
name = "r"
status = ["actual"]
msg_type = ["alert", "update"]
kind = ["warning"]
sender = ["met"]
category = ["met"]
min_severity = "moderate"
min_colour = "yellow"
to = ["sms:a"]
[[rule]]
name = "fused"
kind = ["fused_alert"]
min_response_level = "II"
to = ["sms:leaders"]
)");
  auto f = warning("rain", 2, {});
  CHECK(dests(*rs, f) == V{"sms:a"});
  auto g = f;
  g.msgType = schema::MsgType::CANCEL;
  CHECK(dests(*rs, g).empty());
  g = f;
  g.kind = Kind::forecast;
  CHECK(dests(*rs, g).empty());
  g = f;
  g.sender = "water";
  CHECK(dests(*rs, g).empty());
  g = f;
  g.categories = {schema::Category::FIRE};
  CHECK(dests(*rs, g).empty());
  g = f;
  g.colourRank = 1;
  CHECK(dests(*rs, g).empty());
  g = f;
  g.severityRank = 1;
  CHECK(dests(*rs, g).empty());

  MessageFacts fused;
  fused.status = Status::ACTUAL;
  fused.kind = Kind::fusedAlert;
  fused.responseLevelRank = 3;  // II
  CHECK(dests(*rs, fused) == V{"sms:leaders"});
  fused.responseLevelRank = 2;  // III
  CHECK(dests(*rs, fused).empty());
}

TEST_CASE("rules: event prefixes match", "[rules]") {
  auto rs = parseOk("[[rule]]\nname = \"x\"\nevent = [\"11B0*\"]\nto = [\"sms:a\"]\n");
  CHECK(dests(*rs, warning("11B06", 1, {})) == V{"sms:a"});
  CHECK(dests(*rs, warning("11B0", 1, {})) == V{"sms:a"});
  CHECK(dests(*rs, warning("11B10", 1, {})).empty());
  CHECK(dests(*rs, warning("", 1, {})).empty());
  auto two = warning("gale", 1, {});
  two.events.push_back("11B01");
  CHECK(dests(*rs, two) == V{"sms:a"});
}

TEST_CASE("rules: area codes match descendants", "[rules]") {
  auto rs = parseOk("[[rule]]\nname = \"ningbo\"\narea_codes = [\"330200\"]\nto = [\"dashboard:city-desk\"]\n");
  CHECK(dests(*rs, warning("x", 1, {"330200"})).size() == 1);
  CHECK(dests(*rs, warning("x", 1, {"330212"})).size() == 1);
  CHECK(dests(*rs, warning("x", 1, {"330212001000"})).size() == 1);
  CHECK(dests(*rs, warning("x", 1, {"330100", "330212"})).size() == 1);
  CHECK(dests(*rs, warning("x", 1, {"330100"})).empty());  // Hangzhou: a sibling
  CHECK(dests(*rs, warning("x", 1, {"330000"})).empty());  // Zhejiang: an ancestor
  CHECK(dests(*rs, warning("x", 1, {"3302"})).empty());    // malformed code
  CHECK(dests(*rs, warning("x", 1, {})).empty());

  auto town = parseOk("[[rule]]\nname = \"t\"\narea_codes = [\"330212001000\"]\nto = [\"sms:t\"]\n");
  CHECK(dests(*town, warning("x", 1, {"330212001000"})).size() == 1);
  CHECK(dests(*town, warning("x", 1, {"330212"})).empty());
  CHECK(dests(*town, warning("x", 1, {"330212002000"})).empty());
}

TEST_CASE("rules: polygon overlap", "[rules]") {
  // Rule polygon: lat 29..30, lon 121..122 triangle as in the docs.
  auto rs = parseOk(
      "[[rule]]\nname = \"p\"\narea_polygons = [[[30.0,121.0],[30.0,122.0],[29.0,122.0],[30.0,121.0]]]\n"
      "to = [\"sms:p\"]\n");
  auto square = [](double lat, double lon, double d) {
    return GeoRing{{lat, lon}, {lat, lon + d}, {lat + d, lon + d}, {lat + d, lon}, {lat, lon}};
  };
  auto f = warning("x", 1, {});
  SECTION("a message polygon inside") {
    f.polygons = {square(29.7, 121.6, 0.1)};
    CHECK(dests(*rs, f) == V{"sms:p"});
  }
  SECTION("a message polygon containing the rule polygon, counter-clockwise") {
    f.polygons = {{{28, 120}, {28, 123}, {31, 123}, {31, 120}, {28, 120}}};
    CHECK(dests(*rs, f) == V{"sms:p"});
  }
  SECTION("a message polygon crossing an edge") {
    f.polygons = {square(29.9, 120.9, 0.3)};
    CHECK(dests(*rs, f) == V{"sms:p"});
  }
  SECTION("a message polygon on the far side of the hypotenuse") {
    f.polygons = {square(29.1, 121.1, 0.2)};  // lat + lon < 151: outside the triangle
    CHECK(dests(*rs, f).empty());
  }
  SECTION("a message polygon far away") {
    f.polygons = {square(39.9, 116.3, 0.2)};
    CHECK(dests(*rs, f).empty());
  }
  SECTION("a message circle overlapping the polygon from outside") {
    // 29.3N 121.45E lies outside, 18.3 km from the hypotenuse (lat + lon = 151): 20 km reaches in.
    f.circles = {{{29.3, 121.45}, 20.0}};
    CHECK(dests(*rs, f) == V{"sms:p"});
    f.circles = {{{29.3, 121.45}, 2.0}};
    CHECK(dests(*rs, f).empty());
  }
}

TEST_CASE("rules: circle overlap uses kilometres", "[rules]") {
  auto rs = parseOk(
      "[[rule]]\nname = \"c\"\narea_circles = [{lat = 29.87, lon = 121.55, radius_km = 20}]\nto = [\"sms:c\"]\n");
  auto f = warning("x", 1, {});
  // 0.2 degrees of latitude north = 22.2 km.
  SECTION("message circle 22.2 km away, radius 3 km: overlaps") {
    f.circles = {{{30.07, 121.55}, 3.0}};
    CHECK(dests(*rs, f) == V{"sms:c"});
  }
  SECTION("message circle 22.2 km away, radius 1 km: does not") {
    f.circles = {{{30.07, 121.55}, 1.0}};
    CHECK(dests(*rs, f).empty());
  }
  SECTION("east-west distances shrink with cos(latitude)") {
    // 0.25 degrees of longitude at 29.87N = 24.1 km (would be 27.8 km at the equator).
    f.circles = {{{29.87, 121.80}, 5.0}};
    CHECK(dests(*rs, f) == V{"sms:c"});
    f.circles = {{{29.87, 121.80}, 3.5}};
    CHECK(dests(*rs, f).empty());
  }
  SECTION("a message polygon within reach") {
    f.polygons = {{{29.95, 121.65}, {29.95, 121.85}, {30.15, 121.85}, {30.15, 121.65}, {29.95, 121.65}}};  // ~13 km NE
    CHECK(dests(*rs, f) == V{"sms:c"});
  }
  SECTION("a message polygon out of reach") {
    f.polygons = {{{30.2, 121.9}, {30.2, 122.1}, {30.4, 122.1}, {30.4, 121.9}, {30.2, 121.9}}};
    CHECK(dests(*rs, f).empty());
  }
  SECTION("a message circle containing the rule centre") {
    f.circles = {{{29.9, 121.5}, 50.0}};
    CHECK(dests(*rs, f) == V{"sms:c"});
  }
}

TEST_CASE("rules: area codes, polygons and circles are alternatives", "[rules]") {
  auto rs = parseOk(
      "[[rule]]\nname = \"a\"\narea_codes = [\"330226\"]\n"
      "area_circles = [{lat = 29.87, lon = 121.55, radius_km = 5}]\nto = [\"sms:a\"]\n");
  CHECK(dests(*rs, warning("x", 1, {"330226"})) == V{"sms:a"});
  auto f = warning("x", 1, {"330100"});
  f.circles = {{{29.87, 121.55}, 1}};
  CHECK(dests(*rs, f) == V{"sms:a"});
  f.circles = {{{31.0, 121.55}, 1}};
  CHECK(dests(*rs, f).empty());
}

TEST_CASE("rules: hours window wraps midnight with an injected time", "[rules]") {
  auto rs = parseOk("[[rule]]\nname = \"night\"\nhours = \"20:00-08:00\"\nto = [\"sms:night\"]\n");
  auto f = warning("x", 1, {});
  CHECK(dests(*rs, f, localTime(20, 0)) == V{"sms:night"});
  CHECK(dests(*rs, f, localTime(23, 59)) == V{"sms:night"});
  CHECK(dests(*rs, f, localTime(24, 0)) == V{"sms:night"});  // 00:00 next day
  CHECK(dests(*rs, f, localTime(7, 59)) == V{"sms:night"});
  CHECK(dests(*rs, f, localTime(8, 0)).empty());
  CHECK(dests(*rs, f, localTime(12, 0)).empty());
  CHECK(dests(*rs, f, localTime(19, 59)).empty());

  auto day = parseOk("[[rule]]\nname = \"day\"\nhours = \"08:00-20:00\"\nto = [\"sms:day\"]\n");
  CHECK(dests(*day, f, localTime(8, 0)) == V{"sms:day"});
  CHECK(dests(*day, f, localTime(20, 0)).empty());
  auto toMidnight = parseOk("[[rule]]\nname = \"eve\"\nhours = \"18:00-24:00\"\nto = [\"sms:eve\"]\n");
  CHECK(dests(*toMidnight, f, localTime(23, 59)) == V{"sms:eve"});
  CHECK(dests(*toMidnight, f, localTime(24, 0)).empty());

  SECTION("the timezone decides local time") {
    auto utc = parseOk("timezone = \"+00:00\"\n[[rule]]\nname = \"d\"\nhours = \"08:00-20:00\"\nto = [\"sms:d\"]\n");
    CHECK(dests(*utc, f, kDayMs + 9 * kHourMs) == V{"sms:d"});  // 09:00 UTC
    CHECK(dests(*utc, f, kDayMs + 21 * kHourMs).empty());       // 21:00 UTC (05:00 in +08:00)
    auto west = parseOk("timezone = \"-05:30\"\n[[rule]]\nname = \"d\"\nhours = \"08:00-20:00\"\nto = [\"sms:d\"]\n");
    CHECK(dests(*west, f, kDayMs + 14 * kHourMs) == V{"sms:d"});  // 08:30 local
    CHECK(dests(*west, f, kDayMs + 13 * kHourMs).empty());        // 07:30 local
  }
}

TEST_CASE("rules: explain gives one reason per condition", "[rules]") {
  auto rs = parseOk(R"(
[[rule]]
name = "typhoon-orange"
event = ["typhoon", "11B0*"]
min_colour = "orange"
area_codes = ["330200"]
hours = "20:00-08:00"
to = ["sms:a"]
[[rule]]
name = "none"
to = ["sms:b"]
)");
  std::vector<Destination> out;
  auto v = rs->explain(warning("typhoon", 2, {"330212"}), localTime(21, 15), out);
  REQUIRE(v.size() == 2);
  CHECK(v[0].name == "typhoon-orange");
  CHECK(v[0].line == 2);
  CHECK_FALSE(v[0].matched);
  CHECK(v[0].reasons == V{"event typhoon in [typhoon, 11B0*]: yes", "min_colour orange: message yellow: no",
                          "area codes [330200]: code 330212 within 330200: yes",
                          "hours 20:00-08:00: local 21:15: yes"});
  CHECK(v[1].matched);
  CHECK(v[1].reasons == V{"no conditions: matches every message"});
  REQUIRE(out.size() == 1);
  CHECK(out[0].str() == "sms:b");
}

// ---------------------------------------------------------------- index vs naive scan

namespace {

template <typename T>
const T& pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

std::string randomRules(std::mt19937& rng, int n) {
  const V events{"typhoon", "rainstorm", "gale", "11B01", "11B03", "11B06", "11B0*", "11B*", "rain*", "river-level"};
  const V senders{"met", "water", "fire", "maritime"};
  const V kinds{"warning", "forecast", "observation", "fused_alert"};
  const V statuses{"actual", "exercise", "test"};
  const V codes{"330000", "330200", "330212", "330206", "330212001000", "330100", "330226"};
  const V colours{"blue", "yellow", "orange", "red"};
  const V sev{"minor", "moderate", "severe", "extreme"};
  const V levels{"IV", "III", "II", "I"};
  const V cats{"met", "fire", "geo"};
  const V hours{"08:00-20:00", "20:00-08:00", "00:00-06:00"};
  const V to{"sms:a", "sms:b", "dashboard:city-desk", "dashboard:training-desk", "sms:c", "dashboard:all"};
  auto coin = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  auto list = [&](const V& from, int maxN) {
    int k = std::uniform_int_distribution<int>(1, maxN)(rng);
    std::string s = "[";
    for (int i = 0; i < k; ++i) s += (i ? ", \"" : "\"") + pick(rng, from) + "\"";
    return s + "]";
  };
  std::ostringstream o;
  o << "[destinations.\"dashboard:training-desk\"]\naccept_status = [\"actual\", \"exercise\", \"test\"]\n";
  o << "[destinations.\"dashboard:all\"]\naccept_status = [\"actual\", \"exercise\", \"test\", \"system\", "
       "\"draft\"]\n";
  for (int i = 0; i < n; ++i) {
    o << "[[rule]]\nname = \"r" << i << "\"\n";
    bool any = false, status = false;
    if (coin(0.15)) o << "status = " << list(statuses, 2) << "\n", any = status = true;
    if (coin(0.5)) o << "event = " << list(events, 3) << "\n", any = true;
    if (coin(0.3)) o << "sender = " << list(senders, 2) << "\n", any = true;
    if (coin(0.3)) o << "kind = " << list(kinds, 2) << "\n", any = true;
    if (coin(0.4)) o << "area_codes = " << list(codes, 2) << "\n", any = true;
    if (coin(0.05)) o << "area_polygons = [[[30.0,121.0],[30.0,122.0],[29.0,122.0],[30.0,121.0]]]\n", any = true;
    if (coin(0.05)) o << "area_circles = [{lat = 29.87, lon = 121.55, radius_km = 20}]\n", any = true;
    if (coin(0.1)) o << "category = " << list(cats, 2) << "\n", any = true;
    if (coin(0.2)) o << "min_colour = \"" << pick(rng, colours) << "\"\n", any = true;
    if (coin(0.1)) o << "min_severity = \"" << pick(rng, sev) << "\"\n", any = true;
    if (coin(0.05)) o << "min_response_level = \"" << pick(rng, levels) << "\"\n", any = true;
    if (coin(0.1)) o << "msg_type = [\"alert\"]\n", any = true;
    if (coin(0.1)) o << "hours = \"" << pick(rng, hours) << "\"\n", any = true;
    std::string t = list(to, 3);
    if (status) t = t.substr(0, t.size() - 1) + ", \"dashboard:all\"]";
    o << "to = " << t << "\n";
    o << "continue = " << ((!any || coin(0.75)) ? "true" : "false") << "\n";
  }
  return o.str();
}

MessageFacts randomFacts(std::mt19937& rng) {
  const V events{"typhoon", "rainstorm", "gale", "11B01",       "11B03", "11B06",
                 "11B10",   "11B",       "rain", "river-level", "fog"};
  const V senders{"met", "water", "fire", "maritime", "admin"};
  const V codes{"330000",       "330200", "330212", "330206", "330212001000",
                "330212002000", "330100", "330226", "330281", "bogus"};
  auto coin = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  auto upTo = [&](int n) { return std::uniform_int_distribution<int>(0, n)(rng); };
  MessageFacts f;
  f.sender = pick(rng, senders);
  f.status = coin(0.8) ? Status::ACTUAL : static_cast<Status>(upTo(5));
  f.msgType = static_cast<schema::MsgType>(upTo(5));
  f.kind = static_cast<Kind>(upTo(7));
  for (int i = upTo(2); i > 0; --i) f.events.push_back(pick(rng, events));
  for (int i = upTo(2); i > 0; --i) f.categories.push_back(static_cast<schema::Category>(upTo(7)));
  f.colourRank = upTo(4);
  f.severityRank = upTo(4);
  f.responseLevelRank = upTo(4);
  for (int i = upTo(3); i > 0; --i) f.adminCodes.push_back(pick(rng, codes));
  if (coin(0.1)) {
    double lat = 28.5 + upTo(20) * 0.1, lon = 120.5 + upTo(20) * 0.1;
    f.polygons.push_back({{lat, lon}, {lat, lon + 0.2}, {lat + 0.2, lon + 0.2}, {lat, lon}});
  }
  if (coin(0.1)) f.circles.push_back({{28.5 + upTo(20) * 0.1, 120.5 + upTo(20) * 0.1}, double(upTo(30))});
  return f;
}

}  // namespace

TEST_CASE("rules: indexed route() equals the naive file-order scan on random rules and messages", "[rules]") {
  std::mt19937 rng(20240701);
  size_t nonEmpty = 0, total = 0;
  for (int set = 0; set < 12; ++set) {
    std::string text = randomRules(rng, 250);
    std::vector<RuleError> errors;
    auto rs = RuleSet::parse(text, "random.toml", errors);
    for (auto& e : errors) UNSCOPED_INFO(e.str());
    REQUIRE(rs);
    std::vector<Destination> fast, slow;
    for (int m = 0; m < 300; ++m) {
      MessageFacts f = randomFacts(rng);
      int64_t now = kDayMs + std::uniform_int_distribution<int64_t>(0, 24 * kHourMs)(rng);
      rs->route(f, now, fast);
      auto verdicts = rs->explain(f, now, slow);
      REQUIRE(verdicts.size() == rs->size());
      INFO("rule set " << set << ", message " << m);
      REQUIRE(fast == slow);
      ++total;
      if (!fast.empty()) ++nonEmpty;
    }
  }
  // The generator must exercise real routing, not compare empty results.
  CHECK(nonEmpty > total / 3);
  CHECK(nonEmpty < total);
}

TEST_CASE("rules: a rule that lets alerts through but never their cancels is warned about at its line",
          "[rules][follow]") {
  auto rs = parseOk(R"([[rule]]
name = "alerts-only"
msg_type = ["alert", "update"]
to = ["sms:typhoon-command", "dashboard:city-desk"]
continue = true

[[rule]]
name = "desk-gets-cancels"
msg_type = ["cancel"]
to = ["dashboard:city-desk"]
)");
  auto w = rs->warnings();
  REQUIRE(w.size() == 1);
  CHECK(w[0].line == 1);  // the [[rule]] header
  CHECK(w[0].file == "rules.toml");
  // Only the destination no rule sends cancels to is named.
  CHECK_THAT(w[0].reason, Catch::Contains("'alerts-only'") && Catch::Contains("sms:typhoon-command") &&
                              !Catch::Contains("dashboard:city-desk") && Catch::Contains("cancel"));
  SECTION("no msg_type, or one with cancel, is fine") {
    auto ok = parseOk(R"([[rule]]
name = "all"
to = ["sms:a"]
continue = true
[[rule]]
name = "with-cancel"
msg_type = ["alert", "cancel"]
to = ["sms:b"]
[[rule]]
name = "updates-only"
msg_type = ["update"]
to = ["sms:c"]
)");
    CHECK(ok->warnings().empty());
  }
}

TEST_CASE("rules: the sample rules send cancels where alerts go, and hourly readings to desks, not phones",
          "[rules][follow]") {
  std::vector<RuleError> errors;
  auto rs = RuleSet::parseFile(std::string(ALERTBUS_SOURCE_DIR) + "/config/rules.toml", errors);
  REQUIRE(rs);
  for (auto& w : rs->warnings()) UNSCOPED_INFO(w.str());
  CHECK(rs->warnings().empty());
  auto cancel = warning("typhoon", 3, {"330212"});
  cancel.msgType = schema::MsgType::CANCEL;
  auto got = dests(*rs, cancel);
  CHECK(std::find(got.begin(), got.end(), "sms:typhoon-command") != got.end());
  // A river reading in the Yao River plain (Yuyao, 330281): hydrology desk, no SMS.
  MessageFacts reading;
  reading.sender = "water";
  reading.id = "obs";
  reading.status = Status::ACTUAL;
  reading.msgType = schema::MsgType::ALERT;
  reading.kind = Kind::observation;
  reading.events = {"river-level"};
  reading.adminCodes = {"330281"};
  auto readingDests = dests(*rs, reading);
  CHECK(std::find(readingDests.begin(), readingDests.end(), "dashboard:hydrology-desk") != readingDests.end());
  for (auto& d : readingDests) CHECK(d.rfind("sms:", 0) != 0);
  // The water adapter's threshold warning for the same gauge still goes by SMS.
  auto warn = reading;
  warn.kind = Kind::warning;
  auto warnDests = dests(*rs, warn);
  CHECK(std::find(warnDests.begin(), warnDests.end(), "sms:yuyao-flood-duty") != warnDests.end());
}
