/**
 * The request log: every request the emulator saw, in order, with what a test needs to assert
 * on it (SECURITY.md: "counts calls per endpoint and per refresh token"; "fake Space
 * saw no request the test did not expect").
 *
 * The log holds secrets (Authorization headers, codes, verifiers, tokens) on purpose: it is the
 * test's view of the wire, so a canary scanner can check what a client sent. It is never printed.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** One request seen by the emulator. */
export interface SpaceEmulatorRequest {
  readonly method: string;
  /** Path without the query string, as sent (not decoded). */
  readonly path: string;
  /** Query parameters, decoded; the first value of a repeated name. Empty if the query was malformed. */
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<IncomingHttpHeaders>;
  /** The decoded form body of a form POST; undefined otherwise. */
  readonly body: Readonly<Record<string, string>> | undefined;
  /** Wall-clock `Date.now()` when the request arrived (not the offset emulator clock). */
  readonly time: number;
  /**
   * Client mistakes that Space tolerates but a careful client avoids, e.g. a `state` longer
   * than 128 characters or with non-URL-safe characters, a reused `code_verifier`.
   */
  readonly warnings: ReadonlyArray<string>;
  /** Status of the answer; undefined while pending, and for hung or reset requests. */
  readonly status: number | undefined;
  /** True if an injected fault applied to this request. */
  readonly faulted: boolean;
}

/** The mutable form the server fills in. */
export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Record<string, string> | undefined;
  time: number;
  warnings: string[];
  status: number | undefined;
  faulted: boolean;
}

/**
 * Ordered log of the latest requests: a ring that keeps the newest `max` records and drops the
 * oldest, so an emulator serving a long run holds bounded memory. `count()` and `requests` see
 * the retained window only; `seen` counts every request since the last reset.
 */
export class RequestLog {
  private ring: RequestRecord[] = [];
  /** Index of the oldest record once the ring is full. */
  private start = 0;
  /** Requests added since creation or the last reset, retained or not. */
  seen = 0;

  constructor(private readonly max: number = Number.POSITIVE_INFINITY) {}

  /** Appends a record and returns it, so the server can fill in the status later. */
  add(record: RequestRecord): RequestRecord {
    this.seen += 1;
    if (this.ring.length < this.max) this.ring.push(record);
    else {
      this.ring[this.start] = record;
      this.start = (this.start + 1) % this.ring.length;
    }
    return record;
  }

  /** The retained records, oldest first (a new array). */
  get all(): ReadonlyArray<SpaceEmulatorRequest> {
    return this.start === 0 ? [...this.ring] : [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
  }

  /** How many records are retained. */
  get size(): number {
    return this.ring.length;
  }

  /**
   * Counts retained requests to `path` whose form body or query has every given field, e.g.
   * `count('/oauth/token', { grant_type: 'refresh_token' })`. A body field wins over a query
   * field of the same name.
   */
  count(path: string, fields: Record<string, string> = {}): number {
    const wanted = Object.entries(fields);
    return this.ring.filter((r) => {
      if (r.path !== path) return false;
      return wanted.every(([name, value]) => {
        const actual = r.body && Object.hasOwn(r.body, name) ? r.body[name] : Object.hasOwn(r.query, name) ? r.query[name] : undefined;
        return actual === value;
      });
    }).length;
  }

  /** Forgets every record and zeroes `seen`. */
  reset(): void {
    this.ring = [];
    this.start = 0;
    this.seen = 0;
  }
}
