import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { FerryError } from '../../../shared/errors.ts';
import { Engine } from '../../engine/console.ts';
import { startWebBridge } from '../../web/server.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** `ferry ui --web`: the console in a browser on this machine, over the real engine. */
export function registerUiCommand(program: Command): void {
  program
    .command('ui')
    .description('Open the console. --web serves it to a browser on 127.0.0.1 (token-protected)')
    .option('--web', 'serve the console on loopback for a browser (the desktop app is `npm start`)')
    .option('--host <addr>', 'loopback address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (default: any free port)', (v) => Number(v), 0)
    .action(async (o: { web?: boolean; host: string; port: number }) => {
      if (!o.web) {
        throw new FerryError({ code: 'invalid-argument', message: 'The desktop console starts with `npm start` (it needs the Electron binary)', hint: 'Use `ferry ui --web` to open it in a browser on this machine.' });
      }
      const engine = new Engine();
      const bridge = await startWebBridge({ engine, rendererDir: path.join(repoRoot, 'out', 'renderer'), host: o.host, port: o.port });
      process.stdout.write(`Ferry console: ${bridge.url}\n(only this machine can reach it; the token in the URL is the key. Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
      await bridge.close();
      await engine.close();
    });
}
