import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import { type BundleLimits, bundleName, DEFAULT_BUNDLE_LIMITS, readBundle } from './bundle.ts';
import { TAR_END, tarEntry } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'nwdoc-bundle-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RULE = '0:\tfrom all lookup local\n';
let n = 0;
/** A fresh directory bundle with `files` (path → content) below it. */
function dirBundle(files: Record<string, string | Buffer>): string {
  const b = join(dir, `b${n++}`);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(b, p, '..'), { recursive: true });
    writeFileSync(join(b, p), content);
  }
  mkdirSync(b, { recursive: true });
  return b;
}
/** A .tar.gz bundle of `entries`, one root folder as the EKS collector writes. */
function archive(entries: Buffer[], gz = true): string {
  const f = join(dir, `a${n++}.tar${gz ? '.gz' : ''}`);
  const tar = Buffer.concat([...entries, TAR_END]);
  writeFileSync(f, gz ? gzipSync(tar) : tar);
  return f;
}
const inRoot = (p: string, content: string | Buffer): Buffer => tarEntry(`eks_i-1/${p}`, content);

async function unreadable(p: string, limits?: BundleLimits): Promise<string> {
  try {
    await readBundle(p, limits);
  } catch (err) {
    expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`--bundle ${p}: `)).toBe(true);
    return message;
  }
  throw new Error(`${p} was read`);
}

describe('bundleName', () => {
  it.each([
    ['networking/iprule.txt', 'networking/iprule.txt'],
    ['eks_i-123_2024/networking/iprule.txt', 'networking/iprule.txt'],
    ['eks_i-123_2024/cni/10-aws.conflist', 'cni/10-aws.conflist'],
    ['eks_i-123_2024/cni/sub/x.conf', undefined],
    ['a/b/networking/iprule.txt', undefined],
    ['system/ps.txt', undefined],
  ])('%s → %s', (p, want) => {
    expect(bundleName(p)).toBe(want);
  });
});

describe('readBundle: unreadable input is one line naming the path and the problem', () => {
  it.each<[string, () => string, RegExp]>([
    ['a missing path', () => join(dir, 'nope'), /no such file or directory/],
    ['an empty directory', () => dirBundle({}), /no support-bundle files found/],
    [
      'a text file',
      () => {
        const f = join(dir, 'text.txt');
        writeFileSync(f, 'hello\n'.repeat(200));
        return f;
      },
      /not a tar archive/,
    ],
    [
      'a corrupt gzip',
      () => {
        const f = join(dir, 'bad.tar.gz');
        const gz = gzipSync(Buffer.concat([inRoot('networking/iprule.txt', RULE.repeat(5000)), TAR_END]));
        writeFileSync(f, gz.subarray(0, gz.length / 2));
        return f;
      },
      /corrupt gzip or tar \(unexpected end of file\)/,
    ],
    [
      'a gzip of non-tar data',
      () => {
        const f = join(dir, 'notar.tar.gz');
        writeFileSync(f, gzipSync(Buffer.from('x'.repeat(5000))));
        return f;
      },
      /not a tar archive/,
    ],
    [
      'an xz file',
      () => {
        const f = join(dir, 'b.tar.xz');
        writeFileSync(f, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]));
        return f;
      },
      /a xz file: netwarden reads a directory, \.tar, \.tar\.gz or \.tgz/,
    ],
    ['a character device', () => '/dev/null', /not a directory or a regular file/],
    [
      'an archive with no bundle file',
      () => archive([tarEntry('x/readme.txt', 'hi')]),
      /no support-bundle files in the archive/,
    ],
  ])('%s', async (_name, make, problem) => {
    expect(await unreadable(make())).toMatch(problem);
  });
});

