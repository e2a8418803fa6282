// Writes openapi.yaml from the same route schemas the server validates with (npm run openapi).
// A test keeps the committed file equal to what the server serves at /openapi.json.
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { openApiDocument } from '../http/app.js';
import { buildDocumentationApp } from '../http/documentation-app.js';

const app = buildDocumentationApp();
await writeFile(
  new URL('../../openapi.yaml', import.meta.url),
  stringify(openApiDocument(app), { lineWidth: 0 }),
);
process.stdout.write('wrote openapi.yaml\n');
