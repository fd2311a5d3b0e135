import type { FastifyReply, FastifyRequest } from 'fastify';
import { AwsError } from './aws-error.js';
import type { CallContext } from './wire.js';

/** The AWS JSON 1.1 content type. */
export const AMZ_JSON = 'application/x-amz-json-1.1';

/** An emulated operation and the SigV4 service its credentials must be scoped to. */
export interface Operation {
  service: 'aws-marketplace' | 'cloudtrail';
  name: 'BatchMeterUsage' | 'MeterUsage' | 'GetEntitlements' | 'LookupEvents';
}

/** X-Amz-Target → operation. CloudTrail answers both its short and its fully qualified prefix. */
export const TARGETS: Record<string, Operation> = {
  'AWSMPMeteringService.BatchMeterUsage': { service: 'aws-marketplace', name: 'BatchMeterUsage' },
  'AWSMPMeteringService.MeterUsage': { service: 'aws-marketplace', name: 'MeterUsage' },
  'AWSMPEntitlementService.GetEntitlements': {
    service: 'aws-marketplace',
    name: 'GetEntitlements',
  },
  'CloudTrail_20131101.LookupEvents': { service: 'cloudtrail', name: 'LookupEvents' },
  'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents': {
    service: 'cloudtrail',
    name: 'LookupEvents',
  },
};

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
export function sendAwsError(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply
    .status(err.status)
    .header('content-type', AMZ_JSON)
    .header('x-amzn-ErrorType', err.type)
    .send({ __type: err.type, message: err.message });
}
