/**
 * Lab image `lab/tcp-server`: listens on PORT (default 8080) and answers every connection with
 * one line `hello from <POD_NAME>` before closing. Runs until killed.
 */
import { createServer } from 'node:net';

const port = Number(process.env.PORT ?? 8080);
const name = process.env.POD_NAME ?? 'tcp-server';
createServer((sock) => {
  sock.on('error', () => sock.destroy());
  sock.end(`hello from ${name}\n`);
}).listen(port, '0.0.0.0', () => {
  process.stdout.write(`${new Date().toISOString()} listening on :${port}\n`);
});
