// Roster CSV parser and target grammar; see roster.h for the contract. Every refused line becomes one
// InputProblem naming source, line, field, value (clipped) and reason; nothing throws on bad input.
#include "outlets/sms/roster.h"


#include <algorithm>
#include <cctype>
#include <cstdint>
#include <unordered_map>

#include "model/facts.h"
#include "model/decode_util.h"
#include "model/validate.h"

namespace alertbus::sms {

namespace {

using adapter::InputProblem;

std::string_view trim(std::string_view s) {
  const char* ws = " \t";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool isDigits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}


// Bytes that are not text in any encoding we read, shown with every non-ASCII byte as '?'.
std::string asciiClip(std::string_view raw) {
  std::string s = clipValue(raw);
  for (auto& c : s)
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  return s;
}

// The next physical line (without its LF, CRLF or CR) from `pos`; advances pos and the 1-based number.
std::string_view nextLine(std::string_view bytes, size_t& pos, size_t& number) {
  size_t e = bytes.find_first_of("\r\n", pos);
  if (e == std::string_view::npos) e = bytes.size();
  std::string_view raw = bytes.substr(pos, e - pos);
  ++number;
  pos = e;
  if (pos < bytes.size()) pos += (bytes[pos] == '\r' && pos + 1 < bytes.size() && bytes[pos + 1] == '\n') ? 2 : 1;
  return raw;
}

bool hasHighByte(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

// BCP 47-like tag: 2-3 letters, then "-" groups of 1-8 letters or digits; at most 35 bytes.
bool isLanguageTag(std::string_view t) {
  if (t.size() > 35) return false;
  size_t i = 0, n = 0;
  while (i < t.size() && std::isalpha(static_cast<unsigned char>(t[i]))) ++i, ++n;
  if (n < 2 || n > 3) return false;
  while (i < t.size()) {
    if (t[i++] != '-') return false;
    size_t k = 0;
    while (i < t.size() && std::isalnum(static_cast<unsigned char>(t[i]))) ++i, ++k;
    if (k < 1 || k > 8) return false;
  }
  return true;
}

// GB18030 -> UTF-8 for one line (model/decode_util.h); false if it is not GB18030.
bool convertGb18030(std::string_view in, std::string& out) {
  size_t badAt = 0;
  return gb18030ToUtf8(in, out, badAt) && isValidUtf8(out);
}

// Splits one line into trimmed cells. Returns "" or the reason the line cannot be split.
std::string splitCsv(std::string_view line, std::vector<std::string>& cells) {
  cells.clear();
  size_t i = 0;
  while (true) {
    std::string cell;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cell += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        cell += line[i++];
      }
      if (!closed) return "unterminated quoted field (a quoted field cannot span lines)";
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] != ',') return "text after a closing quote (write \"\" for a quote inside)";
      cell = std::string(trim(cell));
    } else {
      size_t e = line.find(',', i);
      if (e == std::string_view::npos) e = line.size();
      cell = std::string(trim(line.substr(i, e - i)));
      i = e;
    }
    cells.push_back(std::move(cell));
    if (i >= line.size()) break;
    ++i;  // the ','
    if (i == line.size()) {
      cells.emplace_back();
      break;
    }
  }
  return {};
}

struct ColumnDef {
  const char* name;
  RosterColumn bit;
  bool required;
};
constexpr ColumnDef kColumns[] = {
    {"id", kColId, true},          {"name", kColName, true},    {"mobile", kColMobile, true},
    {"roles", kColRoles, false},   {"admin_code", kColAdminCode, false}, {"groups", kColGroups, false},
    {"deputy", kColDeputy, false}, {"superior", kColSuperior, false}, {"language", kColLanguage, false},
};
constexpr size_t kColumnCount = sizeof(kColumns) / sizeof(kColumns[0]);

const char* const kMobileReason = "not a mobile number (11 digits starting 13-19, or +<country><number>)";

