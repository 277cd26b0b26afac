/**
 * Where the Letta key guard applies, as git decides it. git matches `http.<url>.*` keys by normalising both the key's
 * URL and the request URL itself (urlmatch.c `url_normalize`: scheme and host lowercased, default port dropped,
 * percent-escapes normalised, hosts limited to ASCII letters, digits, ".-[:]"), never by resolving the host. So the
 * guard is scoped by the remote's host exactly as written, and a remote git cannot normalise is refused: for it git
 * would skip every URL-scoped key, the guard included, and send Letta Code's unscoped key header to the host.
 * WHATWG parsing (Node's URL) is not used for the scope: it rewrites 127.1, 0x7f.0.0.1, [0:0::1], IDN and
 * backslashes into another spelling than the one git matches.
 */
import { UserError } from './errors.js';
import { redactUrl } from './redact.js';

const AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)/;
// A DNS name or IPv4 literal in any of the forms curl accepts, or a bracketed IPv6 literal; optional numeric port.
const HOST_PORT = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?$/;

/** `scheme://host[:port]` of an http(s) remote as written, user info dropped (a user-less key matches any user). */
export function headerScope(url: string): string {
  const m = AUTHORITY.exec(url);
  if (!m) throw new UserError(`remote ${redactUrl(url)} has no scheme://host`, 'use https://host/owner/{agentId}.git');
  return m[1] + m[2].slice(m[2].lastIndexOf('@') + 1);
}

/** Node's spelling of the URL, offered as the fix; undefined when even WHATWG cannot parse it. */
function canonical(url: string): string | undefined {
  try {
    const u = new URL(url);
    const fixed = `${u.protocol}//${u.host}${u.pathname}${u.search}`;
    return fixed !== url && acceptable(fixed) ? fixed : undefined;
  } catch {
    return undefined;
  }
}

function acceptable(url: string): boolean {
  const m = AUTHORITY.exec(url);
  return m !== null && HOST_PORT.test(m[2].slice(m[2].lastIndexOf('@') + 1)) && /^[\x21-\x7e]+$/.test(url) && !url.includes('\\');
}

/**
 * Refuses an http(s) remote whose spelling git would not match `http.<url>.*` keys against: anything outside
 * printable ASCII, backslashes (WHATWG reads them as "/", git does not), and hosts git's urlmatch cannot normalise
 * (IDN, percent-escapes, "_", wildcards). The error names the canonical spelling when there is one.
 */
export function checkHttpRemote(url: string, source = 'remote', exitCode = 1): void {
  if (acceptable(url)) return;
  const fix = canonical(url);
  // The spelling is not repeated: it may hold terminal escapes; the fix shows the one to use instead.
  throw new UserError(
    `${source}: the remote is spelled in a way git cannot match http.<url> settings against, so the Letta key could reach the host`,
    fix ? `spell it ${fix}` : 'write the host in ASCII letters, digits, "." and "-" (punycode for IDN), without spaces or backslashes',
    exitCode,
  );
}