describe('readBundle: directory bundles never lead outside', () => {
  const outside = join(dir, 'outside');
  mkdirSync(join(outside, 'net'), { recursive: true });
  writeFileSync(join(outside, 'secret'), 'root:x:0:0\n');
  writeFileSync(join(outside, 'net', 'iproute.txt'), 'default via 6.6.6.6 dev eth0\n');
  writeFileSync(join(outside, 'net', 'iprule.txt'), RULE);

  it('refuses a final symbolic link out of the bundle, follows one that stays inside', async () => {
    const b = dirBundle({
      'networking/iprule.txt': RULE,
      'networking/real-route.txt': '10.0.0.5 dev eni1\n',
    });
    symlinkSync(join(outside, 'secret'), join(b, 'networking', 'ip-route.json'));
    symlinkSync('real-route.txt', join(b, 'networking', 'iproute.txt'));
    const inputs = await readBundle(b);
    expect(inputs.get('networking/ip-route.json')).toBeUndefined();
    expect(inputs.get('networking/iproute.txt')).toBe('10.0.0.5 dev eni1\n');
    expect(inputs.notes).toContain(
      'networking/ip-route.json: a symbolic link out of the bundle; not followed',
    );
  });

  it('refuses a symbolic link on an intermediate directory (networking → outside)', async () => {
    const b = dirBundle({ 'ipamd/enis.json': '{}' });
    symlinkSync(join(outside, 'net'), join(b, 'networking'));
    const inputs = await readBundle(b);
    expect(inputs.get('networking/iproute.txt')).toBeUndefined();
    expect(inputs.get('networking/iprule.txt')).toBeUndefined();
    expect(inputs.notes).toEqual(
      expect.arrayContaining([
        'networking/iprule.txt: a symbolic link out of the bundle; not followed',
        'networking/iproute.txt: a symbolic link out of the bundle; not followed',
      ]),
    );
  });

  it('refuses a cni/ folder linked out of the bundle, and the root folder found through one', async () => {
    const b = dirBundle({ 'networking/iprule.txt': RULE });
    mkdirSync(join(outside, 'cni'), { recursive: true });
    writeFileSync(join(outside, 'cni', '10-evil.conflist'), '{"cniVersion":"1.0.0"}');
    symlinkSync(join(outside, 'cni'), join(b, 'cni'));
    const inputs = await readBundle(b);
    expect(inputs.cniFiles()).toBeUndefined();
    expect(inputs.notes).toContain('cni/: a symbolic link out of the bundle; not followed');
    // A bundle whose only folder is a link out: nothing inside, so nothing to read.
    const wrapper = dirBundle({});
    symlinkSync(outside, join(wrapper, 'eks_i-1'));
    expect(await unreadable(wrapper)).toMatch(/no support-bundle files found/);
  });

  it('does not block on a FIFO and says it was not read', async () => {
    const b = dirBundle({ 'networking/iprule.txt': RULE });
    execFileSync('mkfifo', [join(b, 'networking', 'iproute.txt')]);
    const inputs = await readBundle(b);
    expect(inputs.get('networking/iproute.txt')).toBeUndefined();
    expect(inputs.notes).toContain('networking/iproute.txt: not read: not a regular file');
  });

  it('descends into one root folder of an unpacked archive', async () => {
    const b = dirBundle({ 'eks_i-1_2024/networking/iprule.txt': RULE });
    const inputs = await readBundle(b);
    expect(inputs.found).toEqual(['networking/iprule.txt']);
  });
});

