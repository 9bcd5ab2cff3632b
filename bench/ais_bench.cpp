// AIS decoding benchmark: AisDecoder::feed() over ~1,000,000 generated sentences (types 1/3/18 single-part,
// some two-part type 5) against a baseline that only finds the '!' and '*' and validates the NMEA checksum,
// in the same run; median of 5 runs each. Exits 1 if the decoder does not decode every generated message.
// Issue 3 target: >= 1,000,000 sentences/s decoding on one core. Usage: bench_ais [sentences=1000000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/maritime/ais.h"

using namespace alertbus;

namespace {

using Clock = std::chrono::steady_clock;

std::string positionPayload(std::mt19937& rng, int type, int* fill) {
  AisPayloadWriter w;
  w.put(static_cast<uint32_t>(type), 6);
  w.put(0, 2);
  w.put(200000000 + rng() % 600000000, 30);
  if (type == 18) w.put(0, 8);
  else {
    w.put(rng() % 9, 4);
    w.put(rng() % 256, 8);
  }
  w.put(rng() % 1023, 10);
  w.put(rng() % 2, 1);
  w.put(static_cast<uint32_t>(static_cast<int32_t>(rng() % 216000000) - 108000000), 28);
  w.put(static_cast<uint32_t>(static_cast<int32_t>(rng() % 108000000) - 54000000), 27);
  w.put(rng() % 3600, 12);
  w.put(rng() % 360, 9);
  w.put(rng() % 60, 6);
  w.put(0, type == 18 ? 29 : 25);
  return w.payload(fill);
}

std::string type5Payload(std::mt19937& rng, int* fill) {
  AisPayloadWriter w;
  w.put(5, 6);
  w.put(0, 2);
  w.put(200000000 + rng() % 600000000, 30);
  w.put(0, 2);
  w.put(9000000 + rng() % 999999, 30);
  w.putText("CALL" + std::to_string(rng() % 100), 7);
  w.putText("VESSEL " + std::to_string(rng() % 100000), 20);
  w.put(70, 8);
  w.put(100, 9);
  w.put(30, 9);
  w.put(10, 6);
  w.put(10, 6);
  w.put(1, 4);
  w.put(7, 4);
  w.put(14, 5);
  w.put(9, 5);
  w.put(30, 6);
  w.put(105, 8);
  w.putText("ROTTERDAM", 20);
  w.put(0, 2);
  return w.payload(fill);
}

// Baseline: what any reader must do per line; find the sentence, XOR to '*', compare the two hex digits.
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
bool checksumOk(std::string_view line) {
  size_t bang = line.find('!');
  if (bang == std::string_view::npos) return false;
  size_t star = line.find('*', bang);
  if (star == std::string_view::npos || star + 2 >= line.size()) return false;
  uint8_t x = 0;
  for (size_t i = bang + 1; i < star; ++i) x ^= static_cast<uint8_t>(line[i]);
  return hexValue(line[star + 1]) * 16 + hexValue(line[star + 2]) == x;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::string(argv[1]) == "--quick";  // scripts/bench.sh --quick
  if (quick) --argc, ++argv;
  const size_t target = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : (quick ? 200000 : 1000000);
  std::mt19937 rng(42);
  std::string text;
  text.reserve(target * 60);
  std::vector<std::pair<size_t, size_t>> spans;
  size_t messages = 0;
  int seq = 0;
  auto add = [&](const std::string& s) {
    spans.emplace_back(text.size(), s.size() + 2);
    text += s;
    text += "\r\n";
  };
  while (spans.size() < target) {
    unsigned pick = rng() % 100;
    int fill = 0;
    if (pick < 5) {
      std::string p = type5Payload(rng, &fill);
      for (const auto& s : aisSentences(p, fill, std::to_string(seq++ % 10), rng() % 2 ? 'A' : 'B')) add(s);
    } else {
      int type = pick < 55 ? 1 : pick < 70 ? 3 : 18;
      add(aisSentence(positionPayload(rng, type, &fill), fill, 1, 1, "", rng() % 2 ? 'A' : 'B'));
    }
    ++messages;
  }
  std::vector<std::string_view> lines;
  lines.reserve(spans.size());
  for (auto [at, n] : spans) lines.emplace_back(text.data() + at, n);
  std::printf("bench_ais: %zu sentences, %zu messages, %zu bytes\n", lines.size(), messages, text.size());

  std::vector<double> base, full;
  size_t ok = 0, decoded = 0;
  for (int run = 0; run < 5; ++run) {
    auto t0 = Clock::now();
    ok = 0;
    for (std::string_view l : lines) ok += checksumOk(l);
    auto t1 = Clock::now();
    AisDecoder d;
    decoded = 0;
    int64_t ms = 1719792000000LL;
    for (std::string_view l : lines) decoded += d.feed(l, ms).outcome == AisOutcome::Decoded;
    auto t2 = Clock::now();
    base.push_back(lines.size() / std::chrono::duration<double>(t1 - t0).count());
    full.push_back(lines.size() / std::chrono::duration<double>(t2 - t1).count());
  }
  double b = median(base), f = median(full);
  std::printf("baseline checksum-only: %.0f sentences/s (%zu valid)\n", b, ok);
  std::printf("full decode:            %.0f sentences/s (%zu messages decoded)\n", f, decoded);
  std::printf("ratio full/baseline:    %.3f; target >= 1000000 sentences/s: %s\n", f / b,
              f >= 1e6 ? "met" : "NOT met");
  if (ok != lines.size() || decoded != messages) {
    std::fprintf(stderr, "bench_ais: mismatch: %zu/%zu checksums valid, %zu/%zu messages decoded\n", ok, lines.size(),
                 decoded, messages);
    return 1;
  }
  return 0;
}
