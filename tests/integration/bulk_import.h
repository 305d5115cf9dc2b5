// What the crash and replica tests share: a CSV of numbered guests, the
// emulator's knobs for a kill test, the webhook notifier in place of the
// demo's outbox, and the checks that every side effect in the cloud happened
// exactly once and that a notification sent again kept its delivery id.
#pragma once

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_process.h"
#include "tests/support/webhook_receiver.h"

namespace guestflow::itest {

// Latency, so that a kill lands inside steps; the cloud's lags, so that
// steps wait; no throttling, so that the test is about crashes.
inline constexpr char kKillTestKnobs[] = R"({
    "throttle_scale": 0,
    "latency_ms": {"token": 5, "graph": 15, "admin": 15, "dataverse": 20},
    "replication_lag_ms": 100, "usage_location_lag_ms": 100,
    "license_propagation_ms": 100, "dataverse_sync_delay_ms": 100})";

inline std::string BulkEmail(absl::string_view prefix, int i) {
  return absl::StrCat(prefix, i, "@fabrikam.com");
}

// Header and `n` rows: <prefix><i>@fabrikam.com, Guest, Number<i>, GB.
inline std::string BulkCsv(absl::string_view prefix, int n) {
  std::string csv = "Email,FirstName,LastName,UsageLocation\r\n";
  for (int i = 0; i < n; ++i)
    absl::StrAppend(&csv, BulkEmail(prefix, i), ",Guest,Number", i, ",GB\r\n");
  return csv;
}

// The demo config with webhook_notifier (to `url`, signed with the secret in
// the environment variable HOOK_SECRET) in place of the outbox notifier.
// Empty when the demo config no longer has the lines this replaces.
inline std::string WithWebhookNotifier(std::string config, const std::string& url) {
  const size_t at = config.find("notifier: {name: outbox_notifier");
  if (at == std::string::npos || config.find("outbox_notifier.so]") == std::string::npos) return "";
  config.replace(at, config.find('\n', at) - at,
                 absl::StrCat("notifier: {name: webhook_notifier, settings: {url: \"", url,
                              "\", format: generic, secret: {env: HOOK_SECRET}}}"));
  return absl::StrReplaceAll(config,
                             {{"outbox_notifier.so]", "outbox_notifier.so, webhook_notifier.so]"}});
}

// The emulator's counters (GET /_emulator/counters); an empty object, and a
// test failure, when it does not answer.
inline nlohmann::json CloudCounters(const EmulatorProcess& emulator) {
  const std::string body = emulator.Counters();
  EXPECT_FALSE(body.empty()) << "GET /_emulator/counters failed";
  return nlohmann::json::parse(body.empty() ? "{}" : body, nullptr, false);
}

// The emulator's counters show one invitation and one guest user per email,
// and one license assignment, role association and group membership per user.
inline void ExpectEverySideEffectOnce(const nlohmann::json& c, absl::string_view prefix, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string email = BulkEmail(prefix, i);
    EXPECT_EQ(c["invitations_by_email"].value(email, 0), 1) << email;
    EXPECT_EQ(c["guests_created_by_email"].value(email, 0), 1) << email;
  }
  EXPECT_EQ(c["invitations_by_email"].size(), static_cast<size_t>(n));
  for (const char* counter : {"license_assignments", "role_associations", "group_member_adds"}) {
    EXPECT_EQ(c[counter].size(), static_cast<size_t>(n)) << counter;  // one role each
    for (const auto& [key, times] : c[counter].items())
      EXPECT_EQ(times, 1) << counter << " " << key;
  }
}

// Every one of `n` guests got a notification; each guest's deliveries all
// carry one delivery id. Returns how many deliveries were repeats.
inline int CountRepeatedNotifications(const testing::WebhookReceiver& receiver, int n) {
  std::map<std::string, std::set<std::string>> ids_by_guest;
  std::map<std::string, int> deliveries_by_guest;
  for (const testing::WebhookDelivery& d : receiver.Deliveries()) {
    const nlohmann::json payload = nlohmann::json::parse(d.body, nullptr, false);
    EXPECT_TRUE(payload.is_object()) << d.body;
    if (!payload.is_object()) continue;
    const std::string email = payload["guest"]["email"].get<std::string>();
    ids_by_guest[email].insert(d.Header("x-guestflow-delivery"));
    ++deliveries_by_guest[email];
  }
  EXPECT_EQ(deliveries_by_guest.size(), static_cast<size_t>(n));
  int repeats = 0;
  for (const auto& [email, times] : deliveries_by_guest) {
    repeats += times - 1;
    EXPECT_EQ(ids_by_guest[email].size(), 1u) << email << " got deliveries under several ids";
    EXPECT_FALSE(ids_by_guest[email].begin()->empty()) << email;
  }
  return repeats;
}

}  // namespace guestflow::itest
