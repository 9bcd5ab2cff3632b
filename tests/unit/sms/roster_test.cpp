// Roster CSV parser and target grammar (outlets/sms/roster.h): every rejection names line, field, value and
// reason; mobile forms; GBK input; quoting; subtree semantics of role@code selections.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "outlets/sms/roster.h"

using namespace alertbus::sms;
using alertbus::adapter::InputProblem;

namespace {

std::string readFile(const std::string& rel) {
  std::ifstream in(std::string(ALERTBUS_SOURCE_DIR) + "/" + rel, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kHeader = "id,name,mobile,roles,admin_code,groups,deputy,superior\n";

const InputProblem* problemAt(const RosterParse& r, const std::string& position) {
  for (auto& p : r.problems)
    if (p.position == position) return &p;
  return nullptr;
}

void expectProblem(const RosterParse& r, int line, const std::string& field, const std::string& value,
                   const std::string& reasonPart) {
  INFO("line " << line);
  const InputProblem* p = problemAt(r, "line " + std::to_string(line));
  REQUIRE(p != nullptr);
  CHECK(p->level == InputProblem::Level::error);
  CHECK(p->field == field);
  CHECK(p->value == value);
  CHECK_THAT(p->reason, Catch::Contains(reasonPart));
}

}  // namespace

TEST_CASE("roster: the sample roster parses without problems", "[sms][roster]") {
  RosterParse r = parseRosterCsv(readFile("config/sms-roster.csv"), "roster.csv");
  for (auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.complete);
  CHECK(r.problems.empty());
  CHECK(r.encoding == "utf-8");
  CHECK(r.lines == 33);
  REQUIRE(r.people.size() == 33);
  const Person& c001 = r.people[0];
  CHECK(c001.id == "c001");
  CHECK(c001.name == "陈建国");
  CHECK(c001.mobile == "+8613805740001");
  CHECK(c001.roles == std::vector<std::string>{"city-leader"});
  CHECK(c001.adminCode == "330200");
  CHECK(c001.groups == std::vector<std::string>{"city-leaders", "night-duty-leaders", "typhoon-command"});
  CHECK(c001.deputy == "c002");
  CHECK(c001.superior.empty());
  CHECK(c001.line == 2);
  CHECK(r.people[2].groups.size() == 3);  // quoted field
  CHECK(r.people[2].mobile == "+8613805740003");
  CHECK(r.people[26].name == "萧云");  // quoted name
}

TEST_CASE("roster: every bad line of roster-bad.csv is reported with line field value and reason", "[sms][roster]") {
  RosterParse r = parseRosterCsv(readFile("tests/data/sms/roster-bad.csv"), "roster-bad.csv");
  for (auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.complete);
  CHECK(r.lines == 23);
  CHECK(r.rejected == 21);
  CHECK(r.problems.size() == 22);  // 21 errors and the mixed-encoding warning for line 24
  CHECK(r.encoding == "utf-8+gb18030");
  REQUIRE(r.people.size() == 2);
  CHECK(r.people[0].id == "p001");
  CHECK(r.people[1].id == "p019");
  CHECK(r.people[1].line == 20);

  expectProblem(r, 3, "id", "", "required");
  expectProblem(r, 4, "id", "p#003", "a person id is [A-Za-z0-9_.-]{1,64}");
  expectProblem(r, 5, "name", "", "required");
  expectProblem(r, 6, "name", "张?晓东", "control characters");
  expectProblem(r, 7, "mobile", "", "required");
  expectProblem(r, 8, "mobile", "12345", "not a mobile number (11 digits starting 13-19, or +<country><number>)");
  expectProblem(r, 9, "mobile", "+86 0574 8765 4321", "not a mobile number");
  expectProblem(r, 10, "roles", "Flood-Chief", "role names are [a-z0-9-]{1,64}");
  expectProblem(r, 11, "admin_code", "3302", "6 or 12 digits");
  expectProblem(r, 12, "groups", "flood duty officers", "group names are [a-z0-9-]{1,64}");
  expectProblem(r, 13, "deputy", "p 012", "a person id is");
  expectProblem(r, 14, "superior", "p013!", "a person id is");
  expectProblem(r, 15, "id", "p001", "duplicate id (first on line 2)");
  expectProblem(r, 16, "mobile", "+86 138-0574-0001", "duplicate mobile +8613805740001 (first on line 2, id p001)");
  expectProblem(r, 17, "fields", "5", "expected 8 fields as in the header, got 5");
  expectProblem(r, 18, "line", "p017,\"高峰,13805740017,duty-officer,330200,flood-duty-officers,,",
                "unterminated quoted field");
  expectProblem(r, 19, "line", "p018,\"罗勇\"x,13805740018,duty-officer,330200,flood-duty-officers,,",
                "text after a closing quote");
  std::string longName;
  for (int i = 0; i < 43; ++i) longName += "张";
  expectProblem(r, 21, "name", longName, "longer than 128 bytes");
  expectProblem(r, 22, "line", "4165 bytes", "line longer than 4096 bytes");
  std::string roles;
  for (int i = 65; i >= 1; --i) roles = "r" + std::to_string(i) + (roles.empty() ? "" : ";") + roles;
  expectProblem(r, 23, "roles", roles.substr(0, 200), "more than 64 roles");  // values are clipped to 200 bytes
  expectProblem(r, 24, "encoding", "p023,??,13805740023,duty-officer,330200,flood-duty-officers,,",
                "neither valid UTF-8 nor GB18030/GBK text");
  CHECK(r.problems[0].str() == "warning: roster-bad.csv: file: encoding=UTF-8 and GB18030: mixed encodings: 1 line(s) "
                               "not valid UTF-8 were read as GB18030 (lines 24); check their names");

  SECTION("the problem line is in the house format") {
    CHECK(problemAt(r, "line 8")->str() ==
          "roster-bad.csv: line 8: mobile=12345: not a mobile number (11 digits starting 13-19, or "
          "+<country><number>)");
  }
  SECTION("ids of refused lines are listed so a replace import keeps those persons") {
    CHECK(r.rejectedIds == std::vector<std::string>{"p004", "p005", "p006", "p007", "p008", "p009", "p010", "p011",
                                                    "p012", "p013", "p015", "p020", "p022"});
  }
}

TEST_CASE("roster: mobile number forms", "[sms][roster]") {
  SECTION("Chinese mobiles with and without country prefix") {
    CHECK(normaliseMobile("13805740001") == "+8613805740001");
    CHECK(normaliseMobile("+8613805740001") == "+8613805740001");
    CHECK(normaliseMobile("+86 138 0574 0001") == "+8613805740001");
    CHECK(normaliseMobile("0086-138-0574-0001") == "+8613805740001");
    CHECK(normaliseMobile("008613805740001") == "+8613805740001");
    CHECK(normaliseMobile("8613805740001") == "+8613805740001");
    CHECK(normaliseMobile("138-0574-0001") == "+8613805740001");
    CHECK(normaliseMobile("19912345678") == "+8619912345678");
  }
  SECTION("other E.164 numbers are kept") {
    CHECK(normaliseMobile("+447700900123") == "+447700900123");
    CHECK(normaliseMobile("+1 202-555-0143") == "+12025550143");
    CHECK(normaliseMobile("+8521234567") == "+8521234567");  // Hong Kong, 7 digits after +
    CHECK(normaliseMobile("+123456789012345") == "+123456789012345");
  }
  SECTION("everything else is refused") {
    for (const char* bad : {"", "12345", "12805740001", "10805740001", "1380574000", "138057400011", "+86 0574 8765 4321",
                            "+8612805740001", "0574-87654321", "00441234567", "+0441234567", "+123456", "+1234567890123456",
                            "861380574000", "138o5740001", "+86 138 0574 000１", "tel:13805740001"}) {
      INFO(bad);
      CHECK(normaliseMobile(bad).empty());
    }
  }
}

TEST_CASE("roster: GBK file is detected and converted", "[sms][roster]") {
  // 张三 = D5C5 C8FD, 王五 = CDF5 CEE5 in GBK; CRLF line ends.
  std::string gbk = "id,name,mobile,groups\r\np1,\xD5\xC5\xC8\xFD,13805740001,city-leaders\r\n"
                    "p2,\"\xCD\xF5\xCE\xE5\",13805740002,city-leaders\r\n";
  RosterParse r = parseRosterCsv(gbk, "gbk.csv");
  for (auto& p : r.problems) UNSCOPED_INFO(p.str());
  REQUIRE(r.complete);
  CHECK(r.encoding == "gb18030");
  REQUIRE(r.people.size() == 2);
  CHECK(r.people[0].name == "张三");
  CHECK(r.people[1].name == "王五");
  CHECK(r.people[1].line == 3);

  SECTION("a line that is neither UTF-8 nor GB18030 is refused alone") {
    std::string bad = gbk + "p3,\xFF\xFF,13805740003,city-leaders\r\n";
    RosterParse b = parseRosterCsv(bad, "gbk.csv");
    CHECK(b.people.size() == 2);
    expectProblem(b, 4, "encoding", "p3,??,13805740003,city-leaders", "neither valid UTF-8 nor GB18030/GBK text");
  }
}

TEST_CASE("roster: encodings line ends and quoting", "[sms][roster]") {
  SECTION("UTF-8 BOM and CR line ends") {
    RosterParse r = parseRosterCsv("\xEF\xBB\xBFid,name,mobile\rp1,张三,13805740001\r\rp2,李四,13805740002", "cr.csv");
    REQUIRE(r.complete);
    REQUIRE(r.people.size() == 2);
    CHECK(r.people[1].line == 4);  // the blank line is counted
    CHECK(r.lines == 2);
  }
  SECTION("quoted fields hold commas and doubled quotes") {
    RosterParse r = parseRosterCsv("id,name,mobile\np1,\"张三, \"\"老张\"\"\" , 13805740001\n", "q.csv");
    REQUIRE(r.people.size() == 1);
    CHECK(r.people[0].name == "张三, \"老张\"");
    CHECK(r.people[0].mobile == "+8613805740001");
  }
  SECTION("columns in any order and case; optional columns absent") {
    RosterParse r = parseRosterCsv("Mobile, NAME ,id\n13805740001,张三,p1\n", "o.csv");
    REQUIRE(r.complete);
    REQUIRE(r.people.size() == 1);
    CHECK(r.people[0].id == "p1");
    CHECK(r.people[0].name == "张三");
    CHECK(r.hasColumn(kColMobile));
    CHECK_FALSE(r.hasColumn(kColGroups));
  }
  SECTION("roles and groups lists: spaces and empty items ignored, duplicates removed, sorted") {
    RosterParse r = parseRosterCsv(kHeader + "p1,张三,13805740001, b-role ; a-role;;a-role;,330212,g2;g1,,\n", "l.csv");
    REQUIRE(r.people.size() == 1);
    CHECK(r.people[0].roles == std::vector<std::string>{"a-role", "b-role"});
    CHECK(r.people[0].groups == std::vector<std::string>{"g1", "g2"});
  }
  SECTION("UTF-16 is refused as a whole") {
    RosterParse r = parseRosterCsv(std::string("\xFF\xFEi\0d\0", 6), "u16.csv");
    CHECK_FALSE(r.complete);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].str() == "u16.csv: file: encoding=UTF-16: UTF-16 text is not supported; save the file as "
                                 "UTF-8 or GB18030");
  }
}

