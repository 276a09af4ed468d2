/**
 * npm run gen:docs — regenerates what the docs derive from code: the field
 * reference in docs/packages.md (between its GENERATED marks) and
 * docs/corral.schema.json, both from the manifest's zod schema.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestJsonSchema } from '../src/protocol/index.js';
import { manifestReference, replaceGenerated } from './manifest-reference.js';

const docs = join(import.meta.dirname, '..', 'docs');
const packagesMd = join(docs, 'packages.md');
writeFileSync(packagesMd, replaceGenerated(readFileSync(packagesMd, 'utf8'), manifestReference()));
writeFileSync(join(docs, 'corral.schema.json'), `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
console.log('wrote docs/packages.md (manifest fields) and docs/corral.schema.json');
