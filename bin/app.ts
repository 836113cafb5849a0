#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { definePlatform } from '../lib/platform';

const app = new App();
definePlatform(app);
// Security checks at every synth: an unacknowledged finding fails the synth, and so the deployment.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
