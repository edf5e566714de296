/**
 * What request handlers share: the emulator's mutable state, and the parsed request they get.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Directory } from './directory.js';
import type { GrantStore } from './grants.js';
import type { TokenSigner } from './jwt.js';
import type { ResolvedOptions, SpaceEmulatorClient, SpaceEmulatorUser } from './options.js';
import type { Params } from './params.js';

/** State of one running emulator. */
export interface EmulatorState {
  readonly options: ResolvedOptions;
  /** Registered clients by id; `addClient` adds to it at run time. */
  readonly clients: Map<string, SpaceEmulatorClient>;
  readonly users: readonly SpaceEmulatorUser[];
  readonly store: GrantStore;
  /** Teams, roles and memberships; `setMemberships` changes it at run time. */
  readonly directory: Directory;
  readonly signer: TokenSigner;
  /** Base URL of the emulator, used as the token issuer. */
  readonly url: string;
  /** Emulator clock in milliseconds: wall clock plus the offset set by `setClockOffset`. */
  now(): number;
  /** Users approved without a page (in turn), or null to show the sign-in page. */
  autoApprove: readonly SpaceEmulatorUser[] | null;
  /** How many authorization requests were approved without a page: picks the next user in turn. */
  approvals: number;
}

/** A request as the handlers see it: body read (within the size cap) and parameters parsed. */
export interface EmulatorRequest {
  readonly method: string;
  /** Path without query, not decoded. */
  readonly path: string;
  /** Query parameters, or null if the query string is malformed. */
  readonly query: Params | null;
  readonly headers: IncomingHttpHeaders;
  /** Media type of the body without parameters, lower case; '' when absent. */
  readonly mediaType: string;
  /** Form parameters of an `application/x-www-form-urlencoded` body; null if malformed or another type. */
  readonly form: Params | null;
  /** Adds a note to this request's log entry (see `SpaceEmulatorRequest.warnings`). */
  warn(message: string): void;
  /** The caller's IP address, as the socket has it (test-tokens.ts answers loopback callers only). */
  readonly remoteAddress?: string | undefined;
}
