#!/usr/bin/env node
// Entry point of the `strata` command. Strata is TypeScript run directly by Node 24 (type stripping), so refuse
// older runtimes with a clear message instead of a syntax error deep inside an import.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`strata needs Node.js 24 or newer (this is ${process.version}); run it through npm (npm start, npx strata) so that the project's node@24 is used\n`);
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
