#include "invite_step.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/graph_client.h"
#include "nlohmann/json.hpp"

namespace guestflow::azure_ad_invite {
namespace {

// Outputs that say an invitation may have been made unseen.
constexpr char kInterruptedAt[] = "interrupted_at_ms";  // set by the engine
constexpr char kInvitationUncertainAt[] = "invitation_uncertain_at_ms";

using nlohmann::json;
using plugins::GraphClient;
using plugins::GraphFailure;
using sdk::StepResult;

// What the invitation resource documents as not permitted in
// invitedUserEmailAddress.
constexpr std::string_view kForbiddenEmailCharacters = "~!#$%^&*()+=[]{}\\/|;:\"<>?,";

// Empty when Graph would take `email` as invitedUserEmailAddress, else why
// not. Checked before any call: a bad address is the caller's to fix.
std::string EmailProblem(std::string_view email) {
  const size_t at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return "it needs exactly one '@'";
  }
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ') return "it contains a space or control character";
    if (kForbiddenEmailCharacters.find(c) != std::string_view::npos) {
      return std::string("the character '") + c + "' is not permitted";
    }
  }
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  if (local.empty() || domain.find('.') == std::string_view::npos) {
    return "it needs a user name and a domain";
  }
  if (local.front() == '.' || local.front() == '-' || local.back() == '.' || local.back() == '-') {
    return "the user name cannot start or end with '.' or '-'";
  }
  return "";
}

std::string DisplayName(const plugins::StepInput& in) {
  if (!in.display_name.empty()) return in.display_name;
  std::string name = in.first_name;
  if (!in.first_name.empty() && !in.last_name.empty()) name += " ";
  return name + in.last_name;
}

// GET /users?$filter=mail eq '...' or otherMails/any(m:m eq '...'): the
// check-first lookup of Microsoft's external-user onboarding guidance.
// Sets *user_id ("" when nobody has the address); a StepResult on failure.
std::optional<StepResult> FindUserByEmail(GraphClient& graph, const std::string& email,
                                          std::string* user_id) {
  const std::string literal = plugins::ODataString(email);
  const std::string filter = "mail eq " + literal + " or otherMails/any(m:m eq " + literal + ")";
  const sdk::HttpResponse r = graph.Get("/users?$filter=" + plugins::UrlEncode(filter) +
                                        "&$select=id,userPrincipalName,mail,otherMails,userType");
  if (r.status != 200) return GraphFailure(r, "GET /users?$filter (look up the guest by email)");
  const std::optional<json> body = plugins::ParseObject(r.body);
  const json value = body.has_value() ? body->value("value", json()) : json();
  if (!value.is_array()) {
    return StepResult::Retry("GET /users answered 200 without a value array");
  }
  user_id->clear();
  for (const json& user : value) {
    const std::string id = plugins::StringAt(user, "id");
    if (id.empty()) continue;
    // Prefer the user whose primary mail it is.
    if (user_id->empty() || plugins::EqualsIgnoreCase(plugins::StringAt(user, "mail"), email)) {
      *user_id = id;
    }
  }
  return std::nullopt;
}

// POST /invitations; on success records the outputs, sets *user_id and
// returns nullopt.
std::optional<StepResult> Invite(sdk::Call& call, GraphClient& graph,
                                 const InviteSettings& settings, const plugins::StepInput& in,
                                 std::string* user_id) {
  const std::string redirect =
      !settings.redirect_url.empty() ? settings.redirect_url : in.instance_url;
  if (redirect.empty()) {
    return StepResult::Failed(
        "no inviteRedirectUrl: the tenant has no Dynamics instance URL and the invite plugin "
        "setting redirect_url is not set");
  }
  json body = {{"invitedUserEmailAddress", in.email},
               {"inviteRedirectUrl", redirect},
               {"invitedUserType", "Guest"},
               {"sendInvitationMessage", in.send_invitation_message}};
  const std::string display_name = DisplayName(in);
  if (!display_name.empty()) body["invitedUserDisplayName"] = display_name;
  json info = json::object();
  if (!in.invitation_message.empty()) info["customizedMessageBody"] = in.invitation_message;
  if (!settings.cc_email.empty()) {
    info["ccRecipients"] = json::array({{{"emailAddress", {{"address", settings.cc_email}}}}});
  }
  if (!info.empty()) body["invitedUserMessageInfo"] = info;

  const sdk::HttpResponse r = graph.Send("POST", "/invitations", body);
  if (r.status == 0 || r.status >= 500) {
    // No answer, or one that does not say whether the invitation was made:
    // the next attempt gives the guest time to show up before inviting again.
    call.SetOutput(kInvitationUncertainAt, std::to_string(call.NowUnixMs()));
  }
  if (r.status == 403) {
    const std::string message = plugins::CloudMessage(r);
    if (plugins::ContainsIgnoreCase(message, "Guest invitations not allowed")) {
      return StepResult::Failed("POST /invitations answered 403: " + message +
                                " (the tenant's external collaboration settings must let this "
                                "app invite guests)");
    }
  }
  if (r.status != 201 && r.status != 200) return GraphFailure(r, "POST /invitations");
  const std::optional<json> invitation = plugins::ParseObject(r.body);
  const std::string id =
      invitation.has_value()
          ? plugins::StringAt(plugins::ObjectAt(*invitation, "invitedUser"), "id")
          : "";
  if (id.empty()) {
    return StepResult::Failed("POST /invitations answered " + std::to_string(r.status) +
                              " without invitedUser.id");
  }
  *user_id = id;
  call.SetOutput("invited_user_id", id);
  call.SetOutput("existing_user", "false");
  call.SetOutput("invitation_id", plugins::StringAt(*invitation, "id"));
  call.SetOutput("invite_redeem_url", plugins::StringAt(*invitation, "inviteRedeemUrl"));
  call.Log(GF_LOG_INFO, "invited " + in.email + " as user " + id);
  return std::nullopt;
}

