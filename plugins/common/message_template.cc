#include "common/message_template.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "kainjow/mustache.hpp"

namespace guestflow::plugins {
namespace {

namespace fs = std::filesystem;
namespace mustache = kainjow::mustache;

constexpr size_t kMaxTemplateBytes = 256 * 1024;

constexpr char kDefaultSubject[] = "Your access to {{organization.name}} Dynamics 365";

// kainjow leaves the line break of a standalone closing tag whose section
// did not render, so closing tags here run on into the next line.
constexpr char kDefaultText[] = R"(Hello {{guest.name}},

{{organization.name}} has given you access to its Microsoft Dynamics 365 environment.

{{#redeem_url}}
1. First accept the invitation to {{organization.name}}. You must do this before you can sign in:

   {{redeem_url}}

{{/redeem_url}}{{^redeem_url}}
1. First accept the invitation to {{organization.name}} that Microsoft sent you (from invites@microsoft.com). You must do this before you can sign in.

{{/redeem_url}}2. Then open Dynamics 365:

   {{instance_url}}

Sign in with {{guest.email}}.
{{#organization.support_contact}}
Questions? Contact {{organization.support_contact}}.
{{/organization.support_contact}}
-- 
Sent by guestflow for {{organization.name}}
)";

constexpr char kDefaultHtml[] = R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Your access to {{organization.name}} Dynamics 365</title></head>
<body style="font-family: Segoe UI, Helvetica, Arial, sans-serif; line-height: 1.5">
<p>Hello {{guest.name}},</p>
<p>{{organization.name}} has given you access to its Microsoft Dynamics 365 environment.</p>
<ol>
{{#redeem_url}}
<li><a href="{{redeem_url}}">Accept the invitation to {{organization.name}}</a>. You must do this before you can sign in.</li>
{{/redeem_url}}{{^redeem_url}}
<li>Accept the invitation to {{organization.name}} that Microsoft sent you (from invites@microsoft.com). You must do this before you can sign in.</li>
{{/redeem_url}}<li>Then open <a href="{{instance_url}}">Dynamics 365</a>: {{instance_url}}</li>
</ol>
<p>Sign in with {{guest.email}}.</p>
{{#organization.support_contact}}
<p>Questions? Contact {{organization.support_contact}}.</p>
{{/organization.support_contact}}<p style="color: #666">Sent by guestflow for {{organization.name}}</p>
</body>
</html>
)";

// Every field, in the order KnownFields() lists them.
constexpr const char* kFieldNames[] = {"guest.name",
                                       "guest.first_name",
                                       "guest.last_name",
                                       "guest.display_name",
                                       "guest.email",
                                       "instance_url",
                                       "redeem_url",
                                       "organization.name",
                                       "organization.support_contact",
                                       "onboarding",
                                       "tenant"};

// How a sample renders the fields that may be absent.
enum class Sample { kReal, kAllSet, kOptionalFalse };

void SetString(mustache::data& object, const char* key, const std::string& value, bool optional,
               Sample sample) {
  if (sample == Sample::kOptionalFalse && optional) {
    object.set(key, mustache::data(false));
  } else if (sample != Sample::kReal) {
    object.set(key, std::string("sample"));
  } else if (!value.empty()) {
    object.set(key, value);
  }
}

mustache::data ToData(const Fields& f, Sample sample) {
  mustache::data guest = mustache::data::type::object;
  SetString(guest, "name", f.guest_name, false, sample);
  SetString(guest, "first_name", f.first_name, true, sample);
  SetString(guest, "last_name", f.last_name, true, sample);
  SetString(guest, "display_name", f.display_name, true, sample);
  SetString(guest, "email", f.email, false, sample);
  mustache::data organization = mustache::data::type::object;
  SetString(organization, "name", f.organization_name, false, sample);
  SetString(organization, "support_contact", f.support_contact, true, sample);
  mustache::data root = mustache::data::type::object;
  root.set("guest", guest);
  root.set("organization", organization);
  SetString(root, "instance_url", f.instance_url, false, sample);
  SetString(root, "redeem_url", f.redeem_url, true, sample);
  SetString(root, "onboarding", f.onboarding, false, sample);
  SetString(root, "tenant", f.tenant, false, sample);
  return root;
}

// A context that remembers every name it could not resolve.
class RecordingContext : public mustache::context<std::string> {
 public:
  explicit RecordingContext(const mustache::data* data) : mustache::context<std::string>(data) {}

  const mustache::data* get(const std::string& name) const override {
    const mustache::data* found = mustache::context<std::string>::get(name);
    if (found == nullptr) unknown_.insert(name);
    return found;
  }
  const mustache::data* get_partial(const std::string& name) const override {
    unknown_.insert(">" + name);
    return nullptr;
  }
  const std::set<std::string>& unknown() const { return unknown_; }

 private:
  mutable std::set<std::string> unknown_;
};

std::string Identity(const std::string& s) { return s; }

std::string RenderOne(const std::string& source, const mustache::data& data, bool html) {
  mustache::mustache tmpl(source);
  if (!html) tmpl.set_custom_escape(Identity);
  return tmpl.render(data);
}

std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool space = static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Throws when `source` does not parse, or names a field or partial that
// does not exist.
void Validate(const std::string& source, const std::string& what, const std::string& plugin,
              bool html) {
  mustache::mustache tmpl(source);
  if (!tmpl.is_valid()) {
    throw std::invalid_argument(plugin + " settings: " + what + ": " + tmpl.error_message());
  }
  if (!html) tmpl.set_custom_escape(Identity);
  for (Sample sample : {Sample::kAllSet, Sample::kOptionalFalse}) {
    const mustache::data data = ToData(Fields{}, sample);
    RecordingContext context(&data);
    const std::string rendered = tmpl.render(context);
    if (!tmpl.is_valid()) {
      throw std::invalid_argument(plugin + " settings: " + what + ": " + tmpl.error_message());
    }
    if (!context.unknown().empty()) {
      const std::string& name = *context.unknown().begin();
      if (name.front() == '>') {
        throw std::invalid_argument(plugin + " settings: " + what + " includes the partial '" +
                                    name.substr(1) + "'; partials are not supported");
      }
      throw std::invalid_argument(plugin + " settings: " + what + " refers to the unknown field '" +
                                  name + "' (known: " + MessageTemplate::KnownFields() + ")");
    }
    if (what == "template.subject" && sample == Sample::kAllSet && OneLine(rendered).empty()) {
      throw std::invalid_argument(plugin + " settings: template.subject renders empty");
    }
  }
}

std::string ReadTemplateFile(const std::string& name, const std::string& key,
                             const std::string& base_dir, const std::string& plugin) {
  fs::path path(name);
  if (path.is_relative()) {
    if (base_dir.empty()) {
      throw std::invalid_argument(plugin + " settings: " + key + " is the relative path \"" + name +
                                  "\" and there is no base_dir to resolve it against");
    }
    path = fs::path(base_dir) / path;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::invalid_argument(plugin + " settings: cannot read " + key + " " + path.string() +
                                ": " + std::strerror(errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  if (text.size() > kMaxTemplateBytes) {
    throw std::invalid_argument(plugin + " settings: " + key + " " + path.string() +
                                " is larger than 256 KiB");
  }
  return text;
}

}  // namespace

Fields FieldsFrom(const StepInput& in) {
  Fields f;
  f.first_name = OneLine(in.first_name);
  f.last_name = OneLine(in.last_name);
  f.display_name = OneLine(in.display_name);
  f.email = OneLine(in.email);
  f.guest_name = f.display_name;
  if (f.guest_name.empty()) f.guest_name = OneLine(f.first_name + " " + f.last_name);
  if (f.guest_name.empty()) f.guest_name = f.email;
  f.instance_url = OneLine(in.instance_url);
  f.redeem_url = OneLine(in.OutputOf("invite", "invite_redeem_url"));
  f.tenant = in.tenant;
  f.organization_name = OneLine(in.organization_name);
  if (f.organization_name.empty()) f.organization_name = in.tenant;
  f.support_contact = OneLine(in.support_contact);
  f.onboarding = in.onboarding;
  if (f.onboarding.rfind("onboardings/", 0) == 0) f.onboarding.erase(0, 12);
  return f;
}

std::string MessageTemplate::KnownFields() {
  std::string list;
  for (const char* name : kFieldNames) list += (list.empty() ? "" : ", ") + std::string(name);
  return list;
}

MessageTemplate::MessageTemplate(const nlohmann::json& settings, const std::string& plugin)
    : subject_(kDefaultSubject), text_(kDefaultText), html_(kDefaultHtml) {
  auto it = settings.find("template");
  if (it != settings.end() && !it->is_null()) {
    if (!it->is_object()) {
      throw std::invalid_argument(plugin +
                                  " settings: 'template' must be an object with subject, text, "
                                  "html, text_file or html_file");
    }
    std::string base_dir;
    if (auto b = settings.find("base_dir"); b != settings.end() && b->is_string()) {
      base_dir = b->get<std::string>();
    }
    for (auto field = it->begin(); field != it->end(); ++field) {
      const std::string& key = field.key();
      if (key != "subject" && key != "text" && key != "html" && key != "text_file" &&
          key != "html_file") {
        throw std::invalid_argument(plugin + " settings: unknown key 'template." + key +
                                    "' (known: subject, text, html, text_file, html_file)");
      }
      if (!field->is_string()) {
        throw std::invalid_argument(plugin + " settings: 'template." + key + "' must be a string");
      }
    }
    for (const char* body : {"text", "html"}) {
      const std::string file_key = std::string(body) + "_file";
      if (it->contains(body) && it->contains(file_key)) {
        throw std::invalid_argument(plugin + " settings: give template." + body + " or template." +
                                    file_key + ", not both");
      }
    }
    if (it->contains("subject")) subject_ = (*it)["subject"].get<std::string>();
    if (it->contains("text")) text_ = (*it)["text"].get<std::string>();
    if (it->contains("html")) html_ = (*it)["html"].get<std::string>();
    if (it->contains("text_file")) {
      text_ = ReadTemplateFile((*it)["text_file"], "template.text_file", base_dir, plugin);
    }
    if (it->contains("html_file")) {
      html_ = ReadTemplateFile((*it)["html_file"], "template.html_file", base_dir, plugin);
    }
  }
  Validate(subject_, "template.subject", plugin, false);
  Validate(text_, "template.text", plugin, false);
  Validate(html_, "template.html", plugin, true);
}

RenderedMessage MessageTemplate::Render(const Fields& fields) const {
  const mustache::data data = ToData(fields, Sample::kReal);
  RenderedMessage out;
  out.subject = OneLine(RenderOne(subject_, data, false));
  out.text = RenderOne(text_, data, false);
  if (!html_.empty()) out.html = RenderOne(html_, data, true);
  return out;
}

}  // namespace guestflow::plugins
