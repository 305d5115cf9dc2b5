"""A small typed wrapper over the generated guestflow.v1 stubs.

It holds the channel and the caller's credentials, sets a deadline on every
unary call, sends a request id with every StartOnboarding and CreateBatch (so
that a retried call never onboards twice), and turns gRPC errors into
GuestflowError. Everything else is the generated messages themselves: the
wrapper returns them as they are.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import grpc

from guestflow.v1 import admin_service_pb2, admin_service_pb2_grpc
from guestflow.v1 import batch_service_pb2, batch_service_pb2_grpc
from guestflow.v1 import onboarding_pb2
from guestflow.v1 import onboarding_service_pb2, onboarding_service_pb2_grpc

Onboarding = onboarding_pb2.Onboarding
Batch = batch_service_pb2.Batch

# States after which an onboarding changes no more (unless retried).
TERMINAL_STATES = frozenset({
    onboarding_pb2.ONBOARDING_STATE_SUCCEEDED,
    onboarding_pb2.ONBOARDING_STATE_FAILED,
    onboarding_pb2.ONBOARDING_STATE_CANCELLED,
})

_CSV_CHUNK_BYTES = 64 * 1024


class GuestflowError(Exception):
    """An RPC failed: `code` is the grpc.StatusCode, `message` the server's."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Connection:
    """Where guestflowd is and how to prove who we are.

    TLS unless `plaintext` (a development server on loopback). `ca_file`: the
    CAs of the server's certificate (default: the system's); `cert_file` and
    `key_file`: a client certificate, for a caller known by one; `token`: the
    caller's bearer token.
    """

    server: str = "127.0.0.1:50051"
    plaintext: bool = False
    token: Optional[str] = field(default=None, repr=False)
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    server_name: Optional[str] = None

    @staticmethod
    def from_env() -> "Connection":
        """The CLI's environment: GUESTFLOW_SERVER, GUESTFLOW_PLAINTEXT,
        GUESTFLOW_TLS_CA / _CERT / _KEY / _SERVER_NAME, and the token from
        GUESTFLOW_TOKEN_FILE or GUESTFLOW_TOKEN."""
        env = os.environ.get
        token = env("GUESTFLOW_TOKEN") or None
        token_file = env("GUESTFLOW_TOKEN_FILE")
        if token_file:
            token = read_token_file(token_file)
        return Connection(
            server=env("GUESTFLOW_SERVER") or "127.0.0.1:50051",
            plaintext=env("GUESTFLOW_PLAINTEXT", "") in ("1", "true"),
            token=token,
            ca_file=env("GUESTFLOW_TLS_CA") or None,
            cert_file=env("GUESTFLOW_TLS_CERT") or None,
            key_file=env("GUESTFLOW_TLS_KEY") or None,
            server_name=env("GUESTFLOW_TLS_SERVER_NAME") or None,
        )


def read_token_file(path: str) -> str:
    """The first line of a token file that only its owner (and group) may read."""
    if os.stat(path).st_mode & 0o007:
        raise PermissionError(f"{path} is readable or writable by others (chmod o-rwx {path})")
    with open(path, encoding="utf-8") as f:
        token = f.readline().strip()
    if not token:
        raise ValueError(f"{path} is empty")
    return token


def _read(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def _channel(c: Connection) -> grpc.Channel:
    if c.plaintext:
        return grpc.insecure_channel(c.server)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(c.ca_file),
        private_key=_read(c.key_file),
        certificate_chain=_read(c.cert_file))
    options = [("grpc.ssl_target_name_override", c.server_name)] if c.server_name else []
    return grpc.secure_channel(c.server, credentials, options=options)