TEST_CASE("roster: header problems refuse the file", "[sms][roster]") {
  SECTION("unknown columns are named") {
    RosterParse r = parseRosterCsv("id,name,mobile,email,phone2\np1,张三,13805740001,a@b,1\n", "h.csv");
    CHECK_FALSE(r.complete);
    CHECK(r.people.empty());
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].position == "line 1");
    CHECK(r.problems[0].field == "header");
    CHECK(r.problems[0].value == "id,name,mobile,email,phone2");
    CHECK_THAT(r.problems[0].reason, Catch::StartsWith("unknown columns 'email', 'phone2' (known: id, name, mobile"));
  }
  SECTION("missing required column") {
    RosterParse r = parseRosterCsv("id,name,groups\np1,张三,g\n", "h.csv");
    CHECK_FALSE(r.complete);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].reason == "missing required column mobile");
  }
  SECTION("repeated column") {
    RosterParse r = parseRosterCsv("id,name,mobile,groups,groups\n", "h.csv");
    CHECK_FALSE(r.complete);
    CHECK(r.problems.at(0).reason == "repeated column groups");
  }
  SECTION("empty file") {
    RosterParse r = parseRosterCsv("\n\n", "e.csv");
    CHECK_FALSE(r.complete);
    CHECK_THAT(r.problems.at(0).reason, Catch::StartsWith("empty file"));
  }
  SECTION("header only is a complete empty roster") {
    RosterParse r = parseRosterCsv(kHeader, "e.csv");
    CHECK(r.complete);
    CHECK(r.people.empty());
    CHECK(r.problems.empty());
  }
}

