import type { FastifyReply } from 'fastify';
import { z } from 'zod';

/** A product code as the model allows it. */
export const productCode = z
  .string()
  .regex(/^[-a-zA-Z0-9/=:_.@]{1,255}$/, 'not a valid product code');
/** A buyer account id (digits). */
export const accountId = z.string().regex(/^[0-9]{1,255}$/, 'must be digits');
/** A license ARN. */
export const licenseArn = z.string().startsWith('arn:aws');
/** Contract terms: units bought per dimension. */
export const termsSchema = z.array(
  z.object({ dimension: z.string().min(1), quantity: z.number().int().min(0) }).strict(),
);

/** A 400 body naming every invalid field. */
export function zodError(err: z.ZodError): {
  error: string;
  issues: { path: string; message: string }[];
} {
  return {
    error: 'invalid request body',
    issues: err.issues.map((i) => ({
      path: i.path.map(String).join('.') || '(root)',
      message: i.message,
    })),
  };
}

/** The body parsed by `schema`, or undefined after answering 400. */
export function parse<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  void reply.status(400).send(zodError(r.error));
  return undefined;
}
