// See delivery_store.h. Schema:
//   alerts(key PK, ..., dirty)                 one per alert; dirty = summary to publish
//   deliveries(id PK, alert_id = alerts.rowid, person_id, ..., UNIQUE(alert_id, person_id))   the idempotency key
//   answers(id PK, alert_key, chain_root, delivery_id, mobile, text, received_ms)
//   escalations(alert_key, chain_root, wave, PK(alert_key, chain_root, wave))
#include "outlets/sms/delivery_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <cctype>
#include <set>
#include <stdexcept>

namespace alertbus::sms {

namespace {

constexpr int64_t kFormat = 5;  // PRAGMA user_version of the file this code writes

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, const std::string& path) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw std::runtime_error(path + ": " + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // The bytes must stay valid until the statement is stepped (no copy: the fan-out's hot loop).
  Stmt& bindStatic(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  bool row() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return false;
  }
  void run() {
    row();
    sqlite3_reset(s_);
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  std::string text(int c) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

// A transaction that rolls back unless committed (exceptions leave the store unchanged).
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) { check(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr)); }
  ~Txn() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    check(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr));
    done_ = true;
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  bool done_ = false;
};

const char* kStateNames[] = {"queued", "submitted", "accepted", "delivered", "failed", "expired", "cancelled"};

DeliveryState stateFrom(const std::string& s) {
  for (int i = 0; i < 7; ++i)
    if (s == kStateNames[i]) return static_cast<DeliveryState>(i);
  return DeliveryState::failed;
}

DeliveryRow readRow(Stmt& q) {
  DeliveryRow r;
  r.id = q.i64(0);
  r.alertKey = q.text(1);
  r.personId = q.text(2);
  r.mobile = q.text(3);
  r.chainRoot = q.text(4);
  r.wave = static_cast<int>(q.i64(5));
  r.state = stateFrom(q.text(6));
  r.attempts = static_cast<int>(q.i64(7));
  r.nextAttemptMs = q.i64(8);
  r.queuedMs = q.i64(9);
  r.submittedMs = q.i64(10);
  r.acceptedMs = q.i64(11);
  r.finalMs = q.i64(12);
  r.detail = q.text(13);
  return r;
}

constexpr const char* kRowColumns =
    "id, (SELECT key FROM alerts WHERE rowid = alert_id), person_id, mobile, CASE WHEN chain_root = '' THEN person_id ELSE chain_root END, wave, state,"
    " attempts, next_attempt_ms, queued_ms, "
    "submitted_ms, accepted_ms, final_ms, detail";

}  // namespace

const char* stateName(DeliveryState s) { return kStateNames[static_cast<int>(s)]; }

DeliveryStore::DeliveryStore(const std::string& path) : path_(path.empty() ? ":memory:" : path) {
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error(path_ + ": cannot open: " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    checkFormat();
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
         "CREATE TABLE IF NOT EXISTS alerts(key TEXT PRIMARY KEY, broker_seq INTEGER, sender TEXT, message_id TEXT,"
         " msg_type TEXT, event TEXT, priority INTEGER, expires_ms INTEGER, answer_deadline_ms INTEGER,"
         " answer_code TEXT, text TEXT, max_parts INTEGER, cancelled INTEGER DEFAULT 0, created_ms INTEGER,"
         " dirty INTEGER DEFAULT 1, reminder_text TEXT DEFAULT '', status TEXT NOT NULL);"
         "CREATE INDEX IF NOT EXISTS alerts_open ON alerts(answer_deadline_ms);"
         "CREATE INDEX IF NOT EXISTS alerts_seq ON alerts(broker_seq);"
         "CREATE TABLE IF NOT EXISTS deliveries(id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, person_id TEXT NOT NULL,"
         " mobile TEXT NOT NULL, chain_root TEXT NOT NULL, wave INTEGER NOT NULL, state TEXT NOT NULL,"
         " priority INTEGER NOT NULL, attempts INTEGER DEFAULT 0, next_attempt_ms INTEGER DEFAULT 0,"
         " queued_ms INTEGER, submitted_ms INTEGER DEFAULT 0, accepted_ms INTEGER DEFAULT 0, final_ms INTEGER DEFAULT 0,"
         " detail TEXT DEFAULT '', lang TEXT DEFAULT '', UNIQUE(alert_id, person_id));"
         "DROP INDEX IF EXISTS deliveries_queue;"
         "CREATE TABLE IF NOT EXISTS answers(id INTEGER PRIMARY KEY, alert_key TEXT, chain_root TEXT, delivery_id INTEGER,"
         " published INTEGER DEFAULT 0, person_id TEXT DEFAULT '',"
         " mobile TEXT, text TEXT, received_ms INTEGER);"
         "CREATE INDEX IF NOT EXISTS answers_chain ON answers(alert_key, chain_root);"
         "CREATE TABLE IF NOT EXISTS escalations(alert_key TEXT, chain_root TEXT, wave INTEGER, created_ms INTEGER,"
         " PRIMARY KEY(alert_key, chain_root, wave));"
         "CREATE TABLE IF NOT EXISTS alert_texts(alert_id INTEGER, lang TEXT, text TEXT, reminder TEXT,"
         " PRIMARY KEY(alert_id, lang));"
         "PRAGMA user_version = 5;");
  } catch (const std::exception& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path_ + ": not an alertbus SMS outlet state file: " + e.what());
  }
  loadQueue();
}

