// @ts-check
// guestflow's Node client: the proto files loaded at run time by
// @grpc/proto-loader, behind a small wrapper that holds the channel and the
// caller's credentials, sets a deadline on unary calls, sends a request id
// with every start and import, and rejects with GuestflowError. The messages
// are plain objects: camelCase fields, enums as their names, 64-bit integers
// as strings (proto-loader's `longs: String`).
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.join(__dirname, '..', '..', '..', 'proto');
const CSV_CHUNK_BYTES = 64 * 1024;
const TERMINAL_STATES = new Set([
  'ONBOARDING_STATE_SUCCEEDED', 'ONBOARDING_STATE_FAILED', 'ONBOARDING_STATE_CANCELLED',
]);

/** A failed call: `code` is the gRPC status name (e.g. "NOT_FOUND"). */
class GuestflowError extends Error {
  /** @param {grpc.ServiceError} e */
  constructor(e) {
    const code = grpc.status[e.code] ?? String(e.code);
    super(`${code}: ${e.details}`);
    this.code = code;
    this.details = e.details;
  }
}

/**
 * @typedef {object} Connection
 * @property {string} server         host:port
 * @property {boolean} [plaintext]   no TLS (a development server on loopback)
 * @property {string} [token]        the caller's bearer token
 * @property {string} [caFile]       CAs of the server's certificate (default: the system's)
 * @property {string} [certFile]     a client certificate, for a caller known by one
 * @property {string} [keyFile]      its key
 * @property {string} [serverName]   the name the server's certificate carries
 */

/** The CLI's environment (docs/security.md). @returns {Connection} */
function connectionFromEnv() {
  const env = process.env;
  let token = env.GUESTFLOW_TOKEN || undefined;
  if (env.GUESTFLOW_TOKEN_FILE) token = readTokenFile(env.GUESTFLOW_TOKEN_FILE);
  return {
    server: env.GUESTFLOW_SERVER || '127.0.0.1:50051',
    plaintext: env.GUESTFLOW_PLAINTEXT === '1' || env.GUESTFLOW_PLAINTEXT === 'true',
    token,
    caFile: env.GUESTFLOW_TLS_CA || undefined,
    certFile: env.GUESTFLOW_TLS_CERT || undefined,
    keyFile: env.GUESTFLOW_TLS_KEY || undefined,
    serverName: env.GUESTFLOW_TLS_SERVER_NAME || undefined,
  };
}

/** The first line of a token file only its owner (and group) may read. */
function readTokenFile(file) {
  if (fs.statSync(file).mode & 0o007) {
    throw new Error(`${file} is readable or writable by others (chmod o-rwx ${file})`);
  }
  const token = fs.readFileSync(file, 'utf8').split('\n')[0].trim();
  if (!token) throw new Error(`${file} is empty`);
  return token;
}

function loadServices() {
  const definition = protoLoader.loadSync(
      ['guestflow/v1/onboarding_service.proto', 'guestflow/v1/batch_service.proto',
        'guestflow/v1/admin_service.proto'],
      {includeDirs: [PROTO_ROOT], keepCase: false, longs: String, enums: String, defaults: true,
        oneofs: true});
  /** @type {any} */
  const loaded = grpc.loadPackageDefinition(definition);
  return loaded.guestflow.v1;
}

class GuestflowClient {
  /**
   * @param {Connection} connection
   * @param {{timeoutMs?: number}} [options]
   */
  constructor(connection, {timeoutMs = 30000} = {}) {
    const v1 = loadServices();
    let credentials;
    const channelOptions = {};
    if (connection.plaintext) {
      credentials = grpc.credentials.createInsecure();
    } else {
      const read = (/** @type {string|undefined} */ f) => (f ? fs.readFileSync(f) : null);
      credentials = grpc.credentials.createSsl(
          read(connection.caFile), read(connection.keyFile), read(connection.certFile));
      if (connection.serverName) {
        channelOptions['grpc.ssl_target_name_override'] = connection.serverName;
      }
    }
    // Metadata rather than call credentials: those are sent over TLS only,
    // and a development server may be plain text.
    this.metadata = new grpc.Metadata();
    if (connection.token) this.metadata.add('authorization', `Bearer ${connection.token}`);
    this.timeoutMs = timeoutMs;
    this.onboardings = new v1.OnboardingService(connection.server, credentials, channelOptions);
    this.batches = new v1.BatchService(connection.server, credentials, channelOptions);
    this.admin = new v1.AdminService(connection.server, credentials, channelOptions);
  }

