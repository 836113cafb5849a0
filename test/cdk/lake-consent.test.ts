import { CfnElement } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { ENV } from '../../lambdas/shared/env';
import { synth } from '../support/synth';


const { stack, template } = synth();
const resources = (type: string) => template.findResources(type);
const logicalIdOf = (construct: IConstruct) => stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
const arn = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalIdOf(construct), 'Arn'] });
const filterFn = stack.lake.consentFilter.fn;
const deliveryStreamOf = (construct: IConstruct) => resources('AWS::KinesisFirehose::DeliveryStream')[logicalIdOf(construct)].Properties;
const roleOfDeliveryStream = (construct: IConstruct) => deliveryStreamOf(construct).ExtendedS3DestinationConfiguration.RoleARN['Fn::GetAtt'][0] as string;

/** The table ARN a resource names: the table's own, or the table's under `Fn::Join` (its indexes, `<arn>/index/*`). */
const tableArnOf = (resource: unknown): unknown => (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join']?.[1][0] ?? resource;

/** Every statement of the policies attached to `roleId`: actions sorted, a single resource unwrapped. */
function statementsOfRole(roleId: string): Array<{ Action: string[]; Resource: unknown }> {
  return Object.values(resources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .map((s: { Action: string | string[]; Resource: unknown; Effect: string }) => {
      expect(s.Effect).toBe('Allow');
      return { Action: [s.Action].flat().sort(), Resource: Array.isArray(s.Resource) && s.Resource.length === 1 ? s.Resource[0] : s.Resource };
    });
}

describe('the lake consent filter', () => {
  it('is the one processor of the events delivery stream: a Lambda invoked with the stream role, buffering like the lake', () => {
    const destination = deliveryStreamOf(stack.lake.eventsDeliveryStream).ExtendedS3DestinationConfiguration;
    expect(destination.ProcessingConfiguration).toEqual({
      Enabled: true,
      Processors: [
        {
          Type: 'Lambda',
          Parameters: [
            { ParameterName: 'RoleArn', ParameterValue: { 'Fn::GetAtt': [roleOfDeliveryStream(stack.lake.eventsDeliveryStream), 'Arn'] } },
            { ParameterName: 'LambdaArn', ParameterValue: arn(filterFn) },
            { ParameterName: 'BufferIntervalInSeconds', ParameterValue: '60' },
            { ParameterName: 'BufferSizeInMBs', ParameterValue: '3' },
          ],
        },
      ],
    });
    expect(deliveryStreamOf(stack.lake.badEventsDeliveryStream).ExtendedS3DestinationConfiguration.ProcessingConfiguration).toBeUndefined();
  });

  it('buffers as long as the lake does', () => {
    const custom = synth({ lakeBufferSeconds: '300' });
    const deliveryStream = custom.template.findResources('AWS::KinesisFirehose::DeliveryStream')[custom.stack.getLogicalId(custom.stack.lake.eventsDeliveryStream.node.defaultChild as CfnElement)];
    const [processor] = deliveryStream.Properties.ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors;
    expect(processor.Parameters).toContainEqual({ ParameterName: 'BufferIntervalInSeconds', ParameterValue: '300' });
  });

  it('may be invoked by the events delivery stream role, and that role may invoke nothing else', () => {
    const lambdaStatements = statementsOfRole(roleOfDeliveryStream(stack.lake.eventsDeliveryStream)).filter((s) => s.Action.some((a) => a.startsWith('lambda:')));
    expect(lambdaStatements).toEqual([{ Action: ['lambda:GetFunctionConfiguration', 'lambda:InvokeFunction'], Resource: arn(filterFn) }]);
    // Given to the role, not as a resource policy on the function.
    const permissions = Object.values(resources('AWS::Lambda::Permission')).filter((p) => JSON.stringify(p.Properties.FunctionName).includes(logicalIdOf(filterFn)));
    expect(permissions).toEqual([]);
    const badEventsRole = roleOfDeliveryStream(stack.lake.badEventsDeliveryStream);
    expect(statementsOfRole(badEventsRole).filter((s) => s.Action.some((a) => a.startsWith('lambda:')))).toEqual([]);
  });

  it('reads profiles and identity links, and writes nothing', () => {
    const fn = resources('AWS::Lambda::Function')[logicalIdOf(filterFn)];
    const statements = statementsOfRole(fn.Properties.Role['Fn::GetAtt'][0]);
    const dynamodb = statements.filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));
    // `Table.grant` adds the table's indexes, if it has any: still reads of that table only.
    const tableOrIndexes = (table: IConstruct) => expect.arrayContaining([arn(table)]);
    expect(dynamodb.map((s) => ({ ...s, Resource: [s.Resource].flat() }))).toEqual([
      { Action: ['dynamodb:GetItem'], Resource: tableOrIndexes(stack.store.profiles) },
      { Action: ['dynamodb:BatchGetItem'], Resource: tableOrIndexes(stack.store.identities) },
    ]);
    for (const s of dynamodb) {
      for (const resource of [s.Resource].flat()) expect([arn(stack.store.profiles), arn(stack.store.identities)]).toContainEqual(tableArnOf(resource));
    }
    // Besides the tables: their key (decrypting, as DynamoDB reads them for it), its log group and X-Ray, nothing else.
    expect(statements.filter((s) => !dynamodb.includes(s)).flatMap((s) => s.Action)).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']),
    );
    expect(statements).toContainEqual({ Action: ['kms:Decrypt'], Resource: arn(stack.platformKey!.key) });
    expect(statements).toHaveLength(5);
    expect(fn.Properties.Environment.Variables).toMatchObject({
      [ENV.profilesTable]: { Ref: logicalIdOf(stack.store.profiles) },
      [ENV.identitiesTable]: { Ref: logicalIdOf(stack.store.identities) },
      POWERTOOLS_SERVICE_NAME: 'lake-filter',
    });
  });

  it('gets the configured consent settings', () => {
    const custom = synth({ consentRequired: 'true', analyticsConsentCategory: ' C0002 ' });
    const fn = custom.template.findResources('AWS::Lambda::Function')[custom.stack.getLogicalId(custom.stack.lake.consentFilter.fn.node.defaultChild as CfnElement)];
    expect(fn.Properties.Environment.Variables).toMatchObject({ [ENV.consentRequired]: 'true', [ENV.analyticsConsentCategory]: 'c0002' });
    expect(resources('AWS::Lambda::Function')[logicalIdOf(filterFn)].Properties.Environment.Variables).toMatchObject({
      [ENV.consentRequired]: 'false',
      [ENV.analyticsConsentCategory]: 'analytics',
    });
  });
});
