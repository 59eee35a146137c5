/**
 * The `rbp` executable (dist/cli.js): `main` of ./main.ts on this process's arguments and streams.
 * The same bundle is the script of its run threads (run/thread.ts): there it computes instead.
 */
import { main, outputClosed } from './main';
import { isRunThread, runThreadMain } from '../run/thread';
import { escapeControl } from '../core/format';

if (isRunThread()) {
  // This bundle on a run thread (startRunThread(__filename, ...)): compute, post events back.
  void runThreadMain();
} else {
  // A closed pipe (EPIPE) is not a crash: nothing more is written, and the run stops, recorded.
  let closed = false;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      closed = true;
      outputClosed();
    });
  }
  // Everything printed passes escapeControl: names and values echoed from configs, arguments and
  // data files cannot drive the terminal (JSON lines stay valid JSON).
  const write = (stream: NodeJS.WriteStream) => (s: string) => {
    if (!closed) stream.write(escapeControl(s) + '\n');
  };
  main(process.argv.slice(2), { out: write(process.stdout), err: write(process.stderr), isTTY: Boolean(process.stderr.isTTY), runThread: __filename }).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`rbp: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
