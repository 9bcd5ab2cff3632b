// Duty rosters of the SMS outlet: the roster CSV (people with mobiles, roles, administrative code, groups,
// deputy and superior) and the target grammar of "sms:<target>" deliveries. Pure: no I/O, no clock, no
// globals; every function is safe on distinct inputs from any thread. Bad input never throws: it becomes
// one adapter::InputProblem per bad line, and that line is skipped. RosterStore (roster_store.h) keeps it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/output.h"

namespace alertbus::sms {

// One named duty person. Strings are UTF-8; lists are sorted and without duplicates.
struct Person {
  std::string id;                   // [A-Za-z0-9_.-]{1,64}, unique in the roster
  std::string name;                 // non-empty, at most kMaxNameBytes, no control characters
  std::string mobile;               // normalised E.164: "+86" + 11 digits 1[3-9]..., or "+<7..15 digits>"
  std::vector<std::string> roles;   // role names [a-z0-9-]{1,64}, e.g. "township-flood-chief"
  std::string adminCode;            // GB/T 2260, 6 or 12 digits, as written; "" = none (no role@code reaches them)
  std::vector<std::string> groups;  // group names [a-z0-9-]{1,64}, e.g. "flood-duty-officers"
  std::string deputy;               // person id or "": tried when this person cannot be reached
  std::string superior;             // person id or "": escalated to when this person does not answer
  std::string language;             // language tag for the templates ("en", "zh-CN"); "" = the default
  size_t line = 0;                  // line in the CSV it came from (0 when read back from a store)
};

// Roster CSV columns, as bits of RosterParse::columns.
enum RosterColumn : unsigned {
  kColId = 1u << 0,
  kColName = 1u << 1,
  kColMobile = 1u << 2,
  kColRoles = 1u << 3,
  kColAdminCode = 1u << 4,
  kColGroups = 1u << 5,
  kColDeputy = 1u << 6,
  kColSuperior = 1u << 7,
  kColLanguage = 1u << 8,
};

constexpr size_t kMaxNameBytes = 128;      // a Chinese name is 6-12 bytes; leaves room for "张三（值班）"
constexpr size_t kMaxListItems = 64;       // roles or groups of one person

// Limits of one roster file. At a limit: maxBytes and maxLines refuse the whole file (a truncated roster
// must never replace a whole one); maxLineBytes refuses that line; after maxProblems problems one summary
// problem "N more bad lines not listed" is added (RosterParse::rejected still counts them all).
struct RosterOptions {
  size_t maxBytes = 64u << 20;   // bytes of the whole file (43,000 persons take about 4 MB)
  size_t maxLines = 200000;      // data lines (non-blank lines after the header)
  size_t maxLineBytes = 4096;    // bytes of one line, before any GB18030 conversion
  size_t maxProblems = 1000;     // problems listed one by one
};

struct RosterParse {
  std::vector<Person> people;                    // accepted lines, in file order
  std::vector<adapter::InputProblem> problems;   // in file order; errors, except one warning first for a file
                                                 // of mixed UTF-8 and GB18030 lines
  size_t lines = 0;                              // data lines read (non-blank, after the header)
  size_t rejected = 0;                           // data lines refused (each has a problem, unless over maxProblems)
  bool complete = false;                         // false: the file was refused as a whole (empty, too large, too
                                                 // many lines, bad header, UTF-16, undecodable); people is empty
                                                 // and a store must not import it
  std::string encoding;                          // "utf-8" | "gb18030" (converted) | "utf-8+gb18030" (per line,
                                                 // warned) | "" (refused before reading)
  unsigned columns = 0;                          // RosterColumn bits present in the header
  std::vector<std::string> rejectedIds;          // well-formed ids of refused lines not also on an accepted line,
                                                 // sorted: a "replace" import keeps these persons as stored
                                                 // rather than deleting them over a typo
  bool hasColumn(RosterColumn c) const { return (columns & c) != 0; }
};

// Parses a roster CSV. `bytes` need not outlive the call; `source` names the file in problems.
//
// Format: the first non-blank line is the header naming the columns, in any order, case-insensitive:
//   id, name, mobile     required
//   roles, admin_code, groups, deputy, superior, language     optional (absent = empty for every person; an "update"
//                        import keeps the stored value of a column the file does not have)
// A column not in this list, a repeated column or a missing required column refuses the file (one
// problem naming them). Encoding: UTF-8 with or without BOM; input that is not valid UTF-8 is read as
// GB18030 (a superset of GBK and GB2312) and converted per line with iconv, unless most non-ASCII lines
// are valid UTF-8: then only the lines that are not are read as GB18030, with one warning naming them (a UTF-8
// roster with GBK lines pasted in). UTF-16 is refused.
// Line ends LF, CRLF or CR; blank lines are skipped but counted. Fields are separated by ',', trimmed of
// spaces and tabs; a field may be quoted ("...") to hold commas, with "" for a quote; a quoted field cannot
// span lines. Line numbers count physical lines from 1 (the header is usually line 1).
//
// Fields: id [A-Za-z0-9_.-]{1,64}; name non-empty, <= kMaxNameBytes, no control characters; mobile, see
// normaliseMobile; roles and groups ';'-separated names [a-z0-9-]{1,64} (spaces around items and empty items
// ignored, at most kMaxListItems); admin_code 6 or 12 digits not starting "00", or empty; deputy and superior
// a person id or empty (whether it names another person is RosterStore::check()'s job: it may be in the
// store already).
// A bad line yields one problem "source: line N: field=value: reason" for its first bad field (order as
// above, after a line-level problem such as a wrong number of fields) and is skipped. A repeated id or
// mobile (after normalisation) is an error on the later line. Cost: linear in the input.
RosterParse parseRosterCsv(std::string_view bytes, std::string_view source, const RosterOptions& options = {});

// Mobile number -> normalised E.164, or "" if it is not a mobile number. Spaces and hyphens inside are
// ignored. Chinese mobiles: 11 digits 1[3-9]xxxxxxxxx, optionally after "+86", "0086" or "86" -> "+86" + 11
// digits ("+86" followed by anything else, e.g. a landline, is refused). Other countries: "+" and 7..15
// digits, the first not 0, kept as is. Everything else ("12345", "0574-87654321", "00441234567") is refused.
std::string normaliseMobile(std::string_view text);

bool isPersonId(std::string_view s);  // [A-Za-z0-9_.-]{1,64}
bool isName(std::string_view s);      // role or group name: [a-z0-9-]{1,64}
bool isAdminCode(std::string_view s); // 6 or 12 ASCII digits, not starting "00"

// A GB/T 2260 code padded to 12 digits ("330212" -> "330212000000"), or "" if !isAdminCode. Stores keep
// this form so that "is in the subtree of prefix P" is a range scan: P <= padded < P + ":".
std::string paddedAdminCode(std::string_view code);

// True if `personCode` (6 or 12 digits) lies in the subtree whose adminPrefix (model/facts.h) is `prefix`.
// A 6-digit code stands for the county-level unit itself: it lies under "3302" and "330212", not under
// "330212001" (a township of 330212).
bool inAdminSubtree(std::string_view personCode, std::string_view prefix);

// What a delivery "sms:<target>" names. Grammar (ASCII, no spaces; a leading "sms:" is stripped):
//   target    = group | selection
//   group     = name                          every member of the group, e.g. "flood-duty-officers"
//   selection = (name | "*") "@" admin-code   every person having that role ("*": any person, roles or
//                                             not) whose admin_code lies in the code's subtree, e.g.
//                                             "township-flood-chief@330212", "*@330281"
//   name      = [a-z0-9-]{1,64}
//   admin-code= 6 or 12 digits, not starting "00"
// Subtree (GB/T 2260): the code's adminPrefix (model/facts.h) after stripping the all-zero levels:
// 330000 -> "33" (province), 330200 -> "3302" (city), 330212 -> "330212" (county), 330212001000 ->
// "330212001" (township), 330212001002 -> itself (village). A person is under it if their admin_code,
// padded to 12 digits, starts with that prefix.
struct Target {
  enum class Kind { invalid, group, selection };
  Kind kind = Kind::invalid;
  std::string text;         // the target as given, without "sms:"
  std::string group;        // Kind::group: the group name
  std::string role;         // Kind::selection: the role name, or "*" for every person under the code
  std::string adminCode;    // Kind::selection: the code as written
  std::string adminPrefix;  // Kind::selection: adminPrefix(adminCode), e.g. "3302"
  std::string error;        // Kind::invalid: one line naming the target and what is wrong
  bool ok() const { return kind != Kind::invalid; }
};

// Never throws; an invalid target has kind invalid and `error` set, e.g.
// "target 'Flood Duty': a group name is [a-z0-9-]{1,64} (or use <role>@<admin code>)".
Target parseTarget(std::string_view text);

}  // namespace alertbus::sms
