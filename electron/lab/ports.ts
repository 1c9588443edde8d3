import dgram from 'node:dgram';
import net from 'node:net';
import { FerryError } from '../../shared/errors.ts';

/** Can we bind 127.0.0.1:port (TCP or UDP) right now? false when something else holds it. */
export function portFree(port: number, proto: 'tcp' | 'udp', host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    if (proto === 'tcp') {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
    } else {
      const sock = dgram.createSocket('udp4');
      sock.once('error', () => {
        sock.close();
        resolve(false);
      });
      sock.bind({ port, address: host, exclusive: true }, () => sock.close(() => resolve(true)));
    }
  });
}

export interface PortUse {
  port: number;
  proto: 'tcp' | 'udp';
  /** What the lab wanted it for, e.g. "SSH forward of lab-source". */
  purpose: string;
  /** The `ferry lab up` option that changes it. */
  option: string;
}

/** Throw a FerryError naming the first port that is taken. */
export async function assertPortsFree(uses: PortUse[]): Promise<void> {
  for (const u of uses) {
    if (!(await portFree(u.port, u.proto))) {
      throw new FerryError({
        code: 'lab-port-in-use',
        message: `Port ${u.port}/${u.proto} on 127.0.0.1 (${u.purpose}) is already in use`,
        hint: `Stop what holds it (see: ss -${u.proto === 'tcp' ? 'lt' : 'lu'}np 'sport = :${u.port}'; a lab started from another FERRY_HOME? run \`ferry lab down\` there), or choose other ports: ferry lab up ${u.option}`,
      });
    }
  }
}
