import { describe, expect, it } from 'vitest';
import {
  BOOT_GATE_OPTIONS,
  bootGateSettings,
  envName,
  flagName,
  loadAgentConfig,
  loadBootGateConfig,
} from './config.ts';

describe('agent config', () => {
  it('maps names mechanically', () => {
    expect(flagName('checkInterval')).toBe('--check-interval');
    expect(envName('checkInterval')).toBe('NETWARDEN_CHECK_INTERVAL');
    expect(envName('maxGatedFraction')).toBe('NETWARDEN_MAX_GATED_FRACTION');
  });

  it('takes flags over env over defaults', () => {
    const cfg = loadAgentConfig(
      { nodeName: 'n1', checkInterval: '100ms' },
      { NETWARDEN_CHECK_INTERVAL: '2s', NETWARDEN_MODE: 'bootstrap', NETWARDEN_TAINT: 'false' },
    );
    expect(cfg).toMatchObject({
      nodeName: 'n1',
      checkInterval: 100,
      mode: 'bootstrap',
      taint: false,
      steadyInterval: 30_000,
      openAfterPasses: 2,
      maxGatedFraction: 0.334,
      listen: '0.0.0.0:9746',
    });
  });

  it('backs every configuration field with an option (nothing silently undefined)', () => {
    const cfg = loadAgentConfig({ nodeName: 'n1' }, {});
    const undefinedFields = Object.entries(cfg).filter(([k, v]) => v === undefined && k !== 'kubeconfig');
    expect(undefinedFields).toEqual([]);
  });

  it('fails closed naming every bad flag with its env name', () => {
    expect(() => loadAgentConfig({ mode: 'sometimes', checkInterval: 'fast' }, {})).toThrow(
      /--node-name \(NETWARDEN_NODE_NAME\) is required.*--mode \(NETWARDEN_MODE\) = "sometimes".*--check-interval \(NETWARDEN_CHECK_INTERVAL\) = "fast": "fast" is not a duration/,
    );
    expect(() => loadAgentConfig({ nodeName: 'n', maxGatedFraction: '0' }, {})).toThrow(
      /--max-gated-fraction/,
    );
    expect(() => loadAgentConfig({ nodeName: 'n', listen: 'nowhere' }, {})).toThrow(
      /--listen .* must be host:port/,
    );
  });

  it('reads the boot gate options into the plugin settings', () => {
    const cfg = loadAgentConfig(
      { nodeName: 'n1', bootGate: 'true', bootGateMaxWait: '15s' },
      {
        NETWARDEN_BOOT_GATE_EXEMPT_NAMESPACES: 'kube-system, netwarden,,',
        NETWARDEN_CNI_BIN_DIR: '/host/opt/cni/bin',
      },
    );
    expect(cfg).toMatchObject({
      bootGate: true,
      cniBinDir: '/host/opt/cni/bin',
      bootGatePlugin: '/opt/netwarden/bin/netwarden-cni-gate',
    });
    expect(bootGateSettings(cfg)).toEqual({
      stateDir: '/run/netwarden',
      bootIdFile: '/proc/sys/kernel/random/boot_id',
      bootGateDeadlineMs: 300_000,
      maxWaitMs: 15_000,
      agentStartGraceMs: 120_000,
      heartbeatStaleMs: 30_000,
      exemptNamespaces: ['kube-system', 'netwarden'],
    });
    expect(loadAgentConfig({ nodeName: 'n1' }, {}).bootGate).toBe(false);
    const gateOnly = loadBootGateConfig({ bootGateExemptNamespaces: '' }, {});
    expect(bootGateSettings(gateOnly).exemptNamespaces).toEqual([]);
    expect(Object.keys(gateOnly).sort()).toEqual([...BOOT_GATE_OPTIONS].sort());
  });

  it('refuses bad boot gate options, and the boot gate with --dry-run', () => {
    expect(() => loadAgentConfig({ nodeName: 'n', bootGateExemptNamespaces: 'Kube_System' }, {})).toThrow(
      /--boot-gate-exempt-namespaces \(NETWARDEN_BOOT_GATE_EXEMPT_NAMESPACES\) = "Kube_System": must be comma-separated namespace names/,
    );
    expect(() => loadAgentConfig({ nodeName: 'n', bootGateMaxWait: '5m' }, {})).toThrow(
      /--boot-gate-max-wait .* must be between/,
    );
    expect(() => loadAgentConfig({ nodeName: 'n', bootGateStateDir: 'run' }, {})).toThrow(/absolute path/);
    expect(() => loadAgentConfig({ nodeName: 'n', bootGate: 'true', dryRun: 'true' }, {})).toThrow(
      /--boot-gate .* cannot be combined with --dry-run/,
    );
    expect(() =>
      loadAgentConfig({ nodeName: 'n', bootGate: 'true', bootGateDeadline: '20m', maxBootHold: '15m' }, {}),
    ).toThrow('--boot-gate-deadline (20m) must not exceed --max-boot-hold (15m)');
  });
});