// Parses a ';'-separated name list; on failure sets `bad` to the offending item.
bool parseNameList(std::string_view text, std::vector<std::string>& out, std::string& bad, std::string& reason,
                   const char* what) {
  out.clear();
  size_t i = 0;
  while (i <= text.size()) {
    size_t e = text.find(';', i);
    if (e == std::string_view::npos) e = text.size();
    std::string_view item = trim(text.substr(i, e - i));
    if (!item.empty()) {
      if (!isName(item)) {
        bad = clipValue(item);
        reason = std::string(what) + " names are [a-z0-9-]{1,64}, separated by ';'";
        return false;
      }
      out.emplace_back(item);
    }
    i = e + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > kMaxListItems) {
    bad = clipValue(text);
    reason = "more than " + std::to_string(kMaxListItems) + " " + what + "s";
    return false;
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view source, const RosterOptions& options, RosterParse& r)
      : source_(source), options_(options), r_(r) {}

  void problem(size_t line, std::string_view field, std::string value, std::string reason) {
    if (r_.problems.size() < options_.maxProblems) {
      r_.problems.push_back(InputProblem{InputProblem::Level::error, std::string(source_),
                                         line ? "line " + std::to_string(line) : std::string("file"),
                                         std::string(field), std::move(value), std::move(reason)});
    } else {
      ++unlisted_;
    }
  }

  void refuse(size_t line, std::string_view field, std::string value, std::string reason) {
    r_.people.clear();
    r_.rejectedIds.clear();
    r_.complete = false;
    problem(line, field, std::move(value), std::move(reason));
  }

  void run(std::string_view bytes) {
    if (bytes.size() > options_.maxBytes)
      return refuse(0, "size", std::to_string(bytes.size()) + " bytes",
                    "larger than the limit of " + std::to_string(options_.maxBytes) + " bytes; file not read");
    if (bytes.substr(0, 2) == "\xFF\xFE" || bytes.substr(0, 2) == "\xFE\xFF")
      return refuse(0, "encoding", "UTF-16", "UTF-16 text is not supported; save the file as UTF-8 or GB18030");
    if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
    bool gb = !isValidUtf8(bytes);
    // Not UTF-8 as a whole: GB18030 (Excel on Chinese Windows saves CSV as GBK). But if most lines with
    // non-ASCII text are valid UTF-8, the file is UTF-8 with some GBK lines pasted in (rosters merged from
    // several offices): decoding it all as GB18030 would garble the UTF-8 names without any error, so each
    // line is decoded by its own validity, with a warning. (A GBK line of Chinese text is valid UTF-8 by
    // chance only a few times in a hundred, so a real GBK file stays GB18030.)
    bool mixed = false;
    std::vector<size_t> gbLines;
    if (gb) {
      size_t utf8Lines = 0;
      for (size_t pos = 0, number = 0; pos < bytes.size();) {
        std::string_view raw = nextLine(bytes, pos, number);
        if (!hasHighByte(raw)) continue;
        if (isValidUtf8(raw)) ++utf8Lines;
        else gbLines.push_back(number);
      }
      mixed = utf8Lines > gbLines.size();
    }
    r_.encoding = mixed ? "utf-8+gb18030" : gb ? "gb18030" : "utf-8";
    if (mixed) {
      std::string which;
      for (size_t i = 0; i < gbLines.size() && i < 10; ++i) which += (i ? ", " : "") + std::to_string(gbLines[i]);
      if (gbLines.size() > 10) which += ", ...";
      r_.problems.push_back(InputProblem{InputProblem::Level::warning, std::string(source_), "file", "encoding",
                                         "UTF-8 and GB18030",
                                         "mixed encodings: " + std::to_string(gbLines.size()) +
                                             " line(s) not valid UTF-8 were read as GB18030 (lines " + which +
                                             "); check their names"});
    }

    // One pass; a file over maxLines is refused at the first line over the limit (people taken so far are
    // dropped: a truncated roster must not be imported).
    size_t pos = 0, number = 0;
    bool haveHeader = false;
    std::vector<std::string> cells;
    std::string text;
    while (pos < bytes.size()) {
      std::string_view raw = nextLine(bytes, pos, number);
      if (trim(raw).empty()) continue;
      if (haveHeader && r_.lines + 1 > options_.maxLines)
        return refuse(number, "lines", "more than " + std::to_string(options_.maxLines),
                      "more than the limit of " + std::to_string(options_.maxLines) +
                          " data lines; file refused as a whole");
      if (haveHeader) ++r_.lines;
      if (raw.size() > options_.maxLineBytes) {
        if (!haveHeader)
          return refuse(number, "header", clipValue(raw),
                        "line longer than " + std::to_string(options_.maxLineBytes) + " bytes");
        reject(number, "line", std::to_string(raw.size()) + " bytes",
               "line longer than " + std::to_string(options_.maxLineBytes) + " bytes", {});
        continue;
      }
      if (gb && (!mixed || !isValidUtf8(raw))) {
        if (!convertGb18030(raw, text)) {
          if (!haveHeader)
            return refuse(number, "encoding", asciiClip(raw), "neither valid UTF-8 nor GB18030/GBK text");
          reject(number, "encoding", asciiClip(raw), "neither valid UTF-8 nor GB18030/GBK text", {});
          continue;
        }
      } else {
        text.assign(raw.data(), raw.size());
      }
      std::string splitError = splitCsv(text, cells);
      if (!haveHeader) {
        if (!splitError.empty()) return refuse(number, "header", clipValue(text), splitError);
        if (!header(number, cells)) return;
        haveHeader = true;
        continue;
      }
      if (!splitError.empty()) {
        reject(number, "line", clipValue(text), splitError, {});
        continue;
      }
      record(number, cells);
    }
    if (!haveHeader) return refuse(0, "header", "", "empty file: no header line (id,name,mobile,...)");
    r_.complete = true;
    if (unlisted_)
      r_.problems.push_back(InputProblem{InputProblem::Level::error, std::string(source_), "file", "problems",
                                         std::to_string(unlisted_),
                                         std::to_string(unlisted_) + " more bad lines not listed"});
    // Ids of refused lines that an accepted line also carries need no keeping.
    std::vector<std::string> kept;
    for (auto& id : rejectedIds_)
      if (!ids_.count(id)) kept.push_back(id);
    std::sort(kept.begin(), kept.end());
    kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
    r_.rejectedIds = std::move(kept);
  }

 private:
  bool header(size_t line, const std::vector<std::string>& cells) {
    std::vector<std::string> unknown, repeated;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string lower = cells[i];
      for (auto& c : lower)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
      size_t k = 0;
      while (k < kColumnCount && lower != kColumns[k].name) ++k;
      if (k == kColumnCount) {
        unknown.push_back(cells[i].empty() ? "'' (column " + std::to_string(i + 1) + ")"
                                           : "'" + clipValue(cells[i]) + "'");
        continue;
      }
      if (r_.columns & kColumns[k].bit) repeated.push_back(kColumns[k].name);
      r_.columns |= kColumns[k].bit;
      index_[k] = i;
    }
    std::string reason;
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    if (!unknown.empty())
      reason = "unknown column" + std::string(unknown.size() > 1 ? "s " : " ") + join(unknown) +
               " (known: id, name, mobile, roles, admin_code, groups, deputy, superior, language)";
    if (!repeated.empty()) reason += (reason.empty() ? "" : "; ") + ("repeated column " + join(repeated));
    std::vector<std::string> missing;
    for (size_t k = 0; k < kColumnCount; ++k)
      if (kColumns[k].required && !(r_.columns & kColumns[k].bit)) missing.push_back(kColumns[k].name);
    if (!missing.empty()) reason += (reason.empty() ? "" : "; ") + ("missing required column " + join(missing));
    if (reason.empty()) {
      width_ = cells.size();
      return true;
    }
    std::string value;
    for (auto& c : cells) value += (value.empty() ? "" : ",") + c;
    refuse(line, "header", clipValue(value), reason);
    return false;
  }

  void reject(size_t line, std::string_view field, std::string value, std::string reason, std::string_view id) {
    ++r_.rejected;
    if (!id.empty()) rejectedIds_.emplace_back(id);
    problem(line, field, std::move(value), std::move(reason));
  }

  const std::string& cell(const std::vector<std::string>& cells, size_t k) {
    static const std::string kEmpty;
    return index_[k] == SIZE_MAX ? kEmpty : cells[index_[k]];
  }

  void record(size_t line, const std::vector<std::string>& cells) {
    if (cells.size() != width_) {
      reject(line, "fields", std::to_string(cells.size()),
             "expected " + std::to_string(width_) + " fields as in the header, got " + std::to_string(cells.size()) +
                 " (quote a field that holds a comma)",
             {});
      return;
    }
    Person p;
    p.line = line;
    const std::string& id = cell(cells, 0);
    if (id.empty()) return reject(line, "id", "", "required", {});
    if (!isPersonId(id)) return reject(line, "id", clipValue(id), "a person id is [A-Za-z0-9_.-]{1,64}", {});
    p.id = id;
    // From here on the id is well formed: a refused line names a person a "replace" import must keep.
    const std::string& name = cell(cells, 1);
    if (name.empty()) return reject(line, "name", "", "required", id);
    if (!isCleanUtf8(name.data(), name.size()) || name.find_first_of("\t\r\n") != std::string::npos)
      return reject(line, "name", clipValue(name), "control characters are not allowed in a name", id);
    if (name.size() > kMaxNameBytes)
      return reject(line, "name", clipValue(name), "longer than " + std::to_string(kMaxNameBytes) + " bytes", id);
    p.name = name;
    const std::string& mobile = cell(cells, 2);
    if (mobile.empty()) return reject(line, "mobile", "", "required", id);
    p.mobile = normaliseMobile(mobile);
    if (p.mobile.empty()) return reject(line, "mobile", clipValue(mobile), kMobileReason, id);
    std::string bad, reason;
    if (!parseNameList(cell(cells, 3), p.roles, bad, reason, "role")) return reject(line, "roles", bad, reason, id);
    const std::string& code = cell(cells, 4);
    if (!code.empty() && !isAdminCode(code))
      return reject(line, "admin_code", clipValue(code),
                    "a GB/T 2260 code is 6 or 12 digits, not starting 00 (e.g. 330212 or 330212001000)", id);
    p.adminCode = code;
    if (!parseNameList(cell(cells, 5), p.groups, bad, reason, "group")) return reject(line, "groups", bad, reason, id);
    for (auto [k, field] : {std::pair<size_t, const char*>{6, "deputy"}, {7, "superior"}}) {
      const std::string& ref = cell(cells, k);
      if (!ref.empty() && !isPersonId(ref))
        return reject(line, field, clipValue(ref), "a person id is [A-Za-z0-9_.-]{1,64}", id);
      (k == 6 ? p.deputy : p.superior) = ref;
    }
    const std::string& language = cell(cells, 8);
    if (!language.empty() && !isLanguageTag(language))
      return reject(line, "language", clipValue(language), "a language tag is like zh-CN or en (letters, '-')", id);
    p.language = language;
    auto firstId = ids_.find(p.id);
    if (firstId != ids_.end())
      return reject(line, "id", clipValue(id), "duplicate id (first on line " + std::to_string(firstId->second) + ")",
                    {});
    auto firstMobile = mobiles_.find(p.mobile);
    if (firstMobile != mobiles_.end())
      return reject(line, "mobile", clipValue(mobile),
                    "duplicate mobile " + p.mobile + " (first on line " + std::to_string(firstMobile->second.first) +
                        ", id " + firstMobile->second.second + ")",
                    id);
    ids_.emplace(p.id, line);
    mobiles_.emplace(p.mobile, std::make_pair(line, p.id));
    r_.people.push_back(std::move(p));
  }

  std::string_view source_;
  const RosterOptions& options_;
  RosterParse& r_;
  size_t index_[kColumnCount] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX,
                                 SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
  size_t width_ = 0;
  size_t unlisted_ = 0;
  std::unordered_map<std::string, size_t> ids_;                                   // id -> line
  std::unordered_map<std::string, std::pair<size_t, std::string>> mobiles_;       // mobile -> line, id
  std::vector<std::string> rejectedIds_;
};

}  // namespace

