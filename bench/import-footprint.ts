/**
 * What the agent's process costs before it holds any cluster data: RSS of Node.js started as the
 * image starts it (src/packaging/runtime.ts: its flags and environment) and left idle for a few
 * seconds, in three forms:
 *   bare        `node` with nothing loaded (the runtime's own floor)
 *   agent       the shipped bundle (bench/lib/bundle.ts) with the `agent` command built, as
 *               `netwarden agent` has it before it connects anywhere
 *   agentNoKube the same bundle built with `@kubernetes/client-node` and `undici` replaced by a
 *               module of the same export names, each a do-nothing class: what those two
 *               libraries cost at import (the agent reaches the API server only through them)
 * Each form runs `--runs` times one after another; figures are medians: RSS, its anonymous and
 * file-backed parts (/proc/PID/smaps_rollup, status), and V8's heap after a full GC. No lab, no
 * network; seconds per run. Prints figures only.
 *
 * Usage: node_modules/.bin/node bench/import-footprint.ts [--runs 3] [--settle 6s] [--output text|json]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import { RUNTIME_FLAGS, runtimeEnv } from '../src/packaging/runtime.ts';
import { bundleCli } from './lib/bundle.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    settle: { type: 'string', default: '6s' },
    output: { type: 'string', default: 'text' },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
const settle = parseDuration(values.settle ?? '');
if (typeof settle !== 'number' || settle <= 0 || settle > 60_000)
  throw new Error(`--settle: "${values.settle}" is not a duration up to 60s`);
const settleMs: number = settle;
if (values.output !== 'text' && values.output !== 'json') throw new Error('--output must be text or json');

/** The libraries `agentNoKube` leaves out. */
const LEFT_OUT = ['@kubernetes/client-node', 'undici'] as const;

/** A module with the export names of package `name`, each a do-nothing class (enough to import and build the CLI). */
async function stubOf(name: string): Promise<string> {
  const names = Object.keys(await import(name)).filter(
    (k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k),
  );
  return names.map((k) => `export const ${k} = class {};`).join('\n');
}

/** The shipped bundle with LEFT_OUT aliased to stubs written into `dir`; returns its entry file. */
async function bundleWithoutKube(dir: string): Promise<string> {
  const alias: Record<string, string> = {};
  for (const [i, name] of LEFT_OUT.entries()) {
    const file = join(dir, `stub-${i}.mjs`);
    writeFileSync(file, await stubOf(name));
    alias[name] = file;
  }
  return bundleCli(alias);
}

/** Child program: import `entry` (if any), build the agent command, idle; print V8's heap on request. */
const HOLDER = `
const entry = process.argv[1];
if (entry) await (await import(entry)).buildProgram('agent');
setInterval(() => {}, 1000);
process.on('SIGUSR2', () => {
  globalThis.gc();
  const m = process.memoryUsage();
  process.stdout.write(JSON.stringify({ heapUsed: m.heapUsed, external: m.external }) + '\\n');
});
process.stdout.write('ready\\n');
`;

interface Sample {
  readonly rssMb: number;
  readonly anonMb: number;
  readonly fileMb: number;
  readonly heapUsedMb: number;
  readonly externalMb: number;
}

const mb = (kb: number): number => Math.round((kb / 1024) * 10) / 10;

/** kB of one `Name:   N kB` line of a /proc file. */
function kbOf(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} in /proc`);
  return Number(m[1]);
}

/** One run of one form: start it, wait until it is ready plus `settleMs`, read its memory, stop it. */
async function sample(entry: string | undefined): Promise<Sample> {
  const child = spawn(
    process.execPath,
    [...RUNTIME_FLAGS, '--expose-gc', '--input-type=module', '-e', HOLDER, ...(entry ? [entry] : [])],
    { env: { ...process.env, ...runtimeEnv() }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const waitLine = async (what: string, pred: (l: string) => boolean): Promise<string> => {
    for (let t = 0; t < 300; t++) {
      const l = lines.find(pred);
      if (l !== undefined) return l;
      if (child.exitCode !== null) throw new Error(`the ${what} child exited (${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the child printed no ${what} within 30 s`);
  };
  try {
    await waitLine('ready', (l) => l === 'ready');
    await new Promise((r) => setTimeout(r, settleMs));
    const pid = child.pid as number;
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    child.kill('SIGUSR2');
    const heap = JSON.parse(await waitLine('heap', (l) => l.startsWith('{'))) as {
      heapUsed: number;
      external: number;
    };
    return {
      rssMb: mb(kbOf(rollup, 'Rss')),
      anonMb: mb(kbOf(rollup, 'Anonymous')),
      fileMb: mb(kbOf(status, 'RssFile')),
      heapUsedMb: mb(heap.heapUsed / 1024),
      externalMb: mb(heap.external / 1024),
    };
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2
    ? (s[m] as number)
    : Math.round((((s[m - 1] as number) + (s[m] as number)) / 2) * 10) / 10;
};

const dir = mkdtempSync(join(tmpdir(), 'nwimport-'));
const made = [dir];
try {
  const agent = await bundleCli();
  const agentNoKube = await bundleWithoutKube(dir);
  made.push(dirname(agent), dirname(agentNoKube));
  const forms = { bare: undefined, agent, agentNoKube } as const;
  const samples: Record<string, Sample[]> = { bare: [], agent: [], agentNoKube: [] };
  // Forms interleaved run by run, so a change in the machine's load touches each alike.
  for (let r = 0; r < runs; r++)
    for (const [name, entry] of Object.entries(forms)) samples[name]?.push(await sample(entry));
  const result: Record<string, Record<string, number>> = {};
  for (const [name, ss] of Object.entries(samples))
    result[name] = Object.fromEntries(
      (['rssMb', 'anonMb', 'fileMb', 'heapUsedMb', 'externalMb'] as const).map((k) => [
        k,
        median(ss.map((s) => s[k])),
      ]),
    );
  const kubeCostMb = Math.round(((result.agent?.rssMb ?? 0) - (result.agentNoKube?.rssMb ?? 0)) * 10) / 10;
  const out = { runs, settleS: settleMs / 1000, nodeFlags: RUNTIME_FLAGS.join(' '), ...result, kubeCostMb };
  if (values.output === 'json') console.log(JSON.stringify(out, null, 2));
  else
    console.log(
      `idle RSS, medians of ${runs}: bare node ${result.bare?.rssMb} MB; the agent as built ${result.agent?.rssMb} MB ` +
        `(anon ${result.agent?.anonMb}, file ${result.agent?.fileMb}; heap ${result.agent?.heapUsedMb}); without ` +
        `${LEFT_OUT.join(' and ')} ${result.agentNoKube?.rssMb} MB (heap ${result.agentNoKube?.heapUsedMb}): ` +
        `those two cost ${kubeCostMb} MB at import`,
    );
} finally {
  for (const d of made) rmSync(d, { recursive: true, force: true });
}