TEST_CASE("roster: limits", "[sms][roster]") {
  std::string csv = kHeader;
  for (int i = 0; i < 20; ++i)
    csv += "p" + std::to_string(i) + ",张三," + std::to_string(13805740000LL + i) + ",,,g,,\n";
  SECTION("max bytes refuses the file unread") {
    RosterOptions o;
    o.maxBytes = 100;
    RosterParse r = parseRosterCsv(csv, "big.csv", o);
    CHECK_FALSE(r.complete);
    CHECK(r.people.empty());
    CHECK(r.problems.at(0).field == "size");
  }
  SECTION("max lines refuses the whole file") {
    RosterOptions o;
    o.maxLines = 10;
    RosterParse r = parseRosterCsv(csv, "long.csv", o);
    CHECK_FALSE(r.complete);
    CHECK(r.people.empty());
    CHECK(r.problems.at(0).position == "line 12");
    CHECK_THAT(r.problems.at(0).reason, Catch::Contains("more than the limit of 10 data lines"));
  }
  SECTION("a line over max line bytes is refused alone") {
    RosterOptions o;
    o.maxLineBytes = 80;
    RosterParse r = parseRosterCsv(csv + "p99," + std::string(100, 'x') + ",13905740000,,,g,,\n", "w.csv", o);
    CHECK(r.complete);
    CHECK(r.people.size() == 20);
    expectProblem(r, 22, "line", "122 bytes", "line longer than 80 bytes");
  }
  SECTION("problems beyond max problems are summarised") {
    RosterOptions o;
    o.maxProblems = 5;
    std::string bad = kHeader;
    for (int i = 0; i < 12; ++i) bad += "p" + std::to_string(i) + ",张三,12345,,,g,,\n";
    RosterParse r = parseRosterCsv(bad, "bad.csv", o);
    CHECK(r.rejected == 12);
    REQUIRE(r.problems.size() == 6);
    CHECK(r.problems.back().str() == "bad.csv: file: problems=7: 7 more bad lines not listed");
  }
  SECTION("a name longer than the limit") {
    std::string longName;
    for (int i = 0; i < 43; ++i) longName += "张";  // 129 bytes
    RosterParse r = parseRosterCsv(kHeader + "p1," + longName + ",13805740001,,,g,,\n", "n.csv");
    expectProblem(r, 2, "name", longName, "longer than 128 bytes");
  }
}

