/**
 * Entry point of the lab kubelet process: `node main.ts <config.json>`. Runs inside the node's
 * network namespace (started with nsenter, keeping the root mount namespace so that pod
 * namespaces it creates are visible to everyone). Logs JSON lines to stdout.
 */
import pino from 'pino';
import { connect } from '../../kube/connect.ts';
import { readKubeletConfig } from './config.ts';
import { LabKubelet } from './kubelet.ts';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: kubelet/main.ts <config.json>\n');
  process.exit(2);
}
const cfg = readKubeletConfig(path);
const logger = pino({ base: { node: cfg.nodeName, boot: cfg.bootId.slice(0, 8) } });
const apis = connect({ kubeconfigPath: cfg.kubeconfig, controller: 'kubelet', instance: cfg.nodeName });
const kubelet = new LabKubelet(cfg, apis, (msg, fields) => logger.info(fields ?? {}, msg));

const shutdown = (): void => {
  void kubelet.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

try {
  await kubelet.start();
  logger.info({ bootID: cfg.bootId }, 'kubelet started');
} catch (err) {
  logger.error({ err }, 'kubelet failed to start');
  process.exit(1);
}