void DeliveryStore::checkFormat() {
  // Format 5: deliveries refer to alerts by rowid, carry a language; answers remember whether their ack was
  // published; alert_texts holds the texts in other languages; alerts keep their message status (format 4 had
  // none: its acks and summaries could only say actual, so it is not read as if its drills were real). A file of
  // another format is refused with its name rather than misread.
  Stmt v(db_, "PRAGMA user_version", path_);
  int64_t version = v.row() ? v.i64(0) : 0;
  Stmt t(db_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'deliveries'", path_);
  bool exists = t.row() && t.i64(0) > 0;
  if (exists && version != kFormat)
    throw std::runtime_error("format " + std::to_string(version) + ", this alertbus-sms reads format " +
                             std::to_string(kFormat) + ": it was written by another version of alertbus-sms; move it away once its alerts are over");
}

void DeliveryStore::loadQueue() {
  queue_.clear();
  Stmt q(db_, "SELECT priority, next_attempt_ms, id FROM deliveries WHERE state = 'queued'", path_);
  while (q.row()) queue_.emplace(static_cast<int>(q.i64(0)), q.i64(1), q.i64(2));
}

DeliveryStore::~DeliveryStore() {
  if (db_) sqlite3_close(db_);
}

void DeliveryStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(path_ + ": " + msg);
  }
}

