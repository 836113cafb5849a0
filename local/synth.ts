import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { definePlatform } from '../lib/platform';
import { LocalModel, modelFromTemplate } from './template-model';

export const PROJECT_ROOT = path.join(__dirname, '..');
/**
 * Where the local runtime synthesizes to. It must sit inside the project: the bundles leave the AWS SDK
 * external (Lambda provides it), and Node resolves it from the project's node_modules above this directory.
 */
export const LOCAL_ASSEMBLY_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'personalization-local', 'cdk.out');

export interface Synthesized {
  template: Record<string, unknown>;
  model: LocalModel;
  assemblyDir: string;
}

/**
 * Synthesizes the stack the way `cdk synth` does (same stack definition, same cdk.json feature flags, the
 * functions bundled by esbuild) and reads the local model out of the template.
 */
export function synthesizeForLocal(context: Record<string, unknown> = {}, outdir = LOCAL_ASSEMBLY_DIR): Synthesized {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8'));
  fs.rmSync(outdir, { recursive: true, force: true });
  const app = new App({
    outdir,
    context: { ...cdkJson.context, ...context, 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:enable-path-metadata': true },
  });
  const stack = definePlatform(app);
  const assembly = app.synth();
  const template = assembly.getStackArtifact(stack.artifactId).template;
  return { template, model: modelFromTemplate(template, outdir), assemblyDir: outdir };
}
