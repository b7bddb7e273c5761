import { describe, expect, it } from 'vitest';
import { envName, flagName, loadAgentConfig } from './config.ts';

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
});
