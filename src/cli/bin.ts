/** The `rbp` executable (dist/cli.js): `main` of ./main.ts on this process's arguments and streams. */
import { main } from './main';

main(process.argv.slice(2), { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n'), isTTY: Boolean(process.stderr.isTTY) }).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`rbp: ${String(err)}\n`);
    process.exit(1);
  },
);