TEST_CASE("roster: target grammar", "[sms][roster][target]") {
  SECTION("named group") {
    Target t = parseTarget("flood-duty-officers");
    REQUIRE(t.ok());
    CHECK(t.kind == Target::Kind::group);
    CHECK(t.group == "flood-duty-officers");
    CHECK(parseTarget("sms:yuyao-flood-duty").group == "yuyao-flood-duty");
  }
  SECTION("role under a code and subtree prefixes") {
    Target t = parseTarget("township-flood-chief@330212");
    REQUIRE(t.ok());
    CHECK(t.kind == Target::Kind::selection);
    CHECK(t.role == "township-flood-chief");
    CHECK(t.adminCode == "330212");
    CHECK(t.adminPrefix == "330212");
    CHECK(parseTarget("duty-officer@330200").adminPrefix == "3302");
    CHECK(parseTarget("duty-officer@330000").adminPrefix == "33");
    CHECK(parseTarget("village-flood-monitor@330212001000").adminPrefix == "330212001");
    CHECK(parseTarget("village-flood-monitor@330212001002").adminPrefix == "330212001002");
    CHECK(parseTarget("duty-officer@330212000000").adminPrefix == "330212");
    Target all = parseTarget("*@330281");
    REQUIRE(all.ok());
    CHECK(all.role == "*");
    CHECK(all.adminPrefix == "330281");
  }
  SECTION("subtree membership") {
    CHECK(inAdminSubtree("330212", "3302"));
    CHECK(inAdminSubtree("330212", "330212"));
    CHECK(inAdminSubtree("330212101000", "330212"));
    CHECK(inAdminSubtree("330212101001", "330212101"));
    CHECK(inAdminSubtree("330200", "3302"));
    CHECK_FALSE(inAdminSubtree("330212", "330212101"));   // the county is not inside its township
    CHECK_FALSE(inAdminSubtree("330213", "330212"));
    CHECK_FALSE(inAdminSubtree("330281", "33021"));
    CHECK_FALSE(inAdminSubtree("", "3302"));
    CHECK(paddedAdminCode("330212") == "330212000000");
  }
  SECTION("invalid targets give a clear error") {
    auto error = [](const char* text) {
      Target t = parseTarget(text);
      CHECK_FALSE(t.ok());
      CHECK(t.kind == Target::Kind::invalid);
      return t.error;
    };
    CHECK(error("") == "target '': empty (expected <group> or <role>@<admin code>)");
    CHECK(error("Flood Duty") == "target 'Flood Duty': a group name is [a-z0-9-]{1,64} (or use <role>@<admin code>)");
    CHECK(error("township-flood-chief@3302") ==
          "target 'township-flood-chief@3302': admin code '3302': a GB/T 2260 code is 6 or 12 digits, not starting 00");
    CHECK(error("Chief@330212") ==
          "target 'Chief@330212': role 'Chief': a role name is [a-z0-9-]{1,64}, or * for everyone under the code");
    CHECK(error("a@330212@1") == "target 'a@330212@1': more than one '@' (expected <role>@<admin code>)");
    CHECK_THAT(error("@330212"), Catch::Contains("role ''"));
    CHECK_THAT(error("duty@000000"), Catch::Contains("admin code '000000'"));
    CHECK_THAT(error("duty@33021a"), Catch::Contains("admin code '33021a'"));
    CHECK_THAT(error(std::string(65, 'a').c_str()), Catch::Contains("a group name is"));
  }
  SECTION("every sms target of config/rules.toml is a valid group") {
    std::string rules = readFile("config/rules.toml");
    size_t n = 0;
    for (size_t at = rules.find("\"sms:"); at != std::string::npos; at = rules.find("\"sms:", at + 1)) {
      std::string target = rules.substr(at + 1, rules.find('"', at + 1) - at - 1);
      INFO(target);
      Target t = parseTarget(target);
      CHECK(t.kind == Target::Kind::group);
      ++n;
    }
    CHECK(n >= 7);
  }
}

