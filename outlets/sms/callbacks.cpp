// Kannel callback parsing (delivery reports, replies) and per-message report aggregation; see callbacks.h.
// Pure: no I/O, no global state.
#include "outlets/sms/callbacks.h"

#include "model/decode_util.h"
#include "outlets/sms/segment.h"  // appendUtf8

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace alertbus::sms {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decodeComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

const std::string* findParam(const QueryParams& q, const std::string& name) {
  auto it = q.find(name);
  return it == q.end() ? nullptr : &it->second;
}

bool fail(CallbackError& err, std::string field, std::string_view value, std::string reason) {
  err.field = std::move(field);
  err.value = std::string(value.substr(0, 64));
  if (value.size() > 64) err.value += "...";
  err.reason = std::move(reason);
  return false;
}

bool allDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

// Value of "key:" in an SMPP receipt ("id:1000 sub:001 ... stat:DELIVRD err:000 text:..."): up to the next
// space. Keys are matched at word starts, case-insensitively ("Stat:" is seen in the wild).
std::string receiptField(std::string_view text, std::string_view key) {
  std::string lower(text);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string k = std::string(key) + ":";
  size_t pos = 0;
  while ((pos = lower.find(k, pos)) != std::string::npos) {
    if (pos == 0 || lower[pos - 1] == ' ') {
      size_t start = pos + k.size();
      size_t end = text.find(' ', start);
      return std::string(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    }
    pos += k.size();
  }
  return "";
}

}  // namespace

QueryParams parseQueryString(std::string_view query) {
  QueryParams q;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos)
        q.emplace(decodeComponent(pair), "");
      else
        q.emplace(decodeComponent(pair.substr(0, eq)), decodeComponent(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return q;
}

std::string percentEncode(std::string_view bytes) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (unsigned char c : bytes) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

bool isValidDeliveryId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id)
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')) return false;
  return true;
}

bool utf16beToUtf8(std::string_view bytes, std::string& out) {
  out.clear();
  size_t n = bytes.size() / 2;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u = (static_cast<unsigned char>(bytes[2 * i]) << 8) | static_cast<unsigned char>(bytes[2 * i + 1]);
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 1 >= n) return false;
      uint32_t lo =
          (static_cast<unsigned char>(bytes[2 * i + 2]) << 8) | static_cast<unsigned char>(bytes[2 * i + 3]);
      if (lo < 0xDC00 || lo > 0xDFFF) return false;
      appendUtf8(out, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
      ++i;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return false;
    } else {
      appendUtf8(out, u);
    }
  }
  return bytes.size() % 2 == 0;
}


std::string CallbackError::message(std::string_view source) const {
  return std::string(source) + ": " + field + ": " + (value.empty() ? "(empty)" : value) + ": " + reason;
}

std::string dlrUrlPath(std::string_view deliveryId) {
  return "/dlr?id=" + std::string(deliveryId) + "&type=%d&reply=%A&to=%p&ts=%T";
}

std::string moUrlPath() { return "/mo?from=%p&to=%P&text=%a&coding=%c&charset=%C&ts=%T&time=%t"; }

const char* dlrStatusName(DlrStatus s) {
  switch (s) {
    case DlrStatus::delivered: return "delivered";
    case DlrStatus::failed: return "failed";
    case DlrStatus::buffered: return "buffered";
    case DlrStatus::smscAccepted: return "smsc-accepted";
    case DlrStatus::smscRejected: return "smsc-rejected";
  }
  return "?";
}

bool isFinal(DlrStatus s) {
  return s == DlrStatus::delivered || s == DlrStatus::failed || s == DlrStatus::smscRejected;
}

