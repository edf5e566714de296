/**
 * `startSpaceEmulator`: a local JetBrains Space (OAuth server and profile API) over real HTTP,
 * with request recording and fault injection, for tests and local development.
 *
 * The request pipeline: read the body (capped at 64 KB, 413 beyond), record the request, apply
 * the first matching fault, route to a handler, write the handler's reply (maybe dripped).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SpaceEmulatorStats } from './bounds.js';
import type { EmulatorRequest, EmulatorState } from './context.js';
import { MAX_BODY_BYTES } from './defaults.js';
import { Directory, type SpaceEmulatorMembershipInput, type SpaceEmulatorRole, type SpaceEmulatorTeam } from './directory.js';
import { doorsAPI, type SpaceEmulatorDoors } from './doors.js';
import { eventsAPI, type SpaceEmulatorEvents } from './events.js';
import { cannedReply, FaultList, type SpaceEmulatorFault } from './faults.js';
import { GrantStore } from './grants.js';
import { TokenSigner } from './jwt.js';
import { checkClient, findUser, resolveOptions, resolveUser, type SpaceEmulatorClient, type SpaceEmulatorOptions, type SpaceEmulatorUser } from './options.js';
import { Params, ParamsError } from './params.js';
import { apiError, type Reply } from './reply.js';
import { RequestLog, type RequestRecord, type SpaceEmulatorRequest } from './requests.js';
import { route } from './routes.js';
import { Transport } from './transport.js';

/** A running emulator. Permanent tokens, key rotation and `sendToApp` are described in doors.ts, `sendEvent` in events.ts. */
export interface SpaceEmulator extends SpaceEmulatorDoors, SpaceEmulatorEvents {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:41234`; use it as the Space org URL. */
  readonly url: string;
  readonly port: number;
  /** Closes the server and destroys open sockets (hung requests included), so test runners can exit. */
  close(): Promise<void>;
  /** User id or username (or a list, approved in turn) that `/oauth/auth` approves without a page; null shows the sign-in page. */
  setAutoApprove(user: string | readonly string[] | null): void;
  /** Adds a fault after the existing ones (faults are matched in order). */
  inject(fault: SpaceEmulatorFault): void;
  clearFaults(): void;
  /** The latest requests (at most `maxRecordedRequests`, default 1000), oldest first (a snapshot). */
  readonly requests: ReadonlyArray<SpaceEmulatorRequest>;
  /**
   * Counts retained requests (see `requests`) to `path` whose form body or query has all `fields`,
   * e.g. `count('/oauth/token', { grant_type: 'refresh_token' })`. Exact while fewer than
   * `maxRecordedRequests` requests arrived since the last `resetRequests()`.
   */
  count(path: string, fields?: Record<string, string>): number;
  resetRequests(): void;
  /** Requests that presented a rotated-out refresh token (strict rotation mode); 0 for a correct client. */
  readonly refreshTokenReuseCount: number;
  /** Revokes all grants, or one user's: refresh tokens answer `invalid_grant`, access tokens get 401. */
  revokeRefreshTokens(userIdOrUsername?: string): void;
  /** Every access token issued so far is treated as expired by the API. */
  expireAccessTokens(): void;
  /** Runs the emulator's clock ahead (positive) or behind (negative); affects issued and checked expiry. */
  setClockOffset(ms: number): void;
  /** Registers another application; throws a TypeError if the id is taken or the client is malformed. */
  addClient(client: SpaceEmulatorClient): void;
  readonly users: ReadonlyArray<SpaceEmulatorUser>;
  /** The directory's teams (a snapshot, every field filled in). */
  readonly teams: ReadonlyArray<Readonly<SpaceEmulatorTeam>>;
  /** The directory's roles (a snapshot). */
  readonly roles: ReadonlyArray<Readonly<SpaceEmulatorRole>>;
  /**
   * Replaces the memberships of one user (id or username); the next API call sees them. Throws a
   * TypeError for an unknown user, team or role, or a malformed membership.
   */
  setMemberships(userIdOrUsername: string, memberships: SpaceEmulatorMembershipInput[]): void;
  /** What the emulator holds in memory now (retained requests, codes, grants, tokens). */
  stats(): SpaceEmulatorStats;
}

function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function splitURL(rawURL: string): { path: string; queryString: string } {
  const q = rawURL.indexOf('?');
  return q === -1 ? { path: rawURL, queryString: '' } : { path: rawURL.slice(0, q), queryString: rawURL.slice(q + 1) };
}

function parseOrNull(input: string): Params | null {
  try {
    return Params.parse(input);
  } catch (err) {
    if (err instanceof ParamsError) return null;
    throw err;
  }
}

/** Starts an emulator; resolves once it is listening. */
export async function startSpaceEmulator(options: SpaceEmulatorOptions = {}): Promise<SpaceEmulator> {
  const resolved = resolveOptions(options);
  const signer = await TokenSigner.create();
  let clockOffset = 0;
  const now = (): number => Date.now() + clockOffset;
  const log = new RequestLog(resolved.maxRecordedRequests);
  const faults = new FaultList();
  let baseURL = '';

  const state: EmulatorState = {
    options: resolved,
    clients: new Map(resolved.clients.map((c) => [c.clientID, c])),
    users: resolved.users,
    store: new GrantStore(now),
    directory: new Directory(resolved.directory.teams, resolved.directory.roles, resolved.directory.memberships),
    signer,
    get url() {
      return baseURL;
    },
    now,
    autoApprove: resolved.autoApprove,
    approvals: 0,
  };

  const server: Server = resolved.tls ? createHttpsServer({ key: resolved.tls.key, cert: resolved.tls.cert }) : createHttpServer();
  const transport = new Transport(server);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const { path, queryString } = splitURL(req.url ?? '/');
    const { body, tooLarge, aborted } = await transport.readBody(req, MAX_BODY_BYTES);
    const mediaType = mediaTypeOf(req);
    const query = parseOrNull(queryString);
    const form = mediaType === 'application/x-www-form-urlencoded' && !tooLarge ? parseOrNull(body.toString('utf8')) : null;
    const record: RequestRecord = log.add({
      method,
      path,
      query: query?.toRecord() ?? {},
      headers: { ...req.headers },
      body: form?.toRecord(),
      time: Date.now(),
      warnings: [],
      status: undefined,
      faulted: false,
    });
    if (aborted || transport.isClosed) return;
    const request: EmulatorRequest = {
      method, path, query, headers: req.headers, mediaType, form, warn: (m) => record.warnings.push(m), remoteAddress: req.socket.remoteAddress,
    };

    const fault = faults.take(method, path, form?.get('grant_type'));
    if (fault) record.faulted = true;
    if (fault?.delayMs) await transport.sleep(fault.delayMs);
    if (transport.isClosed) return;
    if (fault?.reset) return transport.reset(req);
    if (fault?.hang) return; // never answered; close() destroys the socket

    let reply: Reply;
    if (tooLarge) {
      reply = apiError(413, 'payload-too-large', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
      reply.headers.Connection = 'close';
    } else if (fault?.status !== undefined) {
      reply = cannedReply({ ...fault, status: fault.status });
    } else {
      try {
        reply = route(state, request);
      } catch {
        // Never crash on input; the description stays generic so nothing from the request is echoed.
        reply = apiError(500, 'internal-server-error', 'The Space emulator failed to handle the request.');
      }
    }
    record.status = reply.status;
    await transport.write(res, reply, fault?.dripBytesPerSecond);
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
  baseURL = `${resolved.tls ? 'https' : 'http'}://${host}:${port}`;

