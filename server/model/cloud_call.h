// CloudCall: one call with a side effect in the cloud (an HTTP POST, PATCH,
// PUT or DELETE a plugin sent through the host: invitation, user update,
// license, group membership, role association, webhook notification), as
// the audit trail keeps it. Reads (GET, HEAD) are not side effects and are
// not kept.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace guestflow {

struct CloudCall {
  int64_t sequence = 0;  // assigned by the store, increasing; 0 before
  std::string onboarding_id;
  std::string tenant;
  std::string step;    // "invite", "license", ...
  std::string plugin;  // the plugin that made the call
  std::string actor;   // the guestflowd replica that ran the step (its lease owner name)
  std::string caller;  // who asked for the onboarding (Onboarding::requested_by)
  absl::Time time = absl::InfinitePast();  // when the request was sent
  absl::Duration duration = absl::ZeroDuration();
  std::string method;           // "POST", ...
  std::string url;              // without its query string (it may carry a filter on an email)
  std::string service;          // the rate-limit bucket: "graph", "dataverse", "admin", ...
  int status = 0;               // the HTTP status; 0 when no answer came
  std::string transport_error;  // why no answer came
  std::string request_id;  // the cloud's id of the request (request-id, x-ms-service-request-id)
};

}  // namespace guestflow
