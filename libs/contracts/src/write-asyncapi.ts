import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncApiDocument } from './asyncapi';

writeFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../asyncapi.json'), `${JSON.stringify(asyncApiDocument(), null, 2)}\n`);