  let closing: Promise<void> | null = null;
  const doors = doorsAPI(state);
  const emulator: SpaceEmulator = {
    url: baseURL,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        transport.shutdown();
      });
      return closing;
    },
    setAutoApprove(user) {
      state.autoApprove = resolveUser(state.users, user, 'setAutoApprove');
      state.approvals = 0;
    },
    inject: (fault) => faults.inject(fault),
    clearFaults: () => faults.clear(),
    get requests() {
      return [...log.all];
    },
    count: (path, fields) => log.count(path, fields),
    resetRequests: () => log.reset(),
    get refreshTokenReuseCount() {
      return state.store.reuseCount;
    },
    revokeRefreshTokens(userIdOrUsername) {
      if (userIdOrUsername === undefined) return state.store.revokeAll();
      const user = findUser(state.users, userIdOrUsername);
      if (!user) throw new TypeError(`revokeRefreshTokens: no user with id or username "${userIdOrUsername}"`);
      state.store.revokeAll(user.id);
    },
    expireAccessTokens: () => state.store.expireAllAccessTokens(),
    setClockOffset(ms) {
      if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new TypeError('setClockOffset: expected a finite number of milliseconds');
      clockOffset = ms;
    },
    addClient(client) {
      const checked = checkClient(client, 'addClient');
      if (state.clients.has(checked.clientID)) throw new TypeError(`addClient: client "${checked.clientID}" already exists`);
      state.clients.set(checked.clientID, checked);
    },
    users: state.users,
    get teams() {
      return state.directory.teams.map((t) => ({ ...t }));
    },
    get roles() {
      return state.directory.roles.map((r) => ({ ...r }));
    },
    setMemberships(userIdOrUsername, memberships) {
      const user = typeof userIdOrUsername === 'string' ? findUser(state.users, userIdOrUsername) : undefined;
      if (!user) throw new TypeError(`setMemberships: no user with id or username "${String(userIdOrUsername)}"`);
      state.directory.setMemberships(user, memberships);
    },
    stats: () => ({ requestsSeen: log.seen, requestsRetained: log.size, ...state.store.sizes() }),
    ...doors,
    ...eventsAPI(state, doors),
  };
  return emulator;
}
