// Regenerate schemas/rbp-config.schema.json from src/config/schema.ts (via a throwaway bundle).
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';
import * as os from 'os';
import { createRequire } from 'module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rbp-schema-')), 'schema.cjs');
await esbuild.build({ entryPoints: [path.join(root, 'src/config/jsonSchema.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: tmp, logLevel: 'warning' });
const { configJsonSchema } = createRequire(import.meta.url)(tmp);
fs.writeFileSync(path.join(root, 'schemas/rbp-config.schema.json'), JSON.stringify(configJsonSchema(), null, 2) + '\n');
