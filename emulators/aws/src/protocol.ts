import type { FastifyReply, FastifyRequest } from 'fastify';
import { AwsError } from './aws-error.js';
import type { CallContext } from './wire.js';

/** The AWS JSON 1.1 content type. */
export const AMZ_JSON = 'application/x-amz-json-1.1';
/** The AWS JSON 1.0 content type (the Agreement Service). */
export const AMZ_JSON_10 = 'application/x-amz-json-1.0';

/** The Agreement Service operations the emulator serves. */
const AGREEMENT_OPERATIONS = [
  'SearchAgreements',
  'DescribeAgreement',
  'GetAgreementTerms',
  'GetAgreementEntitlements',
] as const;

/** An emulated operation and the SigV4 service its credentials must be scoped to. */
export interface Operation {
  service: 'aws-marketplace' | 'cloudtrail';
  name:
    | 'BatchMeterUsage'
    | 'MeterUsage'
    | 'ResolveCustomer'
    | 'GetEntitlements'
    | 'LookupEvents'
    | (typeof AGREEMENT_OPERATIONS)[number];
  /** The content type of its answers. */
  contentType: string;
}

const op = (name: Operation['name'], service: Operation['service'] = 'aws-marketplace') => ({
  name,
  service,
  contentType: AMZ_JSON,
});

/** X-Amz-Target → operation. CloudTrail answers both its short and its fully qualified prefix. */
export const TARGETS: Record<string, Operation> = {
  'AWSMPMeteringService.BatchMeterUsage': op('BatchMeterUsage'),
  'AWSMPMeteringService.MeterUsage': op('MeterUsage'),
  'AWSMPMeteringService.ResolveCustomer': op('ResolveCustomer'),
  'AWSMPEntitlementService.GetEntitlements': op('GetEntitlements'),
  'CloudTrail_20131101.LookupEvents': op('LookupEvents', 'cloudtrail'),
  'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents': op(
    'LookupEvents',
    'cloudtrail',
  ),
  ...Object.fromEntries(
    AGREEMENT_OPERATIONS.map((name) => [
      `AWSMPCommerceService_v20200301.${name}`,
      { ...op(name), contentType: AMZ_JSON_10 },
    ]),
  ),
};

/** Whether an operation is one of the Agreement Service's. */
export function isAgreementOperation(
  name: Operation['name'],
): name is (typeof AGREEMENT_OPERATIONS)[number] {
  return (AGREEMENT_OPERATIONS as readonly string[]).includes(name);
}

const CREDENTIAL_RE = /Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/;

/**
 * Who is calling `op`, from the SigV4 Authorization header (signatures are not verified, but the
 * credential scope must name the operation's service, as AWS checks); throws the error AWS answers
 * for a missing or malformed signature or a body that is not a JSON object.
 */
export function callContext(req: FastifyRequest, op: Operation, requestId: string): CallContext {
  const auth = String(req.headers.authorization ?? '');
  const cred = CREDENTIAL_RE.exec(auth);
  if (!auth)
    throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
  if (!cred)
    throw new AwsError('IncompleteSignatureException', 'Authorization header is not SigV4', 400);
  if (cred[4] !== op.service) {
    throw new AwsError(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${op.service}'.`,
      403,
    );
  }
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
    throw new AwsError('SerializationException', 'Request body must be a JSON object');
  }
  return {
    accessKeyId: cred[1] ?? '',
    region: cred[3] ?? 'us-east-1',
    sourceIp: req.ip,
    userAgent: String(req.headers['user-agent'] ?? ''),
    requestId,
  };
}

/** Answers an AWS error as AWS does: status, `x-amzn-ErrorType` and `{ __type, message }`. */
export function sendAwsError(
  reply: FastifyReply,
  err: AwsError,
  contentType = AMZ_JSON,
): FastifyReply {
  return reply
    .status(err.status)
    .header('content-type', contentType)
    .header('x-amzn-ErrorType', err.type)
    .send({ __type: err.type, message: err.message });
}
