/**
 * TLS for a migration's page streams: a throwaway CA and one key pair per host,
 * made on the console for one migration, copied to each host over its SSH session, deleted
 * at commit, rollback and recovery.
 *
 * What CRIU 3.17 checks (criu/tls.c, confirmed in the lab by tls.lab.test.ts):
 * - with --tls-cacert it trusts that CA alone (no system trust store);
 * - the listening end (page server; a lazy dump serving pages) requires a client certificate
 *   (GNUTLS_CERT_REQUIRE), and both ends verify the peer's chain against the CA;
 * - unless --tls-no-cn-verify, each end checks that the peer's certificate names CRIU's own
 *   --address. For a client that is the server's address (what we want). A listener given
 *   --address (the lazy dump) would check its *client* against its own listening address, so
 *   the lazy dump runs with --tls-no-cn-verify: it still takes only a certificate signed by
 *   this migration's CA, which signed exactly two (source and target).
 * Seen in the lab (Debian criu 3.17.1, GnuTLS): ECDSA P-256 keys and an IP subjectAltName
 * pass ("tls: TLS handshake completed" on both ends); a client without a certificate gets
 * "Accepted connection from A:P" then "tls: TLS handshake failed: Certificate is required."
 * in the page server's log, and the one-shot page server exits, so the source's (pre-)dump
 * then fails to connect: refusedPeer() turns that into an error naming the stranger.
 *
 * Why the system's `openssl` CLI: it is on every Linux and macOS machine (OpenSSL or
 * LibreSSL), makes keys and X.509 certificates with no npm dependency (Node's crypto makes
 * keys but not certificates; @peculiar/x509 would need a global reflect-metadata polyfill),
 * and each step is a plain local command the CommandRunner records (host `local`) and the
 * runbook can show. `openssl ca` rather than `x509 -req`: it takes -startdate, so the
 * certificates are backdated an hour and a host whose clock lags the console's still accepts
 * them. Keys are ECDSA P-256 (GnuTLS accepts them; small and fast).
 *
 * Key material never enters the journal: the openssl commands write files in a private
 * temporary directory (mode 0700, removed before this returns) and print nothing of them
 * (quiet anyway); files reach the hosts on stdin, which the CommandRunner does not record,
 * so the journal holds their paths only.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_HOST } from '../../../shared/api.ts';
import type { EngineEvent } from '../../../shared/api.ts';
import { planUsesTls, type MigrationPlan } from '../../../shared/domain.ts';
import { FerryError, toErrorInfo } from '../../../shared/errors.ts';
import { isIPv4, isIPv6, type CriuTlsOptions } from '../../criu/argv.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** How long the certificates are valid (from an hour before they were made). */
export const TLS_VALID_DAYS = 1;
const BACKDATE_MS = 60 * 60_000;

export interface TlsPeer {
  alias: string;
  /** The address the other host reaches this one by (an IP or a host name); goes in its SAN. */
  address?: string;
}

/** A host's share: the CA certificate (public), its certificate, and its private key. */
export interface HostTls {
  ca: string;
  cert: string;
  key: string;
}

export interface MigrationTls {
  /** PEM text per host alias; held in memory only until installed. */
  hosts: Record<string, HostTls>;
}

/** Where a migration's TLS files live on a host: beside its images, never inside one. */
export function tlsDir(migrationDir: string): string {
  return `${migrationDir}/tls`;
}

export function tlsPaths(migrationDir: string): CriuTlsOptions {
  const d = tlsDir(migrationDir);
  return { cacert: `${d}/ca.pem`, cert: `${d}/cert.pem`, key: `${d}/key.pem` };
}

function utcTime(d: Date): string {
  // YYMMDDHHMMSSZ, the UTCTime `openssl ca -startdate/-enddate` takes.
  return d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

function san(address: string | undefined): string {
  if (!address) return '';
  return isIPv4(address) || isIPv6(address) ? `IP:${address}` : `DNS:${address}`;
}

/** A name openssl's config and subject parsers take as is. */
function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60);
}

/**
 * Make a throwaway CA and one certificate per host for one migration, with the system's
 * openssl, run as recorded local commands. Returns the PEM texts; nothing stays on disk.
 */
