import { HttpError } from './reply.js';

/** Longest request target accepted; every route of ours fits in a few dozen bytes. */
export const MAX_TARGET_LENGTH = 2048;

export interface Target {
  /** Decoded path segments; a trailing slash adds no empty segment (`/webhook/` is `['webhook']`). */
  segments: string[];
  query: string;
}

/**
 * Pure: splits and decodes a request target (`req.url`), or throws an HttpError (400/414) for anything a route
 * should never see: not origin-form (`*`, `http://host/...`), overlong, malformed percent-encoding (`/poke/%`,
 * which made `decodeURIComponent` throw), or a control character (NUL, CR, LF...) once decoded.
 */
export function parseTarget(url: string | undefined, maxLength = MAX_TARGET_LENGTH): Target {
  const raw = url ?? '';
  if (raw.length > maxLength) throw new HttpError(414, `request target over ${maxLength} characters`, 'use one of the documented paths');
  if (!raw.startsWith('/')) throw new HttpError(400, 'request target is not a path', 'send a path such as /webhook');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const segments = path.slice(1).split('/').map(decodeSegment);
  if (segments.length > 1 && segments.at(-1) === '') segments.pop();
  return { segments, query: q < 0 ? '' : raw.slice(q + 1) };
}

function decodeSegment(s: string): string {
  let out: string;
  try {
    out = decodeURIComponent(s);
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in the path', 'percent-encode the path as RFC 3986 says (%XX)');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(out)) throw new HttpError(400, 'control character in the path', 'send a path without control characters');
  return out;
}
