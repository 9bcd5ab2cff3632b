// Staleness of quiet inputs and unreadable feed bodies; see input_health.h.
#include "adapters/common/input_health.h"

#include "model/decode_util.h"  // formatIsoUtc

namespace alertbus::adapter {

bool QuietInput::stale(int64_t nowMs) const {
  if (staleAfterMs_ <= 0) return false;
  return nowMs - (lastInputMs_ ? lastInputMs_ : startedMs_) > staleAfterMs_;
}

std::string QuietInput::staleDetail() const {
  std::string limit = " (stale_after_s = " + std::to_string(staleAfterMs_ / 1000) + ")";
  if (lastInputMs_ == 0) return "no input since start " + formatIsoUtc(startedMs_) + limit;
  return "no input since " + formatIsoUtc(lastInputMs_) + limit;
}

std::string unreadableBody(const Output& out) {
  if (out.accepted > 0 || out.rejected == 0 || !out.messages.empty()) return "";
  const InputProblem* first = nullptr;
  size_t errors = 0;
  for (auto& p : out.problems)
    if (p.level == InputProblem::Level::error && errors++ == 0) first = &p;
  std::string why = "HTTP 200 body unreadable: ";
  if (!first) return why + "the parser took nothing from it";
  why += first->position + ": " + first->field + "=" + first->value + ": " + first->reason;
  if (errors > 1) why += " (and " + std::to_string(errors - 1) + " more problems)";
  return why;
}

}  // namespace alertbus::adapter
