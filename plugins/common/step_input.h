// The run_step input the host builds (server/plugin_host/plugin_host.h,
// PluginHost::Run), read once into plain fields for the Microsoft plugins.
// Header-only; never throws on a missing or mistyped field (it reads as
// empty), only on input that is not a JSON object.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/graph_client.h"
#include "nlohmann/json.hpp"

namespace guestflow::plugins {

struct StepInput {
  std::string onboarding;  // "onboardings/<id>"
  std::string tenant;      // the tenant id
  std::string step;
  int64_t attempt = 1;  // 1-based

  // guest
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string display_name;
  std::string usage_location;

  // options
  bool send_invitation_message = false;
  std::string invitation_message;

  // tenant_settings
  std::string directory;
  std::string graph_url;
  std::string instance_url;
  std::string organization_name;  // tenant_settings.display_name
  std::string support_contact;

  nlohmann::json outputs = nlohmann::json::object();       // {step: {key: value}}
  nlohmann::json step_outputs = nlohmann::json::object();  // {key: value}

  // outputs[step][key], or "".
  std::string OutputOf(std::string_view earlier_step, std::string_view key) const {
    return StringAt(ObjectAt(outputs, earlier_step), key);
  }
  // This step's own output `key` from an earlier attempt, or "".
  std::string PreviousOutput(std::string_view key) const { return StringAt(step_outputs, key); }
};

// Throws std::invalid_argument when `json_text` is not a JSON object (the
// SDK turns that into a plugin error: the host broke its contract).
inline StepInput ParseStepInput(std::string_view json_text) {
  const std::optional<nlohmann::json> j = ParseObject(json_text);
  if (!j.has_value()) throw std::invalid_argument("run_step input is not a JSON object");
  StepInput in;
  in.onboarding = StringAt(*j, "onboarding");
  in.tenant = StringAt(*j, "tenant");
  in.step = StringAt(*j, "step");
  if (auto it = j->find("attempt"); it != j->end() && it->is_number_integer()) {
    in.attempt = it->get<int64_t>();
  }
  const nlohmann::json guest = ObjectAt(*j, "guest");
  in.email = StringAt(guest, "email");
  in.first_name = StringAt(guest, "first_name");
  in.last_name = StringAt(guest, "last_name");
  in.display_name = StringAt(guest, "display_name");
  in.usage_location = StringAt(guest, "usage_location");
  const nlohmann::json options = ObjectAt(*j, "options");
  if (auto it = options.find("send_invitation_message"); it != options.end() && it->is_boolean()) {
    in.send_invitation_message = it->get<bool>();
  }
  in.invitation_message = StringAt(options, "invitation_message");
  const nlohmann::json tenant = ObjectAt(*j, "tenant_settings");
  in.directory = StringAt(tenant, "directory");
  in.graph_url = StringAt(tenant, "graph_url");
  in.instance_url = StringAt(tenant, "instance_url");
  in.organization_name = StringAt(tenant, "display_name");
  in.support_contact = StringAt(tenant, "support_contact");
  in.outputs = ObjectAt(*j, "outputs");
  in.step_outputs = ObjectAt(*j, "step_outputs");
  return in;
}

}  // namespace guestflow::plugins
