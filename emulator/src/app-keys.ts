/**
 * What the emulated Space keeps per application for the requests it sends to the app's endpoint:
 * a rotatable ring of RSA keys (served at `applications/{app}/public-keys`, separate from the
 * access-token keys at `/oauth/jwks.json`), the endpoint signing key, and the legacy verification
 * token. Created on first use, so emulators that never talk to an app endpoint generate nothing.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { EmulatorState } from './context.js';
import { generateRingKey, ringKey, type PublicJwk } from './jwt.js';

type RingKey = ReturnType<typeof ringKey>;

interface AppSecrets {
  /** Newest first: `keys[0]` signs requests. */
  keys: RingKey[];
  signingKey: string;
  verificationToken: string;
}

const byState = new WeakMap<EmulatorState, Map<string, AppSecrets>>();

/** The secrets of one registered application; a TypeError for an unknown client id. */
export function appSecrets(state: EmulatorState, clientID: string, caller: string): AppSecrets {
  if (!state.clients.has(clientID)) throw new TypeError(`${caller}: no application with client id "${clientID}"`);
  let apps = byState.get(state);
  if (!apps) byState.set(state, (apps = new Map()));
  let secrets = apps.get(clientID);
  if (!secrets) {
    // Synchronous on purpose: route handlers are synchronous; this runs once per application.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    secrets = {
      keys: [ringKey(privateKey, publicKey)],
      // Space shows both as 64 hex characters.
      signingKey: randomBytes(32).toString('hex'),
      verificationToken: randomBytes(32).toString('hex'),
    };
    apps.set(clientID, secrets);
  }
  return secrets;
}

/** The application's public keys as a JWKS document. */
export function appJwks(state: EmulatorState, clientID: string): { keys: PublicJwk[] } {
  return { keys: appSecrets(state, clientID, 'public-keys').keys.map((k) => ({ ...k.jwk })) };
}

/** A new key signs the requests to the app from now on; the old ones stay listed unless `dropOld`. */
export async function rotateAppKey(state: EmulatorState, clientID: string, dropOld: boolean): Promise<void> {
  const secrets = appSecrets(state, clientID, 'rotateAppPublicKey');
  const next = await generateRingKey();
  secrets.keys = dropOld ? [next] : [next, ...secrets.keys];
}
