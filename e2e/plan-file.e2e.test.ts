/**
 * Plan files in the console (web mode: a path field and the recent list instead of native
 * dialogs), in Chromium against the real engine and real files: open fills the form, save
 * writes the change and keeps the user's comments, a bad file shows its problems at their
 * lines and leaves the form alone. Needs `npm run build` first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlanYaml } from '../electron/engine/plans/plan-file.ts';
import { startHarness, type Harness } from './harness.ts';

const WEB = `# Web tier move, agreed with ops
source: box
target: box2   # same machine, another alias

process: { pid: 4242 }   # the gunicorn master
# the load balancer retries after 1s
downtime_budget: 300ms
policy: { max_iterations: 6, growth_threshold: 15% }
health_check: { tcp: 8080, timeout: 2s }
`;

// Line 5 has the mistake; line 7 another.
const BAD = `# copied from the wiki
source: box
target: box2
process: { pid: 4242 }
policy: { growth_threshold: 0.1 }
mode: precopy
auto: yes
`;

let h: Harness;
let dir: string;
const at = (name: string) => path.join(dir, name);

beforeAll(async () => {
  h = await startHarness({ hosts: ['box'], sameHost: { box2: 'box' } });
  dir = path.join(h.home.home, 'plans');
  fs.mkdirSync(dir);
  fs.writeFileSync(at('web.yaml'), WEB);
  fs.writeFileSync(at('bad.yaml'), BAD);
  fs.writeFileSync(at('other.yaml'), 'apiVersion: v1\nkind: ConfigMap\n');
  await h.open();
  await h.page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Migrate', exact: true }).click();
});

afterAll(async () => {
  await h?.close();
});

const bar = () => h.page.getByTestId('plan-file');

/** Open… or Save as…, then type the path into web mode's path field and confirm. */
async function choose(which: 'Open…' | 'Save as…', file: string) {
  const { page } = h;
  await bar().getByRole('button', { name: which, exact: true }).click();
  const form = page.getByRole('form', { name: which === 'Open…' ? 'Open a plan file' : 'Save the plan as' });
  await form.getByLabel('Plan file path').fill(file);
  await form.getByRole('button', { name: which === 'Open…' ? 'Open' : 'Save', exact: true }).click();
}