RosterParse parseRosterCsv(std::string_view bytes, std::string_view source, const RosterOptions& options) {
  RosterParse r;
  Parser(source, options, r).run(bytes);
  return r;
}

std::string normaliseMobile(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text)
    if (c != ' ' && c != '-') s += c;
  if (s.size() > 20) return {};
  auto china = [](std::string_view d) -> std::string {
    if (d.size() == 11 && isDigits(d) && d[0] == '1' && d[1] >= '3' && d[1] <= '9') return "+86" + std::string(d);
    return {};
  };
  std::string_view v(s);
  if (v.substr(0, 3) == "+86") return china(v.substr(3));
  if (v.substr(0, 4) == "0086") return china(v.substr(4));
  if (v.size() == 13 && v.substr(0, 2) == "86") return china(v.substr(2));
  if (v.size() == 11 && v[0] != '+') return china(v);
  if (v.size() >= 8 && v.size() <= 16 && v[0] == '+' && v[1] != '0' && isDigits(v.substr(1))) return s;
  return {};
}

bool isPersonId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-'))
      return false;
  return true;
}

bool isName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

bool isAdminCode(std::string_view s) {
  return (s.size() == 6 || s.size() == 12) && isDigits(s) && s.substr(0, 2) != "00";
}

std::string paddedAdminCode(std::string_view code) {
  if (!isAdminCode(code)) return {};
  std::string p(code);
  p.resize(12, '0');
  return p;
}

