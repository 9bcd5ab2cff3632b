// The SMS outlet's durable state: one row per alert it was asked to deliver, one delivery row per
// (alert, recipient) — the idempotency key that makes fan-out exactly-once across crashes and broker
// redeliveries — the send queue (urgent first), delivery reports, answers (叫应) and escalation waves.
// SQLite (WAL, synchronous=FULL): a broker delivery is acknowledged only after fanOut() has committed.
//
// Threading: every method may be called from any thread; calls are serialised by one mutex around one
// connection (SMS rates are hundreds per second; the 43,000-row fan-out is one transaction).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

struct sqlite3;

namespace alertbus::sms {

enum class DeliveryState { queued, submitted, accepted, delivered, failed, expired, cancelled };
const char* stateName(DeliveryState s);

// What the outlet keeps of one alert (a broker delivery it fans out).
struct AlertRow {
  std::string key;              // "<sender>/<message id>": unique per alert (ids are unique per sender)
  uint64_t brokerSeq = 0;       // journal seq of the delivery that created it
  std::string sender, messageId;
  std::string msgType;          // "alert", "update", "cancel"
  std::string status;           // the message's status as named by model/facts statusName ("actual", "exercise",
                                // "test", ...): whatever the outlet publishes about this alert (acks, summaries)
                                // carries it, so a drill's answers never read as real ones. Required: fanOut
                                // throws std::invalid_argument when it is empty (a caller bug)
  std::string event;            // event code, for summaries
  int priority = 1;             // 0 = urgent (red/orange, Level I/II): overtakes routine (1) in the queue
  int64_t expiresMs = 0;        // 0 = never; queued rows of an expired alert are not sent
  int64_t answerDeadlineMs = 0; // 0 = no answer expected; unanswered by then -> escalation
  std::string answerCode;       // digits the recipient replies with, unique among open alerts
  std::string text;             // the rendered SMS text (zh-CN by default)
  std::string reminderText;     // the text escalation waves (deputy, superior) get; "" = `text`
  // Texts for recipients with another language (roster `language`): tag -> {text, reminderText}.
  std::map<std::string, std::pair<std::string, std::string>> texts;
  int maxParts = 4;
  bool cancelled = false;
  int64_t createdMs = 0;
};

// One person an alert goes to, and why: directly (wave 0) or by escalation of chainRoot's non-answer.
struct Addressee {
  std::string personId, name, mobile;
  int wave = 0;                 // 0 = addressed directly, 1 = deputy, 2 = superior (escalation)
  std::string chainRoot;        // the person whose non-answer started the chain ("" = self)
  std::string language;         // "" = the alert's default text; else a key of AlertRow::texts
};

struct DeliveryRow {
  int64_t id = 0;               // also the id sent to the gateway and echoed in delivery reports
  std::string alertKey, personId, mobile, chainRoot;
  int wave = 0;
  DeliveryState state = DeliveryState::queued;
  int attempts = 0;
  int64_t nextAttemptMs = 0, queuedMs = 0, submittedMs = 0, acceptedMs = 0, finalMs = 0;
  std::string detail;           // last gateway answer or failure reason
};

struct FanOutResult {
  size_t inserted = 0;          // new rows
  size_t existing = 0;          // rows already there (a redelivery after a crash): not queued twice
  bool alertExisted = false;
};

struct AlertSummary {
  std::string key;
  size_t recipients = 0, queued = 0, submitted = 0, accepted = 0, delivered = 0, failed = 0, expired = 0,
         cancelled = 0, answered = 0, escalated = 0;
  std::vector<std::string> unanswered;  // person ids addressed directly (wave 0) with no answer in their chain
};

class DeliveryStore {
 public:
  // Opens or creates the file ("" = in memory, for tests). Throws std::runtime_error naming the file.
  explicit DeliveryStore(const std::string& path);
  ~DeliveryStore();
  DeliveryStore(const DeliveryStore&) = delete;
  DeliveryStore& operator=(const DeliveryStore&) = delete;

  // Records the alert (first call wins: a redelivered alert keeps its row, answer code and text) and one
  // queued row per recipient not already there, in one transaction. Returns after the commit: only then
  // may the broker delivery be acknowledged. Recipients with the same person twice count once.
  FanOutResult fanOut(const AlertRow& alert, const std::vector<Addressee>& recipients, int64_t nowMs);

  std::optional<AlertRow> alert(const std::string& key);
  // The alert created by broker delivery `brokerSeq` (the seq an update or cancel follows), if any.
  std::optional<AlertRow> alertBySeq(uint64_t brokerSeq);
  // Everyone the alert went out to (submitted or later, escalation waves included), in send order,
  // each with the wave and chain the row had; with queuedToo also those still waiting for their turn
  // (an update replaces what they would have got).
  std::vector<Addressee> reached(const std::string& alertKey, bool queuedToo = false);
  // An update replaces `originalKey` by `updateKey` (whose fanOut() has committed): the original's queued
  // rows are withdrawn (cancelled, never sent) and it stops escalating; the answers its chains gave and
  // the escalation waves already done carry over to the update, so nobody who answered is asked again and
  // no deputy is woken twice. Idempotent (a redelivered update changes nothing more).
  void supersede(const std::string& originalKey, const std::string& updateKey, int64_t nowMs);
  // An answer code not used by any alert whose answers are still expected (answerDeadline + graceMs in
  // the future), `digits` long; deterministic given the open set and `seed`.
  std::string freeAnswerCode(int digits, uint64_t seed, int64_t nowMs);