describe('plan files in the plan view', () => {
  it('opens a plan file by path and fills the form with it', async () => {
    const { page } = h;
    expect(await page.getByTestId('plan-file-name').textContent()).toBe('No file');
    await choose('Open…', at('web.yaml'));
    await expect.poll(() => page.getByTestId('plan-file-name').textContent()).toBe('web.yaml');
    expect(await page.getByLabel('Source host').inputValue()).toBe('box');
    expect(await page.getByLabel('Target host').inputValue()).toBe('box2');
    expect(await page.getByLabel('PID').inputValue()).toBe('4242');
    expect(await page.getByLabel('Downtime budget (ms)').inputValue()).toBe('300');
    expect(await page.getByLabel('Max iterations').inputValue()).toBe('6');
    expect(await page.getByLabel('Growth threshold').inputValue()).toBe('0.15');
    expect(await page.getByLabel('Health check').inputValue()).toBe('tcp');
    expect(await page.getByLabel('Port', { exact: true }).inputValue()).toBe('8080');
    expect(await page.getByLabel('Timeout (ms)').inputValue()).toBe('2000');
    expect(await page.getByTestId('plan-file-dirty').count()).toBe(0);
  });

  it('marks a change as unsaved, saves it into the file and keeps the comments', async () => {
    const { page } = h;
    await page.getByLabel('Downtime budget (ms)').fill('450');
    await page.getByTestId('plan-file-dirty').waitFor();
    await h.screenshot('plan-file-unsaved');
    await bar().getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.getByTestId('plan-file-dirty').count()).toBe(0);
    expect(await page.getByTestId('plan-file-note').textContent()).toBe(`Saved ${at('web.yaml')}`);
    const text = fs.readFileSync(at('web.yaml'), 'utf8');
    expect(text).toContain('downtime_budget: 450ms');
    expect(text).toContain('# the load balancer retries after 1s\ndowntime_budget: 450ms');
    expect(text).toContain('target: box2 # same machine, another alias');
    expect(text).toContain('# Web tier move, agreed with ops');
    expect(text).not.toContain('300ms');
    // Only the budget changed in meaning.
    const before = parsePlanYaml(WEB, 'web.yaml');
    expect(parsePlanYaml(text, 'web.yaml')).toStrictEqual({ ...before, policy: { ...before.policy, downtimeBudgetMs: 450 } });
  });

  it('Revert reads the file again and drops the form\'s changes', async () => {
    const { page } = h;
    await page.getByLabel('Max iterations').fill('9');
    await page.getByTestId('plan-file-dirty').waitFor();
    await bar().getByRole('button', { name: 'Revert' }).click();
    await expect.poll(() => page.getByLabel('Max iterations').inputValue()).toBe('6');
    expect(await page.getByLabel('Downtime budget (ms)').inputValue()).toBe('450');
    expect(await page.getByTestId('plan-file-dirty').count()).toBe(0);
  });

  it('a broken file shows each problem with its line, column and field, and leaves the form alone', async () => {
    const { page } = h;
    await page.getByLabel('Downtime budget (ms)').fill('500');
    await bar().getByRole('button', { name: 'Open…', exact: true }).click();
    // The recent list offers the plan opened and saved before.
    expect(await page.getByTestId('plan-file-recent').textContent()).toContain(at('web.yaml'));
    await page.getByText("Opening another plan drops the form's unsaved changes.").waitFor();
    await page.getByRole('form', { name: 'Open a plan file' }).getByLabel('Plan file path').fill(at('bad.yaml'));
    await page.getByRole('form', { name: 'Open a plan file' }).getByRole('button', { name: 'Open', exact: true }).click();
    const problems = page.getByTestId('plan-file-problems');
    await problems.waitFor();
    const items = page.getByTestId('plan-file-problem');
    expect(await items.count()).toBe(2);
    expect(await items.nth(0).getAttribute('data-line')).toBe('5');
    expect(await items.nth(0).getAttribute('data-field')).toBe('policy.growth_threshold');
    expect(await items.nth(0).textContent()).toContain('line 5:29 policy.growth_threshold: must be a percentage like 10%');
    expect(await items.nth(0).locator('pre').textContent()).toBe('policy: { growth_threshold: 0.1 }');
    expect(await items.nth(1).textContent()).toContain('line 7:7 auto: must be true or false');
    expect(await problems.textContent()).toContain('bad.yaml was not opened: 2 problems. The form is unchanged.');
    await problems.getByText(`Show ${at('bad.yaml')}`).click();
    expect(await page.locator('[data-testid="plan-file-text"] .bad-line').allTextContents()).toEqual(['5policy: { growth_threshold: 0.1 }', '7auto: yes']);
    await h.screenshot('plan-file-problems', { fullPage: true });
    // The form and its file are as they were.
    expect(await page.getByLabel('Downtime budget (ms)').inputValue()).toBe('500');
    expect(await page.getByTestId('plan-file-name').textContent()).toBe('web.yaml');
    await page.getByTestId('plan-file-dirty').waitFor();
  });

  it('Save as writes a new file; over a file that is not a plan it asks first', async () => {
    const { page } = h;
    await choose('Save as…', at('copy.yaml'));
    await expect.poll(() => page.getByTestId('plan-file-name').textContent()).toBe('copy.yaml');
    expect(parsePlanYaml(fs.readFileSync(at('copy.yaml'), 'utf8'), 'copy.yaml').policy.downtimeBudgetMs).toBe(500);
    expect(await page.getByTestId('plan-file-dirty').count()).toBe(0);

    await choose('Save as…', at('other.yaml'));
    const err = page.getByTestId('plan-file-error');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('plan-file-not-a-plan');
    expect(await err.textContent()).toContain(`${at('other.yaml')} already exists and is not a Ferry plan`);
    expect(fs.readFileSync(at('other.yaml'), 'utf8')).toBe('apiVersion: v1\nkind: ConfigMap\n');
    await page.getByRole('button', { name: 'Replace other.yaml with this plan' }).click();
    await expect.poll(() => page.getByTestId('plan-file-name').textContent()).toBe('other.yaml');
    expect(parsePlanYaml(fs.readFileSync(at('other.yaml'), 'utf8'), 'other.yaml').pid).toBe(4242);
  });

  it('a typed path that is not absolute is refused before anything is sent', async () => {
    const { page } = h;
    await bar().getByRole('button', { name: 'Open…', exact: true }).click();
    const form = page.getByRole('form', { name: 'Open a plan file' });
    await form.getByLabel('Plan file path').fill('plans/web.yaml');
    await form.getByRole('button', { name: 'Open', exact: true }).click();
    expect(await form.getByRole('alert').textContent()).toBe('Give the full path, starting with /');
    await form.getByRole('button', { name: 'Cancel' }).click();
  });

  it('ran under the strict CSP without a violation or a page error', () => {
    expect(h.consoleErrors.filter((e) => /Content Security Policy|Refused to|pageerror/i.test(e))).toEqual([]);
  });
});

