import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The API keys, generated at deploy time and held in Secrets Manager: the write key (for the Segment SDKs, safe to
 * ship in a web page, can only send events) and the read key (for the recommendation API). Functions cache the
 * keys for five minutes and API Gateway caches an authorizer's answer for five more, so rotating one (see README,
 * "Rotating keys") needs no redeploy. The admin routes take no key: they use IAM authorization.
 */
export class Credentials extends Construct {
  readonly writeKey: Secret;
  readonly readKey: Secret;
  /** Keys the hashes that stand for ids in the logs (`LOG_HASH_SALT`): one value per deployment, never logged. */
  readonly logSalt: Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const generated = (description: string) => ({
      description,
      removalPolicy: RemovalPolicy.DESTROY,
      generateSecretString: { secretStringTemplate: '{}', generateStringKey: 'key', excludePunctuation: true, passwordLength: 40 },
    });
    this.writeKey = new Secret(this, 'WriteKey', generated('Personalization write key(s) for event ingestion: {"key": ...} or {"keys": [...]}'));
    this.readKey = new Secret(this, 'ReadKey', generated('Personalization read key(s) for recommendations: {"key": ...} or {"keys": [...]}'));
    this.logSalt = new Secret(this, 'LogSalt', {
      description: 'Personalization: salt of the keyed hashes that stand for personal ids in the function logs',
      removalPolicy: RemovalPolicy.DESTROY,
      generateSecretString: { excludePunctuation: true, passwordLength: 32 },
    });
    Validations.of(this.logSalt).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Rotating the log salt would only stop old and new log lines of a person from correlating; it never leaves the functions',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Static API keys held by client applications: rotation is an operator step (add the new key next to the old, move clients, remove the old; see README), not a rotation Lambda',
    });
  }
}
