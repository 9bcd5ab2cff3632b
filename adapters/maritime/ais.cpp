// AIS decoding: line framing (prefix, tag block, checksum), fragment reassembly in a bounded table, and
// bit-level decoding of types 1/2/3/5/18/19/24. Every path that reads a bit first checks the payload length.
#include "adapters/maritime/ais.h"
#include "model/decode_util.h"

#include <algorithm>
#include <cstdio>

namespace alertbus {

namespace {

constexpr size_t kMaxValueBytes = 64;

std::string printable(std::string_view v) {
  std::string out;
  size_t n = std::min(v.size(), kMaxValueBytes);
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (v.size() > n) out += "...";
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string_view trim(std::string_view s, std::string_view chars = " \t") {
  while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// "1565352001", "1565352001.123" (seconds) or 13+ digit milliseconds.
bool parseUnixTime(std::string_view s, int64_t* ms) {
  size_t dot = s.find('.');
  std::string_view ip = s.substr(0, dot), fp = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  if (!allDigits(ip) || ip.size() > 16 || (dot != std::string_view::npos && !allDigits(fp))) return false;
  int64_t v = 0;
  for (char c : ip) v = v * 10 + (c - '0');
  if (ip.size() >= 12) {
    *ms = v;
    return true;
  }
  int64_t frac = 0;
  int digits = 0;
  for (char c : fp) {
    if (digits == 3) break;
    frac = frac * 10 + (c - '0');
    ++digits;
  }
  while (digits < 3) frac *= 10, ++digits;
  *ms = v * 1000 + frac;
  return true;
}


int digitsAt(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "YYYY-MM-DD HH:MM:SS[.fff][Z]" or with 'T'; taken as UTC.
bool parseIsoTime(std::string_view s, int64_t* ms) {
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
      s[16] != ':')
    return false;
  int y = digitsAt(s, 0, 4), mo = digitsAt(s, 5, 2), d = digitsAt(s, 8, 2), h = digitsAt(s, 11, 2),
      mi = digitsAt(s, 14, 2), se = digitsAt(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
    return false;
  int64_t frac = 0;
  size_t p = 19;
  if (p < s.size() && s[p] == '.') {
    int digits = 0;
    for (++p; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p)
      if (digits < 3) frac = frac * 10 + (s[p] - '0'), ++digits;
    if (digits == 0) return false;
    while (digits < 3) frac *= 10, ++digits;
  }
  if (p < s.size() && s[p] == 'Z') ++p;
  if (p != s.size()) return false;
  *ms = ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + se * 1000LL + frac;
  return true;
}

int armorValue(char c) {
  if (c >= 48 && c <= 87) return c - 48;
  if (c >= 96 && c <= 119) return c - 56;
  return -1;
}

// Reads big-endian bit fields from the packed payload; callers check lengths against bitCount first.
class BitReader {
 public:
  BitReader(const uint8_t* data) : data_(data) {}
  uint32_t u(int start, int len) const {
    const uint8_t* p = data_ + (start >> 3);
    uint64_t acc = 0;
    for (int i = 0; i < 8; ++i) acc = (acc << 8) | p[i];
    return static_cast<uint32_t>((acc << (start & 7)) >> (64 - len));
  }
  int32_t s(int start, int len) const {
    uint32_t v = u(start, len);
    if (v & (1u << (len - 1))) return static_cast<int32_t>(v) - static_cast<int32_t>(1u << len);
    return static_cast<int32_t>(v);
  }
  // 6-bit text of up to `chars` characters, stopping at the payload end; '@' removed, trailing spaces trimmed.
  std::string text(int start, int chars, int bitCount) const {
    std::string out;
    for (int i = 0; i < chars && start + 6 * (i + 1) <= bitCount; ++i) {
      uint32_t v = u(start + 6 * i, 6);
      if (v == 0) continue;
      out.push_back(static_cast<char>(v < 32 ? v + 64 : v));
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

 private:
  const uint8_t* data_;
};

std::optional<double> lonOf(int32_t raw) {
  if (raw == 181 * 600000 || raw > 180 * 600000 || raw < -180 * 600000) return std::nullopt;
  return raw / 600000.0;
}
std::optional<double> latOf(int32_t raw) {
  if (raw == 91 * 600000 || raw > 90 * 600000 || raw < -90 * 600000) return std::nullopt;
  return raw / 600000.0;
}
std::optional<double> sogOf(uint32_t raw) { return raw >= 1023 ? std::nullopt : std::optional<double>(raw / 10.0); }
std::optional<double> cogOf(uint32_t raw) { return raw >= 3600 ? std::nullopt : std::optional<double>(raw / 10.0); }
std::optional<int> headingOf(uint32_t raw) {
  return raw >= 360 ? std::nullopt : std::optional<int>(static_cast<int>(raw));
}
std::optional<int> secondOf(uint32_t raw) {
  return raw >= 60 ? std::nullopt : std::optional<int>(static_cast<int>(raw));
}

// Common class B position layout of types 18 and 19 (bits 0..138).
// SOG .. UTC second: the same fields in class A (types 1-3, starting at bit 50) and class B (types 18
// and 19, starting at bit 46) position reports.
void readMotion(const BitReader& b, int start, AisPosition& p) {
  p.sogKnots = sogOf(b.u(start, 10));
  p.positionAccurate = b.u(start + 10, 1) != 0;
  p.lonDeg = lonOf(b.s(start + 11, 28));
  p.latDeg = latOf(b.s(start + 39, 27));
  p.cogDeg = cogOf(b.u(start + 66, 12));
  p.headingDeg = headingOf(b.u(start + 78, 9));
  p.utcSecond = secondOf(b.u(start + 87, 6));
}

AisPosition classBPosition(const BitReader& b, int type) {
  AisPosition p;
  p.type = type;
  p.mmsi = b.u(8, 30);
  readMotion(b, 46, p);
  return p;
}

void dimensions(const BitReader& b, int start, AisStatic* s) {
  s->toBowM = static_cast<int>(b.u(start, 9));
  s->toSternM = static_cast<int>(b.u(start + 9, 9));
  s->toPortM = static_cast<int>(b.u(start + 18, 6));
  s->toStarboardM = static_cast<int>(b.u(start + 24, 6));
}

std::optional<int> shipTypeOf(uint32_t raw) {
  return raw == 0 ? std::nullopt : std::optional<int>(static_cast<int>(raw));
}

}  // namespace

uint8_t nmeaChecksum(std::string_view s) {
  uint8_t x = 0;
  for (char c : s) x ^= static_cast<uint8_t>(c);
  return x;
}

AisDecoder::AisDecoder(AisDecoderOptions options) : options_(options), groups_(options.maxPendingGroups) {
  bits_.resize(options_.maxPayloadChars * 6 / 8 + 16, 0);
}

size_t AisDecoder::pendingGroups() const {
  return static_cast<size_t>(std::count_if(groups_.begin(), groups_.end(), [](const Group& g) { return g.used; }));
}

AisResult AisDecoder::reject(AisResult& r, std::string field, std::string_view value, const char* reason) {
  r.outcome = AisOutcome::Rejected;
  r.rejection.value = printable(value);
  r.rejection.reason = reason;
  ++counters_.rejected;
  ++counters_.rejectedByReason[field + ": " + reason];
  r.rejection.field = std::move(field);
  return std::move(r);
}

void AisDecoder::dropGroup(Group& g, const char* reason) {
  g.used = false;
  ++counters_.droppedGroups;
  ++counters_.droppedByReason[std::string("fragment: ") + reason];
}

void AisDecoder::expireGroups(int64_t receivedMs) {
  for (Group& g : groups_) {
    if (!g.used) continue;
    if (lineNo_ - g.startLine > options_.maxGroupAgeSentences || receivedMs - g.startMs > options_.maxGroupAgeMs ||
        receivedMs < g.startMs - options_.maxGroupAgeMs)
      dropGroup(g, "expired before completion");
  }
}

AisResult AisDecoder::feed(std::string_view line, int64_t receivedMs) {
  AisResult r;
  r.timeMs = receivedMs;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  std::string_view trimmed = trim(line, " \t\r\n");
  if (trimmed.empty() || trimmed.front() == '#') {
    ++counters_.ignored;
    return r;
  }
  ++lineNo_;  // counted sentences age pending groups; blank lines and comments do not

  size_t bang = line.find('!');
  if (bang == std::string_view::npos) {
    size_t dollar = line.find('$');
    if (dollar != std::string_view::npos)
      return reject(r, "sentence", line.substr(dollar, line.find(',', dollar) - dollar), "not an AIS !VDM/!VDO sentence");
    return reject(r, "line", line, "no '!' sentence start");
  }

  // Tag block "\...*hh\" before the sentence; what precedes it (or the sentence) is the receiver prefix.
  std::string_view prefix = line.substr(0, bang);
  size_t tagStart = prefix.find('\\');
  if (tagStart != std::string_view::npos) {
    size_t tagEnd = prefix.find('\\', tagStart + 1);
    if (tagEnd == std::string_view::npos) return reject(r, "tag block", prefix.substr(tagStart), "no closing '\\'");
    std::string_view tag = prefix.substr(tagStart + 1, tagEnd - tagStart - 1);
    size_t star = tag.rfind('*');
    if (star == std::string_view::npos || star + 3 != tag.size() || hexValue(tag[star + 1]) < 0 ||
        hexValue(tag[star + 2]) < 0)
      return reject(r, "tag block checksum", tag, "missing or malformed '*hh'");
    int given = hexValue(tag[star + 1]) * 16 + hexValue(tag[star + 2]);
    int computed = nmeaChecksum(tag.substr(0, star));
    if (given != computed) {
      char v[32];
      std::snprintf(v, sizeof v, "*%02X != *%02X", given, computed);
      return reject(r, "tag block checksum", v, "mismatch (given != computed)");
    }
    std::string_view fields = tag.substr(0, star);
    while (!fields.empty()) {
      size_t comma = fields.find(',');
      std::string_view f = fields.substr(0, comma);
      fields = comma == std::string_view::npos ? std::string_view{} : fields.substr(comma + 1);
      if (f.size() > 2 && f[0] == 'c' && f[1] == ':') {
        int64_t ms = 0;
        if (!parseUnixTime(f.substr(2), &ms)) return reject(r, "tag block c:", f, "not a unix time");
        r.timeMs = ms;
        r.timeSource = AisTimeSource::TagBlock;
      }
    }
    prefix = prefix.substr(0, tagStart);
  }
  if (r.timeSource == AisTimeSource::Received) {
    std::string_view p = trim(prefix, " \t[]");
    int64_t ms = 0;
    if (!p.empty() && (parseUnixTime(p, &ms) || parseIsoTime(p, &ms))) {
      r.timeMs = ms;
      r.timeSource = AisTimeSource::Prefix;
    }
  }

  // Sentence "!body*hh" and anything after it (receiver metadata), which is ignored.
  std::string_view s = line.substr(bang);
  size_t star = s.find('*');
  if (star == std::string_view::npos) return reject(r, "checksum", s.substr(0, 24), "missing '*hh'");
  if (star + 3 > s.size() || hexValue(s[star + 1]) < 0 || hexValue(s[star + 2]) < 0)
    return reject(r, "checksum", s.substr(star, 3), "malformed '*hh'");
  std::string_view body = s.substr(1, star - 1);
  int given = hexValue(s[star + 1]) * 16 + hexValue(s[star + 2]);
  int computed = nmeaChecksum(body);
  if (given != computed) {
    char v[32];
    std::snprintf(v, sizeof v, "*%02X != *%02X", given, computed);
    return reject(r, "checksum", v, "mismatch (given != computed)");
  }

  std::string_view f[7];
  size_t nf = 0;
  for (std::string_view rest = body;;) {
    size_t comma = rest.find(',');
    if (nf == 7) return reject(r, "sentence", body, "more than 7 fields");
    f[nf++] = rest.substr(0, comma);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (nf != 7) return reject(r, "sentence", body, "fewer than 7 fields");
  std::string_view tag = f[0];
  if (tag.size() != 5 || tag[2] != 'V' || tag[3] != 'D' || (tag[4] != 'M' && tag[4] != 'O'))
    return reject(r, "sentence", tag, "not a VDM/VDO sentence");
  r.ownShip = tag[4] == 'O';
  if (f[1].size() != 1 || f[1][0] < '1' || f[1][0] > '9') return reject(r, "fragment count", f[1], "not 1..9");
  int count = f[1][0] - '0';
  if (f[2].size() != 1 || f[2][0] < '1' || f[2][0] - '0' > count)
    return reject(r, "fragment number", f[2], "not 1..fragment count");
  int num = f[2][0] - '0';
  if (f[3].size() > 1 || (f[3].size() == 1 && (f[3][0] < '0' || f[3][0] > '9')))
    return reject(r, "sequence id", f[3], "not empty or 0..9");
  if (f[4].size() > 1) return reject(r, "channel", f[4], "not a single character");
  r.channel = f[4].empty() ? 0 : f[4][0];
  if (f[6].size() != 1 || f[6][0] < '0' || f[6][0] > '5') return reject(r, "fill bits", f[6], "not 0..5");
  int fill = f[6][0] - '0';
  std::string_view payload = f[5];
  if (payload.size() > options_.maxPayloadChars) return reject(r, "payload", payload, "too long");

  r.fragmentCount = count;
  r.fragmentNumber = num;
  if (count == 1) return decodePayload(r, payload, fill);

  // Multi-sentence: one pending group per (talker, sequence id, channel).
  if (!groups_.empty()) expireGroups(receivedMs);
  const char key[4] = {tag[0], tag[1], f[3].empty() ? '-' : f[3][0], r.channel ? r.channel : '-'};
  std::copy(key, key + 4, r.groupKey);
  Group* g = nullptr;
  for (Group& x : groups_)
    if (x.used && std::equal(key, key + 4, x.key)) g = &x;
  char where[48];
  std::snprintf(where, sizeof where, "%d/%d seq %c ch %c talker %c%c", num, count, key[2], key[3], key[0], key[1]);
  if (num == 1) {
    if (g) dropGroup(*g, "restarted before completion");
    if (!g) {
      for (Group& x : groups_)
        if (!x.used) {
          g = &x;
          break;
        }
    }
    if (!g) {
      if (groups_.empty()) return reject(r, "fragment", where, "fragment table has no slots");
      g = &*std::min_element(groups_.begin(), groups_.end(),
                             [](const Group& a, const Group& b) { return a.startLine < b.startLine; });
      dropGroup(*g, "evicted: fragment table full");
    }
    g->used = true;
    std::copy(key, key + 4, g->key);
    g->count = count;
    g->next = 2;
    g->startLine = lineNo_;
    g->startMs = receivedMs;
    g->payload.assign(payload.data(), payload.size());
    ++counters_.pending;
    r.outcome = AisOutcome::Pending;
    return r;
  }
  if (!g) return reject(r, "fragment", where, "no pending group (fragment 1 missing or expired)");
  if (g->count != count) {
    dropGroup(*g, "fragment count changed");
    return reject(r, "fragment", where, "fragment count differs from fragment 1");
  }
  if (num != g->next) {
    dropGroup(*g, "out of order or missing fragment");
    return reject(r, "fragment", where, "out of order or missing fragment");
  }
  if (g->payload.size() + payload.size() > options_.maxPayloadChars) {
    dropGroup(*g, "payload too long");
    return reject(r, "payload", where, "reassembled payload too long");
  }
  g->payload.append(payload.data(), payload.size());
  if (num < count) {
    ++g->next;
    ++counters_.pending;
    r.outcome = AisOutcome::Pending;
    return r;
  }
  g->used = false;  // payload stays valid until this slot is reused, which cannot happen during decodePayload
  return decodePayload(r, g->payload, fill);
}

AisResult AisDecoder::decodePayload(AisResult& r, std::string_view payload, int fillBits) {
  if (payload.empty()) return reject(r, "payload", payload, "empty");
  size_t nbytes = 0;
  uint32_t acc = 0;
  int accBits = 0;
  for (char c : payload) {
    int v = armorValue(c);
    if (v < 0) return reject(r, "payload", std::string_view(&c, 1), "character outside the 6-bit armour");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    accBits += 6;
    if (accBits >= 8) {
      accBits -= 8;
      bits_[nbytes++] = static_cast<uint8_t>(acc >> accBits);
    }
  }
  if (accBits > 0) bits_[nbytes++] = static_cast<uint8_t>(acc << (8 - accBits));
  std::fill(bits_.begin() + nbytes, bits_.begin() + nbytes + 8, 0);  // BitReader reads 8 bytes at a time
  const int bitCount = static_cast<int>(payload.size()) * 6 - fillBits;
  const BitReader b(bits_.data());

  auto need = [&](int, int bits) { return bitCount >= bits; };  // (type, bits): reads like the spec table
  char lenText[48];
  auto truncated = [&](int type, int bits) {
    std::snprintf(lenText, sizeof lenText, "type %d, %d bits (needs %d)", type, bitCount, bits);
    return reject(r, "payload", lenText, "truncated");
  };
  if (!need(0, 38)) return truncated(bitCount >= 6 ? static_cast<int>(b.u(0, 6)) : -1, 38);
  const int type = static_cast<int>(b.u(0, 6));
  switch (type) {
    case 1:
    case 2:
    case 3: {
      if (!need(type, 143)) return truncated(type, 143);
      AisPosition p;
      p.type = type;
      p.mmsi = b.u(8, 30);
      p.navStatus = static_cast<int>(b.u(38, 4));
      int rot = b.s(42, 8);
      if (rot != -128) {
        p.rotRaw = rot;
        if (rot >= -126 && rot <= 126) {
          double d = rot / 4.733;
          p.rotDegPerMin = rot < 0 ? -d * d : d * d;
        }
      }
      readMotion(b, 50, p);
      r.message = p;
      break;
    }
    case 5: {
      if (!need(type, 420)) return truncated(type, 420);
      AisStatic s;
      s.type = 5;
      s.mmsi = b.u(8, 30);
      uint32_t imo = b.u(40, 30);
      if (imo != 0) s.imo = imo;
      s.callsign = b.text(70, 7, bitCount);
      s.name = b.text(112, 20, bitCount);
      s.shipType = shipTypeOf(b.u(232, 8));
      dimensions(b, 240, &s);
      s.etaMonth = static_cast<int>(b.u(274, 4));
      s.etaDay = static_cast<int>(b.u(278, 5));
      s.etaHour = static_cast<int>(b.u(283, 5));
      s.etaMinute = static_cast<int>(b.u(288, 6));
      uint32_t draught = b.u(294, 8);
      if (draught != 0) s.draughtM = draught / 10.0;
      s.destination = b.text(302, 20, bitCount);
      r.message = std::move(s);
      break;
    }
    case 18: {
      if (!need(type, 139)) return truncated(type, 139);
      r.message = classBPosition(b, 18);
      break;
    }
    case 19: {
      if (!need(type, 301)) return truncated(type, 301);
      AisClassBExtended x;
      x.position = classBPosition(b, 19);
      x.statics.type = 19;
      x.statics.mmsi = x.position.mmsi;
      x.statics.name = b.text(143, 20, bitCount);
      x.statics.shipType = shipTypeOf(b.u(263, 8));
      dimensions(b, 271, &x.statics);
      r.message = std::move(x);
      break;
    }
    case 24: {
      if (!need(type, 40)) return truncated(type, 40);
      int part = static_cast<int>(b.u(38, 2));
      if (part > 1) {
        char v[8];
        std::snprintf(v, sizeof v, "%d", part);
        return reject(r, "type 24 part number", v, "reserved (only 0 = A and 1 = B exist)");
      }
      AisStatic s;
      s.type = 24;
      s.mmsi = b.u(8, 30);
      s.part = part;
      if (part == 0) {
        if (!need(type, 160)) return truncated(type, 160);
        s.name = b.text(40, 20, bitCount);
      } else {
        if (!need(type, 162)) return truncated(type, 162);
        s.shipType = shipTypeOf(b.u(40, 8));
        s.callsign = b.text(90, 7, bitCount);
        if (s.mmsi / 10000000 != 98) dimensions(b, 132, &s);  // auxiliary craft carry a mothership MMSI here
      }
      r.message = std::move(s);
      break;
    }
    default: {
      if (type == 0 || type > 27) {
        char v[8];
        std::snprintf(v, sizeof v, "%d", type);
        return reject(r, "type", v, "not a defined AIS message type (1..27)");
      }
      r.outcome = AisOutcome::Skipped;
      r.skippedType = type;
      ++counters_.skipped;
      ++counters_.skippedByType[static_cast<size_t>(type)];
      return r;
    }
  }
  r.outcome = AisOutcome::Decoded;
  ++counters_.accepted;
  return r;
}

void AisPayloadWriter::put(uint32_t value, int bits) {
  for (int i = bits - 1; i >= 0; --i) bits_.push_back(i < 32 && ((value >> i) & 1u) != 0);
}

void AisPayloadWriter::putText(std::string_view text, int chars) {
  for (int i = 0; i < chars; ++i) {
    char c = i < static_cast<int>(text.size()) ? text[static_cast<size_t>(i)] : '@';
    unsigned v = static_cast<unsigned char>(c);
    if (v >= 'a' && v <= 'z') v -= 32;
    put(v >= 64 ? v - 64 : v, 6);
  }
}

std::string AisPayloadWriter::payload(int* fillBits) const {
  std::string out;
  int fill = (6 - bitCount() % 6) % 6;
  for (int i = 0; i < bitCount() + fill; i += 6) {
    unsigned v = 0;
    for (int j = 0; j < 6; ++j) v = (v << 1) | (i + j < bitCount() && bits_[static_cast<size_t>(i + j)] ? 1u : 0u);
    out.push_back(static_cast<char>(v < 40 ? v + 48 : v + 56));
  }
  if (fillBits) *fillBits = fill;
  return out;
}

std::string aisSentence(std::string_view payload, int fillBits, int count, int num, std::string_view seq, char channel,
                        std::string_view talker) {
  std::string body(talker);
  body += ',' + std::to_string(count) + ',' + std::to_string(num) + ',';
  body += seq;
  body += ',';
  if (channel) body += channel;
  body += ',';
  body += payload;
  body += ',' + std::to_string(fillBits);
  char cs[8];
  std::snprintf(cs, sizeof cs, "*%02X", nmeaChecksum(body));
  return "!" + body + cs;
}

std::vector<std::string> aisSentences(std::string_view payload, int fillBits, std::string_view seq, char channel,
                                      size_t charsPerSentence) {
  std::vector<std::string> out;
  size_t parts = std::max<size_t>(1, (payload.size() + charsPerSentence - 1) / charsPerSentence);
  for (size_t i = 0; i < parts; ++i)
    out.push_back(aisSentence(payload.substr(i * charsPerSentence, charsPerSentence), i + 1 == parts ? fillBits : 0,
                              static_cast<int>(parts), static_cast<int>(i + 1), parts > 1 ? seq : "", channel));
  return out;
}

}  // namespace alertbus
