import dgram from 'node:dgram';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../shared/errors.ts';
import { assertPortsFree, portFree } from './ports.ts';

const listenTcp = () =>
  new Promise<net.Server>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });

describe('port-in-use detection', () => {
  it('sees a TCP port held by someone else, and a free one', async () => {
    const s = await listenTcp();
    const port = (s.address() as net.AddressInfo).port;
    expect(await portFree(port, 'tcp')).toBe(false);
    await new Promise<void>((r) => s.close(() => r()));
    expect(await portFree(port, 'tcp')).toBe(true);
  });

  it('sees a UDP port held by someone else', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    expect(await portFree(port, 'udp')).toBe(false);
    sock.close();
  });

  it('fails with a FerryError naming the port, its purpose and the option to change it', async () => {
    const s = await listenTcp();
    const port = (s.address() as net.AddressInfo).port;
    const err = await assertPortsFree([{ port, proto: 'tcp', purpose: 'SSH forward of lab-source', option: '--ssh-ports SOURCE,TARGET' }]).catch((e) => e);
    s.close();
    expect(isFerryError(err)).toBe(true);
    expect(err.code).toBe('lab-port-in-use');
    expect(err.message).toContain(`Port ${port}/tcp`);
    expect(err.message).toContain('lab-source');
    expect(err.hint).toContain('--ssh-ports');
  });
});
