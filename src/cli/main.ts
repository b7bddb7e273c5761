#!/usr/bin/env node
/**
 * The `netwarden` command: parses arguments, wires real adapters, and owns exit codes:
 * 0 success, 1 the command ran and found a problem (or failed at runtime), 2 bad usage or input.
 */
import { Command, CommanderError } from 'commander';
import { describeError, isNetwardenError } from '../errors.ts';
import { VERSION } from '../version.ts';

/** Exit codes of the CLI (documented in --help). */
export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;

/**
 * The commands and the modules that define them. A module is imported only when its command runs
 * (all of them for --help or an unknown command): `agent` and `lab` load the Kubernetes client
 * (~80 MB RSS), which `doctor --bundle` never needs and whose memory bound it would eat.
 */
const COMMANDS: Readonly<Record<string, () => Promise<(program: Command) => void>>> = {
  lab: async () => (await import('./lab.ts')).registerLabCommands,
  doctor: async () => (await import('./doctor.ts')).registerDoctorCommand,
  agent: async () => (await import('./agent.ts')).registerAgentCommand,
  cleanup: async () => (await import('./cleanup.ts')).registerCleanupCommand,
  status: async () => (await import('./status.ts')).registerStatusCommand,
  'cni-gate': async () => (await import('./cni-gate.ts')).registerCniGateCommands,
};

/**
 * Builds the command tree, with only the command `first` names when it names one; exported so
 * tests can parse arguments without running anything.
 */
export async function buildProgram(first?: string): Promise<Command> {
  const program = new Command('netwarden')
    .description(
      'Keeps pods off a Kubernetes node until its network data path really works, and repairs the pods ' +
        'that got their network before it did.',
    )
    .version(VERSION, '-V, --version', 'print the netwarden version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 problems found or a runtime failure, 2 bad usage or unreadable input.

Examples:
  netwarden status                every node's gate, reason, boot→ready time, recent recycles
  netwarden lab control-plane     start a real control plane, print a summary, tear it down
  netwarden lab build             build (or find) the pinned Kubernetes binaries the lab runs`,
    )
    .exitOverride();

  program
    .command('version')
    .description('print the netwarden version')
    .action(() => {
      process.stdout.write(`netwarden ${VERSION}\n`);
    });

  const wanted = first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
  for (const name of wanted) (await (COMMANDS[name] as () => Promise<(p: Command) => void>)())(program);
  return program;
}

/** Runs the CLI and returns the exit code (never calls process.exit itself). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv[0]);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`netwarden: ${describeError(err)}\n`);
    if (
      isNetwardenError(err, 'usage') ||
      isNetwardenError(err, 'config-invalid') ||
      isNetwardenError(err, 'input-unreadable')
    ) {
      return EXIT.usage;
    }
    return EXIT.findings;
  }
}

if (import.meta.main) {
  // `netwarden … | head` closes our stdout early: that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`netwarden: ${describeError(err)}\n`);
      process.exitCode = EXIT.findings;
    },
  );
}