/**
 * The desktop's flow: the page gets an Electron-style window.ferryBridge whose requests go to
 * the same real engine (over the bridge's WebSocket) and whose native dialog answers the paths
 * the test queues, as a user picking files would. Only the OS dialog itself is stood in for.
 */
const DESKTOP_BRIDGE = `(() => {
  const token = new URLSearchParams(location.search).get('token');
  const waiting = new Map();
  const listeners = new Set();
  let socket;
  let next = 1;
  const open = () => (socket ??= new Promise((resolve, reject) => {
    const ws = new WebSocket('ws://' + location.host + '/api?token=' + encodeURIComponent(token));
    ws.onopen = () => resolve(ws);
    ws.onerror = reject;
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.event) listeners.forEach((l) => l(msg.event));
      if (msg.id !== undefined) { waiting.get(msg.id)?.(msg.reply); waiting.delete(msg.id); }
    };
  }));
  window.__picks = [];
  window.__pickCalls = [];
  window.ferryBridge = {
    request: async (method, params) => {
      const ws = await open();
      const id = next++;
      const reply = new Promise((r) => waiting.set(id, r));
      ws.send(JSON.stringify({ id, method, params }));
      return reply;
    },
    subscribe: (l) => { listeners.add(l); open(); return () => listeners.delete(l); },
    pickPlanFile: async (kind, defaultPath) => {
      window.__pickCalls.push([kind, defaultPath ?? null]);
      return { ok: true, value: window.__picks.shift() ?? null };
    },
  };
})();`;

describe('plan files with native dialogs (desktop)', () => {
  it('Open and Save as go through the dialog, with no path field; unsaved changes are confirmed before opening', async () => {
    const context = await h.browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      await context.addInitScript({ content: DESKTOP_BRIDGE });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(h.bridge.url);
      await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Migrate', exact: true }).click();
      const desk = page.getByTestId('plan-file');
      const queue = (p: string) => page.evaluate(`window.__picks.push(${JSON.stringify(p)})`);
      const calls = () => page.evaluate('window.__pickCalls') as Promise<Array<[string, string | null]>>;

      await queue(at('web.yaml'));
      await desk.getByRole('button', { name: 'Open…', exact: true }).click();
      await expect.poll(() => page.getByTestId('plan-file-name').textContent()).toBe('web.yaml');
      expect(await page.getByLabel('Downtime budget (ms)').inputValue()).toBe('450');
      expect(await page.getByRole('form', { name: 'Open a plan file' }).count()).toBe(0);
      expect(await calls()).toEqual([['open', null]]);

      // A canceled dialog changes nothing.
      await desk.getByRole('button', { name: 'Save as…', exact: true }).click();
      await expect.poll(calls).toEqual([['open', null], ['save', at('web.yaml')]]);
      expect(await page.getByTestId('plan-file-name').textContent()).toBe('web.yaml');

      await page.getByLabel('PID').fill('777');
      await page.getByTestId('plan-file-dirty').waitFor();
      await desk.getByRole('button', { name: 'Open…', exact: true }).click();
      const ask = page.getByRole('dialog', { name: 'Discard the unsaved changes?' });
      await ask.waitFor();
      await ask.getByRole('button', { name: 'Keep editing' }).click();
      expect(await page.getByRole('dialog').count()).toBe(0);
      expect(await calls()).toHaveLength(2);
      expect(await page.getByLabel('PID').inputValue()).toBe('777');

      await queue(at('desk.yaml'));
      await desk.getByRole('button', { name: 'Save as…', exact: true }).click();
      await expect.poll(() => page.getByTestId('plan-file-name').textContent()).toBe('desk.yaml');
      expect(parsePlanYaml(fs.readFileSync(at('desk.yaml'), 'utf8'), 'desk.yaml').pid).toBe(777);

      await page.getByLabel('PID').fill('778');
      await desk.getByRole('button', { name: 'Open…', exact: true }).click();
      await queue(at('web.yaml'));
      await page.getByRole('dialog', { name: 'Discard the unsaved changes?' }).getByRole('button', { name: 'Discard and open…' }).click();
      await expect.poll(() => page.getByTestId('plan-file-name').textContent()).toBe('web.yaml');
      expect(await page.getByLabel('PID').inputValue()).toBe('4242');
      expect((await calls()).at(-1)).toEqual(['open', at('desk.yaml')]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
