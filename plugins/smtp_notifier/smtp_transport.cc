#include "smtp_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace guestflow::smtp {
namespace {

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadChunk(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data->size() - upload->offset);
  std::memcpy(buffer, upload->data->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// Keeps the server's last reply line ("550 5.1.1 <x@y>: Recipient address
// rejected..."): libcurl's own message only has the code.
int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  std::string line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.size() >= 3 && (line[0] == '4' || line[0] == '5')) {
    *static_cast<std::string*>(user) = line.substr(0, 300);
  }
  return 0;
}

bool IsTlsFailure(CURLcode code) {
  return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CONNECT_ERROR ||
         code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CACERT_BADFILE ||
         code == CURLE_SSL_CIPHER || code == CURLE_SSL_ISSUER_ERROR ||
         code == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

}  // namespace

SendResult CheckConnection(const SmtpSettings& settings) { return SendMail(settings, "", ""); }

SendResult SendMail(const SmtpSettings& settings, const std::string& recipient,
                    const std::string& message) {
  const bool connect_only = recipient.empty();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return {SendResult::Kind::kTransient, "smtp_notifier: curl_easy_init failed", 0};
  CURL* h = curl.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::string server_reply;
  Upload upload{&message};
  const std::string url = settings.Url();
  const std::string mail_from = "<" + settings.from.address + ">";
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + recipient + ">").c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt_owner(rcpt, curl_slist_free_all);

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(settings.timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(settings.timeout_ms, 10000)));
  curl_easy_setopt(h, CURLOPT_USE_SSL,
                   settings.security == Security::kStartTls ? static_cast<long>(CURLUSESSL_ALL)
                                                            : static_cast<long>(CURLUSESSL_NONE));
  if (!settings.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, settings.ca_file.c_str());
  if (!settings.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, settings.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, settings.password.c_str());
  }
  if (connect_only) {
    // SMTP's connect phase is greeting, EHLO, STARTTLS and AUTH.
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadChunk);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE, static_cast<long>(message.size()));
  }
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, OnDebug);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, &server_reply);
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // feeds OnDebug; it prints nothing

  const CURLcode code = curl_easy_perform(h);
  long smtp_code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &smtp_code);
  if (code == CURLE_OK) return {SendResult::Kind::kSent, "", smtp_code};

  const std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(code);
  std::string error = "smtp_notifier: " + url + ": " + detail;
  if (!server_reply.empty()) error += " (server: " + server_reply + ")";

  if (IsTlsFailure(code)) {
    return {SendResult::Kind::kPermanent,
            error + "; TLS failed: check 'security', 'ca_file' and the server's certificate",
            smtp_code};
  }
  if (code == CURLE_USE_SSL_FAILED) {
    return {SendResult::Kind::kPermanent,
            error + "; the server does not offer STARTTLS (use security: tls for port 465)",
            smtp_code};
  }
  if (code == CURLE_LOGIN_DENIED) {
    return {SendResult::Kind::kPermanent, error + "; the server refused the username or password",
            smtp_code};
  }
  if (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT ||
      code == CURLE_OPERATION_TIMEDOUT) {
    return {SendResult::Kind::kTransient, error + "; the SMTP server is unreachable", smtp_code};
  }
  if (smtp_code >= 500 && smtp_code < 600) {
    return {SendResult::Kind::kPermanent, error, smtp_code};
  }
  return {SendResult::Kind::kTransient, error, smtp_code};
}

}  // namespace guestflow::smtp
