// SMS text templates (config/sms-templates.toml): which text a duty person receives for a message, per
// event, colour/response level, language and kind, and the preview that shows its exact SMS parts. Pure:
// no I/O except reading the config file in loadTemplateSet(). Invariant of a loaded set: every template
// parses, starts with its headline, and fits [sms] max_parts with worst-case values (every placeholder
// value is bounded at render time, so the answer instruction at the end of a text is never truncated).
// Every function here may be called from any thread on a const TemplateSet.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/toml_reader.h"
#include "outlets/sms/segment.h"
#include "schemas/message.capnp.h"

namespace alertbus::sms {

// What a text is for. Derived from the message (see messageTemplateKind) except `reminder`, which the
// escalation asks for explicitly (RenderContext.reminder) when it re-sends an unanswered message.
enum class TemplateKind : uint8_t {
  warning,      // warning/forecast payload, msgType alert (or unspecified)
  update,       // warning/forecast/instruction payload, msgType update
  cancel,       // msgType cancel (any payload), or a fused alert whose incident closed (解除)
  fusedAlert,   // fused alert opened / level changed / updated (启动Ⅱ级应急响应)
  instruction,  // defence order (防御指令), msgType alert
  observation,  // gauge observation (water levels over a threshold)
  reminder,     // escalation re-send of an unanswered message (未回复提醒)
};
constexpr int kTemplateKindCount = 7;

// Config names: "warning", "update", "cancel", "fused_alert", "instruction", "observation", "reminder".
std::string_view templateKindName(TemplateKind k);
bool parseTemplateKind(std::string_view name, TemplateKind& out);

enum class Placeholder : uint8_t {
  headline, event, colour, level, areas, expires, instruction, sender, answerCode, deadline,
};
constexpr int kPlaceholderCount = 10;
// Name inside braces: "headline", ..., "answer_code", "deadline".
std::string_view placeholderName(Placeholder p);

// [sms] section. Defaults apply when the key (or the section) is absent.
struct TemplateSettings {
  int maxParts = 4;                // max SMS parts per text; longer texts are truncated (and templates
                                   // that could exceed it with worst-case values are rejected at load)
  int tzOffsetMinutes = 480;       // local time for {expires} and {deadline}; config "timezone" "+08:00"
  std::string defaultLanguage = "zh-CN";  // used when the person has no language or none of theirs matches
  int maxHeadlineChars = 60;       // characters (code points); longer headlines are cut with "…"
  int maxAreasChars = 50;          // {areas} bound: cut at an area boundary with "等N地" / "and N more"
  int maxInstructionChars = 80;    // {instruction} bound, cut with "…"
  int maxSenderChars = 20;         // {sender} bound, cut with "…"
  int maxAnswerCodeChars = 8;      // longest answer code the size check assumes (longer ones: a problem)
};

// One literal piece, placeholder or optional-group marker of a compiled template text.
struct TemplateToken {
  enum class Type : uint8_t { literal, placeholder, groupOpen, groupClose } type = Type::literal;
  std::string text;                // literal text (braces/brackets unescaped)
  Placeholder placeholder = Placeholder::headline;
  size_t groupClose = 0;           // for groupOpen: index of its groupClose token
};

struct SmsTemplate {
  std::string name;                // unique in the file
  int line = 0;                    // line of the [[template]] header, for messages
  std::vector<std::string> events; // exact codes, prefixes ending in '*' ("11B0*"), or "*" for any
  int minColourRank = 0;           // 0 = any; blue 1 .. red 4 (model/facts.h colourRank)
  int minLevelRank = 0;            // 0 = any; IV 1 .. I 4 (model/facts.h responseLevelRank)
  std::string language = "zh-CN";
  TemplateKind kind = TemplateKind::warning;
  std::string text;                // as written
  std::vector<TemplateToken> tokens;  // compiled text
};

// A loaded, validated set. A value: build a new one to reload, then swap it in whole.
struct TemplateSet {
  std::string file;                // where it was loaded from, for messages
  TemplateSettings settings;
  std::vector<SmsTemplate> templates;  // file order
};

// Loads and validates a template file. All problems are appended to `errors` as file:line: reason
// (unknown keys, bad values, bad placeholders, headline not first, shadowed and oversized templates);
// returns false (and leaves `out` unspecified) if there was any. Not thread-safe with respect to `out`.
bool loadTemplateSet(const std::string& file, TemplateSet& out, std::vector<ConfigError>& errors);
// The same from TOML text in memory; `file` names it in errors.
bool loadTemplateSetText(std::string_view toml, const std::string& file, TemplateSet& out,
                         std::vector<ConfigError>& errors);

// Compiles a template text: {placeholder}, optional groups "[ ... ]" that vanish when any placeholder
// inside renders empty, "{{" "}}" "[[" "]]" for literal braces and brackets. Returns "" or the reason it
// is invalid.
std::string compileTemplateText(std::string_view text, std::vector<TemplateToken>& out);

// Values for each placeholder; "" = missing.
using PlaceholderValues = std::array<std::string, kPlaceholderCount>;

// Fills the compiled template: drops optional groups with a missing value; where a placeholder or a
// dropped group meets the following literal keeps only the stronger of two separators ("，。" -> "。",
// and a value's own final "。" before the template's "。"), and removes doubled spaces, a separator at
// the very start, and trailing spaces and weak separators (，、：；) a missing value left at the end. O(n).
std::string fillTemplate(const std::vector<TemplateToken>& tokens, const PlaceholderValues& values);

// What the selection looks at; built from a message by templateQuery().
struct TemplateQuery {
  TemplateKind kind = TemplateKind::warning;
  std::vector<std::string> events;  // the message's event codes
  int colourRank = 0;
  int levelRank = 0;
  std::string language;             // "" = settings.defaultLanguage
};

// The template for `q`, or nullptr when the built-in default must be used. Precedence:
//  1. kind must be equal (no fallback between kinds: a cancel never renders with a warning text);
//  2. language: templates in the wanted language (exact tag, else same primary subtag: "zh" ~ "zh-CN");
//     only when no template of that language matches at all, the default language's templates;
//  3. among those, the most specific event: exact code > longest prefix > "*";
//  4. then the higher min_colour / min_level (an unmet minimum excludes the template);
//  5. then file order.
const SmsTemplate* selectTemplate(const TemplateSet& set, const TemplateQuery& q);

// Per-send parameters. The optional ones override the set's [sms] settings.
struct RenderContext {
  std::string language;            // the person's language; "" = settings.defaultLanguage
  std::string answerCode;          // the reply code for {answer_code}; "" renders nothing
  int64_t deadlineMs = 0;          // answer deadline, UTC ms; 0 = the fused alert's ackDeadlineMs or none
  std::optional<int> tzOffsetMinutes;
  std::optional<int> maxAreasChars;
  bool reminder = false;           // escalation re-send: use kind "reminder" templates
};

struct RenderResult {
  std::string text;                // UTF-8, not yet segmented
  std::string templateName;        // the chosen template's name, or "builtin:<kind>:<language>"
  std::vector<std::string> problems;  // things a person should know (no template matched, values cut,
                                      // no answer code, payload without an SMS kind); never fatal
};

// The kind a message renders as (reminder is never derived). False for payloads with no SMS text
// (ack, sitrep, unspecified); render() then renders it as a warning (configured or built-in) and reports
// a problem.
bool messageTemplateKind(schema::Message::Reader m, TemplateKind& out);
// The selection inputs of a message for a person's language.
TemplateQuery templateQuery(schema::Message::Reader m, const RenderContext& ctx);

// Renders the text a person receives. Never throws for any message content. Cost O(size of message).
// A message with status exercise, test or draft gets "【演练】" / "【测试】" / "【草稿】" ("[EXERCISE] ",
// "[TEST] ", "[DRAFT] ") in front unless its first 30 characters already carry that word.
RenderResult render(const TemplateSet& set, schema::Message::Reader m, const RenderContext& ctx);

// Human-readable account of render() + segment(): which template, the text, the encoding, every part
// numbered with its unit count ("part 1/3 (67 UCS-2 units): ...") and any truncation or problem. This is
// what `alertbus-sms template preview FILE.json` prints.
std::string preview(const TemplateSet& set, schema::Message::Reader m, const RenderContext& ctx);

// Local time as "8月10日02时" (zh; "8月10日02时30分" when minutes are not 0) or "10 Aug 02:00" (other
// languages). "" for 0.
std::string formatLocalTime(int64_t utcMs, int tzOffsetMinutes, std::string_view language);

}  // namespace alertbus::sms
