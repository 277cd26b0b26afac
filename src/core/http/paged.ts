/**
 * Cursor paging as Letta's REST lists do it (`limit` and `after=<last id>`, routers/v1/agents.py and users.py @
 * 0.16.8): pages until a short page, or a page with nothing new (a cursor that does not advance), or `maxPages`.
 */
export const PAGE_SIZE = 100;

export async function pageThrough(fetchPage: (after: string | undefined) => Promise<unknown[]>, maxPages = Infinity): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  let after: string | undefined;
  for (let n = 0; n < maxPages; n++) {
    const page = await fetchPage(after);
    const fresh = (page as Record<string, unknown>[]).filter((x) => typeof x?.id === 'string' && !seen.has(x.id));
    fresh.forEach((x) => seen.add(x.id as string));
    out.push(...fresh);
    if (page.length < PAGE_SIZE || fresh.length === 0) break;
    after = fresh[fresh.length - 1].id as string;
  }
  return out;
}