FanOutResult DeliveryStore::fanOut(const AlertRow& a, const std::vector<Addressee>& recipients, int64_t nowMs) {
  if (a.status.empty()) throw std::invalid_argument("alert " + a.key + ": status is required (AlertRow::status)");
  std::lock_guard<std::mutex> lock(mu_);
  FanOutResult r;
  Txn txn(db_);
  {
    Stmt q(db_, "SELECT 1 FROM alerts WHERE key = ?", path_);
    q.bind(1, a.key);
    r.alertExisted = q.row();
  }
  if (!r.alertExisted) {
    Stmt ins(db_,
             "INSERT INTO alerts(key, broker_seq, sender, message_id, msg_type, event, priority, expires_ms,"
             " answer_deadline_ms, answer_code, text, max_parts, cancelled, created_ms, reminder_text, status)"
             " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
             path_);
    ins.bind(1, a.key).bind(2, static_cast<int64_t>(a.brokerSeq)).bind(3, a.sender).bind(4, a.messageId);
    ins.bind(5, a.msgType).bind(6, a.event).bind(7, int64_t(a.priority)).bind(8, a.expiresMs);
    ins.bind(9, a.answerDeadlineMs).bind(10, a.answerCode).bind(11, a.text).bind(12, int64_t(a.maxParts));
    ins.bind(13, int64_t(a.cancelled ? 1 : 0)).bind(14, nowMs).bind(15, a.reminderText).bind(16, a.status);
    ins.run();
    int64_t id = sqlite3_last_insert_rowid(db_);
    Stmt tx(db_, "INSERT OR REPLACE INTO alert_texts(alert_id, lang, text, reminder) VALUES(?,?,?,?)", path_);
    for (auto& [lang, t] : a.texts) {
      tx.bind(1, id).bind(2, lang).bind(3, t.first).bind(4, t.second);
      tx.run();
    }
  }
  int64_t priority = a.priority, alertId = 0;
  {
    Stmt p(db_, "SELECT priority, rowid FROM alerts WHERE key = ?", path_);
    p.bind(1, a.key);
    if (p.row()) priority = p.i64(0), alertId = p.i64(1);
  }
  std::vector<std::tuple<int, int64_t, int64_t>> added;  // to the in-memory queue once committed
  static const std::string kEmpty;
  // One prepared statement reused for every row: the 43,000-row fan-out is one transaction of inserts.
  Stmt ins(db_,
           "INSERT OR IGNORE INTO deliveries(alert_id, person_id, mobile, chain_root, wave, state, priority,"
           " queued_ms, next_attempt_ms, lang) VALUES(?,?,?,?,?,'queued',?,?,?,?)",
           path_);
  for (auto& rc : recipients) {
    ins.bind(1, alertId).bindStatic(2, rc.personId).bindStatic(3, rc.mobile);
    // '' = the person's own chain (wave 0): most rows, so most bytes saved; queries read it back as person_id.
    ins.bindStatic(4, rc.chainRoot == rc.personId ? kEmpty : rc.chainRoot);
    ins.bind(5, int64_t(rc.wave)).bind(6, priority).bind(7, nowMs).bind(8, nowMs).bindStatic(9, rc.language);
    ins.run();
    if (sqlite3_changes(db_) > 0) {
      ++r.inserted;
      added.emplace_back(static_cast<int>(priority), nowMs, sqlite3_last_insert_rowid(db_));
    } else {
      ++r.existing;
    }
  }
  {
    Stmt d(db_, "UPDATE alerts SET dirty = dirty + 1 WHERE key = ?", path_);
    d.bind(1, a.key);
    d.run();
  }
  txn.commit();
  queue_.insert(added.begin(), added.end());
  return r;
}

std::optional<AlertRow> DeliveryStore::alert(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return alertWhere("key = ?", [&](Stmt& q) { q.bind(1, key); });
}

std::optional<AlertRow> DeliveryStore::alertBySeq(uint64_t brokerSeq) {
  std::lock_guard<std::mutex> lock(mu_);
  return alertWhere("broker_seq = ? ORDER BY rowid LIMIT 1",
                    [&](Stmt& q) { q.bind(1, static_cast<int64_t>(brokerSeq)); });
}

template <typename Bind>
std::optional<AlertRow> DeliveryStore::alertWhere(const char* where, Bind&& bind) {
  const std::string sql = std::string(
                              "SELECT key, broker_seq, sender, message_id, msg_type, event, priority, expires_ms,"
                              " answer_deadline_ms, answer_code, text, max_parts, cancelled, created_ms, reminder_text,"
                              " status FROM alerts WHERE ") + where;
  Stmt q(db_, sql.c_str(), path_);
  bind(q);
  if (!q.row()) return std::nullopt;
  AlertRow a;
  a.key = q.text(0);
  a.brokerSeq = static_cast<uint64_t>(q.i64(1));
  a.sender = q.text(2);
  a.messageId = q.text(3);
  a.msgType = q.text(4);
  a.event = q.text(5);
  a.priority = static_cast<int>(q.i64(6));
  a.expiresMs = q.i64(7);
  a.answerDeadlineMs = q.i64(8);
  a.answerCode = q.text(9);
  a.text = q.text(10);
  a.maxParts = static_cast<int>(q.i64(11));
  a.cancelled = q.i64(12) != 0;
  a.createdMs = q.i64(13);
  a.reminderText = q.text(14);
  a.status = q.text(15);
  return a;
}

