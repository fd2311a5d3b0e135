// The subset of the AWS API models (botocore service-2.json, Apache-2.0) that the emulator serves.
// Requests are validated against it at runtime; contract.int.test.ts checks it still equals botocore.
import type { ServiceModel } from './validator.js';

/** Shapes of the operations the emulator implements, keyed by botocore service name. */
export const MODELS: Record<
  'meteringmarketplace' | 'marketplace-entitlement' | 'cloudtrail',
  ServiceModel
> = {
  meteringmarketplace: {
    targetPrefix: 'AWSMPMeteringService',
    signingName: 'aws-marketplace',
    operations: {
      BatchMeterUsage: {
        input: 'BatchMeterUsageRequest',
        output: 'BatchMeterUsageResult',
        errors: [
          'InternalServiceErrorException',
          'InvalidProductCodeException',
          'InvalidUsageDimensionException',
          'InvalidTagException',
          'InvalidUsageAllocationsException',
          'InvalidCustomerIdentifierException',
          'TimestampOutOfBoundsException',
          'ThrottlingException',
          'DisabledApiException',
          'InvalidLicenseException',
        ],
      },
      MeterUsage: {
        input: 'MeterUsageRequest',
        output: 'MeterUsageResult',
        errors: [
          'InternalServiceErrorException',
          'InvalidProductCodeException',
          'InvalidUsageDimensionException',
          'InvalidTagException',
          'InvalidUsageAllocationsException',
          'InvalidEndpointRegionException',
          'TimestampOutOfBoundsException',
          'DuplicateRequestException',
          'IdempotencyConflictException',
          'ThrottlingException',
          'CustomerNotEntitledException',
        ],
      },
    },
    shapes: {
      BatchMeterUsageRequest: {
        type: 'structure',
        required: ['UsageRecords'],
        members: {
          UsageRecords: { shape: 'UsageRecordList' },
          ProductCode: { shape: 'ProductCode' },
        },
      },
      UsageRecordList: { type: 'list', member: { shape: 'UsageRecord' }, max: 25, min: 0 },
      UsageRecord: {
        type: 'structure',
        required: ['Timestamp', 'Dimension'],
        members: {
          Timestamp: { shape: 'Timestamp' },
          CustomerIdentifier: { shape: 'CustomerIdentifier' },
          Dimension: { shape: 'UsageDimension' },
          Quantity: { shape: 'UsageQuantity' },
          QuantityAsDecimal: { shape: 'UsageQuantityAsDecimalString' },
          UsageAllocations: { shape: 'UsageAllocations' },
          CustomerAWSAccountId: { shape: 'CustomerAWSAccountId' },
          LicenseArn: { shape: 'LicenseArn' },
        },
      },
      Timestamp: { type: 'timestamp' },
      CustomerIdentifier: { type: 'string', max: 255, min: 0, pattern: '[\\s\\S]*' },
      UsageDimension: { type: 'string', max: 255, min: 1, pattern: '[\\s\\S]+' },
      UsageQuantity: { type: 'integer', max: 2147483647, min: 0 },
      UsageQuantityAsDecimalString: {
        type: 'string',
        max: 17,
        min: 1,
        pattern: '^(0|[1-9][0-9]{0,9})(\\.[0-9]{1,6})?$',
      },
      UsageAllocations: { type: 'list', member: { shape: 'UsageAllocation' }, max: 2500, min: 1 },
      UsageAllocation: {
        type: 'structure',
        members: {
          AllocatedUsageQuantity: { shape: 'AllocatedUsageQuantity' },
          AllocatedUsageQuantityAsDecimal: { shape: 'AllocatedUsageQuantityAsDecimalString' },
          Tags: { shape: 'TagList' },
        },
      },
      AllocatedUsageQuantity: { type: 'integer', max: 2147483647, min: 0 },
      AllocatedUsageQuantityAsDecimalString: {
        type: 'string',
        max: 17,
        min: 1,
        pattern: '^(0|[1-9][0-9]{0,9})(\\.[0-9]{1,6})?$',
      },
      TagList: { type: 'list', member: { shape: 'Tag' }, max: 5, min: 1 },
      Tag: {
        type: 'structure',
        required: ['Key', 'Value'],
        members: { Key: { shape: 'TagKey' }, Value: { shape: 'TagValue' } },
      },
      TagKey: { type: 'string', max: 100, min: 1, pattern: '^[a-zA-Z0-9+ -=._:\\/@]+$' },
      TagValue: { type: 'string', max: 256, min: 1, pattern: '^[a-zA-Z0-9+ -=._:\\/@]+$' },
      CustomerAWSAccountId: { type: 'string', max: 255, min: 1, pattern: '^[0-9]+$' },
      LicenseArn: {
        type: 'string',
        pattern:
          '^arn:aws[a-zA-Z-]*:[A-Za-z0-9][A-Za-z0-9_/.-]{0,62}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9_/.-]{0,63}:[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,1023}$',
      },
      ProductCode: { type: 'string', max: 255, min: 0, pattern: '^[-a-zA-Z0-9/=:_.@]*$' },
      BatchMeterUsageResult: {
        type: 'structure',
        members: {
          Results: { shape: 'UsageRecordResultList' },
          UnprocessedRecords: { shape: 'UsageRecordList' },
        },
      },
      UsageRecordResultList: { type: 'list', member: { shape: 'UsageRecordResult' } },
      UsageRecordResult: {
        type: 'structure',
        members: {
          UsageRecord: { shape: 'UsageRecord' },
          MeteringRecordId: { shape: 'String' },
          Status: { shape: 'UsageRecordResultStatus' },
        },
      },
      String: { type: 'string' },
      UsageRecordResultStatus: {
        type: 'string',
        enum: ['Success', 'CustomerNotSubscribed', 'DuplicateRecord'],
      },
      InternalServiceErrorException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
        fault: true,
      },
      errorMessage: { type: 'string' },
      InvalidProductCodeException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      InvalidUsageDimensionException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      InvalidTagException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      InvalidUsageAllocationsException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      InvalidCustomerIdentifierException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      TimestampOutOfBoundsException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      ThrottlingException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      DisabledApiException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      InvalidLicenseException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      MeterUsageRequest: {
        type: 'structure',
        required: ['ProductCode', 'Timestamp', 'UsageDimension'],
        members: {
          ProductCode: { shape: 'ProductCode' },
          Timestamp: { shape: 'Timestamp' },
          UsageDimension: { shape: 'UsageDimension' },
          UsageQuantity: { shape: 'UsageQuantity' },
          UsageQuantityAsDecimal: { shape: 'UsageQuantityAsDecimalString' },
          DryRun: { shape: 'Boolean' },
          UsageAllocations: { shape: 'UsageAllocations' },
          ClientToken: { shape: 'ClientToken' },
        },
      },
      Boolean: { type: 'boolean' },
      ClientToken: { type: 'string', max: 64, min: 1 },
      MeterUsageResult: { type: 'structure', members: { MeteringRecordId: { shape: 'String' } } },
      InvalidEndpointRegionException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      DuplicateRequestException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      IdempotencyConflictException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
      CustomerNotEntitledException: {
        type: 'structure',
        members: { message: { shape: 'errorMessage' } },
        exception: true,
      },
    },
  },
  'marketplace-entitlement': {
    targetPrefix: 'AWSMPEntitlementService',
    signingName: 'aws-marketplace',
    operations: {
      GetEntitlements: {
        input: 'GetEntitlementsRequest',
        output: 'GetEntitlementsResult',
        errors: [
          'InvalidParameterException',
          'ThrottlingException',
          'InternalServiceErrorException',
        ],
      },
    },
    shapes: {
      GetEntitlementsRequest: {
        type: 'structure',
        required: ['ProductCode'],
        members: {
          ProductCode: { shape: 'ProductCode' },
          Filter: { shape: 'GetEntitlementFilters' },
          NextToken: { shape: 'NonEmptyString' },
          MaxResults: { shape: 'PageSizeInteger' },
        },
      },
      ProductCode: { type: 'string', max: 255, min: 1 },
      GetEntitlementFilters: {
        type: 'map',
        key: { shape: 'GetEntitlementFilterName' },
        value: { shape: 'FilterValueList' },
      },
      GetEntitlementFilterName: {
        type: 'string',
        enum: ['CUSTOMER_IDENTIFIER', 'DIMENSION', 'CUSTOMER_AWS_ACCOUNT_ID', 'LICENSE_ARN'],
      },
      FilterValueList: { type: 'list', member: { shape: 'FilterValue' }, min: 1 },
      FilterValue: { type: 'string' },
      NonEmptyString: { type: 'string', pattern: '\\S+' },
      PageSizeInteger: { type: 'integer', max: 25, min: 1 },
      GetEntitlementsResult: {
        type: 'structure',
        members: {
          Entitlements: { shape: 'EntitlementList' },
          NextToken: { shape: 'NonEmptyString' },
        },
      },
      EntitlementList: { type: 'list', member: { shape: 'Entitlement' }, min: 0 },
      Entitlement: {
        type: 'structure',
        members: {
          ProductCode: { shape: 'ProductCode' },
          Dimension: { shape: 'NonEmptyString' },
          CustomerIdentifier: { shape: 'NonEmptyString' },
          CustomerAWSAccountId: { shape: 'NonEmptyString' },
          Value: { shape: 'EntitlementValue' },
          ExpirationDate: { shape: 'Timestamp' },
          LicenseArn: { shape: 'String' },
        },
      },
      EntitlementValue: {
        type: 'structure',
        members: {
          IntegerValue: { shape: 'Integer' },
          DoubleValue: { shape: 'Double' },
          BooleanValue: { shape: 'Boolean' },
          StringValue: { shape: 'String' },
        },
      },
      Integer: { type: 'integer' },
      Double: { type: 'double' },
      Boolean: { type: 'boolean' },
      String: { type: 'string' },
      Timestamp: { type: 'timestamp' },
      InvalidParameterException: {
        type: 'structure',
        members: { message: { shape: 'ErrorMessage' } },
        exception: true,
      },
      ErrorMessage: { type: 'string' },
      ThrottlingException: {
        type: 'structure',
        members: { message: { shape: 'ErrorMessage' } },
        exception: true,
      },
      InternalServiceErrorException: {
        type: 'structure',
        members: { message: { shape: 'ErrorMessage' } },
        exception: true,
        fault: true,
      },
    },
  },
  cloudtrail: {
    targetPrefix: 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101',
    signingName: 'cloudtrail',
    operations: {
      LookupEvents: {
        input: 'LookupEventsRequest',
        output: 'LookupEventsResponse',
        errors: [
          'InvalidLookupAttributesException',
          'InvalidTimeRangeException',
          'InvalidMaxResultsException',
          'InvalidNextTokenException',
          'InvalidEventCategoryException',
          'UnsupportedOperationException',
          'OperationNotPermittedException',
        ],
      },
    },
    shapes: {
      LookupEventsRequest: {
        type: 'structure',
        members: {
          LookupAttributes: { shape: 'LookupAttributesList' },
          StartTime: { shape: 'Date' },
          EndTime: { shape: 'Date' },
          EventCategory: { shape: 'EventCategory' },
          MaxResults: { shape: 'MaxResults' },
          NextToken: { shape: 'NextToken' },
        },
      },
      LookupAttributesList: { type: 'list', member: { shape: 'LookupAttribute' } },
      LookupAttribute: {
        type: 'structure',
        required: ['AttributeKey', 'AttributeValue'],
        members: {
          AttributeKey: { shape: 'LookupAttributeKey' },
          AttributeValue: { shape: 'LookupAttributeValue' },
        },
      },
      LookupAttributeKey: {
        type: 'string',
        enum: [
          'EventId',
          'EventName',
          'ReadOnly',
          'Username',
          'ResourceType',
          'ResourceName',
          'EventSource',
          'AccessKeyId',
        ],
      },
      LookupAttributeValue: { type: 'string', max: 2000, min: 1 },
      Date: { type: 'timestamp' },
      EventCategory: { type: 'string', enum: ['insight'] },
      MaxResults: { type: 'integer', max: 50, min: 1 },
      NextToken: { type: 'string' },
      LookupEventsResponse: {
        type: 'structure',
        members: { Events: { shape: 'EventsList' }, NextToken: { shape: 'NextToken' } },
      },
      EventsList: { type: 'list', member: { shape: 'Event' } },
      Event: {
        type: 'structure',
        members: {
          EventId: { shape: 'String' },
          EventName: { shape: 'String' },
          ReadOnly: { shape: 'String' },
          AccessKeyId: { shape: 'String' },
          EventTime: { shape: 'Date' },
          EventSource: { shape: 'String' },
          Username: { shape: 'String' },
          Resources: { shape: 'ResourceList' },
          CloudTrailEvent: { shape: 'String' },
        },
      },
      String: { type: 'string' },
      ResourceList: { type: 'list', member: { shape: 'Resource' } },
      Resource: {
        type: 'structure',
        members: { ResourceType: { shape: 'String' }, ResourceName: { shape: 'String' } },
      },
      InvalidLookupAttributesException: { type: 'structure', members: {}, exception: true },
      InvalidTimeRangeException: { type: 'structure', members: {}, exception: true },
      InvalidMaxResultsException: { type: 'structure', members: {}, exception: true },
      InvalidNextTokenException: { type: 'structure', members: {}, exception: true },
      InvalidEventCategoryException: { type: 'structure', members: {}, exception: true },
      UnsupportedOperationException: { type: 'structure', members: {}, exception: true },
      OperationNotPermittedException: { type: 'structure', members: {}, exception: true },
    },
  },
};