describe('readBundle: what is read, and within which limits', () => {
  it('does not read a whole-or-nothing input over its limit, nor presence-only inputs', async () => {
    const b = dirBundle({
      'networking/iprule.txt': RULE.repeat(Math.ceil((8 * 1024 * 1024 + 1) / RULE.length)),
      'networking/iproute.txt': '10.0.0.5 dev eni1\n',
      'sysctls/sysctl_all.txt': 'net.ipv4.ip_forward = 1\n',
    });
    const inputs = await readBundle(b);
    expect(inputs.get('networking/iprule.txt')).toBeUndefined();
    expect(inputs.get('sysctls/sysctl_all.txt')).toBeUndefined();
    expect(inputs.found).toEqual([
      'networking/iproute.txt',
      'networking/iprule.txt',
      'sysctls/sysctl_all.txt',
    ]);
    expect(inputs.missing).not.toContain('networking/iprule.txt');
    expect(inputs.notes).toEqual([
      'networking/iprule.txt (8.4 MB): not read: larger than its 8.4 MB limit (a cut copy would mislead the checks)',
    ]);
  });

  it('keeps the last part of a log over its limit', async () => {
    const line = 'Sync failed: iptables-restore exit 1\n';
    const log = `${'x'.repeat(9 * 1024 * 1024)}\n${line}`;
    for (const p of [
      dirBundle({ 'var_log/kube-proxy.log': log }),
      archive([inRoot('var_log/kube-proxy.log', log)]),
    ]) {
      const inputs = await readBundle(p);
      const kept = inputs.get('var_log/kube-proxy.log') ?? '';
      expect(kept.endsWith(line)).toBe(true);
      expect(kept.length).toBe(8 * 1024 * 1024);
      expect(inputs.notes).toContain(
        'var_log/kube-proxy.log: larger than its 8.4 MB limit; the last part read',
      );
    }
  });

  it('archives: the last copy of a duplicated entry wins; links are never followed', async () => {
    const f = archive([
      inRoot('networking/iprule.txt', 'first\n'),
      inRoot('networking/iprule.txt', RULE),
      tarEntry('eks_i-1/networking/iproute.txt', '', '2', { link: '/etc/shadow' }),
      tarEntry('../../etc/cron.d/x', 'evil'),
    ]);
    const inputs = await readBundle(f);
    expect(inputs.get('networking/iprule.txt')).toBe(RULE);
    expect(inputs.get('networking/iproute.txt')).toBeUndefined();
    expect(inputs.notes).toEqual([
      'archive entry "../../etc/cron.d/x" skipped: unsafe path',
      'networking/iproute.txt: a link in the archive; not followed',
      'networking/iprule.txt: appears 2 times in the bundle; the last copy is read',
    ]);
  });

  it('archives: a whole-or-nothing input cut by the end of the archive is not read', async () => {
    const full = Buffer.concat([
      inRoot('networking/iprule.txt', RULE),
      inRoot('networking/iproute.txt', 'x'.repeat(4000)),
    ]);
    const f = join(dir, 'cut.tar');
    writeFileSync(f, full.subarray(0, full.length - 1000));
    const inputs = await readBundle(f);
    expect(inputs.get('networking/iprule.txt')).toBe(RULE);
    expect(inputs.get('networking/iproute.txt')).toBeUndefined();
    expect(inputs.notes).toContain('networking/iproute.txt: not read: the archive ends inside it');
  });

  it('archives: refuses a gzip bomb early, and any stream over the size limit', async () => {
    const bomb = archive([inRoot('networking/iprule.txt', Buffer.alloc(8 * 1024 * 1024, 0x0a))]);
    const limits = { ...DEFAULT_BUNDLE_LIMITS, ratioCheckAfterBytes: 1024 * 1024 };
    expect(await unreadable(bomb, limits)).toMatch(/gzip inflates more than 200:1 .*decompression bomb/);
    const big = archive([inRoot('var_log/kube-proxy.log', 'y'.repeat(3 * 1024 * 1024))], false);
    expect(await unreadable(big, { ...DEFAULT_BUNDLE_LIMITS, maxArchiveBytes: 1024 * 1024 })).toMatch(
      /archive content exceeds 1048576 bytes/,
    );
  });

  it('keeps the inputs within the memory budget, more important ones first, and says what it left out', async () => {
    const route = '10.0.0.5 dev eni1\n'.repeat(20_000); // ~20 MB estimated
    const log = '{"level":"error","msg":"x"}\n'.repeat(20_000);
    const f = archive([
      inRoot('var_log/aws-routed-eni/ipamd.log', log),
      inRoot('networking/iproute.txt', route),
      inRoot('networking/iprule.txt', RULE),
    ]);
    const inputs = await readBundle(f, {
      ...DEFAULT_BUNDLE_LIMITS,
      memoryBudgetBytes: 30e6,
      budgetHint: () => ' (hint)',
    });
    expect(inputs.get('networking/iprule.txt')).toBe(RULE);
    expect(inputs.get('networking/iproute.txt')).toBe(route);
    const kept = inputs.get('var_log/aws-routed-eni/ipamd.log') ?? '';
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(log.length);
    expect(log.endsWith(kept)).toBe(true);
    expect(inputs.notes.join('\n')).toMatch(/ipamd\.log: only the last .* read \(memory budget/);
    const tooBig = await readBundle(f, {
      ...DEFAULT_BUNDLE_LIMITS,
      memoryBudgetBytes: 5e6,
      budgetHint: () => ' (hint)',
    });
    expect(tooBig.get('networking/iproute.txt')).toBeUndefined();
    expect(tooBig.notes).toContainEqual(
      expect.stringMatching(
        /^networking\/iproute\.txt \(0\.4 MB\): not read: parsing needs ~20\.4 MB, .* \(hint\)$/,
      ),
    );
  });

  it('reads at most 64 CNI files and says so once', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 70; i++)
      files[`cni/${String(i).padStart(2, '0')}-x.conflist`] = '{"cniVersion":"1.0.0"}';
    const inputs = await readBundle(dirBundle(files));
    expect(inputs.cniFiles()).toHaveLength(64);
    expect(inputs.notes).toEqual(['cni/: more than 64 files; the others not read']);
  });
});