std::string DeliveryStore::freeAnswerCode(int digits, uint64_t seed, int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> used;
  Stmt q(db_, "SELECT answer_code FROM alerts WHERE answer_code != '' AND cancelled = 0 AND answer_deadline_ms >= ?",
         path_);
  // Codes stay reserved for a day past their deadline: late replies must still find their alert.
  q.bind(1, nowMs - 24 * 3600 * 1000LL);
  while (q.row()) used.insert(q.text(0));
  uint64_t space = 1;
  for (int i = 0; i < digits; ++i) space *= 10;
  uint64_t x = seed;
  for (uint64_t tries = 0; tries < space; ++tries) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG step: spreads codes, deterministic
    uint64_t v = (x >> 33) % space;
    std::string code = std::to_string(v);
    code.insert(code.begin(), static_cast<size_t>(digits) - code.size(), '0');
    if (code[0] == '0') continue;  // "0123" reads badly and some phones drop the zero
    if (!used.count(code)) return code;
  }
  throw std::runtime_error("no free " + std::to_string(digits) + "-digit answer code: too many open alerts");
}

std::vector<Addressee> DeliveryStore::cancel(const std::string& alertKey, int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  withdrawLocked(alertKey, nowMs);
  std::vector<Addressee> out = reachedLocked(alertKey, false);
  for (auto& r : out) {
    r.wave = 0;  // the cancel addresses each person directly
    r.chainRoot.clear();
  }
  txn.commit();
  return out;
}

void DeliveryStore::withdrawLocked(const std::string& alertKey, int64_t nowMs) {
  {
    // Every withdrawal is a change for the summaries (a second cancel marks the alert changed again).
    Stmt u(db_, "UPDATE alerts SET cancelled = 1, dirty = dirty + 1 WHERE key = ?", path_);
    u.bind(1, alertKey);
    u.run();
  }
  Stmt u(db_, "UPDATE deliveries SET state = 'cancelled', final_ms = ? WHERE alert_id = (SELECT rowid FROM alerts"
              " WHERE key = ?) AND state = 'queued'",
         path_);
  u.bind(1, nowMs).bind(2, alertKey);
  u.run();
}

std::vector<Addressee> DeliveryStore::reached(const std::string& alertKey, bool queuedToo) {
  std::lock_guard<std::mutex> lock(mu_);
  return reachedLocked(alertKey, queuedToo);
}

std::vector<Addressee> DeliveryStore::reachedLocked(const std::string& alertKey, bool queuedToo) {
  std::vector<Addressee> out;
  Stmt q(db_,
         queuedToo ? "SELECT person_id, mobile, wave, chain_root FROM deliveries WHERE alert_id = (SELECT rowid"
                     " FROM alerts WHERE key = ?) AND state IN ('queued', 'submitted', 'accepted', 'delivered')"
                     " ORDER BY id"
                   : "SELECT person_id, mobile, wave, chain_root FROM deliveries WHERE alert_id = (SELECT rowid"
                     " FROM alerts WHERE key = ?) AND state IN ('submitted', 'accepted', 'delivered') ORDER BY id",
         path_);
  q.bind(1, alertKey);
  while (q.row()) {
    Addressee r;
    r.personId = q.text(0);
    r.mobile = q.text(1);
    r.wave = static_cast<int>(q.i64(2));
    r.chainRoot = q.text(3);
    out.push_back(r);
  }
  return out;
}

void DeliveryStore::supersede(const std::string& originalKey, const std::string& updateKey, int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  withdrawLocked(originalKey, nowMs);
  {
    // Carried answers are marked published: their acks went out for the original already.
    Stmt u(db_,
           "INSERT INTO answers(alert_key, chain_root, delivery_id, published, person_id, mobile, text, received_ms)"
           " SELECT ?1, a.chain_root, a.delivery_id, 1, a.person_id, a.mobile, a.text, a.received_ms FROM answers a"
           " WHERE a.alert_key = ?2 AND NOT EXISTS (SELECT 1 FROM answers x WHERE x.alert_key = ?1"
           " AND x.chain_root = a.chain_root AND x.delivery_id = a.delivery_id)",
           path_);
    u.bind(1, updateKey).bind(2, originalKey);
    u.run();
  }
  {
    Stmt u(db_,
           "INSERT OR IGNORE INTO escalations(alert_key, chain_root, wave, created_ms)"
           " SELECT ?1, chain_root, wave, created_ms FROM escalations WHERE alert_key = ?2",
           path_);
    u.bind(1, updateKey).bind(2, originalKey);
    u.run();
  }
  txn.commit();
}