bool parseDeliveryReport(const QueryParams& query, DeliveryReport& out, CallbackError& err) {
  out = DeliveryReport{};
  const std::string* id = findParam(query, "id");
  if (!id) return fail(err, "id", "", "missing");
  if (!isValidDeliveryId(*id)) return fail(err, "id", *id, "not a delivery id (1-128 of A-Z a-z 0-9 - . _ ~)");
  out.deliveryId = *id;

  const std::string* type = findParam(query, "type");
  if (!type) return fail(err, "type", "", "missing");
  if (!allDigits(*type)) return fail(err, "type", *type, "not a number");
  int t = std::atoi(type->c_str());
  switch (t) {
    case 1: out.status = DlrStatus::delivered; break;
    case 2: out.status = DlrStatus::failed; break;
    case 4: out.status = DlrStatus::buffered; break;
    case 8: out.status = DlrStatus::smscAccepted; break;
    case 16: out.status = DlrStatus::smscRejected; break;
    default: return fail(err, "type", *type, "not one of 1, 2, 4, 8, 16");
  }
  out.type = t;

  if (const std::string* to = findParam(query, "to")) out.to = *to;
  if (const std::string* ts = findParam(query, "ts"); ts && !ts->empty()) {
    if (!allDigits(*ts)) return fail(err, "ts", *ts, "not Unix seconds");
    out.timeMs = std::atoll(ts->c_str()) * 1000;
  }

  if (const std::string* reply = findParam(query, "reply")) {
    out.raw = *reply;
    std::string_view r = out.raw;
    if (r.rfind("ACK/", 0) == 0 || r == "ACK") {
      out.smscStatus = "ACK";
    } else if (r.rfind("NACK", 0) == 0) {
      // "NACK/0x0000000b/Invalid Destination Address", "NACK/no SMSC", "NACK/"
      out.smscStatus = "NACK";
      size_t a = r.find('/');
      if (a != std::string_view::npos) {
        size_t b = r.find('/', a + 1);
        std::string_view code = r.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1);
        if (code.rfind("0x", 0) == 0 || allDigits(code)) out.errorCode = std::string(code);
      }
    } else {
      out.smscStatus = upper(receiptField(r, "stat"));
      out.errorCode = receiptField(r, "err");
      out.smscMessageId = receiptField(r, "id");
    }
  }
  return true;
}

PartReports::PartReports(int expectedReports) : expected_(expectedReports < 1 ? 1 : expectedReports) {}

PartReports::State PartReports::add(const DeliveryReport& report) {
  if (state_ == State::failed) return state_;
  switch (report.status) {
    case DlrStatus::failed:
    case DlrStatus::smscRejected:
      state_ = State::failed;
      break;
    case DlrStatus::delivered:
      if (!report.smscMessageId.empty() && !seenIds_.insert(report.smscMessageId).second) break;  // repeat
      if (state_ == State::pending && ++delivered_ >= expected_) state_ = State::delivered;
      break;
    case DlrStatus::buffered:
    case DlrStatus::smscAccepted:
      break;
  }
  return state_;
}

const char* partStateName(PartReports::State s) {
  switch (s) {
    case PartReports::State::pending: return "pending";
    case PartReports::State::delivered: return "delivered";
    case PartReports::State::failed: return "failed";
  }
  return "?";
}

bool parseInboundSms(const QueryParams& query, InboundSms& out, CallbackError& err) {
  out = InboundSms{};
  const std::string* from = findParam(query, "from");
  if (!from || from->empty()) return fail(err, "from", from ? *from : "", "missing or empty");
  const std::string* to = findParam(query, "to");
  if (!to || to->empty()) return fail(err, "to", to ? *to : "", "missing or empty");
  const std::string* text = findParam(query, "text");
  if (!text) return fail(err, "text", "", "missing");
  out.from = *from;
  out.to = *to;

  const std::string* coding = findParam(query, "coding");
  const std::string* charset = findParam(query, "charset");
  std::string cs = charset ? upper(*charset) : "";
  if (coding && *coding == "2" && cs != "UTF-8") {
    if (!utf16beToUtf8(*text, out.text))
      return fail(err, "text", percentEncode(*text), "coding=2 but not UCS-2/UTF-16BE (odd length or lone surrogate)");
  } else if (cs == "ISO-8859-1" || cs == "LATIN1") {
    for (unsigned char c : *text) appendUtf8(out.text, c);
  } else if (isValidUtf8(*text)) {
    out.text = *text;
  } else {
    return fail(err, "text", percentEncode(*text), "not valid UTF-8 (charset " + (cs.empty() ? "unset" : cs) + ")");
  }

  if (const std::string* ts = findParam(query, "ts"); ts && !ts->empty()) {
    if (!allDigits(*ts)) return fail(err, "ts", *ts, "not Unix seconds");
    out.timeMs = std::atoll(ts->c_str()) * 1000;
  } else if (const std::string* tm = findParam(query, "time"); tm && !tm->empty()) {
    // Kannel %t: "YYYY-MM-DD HH:MM:SS" in UTC ('+' arrives as a space after decoding).
    struct tm parts {};
    int n = std::sscanf(tm->c_str(), "%4d-%2d-%2d%*[ T+]%2d:%2d:%2d", &parts.tm_year, &parts.tm_mon,
                        &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec);
    if (n != 6 || parts.tm_mon < 1 || parts.tm_mon > 12 || parts.tm_mday < 1 || parts.tm_mday > 31)
      return fail(err, "time", *tm, "not YYYY-MM-DD HH:MM:SS");
    parts.tm_year -= 1900;
    parts.tm_mon -= 1;
    out.timeMs = static_cast<int64_t>(timegm(&parts)) * 1000;
  }
  return true;
}

}  // namespace alertbus::sms
