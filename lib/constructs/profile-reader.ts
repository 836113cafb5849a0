import { Duration } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import { profileSettingsToEnv, ProfileSettings } from '../../lambdas/shared/domain/settings';
import { ENV } from '../../lambdas/shared/env';
import { HouseFunction } from './house-function';

export interface ProfileReaderProps {
  profiles: ITable;
  identities: ITable;
  /** Where admin consent statements go. */
  stream: IStream;
  settings: ProfileSettings;
  logRetentionDays: number;
}

/**
 * The profile admin API (IAM authorization): `GET /v1/profiles/{userId}` reads the person's profile by any linked
 * id; `PUT /v1/profiles/{userId}/consent` puts an operator's consent statement on the event stream.
 */
export class ProfileReader extends Construct {
  readonly function: HouseFunction;

  constructor(scope: Construct, id: string, props: ProfileReaderProps) {
    super(scope, id);
    this.function = new HouseFunction(this, 'Profiles', {
      entry: 'profiles/handler.ts',
      serviceName: 'profiles-api',
      description: 'Profile admin API: profile reads and consent statements',
      memorySize: 256,
      timeout: Duration.seconds(5),
      logRetentionDays: props.logRetentionDays,
      environment: profileSettingsToEnv(props.settings),
    })
      .bindTable(props.profiles, ENV.profilesTable, 'dynamodb:GetItem')
      .bindTable(props.identities, ENV.identitiesTable, 'dynamodb:BatchGetItem')
      .bindStream(props.stream, ENV.eventStream, 'kinesis:PutRecords')
      .invokedSynchronouslyBy('API Gateway (/v1/profiles, IAM authorization)', 'the caller gets the error response');
  }
}
