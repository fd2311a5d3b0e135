/** An error answered on the AWS wire: `__type` in the body, `x-amzn-ErrorType` header, HTTP status. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}
