// A Node.js version of the boot gate's hot path, for bench/cni-gate.ts only: what a Node.js
// plugin would cost per CNI ADD when the boot is verified (read the config, the boot id and the
// verified record, print prevResult). It does less than the Go plugin (no counters, no hold), so
// its figures are a lower bound for a Node.js implementation. Runs plainly, or as the entry of a
// startup snapshot (node --snapshot-blob x.blob --build-snapshot this-file).
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');

function main() {
  const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
  if (process.env.CNI_COMMAND !== 'ADD') return;
  const boot = fs.readFileSync(conf.bootIdFile, 'utf8').trim();
  let verified = '';
  try {
    verified = fs.readFileSync(path.join(conf.stateDir, 'verified-boot-id'), 'utf8').trim();
  } catch {}
  if (verified !== boot) {
    process.stdout.write(
      JSON.stringify({ cniVersion: conf.cniVersion, code: 11, msg: 'not verified (prototype)' }),
    );
    process.exitCode = 1;
    return;
  }
  process.stdout.write(JSON.stringify(conf.prevResult));
}

if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(main);
else main();
