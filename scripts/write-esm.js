// Writes dist/index.mjs: the ESM entry point, a thin re-export of the CommonJS build.
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