export async function makeMigrationTls(run: CommandRunner, migrationId: string, peers: TlsPeer[], opts: { openssl?: string; now?: Date } = {}): Promise<MigrationTls> {
  const openssl = opts.openssl ?? 'openssl';
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tls-')); // mkdtemp makes it 0700
  const now = opts.now ?? new Date();
  const start = utcTime(new Date(now.getTime() - BACKDATE_MS));
  const end = utcTime(new Date(now.getTime() + TLS_VALID_DAYS * 86_400_000));
  const ossl = async (args: string[], what: string) => {
    await run.run(LOCAL_HOST, [openssl, ...args], { quiet: true, check: true, what, timeoutMs: 30_000 }).catch((e: unknown) => {
      if (e instanceof FerryError && e.code === 'local-command-failed') {
        throw new FerryError({
          code: 'tls-openssl-missing',
          host: LOCAL_HOST,
          message: `Ferry makes each migration's TLS certificates with openssl, which it could not run on this machine`,
          evidence: e.message,
          hint: 'Install openssl (Debian/Ubuntu: apt install openssl; macOS ships it), or turn TLS off for this plan (tls: false) on a network you trust.',
        });
      }
      throw e;
    });
  };
  try {
    const leaves = peers
      .map(
        (p, i) => `[leaf${i}]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${p.address ? `subjectAltName = ${san(p.address)}` : ''}
`,
      )
      .join('\n');
    await writeFile(
      join(dir, 'openssl.cnf'),
      `[ca]
default_ca = ferry
[ferry]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}
serial = ${dir}/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
${leaves}`,
      { mode: 0o600 },
    );
    await writeFile(join(dir, 'index.txt'), '', { mode: 0o600 });
    await writeFile(join(dir, 'serial'), `${randomBytes(8).toString('hex').replace(/^./, '1')}\n`, { mode: 0o600 });
    const cnf = join(dir, 'openssl.cnf');
    const key = (name: string) => ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, `${name}.key`)], `making the ${name} key`);
    const sign = (name: string, subject: string, ext: string, selfsign: boolean) =>
      ossl(
        [
          'ca', '-batch', '-notext', '-config', cnf, '-extensions', ext, '-startdate', start, '-enddate', end,
          ...(selfsign ? ['-selfsign', '-keyfile', join(dir, `${name}.key`)] : ['-cert', join(dir, 'ca.pem'), '-keyfile', join(dir, 'ca.key')]),
          '-subj', subject, '-in', join(dir, `${name}.csr`), '-out', join(dir, `${name}.pem`),
        ],
        `signing the ${name} certificate`,
      );
    const csr = (name: string, subject: string) => ossl(['req', '-new', '-config', cnf, '-key', join(dir, `${name}.key`), '-subj', subject, '-out', join(dir, `${name}.csr`)], `making the ${name} request`);

    const mig = safeName(migrationId);
    await key('ca');
    await csr('ca', `/O=Ferry/CN=Ferry migration ${mig} CA`);
    await sign('ca', `/O=Ferry/CN=Ferry migration ${mig} CA`, 'v3_ca', true);
    const hosts: Record<string, HostTls> = {};
    const ca = await readFile(join(dir, 'ca.pem'), 'utf8');
    for (const [i, p] of peers.entries()) {
      const name = `host${i}`;
      const subject = `/O=Ferry/CN=${safeName(p.address ?? p.alias)}`;
      await key(name);
      await csr(name, subject);
      await sign(name, subject, `leaf${i}`, false);
      hosts[p.alias] = { ca, cert: await readFile(join(dir, `${name}.pem`), 'utf8'), key: await readFile(join(dir, `${name}.key`), 'utf8') };
    }
    return { hosts };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Copy a host its share: a directory only root can enter (0700), the certificates, and its key
 * (0600). The PEM text travels on stdin; the journal holds the paths only.
 */
export async function installTls(run: CommandRunner, host: string, migrationDir: string, share: HostTls): Promise<CriuTlsOptions> {
  const d = tlsDir(migrationDir);
  const paths = tlsPaths(migrationDir);
  await run.run(host, ['install', '-d', '-m', '0700', '--', d], { check: true, what: 'creating the TLS directory' });
  await run.writeFile(host, paths.cacert, share.ca, { mode: '0644', what: 'installing the migration CA certificate' });
  await run.writeFile(host, paths.cert, share.cert, { mode: '0644', what: 'installing the host certificate' });
  await run.writeFile(host, paths.key, share.key, { mode: '0600', what: 'installing the host key' });
  return paths;
}

/** Delete a host's TLS files (idempotent). */
export async function removeTls(run: CommandRunner, host: string, migrationDir: string): Promise<void> {
  await run.run(host, ['rm', '-rf', '--', tlsDir(migrationDir)], { check: true, what: 'deleting the TLS keys' });
}

