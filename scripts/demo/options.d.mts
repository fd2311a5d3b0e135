// Types of options.mjs, for the TypeScript tests.
export declare const ROOT: string;
export declare const HELP: string;
export interface DemoPorts {
  ingest: number;
  aggregator: number;
  submitter: number;
  auditor: number;
  console: number;
  aws: number;
}
export interface DemoOptions {
  help: false;
  once: boolean;
  noInstall: boolean;
  noBuild: boolean;
  noStack: boolean;
  name: string;
  run: string;
  ownAws: boolean;
  faults: boolean;
  hours: number;
  timeoutS: number;
  jsonOut: string;
  ports: DemoPorts;
  kafka: string;
  registry: string;
  clickhouse: string;
  smtpHost: string;
  smtpPort: string;
  smtpWeb: string;
  awsUrl: string;
  database: string;
  topic: string;
  data: string;
  logs: string;
  logPrefix: string;
  plansDir: string;
}
export declare function parseOptions(
  argv: string[],
  env: Record<string, string | undefined>,
  run?: string,
): DemoOptions | { help: true };
export declare function logFile(o: DemoOptions, svc: string): string;