TEST_CASE("roster: parsing 43000 persons", "[sms][roster][perf]") {
  std::string csv = kHeader;
  for (int i = 0; i < 43000; ++i) {
    char line[200];
    std::snprintf(line, sizeof line, "p%05d,值班员%05d,%lld,village-flood-monitor,3302%02d%03d%03d,all-duty,,\n", i, i,
                  13800000000LL + i, 3 + i % 80, 1 + i % 20, 1 + i % 30);
    csv += line;
  }
  auto t0 = std::chrono::steady_clock::now();
  RosterParse r = parseRosterCsv(csv, "big.csv");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(r.problems.empty());
  CHECK(r.people.size() == 43000);
  std::printf("roster parse: 43000 lines (%zu bytes) in %.1f ms = %.0f rows/s\n", csv.size(), s * 1e3, 43000 / s);
}

TEST_CASE("roster: a UTF-8 roster with GBK lines pasted in is read line by line with a warning", "[sms][roster]") {
  std::string csv = "id,name,mobile\np1,张三,13805740001\np2,\xCD\xF5\xCE\xE5,13805740002\np3,李四,13805740003\n";
  RosterParse r = parseRosterCsv(csv, "mixed.csv");
  REQUIRE(r.complete);
  CHECK(r.encoding == "utf-8+gb18030");
  REQUIRE(r.people.size() == 3);
  CHECK(r.people[0].name == "张三");
  CHECK(r.people[1].name == "王五");
  CHECK(r.people[2].name == "李四");
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].level == InputProblem::Level::warning);
  CHECK(r.problems[0].str() == "warning: mixed.csv: file: encoding=UTF-8 and GB18030: mixed encodings: 1 line(s) not "
                               "valid UTF-8 were read as GB18030 (lines 3); check their names");
}

