// KannelSender implementation; see kannel_sender.h. The only file of the outlet that talks to Kannel.
#include "outlets/sms/kannel_sender.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

#include "outlets/sms/callbacks.h"

namespace alertbus::sms {
namespace {

std::string trim(std::string s) {
  auto notSpace = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
  s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

bool validNumber(const std::string& to) {
  size_t i = (!to.empty() && to[0] == '+') ? 1 : 0;
  size_t digits = to.size() - i;
  if (digits < 3 || digits > 20) return false;
  for (; i < to.size(); ++i)
    if (to[i] < '0' || to[i] > '9') return false;
  return true;
}

SubmitResult result(SubmitResult::Kind kind, std::string detail, int status = 0) {
  SubmitResult r;
  r.kind = kind;
  r.detail = std::move(detail);
  r.httpStatus = status;
  return r;
}

}  // namespace

int chooseKannelCoding(const std::string& utf8Text) {
  for (unsigned char c : utf8Text) {
    if (c == '\n' || c == '\r') continue;
    if (c < 0x20 || c > 0x7E || c == '`') return 2;
  }
  return 0;
}

SubmitResult classifyKannelAnswer(int httpStatus, const std::string& body) {
  std::string detail = "kannel HTTP " + std::to_string(httpStatus) + ": " + trim(body);
  using K = SubmitResult::Kind;
  if (httpStatus >= 200 && httpStatus < 300) return result(K::accepted, detail, httpStatus);
  if (httpStatus == 408 || httpStatus == 429 || httpStatus >= 500) return result(K::temporary, detail, httpStatus);
  if (httpStatus >= 400) return result(K::permanent, detail, httpStatus);
  return result(K::temporary, detail, httpStatus);
}

KannelSender::KannelSender(KannelOptions options) : options_(std::move(options)) {}

std::string KannelSender::requestTarget(const SmsRequest& request) const {
  int coding = options_.ucs2Always ? 2 : chooseKannelCoding(request.text);
  int maxParts = std::clamp(request.maxParts, 1, 255);
  std::string q = options_.path + "?username=" + percentEncode(options_.username) +
                  "&password=" + percentEncode(options_.password) + "&to=" + percentEncode(request.to) +
                  "&text=" + percentEncode(request.text) + "&coding=" + std::to_string(coding) +
                  "&charset=UTF-8&max-messages=" + std::to_string(maxParts);
  if (!options_.from.empty()) q += "&from=" + percentEncode(options_.from);
  if (!options_.smsc.empty()) q += "&smsc=" + percentEncode(options_.smsc);
  if (request.wantReports && !options_.callbackBaseUrl.empty()) {
    // 1 delivered + 2 failed + 8 SMSC accepted + 16 SMSC rejected; 4 (buffered) is noise for us.
    q += "&dlr-mask=27&dlr-url=" + percentEncode(options_.callbackBaseUrl + dlrUrlPath(request.deliveryId));
  }
  return q;
}

SubmitResult KannelSender::submit(const SmsRequest& request) {
  using K = SubmitResult::Kind;
  if (!isValidDeliveryId(request.deliveryId))
    return result(K::permanent, "deliveryId '" + request.deliveryId + "': not 1-128 of A-Z a-z 0-9 - . _ ~");
  if (!validNumber(request.to)) return result(K::permanent, "to '" + request.to + "': not an E.164 number");
  if (request.text.empty()) return result(K::permanent, "text: empty");

  // One client per call: httplib::Client is not meant to be shared across threads, and a fresh connection
  // per SMS costs little next to the SMSC round trip.
  httplib::Client client(options_.host, options_.port);
  client.set_connection_timeout(options_.connectTimeoutMs / 1000, (options_.connectTimeoutMs % 1000) * 1000);
  client.set_read_timeout(options_.ioTimeoutMs / 1000, (options_.ioTimeoutMs % 1000) * 1000);
  client.set_write_timeout(options_.ioTimeoutMs / 1000, (options_.ioTimeoutMs % 1000) * 1000);
  client.set_keep_alive(false);
  auto res = client.Get(requestTarget(request).c_str());
  if (!res) {
    return result(K::temporary, "kannel " + options_.host + ":" + std::to_string(options_.port) + ": " +
                                    httplib::to_string(res.error()));
  }
  return classifyKannelAnswer(res->status, res->body);
}

}  // namespace alertbus::sms