class GuestflowClient:
    """guestflowd's three services behind one object. Thread-safe, like the
    channel; close() (or `with`) releases it."""

    def __init__(self, connection: Connection, timeout: float = 30.0):
        self._channel = _channel(connection)
        # Metadata rather than call credentials: gRPC sends call credentials
        # over TLS only, and a development server may be plain text.
        self._metadata = (("authorization", f"Bearer {connection.token}"),) if connection.token else ()
        self._timeout = timeout
        self._onboardings = onboarding_service_pb2_grpc.OnboardingServiceStub(self._channel)
        self._batches = batch_service_pb2_grpc.BatchServiceStub(self._channel)
        self._admin = admin_service_pb2_grpc.AdminServiceStub(self._channel)

    def __enter__(self) -> "GuestflowClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _unary(self, method, request):
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise GuestflowError(e.code(), e.details()) from None

    # ---- onboardings -----------------------------------------------------

    def onboard(self, tenant: str, email: str, first_name: str, last_name: str,
                usage_location: str, roles: Sequence[str] = (),
                request_id: Optional[str] = None) -> Onboarding:
        """Starts onboarding one guest; a new request id unless given."""
        request = onboarding_service_pb2.StartOnboardingRequest(
            tenant=tenant,
            guest=onboarding_pb2.Guest(email=email, first_name=first_name, last_name=last_name,
                                       usage_location=usage_location),
            options=onboarding_pb2.OnboardingOptions(roles=list(roles)),
            request_id=request_id or str(uuid.uuid4()))
        return self._unary(self._onboardings.StartOnboarding, request)

    def get(self, name: str) -> Onboarding:
        return self._unary(self._onboardings.GetOnboarding,
                           onboarding_service_pb2.GetOnboardingRequest(name=name))

    def list(self, tenant: str = "", page_size: int = 100) -> Iterator[Onboarding]:
        """Every onboarding (of `tenant`), newest first, page after page."""
        token = ""
        while True:
            page = self._unary(self._onboardings.ListOnboardings,
                               onboarding_service_pb2.ListOnboardingsRequest(
                                   tenant=tenant, page_size=page_size, page_token=token))
            yield from page.onboardings
            token = page.next_page_token
            if not token:
                return

    def watch(self, name: str,
              timeout: Optional[float] = None) -> Iterator[onboarding_service_pb2.WatchOnboardingResponse]:
        """Each event of the onboarding's history, with the onboarding as it
        was then, until it ends."""
        try:
            yield from self._onboardings.WatchOnboarding(
                onboarding_service_pb2.WatchOnboardingRequest(name=name),
                timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise GuestflowError(e.code(), e.details()) from None

    def wait(self, name: str, timeout: Optional[float] = None) -> Onboarding:
        """The onboarding once it has ended (SUCCEEDED, FAILED or CANCELLED)."""
        last = None
        for response in self.watch(name, timeout):
            last = response.onboarding
        return last if last is not None and last.state in TERMINAL_STATES else self.get(name)

    def cancel(self, name: str) -> Onboarding:
        return self._unary(self._onboardings.CancelOnboarding,
                           onboarding_service_pb2.CancelOnboardingRequest(name=name))

    def retry(self, name: str) -> Onboarding:
        return self._unary(self._onboardings.RetryOnboarding,
                           onboarding_service_pb2.RetryOnboardingRequest(name=name))

    # ---- bulk import -----------------------------------------------------

    def import_csv(self, tenant: str, path: str, request_id: Optional[str] = None,
                   validate_only: bool = False) -> Batch:
        """Streams a CSV file (Microsoft's bulk-invite columns or ours) into a
        batch. Sending the same file again with the same request id goes on
        where it stopped."""
        header = batch_service_pb2.CreateBatchRequest(
            header=batch_service_pb2.BatchHeader(
                tenant=tenant, request_id=request_id or str(uuid.uuid4()),
                validate_only=validate_only))

        def messages():
            yield header
            with open(path, "rb") as f:
                while chunk := f.read(_CSV_CHUNK_BYTES):
                    yield batch_service_pb2.CreateBatchRequest(csv_chunk=chunk)

        try:
            return self._batches.CreateBatch(messages(), timeout=None, metadata=self._metadata)
        except grpc.RpcError as e:
            raise GuestflowError(e.code(), e.details()) from None

    def watch_batch(self, name: str, timeout: Optional[float] = None) -> Iterator[Batch]:
        """The batch after each change, until it is done."""
        try:
            yield from self._batches.WatchBatch(batch_service_pb2.WatchBatchRequest(name=name),
                                                timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise GuestflowError(e.code(), e.details()) from None

    def batch_items(self, name: str) -> Iterator[batch_service_pb2.BatchItem]:
        token = ""
        while True:
            page = self._unary(self._batches.ListBatchItems,
                               batch_service_pb2.ListBatchItemsRequest(
                                   parent=name, page_size=1000, page_token=token))
            yield from page.items
            token = page.next_page_token
            if not token:
                return

    # ---- admin -----------------------------------------------------------

    def tenants(self) -> Sequence[admin_service_pb2.Tenant]:
        return self._unary(self._admin.ListTenants, admin_service_pb2.ListTenantsRequest()).tenants