TEST_CASE("roster: an empty header cell is named by its column", "[sms][roster]") {
  RosterParse r = parseRosterCsv("id,name,mobile,\np1,张三,13805740001,\n", "excel.csv");
  CHECK_FALSE(r.complete);
  CHECK_THAT(r.problems.at(0).reason, Catch::StartsWith("unknown column '' (column 4)"));
}

TEST_CASE("roster: hostile input never throws and accepted persons are well formed", "[sms][roster]") {
  const std::string alphabet[] = {",", "\"", "\r", "\n", ";", "@", "+", "86", "138", "0574", "1", "-", " ", "\t", "a",
                                  "id", "name", "mobile", "groups", "张", "\xD5\xC5", "\xFF", std::string(1, '\0'),
                                  "\xEF\xBB\xBF", "330212", "00"};
  std::mt19937 rng(4242);
  for (int round = 0; round < 3000; ++round) {
    std::string csv = round % 2 ? "id,name,mobile,groups,deputy\n" : "";
    size_t pieces = rng() % 60;
    for (size_t i = 0; i < pieces; ++i) csv += alphabet[rng() % (sizeof alphabet / sizeof alphabet[0])];
    RosterParse r;
    REQUIRE_NOTHROW(r = parseRosterCsv(csv, "fuzz.csv"));
    if (!r.complete) CHECK(r.people.empty());
    for (auto& p : r.people) {
      CHECK(isPersonId(p.id));
      CHECK_FALSE(p.name.empty());
      CHECK(p.mobile.size() >= 8);
      CHECK(p.mobile[0] == '+');
      CHECK((p.deputy.empty() || isPersonId(p.deputy)));
      for (auto& g : p.groups) CHECK(isName(g));
    }
    REQUIRE_NOTHROW(parseTarget(csv));
  }
}

TEST_CASE("roster: the optional language column takes tags and refuses anything else", "[sms][roster]") {
  RosterParse r = parseRosterCsv("id,name,mobile,language\n"
                                 "a1,张三,13805740001,\n"
                                 "a2,John,13805740002,en\n"
                                 "a3,Maria,13805740003,pt-BR\n"
                                 "a4,Bad,13805740004,en_US!\n"
                                 "a5,Bad,13805740005,e\n",
                                 "lang.csv");
  REQUIRE(r.people.size() == 3);
  CHECK(r.people[0].language.empty());
  CHECK(r.people[1].language == "en");
  CHECK(r.people[2].language == "pt-BR");
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].position == "line 5");
  CHECK(r.problems[0].field == "language");
  CHECK(r.problems[0].value == "en_US!");
  CHECK(r.problems[0].reason.find("language tag") != std::string::npos);
  CHECK(r.problems[1].value == "e");
  CHECK(r.hasColumn(kColLanguage));
}
