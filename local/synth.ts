import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { cdkJsonContext, definePlatform } from '../lib/platform';
import { isAlive } from './clients';
import { LocalModel, modelFromTemplate } from './template-model';

const PROJECT_ROOT = path.join(__dirname, '..');
/**
 * Where local runtimes synthesize to, one directory per runtime. It must sit inside the project: the
 * bundles leave the AWS SDK external (Lambda provides it), and Node resolves it from the project's
 * node_modules above this directory.
 */
const ASSEMBLIES_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'personalization-local');

export interface Synthesized {
  template: Record<string, unknown>;
  model: LocalModel;
  /** This runtime's cloud assembly; remove it when the runtime stops. */
  assemblyDir: string;
}

/**
 * Synthesizes the stack the way `cdk synth` does (same stack definition, same cdk.json feature flags, the
 * functions bundled by esbuild) and reads the local model out of the template.
 */
export function synthesizeForLocal(context: Record<string, unknown> = {}): Synthesized {
  removeAbandonedAssemblies();
  fs.mkdirSync(ASSEMBLIES_DIR, { recursive: true });
  const outdir = fs.mkdtempSync(path.join(ASSEMBLIES_DIR, `${process.pid}-`));
  const app = new App({
    outdir,
    context: { ...cdkJsonContext(), ...context, 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:enable-path-metadata': true },
  });
  const stack = definePlatform(app);
  const assembly = app.synth();
  const template = assembly.getStackArtifact(stack.artifactId).template;
  return { template, model: modelFromTemplate(template, outdir), assemblyDir: outdir };
}

/** Removes the assemblies of runtimes whose process is gone (a crash leaves its directory behind). */
function removeAbandonedAssemblies(): void {
  if (!fs.existsSync(ASSEMBLIES_DIR)) return;
  for (const entry of fs.readdirSync(ASSEMBLIES_DIR)) {
    const pid = Number(entry.split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) fs.rmSync(path.join(ASSEMBLIES_DIR, entry), { recursive: true, force: true });
  }
}
