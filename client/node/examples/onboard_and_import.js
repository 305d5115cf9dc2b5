#!/usr/bin/env node
// Onboards one guest and follows it to the end, then imports a CSV file and
// follows the batch to done, printing one JSON line per step of the way (the
// same lines as client/python/examples/onboard_and_import.py).
//
//   GUESTFLOW_SERVER=127.0.0.1:50051 GUESTFLOW_PLAINTEXT=1 GUESTFLOW_TOKEN=... \
//   NODE_PATH=build/client/node/node_modules \
//   node client/node/examples/onboard_and_import.js --tenant contoso \
//       --email ada@fabrikam.com --first-name Ada --last-name Lovelace \
//       --usage-location GB --role Salesperson --csv guests.csv
//
// Exit status: 0 when the guest and every row ended SUCCEEDED, 2 when one did
// not, 1 when a call failed.
'use strict';

const {parseArgs} = require('node:util');
const {GuestflowClient, GuestflowError, connectionFromEnv} = require('../src/client.js');

function emit(kind, message, fields = {}) {
  const line = {kind, ...fields};
  if (message !== undefined) line.message = message;
  process.stdout.write(JSON.stringify(line) + '\n');
}

async function main() {
  const {values: args} = parseArgs({options: {
    'tenant': {type: 'string'}, 'email': {type: 'string'}, 'first-name': {type: 'string'},
    'last-name': {type: 'string'}, 'usage-location': {type: 'string'},
    'role': {type: 'string', multiple: true, default: []}, 'csv': {type: 'string'},
  }});
  for (const required of ['tenant', 'email', 'first-name', 'last-name', 'usage-location']) {
    if (!args[required]) {
      process.stderr.write(`--${required} is required\n`);
      return 64;
    }
  }
  const client = new GuestflowClient(connectionFromEnv());
  let allSucceeded = true;
  try {
    const started = await client.onboard({
      tenant: args.tenant, email: args.email, firstName: args['first-name'],
      lastName: args['last-name'], usageLocation: args['usage-location'], roles: args.role,
    });
    emit('started', started);
    for await (const response of client.watch(started.name)) emit('event', response.event);
    const ended = await client.get(started.name);
    emit('ended', ended);
    allSucceeded = ended.state === 'ONBOARDING_STATE_SUCCEEDED';

    if (args.csv) {
      const batch = await client.importCsv(args.tenant, args.csv);
      emit('imported', batch);
      for await (const snapshot of client.watchBatch(batch.name)) emit('batch', snapshot);
      for await (const item of client.batchItems(batch.name)) {
        emit('item', item);
        allSucceeded = allSucceeded && item.state === 'ONBOARDING_STATE_SUCCEEDED';
      }
    }
  } catch (e) {
    if (!(e instanceof GuestflowError)) throw e;
    emit('error', undefined, {code: e.code, error: e.details});
    return 1;
  } finally {
    client.close();
  }
  return allSucceeded ? 0 : 2;
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
