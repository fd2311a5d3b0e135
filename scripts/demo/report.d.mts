// Types of report.mjs, for the TypeScript tests.
import type { TableRow } from './expect.mjs';
import type { DemoOptions } from './options.mjs';

export declare function tableLines(rows: TableRow[]): string[];
export declare function report(o: DemoOptions, input: unknown): Promise<boolean>;
export declare function printInteractive(o: DemoOptions, password: string): void;