// An earlier attempt may have invited the guest without our knowing: the
// process died mid-step (the engine's interrupted_at_ms) or the POST got no
// answer (invitation_uncertain_at_ms). A new guest takes a while to show up
// in the directory's lookups, so until reinvite_grace_ms after that moment,
// a guest not found yet is waited for rather than invited again. nullopt:
// go ahead and invite.
std::optional<StepResult> AwaitUncertainInvitation(sdk::Call& call, const InviteSettings& settings,
                                                   const plugins::StepInput& in) {
  int64_t since = 0;
  for (const char* key : {kInterruptedAt, kInvitationUncertainAt}) {
    int64_t at = 0;
    const std::string text = in.PreviousOutput(key);
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), at);
    if (!text.empty() && error == std::errc() && end == text.data() + text.size()) {
      since = std::max(since, at);
    }
  }
  if (since == 0 || call.NowUnixMs() - since >= settings.reinvite_grace_ms) return std::nullopt;
  return StepResult::Wait(settings.replication_poll_ms,
                          "an earlier attempt may have invited " + in.email +
                              "; waiting for the directory to show the guest before inviting "
                              "again");
}

// POST /groups/{id}/members/$ref (microsoft-apis.md E): nullopt once the user
// is a member, else the step's result (a Wait while the user replicates).
std::optional<StepResult> AddToGroup(sdk::Call& call, GraphClient& graph,
                                     const InviteSettings& settings, const std::string& user_id) {
  const std::string& group = settings.security_group_id;
  const json ref = {{"@odata.id", graph.graph_url() + "/v1.0/directoryObjects/" + user_id}};
  const sdk::HttpResponse r =
      graph.Send("POST", "/groups/" + plugins::UrlEncode(group) + "/members/$ref", ref);
  const std::string message = plugins::CloudMessage(r);
  const bool already = r.status == 400 && plugins::ContainsIgnoreCase(message, "already exist");
  if (r.status == 204 || already) {
    call.SetOutput("group_member", "true");
    return std::nullopt;
  }
  if (r.status == 404) {
    if (plugins::ContainsIgnoreCase(message, group)) {
      return StepResult::Failed(
          "security group " + group +
          " (invite plugin setting security_group_id) does not exist: " + message);
    }
    // A new guest takes a while to reach every directory replica.
    return StepResult::Wait(settings.replication_poll_ms,
                            "user " + user_id + " is not replicated yet: " + message);
  }
  return GraphFailure(r, "POST /groups/" + group + "/members/$ref");
}

}  // namespace

StepResult RunInviteStep(sdk::Call& call, const InviteSettings& settings,
                         const plugins::StepInput& in) {
  if (in.email.empty()) return StepResult::Failed("the guest has no email address");
  if (const std::string problem = EmailProblem(in.email); !problem.empty()) {
    return StepResult::Failed("cannot invite '" + in.email + "': " + problem);
  }
  GraphClient graph(call, in.graph_url, settings.graph_scope);
  if (std::optional<StepResult> failed = graph.Authenticate()) return *failed;

  std::string user_id = in.PreviousOutput("invited_user_id");
  if (user_id.empty()) {
    if (std::optional<StepResult> failed = FindUserByEmail(graph, in.email, &user_id)) {
      return *failed;
    }
    if (!user_id.empty()) {
      call.SetOutput("invited_user_id", user_id);
      call.SetOutput("existing_user", "true");
      call.Log(GF_LOG_INFO, in.email + " already is user " + user_id + "; not inviting again");
    } else if (std::optional<StepResult> wait = AwaitUncertainInvitation(call, settings, in)) {
      return *wait;
    } else if (std::optional<StepResult> failed = Invite(call, graph, settings, in, &user_id)) {
      return *failed;
    }
  }

  if (!settings.security_group_id.empty() && in.PreviousOutput("group_member") != "true") {
    if (std::optional<StepResult> not_yet = AddToGroup(call, graph, settings, user_id)) {
      return *not_yet;
    }
  }
  return StepResult::Succeeded();
}

}  // namespace guestflow::azure_ad_invite