  close() {
    for (const c of [this.onboardings, this.batches, this.admin]) c.close();
  }

  /** @returns {Promise<any>} */
  unary(stub, method, request) {
    const deadline = new Date(Date.now() + this.timeoutMs);
    return new Promise((resolve, reject) => {
      stub[method](request, this.metadata, {deadline}, (err, response) => {
        if (err) reject(new GuestflowError(err)); else resolve(response);
      });
    });
  }

  /** Each message of a server stream, rejecting with GuestflowError. */
  async* stream(call) {
    try {
      for await (const message of call) yield message;
    } catch (e) {
      throw new GuestflowError(/** @type {grpc.ServiceError} */ (e));
    }
  }

  // ---- onboardings --------------------------------------------------------

  /**
   * Starts onboarding one guest; a new request id unless given.
   * @param {{tenant: string, email: string, firstName: string, lastName: string,
   *          usageLocation: string, roles?: string[], requestId?: string}} guest
   */
  onboard({tenant, email, firstName, lastName, usageLocation, roles = [], requestId}) {
    return this.unary(this.onboardings, 'StartOnboarding', {
      tenant,
      guest: {email, firstName, lastName, usageLocation},
      options: {roles},
      requestId: requestId || crypto.randomUUID(),
    });
  }

  get(name) {
    return this.unary(this.onboardings, 'GetOnboarding', {name});
  }

  /** Each event of the onboarding's history with the onboarding then, until it ends. */
  watch(name) {
    return this.stream(this.onboardings.WatchOnboarding({name}, this.metadata));
  }

  /** The onboarding once it has ended. */
  async wait(name) {
    let last;
    for await (const response of this.watch(name)) last = response.onboarding;
    return last && TERMINAL_STATES.has(last.state) ? last : this.get(name);
  }

  cancel(name) {
    return this.unary(this.onboardings, 'CancelOnboarding', {name});
  }

  retry(name) {
    return this.unary(this.onboardings, 'RetryOnboarding', {name});
  }

  // ---- bulk import ----------------------------------------------------------

  /**
   * Streams a CSV file into a batch. The same file with the same request id
   * again goes on where it stopped.
   * @param {string} tenant
   * @param {string} file
   * @param {{requestId?: string, validateOnly?: boolean}} [options]
   */
  importCsv(tenant, file, {requestId, validateOnly = false} = {}) {
    return new Promise((resolve, reject) => {
      const call = this.batches.CreateBatch(this.metadata, (err, batch) => {
        if (err) reject(new GuestflowError(err)); else resolve(batch);
      });
      call.write({header: {tenant, requestId: requestId || crypto.randomUUID(), validateOnly}});
      const input = fs.createReadStream(file, {highWaterMark: CSV_CHUNK_BYTES});
      input.on('data', (chunk) => {
        if (!call.write({csvChunk: chunk})) {
          input.pause();
          call.once('drain', () => input.resume());
        }
      });
      input.on('end', () => call.end());
      input.on('error', (e) => {
        call.cancel();
        reject(e);
      });
    });
  }

  /** The batch after each change, until it is done. */
  watchBatch(name) {
    return this.stream(this.batches.WatchBatch({name}, this.metadata));
  }

  async* batchItems(name) {
    let pageToken = '';
    do {
      const page = await this.unary(this.batches, 'ListBatchItems',
          {parent: name, pageSize: 1000, pageToken});
      yield* page.items;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  // ---- admin ----------------------------------------------------------------

  async tenants() {
    return (await this.unary(this.admin, 'ListTenants', {})).tenants;
  }
}

module.exports = {GuestflowClient, GuestflowError, connectionFromEnv, readTokenFile, TERMINAL_STATES};
