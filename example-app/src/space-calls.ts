/**
 * Calls to Space's HTTP API as the signed-in user, for the pages: `spaceApi(req)` renews the
 * token if Space says it expired. Space's refusals become a message on the page; anything
 * else (Redis down, the sign-in ended) goes on to the error handlers.
 */
import type { Request } from 'express';
import { isSpaceError, SpaceApiError, spaceApi } from 'passport-jetbrains-space';
import type { OrganizationResult } from './views/dashboard';
import type { ApiCall } from './views/space-api';

export const PROFILE_FIELDS = 'id,username,name(firstName,lastName),emails(email,verified)';
export const ORGANIZATION_FIELDS = 'id,name,slogan';

/** The organization, or a message for the dashboard when Space would not give it. */
export async function loadOrganization(req: Request): Promise<OrganizationResult> {
  try {
    const org = await spaceApi(req).get<{ name?: string; slogan?: string | null }>('organization', { query: { $fields: ORGANIZATION_FIELDS } });
    return { ok: true, name: org.name ?? 'Your organization', slogan: org.slogan ?? null };
  } catch (err) {
    if (!isSpaceError(err)) throw err;
    return { ok: false, message: describeSpaceError(err) };
  }
}

/** Calls Space as the user and times it, for the Space API page. */
export async function timedCall(req: Request, path: string, fields: string): Promise<ApiCall> {
  const label = `GET /api/http/${path}?$fields=${fields}`;
  const started = performance.now();
  try {
    const json = await spaceApi(req).get(path, { query: { $fields: fields } });
    return { label, ms: Math.round(performance.now() - started), result: { ok: true, json } };
  } catch (err) {
    if (!isSpaceError(err)) throw err;
    return { label, ms: Math.round(performance.now() - started), result: { ok: false, message: describeSpaceError(err) } };
  }
}

function describeSpaceError(err: unknown): string {
  if (err instanceof SpaceApiError && err.status === 401) {
    return 'Space did not accept the access token for this call. Sign out and sign in again.';
  }
  if (err instanceof SpaceApiError && err.status === 403) {
    return 'Your sign-in does not allow this call (Space asks for a permission the application was not granted).';
  }
  if (isSpaceError(err) && err.transient) return 'Space did not answer in time. Reload to try again.';
  return 'Space answered something unexpected.';
}
