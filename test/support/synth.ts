import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { cdkJsonContext, definePlatform } from '../../lib/platform';

/** Synthesizes the stack as `cdk synth` does (cdk.json feature flags), without bundling the functions. */
export function synth(context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = definePlatform(app);
  return { stack, template: Template.fromStack(stack) };
}
