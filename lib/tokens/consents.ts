import { ATTACH_CONSENT, DETACH_CONSENT, fingerprint, type Keys, type KV, OFFER_CONSENT } from '../store';
import type { RecordStore, SignInRecord } from './records';
import type { StoredTokenSet } from './token-set';

/**
 * A member's consent to this app: what Space's refresh token belongs to. Space issues one
 * refresh token per member and app (only on the member's first code exchange while they hold
 * none), so it is kept once per member (and client, and granted scope), not per browser: every
 * sign-in of that member refers to the consent and renews through it.
 *
 * The consent is a record like a sign-in's (`<prefix>{c:<hash>}:tokens`, versioned, written
 * only forwards, sealed at rest, with its renewal lock `<prefix>{c:<hash>}:lock`) whose
 * `grant` is the consent's id; it holds the refresh token and the newest access token minted
 * from it. Beside it, `<prefix>{c:<hash>}:users` lists the sign-ins that use it, each with
 * until when, so the library knows when the last one ends (then, and only then, the refresh
 * token is revoked at Space). One hash tag for the three keys: each script runs on Cluster.
 */
export class ConsentStore {
  constructor(private readonly kv: KV, private readonly keys: Keys, private readonly records: RecordStore, private readonly clientID: string) {}

  /** The consent of a member (by `memberHash`) for this client and a granted scope. */
  idOf(member: string, scope: string | undefined): string {
    const words = (scope ?? '').split(/\s+/).filter(Boolean).sort().join(' ');
    return `c:${fingerprint(`${member}\n${this.clientID}\n${words}`, 22)}`;
  }

  /** The consent's record: its tokens, the ended mark, or nothing. */
  read(id: string): Promise<SignInRecord | undefined> {
    return this.records.read(id);
  }

  /**
   * A code exchange brought a refresh token: it becomes the consent's, for every sign-in of the
   * member (a newer refresh token replaces an older one; it revives an ended consent). `tokens`
   * are the exchange's; `now` (Redis's clock, ms) is the offer's version. One script, no read.
   */
  async offer(id: string, tokens: StoredTokenSet, ttl: number, now: number): Promise<void> {
    const consent: StoredTokenSet = { ...tokens, grant: id, version: Math.max(1, Math.floor(now)) };
    delete consent.consent;
    await this.kv.run(OFFER_CONSENT, [this.keys.record(id)], [this.records.encode(consent, id), consent.version, Math.max(1000, Math.round(ttl))]);
  }

  /** Notes that sign-in `grant` uses the consent until `until` (Redis's clock, ms). */
  async attach(id: string, grant: string, until: number, now: number): Promise<void> {
    await this.kv.run(ATTACH_CONSENT, [this.keys.record(id), this.keys.consentUsers(id)], [grant, Math.round(until), Math.round(now)]);
  }

  /** Sign-in `grant` no longer uses the consent; answers how many sign-ins still do. */
  async detach(id: string, grant: string, now: number): Promise<number> {
    return Number(await this.kv.run(DETACH_CONSENT, [this.keys.consentUsers(id)], [grant, Math.round(now)]));
  }
}
