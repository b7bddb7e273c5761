/**
 * `netwarden cni-gate install | uninstall | status`: the boot gate CNI plugin by hand (the agent
 * with --boot-gate keeps it installed by itself; these are for images, labs, clean-up jobs and
 * people). The flags are the agent's own boot gate flags, with the same env names and defaults.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  AGENT_OPTIONS,
  type AgentOptionName,
  BOOT_GATE_OPTIONS,
  bootGateSettings,
  envName,
  flagName,
  loadBootGateConfig,
} from '../agent/config.ts';
import { viewConfDir } from '../cni-gate/conf-dir.ts';
import { installBootGate, uninstallBootGate } from '../cni-gate/install.ts';
import { GateState } from '../cni-gate/state.ts';
import { GATE_FILES, gateEntry, parseBootStamp } from '../core/boot-gate.ts';
import { formatDuration } from '../core/duration.ts';
import { durationFlag } from './flags.ts';

type Flags = Partial<Record<AgentOptionName, string>> & { json?: boolean; binaryGrace?: string };

/** Adds the agent's boot gate flags (those in `keys`) to a command. */
function withGateFlags(cmd: Command, keys: readonly AgentOptionName[]): Command {
  for (const key of keys) {
    const opt: { readonly help: string; readonly default?: string } = AGENT_OPTIONS[key];
    cmd.option(
      `${flagName(key)} <value>`,
      `${opt.help}; env ${envName(key)} (default: ${opt.default || '""'})`,
    );
  }
  return cmd;
}

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Adds `cni-gate` to the program. */
export function registerCniGateCommands(program: Command): void {
  const gate = program
    .command('cni-gate')
    .description('install, remove or inspect the boot gate CNI plugin (netwarden-cni-gate) on this node');

  withGateFlags(
    gate
      .command('install')
      .description('copy the plugin into the CNI bin folder and put it last in the active conflist'),
    BOOT_GATE_OPTIONS,
  ).action(async (flags: Flags) => {
    const cfg = loadBootGateConfig(flags, process.env);
    const res = await installBootGate(
      { confDir: cfg.cniConfDir, binDir: cfg.cniBinDir },
      cfg.bootGatePlugin,
      gateEntry(bootGateSettings(cfg)),
    );
    print(`plugin: ${res.binary} in ${cfg.cniBinDir}`);
    const c = res.conf;
    print(
      c.state === 'installed'
        ? `conflist: ${c.changed ? 'gate inserted into' : 'gate already last in'} ${cfg.cniConfDir}/${c.file}`
        : `conflist: not installed (${c.state}): ${c.reason}`,
    );
    if (c.state !== 'installed') process.exitCode = 1;
  });

  withGateFlags(
    gate
      .command('uninstall')
      .description('remove the gate from every conflist, then (after --binary-grace) the plugin executable')
      .option(
        '--binary-grace <duration>',
        'wait between the conflist edit and removing the executable',
        '5s',
      ),
    ['cniConfDir', 'cniBinDir'],
  ).action(async (flags: Flags) => {
    const cfg = loadBootGateConfig(flags, process.env);
    const grace = durationFlag('--binary-grace', flags.binaryGrace ?? '5s', 60_000);
    const res = await uninstallBootGate({ confDir: cfg.cniConfDir, binDir: cfg.cniBinDir }, grace);
    print(
      `conflist: removed from ${res.changed.length > 0 ? res.changed.join(', ') : 'no file (none named it)'}`,
    );
    for (const l of res.left) print(`conflist: left in ${l.file}: ${l.reason}`);
    print(
      res.left.length === 0
        ? `plugin: removed from ${cfg.cniBinDir}`
        : 'plugin: kept (a conflist still names it)',
    );
    if (res.left.length > 0) process.exitCode = 1;
  });

  withGateFlags(
    gate
      .command('status')
      .description("where the gate is, this boot's state, and what the plugin did")
      .option('--json', 'print JSON'),
    ['cniConfDir', 'bootGateStateDir', 'bootGateBootIdFile'],
  ).action(async (flags: Flags) => {
    const cfg = loadBootGateConfig(flags, process.env);
    const state = new GateState(cfg.bootGateStateDir, cfg.bootGateBootIdFile);
    const stamp = await state.stamp();
    const ago = async (name: string): Promise<number | undefined> => {
      const s = parseBootStamp(await readFile(join(state.dir, name), 'utf8').catch(() => ''));
      return s?.bootId === stamp.bootId ? stamp.uptimeMs - s.uptimeMs : undefined;
    };
    const report = {
      conf: await viewConfDir(cfg.cniConfDir).catch((err: Error) => ({ error: err.message })),
      bootId: stamp.bootId,
      verified: (await state.verifiedBootId()) === stamp.bootId,
      heartbeatAgeMs: await ago(GATE_FILES.heartbeat),
      bootSeenAgoMs: await ago(GATE_FILES.bootSeen),
      counters: await state.counters(),
      thisBoot: await state.logSummary(stamp.bootId),
    };
    if (flags.json) {
      print(JSON.stringify(report, null, 2));
      return;
    }
    const age = (ms: number | undefined): string =>
      ms === undefined ? 'none this boot' : `${formatDuration(ms)} ago`;
    const conf = report.conf;
    print(
      'error' in conf
        ? `conflist: ${conf.error}`
        : `conflist: ${conf.selected ?? 'none'} ${conf.gated ? '(gate last)' : '(gate NOT in it)'}${conf.filesWithGate.length > 0 ? `; files naming the gate: ${conf.filesWithGate.join(', ')}` : ''}`,
    );
    print(`boot ${report.bootId}: ${report.verified ? 'verified (pods pass)' : 'not verified yet'}`);
    print(`agent heartbeat: ${age(report.heartbeatAgeMs)}; boot first seen: ${age(report.bootSeenAgoMs)}`);
    print(
      `this boot: ${report.thisBoot.held} held (longest ${formatDuration(report.thisBoot.maxHeldMs)}), ${report.thisBoot.retries} retried (code 11), ${report.thisBoot.released} released, ${report.thisBoot.failedOpen} failed open, ${report.thisBoot.exempt} exempt`,
    );
    print(
      `counters: ${Object.entries(report.counters)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  });
}
