// See roster_store.h. Tables (all WITHOUT ROWID, keyed so that each lookup of the outlet is one range scan
// of one b-tree, without a join or a sort in SQLite):
//   roster_person(id PK, ..., admin12)               admin12 = admin_code padded to 12 digits ("" if none);
//                                                    indexes (mobile) for replies, (admin12, name, mobile) for "*@code"
//   roster_role(role, admin12, person_id, name, mobile)  PK (role, admin12, person_id): "role@code"
//   roster_group(grp, person_id, name, mobile)       PK (grp, person_id): a group, already in id order
// name and mobile are repeated in the role and group rows (covering: resolve never visits roster_person), and
// roles_list / groups_list on the person repeat its roles and groups (';'-joined, sorted) so an import can tell
// an unchanged person without reading the other tables. Every write of a person rewrites its role and group
// rows in the same transaction, so the copies cannot drift.
#include "outlets/sms/roster_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "model/facts.h"
#include "model/validate.h"

namespace alertbus::sms {

namespace {

struct Stmt {
  sqlite3_stmt* s = nullptr;
  sqlite3* db;
  const std::string& path;
  Stmt(sqlite3* d, const char* sql, const std::string& p) : db(d), path(p) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(path + ": " + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s, i, v);
    return *this;
  }
  // True for a row, false when done; throws on errors.
  bool step() {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(path + ": " + sqlite3_errmsg(db));
  }
  void run() {
    step();
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  void reset() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, col))) : std::string();
  }
};

std::string joinList(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : ";") + x;
  return s;
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> v;
  size_t i = 0;
  while (i < s.size()) {
    size_t e = s.find(';', i);
    if (e == std::string::npos) e = s.size();
    if (e > i) v.push_back(s.substr(i, e - i));
    i = e + 1;
  }
  return v;
}

// Upper bound of the admin12 range of a prefix: digits sort before ':'.
std::string prefixEnd(const std::string& prefix) { return prefix + ":"; }

constexpr const char* kPersonColumns =
    "id, name, mobile, admin_code, roles_list, groups_list, deputy, superior, language";

Person personFrom(const Stmt& q) {
  Person p;
  p.id = q.text(0);
  p.name = q.text(1);
  p.mobile = q.text(2);
  p.adminCode = q.text(3);
  p.roles = splitList(q.text(4));
  p.groups = splitList(q.text(5));
  p.deputy = q.text(6);
  p.superior = q.text(7);
  p.language = q.text(8);
  return p;
}

}  // namespace

struct RosterStore::Row {
  std::string name, mobile, adminCode, roles, groups, deputy, superior, language;
  bool operator==(const Row& o) const {
    return name == o.name && mobile == o.mobile && adminCode == o.adminCode && roles == o.roles &&
           groups == o.groups && deputy == o.deputy && superior == o.superior && language == o.language;
  }
};

RosterStore::RosterStore(const std::string& path) : path_(path.empty() ? ":memory:" : path) {
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path_ + ": cannot open: " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  char* err = nullptr;
  const char* schema =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16384;"
      "CREATE TABLE IF NOT EXISTS roster_person(id TEXT PRIMARY KEY, name TEXT NOT NULL, mobile TEXT NOT NULL,"
      " admin_code TEXT NOT NULL, admin12 TEXT NOT NULL, roles_list TEXT NOT NULL, groups_list TEXT NOT NULL,"
      " deputy TEXT NOT NULL, superior TEXT NOT NULL, language TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS roster_person_mobile ON roster_person(mobile);"
      "CREATE INDEX IF NOT EXISTS roster_person_admin ON roster_person(admin12, name, mobile);"
      "CREATE TABLE IF NOT EXISTS roster_role(role TEXT NOT NULL, admin12 TEXT NOT NULL, person_id TEXT NOT NULL,"
      " name TEXT NOT NULL, mobile TEXT NOT NULL, PRIMARY KEY(role, admin12, person_id)) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS roster_role_person ON roster_role(person_id);"
      "CREATE TABLE IF NOT EXISTS roster_group(grp TEXT NOT NULL, person_id TEXT NOT NULL, name TEXT NOT NULL,"
      " mobile TEXT NOT NULL, PRIMARY KEY(grp, person_id)) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS roster_group_person ON roster_group(person_id);";
  std::string msg;
  if (sqlite3_exec(db_, schema, nullptr, nullptr, &err) != SQLITE_OK) {
    msg = err ? err : "?";
    sqlite3_free(err);
  } else {
    // Rosters written before the language column get it (empty: the templates' default language). The
    // error when the column exists already is expected and ignored.
    sqlite3_exec(db_, "ALTER TABLE roster_person ADD COLUMN language TEXT NOT NULL DEFAULT ''", nullptr, nullptr,
                 nullptr);
    // A table of that name from something else would lack our columns.
    sqlite3_stmt* probe = nullptr;
    std::string sql = std::string("SELECT ") + kPersonColumns + ", admin12 FROM roster_person LIMIT 0";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &probe, nullptr) != SQLITE_OK) msg = sqlite3_errmsg(db_);
    sqlite3_finalize(probe);
  }
  if (!msg.empty()) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path_ + ": not an alertbus roster file: " + msg);
  }
}

