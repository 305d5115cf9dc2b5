// Hands one message to an SMTP server with libcurl: connect (TLS from the
// first byte, or STARTTLS which must succeed), EHLO, AUTH when configured,
// MAIL FROM, RCPT TO, DATA (libcurl dot-stuffs the body), QUIT.
//
// Thread-safe: every call has its own connection and easy handle.
#pragma once

#include <string>

#include "smtp_settings.h"

namespace guestflow::smtp {

struct SendResult {
  enum class Kind {
    kSent,       // the server took responsibility for the message (250 to DATA)
    kTransient,  // worth retrying: no connection, a timeout, a 4xx reply
    kPermanent,  // will not get better by itself: a 5xx reply, TLS or AUTH refused
  };
  Kind kind = Kind::kSent;
  std::string error;   // for people: what failed, the server's own words
  long smtp_code = 0;  // the last SMTP reply code, 0 when none
};

SendResult SendMail(const SmtpSettings& settings, const std::string& recipient,
                    const std::string& message);

// Connects, greets, upgrades to TLS and authenticates as SendMail would, then
// disconnects without sending anything: kSent means all of that worked.
SendResult CheckConnection(const SmtpSettings& settings);

}  // namespace guestflow::smtp