  // Marks the alert cancelled: its queued rows become cancelled (never sent). Returns the recipients the
  // alert already went out to (submitted or later), who must get the cancel.
  std::vector<Addressee> cancel(const std::string& alertKey, int64_t nowMs);

  // Claims up to `max` rows due for sending (queued, nextAttempt <= now), urgent alerts first, then oldest;
  // claimed rows become submitted (attempts + 1). Rows of an expired or cancelled alert are settled
  // (expired / cancelled) instead of being claimed. Each claimed row comes with its alert's text.
  struct Claim {
    DeliveryRow row;
    std::string text;
    int maxParts = 4;
  };
  std::vector<Claim> claim(size_t max, int64_t nowMs);

  // At start: rows left `submitted` by a crash were handed to the gateway or not — nobody knows. They go
  // back to the queue, due after graceMs; a delivery report arriving meanwhile (the gateway had them)
  // settles them, so only rows the gateway never took are sent again. Returns how many.
  size_t recoverInFlight(int64_t nowMs, int64_t graceMs);

  // Gateway answers and reports. Each moves a row forward only (a report may overtake the HTTP answer);
  // reports also settle rows in doubt after a crash (queued again with attempts > 0).
  void markAccepted(int64_t id, const std::string& detail, int64_t nowMs);
  void markRetry(int64_t id, const std::string& detail, int64_t retryAtMs);  // back to queued
  void markFailed(int64_t id, const std::string& detail, int64_t nowMs);      // final
  void markDelivered(int64_t id, const std::string& detail, int64_t nowMs);   // final
  std::optional<DeliveryRow> delivery(int64_t id);

  // A reply from `mobile`, which the roster knows as `personIds` (usually one; empty = unknown number).
  // Matched to the open alert (answers still expected) whose answer code the text holds, sent to one of
  // those persons; or, without a code, to the single open alert they got. Returns the delivery answered
  // (matched = false with a reason otherwise) and stores the answer either way. (Persons come from the
  // roster rather than a mobile index on the deliveries: that index would cost a third of the fan-out.)
  struct AnswerMatch {
    bool matched = false;
    std::string alertKey, personId, reason;  // reason: why unmatched ("unknown number", "no open alert", ...)
    int64_t deliveryId = 0;
    int64_t answerId = 0;                     // the stored answer's row id (unique, durable: names its ack)
    bool first = false;                       // the first answer in this person's chain for this alert
  };
  AnswerMatch recordAnswer(const std::vector<std::string>& personIds, const std::string& mobile,
                           const std::string& text, int64_t nowMs);

  // Matched answers not yet handed to the broker as acks, oldest first (at most max). An answer stays
  // here until markAnswersPublished(): a crash between the reply and its ack loses nothing.
  struct PendingAnswer {
    int64_t answerId = 0;
    std::string alertKey, personId, mobile, text;
    int64_t receivedMs = 0;
  };
  std::vector<PendingAnswer> unpublishedAnswers(size_t max);
  void markAnswersPublished(const std::vector<int64_t>& answerIds);

  // Escalation (叫应 not answered): a chain is a direct recipient (wave 0) plus the deputy (wave 1) and
  // superior (wave 2) it escalates to. A chain is due for its next wave when its alert expects answers,
  // is not cancelled, nobody in the chain has answered, and answerDeadline + wave x waveMs has passed
  // for its current wave (< maxWave). Returns at most `max` chains with the wave to create next.
  struct Overdue {
    std::string alertKey, chainRoot;
    int nextWave = 1;
  };
  std::vector<Overdue> overdue(int64_t nowMs, int64_t waveMs, int maxWave, size_t max);
  // Records that `wave` of the chain was handled (a row queued for the deputy/superior, or nobody to
  // escalate to), so it is not returned by overdue() again.
  void noteEscalated(const std::string& alertKey, const std::string& chainRoot, int wave, int64_t nowMs);

  AlertSummary summary(const std::string& alertKey);
  // Alerts whose rows or answers changed since their last published summary, at most max, each with its
  // change counter; markSummarised() after the summaries are in the outbox (a crash in between publishes
  // them again; a change in between keeps the alert for the next round).
  struct Changed {
    std::string key;
    int64_t change = 0;
  };
  std::vector<Changed> changedAlerts(size_t max);
  void markSummarised(const std::vector<Changed>& published);

  // Counts per state over all rows (status, benchmarks).
  std::vector<std::pair<std::string, uint64_t>> stateCounts();

 private:
  void exec(const char* sql);
  void markFinal(int64_t id, DeliveryState s, const std::string& detail, int64_t nowMs);
  std::vector<Addressee> reachedLocked(const std::string& alertKey, bool queuedToo);  // mu_ held
  // Marks the alert cancelled (it stops escalating) and its queued rows cancelled (never sent). mu_ held.
  void withdrawLocked(const std::string& alertKey, int64_t nowMs);
  template <typename Bind>
  std::optional<AlertRow> alertWhere(const char* where, Bind&& bind);  // mu_ held

  void loadQueue();
  void checkFormat();
  std::mutex mu_;
  // The send queue: (priority, nextAttemptMs, id) of every row in state queued. Kept in memory, rebuilt
  // from the table at open, instead of an index on the table: that index cost a third of the 43,000-row
  // fan-out. Entries whose row left `queued` (cancelled, settled) are skipped when reached.
  std::set<std::tuple<int, int64_t, int64_t>> queue_;
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace alertbus::sms
