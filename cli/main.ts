#!/usr/bin/env node
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    console.error(`ambit: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