/**
 * A TLS page server that exited because a peer failed the handshake or the check: who it was,
 * from its -v4 log ("Accepted connection from A:P", then a "tls:" error). Undefined otherwise.
 */
export function refusedPeer(log: string): { peer: string; why: string } | undefined {
  const accepted = /Accepted connection from (\S+)/.exec(log);
  const tlsError = /tls: (TLS handshake failed[^\n]*|Unable to verify TLS peer[^\n]*|Invalid certificate[^\n]*)/.exec(log);
  if (!accepted || !tlsError) return undefined;
  return { peer: accepted[1]!, why: tlsError[1]!.trim() };
}

/**
 * The error for a page stream a stranger tried to take over: `listener` (the target's page
 * server; in post-copy the source's lazy dump) took a first connection that was not `expected`'s.
 */
export function refusedPeerError(
  listener: string,
  expected: string,
  port: number,
  r: { peer: string; why: string },
  logPath: string,
  what: 'page server' | 'lazy dump' = 'page server',
): FerryError {
  return new FerryError({
    code: 'page-server-refused-peer',
    host: listener,
    message: `The ${what} on ${listener} refused ${r.peer}: it connected to port ${port} before ${expected} and had no certificate from this migration's CA, so no page went to or came from it; the ${what} stopped and the pages could not follow`,
    evidence: `tls: ${r.why} (${logPath})`,
    hint: `Something else on the migration network connects to port ${port} on ${listener}: find ${r.peer.replace(/:\d+$/, '')} and stop it, or use another page server port; then start the migration again.`,
  });
}

// --- One migration's TLS, from after preflight to commit (moved here from migration.ts) ---

interface MigrationTlsContext {
  run: CommandRunner;
  plan: MigrationPlan;
  migrationId: string;
  record(event: EngineEvent): void;
}

/**
 * Make this migration's CA and host keys on the console and copy each host its share into
 * `migrationDir`; or, with tls: false, say in the journal that pages travel in clear. `use`
 * gets the criu options as soon as the source holds its keys (a rollback preview then names
 * them), and undefined again if the target's copy failed: then no key is left on either host.
 */
export async function setUpTls(ctx: MigrationTlsContext, migrationDir: string, sourceAddress: string | undefined, use: (tls: CriuTlsOptions | undefined) => void): Promise<void> {
  const { run, plan, migrationId } = ctx;
  const { source, target } = plan;
  if (!planUsesTls(plan)) {
    ctx.record({
      type: 'decision',
      migrationId,
      by: 'policy',
      action: 'TLS off',
      reason: `the plan says tls: false: pages travel ${source} → ${target} as plain TCP (the process's memory in clear), and whatever reaches port ${plan.pageServerPort} first can feed the target`,
      at: new Date().toISOString(),
    });
    return;
  }
  const material = await makeMigrationTls(run, migrationId, [
    { alias: source, address: sourceAddress },
    { alias: target, address: plan.targetAddress },
  ]);
  try {
    use(await installTls(run, source, migrationDir, material.hosts[source]!));
    await installTls(run, target, migrationDir, material.hosts[target]!);
  } catch (e) {
    // Still in preflight as far as rollback goes: leave no key behind.
    use(undefined);
    for (const host of [source, target]) await removeTls(run, host, migrationDir).catch(() => undefined);
    throw e;
  }
  ctx.record({
    type: 'decision',
    migrationId,
    by: 'policy',
    action: 'TLS on',
    reason: `page streams over TLS: a CA made for this migration signed one certificate for ${source} and one for ${target}; each end takes only the other's. Keys in ${tlsDir(migrationDir)} on both hosts (root only), deleted at commit or rollback`,
    at: new Date().toISOString(),
  });
}

/** Delete both hosts' keys (commit; rollback deletes the whole work dir). A failure is reported, never fatal. */
export async function dropTls(ctx: MigrationTlsContext, migrationDir: string): Promise<void> {
  if (!planUsesTls(ctx.plan)) return;
  for (const host of [ctx.plan.source, ctx.plan.target]) {
    await removeTls(ctx.run, host, migrationDir).catch((e) =>
      ctx.record({ type: 'error', migrationId: ctx.migrationId, error: { ...toErrorInfo(e), hint: `Delete ${tlsDir(migrationDir)} on ${host} by hand: it holds this migration's TLS key.` } }),
    );
  }
}
// --- end one migration's TLS ---
