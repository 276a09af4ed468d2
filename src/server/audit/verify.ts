/** Walks the whole stored chain, oldest first, a page at a time (see chain.ts for what it proves). */
import type { AuditStore } from '../store/index.js';
import { ChainWalker, type ChainResult } from './chain.js';

const PAGE = 1000;

export async function verifyAuditChain(audit: AuditStore, opts: { expectHash?: string } = {}): Promise<ChainResult> {
  const walker = new ChainWalker(opts.expectHash);
  let after = 0;
  for (;;) {
    const page = await audit.list({ afterId: after, limit: PAGE });
    for (const r of page) if (!walker.add(r)) return walker.finish();
    if (page.length < PAGE) return walker.finish();
    after = page[page.length - 1]!.id;
  }
}
