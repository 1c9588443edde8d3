#!/usr/bin/env node
// The `ferry` command. The engine is TypeScript run directly through tsx, so a checkout
// works right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
// A reader that goes away (`| head`) mutes the output instead of a stack trace.
const { muteWhenReaderGoes } = await import('./pipes.ts');
muteWhenReaderGoes();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
