// RosterStore (outlets/sms/roster_store.h): replace vs update imports in one transaction, check() findings,
// target resolution with subtree semantics, escalation chain, and a 43,000-person import with timings.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "outlets/sms/roster_store.h"

using namespace alertbus::sms;
namespace fs = std::filesystem;

namespace {

std::string readFile(const std::string& rel) {
  std::ifstream in(std::string(ALERTBUS_SOURCE_DIR) + "/" + rel, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh directory for one test's database files, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("alertbus_roster_test_" + std::to_string(getpid()) + "_" + std::to_string(++n));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const char* name) const { return (path / name).string(); }
};

const std::string kHeader = "id,name,mobile,roles,admin_code,groups,deputy,superior\n";

RosterParse parseOk(const std::string& csv) {
  RosterParse r = parseRosterCsv(csv, "test.csv");
  for (auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.complete);
  return r;
}

ImportReport importOk(RosterStore& store, const RosterParse& parse, ImportMode mode) {
  ImportReport report;
  REQUIRE(store.import(parse, mode, {}, report));
  return report;
}

std::vector<std::string> ids(const Resolution& r) {
  std::vector<std::string> v;
  for (auto& x : r.recipients) v.push_back(x.personId);
  return v;
}

std::vector<std::string> ids(const std::vector<Person>& people) {
  std::vector<std::string> v;
  for (auto& x : people) v.push_back(x.id);
  return v;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("roster store: the sample roster imports checks clean and resolves every target of rules.toml",
          "[sms][roster_store]") {
  TempDir dir;
  RosterStore store(dir.file("roster.db"));
  std::vector<std::pair<size_t, size_t>> calls;
  ImportReport report;
  RosterParse parse = parseOk(readFile("config/sms-roster.csv"));
  REQUIRE(store.import(parse, ImportMode::replace, [&](size_t done, size_t total) { calls.emplace_back(done, total); },
                       report));
  CHECK(report.total == 33);
  CHECK(report.added == 33);
  CHECK(report.removed == 0);
  CHECK(calls == std::vector<std::pair<size_t, size_t>>{{33, 33}});
  CHECK(store.size() == 33);
  for (auto& line : store.check()) UNSCOPED_INFO(line);
  CHECK(store.check().empty());

  SECTION("every sms target in config/rules.toml reaches somebody") {
    std::string rules = readFile("config/rules.toml");
    for (size_t at = rules.find("\"sms:"); at != std::string::npos; at = rules.find("\"sms:", at + 1)) {
      std::string target = rules.substr(at + 1, rules.find('"', at + 1) - at - 1);
      INFO(target);
      Resolution r = store.resolve(parseTarget(target));
      CHECK(r.ok());
      CHECK_FALSE(r.recipients.empty());
    }
  }
  SECTION("groups with member counts") {
    auto groups = store.groups();
    REQUIRE(groups.size() == 10);
    CHECK(groups[0].name == "city-leaders");
    CHECK(groups[0].members == 2);
    CHECK(groups[2].name == "drill-participants");
    CHECK(groups[2].members == 3);
    CHECK(groups[9].name == "yuyao-flood-duty");
    CHECK(groups[9].members == 5);
  }
  SECTION("the drill group holds only drill participants, whose escalation stays among them") {
    Resolution r = store.resolve(parseTarget("drill-participants"));
    REQUIRE(r.ok());
    CHECK(ids(r) == V{"x0901", "x0902", "x0903"});
    for (auto& p : r.recipients) {
      Escalation e = store.chain(p.personId);
      if (e.deputy) CHECK(e.deputy->personId.rfind("x09", 0) == 0);
      if (e.superior) CHECK(e.superior->personId.rfind("x09", 0) == 0);
    }
  }
  SECTION("a group resolves sorted by id with names and normalised mobiles") {
    Resolution r = store.resolve(parseTarget("typhoon-command"));
    REQUIRE(r.ok());
    CHECK(ids(r) == V{"c001", "c002", "c003", "c004", "d0601"});
    CHECK(r.recipients[2].name == "刘海燕");
    CHECK(r.recipients[2].mobile == "+8613805740003");
  }
  SECTION("role under a code follows GB/T 2260 subtrees") {
    CHECK(ids(store.resolve(parseTarget("township-flood-chief@330212"))) == V{"t1201", "t1202", "t1203"});
    CHECK(ids(store.resolve(parseTarget("township-flood-chief@330212101000"))) == V{"t1201"});
    CHECK(ids(store.resolve(parseTarget("township-flood-chief@330200"))) ==
          V{"t0601", "t1201", "t1202", "t1203", "t2501", "t8101", "t8102"});
    CHECK(ids(store.resolve(parseTarget("village-flood-monitor@330200"))) == V{"v1201"});
    CHECK(ids(store.resolve(parseTarget("village-flood-monitor@330212101001"))) == V{"v1201"});
    CHECK(ids(store.resolve(parseTarget("district-flood-chief@330212"))) == V{"d1201"});
    // a county-level person is not inside one of the county's townships
    CHECK(store.resolve(parseTarget("district-flood-chief@330212101000")).recipients.empty());
    CHECK(ids(store.resolve(parseTarget("*@330212101000"))) == V{"t1201", "v1201"});
    CHECK(store.resolve(parseTarget("*@330200")).recipients.size() == 33);
    CHECK(ids(store.resolve(parseTarget("maritime-officer@330225"))) == V{"t2501"});
  }
  SECTION("unknown group or role: empty with an error; a known role with nobody under the code: empty, no error") {
    Resolution g = store.resolve(parseTarget("flood-duty-oficers"));
    CHECK(g.recipients.empty());
    CHECK(g.error == "unknown group 'flood-duty-oficers'");
    Resolution r = store.resolve(parseTarget("township-flood-chef@330212"));
    CHECK(r.recipients.empty());
    CHECK(r.error == "unknown role 'township-flood-chef'");
    Resolution none = store.resolve(parseTarget("reservoir-keeper@330206"));
    CHECK(none.recipients.empty());
    CHECK(none.ok());
    Resolution bad = store.resolve(parseTarget("Flood Duty"));
    CHECK_FALSE(bad.ok());
    CHECK_THAT(bad.error, Catch::StartsWith("target 'Flood Duty'"));
  }
  SECTION("by mobile in any form") {
    auto p = store.byMobile("138 0574 0005");
    REQUIRE(p.size() == 1);
    CHECK(p[0].id == "c005");
    CHECK(p[0].name == "李娜");
    CHECK(p[0].groups == V{"flood-duty-officers", "night-duty-leaders"});
    CHECK(store.byMobile("+8613805740005").size() == 1);
    CHECK(store.byMobile("+8613800000000").empty());
    CHECK(store.byMobile("12345").empty());
  }
  SECTION("escalation chain") {
    Escalation e = store.chain("c004");
    REQUIRE(e.found);
    CHECK(e.deputyId == "c005");
    REQUIRE(e.deputy);
    CHECK(e.deputy->name == "李娜");
    REQUIRE(e.superior);
    CHECK(e.superior->personId == "c003");
    CHECK(e.superior->mobile == "+8613805740003");
    Escalation top = store.chain("c001");
    CHECK(top.found);
    CHECK(top.superiorId.empty());
    CHECK_FALSE(top.superior);
    CHECK_FALSE(store.chain("nobody").found);
  }
  SECTION("list with filters") {
    CHECK(ids(store.list({"yuyao-flood-duty", "", "", "", 0})) == V{"d8101", "d8102", "r8101", "t8101", "t8102"});
    CHECK(ids(store.list({"", "reservoir-keeper", "", "", 0})) == V{"r0301", "r1301", "r8101"});
    CHECK(ids(store.list({"", "", "330281", "", 2})) == V{"d8101", "d8102"});
    CHECK(ids(store.list({"reservoir-duty", "", "330281", "", 0})) == V{"r8101"});
    CHECK(ids(store.list({"", "", "", "海燕", 0})) == V{"c003"});
    CHECK(store.list().size() == 33);
    CHECK_THROWS_AS(store.list({"", "", "3302", "", 0}), std::invalid_argument);
    auto person = store.person("t1201");
    REQUIRE(person);
    CHECK(person->adminCode == "330212101000");
    CHECK(person->roles == V{"township-flood-chief"});
    CHECK(person->groups.empty());
  }
  SECTION("the file is in WAL mode") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(dir.file("roster.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) == "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  SECTION("the roster survives reopening") {
    RosterStore again(dir.file("roster.db"));
    CHECK(again.size() == 33);
    CHECK(ids(again.resolve(parseTarget("city-leaders"))) == V{"c001", "c002"});
  }
  SECTION("importing the same file again changes nothing") {
    ImportReport second = importOk(store, parse, ImportMode::replace);
    CHECK(second.unchanged == 33);
    CHECK(second.added + second.updated + second.removed == 0);
  }
}

TEST_CASE("roster store: replace removes persons not in the file and update only upserts", "[sms][roster_store]") {
  TempDir dir;
  RosterStore store(dir.file("roster.db"));
  importOk(store, parseOk(kHeader + "a,甲,13805740001,duty-officer,330212,g1,b,\n"
                                    "b,乙,13805740002,duty-officer,330212,g1,,\n"
                                    "c,丙,13805740003,duty-officer,330281,g2,,\n"),
           ImportMode::replace);

  SECTION("update: new and changed persons; others stay; absent columns keep stored values") {
    ImportReport r = importOk(store, parseOk("id,name,mobile,admin_code\n"
                                             "a,甲甲,13805740001,330281\n"
                                             "d,丁,13805740004,330212\n"
                                             "b,乙,13805740002,330212\n"),
                              ImportMode::update);
    CHECK(r.added == 1);
    CHECK(r.updated == 1);
    CHECK(r.unchanged == 1);
    CHECK(r.removed == 0);
    CHECK(store.size() == 4);
    auto a = store.person("a");
    REQUIRE(a);
    CHECK(a->name == "甲甲");
    CHECK(a->groups == V{"g1"});     // kept: the file has no groups column
    CHECK(a->roles == V{"duty-officer"});
    CHECK(a->deputy == "b");
    CHECK(a->adminCode == "330281");  // the role index follows the new code
    CHECK(ids(store.resolve(parseTarget("duty-officer@330281"))) == V{"a", "c"});
    CHECK(ids(store.resolve(parseTarget("duty-officer@330212"))) == V{"b"});
    auto d = store.person("d");
    REQUIRE(d);
    CHECK(d->groups.empty());
  }
  SECTION("replace: the file is the whole roster") {
    ImportReport r = importOk(store, parseOk(kHeader + "b,乙,13805740002,duty-officer,330212,g3,,\n"
                                                       "e,戊,13805740005,,330212,g3,,\n"),
                              ImportMode::replace);
    CHECK(r.added == 1);
    CHECK(r.updated == 1);
    CHECK(r.removed == 2);
    CHECK(r.removedIds == V{"a", "c"});
    CHECK(store.size() == 2);
    CHECK(ids(store.list()) == V{"b", "e"});
    CHECK_FALSE(store.resolve(parseTarget("g1")).ok());  // no member left: unknown
    CHECK(ids(store.resolve(parseTarget("g3"))) == V{"b", "e"});
    CHECK(ids(store.resolve(parseTarget("duty-officer@330200"))) == V{"b"});
    CHECK(store.groups().size() == 1);
  }
  SECTION("replace keeps, as stored, persons whose line was refused") {
    RosterParse p = parseRosterCsv(kHeader + "a,甲,13805740001,duty-officer,330212,g1,,\n"
                                             "b,乙,1380574000,duty-officer,330212,g1,,\n",
                                   "typo.csv");
    REQUIRE(p.complete);
    REQUIRE(p.problems.size() == 1);
    ImportReport r = importOk(store, p, ImportMode::replace);
    CHECK(r.keptIds == V{"b"});
    CHECK(r.removedIds == V{"c"});
    auto b = store.person("b");
    REQUIRE(b);
    CHECK(b->mobile == "+8613805740002");
  }
  SECTION("a file refused as a whole and an empty replace change nothing") {
    ImportReport r;
    RosterParse bad = parseRosterCsv("id,name,mobile,email\n", "h.csv");
    CHECK_FALSE(store.import(bad, ImportMode::replace, {}, r));
    CHECK_THAT(r.error, Catch::Contains("refused as a whole"));
    CHECK_FALSE(store.import(bad, ImportMode::update, {}, r));
    CHECK_FALSE(store.import(parseOk(kHeader), ImportMode::replace, {}, r));
    CHECK_THAT(r.error, Catch::Contains("without persons"));
    CHECK(store.import(parseOk(kHeader), ImportMode::update, {}, r));
    CHECK(store.size() == 3);
  }
  SECTION("an import that fails midway is rolled back whole") {
    std::string csv = kHeader;
    for (int i = 0; i < 2500; ++i)
      csv += "n" + std::to_string(i) + ",某," + std::to_string(13900000000LL + i) + ",,,g9,,\n";
    RosterParse big = parseOk(csv);
    ImportReport r;
    auto failAt2000 = [](size_t done, size_t) {
      if (done == 2000) throw std::runtime_error("disk full (injected)");
    };
    CHECK_THROWS_WITH(store.import(big, ImportMode::replace, failAt2000, r), "disk full (injected)");
    CHECK(store.size() == 3);
    CHECK(ids(store.list()) == V{"a", "b", "c"});
    CHECK_FALSE(store.resolve(parseTarget("g9")).ok());
    // the store is usable afterwards
    CHECK(store.import(big, ImportMode::update, {}, r));
    CHECK(store.size() == 2503);
  }
}

TEST_CASE("roster store: check reports dangling references self references cycles unreachable persons and shared "
          "mobiles",
          "[sms][roster_store]") {
  RosterStore store("");
  importOk(store, parseOk(kHeader + "a,甲,13805740001,duty-officer,330212,g,x,b\n"     // deputy x unknown
                                    "b,乙,13805740002,duty-officer,330212,g,,c\n"
                                    "c,丙,13805740003,duty-officer,330212,g,,a\n"      // superior cycle a b c
                                    "d,丁,13805740004,duty-officer,330212,g,e,d\n"     // own superior
                                    "e,戊,13805740005,duty-officer,330212,g,d,y\n"     // deputies d <-> e; superior y
                                    "f,己,13805740006,,330212,,,\n"                    // no group, no role
                                    "h,庚,13805740008,,,g,h,\n"),                      // own deputy
           ImportMode::replace);
  // a second person with a's mobile arrives with an update (within one file it is refused)
  importOk(store, parseOk(kHeader + "k,辛,+86 138 0574 0001,duty-officer,330212,g,,\n"), ImportMode::update);
  std::vector<std::string> found = store.check();
  for (auto& line : found) UNSCOPED_INFO(line);
  CHECK(found == V{
                     "person a (甲): deputy 'x' is not in the roster",
                     "person d (丁): is their own superior",
                     "person e (戊): superior 'y' is not in the roster",
                     "person h (庚): is their own deputy",
                     "deputy cycle: d -> e -> d",
                     "superior cycle: a -> b -> c -> a",
                     "person f (己): in no group and has no role: no target reaches them",
                     "mobile +8613805740001 is shared by a, k",
                 });
  auto both = store.byMobile("13805740001");
  CHECK(ids(both) == V{"a", "k"});
  Escalation e = store.chain("a");
  CHECK(e.deputyId == "x");
  CHECK_FALSE(e.deputy);  // dangling: the id is kept, there is nobody to send to
  REQUIRE(e.superior);
  CHECK(e.superior->personId == "b");
}

TEST_CASE("roster store: a file that is not a roster is refused", "[sms][roster_store]") {
  TempDir dir;
  {
    std::ofstream out(dir.file("junk.db"), std::ios::binary);
    out << std::string(4096, 'x');
  }
  CHECK_THROWS_WITH(RosterStore(dir.file("junk.db")), Catch::Contains("not an alertbus roster file"));
  CHECK_THROWS_WITH(RosterStore(dir.file("missing/dir/roster.db")), Catch::Contains("cannot open"));
}

TEST_CASE("roster store: 43000 persons import and resolve in milliseconds", "[sms][roster_store][perf]") {
  TempDir dir;
  // 43,000 persons: everyone in "all-duty"; 8 district codes x 20 townships x 30 villages; every 10th is a
  // township flood chief, every 100th also in "township-chiefs".
  const int n = 43000;
  std::string csv = kHeader;
  static const char* kDistricts[] = {"03", "05", "06", "11", "12", "13", "25", "81"};
  for (int i = 0; i < n; ++i) {
    char line[256];
    std::snprintf(line, sizeof line, "p%05d,值班员%05d,%lld,%s,3302%s%03d%03d,all-duty%s,%s,%s\n", i, i,
                  13800000000LL + i, i % 10 == 0 ? "village-flood-monitor;township-flood-chief" : "village-flood-monitor",
                  kDistricts[i % 8], 100 + i / 8 % 20, 1 + i / 160 % 30, i % 100 == 0 ? ";township-chiefs" : "",
                  i + 1 < n ? ("p" + std::to_string(100000 + i + 1).substr(1)).c_str() : "",
                  i >= 10 ? ("p" + std::to_string(100000 + i / 10).substr(1)).c_str() : "");
    csv += line;
  }
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };

  auto t0 = now();
  RosterParse parse = parseRosterCsv(csv, "big.csv");
  auto t1 = now();
  REQUIRE(parse.problems.empty());
  REQUIRE(parse.people.size() == size_t(n));

  RosterStore store(dir.file("roster.db"));
  size_t progressCalls = 0, lastDone = 0;
  ImportReport report;
  auto t2 = now();
  REQUIRE(store.import(parse, ImportMode::replace,
                       [&](size_t done, size_t total) {
                         ++progressCalls;
                         CHECK(done > lastDone);
                         CHECK(total == size_t(n));
                         lastDone = done;
                       },
                       report));
  auto t3 = now();
  CHECK(report.added == size_t(n));
  CHECK(progressCalls == 43);  // at 1000, 2000, ... 42000 and once at the end
  CHECK(lastDone == size_t(n));

  auto t4 = now();
  Resolution all = store.resolve(parseTarget("all-duty"));
  auto t5 = now();
  REQUIRE(all.ok());
  CHECK(all.recipients.size() == size_t(n));
  CHECK(all.recipients.front().personId == "p00000");
  CHECK(all.recipients.back().personId == "p42999");

  auto t6 = now();
  Resolution chiefs = store.resolve(parseTarget("township-flood-chief@330212"));
  auto t7 = now();
  CHECK(chiefs.recipients.size() == 1075);  // i % 10 == 0 and i % 8 == 4: i % 40 == 20
  Resolution everyone = store.resolve(parseTarget("*@330212"));
  auto t8 = now();
  CHECK(everyone.recipients.size() == 5375);
  Resolution city = store.resolve(parseTarget("village-flood-monitor@330200"));
  auto t9 = now();
  CHECK(city.recipients.size() == size_t(n));
  auto t10 = now();
  auto found = store.byMobile("13800012345");
  auto t11 = now();
  CHECK(ids(found) == V{"p12345"});
  std::vector<std::string> problems = store.check();
  auto t12 = now();
  CHECK(problems.empty());
  ImportReport again;
  auto t13 = now();
  REQUIRE(store.import(parse, ImportMode::replace, {}, again));
  auto t14 = now();
  CHECK(again.unchanged == size_t(n));

  std::printf("roster 43000: parse %.0f ms (%.0f rows/s); import (replace, one transaction, synchronous=FULL) %.0f ms "
              "(%.0f rows/s); re-import unchanged %.0f ms\n",
              ms(t0, t1), n / ms(t0, t1) * 1e3, ms(t2, t3), n / ms(t2, t3) * 1e3, ms(t13, t14));
  std::printf("roster 43000: resolve group all-duty (43000) %.1f ms; township-flood-chief@330212 (1075) %.2f ms; "
              "*@330212 (5375) %.2f ms; village-flood-monitor@330200 (43000) %.1f ms; byMobile %.3f ms; check() %.0f ms\n",
              ms(t4, t5), ms(t6, t7), ms(t7, t8), ms(t8, t9), ms(t10, t11), ms(t11, t12));
}

TEST_CASE("roster store: languages are stored and kept by an update without the column", "[sms][roster-store]") {
  RosterStore store("");
  ImportReport rep;
  REQUIRE(store.import(parseOk("id,name,mobile,groups,language\na1,张三,13805740001,duty,\na2,John,13805740002,duty,en\n"),
                       ImportMode::replace, nullptr, rep));
  CHECK(store.languages() == std::map<std::string, std::string>{{"a2", "en"}});
  REQUIRE(store.import(parseOk("id,name,mobile\na2,John Smith,13805740002\n"), ImportMode::update, nullptr, rep));
  CHECK(store.person("a2")->language == "en");
  CHECK(store.person("a2")->name == "John Smith");
}
