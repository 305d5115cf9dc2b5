#!/usr/bin/python3
"""Onboards one guest and follows it to the end, then imports a CSV file and
follows the batch to done, printing one JSON line per step of the way.

    GUESTFLOW_SERVER=127.0.0.1:50051 GUESTFLOW_PLAINTEXT=1 GUESTFLOW_TOKEN=... \\
    PYTHONPATH=build/client/python/gen:client/python \\
    /usr/bin/python3 client/python/examples/onboard_and_import.py \\
        --tenant contoso --email ada@fabrikam.com --first-name Ada --last-name Lovelace \\
        --usage-location GB --role Salesperson --csv guests.csv

Exit status: 0 when the guest and every row of the file ended SUCCEEDED, 2
when one did not, 1 when a call failed.
"""

import argparse
import json
import sys

from google.protobuf import json_format

from guestflow_client import Connection, GuestflowClient, GuestflowError
from guestflow.v1 import onboarding_pb2


def emit(kind, message=None, **fields):
    line = {"kind": kind, **fields}
    if message is not None:
        line["message"] = json_format.MessageToDict(message)
    print(json.dumps(line), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--first-name", required=True)
    parser.add_argument("--last-name", required=True)
    parser.add_argument("--usage-location", required=True)
    parser.add_argument("--role", action="append", default=[])
    parser.add_argument("--csv", help="a bulk-invite CSV file to import afterwards")
    args = parser.parse_args()

    succeeded = onboarding_pb2.ONBOARDING_STATE_SUCCEEDED
    all_succeeded = True
    try:
        with GuestflowClient(Connection.from_env()) as client:
            started = client.onboard(args.tenant, args.email, args.first_name, args.last_name,
                                     args.usage_location, roles=args.role)
            emit("started", started)
            for response in client.watch(started.name, timeout=300):
                emit("event", response.event)
            ended = client.get(started.name)
            emit("ended", ended)
            all_succeeded = ended.state == succeeded

            if args.csv:
                batch = client.import_csv(args.tenant, args.csv)
                emit("imported", batch)
                for snapshot in client.watch_batch(batch.name, timeout=600):
                    emit("batch", snapshot)
                for item in client.batch_items(batch.name):
                    emit("item", item)
                    all_succeeded = all_succeeded and item.state == succeeded
    except GuestflowError as e:
        emit("error", code=e.code.name, error=e.message)
        return 1
    return 0 if all_succeeded else 2


if __name__ == "__main__":
    sys.exit(main())