std::vector<DeliveryStore::Claim> DeliveryStore::claim(size_t max, int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  std::vector<Claim> out;
  // Settle what must not be sent any more: rows of cancelled or expired alerts still queued.
  {
    Stmt u(db_,
           "UPDATE deliveries SET state = CASE WHEN (SELECT cancelled FROM alerts WHERE rowid = alert_id) = 1"
           " THEN 'cancelled' ELSE 'expired' END, final_ms = ?1 WHERE state = 'queued' AND alert_id IN"
           " (SELECT rowid FROM alerts WHERE cancelled = 1 OR (expires_ms > 0 AND expires_ms <= ?1))",
           path_);
    u.bind(1, nowMs);
    u.run();
  }
  // Due entries, urgent first: within a priority the set is ordered by due time, so the first entry of
  // each priority tells whether any of that priority is due.
  Stmt q(db_, (std::string("SELECT ") + kRowColumns + " FROM deliveries WHERE id = ?").c_str(), path_);
  std::vector<DeliveryRow> rows;
  std::vector<std::tuple<int, int64_t, int64_t>> taken;
  for (int priority : {0, 1}) {
    auto it = queue_.lower_bound({priority, INT64_MIN, INT64_MIN});
    while (rows.size() < max && it != queue_.end() && std::get<0>(*it) == priority && std::get<1>(*it) <= nowMs) {
      taken.push_back(*it);
      q.bind(1, std::get<2>(*it));
      if (q.row()) {
        DeliveryRow r = readRow(q);
        if (r.state == DeliveryState::queued && r.nextAttemptMs <= nowMs) rows.push_back(std::move(r));
      }
      q.reset();
      ++it;
    }
  }
  Stmt u(db_, "UPDATE deliveries SET state = 'submitted', attempts = attempts + 1, submitted_ms = ? WHERE id = ?",
         path_);
  Stmt t(db_, "SELECT text, max_parts, reminder_text FROM alerts WHERE key = ?", path_);
  Stmt lt(db_,
          "SELECT x.text, x.reminder FROM alert_texts x JOIN deliveries d ON d.alert_id = x.alert_id AND d.lang = x.lang"
          " WHERE d.id = ?",
          path_);
  for (auto& r : rows) {
    u.bind(1, nowMs).bind(2, r.id);
    u.run();
    r.state = DeliveryState::submitted;
    ++r.attempts;
    r.submittedMs = nowMs;
    t.bind(1, r.alertKey);
    Claim c;
    c.row = r;
    if (t.row()) {
      c.text = t.text(0);
      c.maxParts = static_cast<int>(t.i64(1));
      // Escalation waves get the reminder ("X has not answered ...") when there is one.
      std::string reminder = t.text(2);
      if (r.wave > 0 && !reminder.empty()) c.text = reminder;
    }
    t.reset();
    lt.bind(1, r.id);
    if (lt.row()) {  // the recipient's language, when the alert has a text in it
      std::string text = lt.text(0), reminder = lt.text(1);
      c.text = r.wave > 0 && !reminder.empty() ? reminder : text;
    }
    lt.reset();
    out.push_back(std::move(c));
  }
  txn.commit();
  for (auto& e : taken) queue_.erase(e);  // claimed, or no longer queued (settled, cancelled)
  return out;
}

size_t DeliveryStore::recoverInFlight(int64_t nowMs, int64_t graceMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt u(db_, "UPDATE deliveries SET state = 'queued', next_attempt_ms = ?, detail = 'in doubt after restart'"
              " WHERE state = 'submitted'",
         path_);
  u.bind(1, nowMs + graceMs);
  u.run();
  size_t n = static_cast<size_t>(sqlite3_changes(db_));
  loadQueue();
  return n;
}

