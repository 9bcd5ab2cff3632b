// Input health beyond "the last read worked": a watched directory or stdin quiet for longer than
// input.stale_after_s is stale (measured from the last input, or from the start), and an HTTP 200 body the
// parser refused whole is down with the parser's first reason; an empty feed is still "no alerts".
#include <catch2/catch.hpp>

#include "adapters/common/input_health.h"

using namespace alertbus::adapter;

namespace {

constexpr int64_t kT0 = 1796601600000;  // 2026-12-07T00:00:00Z

InputProblem error(const std::string& position, const std::string& field, const std::string& value,
                   const std::string& reason) {
  return InputProblem{InputProblem::Level::error, "http://feed/x", position, field, value, reason};
}

}  // namespace

TEST_CASE("input health: a quiet input is stale after stale_after_s, from its start or its last input",
          "[adapter_runtime]") {
  QuietInput in(60000, kT0);
  CHECK_FALSE(in.stale(kT0));
  CHECK_FALSE(in.stale(kT0 + 60000));
  CHECK(in.stale(kT0 + 60001));
  CHECK(in.staleDetail() == "no input since start 2026-12-07T00:00:00Z (stale_after_s = 60)");
  in.received(kT0 + 90000);
  CHECK(in.lastInputMs() == kT0 + 90000);
  CHECK_FALSE(in.stale(kT0 + 150000));
  CHECK(in.stale(kT0 + 150001));
  CHECK(in.staleDetail() == "no input since 2026-12-07T00:01:30Z (stale_after_s = 60)");

  SECTION("stale_after_s = 0: never stale") {
    QuietInput never(0, kT0);
    CHECK_FALSE(never.stale(kT0 + 365LL * 86400000));
  }
}

TEST_CASE("input health: an HTTP 200 body refused whole is unreadable, with the parser's reason",
          "[adapter_runtime]") {
  Output out;
  SECTION("one error") {
    out.rejected = 1;
    out.problems.push_back(error("document", "format", "<html>", "unsupported format (not XML)"));
    CHECK(unreadableBody(out) == "HTTP 200 body unreadable: document: format=<html>: unsupported format (not XML)");
  }
  SECTION("every record refused: the first error, and how many more") {
    out.rejected = 3;
    out.problems.push_back(InputProblem{InputProblem::Level::warning, "u", "line 1", "TM", "x", "odd"});
    out.problems.push_back(error("line 2", "Z", "abc", "not a number"));
    out.problems.push_back(error("line 3", "Z", "", "missing"));
    out.problems.push_back(error("line 4", "STCD", "", "missing"));
    CHECK(unreadableBody(out) == "HTTP 200 body unreadable: line 2: Z=abc: not a number (and 2 more problems)");
  }
  SECTION("refused without a problem line still says so") {
    out.rejected = 1;
    CHECK(unreadableBody(out) == "HTTP 200 body unreadable: the parser took nothing from it");
  }
}

TEST_CASE("input health: a body with something taken, or with nothing in it, is readable", "[adapter_runtime]") {
  Output out;
  CHECK(unreadableBody(out).empty());  // an empty Atom feed: no alerts, the feed is up
  out.accepted = 1;
  out.rejected = 4;
  out.problems.push_back(error("entry 2", "content", "", "not CAP"));
  CHECK(unreadableBody(out).empty());  // partly taken: up, the problems are logged
}
