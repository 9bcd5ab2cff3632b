// The duty roster of the SMS outlet in SQLite (WAL, synchronous=FULL): persons, their roles (with the
// padded admin code, so "role under a code" is one index range scan) and groups. An import is one
// transaction, so a reader (the outlet resolving a target while `alertbus-sms roster import` runs in another
// process) sees the old roster or the new one, never half of each. One RosterStore per thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "outlets/sms/roster.h"

struct sqlite3;

namespace alertbus::sms {

// Who one SMS goes to.
struct Recipient {
  std::string personId;
  std::string name;
  std::string mobile;  // normalised E.164 (Person::mobile)
};

enum class ImportMode {
  replace,  // the file is the whole roster: persons not in it are removed (except RosterParse::rejectedIds)
  update,   // upsert the file's persons; others stay; a column the file lacks keeps its stored values
};

struct ImportReport {
  size_t total = 0;       // persons in the parse
  size_t added = 0;       // not in the store before
  size_t updated = 0;     // in the store with other values
  size_t unchanged = 0;   // in the store with the same values (not rewritten)
  size_t removed = 0;     // replace only: stored persons not in the file
  std::vector<std::string> removedIds;  // sorted
  std::vector<std::string> keptIds;     // replace only: persons kept as stored because their line was refused
  std::string error;      // set when import() refused and changed nothing
};

// Progress of an import: `done` of `total` persons written. Called on the importing thread.
using ImportProgress = std::function<void(size_t done, size_t total)>;

struct Resolution {
  std::vector<Recipient> recipients;  // sorted by personId, no duplicates
  std::string error;                  // "" or one line: "unknown group 'x'", "unknown role 'x'", invalid target
  bool ok() const { return error.empty(); }
};

// Filter of list(); empty fields do not filter. All given fields must match.
struct ListFilter {
  std::string group;      // member of this group
  std::string role;       // has this role
  std::string adminCode;  // admin_code in this code's subtree (6 or 12 digits)
  std::string text;       // substring of id, name or mobile
  size_t limit = 0;       // at most this many persons (0 = all), by id
};

struct NameCount {
  std::string name;
  size_t members = 0;
};

// Escalation neighbours of one person. Ids are as stored even when they name nobody (then the Recipient is
// empty: check() reports it).
struct Escalation {
  bool found = false;  // the person is in the roster
  std::string deputyId, superiorId;
  std::optional<Recipient> deputy, superior;
};

class RosterStore {
 public:
  // path "" = in memory (tests, dry runs). Creates the schema if the file is new. Throws std::runtime_error
  // naming the file when it cannot be opened or holds other tables (not an alertbus roster file).
  explicit RosterStore(const std::string& path);
  ~RosterStore();
  RosterStore(const RosterStore&) = delete;
  RosterStore& operator=(const RosterStore&) = delete;

  // Writes `parse` in ONE transaction. Refuses (returns false, report.error set, nothing changed) a parse
  // that is not complete, and a replace with no persons (it would empty the roster). `progress` (may be
  // empty) is called every 1000 persons inside the transaction (keep it cheap; an exception from it rolls the
  // import back and propagates) and once after the commit with done == total. Throws std::runtime_error on
  // SQLite errors (the transaction is rolled back). Cost: ~O(n log n) in the persons of the file, plus
  // the stored persons for replace.
  bool import(const RosterParse& parse, ImportMode mode, const ImportProgress& progress, ImportReport& report);

  // Consistency problems of the stored roster, one line each, deterministic order:
  //   deputy/superior naming a person not in the roster; a person who is their own deputy/superior;
  //   cycles in the deputy chains and in the superior chains ("superior cycle: a -> b -> a"; escalation
  //   must not go round); persons in no group and with no role (no target reaches them); persons sharing
  //   a mobile (possible after update imports). Empty = fine.
  std::vector<std::string> check();

  // Persons matching `filter`, sorted by id, with roles and groups (line = 0). Throws std::invalid_argument
  // for a filter adminCode that is not 6 or 12 digits.
  std::vector<Person> list(const ListFilter& filter = {});

  // Recipients of a target (parseTarget), sorted by id. Unknown group, a role no person has, or an invalid
  // target: empty, with error. A valid selection nobody is under: empty, no error. Milliseconds for a
  // 43,000-person group (index scans; see roster_store_test).
  Resolution resolve(const Target& target);

  // Persons with this mobile (any form normaliseMobile takes), sorted by id: normally 0 or 1; more when
  // check() would report a shared mobile. To attribute an SMS reply, treat more than one as ambiguous.
  std::vector<Person> byMobile(std::string_view mobile);

  // Deputy and superior of a person, for escalation.
  Escalation chain(std::string_view personId);

  std::optional<Person> person(std::string_view personId);
  std::vector<NameCount> groups();  // every group with its member count, by name
  // person id -> language, for persons with a language set (most have none: the templates' default).
  std::map<std::string, std::string> languages();
  std::vector<NameCount> roles();   // every role with its holder count, by name
  size_t size();                    // persons

 private:
  struct Row;
  void exec(const char* sql);
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace alertbus::sms