bool inAdminSubtree(std::string_view personCode, std::string_view prefix) {
  std::string padded = paddedAdminCode(personCode);
  return !padded.empty() && !prefix.empty() && padded.compare(0, prefix.size(), prefix) == 0;
}

Target parseTarget(std::string_view text) {
  Target t;
  if (text.substr(0, 4) == "sms:") text.remove_prefix(4);
  t.text = std::string(text);
  std::string shown = "target '" + clipValue(text) + "': ";
  auto fail = [&](std::string reason) {
    t.kind = Target::Kind::invalid;
    t.error = shown + reason;
    return t;
  };
  if (text.empty()) return fail("empty (expected <group> or <role>@<admin code>)");
  size_t at = text.find('@');
  if (at == std::string_view::npos) {
    if (!isName(text)) return fail("a group name is [a-z0-9-]{1,64} (or use <role>@<admin code>)");
    t.kind = Target::Kind::group;
    t.group = std::string(text);
    return t;
  }
  std::string_view role = text.substr(0, at), code = text.substr(at + 1);
  if (code.find('@') != std::string_view::npos) return fail("more than one '@' (expected <role>@<admin code>)");
  if (role != "*" && !isName(role))
    return fail("role '" + clipValue(role) + "': a role name is [a-z0-9-]{1,64}, or * for everyone under the code");
  if (!isAdminCode(code))
    return fail("admin code '" + clipValue(code) + "': a GB/T 2260 code is 6 or 12 digits, not starting 00");
  t.kind = Target::Kind::selection;
  t.role = std::string(role);
  t.adminCode = std::string(code);
  t.adminPrefix = adminPrefix(code);
  return t;
}

}  // namespace alertbus::sms