void DeliveryStore::markAccepted(int64_t id, const std::string& detail, int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  // A report may overtake the gateway's answer: never move a final row back.
  Stmt u(db_, "UPDATE deliveries SET state = 'accepted', accepted_ms = ?, detail = ? WHERE id = ? AND"
              " (state = 'submitted' OR (state = 'queued' AND attempts > 0))",
         path_);
  u.bind(1, nowMs).bind(2, detail).bind(3, id);
  u.run();
}

void DeliveryStore::markRetry(int64_t id, const std::string& detail, int64_t retryAtMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt u(db_, "UPDATE deliveries SET state = 'queued', next_attempt_ms = ?, detail = ? WHERE id = ? AND state = 'submitted'",
         path_);
  u.bind(1, retryAtMs).bind(2, detail).bind(3, id);
  u.run();
  if (sqlite3_changes(db_) == 0) return;
  Stmt p(db_, "SELECT priority FROM deliveries WHERE id = ?", path_);
  p.bind(1, id);
  if (p.row()) queue_.emplace(static_cast<int>(p.i64(0)), retryAtMs, id);
}

void DeliveryStore::markFinal(int64_t id, DeliveryState s, const std::string& detail, int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  Stmt u(db_,
         "UPDATE deliveries SET state = ?, final_ms = ?, detail = ? WHERE id = ? AND (state IN ('submitted', 'accepted')"
         " OR (state = 'queued' AND attempts > 0))",
         path_);
  u.bind(1, std::string(stateName(s))).bind(2, nowMs).bind(3, detail).bind(4, id);
  u.run();
  Stmt d(db_, "UPDATE alerts SET dirty = dirty + 1 WHERE rowid = (SELECT alert_id FROM deliveries WHERE id = ?)", path_);
  d.bind(1, id);
  d.run();
  txn.commit();
}

void DeliveryStore::markFailed(int64_t id, const std::string& detail, int64_t nowMs) {
  markFinal(id, DeliveryState::failed, detail, nowMs);
}

void DeliveryStore::markDelivered(int64_t id, const std::string& detail, int64_t nowMs) {
  markFinal(id, DeliveryState::delivered, detail, nowMs);
}

std::optional<DeliveryRow> DeliveryStore::delivery(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, (std::string("SELECT ") + kRowColumns + " FROM deliveries WHERE id = ?").c_str(), path_);
  q.bind(1, id);
  if (!q.row()) return std::nullopt;
  return readRow(q);
}