RosterStore::~RosterStore() { sqlite3_close(db_); }

void RosterStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw std::runtime_error(path_ + ": " + msg);
  }
}

bool RosterStore::import(const RosterParse& parse, ImportMode mode, const ImportProgress& progress,
                         ImportReport& report) {
  report = ImportReport{};
  report.total = parse.people.size();
  if (!parse.complete) {
    report.error = "the roster file was refused as a whole (see its problems); nothing imported";
    return false;
  }
  if (mode == ImportMode::replace && parse.people.empty()) {
    report.error = "refusing to replace the roster with one without persons; nothing imported";
    return false;
  }
  exec("BEGIN IMMEDIATE");
  try {
    bool replace = mode == ImportMode::replace;
    if (replace)
      exec("CREATE TEMP TABLE IF NOT EXISTS roster_incoming(id TEXT PRIMARY KEY) WITHOUT ROWID;"
           "DELETE FROM temp.roster_incoming;");
    Stmt get(db_, "SELECT name, mobile, admin_code, roles_list, groups_list, deputy, superior, language "
                  "FROM roster_person WHERE id = ?", path_);
    Stmt put(db_, "INSERT OR REPLACE INTO roster_person(id, name, mobile, admin_code, admin12, roles_list, "
                  "groups_list, deputy, superior, language) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", path_);
    Stmt dropRoles(db_, "DELETE FROM roster_role WHERE person_id = ?", path_);
    Stmt dropGroups(db_, "DELETE FROM roster_group WHERE person_id = ?", path_);
    Stmt addRole(db_, "INSERT OR IGNORE INTO roster_role(role, admin12, person_id, name, mobile) "
                      "VALUES(?, ?, ?, ?, ?)", path_);
    Stmt addGroup(db_, "INSERT OR IGNORE INTO roster_group(grp, person_id, name, mobile) VALUES(?, ?, ?, ?)", path_);
    std::optional<Stmt> incoming;
    if (replace) incoming.emplace(db_, "INSERT OR IGNORE INTO temp.roster_incoming(id) VALUES(?)", path_);

    size_t done = 0;
    for (const Person& p : parse.people) {
      Row next{p.name, p.mobile, p.adminCode, joinList(p.roles), joinList(p.groups), p.deputy, p.superior,
               p.language};
      std::optional<Row> old;
      get.bind(1, p.id);
      if (get.step())
        old = Row{get.text(0), get.text(1), get.text(2), get.text(3), get.text(4), get.text(5), get.text(6),
                  get.text(7)};
      get.reset();
      if (old && mode == ImportMode::update) {  // columns the file lacks keep their stored values
        if (!parse.hasColumn(kColRoles)) next.roles = old->roles;
        if (!parse.hasColumn(kColAdminCode)) next.adminCode = old->adminCode;
        if (!parse.hasColumn(kColGroups)) next.groups = old->groups;
        if (!parse.hasColumn(kColDeputy)) next.deputy = old->deputy;
        if (!parse.hasColumn(kColSuperior)) next.superior = old->superior;
        if (!parse.hasColumn(kColLanguage)) next.language = old->language;
      }
      if (old && *old == next) {
        ++report.unchanged;
      } else {
        std::string admin12 = paddedAdminCode(next.adminCode);
        put.bind(1, p.id).bind(2, next.name).bind(3, next.mobile).bind(4, next.adminCode).bind(5, admin12);
        put.bind(6, next.roles).bind(7, next.groups).bind(8, next.deputy).bind(9, next.superior);
        put.bind(10, next.language).run();
        if (old) {
          dropRoles.bind(1, p.id).run();
          dropGroups.bind(1, p.id).run();
          ++report.updated;
        } else {
          ++report.added;
        }
        for (auto& role : splitList(next.roles))
          addRole.bind(1, role).bind(2, admin12).bind(3, p.id).bind(4, next.name).bind(5, next.mobile).run();
        for (auto& group : splitList(next.groups))
          addGroup.bind(1, group).bind(2, p.id).bind(3, next.name).bind(4, next.mobile).run();
      }
      if (replace) incoming->bind(1, p.id).run();
      ++done;
      if (progress && done % 1000 == 0 && done != report.total) progress(done, report.total);
    }

    if (replace) {
      Stmt known(db_, "SELECT 1 FROM roster_person WHERE id = ?", path_);
      for (auto& id : parse.rejectedIds) {
        known.bind(1, id);
        bool stored = known.step();
        known.reset();
        if (!stored) continue;
        incoming->bind(1, id).run();
        report.keptIds.push_back(id);
      }
      Stmt gone(db_, "SELECT id FROM roster_person WHERE id NOT IN (SELECT id FROM temp.roster_incoming) ORDER BY id",
                path_);
      while (gone.step()) report.removedIds.push_back(gone.text(0));
      for (auto& id : report.removedIds) {
        dropRoles.bind(1, id).run();
        dropGroups.bind(1, id).run();
      }
      exec("DELETE FROM roster_person WHERE id NOT IN (SELECT id FROM temp.roster_incoming);"
           "DELETE FROM temp.roster_incoming;");
      report.removed = report.removedIds.size();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  if (progress) progress(report.total, report.total);
  return true;
}

std::vector<std::string> RosterStore::check() {
  struct P {
    std::string id, name, deputy, superior, mobile;
    bool reachable;
  };
  std::vector<P> people;  // by id
  {
    Stmt q(db_, "SELECT id, name, deputy, superior, mobile, roles_list <> '' OR groups_list <> '' FROM roster_person "
                "ORDER BY id", path_);
    while (q.step())
      people.push_back(P{q.text(0), q.text(1), q.text(2), q.text(3), q.text(4), sqlite3_column_int(q.s, 5) != 0});
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < people.size(); ++i) index.emplace(people[i].id, i);
  auto who = [&](const P& p) { return "person " + p.id + " (" + p.name + ")"; };

  std::vector<std::string> out;
  for (auto& p : people)
    for (auto [ref, what] :
         {std::pair<const std::string*, const char*>{&p.deputy, "deputy"}, {&p.superior, "superior"}}) {
      if (ref->empty()) continue;
      if (*ref == p.id)
        out.push_back(who(p) + ": is their own " + what);
      else if (!index.count(*ref))
        out.push_back(who(p) + ": " + what + " '" + clipValue(*ref) + "' is not in the roster");
    }

  // Each person has at most one deputy and one superior: each chain kind is a functional graph, whose
  // cycles are found by walking from every unvisited person (linear).
  for (const char* what : {"deputy", "superior"}) {
    bool deputy = std::string(what) == "deputy";
    std::vector<int> state(people.size(), 0);  // 0 unvisited, 1 on the current walk, 2 finished
    std::vector<size_t> walk;
    auto next = [&](size_t i) -> size_t {
      const std::string& ref = deputy ? people[i].deputy : people[i].superior;
      if (ref.empty() || ref == people[i].id) return SIZE_MAX;  // own deputy/superior: reported above
      auto it = index.find(ref);
      return it == index.end() ? SIZE_MAX : it->second;
    };
    for (size_t start = 0; start < people.size(); ++start) {
      walk.clear();
      size_t v = start;
      while (v != SIZE_MAX && state[v] == 0) {
        state[v] = 1;
        walk.push_back(v);
        v = next(v);
      }
      if (v != SIZE_MAX && state[v] == 1) {
        auto from = std::find(walk.begin(), walk.end(), v);
        std::vector<size_t> cycle(from, walk.end());
        std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());  // smallest id first
        std::string s = std::string(what) + " cycle: ";
        for (size_t i : cycle) s += people[i].id + " -> ";
        out.push_back(s + people[cycle.front()].id);
      }
      for (size_t i : walk) state[i] = 2;
    }
  }

  for (auto& p : people)
    if (!p.reachable) out.push_back(who(p) + ": in no group and has no role: no target reaches them");

  std::map<std::string, std::vector<std::string>> byMobile;
  for (auto& p : people) byMobile[p.mobile].push_back(p.id);
  for (auto& [mobile, ids] : byMobile) {
    if (ids.size() < 2) continue;
    std::string s = "mobile " + mobile + " is shared by ";
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + ids[i];
    out.push_back(s);
  }
  return out;
}

std::vector<Person> RosterStore::list(const ListFilter& f) {
  std::string sql = std::string("SELECT ") + kPersonColumns + " FROM roster_person WHERE 1";
  std::string prefix;
  if (!f.group.empty()) sql += " AND id IN (SELECT person_id FROM roster_group WHERE grp = :group)";
  if (!f.role.empty()) sql += " AND id IN (SELECT person_id FROM roster_role WHERE role = :role)";
  if (!f.adminCode.empty()) {
    if (!isAdminCode(f.adminCode))
      throw std::invalid_argument("admin code '" + clipValue(f.adminCode) +
                                  "': a GB/T 2260 code is 6 or 12 digits, not starting 00");
    prefix = adminPrefix(f.adminCode);
    sql += " AND admin12 >= :lo AND admin12 < :hi";
  }
  if (!f.text.empty()) sql += " AND (instr(id, :text) OR instr(name, :text) OR instr(mobile, :text))";
  sql += " ORDER BY id";
  if (f.limit) sql += " LIMIT :limit";
  Stmt q(db_, sql.c_str(), path_);
  auto bindNamed = [&](const char* name, auto value) {
    int i = sqlite3_bind_parameter_index(q.s, name);
    if (i > 0) q.bind(i, value);
  };
  bindNamed(":group", std::string_view(f.group));
  bindNamed(":role", std::string_view(f.role));
  bindNamed(":lo", std::string_view(prefix));
  std::string hi = prefixEnd(prefix);
  bindNamed(":hi", std::string_view(hi));
  bindNamed(":text", std::string_view(f.text));
  bindNamed(":limit", static_cast<int64_t>(f.limit));
  std::vector<Person> out;
  while (q.step()) out.push_back(personFrom(q));
  return out;
}

Resolution RosterStore::resolve(const Target& t) {
  Resolution r;
  auto collect = [&](Stmt& q) {
    while (q.step()) r.recipients.push_back(Recipient{q.text(0), q.text(1), q.text(2)});
  };
  switch (t.kind) {
    case Target::Kind::invalid:
      r.error = t.error.empty() ? "invalid target" : t.error;
      break;
    case Target::Kind::group: {
      Stmt q(db_, "SELECT person_id, name, mobile FROM roster_group WHERE grp = ? ORDER BY person_id", path_);
      q.bind(1, t.group);
      collect(q);
      if (r.recipients.empty()) r.error = "unknown group '" + clipValue(t.group) + "'";
      break;
    }
    case Target::Kind::selection: {
      std::string hi = prefixEnd(t.adminPrefix);
      if (t.role == "*") {
        Stmt q(db_, "SELECT id, name, mobile FROM roster_person INDEXED BY roster_person_admin "
                    "WHERE admin12 >= ? AND admin12 < ?", path_);
        q.bind(1, t.adminPrefix).bind(2, hi);
        collect(q);
        break;
      }
      Stmt q(db_, "SELECT person_id, name, mobile FROM roster_role WHERE role = ? AND admin12 >= ? AND admin12 < ?",
             path_);
      q.bind(1, t.role).bind(2, t.adminPrefix).bind(3, hi);
      collect(q);
      if (r.recipients.empty()) {
        Stmt known(db_, "SELECT 1 FROM roster_role WHERE role = ? LIMIT 1", path_);
        known.bind(1, t.role);
        if (!known.step()) r.error = "unknown role '" + clipValue(t.role) + "'";
      }
      break;
    }
  }
  if (t.kind == Target::Kind::selection)  // index order is by code; sorting here beats a SQLite temp b-tree
    std::sort(r.recipients.begin(), r.recipients.end(),
              [](const Recipient& a, const Recipient& b) { return a.personId < b.personId; });
  return r;
}

std::vector<Person> RosterStore::byMobile(std::string_view mobile) {
  std::string m = normaliseMobile(mobile);
  if (m.empty()) return {};
  Stmt q(db_, (std::string("SELECT ") + kPersonColumns + " FROM roster_person WHERE mobile = ? ORDER BY id").c_str(),
         path_);
  q.bind(1, m);
  std::vector<Person> out;
  while (q.step()) out.push_back(personFrom(q));
  return out;
}

std::optional<Person> RosterStore::person(std::string_view personId) {
  Stmt q(db_, (std::string("SELECT ") + kPersonColumns + " FROM roster_person WHERE id = ?").c_str(), path_);
  q.bind(1, personId);
  if (!q.step()) return std::nullopt;
  return personFrom(q);
}

Escalation RosterStore::chain(std::string_view personId) {
  Escalation e;
  Stmt q(db_, "SELECT p.deputy, p.superior, d.id, d.name, d.mobile, s.id, s.name, s.mobile FROM roster_person p "
              "LEFT JOIN roster_person d ON d.id = p.deputy LEFT JOIN roster_person s ON s.id = p.superior "
              "WHERE p.id = ?", path_);
  q.bind(1, personId);
  if (!q.step()) return e;
  e.found = true;
  e.deputyId = q.text(0);
  e.superiorId = q.text(1);
  if (sqlite3_column_type(q.s, 2) != SQLITE_NULL) e.deputy = Recipient{q.text(2), q.text(3), q.text(4)};
  if (sqlite3_column_type(q.s, 5) != SQLITE_NULL) e.superior = Recipient{q.text(5), q.text(6), q.text(7)};
  return e;
}

std::map<std::string, std::string> RosterStore::languages() {
  std::map<std::string, std::string> out;
  Stmt q(db_, "SELECT id, language FROM roster_person WHERE language <> ''", path_);
  while (q.step()) out.emplace(q.text(0), q.text(1));
  return out;
}

std::vector<NameCount> RosterStore::groups() {
  Stmt q(db_, "SELECT grp, count(*) FROM roster_group GROUP BY grp ORDER BY grp", path_);
  std::vector<NameCount> out;
  while (q.step()) out.push_back(NameCount{q.text(0), static_cast<size_t>(sqlite3_column_int64(q.s, 1))});
  return out;
}

std::vector<NameCount> RosterStore::roles() {
  Stmt q(db_, "SELECT role, count(*) FROM roster_role GROUP BY role ORDER BY role", path_);
  std::vector<NameCount> out;
  while (q.step()) out.push_back(NameCount{q.text(0), static_cast<size_t>(sqlite3_column_int64(q.s, 1))});
  return out;
}

size_t RosterStore::size() {
  Stmt q(db_, "SELECT count(*) FROM roster_person", path_);
  q.step();
  return static_cast<size_t>(sqlite3_column_int64(q.s, 0));
}

}  // namespace alertbus::sms
