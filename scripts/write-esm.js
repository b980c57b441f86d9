// Writes dist/index.mjs, the ESM entry point (a thin re-export of the CommonJS build), and dist/index.d.mts, its
// types: without them TypeScript would read the CommonJS types for `import` ("masquerading as CJS").
const fs = require('fs');
const path = require('path');
const api = require(path.join(__dirname, '..', 'dist', 'index.js'));
const names = Object.keys(api).filter((n) => n !== 'default' && n !== '__esModule');
const body = [
  "// ESM entry point: re-exports the CommonJS build so both module systems share one instance.",
  "import api from './index.js';",
  `export const { ${names.join(', ')} } = api;`,
  'export default api;',
  '',
].join('\n');
fs.writeFileSync(path.join(__dirname, '..', 'dist', 'index.mjs'), body);
const types = [
  '// Types of the ESM entry point (index.mjs): the same API as the CommonJS build.',
  "export * from './index.js';",
  "import * as api from './index.js';",
  'export default api;',
  '',
].join('\n');
fs.writeFileSync(path.join(__dirname, '..', 'dist', 'index.d.mts'), types);