DeliveryStore::AnswerMatch DeliveryStore::recordAnswer(const std::vector<std::string>& personIds,
                                                       const std::string& mobile, const std::string& text,
                                                       int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  AnswerMatch m;
  // Open alerts sent to these persons (any wave), newest first; answers are accepted for a day after the
  // deadline (late answers still count). Few alerts are open: each probes UNIQUE(alert_id, person_id).
  Stmt q(db_,
         "SELECT d.id, a.key, d.person_id, CASE WHEN d.chain_root = '' THEN d.person_id ELSE d.chain_root END,"
         " a.answer_code FROM alerts a JOIN deliveries d"
         " ON d.alert_id = a.rowid AND d.person_id = ? WHERE a.answer_code != '' AND a.cancelled = 0"
         " AND d.state IN ('submitted', 'accepted', 'delivered') AND a.answer_deadline_ms >= ? ORDER BY d.id DESC",
         path_);
  struct Candidate {
    int64_t id;
    std::string alertKey, personId, chainRoot, code;
  };
  std::vector<Candidate> cands;
  for (auto& pid : personIds) {
    q.bind(1, pid).bind(2, nowMs - 24 * 3600 * 1000LL);
    while (q.row()) cands.push_back({q.i64(0), q.text(1), q.text(2), q.text(3), q.text(4)});
    q.reset();
  }
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) { return a.id > b.id; });
  // The digits in the reply (a reply is "1234", "收到1234", "1234 已到岗" ...).
  std::string digits;
  for (char c : text)
    if (c >= '0' && c <= '9') digits += c;
  const Candidate* hit = nullptr;
  for (auto& c : cands)
    if (!digits.empty() && digits.find(c.code) != std::string::npos) {
      hit = &c;
      break;
    }
  if (!hit) {
    std::set<std::string> alerts;
    for (auto& c : cands) alerts.insert(c.alertKey);
    if (cands.empty()) {
      m.reason = personIds.empty() ? "unknown number" : "no open alert for this number";
    } else if (alerts.size() == 1) {
      hit = &cands.front();  // one open alert: any reply answers it
    } else {
      m.reason = "no answer code of the " + std::to_string(alerts.size()) + " open alerts in the reply";
    }
  }
  if (hit) {
    Stmt prior(db_, "SELECT 1 FROM answers WHERE alert_key = ? AND chain_root = ? LIMIT 1", path_);
    prior.bind(1, hit->alertKey).bind(2, hit->chainRoot);
    m.first = !prior.row();
    m.matched = true;
    m.alertKey = hit->alertKey;
    m.personId = hit->personId;
    m.deliveryId = hit->id;
    Stmt d(db_, "UPDATE alerts SET dirty = dirty + 1 WHERE key = ?", path_);
    d.bind(1, hit->alertKey);
    d.run();
  }
  // Unmatched replies are kept for the record but never published (published = 1 from the start).
  Stmt ins(db_,
           "INSERT INTO answers(alert_key, chain_root, delivery_id, mobile, text, received_ms, person_id, published)"
           " VALUES(?,?,?,?,?,?,?,?)",
           path_);
  ins.bind(1, hit ? hit->alertKey : std::string()).bind(2, hit ? hit->chainRoot : std::string());
  ins.bind(3, hit ? hit->id : int64_t(0)).bind(4, mobile).bind(5, text).bind(6, nowMs);
  ins.bind(7, hit ? hit->personId : std::string()).bind(8, int64_t(hit ? 0 : 1));
  ins.run();
  m.answerId = sqlite3_last_insert_rowid(db_);
  txn.commit();
  return m;
}

std::vector<DeliveryStore::PendingAnswer> DeliveryStore::unpublishedAnswers(size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PendingAnswer> out;
  Stmt q(db_,
         "SELECT id, alert_key, person_id, mobile, text, received_ms FROM answers WHERE published = 0 ORDER BY id"
         " LIMIT ?",
         path_);
  q.bind(1, static_cast<int64_t>(max));
  while (q.row()) out.push_back({q.i64(0), q.text(1), q.text(2), q.text(3), q.text(4), q.i64(5)});
  return out;
}

void DeliveryStore::markAnswersPublished(const std::vector<int64_t>& answerIds) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  Stmt u(db_, "UPDATE answers SET published = 1 WHERE id = ?", path_);
  for (int64_t id : answerIds) {
    u.bind(1, id);
    u.run();
  }
  txn.commit();
}

std::vector<DeliveryStore::Overdue> DeliveryStore::overdue(int64_t nowMs, int64_t waveMs, int maxWave, size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Overdue> out;
  Stmt q(db_,
         "SELECT a.key, d.person_id, a.answer_deadline_ms,"
         " (SELECT COALESCE(MAX(e.wave), 0) FROM escalations e WHERE e.alert_key = a.key AND"
         "  e.chain_root = d.person_id) AS cur"
         " FROM deliveries d JOIN alerts a ON a.rowid = d.alert_id"
         " WHERE d.wave = 0 AND a.cancelled = 0 AND a.answer_deadline_ms > 0 AND a.answer_deadline_ms <= ?1"
         " AND NOT EXISTS (SELECT 1 FROM answers x WHERE x.alert_key = a.key AND x.chain_root = d.person_id)",
         path_);
  q.bind(1, nowMs);
  while (q.row() && out.size() < max) {
    int cur = static_cast<int>(q.i64(3));
    if (cur >= maxWave) continue;
    if (q.i64(2) + cur * waveMs > nowMs) continue;
    out.push_back({q.text(0), q.text(1), cur + 1});
  }
  return out;
}

