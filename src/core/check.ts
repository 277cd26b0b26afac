/** One `doctor` check: what was looked at, whether it holds, and the fix when it does not. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export function formatCheck(c: Check): string {
  return `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.fix ? ` (fix: ${c.fix})` : ''}`;
}
