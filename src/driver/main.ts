// Entry point until the strata CLI wires csi-driver in: node src/driver/main.ts --endpoint … --data-dir …
import { parseCsiDriverArgs, runCsiDriverCommand } from './cli.ts';

await runCsiDriverCommand(parseCsiDriverArgs(process.argv.slice(2)));