void DeliveryStore::noteEscalated(const std::string& alertKey, const std::string& chainRoot, int wave, int64_t nowMs) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt u(db_, "INSERT OR IGNORE INTO escalations(alert_key, chain_root, wave, created_ms) VALUES(?,?,?,?)", path_);
  u.bind(1, alertKey).bind(2, chainRoot).bind(3, int64_t(wave)).bind(4, nowMs);
  u.run();
  Stmt d(db_, "UPDATE alerts SET dirty = dirty + 1 WHERE key = ?", path_);
  d.bind(1, alertKey);
  d.run();
}

AlertSummary DeliveryStore::summary(const std::string& alertKey) {
  std::lock_guard<std::mutex> lock(mu_);
  AlertSummary s;
  s.key = alertKey;
  Stmt q(db_, "SELECT state, COUNT(*) FROM deliveries WHERE alert_id = (SELECT rowid FROM alerts WHERE key = ?)"
              " GROUP BY state",
         path_);
  q.bind(1, alertKey);
  while (q.row()) {
    size_t n = static_cast<size_t>(q.i64(1));
    s.recipients += n;
    switch (stateFrom(q.text(0))) {
      case DeliveryState::queued: s.queued = n; break;
      case DeliveryState::submitted: s.submitted = n; break;
      case DeliveryState::accepted: s.accepted = n; break;
      case DeliveryState::delivered: s.delivered = n; break;
      case DeliveryState::failed: s.failed = n; break;
      case DeliveryState::expired: s.expired = n; break;
      case DeliveryState::cancelled: s.cancelled = n; break;
    }
  }
  Stmt e(db_, "SELECT COUNT(*) FROM deliveries WHERE alert_id = (SELECT rowid FROM alerts WHERE key = ?) AND wave > 0",
         path_);
  e.bind(1, alertKey);
  if (e.row()) s.escalated = static_cast<size_t>(e.i64(0));
  Stmt a(db_, "SELECT COUNT(DISTINCT chain_root) FROM answers WHERE alert_key = ?", path_);
  a.bind(1, alertKey);
  if (a.row()) s.answered = static_cast<size_t>(a.i64(0));
  Stmt u(db_,
         "SELECT person_id FROM deliveries d WHERE alert_id = (SELECT rowid FROM alerts WHERE key = ?1) AND wave = 0"
         " AND NOT EXISTS (SELECT 1 FROM answers x"
         " WHERE x.alert_key = ?1 AND x.chain_root = d.person_id) ORDER BY person_id LIMIT 200",
         path_);
  u.bind(1, alertKey);
  while (u.row()) s.unanswered.push_back(u.text(0));
  return s;
}

std::vector<DeliveryStore::Changed> DeliveryStore::changedAlerts(size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Changed> out;
  Stmt q(db_, "SELECT key, dirty FROM alerts WHERE dirty > 0 ORDER BY rowid LIMIT ?", path_);
  q.bind(1, static_cast<int64_t>(max));
  while (q.row()) out.push_back({q.text(0), q.i64(1)});
  return out;
}

void DeliveryStore::markSummarised(const std::vector<Changed>& published) {
  std::lock_guard<std::mutex> lock(mu_);
  Txn txn(db_);
  // Only if nothing changed since it was read: a change in between keeps the alert for the next round.
  Stmt u(db_, "UPDATE alerts SET dirty = 0 WHERE key = ? AND dirty = ?", path_);
  for (auto& c : published) {
    u.bind(1, c.key).bind(2, c.change);
    u.run();
  }
  txn.commit();
}

std::vector<std::pair<std::string, uint64_t>> DeliveryStore::stateCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  Stmt q(db_, "SELECT state, COUNT(*) FROM deliveries GROUP BY state ORDER BY state", path_);
  while (q.row()) out.emplace_back(q.text(0), static_cast<uint64_t>(q.i64(1)));
  return out;
}

}  // namespace alertbus::sms
