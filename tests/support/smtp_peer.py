#!/usr/bin/python3
"""A real SMTP server for the notifier tests, on Debian's python3-aiosmtpd.

Listens on 127.0.0.1 (port 0: the kernel picks one) and writes the port to
--port-file once it accepts connections. Every message it accepts is written
to --out as <n>.eml (the bytes received, with CRLF line endings) and one JSON
line in <out>/envelopes.jsonl: {"file", "mail_from", "rcpt_tos", "auth_user",
"tls"}.

  --mode plain|starttls|tls   no TLS / STARTTLS offered (and required when
                              --auth is set) / implicit TLS from the first byte
  --cert FILE --key FILE      the server certificate (starttls and tls)
  --auth USER:PASSWORD        require AUTH (PLAIN or LOGIN) with these
  --refuse PREFIX             RCPT TO whose local part starts with PREFIX gets
                              550 5.1.1 (a permanent refusal)
  --tempfail PREFIX           ... gets 451 4.3.0 (a transient one)

Stops on SIGTERM or SIGINT.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, out, refuse, tempfail, implicit_tls):
        self.out = out
        self.implicit_tls = implicit_tls
        self.refuse = refuse
        self.tempfail = tempfail
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if self.refuse and local.startswith(self.refuse):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if self.tempfail and local.startswith(self.tempfail):
            return "451 4.3.0 <%s>: Temporary lookup failure, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = "%d.eml" % self.count
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        tmp = os.path.join(self.out, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(content)
        os.rename(tmp, os.path.join(self.out, name))
        auth = session.auth_data
        record = {
            "file": name,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "tls": self.implicit_tls or session.ssl is not None,
        }
        with open(os.path.join(self.out, "envelopes.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 2.0.0 Ok: queued as %d" % self.count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--refuse")
    parser.add_argument("--tempfail")
    args = parser.parse_args()
    # The test reads outcomes, not the server's chatter (a refused TLS
    # handshake is a traceback in aiosmtpd's log).
    warnings.filterwarnings("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    os.makedirs(args.out, exist_ok=True)

    context = None
    if args.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    user = password = None
    if args.auth:
        user, password = args.auth.split(":", 1)

    def authenticate(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                and auth_data.password.decode() == password):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    recorder = Recorder(args.out, args.refuse, args.tempfail, args.mode == "tls")

    def factory():
        return SMTP(
            recorder,
            hostname="smtp-peer.test",
            tls_context=context if args.mode == "starttls" else None,
            require_starttls=args.mode == "starttls",
            auth_required=bool(args.auth),
            # With implicit TLS the whole session is encrypted, but aiosmtpd
            # only counts STARTTLS as TLS.
            auth_require_tls=args.mode == "starttls",
            authenticator=authenticate if args.auth else None,
        )

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(factory, host="127.0.0.1", port=0,
                           ssl=context if args.mode == "tls" else None))
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, args.port_file)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())


if __name__ == "__main__":
    main()
