"""guestflow's Python client: the generated guestflow.v1 stubs behind a small
typed wrapper (client.py). See client/python/README.md."""

from guestflow_client.client import (TERMINAL_STATES, Batch, Connection, GuestflowClient,
                                     GuestflowError, Onboarding, read_token_file)

__all__ = ["TERMINAL_STATES", "Batch", "Connection", "GuestflowClient", "GuestflowError",
           "Onboarding", "read_token_file"]
