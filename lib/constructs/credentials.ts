import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The API keys, generated at deploy time and held in Secrets Manager: the write key (for the Segment SDKs,
 * safe to ship in a web page, can only send events), the read key (for the recommendation API) and the admin key
 * (reads profiles, manages the catalog). Functions cache the
 * keys for five minutes, so rotating one (see README, "Rotating keys") needs no redeploy.
 */
export class Credentials extends Construct {
  readonly writeKey: Secret;
  readonly adminKey: Secret;
  readonly readKey: Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const generated = (description: string) => ({
      description,
      removalPolicy: RemovalPolicy.DESTROY,
      generateSecretString: { secretStringTemplate: '{}', generateStringKey: 'key', excludePunctuation: true, passwordLength: 40 },
    });
    this.writeKey = new Secret(this, 'WriteKey', generated('Personalization write key(s) for event ingestion: {"key": ...} or {"keys": [...]}'));
    this.adminKey = new Secret(this, 'AdminKey', generated('Personalization admin key(s) for profiles and the catalog: {"key": ...} or {"keys": [...]}'));
    this.readKey = new Secret(this, 'ReadKey', generated('Personalization read key(s) for recommendations: {"key": ...} or {"keys": [...]}'));
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Static API keys held by client applications: rotation is an operator step (add the new key next to the old, move clients, remove the old; see README), not a rotation Lambda',
    });
  }
}
